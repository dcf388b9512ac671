#!/usr/bin/env bash
# Edit the C hooks as git commits instead of by hand in patch files.
#   scripts/patches.sh edit [FILE...]   make $CACHE/patchwork: a git tree whose
#                                       base commit holds the pristine copies of
#                                       every file the series touches (and of
#                                       FILE...), with one commit per patch on top
#   scripts/patches.sh export           write those commits back to patches/
#                                       (one .patch each) and patches/series
. "$(dirname "$0")/lib.sh"

WORK=$CACHE/patchwork
series=$PROJECT_ROOT/patches/series

git_w() {
	git -C "$WORK" -c user.name="$PATCH_AUTHOR_NAME" -c user.email="$PATCH_AUTHOR_EMAIL" "$@"
}

case "${1:-}" in
edit)
	shift
	[ -f "$PRISTINE/Makefile" ] || die "no kernel source: run scripts/setup.sh"
	rm -rf "$WORK" && mkdir -p "$WORK"
	files=$( (grep -hE '^\+\+\+ b/' $(sed "s|^|$PROJECT_ROOT/patches/|" "$series") |
		sed -E 's|^\+\+\+ b/||; s|\s.*$||'; printf '%s\n' "$@") | sort -u)
	for f in $files; do
		[ -e "$PRISTINE/$f" ] || continue
		mkdir -p "$WORK/$(dirname "$f")"
		cp "$PRISTINE/$f" "$WORK/$f"
	done
	git_w init -q
	git_w add -A
	git_w commit -qm "pristine $KSRC_PKG $KSRC_VERSION"
	git_w tag base
	while read -r p; do
		git_w am -q --keep-cr "$PROJECT_ROOT/patches/$p" || die "git am failed on $p"
	done < <(grep -vE '^\s*(#|$)' "$series")
	log "patch work tree: $WORK (commit, amend or rebase there; then: $0 export)"
	;;
export)
	[ -d "$WORK/.git" ] || die "no patch work tree: run $0 edit"
	rm -f "$PROJECT_ROOT"/patches/*.patch
	git_w format-patch -q --no-signature --zero-commit -N -o "$PROJECT_ROOT/patches" base..HEAD
	(cd "$PROJECT_ROOT/patches" && ls -1 ./*.patch | sed 's|^\./||') >"$series"
	log "exported $(wc -l <"$series") patches to patches/"
	;;
*)
	die "usage: $0 edit [FILE...] | export"
	;;
esac
