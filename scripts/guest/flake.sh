#!/bin/sh
# make flake-rates, inside one boot: the nested guests that have been seen to
# shut down (triple fault) or stop on a KVM internal error under QEMU's TCG,
# VB_FLAKE_RUNS times (default 10) per configuration, interleaved so that
# every configuration sees the same moments of the boot. Prints one line per run and per configuration:
#   VB-FLAKE-RUN <config> <run> rc=<rc> shutdown=<0|1>
#   VB-FLAKE <config> shutdowns=<n> runs=<n> failures=<n>
# and, for every shutdown, the state the test-only SHUTDOWN dump printed
# (vb-shutdown: ...) and the dying vCPU's last KVM events from the trace.
# On a kernel without the series only the configurations that need none of
# its controls run.
. /stage/lib.sh
runs=${VB_FLAKE_RUNS:-10}
SVM_PARAMS=/sys/module/kvm_amd/parameters
EVENTS="kvm/kvm_exit kvm/kvm_inj_virq kvm/kvm_inj_exception kvm/kvm_page_fault"

series=0
[ -f $KVM_PARAMS/ipi_tracking_enabled ] && series=1

# configure NAME: the controls for configuration NAME; returns 1 when this
# kernel cannot run it.
configure() {
	pause=1
	case "$1" in
	spin-on | ipi-on | lock-on) [ $series = 1 ] || return 1
		echo Y >$KVM_PARAMS/ipi_tracking_enabled
		echo Y >$KVM_PARAMS/enable_relaxed_boost
		echo donate >$STRATEGY
		echo "$DEFAULT_IPI_STRATEGY" >$IPI_STRATEGY ;;
	spin-off | lock-off) [ $series = 1 ] || return 1
		echo N >$KVM_PARAMS/ipi_tracking_enabled
		echo N >$KVM_PARAMS/enable_relaxed_boost
		echo mainline >$STRATEGY
		echo mainline >$IPI_STRATEGY ;;
	spin-nopause) pause=0 ;;
	spin-mainline | ipi-mainline | lock-mainline) [ $series = 0 ] || return 1 ;;
	esac
	echo $pause >$SVM_PARAMS/test_pause_exits
}

# dump: the state of the shut-down guest and its vCPU's last events.
dump() {
	dmesg | grep 'vb-shutdown:' | tail -n 3 | sed 's/^/    /'
	awk '/reason (shutdown|SHUTDOWN)/ { pid = $1 } END { print pid }' $TRACING/trace >/tmp/flake.pid
	pid=$(cat /tmp/flake.pid)
	[ $trace = 1 ] && [ -n "$pid" ] && grep -F " $pid " $TRACING/trace | grep -B 30 -iE 'reason shutdown' | head -n 31 |
		sed 's/^ */    trace: /'
}

: >/tmp/flake.runs
info "flake: kvm_amd npt $(cat $SVM_PARAMS/npt)"
configs=${VB_FLAKE_CONFIGS:-spin-on spin-off spin-nopause spin-mainline ipi-on ipi-mainline lock-on lock-off lock-mainline}
# VB_FLAKE_TRACE=1 keeps the dying vCPU's last KVM events (tracing slows
# the guests, and the rates with it).
trace=${VB_FLAKE_TRACE:-0}
i=0
while [ $i -lt $runs ]; do
	for c in $configs; do
		configure $c || continue
		case $c in
		spin-*) cmd="/tests/vcpu_boost_spin_test -v 4 -n 1000" ;;
		ipi-*) cmd="/tests/vcpu_boost_ipi_test -v 3 -n 1000" ;;
		lock-*) cmd="/tests/vcpu_boost_lock_test -v 4 -n 1000 -m" ;;
		esac
		dmesg -c >/dev/null
		if [ $trace = 1 ]; then
			echo 0 >$TRACING/tracing_on
			trace_begin $EVENTS
			echo 1 >$TRACING/tracing_on
		fi
		timeout 300 $cmd >/tmp/flake.out 2>&1
		rc=$?
		if [ $trace = 1 ]; then
			echo 0 >$TRACING/tracing_on
			for e in $EVENTS; do echo 0 >$TRACING/events/$e/enable; done
		fi
		shutdown=0
		grep -q 'exited, reason 8$' /tmp/flake.out && shutdown=1
		echo "VB-FLAKE-RUN $c $i rc=$rc shutdown=$shutdown" | tee -a /tmp/flake.runs
		if [ $rc -ne 0 ]; then
			assertion /tmp/flake.out
			[ $shutdown = 1 ] && dump
		fi
	done
	i=$((i + 1))
done
echo 1 >$TRACING/tracing_on
# One line per configuration, in the order of $configs.
for c in $configs; do
	awk -v c=$c '$2 == c { n++; s += ($5 == "shutdown=1"); f += ($4 != "rc=0") }
		END { if (n) printf "VB-FLAKE %s shutdowns=%d runs=%d failures=%d\n", c, s, n, f }' /tmp/flake.runs
done
