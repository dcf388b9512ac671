#!/usr/bin/env bash
# make flake-rates: how often nested guests shut down (triple fault) under
# QEMU's TCG, on the test kernel and on the same 7.3.4 without the series
# (scripts/baseline.sh), VB_FLAKE_RUNS runs (default 20) of each
# configuration in one boot per kernel (scripts/guest/flake.sh), and how
# many boots the test kernel itself reset. Writes bench/FLAKE-RATES.md.
# GUEST_CPU chooses QEMU's CPU model (default max), VB_FLAKE_CONFIGS the
# configurations, VB_FLAKE_TRACE=1 adds the dying vCPU's last KVM events.
. "$(dirname "$0")/lib.sh"

export VB_FLAKE_RUNS=${VB_FLAKE_RUNS:-20}
OUT=$PROJECT_ROOT/bench/FLAKE-RATES.md
"$PROJECT_ROOT/scripts/baseline.sh"

# flake_boot NAME [VAR=VALUE...]: one boot in flake mode; a boot that ends
# without the stage's end (a reset) is counted, not repeated.
declare -A resets
flake_boot() {
	local name=$1
	shift
	log "flake-rates: $name"
	if env "$@" GUEST_NO_RETRY=1 "$PROJECT_ROOT/scripts/guest.sh" flake; then
		resets[$name]=0
	else
		resets[$name]=1
	fi
	cp "$CACHE/guest-flake.log" "$CACHE/guest-flake-$name.log"
}
flake_boot patched
flake_boot unpatched GUEST_KBUILD="$BUILD/baseline"

{
	echo "# Nested-guest shutdowns under QEMU's TCG"
	echo
	echo "Written by \`make flake-rates\` ($(date -u +%Y-%m-%d)): QEMU $(/usr/bin/qemu-system-x86_64 --version | head -n1 | awk '{print $4}')," \
		"\`-cpu ${GUEST_CPU:-max}\`, 2 CPUs; $VB_FLAKE_RUNS runs of each configuration, interleaved, in one boot per kernel."
	echo "A shutdown is a run that ended in \`KVM_EXIT_SHUTDOWN\`. Configurations: \`spin\` is"
	echo "\`vcpu_boost_spin_test -v 4 -n 1000\` with \`kvm_amd.test_pause_exits=1\` (every PAUSE exits) and"
	echo "every feature on (\`-on\`), off with strategy \`mainline\` (\`-off\`), or on the kernel"
	echo "without the series (\`-mainline\`); \`spin-nopause\` without PAUSE exits; \`ipi\` is"
	echo "\`vcpu_boost_ipi_test -v 3 -n 1000\` (no PAUSE exits)."
	echo
	echo "| kernel | configuration | shutdowns | runs | other failures | test kernel reset |"
	echo "|---|---|---|---|---|---|"
	for name in patched unpatched; do
		sed -n 's/^VB-FLAKE \([^ ]*\) shutdowns=\([0-9]*\) runs=\([0-9]*\) failures=\([0-9]*\)$/\1 \2 \3 \4/p' \
			"$CACHE/guest-flake-$name.log" | while read -r c s n f; do
			echo "| $name | $c | $s | $n | $((f - s)) | ${resets[$name]} |"
		done
		[ "${resets[$name]}" = 0 ] || echo "| $name | (boot reset before the end) | | | | 1 |"
	done
	echo
	echo "The guest's state at each shutdown (printed by the test-only patch"
	echo "\`patches/test/0002\`):"
	echo
	echo '```'
	for name in patched unpatched; do
		grep -E '^VB-FLAKE-RUN .*shutdown=1|vb-shutdown:' "$CACHE/guest-flake-$name.log" |
			sed -e "s/^/$name: /" -e 's/kvm_amd: //'
	done
	echo '```'
} >"$OUT"
log "flake-rates: $OUT"
cat "$OUT"
