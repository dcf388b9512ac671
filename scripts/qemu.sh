#!/usr/bin/env bash
# Builds the emulator that runs the test kernel: Debian 12's QEMU 7.2 (the
# version its qemu-system-x86 package installs) from Debian's source
# package, with the fixes in tests/qemu/*.patch, into $CACHE/qemu. Debian's
# binary has a race between TCG's vCPU threads (tests/qemu/0001-*) that now
# and then lets the test kernel's CPU 0 take interrupts with IF clear while
# it runs KVM guests: the test kernel panics or triple-faults. Its SVM also
# leaves a delivered event in EXITINTINFO and delivers some injected
# interrupts twice (tests/qemu/0002-*, 0003-*): KVM guests stop on an
# internal error, or count an IPI twice. Its TCG plugins find an
# instruction that crosses into the next page, other than its block's
# first, in two blocks (tests/qemu/0008), so make cost-profile counted it
# twice. Only the outer
# emulator is replaced; the QEMU/KVM that runs Linux guests inside the test
# kernel is Debian's. Skipped when the build matches the version and patches.
# The first build takes about 5 minutes on 2 cores.
. "$(dirname "$0")/lib.sh"

QEMU_SRC_VERSION=7.2+dfsg-7+deb12u18
# Debian's pool, and when a newer bookworm update has replaced it there,
# snapshot.debian.org by the file's sha1. Each file: name, sha256, sha1.
QEMU_POOL=http://deb.debian.org/debian/pool/main/q/qemu
QEMU_SNAPSHOT=https://snapshot.debian.org/file
QEMU_FILES=(
	"qemu_$QEMU_SRC_VERSION.dsc 6b6bd27b947ec89e40a1d6b26d9c9f3c698ca691da13163e0483f6061bbb20b3 28c0f8bc033d37761bc6e764f3257c685ada0bb7"
	"qemu_7.2+dfsg.orig.tar.xz 91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f 6ea9655c72a2f21ed0d301479e11194c84978514"
	"qemu_$QEMU_SRC_VERSION.debian.tar.xz 28a1c86310ee53b6bf1854cffe6f6be6ed29a08db7d05759f8ac57b8d6a6cb2f 118f2f821635e9c65225f1224c899af0e23c88fd"
)
# Only what the stages use: the x86_64 system emulator with TCG, user-mode
# networking for its default NIC, TCG plugins (make cost-profile); no tools,
# documentation or displays.
QEMU_CONFIGURE=(--prefix=/usr --target-list=x86_64-softmmu --disable-docs --disable-werror
	--disable-tools --disable-guest-agent --disable-gtk --disable-sdl --disable-vnc
	--disable-opengl --disable-spice --disable-curl --disable-libusb --disable-usb-redir
	--disable-xen --enable-slirp --enable-plugins)

dl=$CACHE/qemu-src
stamp=$( {
	echo "$QEMU_SRC_VERSION ${QEMU_CONFIGURE[*]}"
	cat "$PROJECT_ROOT"/tests/qemu/*.patch "$PROJECT_ROOT"/tests/qemu/plugins/*.c
} | sha256sum | cut -c1-16)
# QEMU looks for its firmware beside its binary (../share/qemu): Debian's,
# from the directories of Debian's firmware path, the first one winning.
# Made once, in place at one rename (a boot may be starting beside us).
if [ ! -e "$QEMU_DIR/share/qemu/bios-256k.bin" ]; then
	rm -rf "$QEMU_DIR/share/qemu.tmp"
	mkdir -p "$QEMU_DIR/share/qemu.tmp"
	for d in /usr/lib/ipxe/qemu /usr/share/seabios /usr/share/qemu; do
		[ -d "$d" ] && ln -sfn "$d"/* "$QEMU_DIR/share/qemu.tmp/"
	done
	rm -rf "$QEMU_DIR/share/qemu"
	mv -T "$QEMU_DIR/share/qemu.tmp" "$QEMU_DIR/share/qemu"
fi
built() { log "QEMU: $QEMU ($(qemu_version), with tests/qemu/*.patch)"; }
if [ -x "$QEMU" ] && [ -f "$QEMU_DIR/plugins/insn-window.so" ] &&
	[ "$(cat "$QEMU_DIR/stamp" 2>/dev/null)" = "$stamp" ]; then
	built
	exit 0
fi

mkdir -p "$dl"
for entry in "${QEMU_FILES[@]}"; do
	read -r f sum sha1 <<<"$entry"
	if ! echo "$sum  $dl/$f" | sha256sum -c --status 2>/dev/null; then
		log "QEMU: downloading $f"
		curl -fsSL --retry 3 -o "$dl/$f.tmp" "$QEMU_POOL/$f" ||
			curl -fsSL --retry 3 -o "$dl/$f.tmp" "$QEMU_SNAPSHOT/$sha1" ||
			die "QEMU: cannot download $f from $QEMU_POOL or $QEMU_SNAPSHOT/$sha1"
		mv "$dl/$f.tmp" "$dl/$f"
		echo "$sum  $dl/$f" | sha256sum -c --status || die "QEMU: $f does not match its pinned sha256"
	fi
done

src=$dl/src
log "QEMU: unpacking Debian's source with its patches, then tests/qemu/*.patch"
rm -rf "$src"
dpkg-source --no-check -x "$dl/qemu_$QEMU_SRC_VERSION.dsc" "$src" >/dev/null
for p in "$PROJECT_ROOT"/tests/qemu/*.patch; do
	patch -d "$src" -p1 -s <"$p" || die "QEMU: $p does not apply"
done

log "QEMU: building qemu-system-x86_64 (about 5 minutes the first time)"
mkdir -p "$src/build"
(cd "$src/build" && ../configure "${QEMU_CONFIGURE[@]}" >"$dl/configure.log" 2>&1) ||
	die "QEMU: configure failed, see $dl/configure.log"
ninja -C "$src/build" -j "$JOBS" qemu-system-x86_64 >"$dl/build.log" 2>&1 ||
	die "QEMU: build failed, see $dl/build.log"
# The TCG plugins of tests/qemu/plugins (make cost-profile), against this
# QEMU's plugin API.
mkdir -p "$QEMU_DIR/bin" "$QEMU_DIR/plugins"
for c in "$PROJECT_ROOT"/tests/qemu/plugins/*.c; do
	so=$QEMU_DIR/plugins/$(basename "$c" .c).so
	# shellcheck disable=SC2046 # pkg-config's flags are words
	gcc -O2 -Wall -Werror -fPIC -shared -I"$src/include/qemu" $(pkg-config --cflags glib-2.0) \
		-o "$so.tmp" "$c" $(pkg-config --libs glib-2.0) || die "QEMU: plugin $c failed to build"
	mv "$so.tmp" "$so"
done
cp "$src/build/qemu-system-x86_64" "$QEMU.tmp"
mv "$QEMU.tmp" "$QEMU"
echo "$stamp" >"$QEMU_DIR/stamp"
rm -rf "$src"
built
