#!/usr/bin/env bash
# Boots the test kernel in QEMU (TCG) with an initramfs of busybox, the
# stage scripts under scripts/guest/ and static KVM selftests built from the
# same tree. Usage: scripts/guest.sh test | demo | shell | bench | xapic-rates | flake | soak
#   | bench-guests
#   test   run scripts/guest/test.sh; its output is left in $CACHE/guest-test.log
#   demo   show the controls and a KVM guest, then power off
#   shell  the demo, then an interactive shell in the test kernel
#   soak   a Linux guest under QEMU/KVM inside the test kernel (make soak)
#   bench-guests  Linux guests with real workloads, setting by setting
# GUEST_KBUILD boots another kernel build (make bench: the unpatched one);
# GUEST_ICOUNT=1 runs QEMU with instruction counting (-icount shift=0), so
# that the guest's clock advances by 1 ns per instruction executed.
# GUEST_TCG sets QEMU's TCG options (default thread=multi: see boot());
# GUEST_CPU the CPU model (default max); GUEST_APPEND adds to the test
# kernel's command line (e.g. kvm_amd.npt=1, see boot()); GUEST_PLUGIN
# loads a TCG plugin (QEMU's -plugin argument; make cost-profile).
. "$(dirname "$0")/lib.sh"

mode=${1:-test}
KBUILD=${GUEST_KBUILD:-$KBUILD_DIR}
run=$(run_name "$mode")
SELFTESTS=$CACHE/$(run_name selftests)
INITRAMFS=$CACHE/initramfs-$run.cpio.gz
SELFTEST_PROGS=(x86/svm_exitintinfo_test x86/vcpu_boost_ipi_test x86/vcpu_boost_spin_test x86/vcpu_boost_lock_test x86/vcpu_boost_yield_test x86/xapic_ipi_test)

[ -f "$KBUILD/arch/x86/boot/bzImage" ] || die "no test kernel at $KBUILD: run scripts/kunit.sh build"
[ -x "$QEMU" ] || die "no emulator at $QEMU: run make setup (scripts/qemu.sh)"

build_selftests() {
	log "KVM selftests: ${SELFTEST_PROGS[*]} (static, against the tree's headers)"
	kmake "$KBUILD_DIR" headers_install >/dev/null
	local targets=() p
	for p in "${SELFTEST_PROGS[@]}"; do targets+=("$SELFTESTS/$p"); done
	mkdir -p "$SELFTESTS"
	if ! make -C "$TREE/tools/testing/selftests/kvm" -j"$JOBS" OUTPUT="$SELFTESTS" \
		CC="ccache gcc" EXTRA_CFLAGS=-static KHDR_INCLUDES="-isystem $KBUILD_DIR/usr/include" \
		"${targets[@]}" >"$SELFTESTS/build.log" 2>&1; then
		{ grep -E -A5 'error' "$SELFTESTS/build.log" || tail -n 20 "$SELFTESTS/build.log"; } | head -n 40 >&2
		die "KVM selftests failed to build (log: $SELFTESTS/build.log)"
	fi
}

# copy_progs ROOT FILE...: FILEs into ROOT at their own paths, with every
# shared library they load.
copy_progs() {
	local root=$1 f
	shift
	for f; do
		! ldd "$f" | grep 'not found' || die "$f: a library it loads is missing"
	done
	for f in "$@" $(for f; do ldd "$f"; done | awk '$3 ~ /^\// { print $3 } $1 ~ /^\/.*[^:]$/ { print $1 }' | sort -u); do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
	done
}

# The stages that run Linux guests under QEMU/KVM inside the test kernel.
L2_MODES="soak bench-guests"

# build_l2 ROOT: QEMU (with its libraries and firmware) into the test
# kernel's initramfs ROOT, and the guests' kernel (the test kernel itself)
# and initramfs (busybox and the workloads, Debian's dbench, hackbench from
# rt-tests and stress-ng, with their libraries) under ROOT/l2.
build_l2() {
	local root=$1 l2=$CACHE/l2root-$run f
	copy_progs "$root" /usr/bin/qemu-system-x86_64
	mkdir -p "$root/usr/share/qemu" "$root/l2"
	for f in qboot.rom linuxboot_dma.bin linuxboot.bin kvmvapic.bin; do
		cp /usr/share/qemu/$f "$root/usr/share/qemu/"
	done
	cp "$KBUILD/arch/x86/boot/bzImage" "$root/l2/bzImage"
	rm -rf "$l2"
	mkdir -p "$l2"/{bin,dev,proc,sys,tmp,usr/share/dbench}
	cp /bin/busybox "$l2/bin/busybox"
	cp "$PROJECT_ROOT/scripts/guest/l2/init" "$l2/init"
	copy_progs "$l2" /usr/bin/dbench /usr/bin/hackbench /usr/bin/stress-ng /usr/bin/stdbuf
	# stdbuf preloads it to make dbench's progress lines line-buffered.
	mkdir -p "$l2/usr/libexec/coreutils"
	cp /usr/libexec/coreutils/libstdbuf.so "$l2/usr/libexec/coreutils/"
	cp /usr/share/dbench/client.txt "$l2/usr/share/dbench/"
	(cd "$l2" && find . | cpio -o -H newc --quiet | gzip -1) >"$root/l2/initrd.gz"
}

build_initramfs() {
	local root=$CACHE/initramfs-$run p
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,stage,tests}
	cp /bin/busybox "$root/bin/busybox"
	cp "$PROJECT_ROOT/scripts/guest/init" "$root/init"
	cp "$PROJECT_ROOT"/scripts/guest/*.sh "$root/stage/"
	for p in "${SELFTEST_PROGS[@]}"; do cp "$SELFTESTS/$p" "$root/tests/"; done
	case " $L2_MODES " in *" $mode "*) build_l2 "$root" ;; esac
	# The host's VB_* settings (VB_STRESS_S and the like) reach the stages.
	local v
	for v in $(compgen -e | grep '^VB_' || true); do
		printf 'export %s=%q\n' "$v" "${!v}"
	done >"$root/stage/env"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$INITRAMFS.tmp"
	mv "$INITRAMFS.tmp" "$INITRAMFS"
}

# watch_resets QEMU_LOG PIDFILE CONSOLE_LOG OUT: QEMU logs "CPU Reset" with
# the CPU's state for each CPU at start-up and at every later machine reset.
# The count once the stage has started (VB-BOOT) is the start-up's; a "Triple
# fault", a panic on the console or a further reset ends QEMU, and OUT gets
# the line of QEMU_LOG where the state of the reset begins and what it was
# (triple fault, panic or reset). The stage's end (VB-END) ends QEMU too.
watch_resets() {
	# A grep that finds nothing is an answer here, not an error.
	set +e +o pipefail
	local qlog=$1 pidfile=$2 console=$3 out=$4 base='' pid='' at n why
	while :; do
		sleep 1
		# QEMU creates the pidfile before it writes it.
		[ -n "$pid" ] || { pid=$(cat "$pidfile" 2>/dev/null); [ -n "$pid" ] || continue; }
		kill -0 "$pid" 2>/dev/null || return 0
		# The stage's end: the test kernel halts after it.
		if grep -q '^VB-END' "$console" 2>/dev/null; then
			kill "$pid" 2>/dev/null
			return 0
		fi
		[ -z "$base" ] && grep -q '^VB-BOOT' "$console" 2>/dev/null &&
			base=$(grep -c '^CPU Reset' "$qlog")
		at=$(grep -n -m1 '^Triple fault' "$qlog" 2>/dev/null | cut -d: -f1)
		why=${at:+triple fault}
		if [ -n "$base" ]; then
			n=$(grep -n '^CPU Reset' "$qlog" | sed -n "$((base + 1))p" | cut -d: -f1)
			[ -n "$n" ] && { [ -z "$at" ] || [ "$n" -lt "$at" ]; } && at=$n why=reset
		fi
		# A panic reboots at once (panic=-1); whatever QEMU logged
		# after it is the reboot's. A Linux guest's console lines on ours
		# start with its name in brackets: not the test kernel's.
		if grep -qE '^(\[ *[0-9]+\.[0-9]+\] )?Kernel panic - not syncing' "$console" 2>/dev/null; then
			why=panic
			[ -n "$at" ] || at=$(($(wc -l <"$qlog") + 1))
		fi
		[ -n "$at" ] || continue
		# Let QEMU write every CPU's state, then end it.
		sleep 3
		echo "$at $why" >"$out"
		kill "$pid" 2>/dev/null
		return 0
	done
}

boot() {
	local append="console=ttyS0 kunit.enable=0 panic=-1 kvm_amd.npt=0 vb.mode=$mode${FLAVOR_ARGS:+ $FLAVOR_ARGS}"
	# The test log keeps every kernel message; the demo shows only its own.
	[ "$mode" = test ] || append+=" quiet"
	[ -n "${GUEST_APPEND:-}" ] && append+=" $GUEST_APPEND"
	# A TSC rate from an earlier boot keeps KVM's vCPU TSC setup exact under
	# TCG. With instruction counting the TSC runs at 1 GHz instead.
	# tsc=reliable: the clocksource watchdog compares the emulated TSC with
	# the emulated HPET, and a host delay between the two reads ("Watchdog
	# remote CPU 1 read timed out") can mark the TSC unstable; KVM then
	# moves every guest's TSC offset on each vCPU load, which breaks
	# vcpu_boost_lock_test -t (it maps guest TSC to host TSC through them).
	local icount=()
	if [ "${GUEST_ICOUNT:-}" = 1 ]; then
		icount=(-icount shift=0,sleep=off)
	else
		append+=" tsc=reliable"
		if [ -s "$CACHE/tsc_khz" ]; then
			append+=" tsc_early_khz=$(cat "$CACHE/tsc_khz")"
		fi
	fi
	# QEMU's default, one host thread per CPU (instruction counting needs a
	# single one), and KVM with shadow paging: with nested paging QEMU's TCG
	# now and then breaks the first guest access after a VMRUN (a reserved-
	# bit page fault on valid tables) and the guest triple-faults, on 7.3.4
	# without the series too: the emulator's (bench/REPORT.md, make
	# flake-rates).
	# GUEST_APPEND=kvm_amd.npt=1 brings nested paging back.
	local tcg=${GUEST_TCG:-thread=multi}
	[ "${GUEST_ICOUNT:-}" = 1 ] && tcg=${GUEST_TCG:-thread=single}
	local qemu=("$QEMU" -accel "tcg,$tcg" -cpu "${GUEST_CPU:-max}" -smp 2 -m 2048 "${icount[@]}"
		-kernel "$KBUILD/arch/x86/boot/bzImage" -initrd "$INITRAMFS"
		-append "$append")
	[ -n "${GUEST_PLUGIN:-}" ] && qemu+=(-plugin "$GUEST_PLUGIN")
	if [ "$mode" = shell ]; then
		"${qemu[@]}" -no-reboot -nographic
	else
		# Without -no-reboot a reset (a triple fault, a panic) makes QEMU
		# log every CPU's state as it was; watch_resets then ends QEMU and
		# says where that state is. At the stage's end the test kernel
		# halts (it cannot power QEMU's machine off) and watch_resets ends
		# QEMU.
		local qlog=$CACHE/qemu-$run.log pidfile=$CACHE/qemu-$run.pid
		rm -f "$qlog" "$pidfile" "$CACHE/qemu-$run.reset"
		watch_resets "$qlog" "$pidfile" "$CACHE/guest-$run.log" "$CACHE/qemu-$run.reset" &
		local watcher=$!
		timeout --foreground "${GUEST_TIMEOUT:-2400}" "${qemu[@]}" -display none \
			-serial stdio -monitor none -d cpu_reset -D "$qlog" -pidfile "$pidfile" \
			</dev/null | sed -u 's/\r$//' | tee "$CACHE/guest-$run.log"
		local rc=${PIPESTATUS[0]}
		# The watcher may have ended already (it ended QEMU).
		kill "$watcher" 2>/dev/null || true
		wait "$watcher" 2>/dev/null || true
		[ -s "$CACHE/qemu-$run.reset" ] && return 1
		[ "$rc" -eq 0 ] || die "QEMU exited with $rc (124: timed out) in mode $mode"
		local mhz
		mhz=$(sed -n 's/^VB-TSC Refined TSC clocksource calibration: \([0-9.]*\) MHz/\1/p' \
			"$CACHE/guest-$run.log" | tail -n1)
		[ -n "$mhz" ] && [ "${GUEST_ICOUNT:-}" != 1 ] && awk -v m="$mhz" 'BEGIN { printf "%d\n", m * 1000 }' >"$CACHE/tsc_khz"
		grep -q '^VB-END' "$CACHE/guest-$run.log" || return 1
	fi
}

# boot_stage: boots once. A boot that ends without the stage's end fails the
# run, with the state QEMU logged when the test kernel reset (watch_resets).
boot_stage() {
	boot && return 0
	local qlog=$CACHE/qemu-$run.log at why
	if [ -s "$CACHE/qemu-$run.reset" ]; then
		read -r at why <"$CACHE/qemu-$run.reset"
		case $why in
		panic) log "the test kernel panicked (mode $mode; its log above), then reset; QEMU's log of the reset ($qlog):" ;;
		*) log "the test kernel ended in a $why (mode $mode); QEMU's log of it ($qlog):" ;;
		esac
		# The state of each CPU at the first reset, without the FPU and
		# vector registers.
		tail -n "+$at" "$qlog" | awk '
			/^CPU Reset/ && ++cpus > 2 { exit }
			/^Triple fault/ && NR > 1 { exit }
			!/^(FPR|XMM|YMM|ZMM|FCW|Opmask)/' >&2
	fi
	die "the guest stage did not finish (mode $mode): see $CACHE/guest-$run.log"
}

# Each mode but shell is a stage script, scripts/guest/MODE.sh.
[ "$mode" = shell ] || [ -f "$PROJECT_ROOT/scripts/guest/$mode.sh" ] ||
	die "usage: $0 test | demo | shell | bench | xapic-rates | flake | soak | bench-guests"
build_selftests
build_initramfs
log "booting the test kernel (QEMU TCG, 2 CPUs, mode $mode)"
if [ "$mode" = shell ]; then boot; else boot_stage; fi
