#!/usr/bin/env bash
# Makes $TREE exactly "pristine source + project overlay + patches/series".
#
# The overlay and the patched files are first built in a staging directory;
# only files whose content changed are then copied into $TREE, so make sees
# new timestamps on changed files alone. Files that an earlier run overlaid or
# patched, and that this run does not, go back to their pristine content (or
# away, if the pristine tree has no such file).
. "$(dirname "$0")/lib.sh"

[ -f "$PRISTINE/Makefile" ] || die "no kernel source at $PRISTINE: run scripts/setup.sh"

# Series files: the product series, and with TEST_PATCHES=1 also the
# test-only series.
series_patches() {
	local dir
	for dir in "$PROJECT_ROOT/patches" ${TEST_PATCHES:+"$PROJECT_ROOT/patches/test"}; do
		[ -f "$dir/series" ] || continue
		grep -vE '^\s*(#|$)' "$dir/series" | while read -r p; do echo "$dir/$p"; done
	done
}

stage=$CACHE/stage
rm -rf "$stage" && mkdir -p "$stage"

# 1. Overlay.
while read -r from to; do
	mkdir -p "$stage/$(dirname "$to")"
	cp "$PROJECT_ROOT/$from" "$stage/$to"
done < <(overlay_map)

# 2. Patches, applied in series order on pristine copies of their files.
mapfile -t patches < <(series_patches)
for p in "${patches[@]}"; do
	[ -f "$p" ] || die "patches: $p is listed in a series file but does not exist"
	for f in $(grep -E '^\+\+\+ b/' "$p" | sed -E 's|^\+\+\+ b/||; s|\s.*$||'); do
		if [ ! -e "$stage/$f" ] && [ -e "$PRISTINE/$f" ]; then
			mkdir -p "$stage/$(dirname "$f")"
			cp "$PRISTINE/$f" "$stage/$f"
		fi
	done
	if ! out=$(patch -p1 -F0 -N --batch --no-backup-if-mismatch -d "$stage" -i "$p" 2>&1); then
		printf '%s\n' "$out" >&2
		die "patches: ${p#"$PROJECT_ROOT"/} does not apply to $KSRC_PKG $KSRC_VERSION"
	fi
done
find "$stage" -name '*.orig' -delete -o -name '*.rej' -delete

# 3. Tree: a copy of the pristine source, made once.
if [ ! -f "$TREE/.vcpu-boost-base" ] || [ "$(cat "$TREE/.vcpu-boost-base")" != "$KSRC_VERSION" ]; then
	log "tree: copying the pristine source to $TREE"
	rm -rf "$TREE" "$CACHE/tree.manifest"
	mkdir -p "$(dirname "$TREE")"
	cp -a "$PRISTINE" "$TREE"
	echo "$KSRC_VERSION" >"$TREE/.vcpu-boost-base"
fi

# 4. Copy what changed; restore what is no longer ours.
(cd "$stage" && find . -type f | sed 's|^\./||' | sort) >"$CACHE/tree.manifest.new"
changed=0
while read -r f; do
	if ! cmp -s "$stage/$f" "$TREE/$f"; then
		mkdir -p "$TREE/$(dirname "$f")"
		cp "$stage/$f" "$TREE/$f"
		changed=$((changed + 1))
	fi
done <"$CACHE/tree.manifest.new"
if [ -f "$CACHE/tree.manifest" ]; then
	comm -23 "$CACHE/tree.manifest" "$CACHE/tree.manifest.new" | while read -r f; do
		if [ -e "$PRISTINE/$f" ]; then
			cp "$PRISTINE/$f" "$TREE/$f"
		else
			rm -f "$TREE/$f"
		fi
		log "tree: restored $f"
	done
fi
mv "$CACHE/tree.manifest.new" "$CACHE/tree.manifest"
log "tree: $(wc -l <"$CACHE/tree.manifest") project files, $changed changed"
