#!/usr/bin/env bash
# Builds the unpatched kernel that make bench compares against: the pinned
# 7.3.4 source without the series, with the test kernel's configuration
# (minus the series' symbols, which this source does not know) and the same
# compilers. It carries only what the benchmark itself needs: the test-only
# patches (patches/test/: PAUSE exits under TCG) and the benchmark module of
# tests/bench/, built in unconditionally. Test patches that change the
# series' own code (patches/test/series-only) are left out.
#   tree   $CACHE/baseline/tree     build   $BASELINE_DIR ($BUILD/baseline,
#   or $BUILD/baseline-VB_FLAVOR for a flavour other than kunit)
. "$(dirname "$0")/lib.sh"

[ -f "$PRISTINE/Makefile" ] || die "no kernel source at $PRISTINE: run scripts/setup.sh"
[ -f "$KBUILD_DIR/.config" ] || die "no test kernel configuration in $KBUILD_DIR: run make build"

TREE=$CACHE/baseline/tree
OUT=$BASELINE_DIR

# The tree is remade whenever what goes into it changes.
stamp=$( (echo "$KSRC_VERSION"; cat "$PROJECT_ROOT"/patches/test/*.patch \
	"$PROJECT_ROOT"/patches/test/series "$PROJECT_ROOT"/patches/test/series-only \
	"$PROJECT_ROOT"/tests/bench/vcpu_boost_bench.c) | sha256sum | cut -c1-16)
if [ "$(cat "$TREE/.vcpu-boost-baseline" 2>/dev/null || true)" != "$stamp" ]; then
	log "baseline: the unpatched source in $TREE"
	if [ ! -f "$TREE/.vcpu-boost-pristine" ]; then
		rm -rf "$TREE"
		mkdir -p "$(dirname "$TREE")"
		cp -a "$PRISTINE" "$TREE"
		touch "$TREE/.vcpu-boost-pristine"
	fi
	# Back to pristine for the files this script changes (those a test
	# patch adds: gone), then change them.
	for p in "$PROJECT_ROOT"/patches/test/*.patch; do
		for f in $(sed -n 's|^+++ b/||p' "$p"); do
			if [ -e "$PRISTINE/$f" ]; then cp "$PRISTINE/$f" "$TREE/$f"; else rm -f "$TREE/$f"; fi
		done
	done
	cp "$PRISTINE/kernel/Makefile" "$TREE/kernel/Makefile"
	grep -vE '^\s*(#|$)' "$PROJECT_ROOT/patches/test/series" | while read -r p; do
		grep -qxF "$p" "$PROJECT_ROOT/patches/test/series-only" && continue
		patch -p1 -F0 -N --batch --no-backup-if-mismatch -d "$TREE" \
			-i "$PROJECT_ROOT/patches/test/$p" >/dev/null ||
			die "baseline: patches/test/$p does not apply to the pristine source"
	done
	mkdir -p "$TREE/kernel/vcpu_boost_bench"
	cp "$PROJECT_ROOT/tests/bench/vcpu_boost_bench.c" "$TREE/kernel/vcpu_boost_bench/"
	echo 'obj-y += vcpu_boost_bench.o' >"$TREE/kernel/vcpu_boost_bench/Makefile"
	echo 'obj-y += vcpu_boost_bench/' >>"$TREE/kernel/Makefile"
	echo "$stamp" >"$TREE/.vcpu-boost-baseline"
fi

mkdir -p "$OUT"
# Configured again only when the test kernel's configuration changed.
if ! cmp -s "$KBUILD_DIR/.config" "$OUT/.config.test"; then
	cp "$KBUILD_DIR/.config" "$OUT/.config"
	kmake "$OUT" olddefconfig >/dev/null
	cp "$KBUILD_DIR/.config" "$OUT/.config.test"
fi
if grep -qE '^CONFIG_(SCHED_VCPU_DEBOOSTER|KVM_IPI_AWARE_YIELD)=' "$OUT/.config"; then
	die "baseline: the unpatched configuration still has the series' symbols"
fi
log "baseline: kernel build in $OUT (-j$JOBS; about 15 minutes cold)"
build_kernel "$OUT"
