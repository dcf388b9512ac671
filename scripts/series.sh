#!/usr/bin/env bash
# The patch set as a git series for review, against the pristine pinned tree.
#   scripts/series.sh export [DIR]   write it with git format-patch to DIR
#                                    (default: $CACHE/series/out): every patch
#                                    of patches/series, with the project files
#                                    patches/new-files assigns to it folded in
#   scripts/series.sh check [--last] export, prove that git am applies the
#                                    series to a pristine tree, and build every
#                                    prefix of it (--last: only the whole series)
#                                    with the test kernel's .config, then the
#                                    whole series with each part compiled out
#                                    and with both (nothing of a part left in
#                                    vmlinux), with KUnit but without the
#                                    series' test option (none of its KUnit
#                                    tests left), then the series' KVM selftests;
#                                    a compiler warning about one of the
#                                    series' own files (not the hooks in
#                                    mainline's files) fails any of these
#                                    builds
# The test-only series (patches/test/) is not part of it.
. "$(dirname "$0")/lib.sh"

REPO=$CACHE/series/linux
OUT_DEFAULT=$CACHE/series/out
NEW_FILES=$PROJECT_ROOT/patches/new-files

git_r() {
	git -C "$REPO" -c user.name="$PATCH_AUTHOR_NAME" -c user.email="$PATCH_AUTHOR_EMAIL" \
		-c core.autocrlf=false "$@"
}

# build_clean WHAT: builds $obj, then fails if the compilers warned about
# one of the series' own files, its Rust crates, headers and C tests (WHAT
# says which build; not the hooks in mainline's files): a distribution that
# carries it with either part or the test option off must see no warning
# either.
build_clean() {
	build_kernel "$obj" || die "the series does not build $1"
	local hits
	hits=$(grep -E '(vcpu_debooster|ipi_yield|vcpu_boost)[A-Za-z0-9_/.-]*\.(rs|c|h):[0-9]+' "$obj/build.log" || true)
	[ -z "$hits" ] || die "the series builds with warnings $1 ($obj/build.log): $(echo "$hits" | head -n 3)"
}

# build_with "CONFIG_X=y CONFIG_Y=n ...": the whole series in $obj with the
# test kernel's .config changed so, each option checked to survive
# olddefconfig, then build_clean.
build_with() {
	local opt name act
	cp "$BUILD/kunit/.config" "$obj/.config"
	for opt in $1; do
		name=${opt%=*}
		act=--disable
		[ "${opt#*=}" = y ] && act=--enable
		"$REPO/scripts/config" --file "$obj/.config" "$act" "${name#CONFIG_}"
	done
	kmake "$obj" olddefconfig >/dev/null
	for opt in $1; do
		case $opt in
		*=y) grep -qx "$opt" "$obj/.config" ;;
		*) ! grep -q "^${opt%=n}=" "$obj/.config" ;;
		esac || die "olddefconfig did not keep $opt"
	done
	log "series: building the whole series with $1"
	build_clean "with $1"
}

# A git repository of the pristine source, made once (a few minutes).
pristine_repo() {
	[ -f "$PRISTINE/Makefile" ] || die "no kernel source: run scripts/setup.sh"
	if [ "$(git_r rev-parse -q --verify refs/tags/base 2>/dev/null || true)" = "" ]; then
		log "series: a git repository of the pristine source in $REPO (a few minutes, once)"
		rm -rf "$REPO" && mkdir -p "$(dirname "$REPO")"
		cp -a "$PRISTINE" "$REPO"
		git_r init -q
		# Debian's source package ignores every top-level entry in its
		# .gitignore: add by force.
		git_r add -A -f
		git_r commit -qm "$KSRC_PKG $KSRC_VERSION"
		git_r tag base
	fi
	git_r checkout -qf --detach base
	git_r clean -qfdx
}

# Checks that every project file that lands in the tree is assigned to
# exactly one patch of the series; prints "<tree path> <project path> <patch>".
assignments() {
	local from to patch n
	while read -r from to; do
		n=$(awk -v f="$from" '$1 == f' "$NEW_FILES" | wc -l)
		[ "$n" -eq 1 ] || die "patches/new-files: $from is assigned $n times (once is right)"
		patch=$(awk -v f="$from" '$1 == f { print $2 }' "$NEW_FILES")
		grep -qxF "$patch" "$PROJECT_ROOT/patches/series" ||
			die "patches/new-files: $patch (for $from) is not in patches/series"
		echo "$to $from $patch"
	done < <(overlay_map)
	awk '!/^#/ && NF { print $1 }' "$NEW_FILES" | while read -r from; do
		overlay_map | awk -v f="$from" '$1 == f { found = 1 } END { exit !found }' ||
			die "patches/new-files: $from is not a project file that lands in the tree"
	done
}

export_series() {
	local out=$1 map p to from patch
	map=$(assignments)
	pristine_repo
	git_r checkout -qf -B export base
	while read -r p; do
		git_r am -q --keep-cr "$PROJECT_ROOT/patches/$p" || { git_r am --abort; die "git am failed on $p"; }
		while read -r to from patch; do
			[ "$patch" = "$p" ] || continue
			mkdir -p "$REPO/$(dirname "$to")"
			cp "$PROJECT_ROOT/$from" "$REPO/$to"
			git_r add -f "$to"
		done <<<"$map"
		git_r diff --cached --quiet || git_r commit -q --amend --no-edit
	done < <(grep -vE '^\s*(#|$)' "$PROJECT_ROOT/patches/series")
	rm -rf "$out" && mkdir -p "$out"
	git_r format-patch -q --no-signature --zero-commit --numbered -o "$out" base..export
	log "series: $(ls "$out" | wc -l) patches in $out"
}

case "${1:-}" in
export)
	export_series "$(realpath -m "${2:-$OUT_DEFAULT}")"
	;;
check)
	out=$OUT_DEFAULT
	export_series "$out"
	git_r checkout -qf -B check base
	git_r am -q "$out"/*.patch || { git_r am --abort; die "the exported series does not apply with git am"; }
	log "series: git am applies all $(ls "$out" | wc -l) patches to $KSRC_PKG $KSRC_VERSION"
	[ -f "$BUILD/kunit/.config" ] || die "no test kernel .config: run scripts/kunit.sh build first"
	obj=$BUILD/series
	mkdir -p "$obj"
	commits=$(git_r rev-list --reverse base..check)
	[ "${2:-}" = --last ] && commits=$(git_r rev-parse check)
	TREE=$REPO
	for c in $commits; do
		git_r checkout -qf "$c"
		subject=$(git_r log -1 --format=%s "$c")
		cp "$BUILD/kunit/.config" "$obj/.config"
		kmake "$obj" olddefconfig >/dev/null
		log "series: building with patches up to: $subject"
		build_clean "after: $subject"
	done
	git_r checkout -qf check
	# The series' KUnit suites, which switch its run-time controls while
	# they run, are built with VCPU_BOOST_KUNIT_TEST only, not with any
	# kernel that has KUnit: their test wrappers are in the whole series'
	# build (or the pattern proves nothing) and gone without the option.
	suites='(ipi_yield|vcpu_debooster).*kunit_rust_wrapper'
	nm "$obj/vmlinux" >"$obj/vmlinux.syms"
	for crate in ipi_yield vcpu_debooster; do
		grep -qE "$crate.*kunit_rust_wrapper" "$obj/vmlinux.syms" ||
			die "no KUnit test of $crate matched in the series' build: fix the pattern"
	done
	# The whole series with each part compiled out, and with both: a
	# distribution may carry it with either off. A part compiled out may
	# leave nothing in vmlinux: no symbol of its Rust code (crate names in
	# the mangled ones), its hooks, parameters or tracepoints. In the same
	# build directory, so that only what the options touch rebuilds.
	sched_syms='vcpu_deboost|sched_vcpu_|yield_task_fair_boost'
	kvm_syms='9ipi_yield|kvm_dy_|kvm_ipi_|kvm_relaxed_boost|ipi_window_ns|ipi_hold_ns|ipi_tracking_enabled|enable_relaxed_boost|KVM_DY_|KVM_IPI_PATH|kvm_arch_dy_(receiver_first|ipi_outstanding|running|halts|count)'
	for parts in "n y" "y n" "n n"; do
		read -r sched kvm <<<"$parts"
		what="CONFIG_SCHED_VCPU_DEBOOSTER=$sched CONFIG_KVM_IPI_AWARE_YIELD=$kvm"
		build_with "$what"
		nm "$obj/vmlinux" >"$obj/vmlinux.syms"
		for part in "sched $sched $sched_syms" "kvm $kvm $kvm_syms"; do
			read -r pname on syms <<<"$part"
			hits=$(grep -E " [A-Za-z] .*($syms)" "$obj/vmlinux.syms" || true)
			# A part built in must match, or the pattern proves nothing.
			if [ "$on" = y ]; then
				[ -n "$hits" ] || die "with $what, no symbol of the $pname part matched: fix the pattern"
			else
				[ -z "$hits" ] || die "with $what, vmlinux still has $(echo "$hits" | wc -l) symbols of the $pname part: $(echo "$hits" | head -n 3)"
			fi
		done
		# KVM's stats are named in vmlinux; compiled out, none of ours.
		if [ "$kvm" = n ] && grep -aqE 'ipi_tracked|dy_on_spin' "$obj/vmlinux"; then
			die "with $what, vmlinux still names the KVM part's stats"
		fi
	done
	log "series: builds with either part compiled out and with both, leaving none of its symbols or stats"
	what="CONFIG_VCPU_BOOST_KUNIT_TEST=n CONFIG_KUNIT=y"
	build_with "$what"
	nm "$obj/vmlinux" >"$obj/vmlinux.syms"
	hits=$(grep -E "$suites" "$obj/vmlinux.syms" || true)
	[ -z "$hits" ] || die "with $what, vmlinux still has $(echo "$hits" | wc -l) KUnit tests of the series: $(echo "$hits" | head -n 3)"
	log "series: with KUnit but without its test option, none of its KUnit tests is built"
	# The series' own KVM selftests, built from the whole series.
	kmake "$obj" headers_install >/dev/null
	sel=$CACHE/series/selftests
	mkdir -p "$sel"
	progs=$(git_r diff --name-only base..check -- 'tools/testing/selftests/kvm/x86/*.c' |
		sed 's|^tools/testing/selftests/kvm/||; s|\.c$||')
	make -C "$REPO/tools/testing/selftests/kvm" -j"$JOBS" OUTPUT="$sel" CC="ccache gcc" \
		KHDR_INCLUDES="-isystem $obj/usr/include" $(printf "$sel/%s " $progs) >"$sel/build.log" 2>&1 ||
		{ tail -n 30 "$sel/build.log" >&2; die "the series' KVM selftests do not build"; }
	log "series: its KVM selftests build: $(echo $progs)"
	log "series: every checked prefix builds"
	;;
*)
	die "usage: $0 export [DIR] | check [--last]"
	;;
esac
