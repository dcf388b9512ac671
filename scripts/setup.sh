#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine:
#   1. the Debian packages (toolchain, QEMU, busybox for the initramfs, the
#      workloads of the Linux guests: dbench, rt-tests' hackbench, stress-ng);
#   2. bindgen, from crates.io, into the cache directory;
#   3. the pinned kernel source, Debian's linux-source-7.3, fetched through a
#      private apt state (the system's sources are never touched), checked by
#      sha256 and extracted once into the cache;
#   4. the test kernel's emulator: Debian's QEMU 7.2 rebuilt with the fixes
#      in tests/qemu/ (scripts/qemu.sh).
# Every step is skipped when its result is already there.
. "$(dirname "$0")/lib.sh"

APT_PACKAGES=(
	rustc-web rust-web-src rust-web-clippy clang-19 libclang-19-dev llvm-19 lld-19
	build-essential flex bison bc libelf-dev libssl-dev python3
	ccache rsync cpio xz-utils busybox-static qemu-system-x86
	dbench rt-tests stress-ng
	curl dpkg-dev ninja-build meson pkg-config libglib2.0-dev libpixman-1-dev libslirp-dev libfdt-dev
)

install_packages() {
	local missing=()
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		log "Debian packages: all present"
		return
	fi
	log "Debian packages: installing ${missing[*]}"
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_bindgen() {
	if [ -x "$BINDGEN" ]; then
		log "bindgen: $("$BINDGEN" --version)"
		return
	fi
	log "bindgen: cargo install bindgen-cli into $TOOLS (about 2 minutes)"
	cargo install bindgen-cli --locked --root "$TOOLS"
}

# The mirror the system already uses, so that the private state reaches the
# same host.
system_mirror() {
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
		grep -E '^(URIs:|deb )' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)
	echo "${m:-http://deb.debian.org/debian}"
}

fetch_kernel_source() {
	if [ -f "$PRISTINE/Makefile" ]; then
		log "kernel source: $PRISTINE"
		return
	fi
	local apt=$CACHE/apt deb
	mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$CACHE/src"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(system_mirror) $KSRC_SUITE main" \
		>"$apt/sources.list"
	local opts=(-o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts=-
		-o Dir::State::Lists="$apt/lists" -o Dir::Cache::archives="$apt/archives"
		-o Dir::State::status=/var/lib/dpkg/status -o APT::Get::List-Cleanup=0)
	deb=$CACHE/src/${KSRC_PKG}_${KSRC_VERSION}_all.deb
	if [ ! -f "$deb" ]; then
		log "kernel source: updating the private apt state for $KSRC_SUITE"
		apt-get "${opts[@]}" -o APT::Sandbox::User=root update -q 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
		[ -n "$(ls "$apt/lists/"*Packages* 2>/dev/null)" ] ||
			die "kernel source: could not read the $KSRC_SUITE index from $(system_mirror)"
		local avail
		avail=$(apt-cache "${opts[@]}" madison "$KSRC_PKG" 2>/dev/null | awk '{print $3}' | sort -V | tail -n1)
		if ! apt-cache "${opts[@]}" madison "$KSRC_PKG" | awk '{print $3}' | grep -qxF "$KSRC_VERSION"; then
			die "$KSRC_PKG $KSRC_VERSION is gone from the mirror (newest there: ${avail:-none}).
       Set KSRC_VERSION and KSRC_SHA256 in scripts/lib.sh to the new version, run
       'make test', and refresh the patches under patches/ if they no longer apply."
		fi
		log "kernel source: downloading $KSRC_PKG=$KSRC_VERSION (about 170 MB)"
		(cd "$CACHE/src" && apt-get "${opts[@]}" -o APT::Sandbox::User=root download "$KSRC_PKG=$KSRC_VERSION")
	fi
	local sum
	sum=$(sha256sum "$deb" | cut -d' ' -f1)
	if [ "$sum" != "$KSRC_SHA256" ]; then
		rm -f "$deb"
		die "kernel source: sha256 mismatch for $(basename "$deb"): got $sum, pinned $KSRC_SHA256"
	fi
	log "kernel source: extracting (about 30 s)"
	local tmp=$CACHE/src/extract.$$
	rm -rf "$tmp" && mkdir -p "$tmp"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards '*/linux-source-7.3.tar.xz'
	tar -xJf "$tmp"/usr/src/linux-source-7.3.tar.xz -C "$tmp"
	rm -rf "$PRISTINE"
	mv "$tmp/linux-source-7.3" "$PRISTINE"
	rm -rf "$tmp"
}

mkdir -p "$CACHE" "$TOOLS"
install_packages
install_bindgen
fetch_kernel_source
"$PROJECT_ROOT/scripts/qemu.sh"
"$RUSTC" --version >/dev/null || die "Debian rustc missing at $RUSTC"
log "setup done; cache at $CACHE"
