#!/usr/bin/env bash
# make bench: boots the test kernel in bench mode (scripts/guest/bench.sh),
# once per part, and writes bench/REPORT.md and its plots from those runs'
# logs (a boot that ends early fails it, see scripts/guest.sh).
#   kernel  kthread benchmarks, every strategy side by side
#   kvm     nested KVM guests, tracking and relaxed boost on and off, under
#           QEMU's instruction counting, vCPUs bound to CPUs, every PAUSE
#           exiting (kvm_amd.test_pause_exits)
#   filter  the kvm part again under the emulator's pause filter
#           (VB_PAUSE_FILTER=1, tests/qemu/0007): KVM's own pause-loop
#           exiting, as on hardware; writes its own section
#   cost    under QEMU's instruction counting, on this kernel and twice on
#           the same 7.3.4 without the series (scripts/baseline.sh builds
#           it): its two boots are the noise the comparison is read against.
#           Both kernels are built with jump labels (VB_FLAVOR=cost);
#           then make cost-profile (scripts/cost-profile.sh) on both
#   guests  make bench-guests (scripts/bench-guests.sh): Linux guests with
#           real workloads, about 45 minutes more; run last, after the
#           report is written, and writes its own section
# VB_BENCH_PARTS chooses parts (default: the first four, about two hours;
# "kernel kvm filter cost guests" for all five); the report needs kernel,
# kvm and cost, but VB_BENCH_PARTS=kvm alone rewrites the kvm part's
# section of it (the directed-yield scenarios), VB_BENCH_PARTS=filter the
# filter part's, and VB_BENCH_PARTS=guests the Linux guests', leaving the
# rest as the last whole run wrote it.
. "$(dirname "$0")/lib.sh"

parts=${VB_BENCH_PARTS:-kernel kvm filter cost}
# The pause filter is the filter part's alone.
unset VB_PAUSE_FILTER
ensure_matplotlib
case " $parts " in
*" cost "*)
	VB_FLAVOR=cost "$PROJECT_ROOT/scripts/kunit.sh" build
	VB_FLAVOR=cost "$PROJECT_ROOT/scripts/baseline.sh"
	;;
esac

# bench_boot NAME: one boot in bench mode; its log is kept as guest-bench-NAME.log.
bench_boot() {
	log "bench: part $1"
	"$PROJECT_ROOT/scripts/guest.sh" bench
	cp "$CACHE/guest-$(run_name bench).log" "$CACHE/guest-bench-$1.log"
}
for part in $parts; do
	case $part in
	kernel) VB_BENCH_PART=$part bench_boot "$part" ;;
	# Under instruction counting: see scripts/guest/bench.sh. Each CPU's
	# turn on QEMU's one thread lasts at most VB_ICOUNT_TURN instructions
	# (tests/qemu/0006), so that the two CPUs interleave as CPUs running
	# at once would; make dy-trace shows what longer turns do.
	# VB_KVM_REPS repetitions (else VB_BENCH_REPS, else 12): two runs of
	# a lock or mixed scenario differ by up to 11 %, and 5 left their
	# goals to chance.
	kvm) VB_BENCH_PART=$part GUEST_ICOUNT=1 VB_ICOUNT_TURN=$ICOUNT_TURN \
		VB_BENCH_REPS=${VB_KVM_REPS:-${VB_BENCH_REPS:-12}} GUEST_TIMEOUT=${GUEST_TIMEOUT:-5400} \
		bench_boot "$part" ;;
	cost)
		# Counted runs are slow: about 13 minutes per repetition of the
		# default length on the test kernel (every setting), 7 without the
		# series.
		reps=${VB_COST_REPS:-3}
		rm -f "$CACHE/profile-summary.json"
		VB_FLAVOR=cost VB_BENCH_PART=cost GUEST_ICOUNT=1 \
			GUEST_TIMEOUT=${GUEST_TIMEOUT:-$((reps * 1200 + 600))} bench_boot cost-patched
		for boot in 1 2; do
			VB_FLAVOR=cost VB_BENCH_PART=cost VB_COST_BOOT=$boot GUEST_ICOUNT=1 \
				GUEST_KBUILD=$(baseline_dir cost) GUEST_TIMEOUT=${GUEST_TIMEOUT:-$((reps * 600 + 600))} \
				bench_boot "cost-unpatched${boot#1}"
		done
		# Where the instructions of a hand-off go, function by function:
		# the judge of goal (d).
		"$PROJECT_ROOT/scripts/cost-profile.sh"
		;;
	# Last, after the report (below), each writing its own section, so
	# that a failed boot of either costs only that section.
	filter | guests) ;;
	*) die "VB_BENCH_PARTS: unknown part $part (kernel, kvm, filter, cost, guests)" ;;
	esac
done
# The parts other than filter and guests.
rest=$(for p in $parts; do case $p in filter | guests) ;; *) printf '%s ' "$p" ;; esac; done)
rest=$(echo $rest)
if [ "$rest" = kvm ]; then
	PYTHONPATH=$PYLIB python3 "$PROJECT_ROOT/scripts/bench-report.py" --kvm \
		"$PROJECT_ROOT/bench" "$CACHE/guest-bench-kvm.log"
elif [ -n "$rest" ]; then
	logs=()
	for name in kernel kvm cost-patched cost-unpatched cost-unpatched2; do
		[ -f "$CACHE/guest-bench-$name.log" ] || die "no log of bench part $name: run make bench"
		logs+=("$CACHE/guest-bench-$name.log")
	done
	[ -f "$CACHE/profile-summary.json" ] || die "no verdict of make cost-profile: run make bench (or make cost-profile)"
	VB_PROFILE_SUMMARY=$CACHE/profile-summary.json PYTHONPATH=$PYLIB \
		python3 "$PROJECT_ROOT/scripts/bench-report.py" "$PROJECT_ROOT/bench" "${logs[@]}"
fi
# The filter part: the kvm part's stage under the emulator's pause filter,
# with VB_FILTER_REPS repetitions (default 10: with fewer exits each choice
# weighs more, and two runs of one setting differ more than in the kvm
# part); it writes its own section.
case " $parts " in
*" filter "*)
	VB_BENCH_PART=kvm VB_PAUSE_FILTER=1 GUEST_ICOUNT=1 VB_BENCH_REPS=${VB_FILTER_REPS:-${VB_BENCH_REPS:-10}} \
		VB_ICOUNT_TURN=$ICOUNT_TURN GUEST_TIMEOUT=${GUEST_TIMEOUT:-3600} \
		bench_boot filter
	PYTHONPATH=$PYLIB python3 "$PROJECT_ROOT/scripts/bench-report.py" --filter \
		"$PROJECT_ROOT/bench" "$CACHE/guest-bench-filter.log"
	;;
esac
case " $parts " in
*" guests "*) "$PROJECT_ROOT/scripts/bench-guests.sh" ;;
esac
