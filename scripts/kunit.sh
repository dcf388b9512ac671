#!/usr/bin/env bash
# Builds the test kernel with kunit.py and runs our KUnit suites under QEMU
# (TCG only). Usage: scripts/kunit.sh build | run [--all]
#   build       configure and build the test kernel ($BUILD/kunit)
#   run         run our suites (vcpu_boost_*)
#   run --all   run every suite built into the test kernel
. "$(dirname "$0")/lib.sh"

KUNIT_BUILD=$KBUILD_DIR
kunit() {
	VB_QEMU=$QEMU PATH="$PROJECT_ROOT/scripts/qemu-tcg:$PATH" python3 "$TREE/tools/testing/kunit/kunit.py" "$@"
}
common=(--build_dir="$KUNIT_BUILD" --arch=x86_64)

case "${1:-run}" in
build)
	mkdir -p "$KUNIT_BUILD"
	configs=(--kunitconfig="$PROJECT_ROOT/tests/kunit/kunitconfig")
	case "$VB_FLAVOR" in debug | kasan | kcsan) configs+=(--kunitconfig="$PROJECT_ROOT/tests/kunit/debug.config") ;; esac
	case "$VB_FLAVOR" in kasan | kcsan | cost) configs+=(--kunitconfig="$PROJECT_ROOT/tests/kunit/$VB_FLAVOR.config") ;; esac
	cc_opts=()
	for o in "${KCC[@]}"; do cc_opts+=(--make_options "$o"); done
	kunit config "${common[@]}" "${configs[@]}" "${cc_opts[@]}" \
		--make_options "RUSTC=$RUSTC" --make_options "HOSTRUSTC=$RUSTC" \
		--make_options "RUSTDOC=$RUSTDOC" --make_options "BINDGEN=$BINDGEN"
	log "kernel build: $KUNIT_BUILD (-j$JOBS; about 14 minutes cold on 2 cores, seconds when little changed)"
	build_kernel "$KUNIT_BUILD"
	;;
run)
	filter='vcpu_boost*'
	[ "${2:-}" = --all ] && filter=
	kunit exec "${common[@]}" --timeout=900 ${FLAVOR_ARGS:+--kernel_args="$FLAVOR_ARGS"} ${filter:+"$filter"}
	;;
*)
	die "usage: $0 build | run [--all]"
	;;
esac
