#!/bin/sh
# The guest stage of make bench: each scenario under every setting compared,
# alternating which one runs first, repeated. Prints one VB-BENCH line per
# run; scripts/bench-report.py turns them into bench/REPORT.md.
. /stage/lib.sh

BENCH=/sys/kernel/debug/vcpu_boost_bench/run
SVM_PARAMS=/sys/module/kvm_amd/parameters
reps=${VB_BENCH_REPS:-5}
ms=${VB_BENCH_MS:-1000}

echo "VB-BENCH-SETUP cpus=$(grep -c ^processor /proc/cpuinfo) kernel=$(uname -r)" \
	"features=$(cat /sys/kernel/debug/sched/features)"

# kthreads: ping-pong next to 0..2 hogs, and a lock among 2, 4 and 8 tasks,
# under each yield strategy.
kbench() {
	echo "$2" >$STRATEGY
	echo "$1 $ms" >$BENCH && echo "VB-BENCH kind=kernel cfg_strategy=$2 rep=$rep $(cat $BENCH)"
}
# strategies: all three, starting with a different one in each repetition.
strategies() {
	case $((rep % 3)) in
	1) echo deboost lag-credit mainline ;;
	2) echo lag-credit mainline deboost ;;
	*) echo mainline deboost lag-credit ;;
	esac
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

rep=1
while [ $rep -le $reps ]; do
	for s in "pingpong 0" "pingpong 1" "pingpong 2" "lock 2" "lock 4" "lock 8"; do
		for st in $(strategies); do kbench "$s" $st; done
	done
	rep=$((rep + 1))
done
echo deboost >$STRATEGY

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
