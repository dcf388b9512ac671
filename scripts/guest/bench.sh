#!/bin/sh
# The guest stage of make bench: each scenario under every setting compared,
# alternating which one runs first, repeated. Prints one VB-BENCH line per
# run; scripts/bench-report.py turns them into bench/REPORT.md. The host
# boots it once per part (VB_BENCH_PART): kernel (the kthread benchmarks)
# and kvm (nested guests), so that a failed boot costs only its part; and
# cost, booted under QEMU's instruction counting, once on this kernel and
# twice on the kernel without the series; make cost-profile's part,
# profile, once on each; make dy-trace's part, dytrace; make dy-cost's,
# dycost.
. /stage/lib.sh

SVM_PARAMS=/sys/module/kvm_amd/parameters
reps=${VB_BENCH_REPS:-5}
ms=${VB_BENCH_MS:-1000}

echo "VB-BENCH-SETUP cpus=$(grep -c ^processor /proc/cpuinfo) kernel=$(uname -r)" \
	"icount_turn=${VB_ICOUNT_TURN:-0} pause_filter=${VB_PAUSE_FILTER:-0}" \
	"ipi_strategy=${VB_BENCH_IPI_STRATEGY:-default}" \
	"features=$(cat /sys/kernel/debug/sched/features)"

# kthreads: ping-pong next to 0..2 hogs, a lock among 2, 4 and 8 tasks on
# one CPU, the same lock among 4 and 8 tasks next to 1 hog, and among 4 and
# 8 tasks on all CPUs, under each yield strategy, in two placements: flat
# (all in the root cgroup, so a hog shares it with the yielders) and nested
# (workers in /bench/vm/vcpus, hogs in /bench/hogs; the module moves its
# kthreads into the cgroups of two parked processes).
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
# bench_cmd PLACEMENT MS KIND N [HOGS]: what to write to $BENCH for scenario
# KIND N (pingpong HOGS, lock TASKS, lockhog TASKS: the lock next to 1 hog,
# lockall TASKS, spin TASKS HOGS: tasks that never yield) in PLACEMENT:
# nested puts the workers in the cgroup of $vcpus_pid and the hogs in that
# of $hogs_pid.
bench_cmd() {
	w=0 h=
	[ "$1" = nested ] && w=$vcpus_pid h=$hogs_pid
	case $3 in
	pingpong) echo "pingpong $4 $2 $w $h" ;;
	lock | lockall) echo "$3 $4 $2 $w" ;;
	lockhog) echo "lock $4 $2 $w 1 $h" ;;
	spin) echo "spin $4 $2 $w $5 $h" ;;
	esac
}
# noyield PLACEMENT MS WORDS: the hogs' CPU shares when nobody yields, the
# reference for what a strategy may give the yielders: tasks that spin
# without yielding in the workers' place, as many as each scenario with hogs
# has workers, next to its hogs. WORDS go into each VB-BENCH line.
noyield() {
	for s in "2 1" "2 2" "4 1" "8 1"; do
		echo "$(bench_cmd $1 $2 spin $s)" >$BENCH &&
			echo "VB-BENCH kind=noyield cfg_place=$1 $3 rep=$rep $(cat $BENCH)"
	done
}
# kbench PLACEMENT SCENARIO STRATEGY: every yield under STRATEGY (kthreads
# give no reason; with "same" the hook's key is off under mainline, as
# without the strategy of the yields to an IPI's receiver).
kbench() {
	echo "$3" >$STRATEGY
	echo same >$IPI_STRATEGY
	acts0=$(deboost applied)
	echo "$(bench_cmd $1 $ms $2)" >$BENCH &&
		echo "VB-BENCH kind=kernel cfg_place=$1 cfg_strategy=$3 rep=$rep sub=${sub:-1}" \
			"$(cat $BENCH) acts=$(( $(deboost applied) - acts0 ))"
}
# order: on then off in odd repetitions, off then on in even ones.
order() { if [ $((rep % 2)) -eq 1 ]; then echo Y N; else echo N Y; fi; }

# guest KIND CONFIG COMMAND...: runs a selftest and prints its summary line
# as a VB-BENCH line of KIND with the settings CONFIG.
guest() {
	kind=$1 cfg=$2
	shift 2
	run_guest 600 "$@"
	if [ $rc -eq 0 ]; then
		echo "VB-BENCH kind=$kind $cfg rep=$rep $(echo "$out" | tail -n 1 | cut -d: -f2)"
	else
		info "bench run failed ($rc): kind=$kind $cfg rep=$rep: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
	fi
}

part=${VB_BENCH_PART:-kernel}
if [ "$part" = cost ] || [ "$part" = profile ]; then
# Under -icount shift=0 the clock advances 1 ns per instruction executed, so
# every ns below is an instruction count, and the runs repeat almost
# exactly. The same scenarios run on both kernels: on this one with
# everything off and under each strategy (the KVM controls at their
# defaults), on the kernel without the series as it is.
kernel=unpatched settings=unpatched
if [ -e $DEBOOSTER ]; then
	kernel=patched
	settings="off $(strategies)"
fi
# The kernel without the series boots twice (VB_COST_BOOT=2 the second
# time): runs in one boot repeat almost exactly, two boots of one kernel
# differ a little, and that is the noise two kernels are compared against.
boot=${VB_COST_BOOT:-1}
# Halt polling would spin for a time, not a number of instructions.
echo 0 >$KVM_PARAMS/halt_poll_ns
vcpus_pid=$(parked $CG/bench/vm/vcpus)
hogs_pid=$(parked $CG/bench/hogs)
sleep 1
cost_ms=${VB_COST_MS:-100}
# counted KIND PLACEMENT SETTING SCENARIO [WORDS]: one counted kthread run
# of SCENARIO under SETTING, every yield under its strategy (kthreads give
# no reason), as a VB-BENCH line of KIND with WORDS.
counted() {
	setting $3
	[ ! -e "$IPI_STRATEGY" ] || echo same >$IPI_STRATEGY
	echo "$(bench_cmd $2 $cost_ms $4)" >$BENCH &&
		echo "VB-BENCH kind=$1 cfg_kernel=$kernel ${5:+$5 }cfg_place=$2" \
			"cfg_setting=$3 rep=$rep $(cat $BENCH)"
}
rep=1
if [ "$part" = profile ]; then
	# make cost-profile: the ping-pong without hogs, flat and nested, with
	# the first setting only (everything off, or the kernel without the
	# series as it is), or with each of VB_PROFILE_SETTINGS (make
	# strategy-profile; all: off and every strategy), under a TCG plugin
	# that counts every instruction of each run (scripts/cost-profile.sh).
	profiled=${settings%% *}
	if [ -n "${VB_PROFILE_SETTINGS:-}" ]; then
		# Each known name once: an unknown one would run under the
		# setting before it.
		profiled=
		for st in $VB_PROFILE_SETTINGS; do
			[ "$st" != all ] || st=$settings
			for s in $st; do
				case " $profiled " in *" $s "*) continue ;; esac
				if known_setting "$s"; then
					profiled="$profiled $s"
				else
					info "strategy-profile: no setting $s on this kernel"
				fi
			done
		done
	fi
	while [ $rep -le "${VB_PROFILE_REPS:-8}" ]; do
		for place in flat nested; do
			for st in $(rotated $profiled); do
				counted profile $place $st "pingpong 0"
			done
		done
		rep=$((rep + 1))
	done
fi
while [ "$part" = cost ] && [ $rep -le "${VB_COST_REPS:-3}" ]; do
	for place in flat nested; do
		for s in "pingpong 0" "pingpong 1" "lock 4" "lock 8"; do
			for st in $(rotated $settings); do
				counted cost $place $st "$s" "cfg_boot=$boot"
			done
		done
	done
	noyield nested 500 "cfg_kernel=$kernel cfg_boot=$boot cfg_icount=1"
	# IPIs: both vCPUs on CPU 1, vCPU 0 halting until it is answered.
	ipi_settings=unpatched
	[ $kernel = patched ] && ipi_settings="off deboost"
	for st in $(rotated $ipi_settings); do
		setting $st
		guest ipiinsn "cfg_kernel=$kernel cfg_boot=$boot cfg_setting=$st" \
			taskset 2 /tests/vcpu_boost_ipi_test -v 2 -n 2000 -H
	done
	rep=$((rep + 1))
done
[ $kernel = patched ] && setting donate
kill $vcpus_pid $hogs_pid
exit 0
fi
if [ "$part" = kernel ]; then
vcpus_pid=$(parked $CG/bench/vm/vcpus)
hogs_pid=$(parked $CG/bench/hogs)
sleep 1
# The lock among 4 and 8 tasks runs $lock_subs times per repetition: its
# runs differ by up to 20 % from one to the next, and its goal is judged
# against mainline to within a few per cent.
lock_subs=${VB_BENCH_LOCK_SUBS:-3}
rep=1
while [ $rep -le $reps ]; do
	for place in flat nested; do
		# 10 + 2 ($lock_subs - 1) runs of $ms per placement, strategy
		# and repetition.
		for s in "pingpong 0" "pingpong 1" "pingpong 2" "lock 2" "lock 4" "lock 8" \
			"lockhog 4" "lockhog 8" "lockall 4" "lockall 8"; do
			subs=1
			case $s in "lock 4" | "lock 8") subs=$lock_subs ;; esac
			sub=1
			while [ $sub -le $subs ]; do
				for st in $(rep=$((rep + sub - 1)) && rotated $(strategies)); do
					kbench $place "$s" $st
				done
				sub=$((sub + 1))
			done
		done
		noyield $place $ms cfg_kernel=patched
	done
	rep=$((rep + 1))
done
echo donate >$STRATEGY
echo "$DEFAULT_IPI_STRATEGY" >$IPI_STRATEGY
kill $vcpus_pid $hogs_pid
fi
# make dy-trace (scripts/dy-trace.sh): the IPI wait of the kvm part, with
# sender and receiver on different CPUs (spread) and on one (paired), and
# with a receiver that computes on the sender's crowded CPU (crowded-busy),
# tracking on and off (relaxed boost on, so that every spin exit is
# traced), each run traced: the scheduler's switches and wakeups, KVM's
# IPIs, EOIs and directed-yield choices, printed as VB-TRACE lines for
# scripts/dy-trace.py. A run whose trace lost events fails.
if [ "$part" = dytrace ]; then
events="sched/sched_switch sched/sched_wakeup kvm/kvm_dy_select kvm/kvm_apic_ipi kvm/kvm_eoi"
echo 1 >$SVM_PARAMS/test_pause_exits
echo Y >$KVM_PARAMS/enable_relaxed_boost
# VB_DYTRACE_LAYOUTS, for a boot of this part alone: the layouts to trace
# (scripts/dy-trace.py reads the four defaults).
for layout in ${VB_DYTRACE_LAYOUTS:-spread paired crowded crowded-busy}; do
	case $layout in
	crowded-busy) export VCPU_BOOST_PIN=crowded && args="-v 6 -b" ;;
	crowded) export VCPU_BOOST_PIN=crowded && args="-v 6" ;;
	*) export VCPU_BOOST_PIN=$layout && args="-v 4" ;;
	esac
	for t in Y N; do
		echo $t >$KVM_PARAMS/ipi_tracking_enabled
		trace_begin $events
		run_guest 600 /tests/vcpu_boost_spin_test $args -n "${VB_DYTRACE_IPIS:-40}"
		trace_end "dy-trace: $layout, tracking $t" $events
		if [ $rc -ne 0 ]; then
			fail "dy-trace: $layout, tracking $t: rc $rc: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
			continue
		fi
		[ "$lost" -eq 0 ] || continue
		echo "VB-TRACE-BEGIN layout=$layout tracking=$t $(echo "$out" | tail -n 1 | cut -d: -f2)"
		grep -v '^#' $TRACING/trace | sed 's/^/VB-TRACE /'
		echo "VB-TRACE-END"
	done
done
echo >$TRACING/trace
echo 0 >$SVM_PARAMS/test_pause_exits
echo Y >$KVM_PARAMS/ipi_tracking_enabled
exit 0
fi
# make dy-cost (scripts/dy-cost.sh): what the KVM mechanisms execute, under
# a TCG plugin that counts every instruction of each run (one window per
# VM, from its creation to its destruction), the debooster off, halt
# polling off, settings rotated per repetition. ipi: vCPU 0 sends an IPI
# and halts until vCPU 1 answers with one (both on CPU 1, nothing spins),
# tracking off and on. Then, with every PAUSE exiting, under mainline's
# loop (both KVM features off), the relaxed round alone and both on: lock,
# 4 vCPUs contending a guest spinlock without IPIs (spin exits with
# nothing tracked); answered, the same with an IPI to the next vCPU every
# 4th acquisition, which nobody waits for (spin exits long after the
# spinner's last IPI was answered); wait, vCPU 0 spinning until vCPU 1
# answers its IPI, both on CPU 0 (every spin exit the sender's, its IPI
# unanswered).
if [ "$part" = dycost ]; then
echo 0 >$KVM_PARAMS/halt_poll_ns
rep=1
while [ $rep -le "${VB_DYCOST_REPS:-3}" ]; do
	for t in $(rotated N Y); do
		features 0 $t Y
		guest dycost "cfg_test=ipi cfg_tracking=$t cfg_relaxed=Y" \
			taskset 2 /tests/vcpu_boost_ipi_test -v 2 -n 2000 -H
	done
	echo 1 >$SVM_PARAMS/test_pause_exits
	for s in $(rotated N:N N:Y Y:Y); do
		features 0 ${s%:*} ${s#*:}
		# Not cfg: guest() sets that.
		dc="cfg_tracking=${s%:*} cfg_relaxed=${s#*:}"
		export VCPU_BOOST_PIN=spread
		guest dycost "cfg_test=lock $dc" \
			/tests/vcpu_boost_lock_test -v 4 -n 500 -k 1000000
		guest dycost "cfg_test=answered $dc" \
			/tests/vcpu_boost_lock_test -v 4 -n 500 -k 4
		export VCPU_BOOST_PIN=paired
		guest dycost "cfg_test=wait $dc" \
			/tests/vcpu_boost_spin_test -v 2 -n 300
	done
	echo 0 >$SVM_PARAMS/test_pause_exits
	rep=$((rep + 1))
done
features 1 Y N
exit 0
fi
[ "$part" = kvm ] || exit 0

# KVM, with PAUSE exits, 4 vCPUs (the crowded scenarios 6) on the 2 CPUs:
# the directed-yield scenarios, each with tracking on and off (relaxed
# boost at its default) in every repetition, alternating which runs
# first, and a second run with tracking off (cfg_aa=1) beside the first:
# the A/A pair, for the noise.
#   lock      vcpu_boost_lock_test -t: a guest spinlock, unrelated IPIs
#   lockpaired  the same with vCPUs 0 and 1, and 2 and 3, bound to one CPU
#             each, so that half the unrelated IPIs stay on their CPU,
#             where the tracker may choose their receiver for a lock waiter
#   spin      vcpu_boost_spin_test: vCPU 0 waits for its IPIs' answers
#   spinbusy  the same, the receiver computing instead of halting
#   spinpaired  spin, with sender and receiver bound to one CPU
#   spincrowded  spin with 6 vCPUs, sender, receiver and a spinner on one
#             CPU: the spinner's CPU has a candidate other than the receiver
#   spincrowdedbusy  the same, the receiver computing instead of halting
#   spincrowdedcompute  the same, the spinners computing too (-b -c), and
#             once without PAUSE exits: the neighbour's share when the
#             sender never yields
#   mixed     vcpu_boost_lock_test -m: both kinds of waiting in one guest
#   mixedpaired  the same with vCPUs 0 and 1 (the IPI's sender and
#             receiver) bound to one CPU, and where each yield went (-t)
#   stratbusy, stratcompute  spincrowdedbusy and spincrowdedcompute with
#             each strategy for yields to an IPI's receiver, after the
#             repetitions above
# scripts/bench.sh boots this part under instruction counting, and every
# vCPU thread is bound to CPU i mod 2 (the *paired ones: i / 2,
# spincrowded*: i / 3): otherwise the emulator's speed and where the load
# balancer puts the IPI's two ends make runs of one setting differ more
# than the settings do.
echo 1 >$SVM_PARAMS/test_pause_exits
# The relaxed round on (off by default) but where a run says otherwise:
# the scenarios compare tracking on and off on the IPI-aware path.
echo Y >$KVM_PARAMS/enable_relaxed_boost
export VCPU_BOOST_PIN=spread
# make bench's filter part: the same under the emulator's pause filter
# (VB_PAUSE_FILTER=1, tests/qemu/0007), where KVM's own pause-loop exiting
# decides when a spinning vCPU exits, as on hardware.
filter=${VB_PAUSE_FILTER:-0}
if [ "$filter" = 1 ] && ! grep -qw pausefilter /proc/cpuinfo; then
	fail "VB_PAUSE_FILTER=1, but the CPU offers no pause filter: not the emulator of tests/qemu/0007"
	exit 0
fi
# VB_BENCH_IPI_STRATEGY: the strategy of the yields to an IPI's receiver
# for the scenarios (default: the kernel's).
if [ -n "${VB_BENCH_IPI_STRATEGY:-}" ]; then
	control "$VB_BENCH_IPI_STRATEGY" $IPI_STRATEGY
fi
# Sizes for runs of a fraction of a second of counted time each.
lock_acq=${VB_BENCH_LOCK_ACQ:-2000}
mixed_acq=${VB_BENCH_MIXED_ACQ:-600}
spin_ipis=${VB_BENCH_SPIN_IPIS:-600}
# scenario KIND: binds the vCPUs as directed-yield scenario KIND wants
# them (VCPU_BOOST_PIN) and sets cmd to its command.
scenario() {
	case $1 in
	lock | lockpaired | mixed | mixedpaired) sc_test=lock ;;
	*) sc_test=spin ;;
	esac
	case $1 in
	*paired) export VCPU_BOOST_PIN=paired ;;
	spincrowded*) export VCPU_BOOST_PIN=crowded ;;
	*) export VCPU_BOOST_PIN=spread ;;
	esac
	case $1 in
	lock | lockpaired) sc_args="-v 4 -n $lock_acq -t" ;;
	spin | spinpaired) sc_args="-v 4 -n $spin_ipis" ;;
	spinuser) sc_args="-v 4 -n $spin_ipis -u" ;;
	spinusercompute) sc_args="-v 4 -n $spin_ipis -u -c" ;;
	spinbusy) sc_args="-v 4 -n $spin_ipis -b" ;;
	spincrowded) sc_args="-v 6 -n $spin_ipis" ;;
	spincrowdedbusy) sc_args="-v 6 -n $((spin_ipis / 2)) -b" ;;
	spincrowdedcompute) sc_args="-v 6 -n $((spin_ipis / 3)) -b -c" ;;
	mixed) sc_args="-v 4 -n $mixed_acq -m" ;;
	mixedpaired) sc_args="-v 4 -n $mixed_acq -m -t" ;;
	spin1to1) sc_args="-v 2 -n 1000" ;;
	*) fail "no scenario $1" && return 1 ;;
	esac
	cmd="/tests/vcpu_boost_${sc_test}_test $sc_args"
}
# wanted KIND: whether VB_BENCH_KINDS (for experiments: the
# directed-yield scenarios to run, blank-separated; the other runs of the
# part still run) leaves scenario KIND in.
wanted() {
	case " ${VB_BENCH_KINDS:-$1} " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}
# test_knob FILE VALUE: writes a test-only switch of patches/test/, or
# fails: a run labelled with what the switch does must have run with it.
test_knob() {
	echo "$2" 2>/dev/null >"$1" || {
		fail "cannot write $2 to $1: this kernel lacks the test patches"
		return 1
	}
}
# pad_runs KIND CFG COMMAND...: COMMAND with 120 and 360 instructions of an
# empty loop added to every PAUSE exit (kvm_amd.test_pause_pad, 4 each),
# logged as KIND with CFG and cfg_pad: how far the rate moves with what a
# code path adds per exit, apart from what it decides.
pad_runs() {
	# Not kind and cfg: guest() sets those.
	pad_kind=$1 pad_cfg=$2
	shift 2
	for pad in $(rotated 30 90); do
		test_knob $SVM_PARAMS/test_pause_pad $pad || return 0
		guest $pad_kind "$pad_cfg cfg_pad=$((pad * 4))" "$@"
		echo 0 >$SVM_PARAMS/test_pause_pad
	done
}
# dy_runs KIND: one repetition of scenario KIND, when wanted: on, off,
# off again, or the reverse.
dy_runs() {
	kind=$1
	wanted $kind || return 0
	scenario $kind || return 0
	if [ $((rep % 2)) -eq 1 ]; then runs="Y:0 N:0 N:1"; else runs="N:1 N:0 Y:0"; fi
	for r in $runs; do
		echo ${r%:*} >$KVM_PARAMS/ipi_tracking_enabled
		guest $kind "cfg_tracking=${r%:*} cfg_relaxed=Y cfg_aa=${r#*:}" $cmd
	done
	echo Y >$KVM_PARAMS/ipi_tracking_enabled
}
# VB_BENCH_VARIANTS=1, for experiments: instead of the part, scenario
# VB_BENCH_VARIANT_KIND (default spincrowded, the crowded IPI wait) under
# each variant of tracking, side by side in one boot, in an order rotated
# per repetition (kind variant, cfg_scenario, cfg_variant): off; aa, off
# again (the A/A pair in the same boot); on; on with a window of N µs (wN;
# w1, the shortest, never chooses in the crowded wait); on with spin exits
# asking the tracker nothing (noquery, kvm.test_dy_no_query), or asking it
# and dropping its answer (drop, kvm.test_dy_drop_answer); on with the
# receiver's priority ending when it takes the IPI into its ISR rather
# than at its EOI (irr, kvm.test_dy_irr_only); off with 125 empty
# iterations after every IPI sent (pad, kvm.test_ipi_pad: about what
# tracking adds to each); off with a read of the clock there instead
# (clock, kvm.test_ipi_clock); on with ipi_hold_ns N µs (holdN; hold0:
# no hold); off with N empty iterations (4 instructions
# each) added to every PAUSE exit (exitpadN, kvm_amd.test_pause_pad: how
# far the rate moves with what a code path adds per exit); off and on with
# halt polling off (nopoll-off, nopoll-on); on with relaxed boost off
# (norelaxed; with the scenarios spinuser and spinusercompute, whose
# spinners or computing vCPUs run in user mode, the ones where the relaxed
# round acts); VB_BENCH_VARIANT_LIST picks
# some, and on-STRATEGY is on with that vcpu_ipi_yield_strategy. The
# report does not read them.
if [ "${VB_BENCH_VARIANTS:-0}" = 1 ]; then
	scen=${VB_BENCH_VARIANT_KIND:-spincrowded}
	scenario $scen || exit 0
	window=$(cat $KVM_PARAMS/ipi_window_ns)
	hold=$(cat $KVM_PARAMS/ipi_hold_ns)
	poll=$(cat $KVM_PARAMS/halt_poll_ns)
	rep=1
	while [ $rep -le $reps ]; do
		for v in $(rotated ${VB_BENCH_VARIANT_LIST:-off aa on w1 noquery pad}); do
			case $v in
			off | aa) echo N >$KVM_PARAMS/ipi_tracking_enabled ;;
			on) echo Y >$KVM_PARAMS/ipi_tracking_enabled ;;
			norelaxed) echo Y >$KVM_PARAMS/ipi_tracking_enabled && echo N >$KVM_PARAMS/enable_relaxed_boost ;;
			nopoll-off) echo N >$KVM_PARAMS/ipi_tracking_enabled && echo 0 >$KVM_PARAMS/halt_poll_ns ;;
			nopoll-on) echo Y >$KVM_PARAMS/ipi_tracking_enabled && echo 0 >$KVM_PARAMS/halt_poll_ns ;;
			on-*) echo Y >$KVM_PARAMS/ipi_tracking_enabled && control "${v#on-}" $IPI_STRATEGY || break 2 ;;
			w[0-9]*) echo Y >$KVM_PARAMS/ipi_tracking_enabled && control "${v#w}000" $KVM_PARAMS/ipi_window_ns || break 2 ;;
			noquery) echo Y >$KVM_PARAMS/ipi_tracking_enabled && test_knob $KVM_PARAMS/test_dy_no_query Y || break 2 ;;
			drop) echo Y >$KVM_PARAMS/ipi_tracking_enabled && test_knob $KVM_PARAMS/test_dy_drop_answer Y || break 2 ;;
			irr) echo Y >$KVM_PARAMS/ipi_tracking_enabled && test_knob $KVM_PARAMS/test_dy_irr_only Y || break 2 ;;
			pad) echo N >$KVM_PARAMS/ipi_tracking_enabled && test_knob $KVM_PARAMS/test_ipi_pad 125 || break 2 ;;
			exitpad[0-9]*) echo N >$KVM_PARAMS/ipi_tracking_enabled && test_knob $SVM_PARAMS/test_pause_pad "${v#exitpad}" || break 2 ;;
			clock) echo N >$KVM_PARAMS/ipi_tracking_enabled && test_knob $KVM_PARAMS/test_ipi_clock Y || break 2 ;;
			hold[0-9]*) echo Y >$KVM_PARAMS/ipi_tracking_enabled && control "${v#hold}000" $KVM_PARAMS/ipi_hold_ns || break 2 ;;
			*) fail "no variant $v" && break 2 ;;
			esac
			guest variant "cfg_scenario=$scen cfg_variant=$v" $cmd
			echo "$window" >$KVM_PARAMS/ipi_window_ns
			echo "$poll" >$KVM_PARAMS/halt_poll_ns
			echo Y >$KVM_PARAMS/enable_relaxed_boost
			echo "$DEFAULT_IPI_STRATEGY" >$IPI_STRATEGY
			echo N >$KVM_PARAMS/test_dy_no_query
			echo N >$KVM_PARAMS/test_dy_drop_answer
			echo N >$KVM_PARAMS/test_dy_irr_only
			echo 0 >$KVM_PARAMS/test_ipi_pad
			echo 0 >$SVM_PARAMS/test_pause_pad
			echo N >$KVM_PARAMS/test_ipi_clock
			echo "$hold" >$KVM_PARAMS/ipi_hold_ns
		done
		rep=$((rep + 1))
	done
	echo Y >$KVM_PARAMS/ipi_tracking_enabled
	echo 0 >$SVM_PARAMS/test_pause_exits
	exit 0
fi
rep=1
while [ $rep -le $reps ]; do
	dy_runs lock
	dy_runs lockpaired
	dy_runs spin
	# The spin test with relaxed boost off too, for its table, right after
	# its runs with relaxed boost on: with both off, mainline's own loop
	# runs, beside the selector's run with tracking off.
	scenario spin
	echo N >$KVM_PARAMS/enable_relaxed_boost
	for t in $(order); do
		echo $t >$KVM_PARAMS/ipi_tracking_enabled
		guest spin "cfg_tracking=$t cfg_relaxed=N cfg_aa=0" $cmd
	done
	# Mainline's loop again, padded. Under the filter few PAUSEs exit,
	# and the pads run on the crowded wait instead (below).
	echo N >$KVM_PARAMS/ipi_tracking_enabled
	[ "$filter" = 1 ] || pad_runs spin "cfg_tracking=N cfg_relaxed=N cfg_aa=0" $cmd
	echo Y >$KVM_PARAMS/enable_relaxed_boost
	dy_runs spinbusy
	dy_runs spinpaired
	dy_runs spincrowded
	# Under the filter: the crowded wait with tracking off and the same
	# pads added to each PAUSE exit, against its off run of the
	# repetition. Few PAUSEs exit there, and yet the pads move the rate
	# nearly as far as tracking does.
	if [ "$filter" = 1 ] && wanted spincrowded; then
		scenario spincrowded
		echo N >$KVM_PARAMS/ipi_tracking_enabled
		pad_runs spincrowded "cfg_tracking=N cfg_relaxed=Y" $cmd
		echo Y >$KVM_PARAMS/ipi_tracking_enabled
	fi
	dy_runs spincrowdedbusy
	# The computing crowd: its runs are the longest and vary least, so
	# they stop after VB_BENCH_COMPUTE_REPS repetitions (default 6, even,
	# so that on and off run first equally often).
	if [ $rep -le "${VB_BENCH_COMPUTE_REPS:-6}" ] && wanted spincrowdedcompute; then
		dy_runs spincrowdedcompute
		# Its reference for the neighbour's share: no PAUSE exits, so
		# the sender spins through its own share and never yields. It
		# runs after the scenario's own runs in each repetition.
		# Without a pause filter test_pause_exits=0 leaves PAUSE to the
		# guest; with one, KVM intercepts PAUSE anyway, and the VM turns
		# its exits off (-P).
		echo 0 >$SVM_PARAMS/test_pause_exits
		echo N >$KVM_PARAMS/ipi_tracking_enabled
		noexits=
		[ "$filter" = 1 ] && noexits=-P
		scenario spincrowdedcompute
		guest spincrowdedcompute "cfg_tracking=N cfg_relaxed=Y cfg_ref=noyield" $cmd $noexits
		echo Y >$KVM_PARAMS/ipi_tracking_enabled
		echo 1 >$SVM_PARAMS/test_pause_exits
	fi
	dy_runs mixed
	dy_runs mixedpaired
	export VCPU_BOOST_PIN=spread
	rep=$((rep + 1))
done
echo Y >$KVM_PARAMS/ipi_tracking_enabled

# The two crowded scenarios with a computing receiver, tracking on and off,
# with each strategy for the yields to an IPI's receiver (3 repetitions,
# strategies rotated) and the default for every other yield: what the
# receiver should get with the yield (stratbusy: beside a spinning
# neighbour; stratcompute: beside a computing one).
if [ -e "$IPI_STRATEGY" ]; then
	rep=1
	while [ $rep -le "${VB_BENCH_STRATEGY_REPS:-3}" ]; do
		for st in $(rotated $(strategies)); do
			echo $st >$IPI_STRATEGY
			for t in $(order); do
				echo $t >$KVM_PARAMS/ipi_tracking_enabled
				scenario spincrowdedbusy
				guest stratbusy "cfg_tracking=$t cfg_ipi_strategy=$st" $cmd
				scenario spincrowdedcompute
				guest stratcompute "cfg_tracking=$t cfg_ipi_strategy=$st" $cmd
			done
		done
		rep=$((rep + 1))
	done
	echo "$DEFAULT_IPI_STRATEGY" >$IPI_STRATEGY
	echo Y >$KVM_PARAMS/ipi_tracking_enabled
	export VCPU_BOOST_PIN=spread
fi

# The control without overcommit: 2 vCPUs on the 2 CPUs, PAUSE exits on
# (the mechanisms should change nothing here), tracking on and off, then
# off with instructions added to each PAUSE exit: here neither the
# tracker nor the relaxed round yields, and the rate moves with what a
# PAUSE exit executes.
# What tracking costs per IPI is counted in the cost part.
scenario spin1to1
rep=1
while [ $rep -le $reps ]; do
	for t in $(order); do
		echo $t >$KVM_PARAMS/ipi_tracking_enabled
		guest spin1to1 "cfg_tracking=$t" $cmd
	done
	echo N >$KVM_PARAMS/ipi_tracking_enabled
	pad_runs spin1to1 "cfg_tracking=N" $cmd
	rep=$((rep + 1))
done
echo Y >$KVM_PARAMS/ipi_tracking_enabled
echo 0 >$SVM_PARAMS/test_pause_exits
