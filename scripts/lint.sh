#!/usr/bin/env bash
# make lint: every static check, each of which must be clean.
#   1. rustfmt on every Rust file of the project (the kernel's settings);
#   2. checkpatch.pl --strict on every patch of the series as
#      scripts/series.sh exports it (new files included);
#   3. a rebuild of the directories that hold our code with W=1 and the
#      kernel's CLIPPY=1: clippy and rustc's doc lints on the Rust objects,
#      and W=1 warnings on the lines the series adds to C files.
# Needs a built test kernel (make build). Rebuilding those directories with
# other flags takes a few minutes, and the next make build rebuilds them back.
. "$(dirname "$0")/lib.sh"

failed=()
finding() { failed+=("$1"); printf 'FAILED: %s\n' "$1" >&2; }

log "lint: rustfmt"
rustfmt_check || finding "rustfmt"

log "lint: checkpatch.pl --strict on the exported series"
"$PROJECT_ROOT/scripts/series.sh" export
out=$CACHE/series/out
for p in "$out"/*.patch; do
	# Patch 1 adds the MAINTAINERS entry for every file the series adds;
	# checkpatch asks on each patch that adds a file all the same.
	ignore=FILE_PATH_CHANGES
	# TRACE_EVENT()'s layout (a macro argument list per line, each opened
	# at the end of a line) is the kernel's own style for trace events,
	# which these two checks do not know; so is an enum's name table
	# (EM()/EMe() expanded once to TRACE_DEFINE_ENUM() statements and once
	# to __print_symbolic() pairs, as in include/trace/events/sched.h),
	# which the macro checks take for badly formed macros.
	grep -qE '^\+\+\+ b/(include/trace/|arch/x86/kvm/trace\.h)' "$p" &&
		ignore+=,OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT,COMPLEX_MACRO,MACRO_ARG_UNUSED,TRAILING_SEMICOLON,CAMELCASE
	# `source "kernel/Kconfig.vcpu_boost"` in the top-level Kconfig names
	# a file, which this check takes for the file's own name.
	grep -qE '^\+\+\+ b/Kconfig$' "$p" && ignore+=,EMBEDDED_FILENAME
	res=$(cd "$PRISTINE" && perl scripts/checkpatch.pl --strict --no-tree -q --ignore="$ignore" "$p" 2>&1) ||
		{ echo "$res" >&2; finding "checkpatch: $(basename "$p")"; }
done

log "lint: W=1 and CLIPPY=1 rebuild of the directories with our code"
obj=$BUILD/kunit
[ -f "$obj/vmlinux" ] || die "no test kernel in $obj: run make build first"
dirs=(kernel/sched/ arch/x86/kvm/ kernel/vcpu_boost_test/ kernel/vcpu_boost_bench/)
lintlog=$obj/lint.log
kmake "$obj" W=1 CLIPPY=1 CLIPPY_DRIVER="$CLIPPY_DRIVER" "${dirs[@]}" >"$lintlog" 2>&1 ||
	{ tail -n 40 "$lintlog" >&2; finding "W=1/CLIPPY=1 build (log: $lintlog)"; }

# Rust: any warning in a Rust file of ours.
rs=$(grep -E -A6 '^(warning|error)' "$lintlog" | grep -E -- '--> .*(kernel/sched/vcpu_debooster|arch/x86/kvm/ipi_yield)/[a-z_]+\.rs' || true)
[ -z "$rs" ] || { grep -E -B2 -A12 '^(warning|error)' "$lintlog" | head -n 60 >&2; finding "clippy/rustc warnings in our Rust files"; }

# C: W=1 warnings on lines the series adds (the rest is upstream's).
added=$(git -C "$CACHE/series/linux" diff -U0 base..export -- '*.c' '*.h' |
	awk '/^\+\+\+ b\//{ f = substr($2, 3) } /^@@/{ split($3, a, ","); s = substr(a[1], 2); n = (a[2] == "" ? 1 : a[2]); for (i = 0; i < n; i++) print f ":" s + i }')
c=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$lintlog" | while IFS=: read -r f l _; do
	f=${f#"$TREE"/}
	f=${f#../}
	grep -qxF "$f:$l" <<<"$added" && grep -E "^([^ ]*/)?$f:$l:" "$lintlog"
done || true)
[ -z "$c" ] || { echo "$c" >&2; finding "W=1 warnings on lines the series adds"; }

if [ ${#failed[@]} -gt 0 ]; then
	die "lint: ${#failed[@]} finding(s): ${failed[*]}"
fi
log "lint: clean (rustfmt, checkpatch --strict on $(ls "$out" | wc -l) patches, W=1 and clippy)"
