#!/usr/bin/env bash
# make flake-rates: how often nested guests shut down (triple fault) or stop
# on a KVM internal error under QEMU's TCG, on the test kernel and on the
# same 7.3.4 without the series (scripts/baseline.sh), with multi-threaded
# TCG and KVM's nested paging (npt) or shadow paging (kvm_amd.npt=0, what the
# test stages use), and with a single TCG thread: VB_FLAKE_RUNS runs
# (default 20) of each configuration in one boot per kernel and setting
# (scripts/guest/flake.sh), and whether the test kernel itself reset.
# Writes its section of bench/REPORT.md (scripts/report_section.py).
# GUEST_CPU chooses QEMU's CPU model (default max), VB_FLAKE_CONFIGS the
# configurations, VB_FLAKE_TRACE=1 adds the dying vCPU's last KVM events.
. "$(dirname "$0")/lib.sh"

export VB_FLAKE_RUNS=${VB_FLAKE_RUNS:-20}
REPORT=$PROJECT_ROOT/bench/REPORT.md

# flake_boot NAME [VAR=VALUE...]: one boot in flake mode; whether it ended
# without the stage's end (a reset) is kept beside its log.
flake_boot() {
	local name=$1
	shift
	log "flake-rates: $name"
	local reset=0
	env "$@" "$PROJECT_ROOT/scripts/guest.sh" flake || reset=1
	cp "$CACHE/guest-$(run_name flake).log" "$CACHE/guest-flake-$name.log"
	echo $reset >"$CACHE/guest-flake-$name.reset"
	# Which emulator ran it: the rates depend on it.
	qemu_label >"$CACHE/guest-flake-$name.qemu"
}
# The boots: NAME, then the settings of scripts/guest.sh for it. "npt" is
# the test stages' setting before shadow paging (kvm_amd.npt=0) became
# their default; "shadow" is that default.
declare -A boot_env=(
	[patched-npt]="GUEST_TCG=thread=multi GUEST_APPEND=kvm_amd.npt=1"
	[unpatched-npt]="GUEST_TCG=thread=multi GUEST_APPEND=kvm_amd.npt=1 GUEST_KBUILD=$BASELINE_DIR"
	[patched-shadow]="GUEST_TCG=thread=multi GUEST_APPEND=kvm_amd.npt=0"
	[unpatched-shadow]="GUEST_TCG=thread=multi GUEST_APPEND=kvm_amd.npt=0 GUEST_KBUILD=$BASELINE_DIR"
	[patched-single]="GUEST_TCG=thread=single GUEST_APPEND=kvm_amd.npt=1"
	[unpatched-single]="GUEST_TCG=thread=single GUEST_APPEND=kvm_amd.npt=1 GUEST_KBUILD=$BASELINE_DIR"
)
boots=(patched-npt unpatched-npt patched-shadow unpatched-shadow patched-single unpatched-single)
# VB_FLAKE_BOOTS chooses the boots to run (default: all); the others keep
# the logs of their last run. VB_FLAKE_REPORT_ONLY=1 runs none.
run_boots=${VB_FLAKE_BOOTS:-${boots[*]}}
[ "${VB_FLAKE_REPORT_ONLY:-}" = 1 ] && run_boots=
for name in "${boots[@]}"; do
	case " $run_boots " in *" $name "*) continue ;; esac
	[ -f "$CACHE/guest-flake-$name.log" ] || die "no log of boot $name: run it (VB_FLAKE_BOOTS=$name)"
done
for name in $run_boots; do
	[ -n "${boot_env[$name]:-}" ] || die "no boot $name (boots: ${boots[*]})"
done
# The kernel without the series, only when a boot of it runs.
case " $run_boots " in *" unpatched-"*) "$PROJECT_ROOT/scripts/baseline.sh" ;; esac
for name in $run_boots; do
	# The settings are words ($BUILD has no blanks: scripts/lib.sh).
	# shellcheck disable=SC2086
	flake_boot "$name" ${boot_env[$name]}
done
declare -A resets emulators
for name in "${boots[@]}"; do
	[ -f "$CACHE/guest-flake-$name.log" ] || die "no log of boot $name: run make flake-rates"
	resets[$name]=$(cat "$CACHE/guest-flake-$name.reset" 2>/dev/null || echo '?')
	emulators[$name]=$(cat "$CACHE/guest-flake-$name.qemu" 2>/dev/null || echo 'not recorded')
done

{
	echo "## Nested-guest shutdowns under QEMU's TCG"
	echo
	echo "Written by \`make flake-rates\` ($(date -u +%Y-%m-%d)); the QEMU of each boot is in the table," \
		"\`-cpu ${GUEST_CPU:-max}\`, 2 CPUs; the configurations interleaved in one boot per kernel and setting"
	echo "(\`npt\`: one host thread per CPU, QEMU's default, with KVM's nested paging; \`shadow\`: the same with"
	echo "shadow paging, \`kvm_amd.npt=0\`, what the test stages use; \`single\`: nested paging and \`-accel tcg,thread=single\`)."
	echo "A shutdown is a run that ended in \`KVM_EXIT_SHUTDOWN\`. Configurations: \`spin\` is"
	echo "\`vcpu_boost_spin_test -v 4 -n 1000\` with \`kvm_amd.test_pause_exits=1\` (every PAUSE exits) and"
	echo "every feature on (\`-on\`), off with strategy \`mainline\` (\`-off\`), or on the kernel"
	echo "without the series (\`-mainline\`); \`spin-nopause\` without PAUSE exits; \`ipi\` is"
	echo "\`vcpu_boost_ipi_test -v 3 -n 1000\` (no PAUSE exits); \`lock\` is \`vcpu_boost_lock_test -v 4 -n 1000 -m\`"
	echo "(\`-on\`, \`-off\`, \`-mainline\` as for \`spin\`). *Other failures* include KVM internal errors"
	echo "(\`exited, reason 17\`, listed below with their suberror and data)."
	echo
	echo "| kernel, setting | configuration | shutdowns | runs | other failures | test kernel reset | QEMU |"
	echo "|---|---|---|---|---|---|---|"
	for name in "${boots[@]}"; do
		sed -n 's/^VB-FLAKE \([^ ]*\) shutdowns=\([0-9]*\) runs=\([0-9]*\) failures=\([0-9]*\)$/\1 \2 \3 \4/p' \
			"$CACHE/guest-flake-$name.log" | while read -r c s n f; do
			echo "| $name | $c | $s | $n | $((f - s)) | ${resets[$name]} | ${emulators[$name]} |"
		done
		[ "${resets[$name]}" = 0 ] || echo "| $name | (boot reset before the end) | | | | 1 | ${emulators[$name]} |"
	done
	echo
	echo "Every failed run, with the guest's state at each shutdown (printed by the"
	echo "test-only patch \`patches/test/0002\`) or the assertion that failed:"
	echo
	echo '```'
	for name in "${boots[@]}"; do
		{ grep -E '^VB-FLAKE-RUN .*rc=[1-9]|vb-shutdown:|^ +[^ ].* != |exited, reason [0-9]+,' "$CACHE/guest-flake-$name.log" || true; } |
			sed -e "s/^/$name: /" -e 's/kvm_amd: //'
	done
	echo '```'
} | python3 "$PROJECT_ROOT/scripts/report_section.py" flake-rates "$REPORT"
log "flake-rates: the flake-rates section of $REPORT"
