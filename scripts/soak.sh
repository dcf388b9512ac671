#!/usr/bin/env bash
# make soak: an unmodified Linux guest (4 vCPUs on the test kernel's 2 CPUs,
# QEMU/KVM inside the test kernel) runs dbench, hackbench and stress-ng in
# turn for VB_SOAK_S seconds (default 600), VB_SOAK_RUNS times in a row
# (default 3), in one boot (scripts/guest/soak.sh). Passes when every run
# ends by itself with a value in every workload window and the test kernel
# neither resets nor logs a checker report. Prints "N passed, N failed".
. "$(dirname "$0")/lib.sh"

secs=${VB_SOAK_S:-600}
runs=${VB_SOAK_RUNS:-3}
export VB_SOAK_S=$secs VB_SOAK_RUNS=$runs
log "soak: $runs runs of $secs s of a Linux guest inside the test kernel"
guest_log=$CACHE/guest-$(run_name soak).log
rm -f "$guest_log"
stage_failed=0
# Each run may take the stage's limit for a stuck guest (scripts/guest/soak.sh).
GUEST_TIMEOUT=$((runs * (secs * 2 + 930) + 900)) "$PROJECT_ROOT/scripts/guest.sh" soak || {
	echo "FAILED: the soak stage did not complete" >&2
	stage_failed=1
}
# Three checks per run and one for the whole stage.
count_results "$guest_log" $((runs * 3 + 1))
