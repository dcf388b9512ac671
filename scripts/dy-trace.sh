#!/usr/bin/env bash
# make dy-trace: where the time of an IPI round trip goes in make bench's
# kvm part. Boots the test kernel three times: under instruction counting,
# which runs both emulated CPUs on one TCG thread in turns, with each turn
# as long as the next timer deadline allows and capped at VB_ICOUNT_TURN
# instructions (default 10000, as the kvm part runs; tests/qemu/0006), and
# with one TCG thread per CPU. Each boot runs the part's IPI wait traced,
# the receiver halting on the other CPU and on the sender's, and computing
# on the sender's crowded CPU, tracking on and off (the dytrace part of
# scripts/guest/bench.sh). scripts/dy-trace.py follows each round trip
# through the traces and writes its section of bench/REPORT.md
# (scripts/report_section.py). VB_DYTRACE_IPIS sets the round trips per run
# (default 40).
. "$(dirname "$0")/lib.sh"

REPORT=$PROJECT_ROOT/bench/REPORT.md
turn=$ICOUNT_TURN
[ "$turn" -gt 0 ] 2>/dev/null || die "VB_ICOUNT_TURN: a number of instructions above 0, not $turn"
declare -A boot_env=(
	[long]="GUEST_ICOUNT=1 GUEST_TCG=thread=single VB_ICOUNT_TURN=0"
	[capped]="GUEST_ICOUNT=1 GUEST_TCG=thread=single VB_ICOUNT_TURN=$turn"
	[multi]="GUEST_TCG=thread=multi VB_ICOUNT_TURN=0"
)
logs=()
for boot in long capped multi; do
	log "dy-trace: the IPI wait, traced ($boot)"
	# The settings are words (no blanks).
	# shellcheck disable=SC2086
	env ${boot_env[$boot]} VB_BENCH_PART=dytrace GUEST_TIMEOUT="${GUEST_TIMEOUT:-1800}" \
		"$PROJECT_ROOT/scripts/guest.sh" bench
	cp "$CACHE/guest-$(run_name bench).log" "$CACHE/guest-bench-dytrace-$boot.log"
	logs+=("$CACHE/guest-bench-dytrace-$boot.log")
done
# Which emulator ran them: the turns depend on it.
qemu=$(qemu_label)
hz=$(sed -n 's/^CONFIG_HZ=//p' "$KBUILD_DIR/.config")
[ -n "$hz" ] || die "no CONFIG_HZ in $KBUILD_DIR/.config"
python3 "$PROJECT_ROOT/scripts/dy-trace.py" "$qemu" "$hz" "$turn" "${logs[@]}" \
	>"$CACHE/dytrace-section.md"
python3 "$PROJECT_ROOT/scripts/report_section.py" dy-trace "$REPORT" <"$CACHE/dytrace-section.md"
log "dy-trace: the dy-trace section of $REPORT"
