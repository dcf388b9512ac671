# shellcheck shell=bash
# Common settings for every script under scripts/. Sourced, never run.
#
# One cache directory holds everything that is downloaded or built: the
# private apt state, the pinned kernel source, bindgen, ccache, the kernel
# build outputs and the initramfs. Override it with VCPU_BOOST_CACHE.

set -euo pipefail

PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${VCPU_BOOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vcpu-boost}

# The pinned kernel source: Debian's linux-source-7.3 from trixie-backports.
KSRC_PKG=linux-source-7.3
KSRC_VERSION=7.3.4-1~bpo13+1
KSRC_SHA256=703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3
KSRC_SUITE=trixie-backports

PRISTINE=$CACHE/src/linux-$KSRC_VERSION        # extracted, never modified
TREE=$CACHE/tree                               # pristine + overlay + patches
BUILD=$CACHE/build                             # O= output directories
# The test kernel's flavour, each in its own build directory: kunit
# (tests/kunit/kunitconfig); debug (the same plus tests/kunit/debug.config:
# lockdep, RCU and other checkers); kasan (debug plus kasan.config: KASAN
# and UBSAN, built with clang, which KASAN needs with Rust); kcsan (debug
# plus kcsan.config; KCSAN excludes KASAN); cost (kunit plus cost.config:
# jump labels, for make bench's counted boots).
VB_FLAVOR=${VB_FLAVOR:-kunit}
case "$VB_FLAVOR" in
kunit | debug | kcsan | cost) KCC=("CC=ccache gcc") ;;
kasan) KCC=(LLVM=-19 "CC=ccache clang-19") ;;
*) echo "error: VB_FLAVOR must be kunit, debug, kasan, kcsan or cost" >&2; exit 1 ;;
esac
KBUILD_DIR=$BUILD/$VB_FLAVOR
# baseline_dir FLAVOUR: where scripts/baseline.sh builds the kernel without
# the series from that flavour's configuration.
baseline_dir() { if [ "$1" = kunit ]; then echo "$BUILD/baseline"; else echo "$BUILD/baseline-$1"; fi; }
BASELINE_DIR=$(baseline_dir "$VB_FLAVOR")
# run_name MODE: the name of a boot's files in the cache (its initramfs,
# guest-NAME.log, qemu-NAME.log): the mode, and the flavour unless kunit,
# so that boots of different modes or flavours can run side by side.
run_name() { if [ "$VB_FLAVOR" = kunit ]; then echo "$1"; else echo "$1-$VB_FLAVOR"; fi; }
# The test kernel's command line for this flavour. KASAN: 4-level paging.
# With 5-level paging (QEMU's max CPU has LA57) identify_cpu() zeroes the
# boot CPU's capability bits, LA57 among them, with interrupts enabled, and
# an interrupt in that window sees pgtable_l5_enabled() false: KASAN then
# takes the irq_desc it locks, a 5-level direct-map address, for a wild
# access (a false report, 7.3.4's own, with or without the series).
FLAVOR_ARGS=
[ "$VB_FLAVOR" = kasan ] && FLAVOR_ARGS=no5lvl
TOOLS=$CACHE/tools                             # bindgen and other host tools
# The emulator of the test kernel: Debian's QEMU 7.2 rebuilt with the fixes
# in tests/qemu/ (scripts/qemu.sh).
QEMU_DIR=$CACHE/qemu
QEMU=$QEMU_DIR/bin/qemu-system-x86_64
# The cap on each emulated CPU's turn under instruction counting
# (tests/qemu/0006) where a run measures across CPUs: make bench's kvm and
# filter parts, make dy-cost and make dy-trace's capped boot.
ICOUNT_TURN=${VB_ICOUNT_TURN:-10000}
qemu_version() { "$QEMU" --version | head -n1 | awk '{print $4}'; }
# qemu_label: which emulator $QEMU is, for a report: its version, and
# whether it is the one scripts/qemu.sh built with tests/qemu/ (and which).
qemu_label() {
	case $QEMU in
	"$QEMU_DIR"/*) echo "$(qemu_version) + tests/qemu/ ($(cat "$QEMU_DIR/stamp"))" ;;
	*) echo "$(qemu_version) ($QEMU)" ;;
	esac
}
export CCACHE_DIR=$CACHE/ccache

# The Debian rustc that ships its std source; rustup's rustc does not.
RUSTC=/usr/bin/rustc
RUSTDOC=/usr/bin/rustdoc
CLIPPY_DRIVER=/usr/bin/clippy-driver
BINDGEN=$TOOLS/bin/bindgen
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
# The test kernel also gets the test-only series (patches/test/); set
# TEST_PATCHES= (empty) to build the product series alone.
export TEST_PATCHES=${TEST_PATCHES-1}

JOBS=${JOBS:-$(nproc)}

# Project path -> kernel tree path.
overlay_map() {
	local d
	for d in kernel virt arch include rust tools; do
		[ -d "$PROJECT_ROOT/$d" ] || continue
		(cd "$PROJECT_ROOT" && find "$d" -type f -not -name '*~') | while read -r f; do echo "$f $f"; done
	done
	echo "Kconfig kernel/Kconfig.vcpu_boost"
	# The design documents join the series; the testing notes stay here.
	for d in Documentation/scheduler/sched-vcpu-yield.rst Documentation/virt/kvm/x86/ipi-aware-yield.rst; do
		echo "$d $d"
	done
	(cd "$PROJECT_ROOT/tests/kunit" && find . -type f \( -name '*.c' -o -name '*.h' -o -name Makefile \)) |
		while read -r f; do echo "tests/kunit/${f#./} kernel/vcpu_boost_test/${f#./}"; done
	(cd "$PROJECT_ROOT/tests/bench" && find . -type f \( -name '*.c' -o -name Makefile \)) |
		while read -r f; do echo "tests/bench/${f#./} kernel/vcpu_boost_bench/${f#./}"; done
}

# Author and sign-off of the patches until a person takes them over: a
# placeholder the user replaces (scripts/patches.sh, scripts/series.sh).
PATCH_AUTHOR_NAME="Your Name"
PATCH_AUTHOR_EMAIL=you@example.org

# rustfmt_check: every Rust file of the project as the kernel's rustfmt
# settings format it (what `make rustfmtcheck` does in a kernel tree).
rustfmt_check() {
	(cd "$PROJECT_ROOT" && git ls-files '*.rs' | xargs rustfmt --check --edition 2021 \
		--config-path "$TREE/.rustfmt.toml")
}

# ensure_matplotlib: the plotting library of the report scripts, into
# $PYLIB the first time.
PYLIB=$CACHE/pylib
ensure_matplotlib() {
	PYTHONPATH=$PYLIB python3 -c 'import matplotlib' 2>/dev/null && return
	log "matplotlib: pip install into $PYLIB"
	python3 -m pip install -q --target "$PYLIB" matplotlib || die "pip install matplotlib failed"
}

# count_results LOG EXPECTED: the VB-RESULT lines of a stage's LOG; prints
# the failures and the summary line, "N passed, N failed", counting a stage
# that did not complete ($stage_failed=1) and a wrong number of results as
# failures too. Returns whether all passed.
count_results() {
	local passed fails failed=${stage_failed:-0}
	passed=$(grep -c '^VB-RESULT PASS' "$1" 2>/dev/null || true)
	fails=$(grep -c '^VB-RESULT FAIL' "$1" 2>/dev/null || true)
	failed=$((failed + ${fails:-0}))
	if [ $((${passed:-0} + ${fails:-0})) -ne "$2" ]; then
		echo "FAILED: the stage reported $((${passed:-0} + ${fails:-0})) results, not $2" >&2
		failed=$((failed + 1))
	fi
	grep '^VB-RESULT FAIL' "$1" >&2 || true
	echo
	echo "${passed:-0} passed, $failed failed"
	[ "$failed" -eq 0 ]
}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Kernel make with the toolchain on the command line (the kernel's Makefile
# assigns RUSTC itself, so the environment is not enough).
kmake() {
	local out=$1; shift
	make -C "$TREE" O="$out" ARCH=x86_64 -j"$JOBS" "${KCC[@]}" \
		RUSTC="$RUSTC" HOSTRUSTC="$RUSTC" RUSTDOC="$RUSTDOC" \
		BINDGEN="$BINDGEN" "$@"
}

# Builds the kernel in $1 with its output in a log file, printing a progress
# line every 30 s; on failure, prints the errors and names the log.
build_kernel() {
	local out=$1 log=$1/build.log pid rc=0 t=0
	shift
	kmake "$out" "$@" >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		t=$((t + 5))
		if [ $((t % 30)) -eq 0 ]; then
			printf '    %3d s: %s\n' "$t" "$(grep -cE '^\s+(CC|RUSTC|LD|AR)\b' "$log") objects, last: $(tail -n1 "$log" | cut -c1-70)" >&2
		fi
	done
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ]; then
		grep -E -B2 -A12 '(error|Error)(\[E[0-9]+\])?:|\*\*\*' "$log" | head -n 80 >&2 || tail -n 40 "$log" >&2
		die "kernel build failed in $out (full log: $log)"
	fi
}
