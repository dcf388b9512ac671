# Helpers for the stages that run inside the test kernel. Sourced.
# Every check prints one line the host counts:
#   VB-RESULT PASS|FAIL <name> [details]
# and information that is never counted:
#   VB-INFO <name> <details>

DEBOOSTER=/sys/kernel/debug/sched/vcpu_debooster_enabled
KVM_PARAMS=/sys/module/kvm/parameters
DEBOOST_STATS=/sys/kernel/debug/sched/vcpu_debooster_stats
STRATEGY=/sys/kernel/debug/sched/vcpu_yield_strategy
IPI_STRATEGY=/sys/kernel/debug/sched/vcpu_ipi_yield_strategy
BENCH=/sys/kernel/debug/vcpu_boost_bench/run
DEBOOST_EVENT=/sys/kernel/tracing/events/sched/sched_vcpu_deboost
TRACING=/sys/kernel/tracing

# Reports of the kernel's checkers in a console log (KASAN, KCSAN and the
# rest print "BUG:", lockdep and RCU "WARNING:"); scripts/test.sh reads it
# from here too.
SPLAT_RE='BUG:|WARNING:|UBSAN:|KASAN:|KCSAN:|Oops|general protection fault|kernel BUG at|possible recursive locking|inconsistent lock state|circular locking dependency|sleeping function called from invalid context|detected stalls'

pass() { echo "VB-RESULT PASS $*"; }
fail() { echo "VB-RESULT FAIL $*"; }
info() { echo "VB-INFO $*"; }

# check_kernel_log NAME: the check that the kernel logged no report of its
# checkers during the stage (with the debug flavours: lockdep, RCU, KASAN,
# UBSAN, KCSAN and more); the first reports are printed.
check_kernel_log() {
	splats=$(dmesg | grep -E "$SPLAT_RE")
	[ -n "$splats" ] && echo "$splats" | head -n 20
	check "$1" -z "$splats"
}

# check NAME CONDITION... : PASS when the condition (a test(1) expression) holds.
check() {
	name=$1
	shift
	if [ "$@" ]; then pass "$name"; else fail "$name ($*)"; fi
}

# strategies [FILE]: the names vcpu_yield_strategy (or FILE, e.g.
# $IPI_STRATEGY) offers, in its order.
strategies() { tr -d '[]' <"${1:-$STRATEGY}"; }

# The strategies the kernel booted with (the bracketed names).
DEFAULT_STRATEGY=$(sed -n 's/.*\[\([a-z-]*\)\].*/\1/p' "$STRATEGY" 2>/dev/null)
DEFAULT_IPI_STRATEGY=$(sed -n 's/.*\[\([a-z-]*\)\].*/\1/p' "$IPI_STRATEGY" 2>/dev/null)
# And the hold (ipi_hold_ns) it booted with; empty without the parameter.
DEFAULT_HOLD_NS=$(cat $KVM_PARAMS/ipi_hold_ns 2>/dev/null)

# rotated NAME...: the names, starting with a different one in each
# repetition ($rep).
rotated() {
	i=$((rep % $#))
	while [ $i -gt 0 ]; do
		first=$1
		shift
		set -- "$@" "$first"
		i=$((i - 1))
	done
	echo "$@"
}

# features DEBOOSTER TRACKING RELAXED [STRATEGY [IPI_STRATEGY [HOLD]]]: the
# run-time controls (DEBOOSTER 0 or 1, the KVM ones Y or N); with STRATEGY,
# the yields to an IPI's receiver get IPI_STRATEGY, by default theirs; the
# hold is HOLD ns (ipi_hold_ns), by default the boot's. A
# refused write would leave the runs that follow under the setting before
# it: a failure.
features() {
	control "$1" $DEBOOSTER
	control "$2" $KVM_PARAMS/ipi_tracking_enabled
	control "$3" $KVM_PARAMS/enable_relaxed_boost
	[ -z "${4:-}" ] || control "$4" $STRATEGY
	[ -z "${4:-}" ] || control "${5:-$DEFAULT_IPI_STRATEGY}" $IPI_STRATEGY
	[ -z "$DEFAULT_HOLD_NS" ] || control "${6:-$DEFAULT_HOLD_NS}" $KVM_PARAMS/ipi_hold_ns
}

# control VALUE FILE: writes VALUE to the control FILE; a failure, and
# false, if it is refused.
control() {
	echo "$1" >"$2" && return 0
	fail "control: $2 refused $1"
	return 1
}

# offers FILE NAME: whether the strategy file FILE lists NAME.
offers() {
	strategies "$1" | tr ' ' '\n' | grep -qx -- "$2"
}

# setting NAME: a named combination of the controls.
#   off, off2     every feature off (off2: the same, for the A/A noise)
#   <strategy>    the debooster on with that strategy (the yields to an
#                 IPI's receiver with theirs), the KVM features at their
#                 defaults: IPI tracking on, the relaxed round off
#   kvm-only      the debooster off, the KVM features at their defaults
#   (below, "the defaults": the debooster with the default strategy, the
#   KVM features at their defaults)
#   no-tracking   the defaults but IPI tracking
#   relaxed       the defaults and the relaxed round
#   no-hold       the defaults but the hold (ipi_hold_ns 0)
#   ipi-same      the defaults but the yields to an IPI's receiver under
#                 the default strategy too
#   ipi-NAME      the defaults but the yields to an IPI's receiver under
#                 the strategy NAME (ipi-lag-credit, ipi-handoff, ...)
#   unpatched     nothing (the kernel without the series)
setting() {
	case $1 in
	unpatched) ;;
	off | off2) features 0 N N ;;
	kvm-only) features 0 Y N ;;
	no-tracking) features 1 N N "$DEFAULT_STRATEGY" ;;
	relaxed) features 1 Y Y "$DEFAULT_STRATEGY" ;;
	no-hold) features 1 Y N "$DEFAULT_STRATEGY" "" 0 ;;
	ipi-*) features 1 Y N "$DEFAULT_STRATEGY" "${1#ipi-}" ;;
	*) features 1 Y N "$1" ;;
	esac
}

# known_setting NAME: whether setting() knows NAME on this kernel, where a
# name it does not know is taken for a strategy: one that the kernel
# refuses would leave the runs under the setting before it.
known_setting() {
	case $1 in
	off | off2 | kvm-only | no-tracking | relaxed) return 0 ;;
	no-hold) [ -n "$DEFAULT_HOLD_NS" ] ;;
	ipi-*) offers $IPI_STRATEGY "${1#ipi-}" ;;
	*) offers $STRATEGY "$1" ;;
	esac
}

# trace_begin EVENT...: the events (e.g. kvm/kvm_ipi_tracked) enabled in an
# empty trace buffer, large enough for the few seconds of a selftest run.
trace_begin() {
	echo 16384 >$TRACING/buffer_size_kb
	echo >$TRACING/trace
	for e; do echo 1 >$TRACING/events/$e/enable; done
}

# trace_end NAME EVENT...: disables the events; a buffer that overran lost
# events, so every count taken from it would be short: a failure of NAME.
trace_end() {
	name=$1
	shift
	for e; do echo 0 >$TRACING/events/$e/enable; done
	lost=$(awk '$1 == "overrun:" { n += $2 } END { print n + 0 }' $TRACING/per_cpu/cpu*/stats)
	[ "$lost" -eq 0 ] || fail "$name: the trace buffer overran, $lost events lost; counts are short"
}

# assertion FILE: where and what a failed KVM selftest in FILE asserted,
# indented.
assertion() {
	grep -A4 'Test Assertion Failure' "$1" | grep -v '^ *$' | head -n 5 | sed 's/^/    /'
}

# trace_count REGEX: how many lines of the trace buffer match (grep -E).
trace_count() { grep -cE "$1" $TRACING/trace; }

# deboost NAME: a counter from $DEBOOST_STATS.
deboost() { awk -v k="$1" '$1 == k { print $2 }' "$DEBOOST_STATS"; }

# control_roundtrip NAME FILE GOOD BAD EXPECT_AFTER_GOOD:
# writes GOOD and expects EXPECT_AFTER_GOOD back; writes BAD, expects an
# error and the value unchanged; then restores the original value.
control_roundtrip() {
	name=$1 file=$2 good=$3 bad=$4 expect=$5
	orig=$(cat "$file")
	if echo "$good" >"$file" 2>/dev/null && [ "$(cat "$file")" = "$expect" ]; then
		pass "$name: write $good"
	else
		fail "$name: write $good (reads $(cat "$file"))"
	fi
	if echo "$bad" >"$file" 2>/dev/null; then
		fail "$name: bad value $bad was accepted"
	elif [ "$(cat "$file")" = "$expect" ]; then
		pass "$name: bad value $bad rejected, value kept"
	else
		fail "$name: bad value $bad changed the value to $(cat "$file")"
	fi
	echo "$orig" >"$file"
}

# run_guest SECONDS COMMAND...: runs a KVM selftest with a time limit; its
# output is left in $out and its exit status in $rc. A guest shutdown (KVM
# exit reason 8, a triple fault) fails the run like any other failure: it is
# counted in $shutdowns and the guest's state at the shutdown, which the
# test-only patch patches/test/0002 puts in the kernel log, is printed.
# (With KVM's nested paging, QEMU's TCG now and then breaks the first guest
# access after a VMRUN; the stages boot with shadow paging, which avoids
# it: make flake-rates in bench/REPORT.md, and scripts/guest.sh.)
shutdowns=0
run_guest() {
	limit=$1
	shift
	out=$(timeout "$limit" "$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && echo "$out" | grep -q 'exited, reason 8$'; then
		shutdowns=$((shutdowns + 1))
		info "${1##*/}: the guest shut down (triple fault); its state:"
		dmesg | grep 'vb-shutdown:' | tail -n 3 | sed 's/^.*vb-shutdown: /  /'
	fi
	return 0
}
