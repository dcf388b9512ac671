#!/bin/sh
# The guest stage of make bench: each scenario under every setting compared,
# alternating which one runs first, repeated. Prints one VB-BENCH line per
# run; scripts/bench-report.py turns them into bench/REPORT.md. The host
# boots it once per part (VB_BENCH_PART): kernel (the kthread benchmarks)
# and kvm (nested guests), so that a failed boot costs only its part.
. /stage/lib.sh

SVM_PARAMS=/sys/module/kvm_amd/parameters
reps=${VB_BENCH_REPS:-5}
ms=${VB_BENCH_MS:-1000}

echo "VB-BENCH-SETUP cpus=$(grep -c ^processor /proc/cpuinfo) kernel=$(uname -r)" \
	"features=$(cat /sys/kernel/debug/sched/features)"

# kthreads: ping-pong next to 0..2 hogs, and a lock among 2, 4 and 8 tasks,
# under each yield strategy, in two placements: flat (all in the root
# cgroup) and nested (workers in /bench/vm/vcpus, hogs in /bench/hogs; the
# module moves its kthreads into the cgroups of two parked processes).
CG=/sys/fs/cgroup
echo +cpu >$CG/cgroup.subtree_control
mkdir -p $CG/bench/vm/vcpus $CG/bench/hogs
echo +cpu >$CG/bench/cgroup.subtree_control
echo +cpu >$CG/bench/vm/cgroup.subtree_control
# parked CGROUP: a sleeping process in CGROUP; prints its pid.
parked() {
	sh -c "echo \$\$ >$1/cgroup.procs; exec sleep 100000" >/dev/null 2>&1 &
	echo $!
}
# kbench PLACEMENT SCENARIO STRATEGY
kbench() {
	pids=
	[ "$1" = nested ] && pids="$vcpus_pid $hogs_pid"
	echo "$3" >$STRATEGY
	acts0=$(deboost applied)
	echo "$2 $ms $pids" >$BENCH &&
		echo "VB-BENCH kind=kernel cfg_place=$1 cfg_strategy=$3 rep=$rep" \
			"$(cat $BENCH) acts=$(( $(deboost applied) - acts0 ))"
}
# rotated: every strategy, starting with a different one in each repetition.
rotated() {
	set -- $(strategies)
	i=$((rep % $#))
	while [ $i -gt 0 ]; do
		first=$1
		shift
		set -- "$@" "$first"
		i=$((i - 1))
	done
	echo "$@"
}
# order: on then off in odd repetitions, off then on in even ones.
order() { if [ $((rep % 2)) -eq 1 ]; then echo Y N; else echo N Y; fi; }

# guest KIND CONFIG COMMAND...: runs a selftest and prints its summary line
# as a VB-BENCH line of KIND with the settings CONFIG.
guest() {
	kind=$1 cfg=$2
	shift 2
	out=$(timeout 600 "$@" 2>&1) &&
		echo "VB-BENCH kind=$kind $cfg rep=$rep $(echo "$out" | tail -n 1 | cut -d: -f2)"
}
# tracking_pairs KIND COMMAND...: COMMAND with tracking on and off, repeated.
tracking_pairs() {
	kind=$1
	shift
	rep=1
	while [ $rep -le $reps ]; do
		for t in $(order); do
			echo $t >$KVM_PARAMS/ipi_tracking_enabled
			guest $kind "cfg_tracking=$t" "$@"
		done
		rep=$((rep + 1))
	done
	echo Y >$KVM_PARAMS/ipi_tracking_enabled
}

part=${VB_BENCH_PART:-kernel}
if [ "$part" = kernel ]; then
vcpus_pid=$(parked $CG/bench/vm/vcpus)
hogs_pid=$(parked $CG/bench/hogs)
sleep 1
rep=1
while [ $rep -le $reps ]; do
	for place in flat nested; do
		for s in "pingpong 0" "pingpong 1" "pingpong 2" "lock 2" "lock 4" "lock 8"; do
			for st in $(rotated); do kbench $place "$s" $st; done
		done
	done
	rep=$((rep + 1))
done
echo deboost >$STRATEGY
kill $vcpus_pid $hogs_pid
fi
[ "$part" = kvm ] || exit 0

# KVM, with PAUSE exits: vcpu_boost_spin_test, 4 vCPUs on the 2 CPUs, with
# tracking and relaxed boost on and off.
echo 1 >$SVM_PARAMS/test_pause_exits
rep=1
while [ $rep -le $reps ]; do
	for c in "Y Y" "N Y" "Y N" "N N"; do
		set -- $c
		echo $1 >$KVM_PARAMS/ipi_tracking_enabled
		echo $2 >$KVM_PARAMS/enable_relaxed_boost
		guest spin "cfg_tracking=$1 cfg_relaxed=$2" /tests/vcpu_boost_spin_test -v 4 -n 1000
	done
	rep=$((rep + 1))
done
echo Y >$KVM_PARAMS/ipi_tracking_enabled
echo Y >$KVM_PARAMS/enable_relaxed_boost

# Controls without overcommit: 2 vCPUs on the 2 CPUs. The spin test with
# PAUSE exits (the mechanisms should change nothing here), and the IPI test
# without them, for what tracking costs per IPI round trip.
tracking_pairs spin1to1 /tests/vcpu_boost_spin_test -v 2 -n 1000
echo 0 >$SVM_PARAMS/test_pause_exits
tracking_pairs ipicost /tests/vcpu_boost_ipi_test -v 2 -n 5000
