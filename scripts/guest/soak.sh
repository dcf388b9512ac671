#!/bin/sh
# make soak, inside the test kernel: an unmodified Linux guest (the test
# kernel's own bzImage, 4 vCPUs on the 2 CPUs, no paravirtual spinlocks) run
# by QEMU/KVM for VB_SOAK_S seconds (default 600) with real workloads in
# turn (scripts/guest/l2/init), VB_SOAK_RUNS times in a row (default 3).
# A run passes when the guest ends by itself (VB-L2-END) and every workload
# window reported a value; a reset, a shutdown or a stuck guest fails it,
# with the state the test-only SHUTDOWN dump printed.
. /stage/lib.sh
. /stage/l2lib.sh
secs=${VB_SOAK_S:-600}
runs=${VB_SOAK_RUNS:-3}
SVM_PARAMS=/sys/module/kvm_amd/parameters

info "soak: kvm_amd npt $(cat $SVM_PARAMS/npt) test_pause_exits $(cat $SVM_PARAMS/test_pause_exits 2>/dev/null)," \
	"$runs runs of $secs s"
i=1
while [ $i -le $runs ]; do
	t0=$(cut -d. -f1 /proc/uptime)
	l2_run soak$i "$secs" dbench,hackbench,tlb /tmp/soak$i.log
	# The guest boots in minutes under emulation; what runs far past its
	# end is stuck (scripts/soak.sh allows for this limit).
	l2_wait $((secs * 2 + 900)) || fail "soak run $i: the guest was stuck and was killed"
	info "soak run $i: $(($(cut -d. -f1 /proc/uptime) - t0)) s of the test kernel's clock, boot included"
	l2_check "soak run $i" /tmp/soak$i.log
	i=$((i + 1))
done
check_kernel_log "soak: no BUG, WARNING or checker report in the test kernel's log"
