#!/usr/bin/env bash
# make bench: boots the test kernel in bench mode (scripts/guest/bench.sh),
# once per part, and writes bench/REPORT.md and its plots from those runs'
# logs (scripts/guest.sh repeats a boot that TCG reset silently, once).
. "$(dirname "$0")/lib.sh"

PYLIB=$CACHE/pylib
if ! PYTHONPATH=$PYLIB python3 -c 'import matplotlib' 2>/dev/null; then
	log "matplotlib: pip install into $PYLIB"
	python3 -m pip install -q --target "$PYLIB" matplotlib || die "pip install matplotlib failed"
fi
logs=()
for part in kernel kvm; do
	log "bench: part $part"
	VB_BENCH_PART=$part "$PROJECT_ROOT/scripts/guest.sh" bench
	cp "$CACHE/guest-bench.log" "$CACHE/guest-bench-$part.log"
	logs+=("$CACHE/guest-bench-$part.log")
done
PYTHONPATH=$PYLIB python3 "$PROJECT_ROOT/scripts/bench-report.py" "$PROJECT_ROOT/bench" "${logs[@]}"
