#!/bin/sh
# What `make run` shows: the run-time controls being read and changed, and a
# KVM guest running inside the patched kernel.
. /stage/lib.sh

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
show() { printf '  %-58s %s\n' "$1" "$(cat "$1" 2>&1)"; }
try() { printf '  $ %s\n' "$*"; sh -c "$*" 2>&1 | sed 's/^/    /'; }

say "Scheduler: the debooster switch and the yield strategy"
show $DEBOOSTER
try "echo 0 > $DEBOOSTER"
show $DEBOOSTER
try "echo 2 > $DEBOOSTER   # rejected"
show $DEBOOSTER
try "echo 1 > $DEBOOSTER"
show $DEBOOSTER

show $STRATEGY
try "echo lag-credit > $STRATEGY"
show $STRATEGY
try "echo fastest > $STRATEGY   # rejected"
echo donate >$STRATEGY
show $IPI_STRATEGY
try "echo same > $IPI_STRATEGY   # yields to an IPI's receiver follow vcpu_yield_strategy"
show $IPI_STRATEGY
echo "$DEFAULT_IPI_STRATEGY" >$IPI_STRATEGY

say "KVM: module parameters"
for p in ipi_tracking_enabled ipi_window_ns ipi_hold_ns enable_relaxed_boost; do
	show $KVM_PARAMS/$p
done
try "echo N > $KVM_PARAMS/ipi_tracking_enabled"
try "echo 2000000 > $KVM_PARAMS/ipi_window_ns"
try "echo 0 > $KVM_PARAMS/ipi_window_ns   # below 1 us: rejected"
try "echo 0 > $KVM_PARAMS/ipi_hold_ns   # no hold for a running receiver"
try "echo on > $KVM_PARAMS/enable_relaxed_boost"
for p in ipi_tracking_enabled ipi_window_ns ipi_hold_ns enable_relaxed_boost; do
	show $KVM_PARAMS/$p
done
echo Y >$KVM_PARAMS/ipi_tracking_enabled
echo 50000000 >$KVM_PARAMS/ipi_window_ns
echo 50000 >$KVM_PARAMS/ipi_hold_ns
echo N >$KVM_PARAMS/enable_relaxed_boost

say "A KVM guest: 3 vCPUs on $(grep -c ^processor /proc/cpuinfo) CPUs, 500 unicast IPIs, each answered"
echo 1 >$TRACING/events/kvm/kvm_ipi_tracked/enable
echo >$TRACING/trace
try "/tests/vcpu_boost_ipi_test -v 3 -n 500"
echo 0 >$TRACING/events/kvm/kvm_ipi_tracked/enable
try "grep -m 3 -o 'kvm_ipi_tracked: .*' $TRACING/trace"

say "The debooster: a guest's vCPU 0 yields to vCPU 1 (KVM_HC_SCHED_YIELD), both on CPU 0"
echo 1 >$DEBOOST_EVENT/enable
echo >/sys/kernel/tracing/trace
try "/tests/vcpu_boost_yield_test -c 2 -m 1000"
try "grep -m 3 -o 'sched_vcpu_deboost: .*' /sys/kernel/tracing/trace"
try "cat $DEBOOST_STATS"
echo 0 >$DEBOOST_EVENT/enable

say "IPI-aware directed yield: 4 vCPUs on $(grep -c ^processor /proc/cpuinfo) CPUs; vCPU 0 spins until vCPU 1 answers its IPI"
echo "  (kvm_amd.test_pause_exits, a test-only switch, makes PAUSE exit under QEMU's TCG)"
echo 1 >/sys/module/kvm_amd/parameters/test_pause_exits
try "/tests/vcpu_boost_spin_test -v 4 -n 100"
try "echo N > $KVM_PARAMS/ipi_tracking_enabled; /tests/vcpu_boost_spin_test -v 4 -n 100; echo Y > $KVM_PARAMS/ipi_tracking_enabled"

say "A guest spinlock: 4 vCPUs on $(grep -c ^processor /proc/cpuinfo) CPUs take it 50 times each and send each other unrelated IPIs"
echo "  (lock_yields: the waiters' directed yields, holder_yields: those to the vCPU that held the lock)"
try "/tests/vcpu_boost_lock_test -v 4 -n 50 -t"
echo 0 >/sys/module/kvm_amd/parameters/test_pause_exits
