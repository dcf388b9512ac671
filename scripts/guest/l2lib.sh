# Helpers for the stages that run Linux guests (L2) under QEMU/KVM inside the
# test kernel. Sourced after lib.sh. The initramfs carries QEMU with its
# libraries and firmware, and the guest's kernel and initramfs under /l2.

# The guest's CPU: an x2APIC, and none of KVM's paravirtual features but the
# clock (the series' case is an unmodified guest: native qspinlocks, TLB
# shootdowns, IPIs and EOIs). Its kernel has no paravirtual spinlocks
# (CONFIG_PARAVIRT_SPINLOCKS is not set); nopvspin says so twice.
L2_CPU=kvm64,+x2apic,kvm-pv-unhalt=off,kvm-pv-eoi=off,kvm-pv-ipi=off,kvm-pv-tlb-flush=off
L2_CPU=$L2_CPU,kvm-pv-sched-yield=off,kvm-steal-time=off,kvm-asyncpf=off,kvm-asyncpf-int=off,kvm-poll-control=off
L2_APPEND="console=ttyS0 kunit.enable=0 nopvspin quiet panic=-1"

# l2_run NAME SECONDS WORK LOG [QEMU OPTION...]: starts guest NAME (L2_SMP
# vCPUs, default 4; L2_EXTRA more of its command line, as vb.win=) in the
# background, its console in LOG and on ours as it
# comes (the guest boots quiet), each workload line ending with the test
# kernel's uptime at its arrival (l1=SECONDS); $l2_pid is QEMU's process.
l2_run() {
	name=$1 secs=$2 work=$3 log=$4
	shift 4
	: >"$log"
	/usr/bin/qemu-system-x86_64 -L /usr/share/qemu -name "$name" -accel kvm -cpu $L2_CPU \
		-smp "${L2_SMP:-4}" -m 256 \
		-bios /usr/share/qemu/qboot.rom -kernel /l2/bzImage -initrd /l2/initrd.gz \
		-append "$L2_APPEND vb.work=$work vb.secs=$secs${L2_EXTRA:+ $L2_EXTRA}" \
		-display none -nodefaults -serial stdio -monitor none -no-reboot "$@" \
		</dev/null >"$log" 2>&1 &
	l2_pid=$!
	l2_log=$log
	tail -f "$log" 2>/dev/null | awk -v n="$name" '
		{ sub(/\r$/, "") }
		/^VB-L2P? / { getline up <"/proc/uptime"; close("/proc/uptime"); split(up, u, " "); $0 = $0 " l1=" u[1] }
		{ print "[" n "] " $0; fflush() }' &
}

# l2_wait SECONDS: waits for the guest of the last l2_run, at most SECONDS;
# a guest still running then is stuck: it is killed and 1 returned.
l2_wait() {
	waited=0 ret=0
	while kill -0 $l2_pid 2>/dev/null; do
		if [ $waited -ge "$1" ]; then
			kill -9 $l2_pid
			ret=1
			break
		fi
		sleep 5
		waited=$((waited + 5))
	done
	wait $l2_pid 2>/dev/null
	pkill -f "tail -f $l2_log" 2>/dev/null
	return $ret
}

# l2_shutdowns: the state the test-only SHUTDOWN dump printed for the last
# guests that shut down.
l2_shutdowns() {
	dmesg | grep 'vb-shutdown:' | tail -n 6 | sed 's/^.*vb-shutdown: /  /'
}

# l2_windows_check NAME LOG: that every workload window of the guest of LOG
# had a value, and that its kernel logged no checker report.
l2_windows_check() {
	windows=$(grep -cE '^VB-L2P? ' "$2")
	failed=$(grep '^VB-L2 ' "$2" | grep -c ' fail ')
	check "$1: every workload window reported a value ($failed failed of $windows)" \
		"$windows" -gt 0 -a "$failed" -eq 0
	check "$1: no BUG, WARNING or checker report in the guest's kernel log" \
		"$(grep -c '^VB-L2-SPLAT' "$2")" -eq 0
}

# l2_check NAME LOG: whether the guest of LOG ran to its end, with a value in
# every window; prints its windows and, when it did not end, why.
l2_check() {
	run=$1 log=$2
	info "$run: $(grep -c '^VB-L2 ' "$log") workload windows, last: $(grep '^VB-L2 ' "$log" | tail -n 3 | tr '\n' ';')"
	if grep -q '^VB-L2-END' "$log"; then
		pass "$run: the guest ran to its end"
	else
		fail "$run: the guest did not run to its end (a reset, a shutdown or a crash)"
		l2_shutdowns
	fi
	l2_windows_check "$run" "$log"
}
