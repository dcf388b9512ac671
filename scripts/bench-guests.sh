#!/usr/bin/env bash
# make bench-guests: Linux guests with real workloads (dbench, hackbench,
# stress-ng) and a CPU-bound neighbour, run by QEMU/KVM inside the test
# kernel while the run-time controls change window by window, in one boot
# (scripts/guest/bench-guests.sh); then their section of bench/REPORT.md and
# bench/guests.png (scripts/bench-guests-report.py). VB_GB_ROUNDS (default
# 5), VB_GB_WIN and VB_GB_SETTLE (seconds, default 22 and 5) and
# VB_GB_SETTINGS (default: every setting) shape the run; VB_GB_PROBE_S
# (default 2) is the pause between two loops of the speed probe;
# VB_GB_CTL_ROUNDS (3), VB_GB_CTL_WIN (6) and VB_GB_CTL_SETTLE (3) shape
# the 1:1 control that follows. Fails when a guest crashes, hangs or resets,
# or the test kernel does.
. "$(dirname "$0")/lib.sh"

ensure_matplotlib
rounds=${VB_GB_ROUNDS:-5} win=${VB_GB_WIN:-22} settle=${VB_GB_SETTLE:-5}
# The stage's default settings are at most 7 (scripts/guest/bench-guests.sh),
# each after a window with everything off, and one more of those at the end.
nset=$(wc -w <<<"${VB_GB_SETTINGS:-1 2 3 4 5 6 7}")
windows=$((rounds * nset * 2 + 1))
ctl_windows=$((${VB_GB_CTL_ROUNDS:-3} * nset * 2 + 1))
ctl_secs=$((ctl_windows * (${VB_GB_CTL_WIN:-6} + ${VB_GB_CTL_SETTLE:-3})))
log "bench-guests: $rounds rounds of $nset settings, $windows windows of $win s measured after $settle s;" \
	"then the 1:1 control, $ctl_windows windows"
guest_log=$CACHE/guest-$(run_name bench-guests).log
rm -f "$guest_log"
stage_failed=0
GUEST_TIMEOUT=$((windows * (win + settle) + ctl_secs + 2400)) "$PROJECT_ROOT/scripts/guest.sh" bench-guests || {
	echo "FAILED: the bench-guests stage did not complete" >&2
	stage_failed=1
}
# One check for the boots, three per guest, one for the test kernel's log;
# four for the control.
count_results "$guest_log" 18 || exit 1
PYTHONPATH=$PYLIB python3 "$PROJECT_ROOT/scripts/bench-guests-report.py" "$PROJECT_ROOT/bench" "$guest_log"
