#!/bin/sh
# make bench-guests, inside the test kernel: unmodified Linux guests (the
# test kernel's own bzImage, no paravirtual spinlocks) under QEMU/KVM, each
# in its own cgroup, run real workloads without a break while the run-time
# controls change in windows. Three 4-vCPU guests run dbench (one run that
# prints its progress each second), hackbench and stress-ng's TLB shootdowns
# (run after run), one 2-vCPU guest stress-ng's CPU stressor (the
# neighbour): 14 vCPUs on 2 CPUs. Each round applies every setting once, in
# a rotated order, each after a window with everything off; a window is
# VB_GB_SETTLE seconds to settle (dropped, 5) and VB_GB_WIN seconds measured
# (22), printed as one line:
#   VB-GB-WIN round=R setting=S t0=T t1=T cpu_<guest>=USEC... <counter>=DELTA...
# The guests' workload lines reach the host with the test kernel's uptime
# at their arrival (l2lib.sh); scripts/bench-guests-report.py puts them in
# their windows. A guest that crashes, hangs or resets fails the stage.
#
# Then the 1:1 control: one 2-vCPU guest running hackbench alone on the 2
# CPUs, where no vCPU waits for a preempted one and no setting should change
# anything. The same settings, VB_GB_CTL_ROUNDS rounds (3) of windows of
# VB_GB_CTL_SETTLE (3) and VB_GB_CTL_WIN (6) seconds, printed as
# VB-GB-CTL-WIN lines.
#
# The emulated machine's speed changes by tens of percent from one window to
# the next, in every guest at once (the outer host's load). A speed probe
# measures it beside the guests: every VB_GB_PROBE_S seconds (2) a short
# fixed loop at nice 19, its CPU time from its own schedstat (which may lag
# by up to a tick: the loop never blocks), so that the probe's share of the
# CPUs does not matter; a window reports the loop's
# iterations and nanoseconds (probe_iters, probe_ns). It takes about 1 % of
# one CPU (a probe is some 50 ms of CPU time; at nice 19 one ends every 5 s
# or so).
. /stage/lib.sh
. /stage/l2lib.sh

win=${VB_GB_WIN:-22}
# Set to CTL for the 1:1 control's windows.
tag=
settle=${VB_GB_SETTLE:-5}
rounds=${VB_GB_ROUNDS:-5}
# Each setting's window comes right after a window with everything off
# (off), and the report compares it with the off windows on both sides, so
# that slow drifts of the guests cancel: off2 (everything off again) gives
# the A/A noise. Then the defaults, the series' own strategy, the debooster
# off, the defaults without IPI tracking, without the hold (ipi_hold_ns 0),
# with the relaxed round (off by default), and with the yields to an IPI's
# receiver under the default strategy too: each run-time control flipped
# once. The strategies
# lag-credit and proportional are left to VB_GB_SETTINGS (make bench's
# kthread part compares them all), as are the other strategies for the
# yields to an IPI's receiver (ipi-NAME, e.g. ipi-lag-credit). Eight
# settings in 5 rounds of these windows, and the control's below, fit the
# stage into about 45 minutes.
default_settings="off2 $DEFAULT_STRATEGY"
[ "$DEFAULT_STRATEGY" = deboost ] || default_settings="$default_settings deboost"
settings=${VB_GB_SETTINGS:-"$default_settings kvm-only no-tracking no-hold relaxed ipi-same"}
# Every setting must be one that setting() knows (known_setting,
# scripts/guest/lib.sh): a refused write would leave its windows under the
# previous setting's.
for sname in $settings; do
	known_setting "$sname" || { fail "bench-guests: $sname is no setting" && exit 1; }
done
guests="dbench hackbench tlb cpu"
CG=/sys/fs/cgroup/gb
KVM_DEBUG=/sys/kernel/debug/kvm
probe_s=${VB_GB_PROBE_S:-2}
# Iterations of one probe: about 50 ms of the test kernel's CPU time.
probe_n=5000
PROBE_LOG=/tmp/gb-probe

nset=$(echo $settings | wc -w)
plan=$(((rounds * nset * 2 + 1) * (settle + win)))
# The guests run until the stage ends them after the last window.
secs=1000000
echo "VB-GB-SETUP cpus=$(grep -c ^processor /proc/cpuinfo) kernel=$(uname -r)" \
	"npt=$(cat /sys/module/kvm_amd/parameters/npt) halt_poll_ns=$(cat $KVM_PARAMS/halt_poll_ns) test_pause_exits=Y" \
	"win=$win settle=$settle rounds=$rounds probe_s=$probe_s default=$DEFAULT_STRATEGY ipi_default=$DEFAULT_IPI_STRATEGY settings=$(echo $settings | tr ' ' ,)" \
	"l2_cpu=$L2_CPU l2_append=$(echo "$L2_APPEND" | tr ' ' ,) qemu=$(/usr/bin/qemu-system-x86_64 -version | head -n 1 | tr ' ' _)"

# TCG's SVM has no pause filter, so without the test-only PAUSE exits a
# spinning vCPU never exits and no directed yield happens at all; with them
# every PAUSE exits (hardware exits after a burst of them).
echo Y >/sys/module/kvm_amd/parameters/test_pause_exits
echo +cpu >/sys/fs/cgroup/cgroup.subtree_control
mkdir -p $CG
echo +cpu >$CG/cgroup.subtree_control
setting off
for g in $guests; do
	mkdir -p $CG/$g
	smp=4 work=$g
	case $g in
	dbench) work=dbench-stream ;;
	cpu) smp=2 ;;
	esac
	L2_SMP=$smp L2_EXTRA="vb.win=5 vb.loops=100" l2_run $g $secs $work /tmp/gb-$g.log
	echo $l2_pid >$CG/$g/cgroup.procs
	eval pid_$g=$l2_pid
	echo "VB-GB-GUEST name=$g vcpus=$smp pid=$l2_pid work=$work"
done

# Every guest has booted when each has printed a workload line.
waited=0
for g in $guests; do
	eval pid=\$pid_$g
	while ! grep -qE '^VB-L2P? ' /tmp/gb-$g.log; do
		grep -q '^VB-L2-END' /tmp/gb-$g.log && break
		kill -0 $pid 2>/dev/null || break
		[ $waited -ge 900 ] && break
		sleep 5
		waited=$((waited + 5))
	done
done
booted=0
for g in $guests; do grep -qE '^VB-L2P? ' /tmp/gb-$g.log && booted=$((booted + 1)); done
check "bench-guests: every guest booted and ran its workload ($booted of 4, $waited s)" $booted -eq 4

# probe: the speed probe's loop, in the background until the stage ends:
# one line per probe, its iterations and its CPU nanoseconds.
probe() {
	while :; do
		awk -v n=$probe_n 'BEGIN {
			for (i = 0; i < n; i++)
				x += i * 3 % 7
			getline l <"/proc/self/schedstat"
			split(l, a, " ")
			print n, a[1]
		}' >>$PROBE_LOG
		sleep $probe_s
	done
}

# snapshot: the counters a window reports, as NAME VALUE lines.
snapshot() {
	awk '{ i += $1; ns += $2 } END { printf "probe_iters %.0f\nprobe_ns %.0f\n", i, ns }' $PROBE_LOG
	for g in $guests; do
		echo "cpu_$g $(awk '$1 == "usage_usec" { print $2 }' $CG/$g/cpu.stat)"
	done
	for f in $KVM_DEBUG/directed_yield_attempted $KVM_DEBUG/directed_yield_successful \
		$KVM_DEBUG/dy_* $KVM_DEBUG/ipi_* $KVM_DEBUG/halt_exits $KVM_DEBUG/exits; do
		[ -f "$f" ] && echo "${f##*/} $(cat "$f")"
	done
	awk 'NF == 2 && $2 ~ /^[0-9]+$/ && $1 != "enabled" { print "sched_" $1, $2 }' $DEBOOST_STATS
}

# window ROUND SETTING: one window, printed as its VB-GB-WIN line (with
# tag=CTL, settle and win set for it, as a VB-GB-CTL-WIN line).
window() {
	setting $2
	sleep $settle
	snapshot >/tmp/gb-a
	t0=$(cut -d' ' -f1 /proc/uptime)
	sleep $win
	t1=$(cut -d' ' -f1 /proc/uptime)
	snapshot >/tmp/gb-b
	echo "VB-GB-${tag:+$tag-}WIN round=$1 setting=$2 t0=$t0 t1=$t1 $(awk '
		NR == FNR { a[$1] = $2; next }
		{ printf "%s=%.0f ", $1, $2 - a[$1] }' /tmp/gb-a /tmp/gb-b)"
}

# rounds_of_windows N: N rounds, each every setting once in a rotated order,
# each after a window with everything off, and one more of those at the end.
rounds_of_windows() {
	rep=1
	while [ $rep -le $1 ]; do
		for st in $(rotated $settings); do
			window $rep off
			window $rep $st
		done
		rep=$((rep + 1))
	done
	window $1 off
}

: >$PROBE_LOG
if [ $booted -eq 4 ]; then
	probe &
	probe_pid=$!
	# busybox has no nice; the loops inherit the probe's niceness (the
	# first may start before it, inside the first settle time).
	renice 19 -p $probe_pid >/dev/null
	rounds_of_windows $rounds
	kill $probe_pid
fi
setting $DEFAULT_STRATEGY

# The guests are still running (none ended, reset or shut down), and none
# logged a checker report.
for g in $guests; do
	eval pid=\$pid_$g
	alive=0
	kill -0 $pid 2>/dev/null && alive=1
	check "bench-guests: guest $g ran through every window" $alive -eq 1
	if [ $alive -eq 0 ]; then
		tail -n 20 /tmp/gb-$g.log | sed "s/^/[$g] /"
		l2_shutdowns
	fi
	l2_windows_check "bench-guests: guest $g" /tmp/gb-$g.log
	kill $pid 2>/dev/null
done
sleep 2
pkill -f 'tail -f /tmp/gb-' 2>/dev/null

# The 1:1 control, after the others have gone.
ctl_rounds=${VB_GB_CTL_ROUNDS:-3}
settle=${VB_GB_CTL_SETTLE:-3}
win=${VB_GB_CTL_WIN:-6}
guests=ctl tag=CTL
mkdir -p $CG/ctl
L2_SMP=2 L2_EXTRA="vb.loops=100" l2_run ctl $secs hackbench /tmp/gb-ctl.log
echo $l2_pid >$CG/ctl/cgroup.procs
echo "VB-GB-CTL-GUEST name=ctl vcpus=2 pid=$l2_pid work=hackbench"
echo "VB-GB-CTL-SETUP win=$win settle=$settle rounds=$ctl_rounds"
waited=0
while ! grep -q '^VB-L2 ' /tmp/gb-ctl.log && [ $waited -lt 900 ]; do
	grep -q '^VB-L2-END' /tmp/gb-ctl.log && break
	kill -0 $l2_pid 2>/dev/null || break
	sleep 5
	waited=$((waited + 5))
done
ctl_booted=0
grep -q '^VB-L2 ' /tmp/gb-ctl.log && ctl_booted=1
check "bench-guests: the 1:1 control guest booted and ran its workload ($waited s)" $ctl_booted -eq 1
if [ $ctl_booted -eq 1 ]; then
	rounds_of_windows $ctl_rounds
fi
setting $DEFAULT_STRATEGY
alive=0
kill -0 $l2_pid 2>/dev/null && alive=1
check "bench-guests: the 1:1 control guest ran through every window" $alive -eq 1 -a $ctl_booted -eq 1
if [ $alive -eq 0 ]; then
	tail -n 20 /tmp/gb-ctl.log | sed "s/^/[ctl] /"
	l2_shutdowns
fi
l2_windows_check "bench-guests: the 1:1 control guest" /tmp/gb-ctl.log
kill $l2_pid 2>/dev/null
sleep 2
pkill -f 'tail -f /tmp/gb-' 2>/dev/null
check_kernel_log "bench-guests: no BUG, WARNING or checker report in the test kernel's log"
