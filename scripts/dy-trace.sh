#!/usr/bin/env bash
# make dy-trace: where the time of an IPI round trip goes in make bench's
# kvm part. Boots the test kernel as that part does (instruction counting,
# one TCG thread), runs its IPI wait traced, sender and receiver on
# different CPUs and on one, tracking on and off (the dytrace part of
# scripts/guest/bench.sh); scripts/dy-trace.py follows each round trip
# through the trace and writes its section of bench/REPORT.md
# (scripts/report_section.py). VB_DYTRACE_IPIS sets the round trips per run
# (default 40).
. "$(dirname "$0")/lib.sh"

REPORT=$PROJECT_ROOT/bench/REPORT.md
LOG=$CACHE/guest-bench-dytrace.log
log "dy-trace: the IPI wait, traced"
VB_BENCH_PART=dytrace GUEST_ICOUNT=1 GUEST_TIMEOUT=${GUEST_TIMEOUT:-1800} \
	"$PROJECT_ROOT/scripts/guest.sh" bench
cp "$CACHE/guest-$(run_name bench).log" "$LOG"
python3 "$PROJECT_ROOT/scripts/dy-trace.py" "$LOG" "$(qemu_version)" >"$CACHE/dytrace-section.md"
python3 "$PROJECT_ROOT/scripts/report_section.py" dy-trace "$REPORT" <"$CACHE/dytrace-section.md"
log "dy-trace: the dy-trace section of $REPORT"
