#!/usr/bin/env bash
# make bench: boots the test kernel in bench mode (scripts/guest/bench.sh),
# once per part, and writes bench/REPORT.md and its plots from those runs'
# logs (a boot that ends early fails it, see scripts/guest.sh).
#   kernel  kthread benchmarks, every strategy side by side
#   kvm     nested KVM guests, tracking and relaxed boost on and off
#   cost    under QEMU's instruction counting, on this kernel and on the
#           same 7.3.4 without the series (scripts/baseline.sh builds it)
# VB_BENCH_PARTS chooses parts (default: all three); the report needs all.
. "$(dirname "$0")/lib.sh"

parts=${VB_BENCH_PARTS:-kernel kvm cost}
ensure_matplotlib
case " $parts " in *" cost "*) "$PROJECT_ROOT/scripts/baseline.sh" ;; esac

# bench_boot NAME: one boot in bench mode; its log is kept as guest-bench-NAME.log.
bench_boot() {
	log "bench: part $1"
	"$PROJECT_ROOT/scripts/guest.sh" bench
	cp "$CACHE/guest-$(run_name bench).log" "$CACHE/guest-bench-$1.log"
}
for part in $parts; do
	case $part in
	kernel | kvm) VB_BENCH_PART=$part bench_boot "$part" ;;
	cost)
		VB_BENCH_PART=cost GUEST_ICOUNT=1 bench_boot cost-patched
		VB_BENCH_PART=cost GUEST_ICOUNT=1 GUEST_KBUILD=$BUILD/baseline bench_boot cost-unpatched
		;;
	*) die "VB_BENCH_PARTS: unknown part $part (kernel, kvm, cost)" ;;
	esac
done
logs=()
for name in kernel kvm cost-patched cost-unpatched; do
	[ -f "$CACHE/guest-bench-$name.log" ] || die "no log of bench part $name: run make bench"
	logs+=("$CACHE/guest-bench-$name.log")
done
PYTHONPATH=$PYLIB python3 "$PROJECT_ROOT/scripts/bench-report.py" "$PROJECT_ROOT/bench" "${logs[@]}"
