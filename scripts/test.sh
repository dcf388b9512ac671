#!/usr/bin/env bash
# The test command: sets up what is missing, builds the patched test kernel,
# runs our KUnit suites under QEMU, then boots the kernel with a KVM guest
# stage. Prints one summary line, "N passed, N failed", and exits non-zero
# on any failure, or when a stage did not run.
#   scripts/test.sh          our suites and the guest stage
#   scripts/test.sh --all    every KUnit suite built into the test kernel too
. "$(dirname "$0")/lib.sh"

kunit_args=()
[ "${1:-}" = --all ] && kunit_args=(--all)

passed=0 failed=0 skipped=0
summary() {
	echo
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ] || exit 1
	exit 0
}
stage_failed() {
	printf 'FAILED: %s\n' "$*" >&2
	failed=$((failed + 1))
	summary
}

"$PROJECT_ROOT/scripts/setup.sh" || stage_failed "setup (packages, bindgen or kernel source)"
"$PROJECT_ROOT/scripts/sync-tree.sh" || stage_failed "overlay and patches"
"$PROJECT_ROOT/scripts/kunit.sh" build || stage_failed "kernel build"

# Style: rustfmt (rustfmt_check in lib.sh).
log "rustfmt"
if ! command -v rustfmt >/dev/null; then
	echo "SKIPPED: rustfmt (no rustfmt on PATH)"
	skipped=$((skipped + 1))
elif rustfmt_check; then
	passed=$((passed + 1))
else
	echo "FAILED: rustfmt: the files above are not formatted (run rustfmt on them)" >&2
	failed=$((failed + 1))
fi

log "KUnit"
kunit_log=$CACHE/kunit.log
"$PROJECT_ROOT/scripts/kunit.sh" run "${kunit_args[@]}" 2>&1 | tee "$kunit_log" || true
line=$(grep -E 'Ran [0-9]+ tests?' "$kunit_log" | tail -n1 || true)
num() { echo "$line" | grep -oE "$1: [0-9]+" | grep -oE '[0-9]+' || echo 0; }
kpass=$(num passed)
kfail=$(($(num failed) + $(num crashed)))
kskip=$(num skipped)
if [ -z "$line" ] || [ $((kpass + kfail)) -eq 0 ]; then
	echo "FAILED: KUnit ran no test" >&2
	kfail=$((kfail + 1))
fi
passed=$((passed + kpass)) failed=$((failed + kfail)) skipped=$((skipped + kskip))
# Our suites' console: no report from the kernel's checkers (with --all,
# other suites may provoke warnings on purpose).
if [ ${#kunit_args[@]} -eq 0 ]; then
	splat_re=$(sed -n "s/^SPLAT_RE='\(.*\)'$/\1/p" "$PROJECT_ROOT/scripts/guest/lib.sh")
	if splats=$(grep -E "$splat_re" "$KBUILD_DIR/test.log" 2>/dev/null); then
		echo "$splats" | head -n 20 >&2
		echo "FAILED: KUnit: a checker report in the kernel log ($KBUILD_DIR/test.log)" >&2
		failed=$((failed + 1))
	else
		passed=$((passed + 1))
	fi
fi

log "guest stage"
guest_log=$CACHE/guest-$(run_name test).log
rm -f "$guest_log"
if ! "$PROJECT_ROOT/scripts/guest.sh" test; then
	echo "FAILED: the guest stage did not complete" >&2
	failed=$((failed + 1))
fi
gpass=$(grep -c '^VB-RESULT PASS' "$guest_log" 2>/dev/null || true)
gfail=$(grep -c '^VB-RESULT FAIL' "$guest_log" 2>/dev/null || true)
if [ $((gpass + gfail)) -eq 0 ]; then
	echo "FAILED: the guest stage reported no result" >&2
	gfail=$((gfail + 1))
fi
grep '^VB-RESULT FAIL' "$guest_log" 2>/dev/null >&2 || true
passed=$((passed + gpass)) failed=$((failed + gfail))
summary
