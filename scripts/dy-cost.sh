#!/usr/bin/env bash
# make dy-cost: what IPI tracking and the IPI-aware steps of directed yield
# execute, function by function: per IPI round trip and per spin exit, each
# setting against its features off. Boots the test kernel once, without
# KASLR, under instruction counting and the TCG plugin
# tests/qemu/plugins/insn-window.c, with one window per VM: from the first
# /dev/kvm ioctl (kvm_dev_ioctl) to the VM's destruction (kvm_destroy_vm).
# The dycost part of scripts/guest/bench.sh runs the VMs;
# scripts/dy-cost.py writes its section of bench/REPORT.md
# (scripts/report_section.py). VB_DYCOST_REPS sets the repetitions
# (default 3); each emulated CPU's turn lasts at most VB_ICOUNT_TURN
# instructions (default 10,000, as in make bench's kvm part), so that a
# vCPU on the other CPU takes its IPIs as it would there.
. "$(dirname "$0")/lib.sh"

PLUGIN=$QEMU_DIR/plugins/insn-window.so
REPORT=$PROJECT_ROOT/bench/REPORT.md
VMLINUX=$KBUILD_DIR/vmlinux
PROF=$CACHE/dycost.prof
[ -f "$PLUGIN" ] || die "no TCG plugin at $PLUGIN: run make setup (scripts/qemu.sh)"
[ -f "$VMLINUX" ] || die "no test kernel at $KBUILD_DIR: run make build"
addr() {
	nm "$VMLINUX" | awk -v f="$1" '$3 == f { print $1; n++ } END { exit n != 1 }' ||
		die "dy-cost: no single $1 in $VMLINUX"
}
start=$(addr kvm_dev_ioctl)
end=$(addr kvm_destroy_vm)
log "dy-cost: the KVM mechanisms' instructions (window $start..$end)"
rm -f "$PROF"
VB_BENCH_PART=dycost GUEST_ICOUNT=1 VB_ICOUNT_TURN=$ICOUNT_TURN GUEST_APPEND=nokaslr \
	GUEST_PLUGIN="$PLUGIN,start=$start,end=$end,out=$PROF" \
	GUEST_TIMEOUT=${GUEST_TIMEOUT:-1800} "$PROJECT_ROOT/scripts/guest.sh" bench
cp "$CACHE/guest-$(run_name bench).log" "$CACHE/guest-bench-dycost.log"
python3 "$PROJECT_ROOT/scripts/dy-cost.py" "$VMLINUX" "$CACHE/guest-bench-dycost.log" "$PROF" \
	>"$CACHE/dycost-section.md"
python3 "$PROJECT_ROOT/scripts/report_section.py" dy-cost "$REPORT" <"$CACHE/dycost-section.md"
log "dy-cost: the dy-cost section of $REPORT"
