#!/usr/bin/env bash
# make bench: boots the test kernel in bench mode (scripts/guest/bench.sh)
# and writes bench/REPORT.md and its plots from that run's log.
. "$(dirname "$0")/lib.sh"

PYLIB=$CACHE/pylib
if ! PYTHONPATH=$PYLIB python3 -c 'import matplotlib' 2>/dev/null; then
	log "matplotlib: pip install into $PYLIB"
	python3 -m pip install -q --target "$PYLIB" matplotlib || die "pip install matplotlib failed"
fi
"$PROJECT_ROOT/scripts/guest.sh" bench
PYTHONPATH=$PYLIB python3 "$PROJECT_ROOT/scripts/bench-report.py" \
	"$CACHE/guest-bench.log" "$PROJECT_ROOT/bench"
