#!/usr/bin/env bash
# make cost-profile: where the instructions of a ping-pong hand-off go,
# function by function, with everything off against 7.3.4 without the
# series. Boots the two kernels of make bench's cost part (VB_FLAVOR=cost:
# jump labels) once each, without KASLR, under instruction counting and the
# TCG plugin tests/qemu/plugins/insn-window.c (built by scripts/qemu.sh),
# which counts every instruction of each ping-pong run (the profile part of
# scripts/guest/bench.sh); scripts/cost-profile.py compares them and writes
# its section of bench/REPORT.md (scripts/report_section.py), and the
# verdict on goal (d) for make bench's table ($CACHE/profile-summary.json).
# make bench's cost part runs it. VB_PROFILE_REPS sets the runs per
# placement and kernel (default 8).
#
# With --strategies [STRATEGY...] (make strategy-profile): this kernel
# only, booted once, the ping-pong under each yield strategy (default all)
# and with everything off in turn; scripts/strategy-profile.py writes what
# each strategy adds to a hand-off, function by function, to its own
# section of bench/REPORT.md (VB_PROFILE_REPS default 3 there).
. "$(dirname "$0")/lib.sh"

PLUGIN=$QEMU_DIR/plugins/insn-window.so
REPORT=$PROJECT_ROOT/bench/REPORT.md
[ -f "$PLUGIN" ] || die "no TCG plugin at $PLUGIN: run make setup (scripts/qemu.sh)"
SUMMARY=$CACHE/profile-summary.json
strategies=
if [ "${1:-}" = --strategies ]; then
	shift
	strategies=${*:-all}
else
	# Everything off alone: the fit of goal (d) takes every run as such.
	unset VB_PROFILE_SETTINGS
	rm -f "$SUMMARY"
fi
VB_FLAVOR=cost "$PROJECT_ROOT/scripts/kunit.sh" build

# window VMLINUX: the plugin's window, as the benchmark's own clock reads
# it: from the return of bench_run()'s first sched_clock() call to its
# second call.
window() {
	local from to
	from=$(nm "$1" | awk '$3 == "bench_run" { print $1 }')
	to=$(nm -n "$1" | awk -v f="$from" 'found == 1 { print $1; found = 2 } $1 == f && $3 == "bench_run" { found = 1 }')
	[ -n "$from" ] && [ -n "$to" ] || die "no bench_run in $1"
	objdump -d --no-show-raw-insn --start-address=0x"$from" --stop-address=0x"$to" "$1" |
		awk '/^ *ffffffff[0-9a-f]*:/ { a = $1; sub(":", "", a) }
			after { print a; after = 0 }
			/call.*<sched_clock>/ { n++; if (n == 1) after = 1; if (n == 2) print a }' |
		paste -sd' '
}

# profile_boot NAME KBUILD: one boot in the profile part; its log and
# profile are kept as $CACHE/profile-NAME.{log,prof}.
profile_boot() {
	local name=$1 kbuild=$2 start end prof=$CACHE/profile-$1.prof
	read -r start end < <(window "$kbuild/vmlinux")
	[ -n "$end" ] || die "no window in $kbuild/vmlinux"
	log "cost-profile: $name (window $start..$end)"
	rm -f "$prof"
	VB_FLAVOR=cost VB_BENCH_PART=profile GUEST_ICOUNT=1 GUEST_KBUILD=$kbuild \
		GUEST_APPEND=nokaslr GUEST_PLUGIN="$PLUGIN,start=$start,end=$end,out=$prof" \
		GUEST_TIMEOUT=${GUEST_TIMEOUT:-1800} "$PROJECT_ROOT/scripts/guest.sh" bench
	cp "$CACHE/guest-$(VB_FLAVOR=cost && run_name bench).log" "$CACHE/profile-$name.log"
}
if [ -n "$strategies" ]; then
	# The guest's settings: everything off, then each strategy (all: the
	# strategies the kernel offers, mainline's among them); the guest
	# drops names it does not know, and repeats.
	[ "$strategies" = all ] || strategies="off $strategies"
	VB_PROFILE_SETTINGS=$strategies VB_PROFILE_REPS=${VB_PROFILE_REPS:-3} \
		profile_boot strategies "$BUILD/cost"
	python3 "$PROJECT_ROOT/scripts/strategy-profile.py" \
		"$BUILD/cost/vmlinux" "$CACHE/profile-strategies.log" "$CACHE/profile-strategies.prof" \
		>"$CACHE/strategy-profile-section.md"
	python3 "$PROJECT_ROOT/scripts/report_section.py" strategy-profile "$REPORT" \
		<"$CACHE/strategy-profile-section.md"
	log "strategy-profile: the strategy-profile section of $REPORT"
	exit 0
fi
VB_FLAVOR=cost "$PROJECT_ROOT/scripts/baseline.sh"
profile_boot unpatched "$(baseline_dir cost)"
profile_boot patched "$BUILD/cost"
python3 "$PROJECT_ROOT/scripts/cost-profile.py" \
	"$(baseline_dir cost)/vmlinux" "$CACHE/profile-unpatched.log" "$CACHE/profile-unpatched.prof" \
	"$BUILD/cost/vmlinux" "$CACHE/profile-patched.log" "$CACHE/profile-patched.prof" \
	"$SUMMARY.tmp" >"$CACHE/profile-section.md"
python3 "$PROJECT_ROOT/scripts/report_section.py" cost-profile "$REPORT" <"$CACHE/profile-section.md"
mv "$SUMMARY.tmp" "$SUMMARY"
log "cost-profile: the cost-profile section of $REPORT"
