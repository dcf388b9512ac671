// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu_boost_spin_test: a vCPU that spins for an IPI's answer, among other
 * spinning vCPUs, more vCPUs than host CPUs.
 *
 * vCPU 0 sends vCPU 1 a unicast fixed IPI and spins with PAUSE until vCPU 1's
 * handler has answered, again and again. vCPU 1 halts between IPIs (with -b
 * it computes instead, interrupts on, so that an IPI finds it preempted or
 * running rather than asleep, and counts its loops: what it gets done).
 * vCPUs 2.. spin with PAUSE all the time (with -c they compute instead, and
 * vCPU 2 counts its loops: a yield to one of them gives it the CPU until the
 * scheduler preempts it).
 * With -a vCPU 0 waits for each answer without PAUSE and spins with PAUSE
 * only after it, when vCPU 1 has EOI'd the IPI: no spin of vCPU 0 then
 * waits for vCPU 1, and none may yield to it as an IPI receiver.
 * Each PAUSE that exits takes vCPU 0 into kvm_vcpu_on_spin() (under QEMU's
 * TCG only with kvm_amd.test_pause_exits=1 or an emulated pause filter).
 * With -P the VM turns PAUSE exits off (KVM_CAP_X86_DISABLE_EXITS): no vCPU
 * ever yields, whatever the host offers.
 * With -u vCPUs 2.. spin (with -c compute) in user mode (CPL 3): preempted
 * there, they are what mainline's scan passes over for vCPU 0, which spins
 * in kernel mode, and what only the relaxed round (kvm.enable_relaxed_boost)
 * may yield to.
 * The test checks only that every IPI was answered; it prints vCPU 0's
 * directed-yield stats, vCPU 1's halt stats, the loops of vCPU 1 (-b) and
 * vCPU 2 (-c) while vCPU 0 sent its IPIs, how long vCPU 0 ran and how long
 * its IPIs took, from the first to the last answer (for make bench), for the
 * host scripts, which judge the selection.
 *
 * Usage: vcpu_boost_spin_test [-v vcpus (2..16)] [-n ipis] [-b] [-a] [-c] [-P] [-u]
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "apic.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "vcpu_boost.h"

#define IPI_VECTOR	0xa7
#define RECEIVER	1
#define MAX_VCPUS	16
/* -a: PAUSEs after each answer, enough for several exits under TCG. */
#define PAUSES_AFTER	64

/* Guest memory shared by all vCPUs. */
static u64 nr_ipis;
static u64 answered;
static bool receiver_ready;
static bool spin_after;
/*
 * The loops of the receiver (-b) and of vCPU 2 (-c) so far, and how many
 * of them the sender saw between its first IPI and its end.
 */
static u64 receiver_loops;
static u64 receiver_seen;
static u64 neighbour_loops;
static u64 neighbour_seen;
/* The sender's guest TSC from its first IPI to its last answer. */
static u64 work_ticks;

static void ipi_handler(struct ex_regs *regs)
{
	/* EOI first: the next IPI then never overtakes it. */
	xapic_write_reg(APIC_EOI, 0);
	WRITE_ONCE(answered, answered + 1);
}

static void receiver_code(void)
{
	xapic_enable();
	WRITE_ONCE(receiver_ready, true);
	for (;;)
		safe_halt();
}

/* -b: the receiver computes between IPIs, interrupts on, never halting. */
static void busy_receiver_code(void)
{
	xapic_enable();
	WRITE_ONCE(receiver_ready, true);
	sti();
	for (;;)
		WRITE_ONCE(receiver_loops, receiver_loops + 1);
}

static void spinner_code(void)
{
	for (;;)
		cpu_relax();
}

/*
 * -c: vCPUs 2.. compute, never PAUSE, so they never yield. vCPU 2 counts:
 * in the spread and crowded layouts it shares the sender's CPU.
 */
static void computer_code(u64 id)
{
	if (id != 2) {
		for (;;)
			barrier();
	}
	for (;;)
		WRITE_ONCE(neighbour_loops, neighbour_loops + 1);
}

static void sender_code(void)
{
	u64 i, receiver_start, neighbour_start, start;
	int j;

	xapic_enable();
	/* No PAUSE here: only the spins below may reach the host. */
	while (!READ_ONCE(receiver_ready))
		;
	receiver_start = READ_ONCE(receiver_loops);
	neighbour_start = READ_ONCE(neighbour_loops);
	start = rdtsc();
	for (i = 0; i < nr_ipis; i++) {
		xapic_write_reg(APIC_ICR2, SET_APIC_DEST_FIELD(RECEIVER));
		xapic_write_reg(APIC_ICR, APIC_DEST_PHYSICAL | APIC_DM_FIXED | IPI_VECTOR);
		while (READ_ONCE(answered) == i) {
			if (!spin_after)
				cpu_relax();
		}
		for (j = 0; spin_after && j < PAUSES_AFTER; j++)
			cpu_relax();
	}
	WRITE_ONCE(work_ticks, rdtsc() - start);
	WRITE_ONCE(receiver_seen, READ_ONCE(receiver_loops) - receiver_start);
	WRITE_ONCE(neighbour_seen, READ_ONCE(neighbour_loops) - neighbour_start);
	GUEST_DONE();
}

/* Lets user mode reach every page the guest maps, from @table (a @level table) down. */
static void map_for_user_mode(struct kvm_vm *vm, u64 *table, int level)
{
	int i;

	for (i = 0; i < 512; i++) {
		if (!(table[i] & PTE_PRESENT_MASK(&vm->mmu)))
			continue;
		table[i] |= PTE_USER_MASK(&vm->mmu);
		if (level > PG_LEVEL_4K && !(table[i] & PTE_HUGE_MASK(&vm->mmu)))
			map_for_user_mode(vm, addr_gpa2hva(vm, PTE_GET_PA(table[i])), level - 1);
	}
}

/*
 * -u: @vcpu starts at CPL 3 (KVM takes the CPL from SS's DPL). It never
 * reloads a segment, takes no interrupt (IF is clear) and does no I/O
 * (spinner_code() and computer_code() only touch guest memory), so its
 * descriptors in the GDT need not change.
 */
static void start_in_user_mode(struct kvm_vcpu *vcpu)
{
	struct kvm_sregs sregs;

	vcpu_sregs_get(vcpu, &sregs);
	sregs.cs.dpl = 3;
	sregs.cs.selector |= 3;
	sregs.ss.dpl = 3;
	sregs.ss.selector |= 3;
	vcpu_sregs_set(vcpu, &sregs);
	vcpu_sregs_get(vcpu, &sregs);
	TEST_ASSERT(sregs.ss.dpl == 3 && (sregs.cs.selector & 3) == 3,
		    "vCPU %u not in user mode", vcpu->id);
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	u32 i, nr_vcpus = 4;
	bool busy = false, compute = false, no_pause_exits = false, user = false;
	struct kvm_vm *vm;
	s64 offset;
	u64 ns;
	int opt;

	nr_ipis = 200;
	while ((opt = getopt(argc, argv, "v:n:bacPu")) != -1) {
		if (opt == 'b')
			busy = true;
		else if (opt == 'c')
			compute = true;
		else if (opt == 'a')
			spin_after = true;
		else if (opt == 'P')
			no_pause_exits = true;
		else if (opt == 'u')
			user = true;
		else if (!vcpu_boost_parse_opt(opt, &nr_vcpus, &nr_ipis))
			exit(KSFT_FAIL);
	}
	TEST_ASSERT(nr_vcpus >= 2 && nr_vcpus <= MAX_VCPUS, "vCPUs must be 2..%d", MAX_VCPUS);

	if (no_pause_exits) {
		/* KVM takes the capability only before the first vCPU. */
		vm = vm_create(nr_vcpus);
		vm_enable_cap(vm, KVM_CAP_X86_DISABLE_EXITS, KVM_X86_DISABLE_EXITS_PAUSE);
		vcpus[0] = vm_vcpu_add(vm, 0, sender_code);
	} else {
		vm = vm_create_with_one_vcpu(&vcpus[0], sender_code);
	}
	vcpus[RECEIVER] = vm_vcpu_add(vm, RECEIVER, busy ? busy_receiver_code : receiver_code);
	for (i = 2; i < nr_vcpus; i++) {
		vcpus[i] = vm_vcpu_add(vm, i, compute ? computer_code : spinner_code);
		if (compute)
			vcpu_args_set(vcpus[i], 1, (u64)i);
		if (user)
			start_in_user_mode(vcpus[i]);
	}
	vm_install_exception_handler(vm, IPI_VECTOR, ipi_handler);
	virt_pg_map(vm, APIC_DEFAULT_GPA, APIC_DEFAULT_GPA);
	if (user)
		map_for_user_mode(vm, addr_gpa2hva(vm, PTE_GET_PA(vm->mmu.pgd)),
				  vm->mmu.pgtable_levels);
	sync_global_to_guest(vm, nr_ipis);
	sync_global_to_guest(vm, spin_after);

	offset = vcpu_boost_tsc_offset(vcpus[0]);
	ns = vcpu_boost_run_sender(vcpus, nr_vcpus);
	/* work_ticks are vCPU 0's TSC: an offset that moved would skew them. */
	TEST_ASSERT(vcpu_boost_tsc_offset(vcpus[0]) == offset,
		    "vCPU 0: guest TSC offset moved during the run");

	sync_global_from_guest(vm, answered);
	sync_global_from_guest(vm, receiver_seen);
	sync_global_from_guest(vm, neighbour_seen);
	sync_global_from_guest(vm, work_ticks);
	TEST_ASSERT_EQ(answered, nr_ipis);
	/* One line, in parts; the host scripts read it as key=value pairs. */
	printf("vcpu_boost_spin_test: vcpus=%u ipis=%llu", nr_vcpus,
	       (unsigned long long)nr_ipis);
	vcpu_boost_print_stat("dy_on_spin", vcpus, 0, 0);
	vcpu_boost_print_stat("dy_ipi_receiver", vcpus, 0, 0);
	vcpu_boost_print_stat("dy_pending_irq", vcpus, 0, 0);
	vcpu_boost_print_stat("dy_mainline", vcpus, 0, 0);
	vcpu_boost_print_stat("dy_relaxed", vcpus, 0, 0);
	vcpu_boost_print_stat("dy_held", vcpus, 0, 0);
	vcpu_boost_print_stat("dy_no_target", vcpus, 0, 0);
	/* The receiver's halts: did an IPI find it polling or asleep? */
	vcpu_boost_print_stat("halt_exits", vcpus, RECEIVER, RECEIVER);
	vcpu_boost_print_stat("halt_attempted_poll", vcpus, RECEIVER, RECEIVER);
	vcpu_boost_print_stat("halt_successful_poll", vcpus, RECEIVER, RECEIVER);
	vcpu_boost_print_stat("halt_wakeup", vcpus, RECEIVER, RECEIVER);
	printf(" receiver_loops=%llu neighbour_loops=%llu ns=%llu work_ns=%llu\n",
	       (unsigned long long)receiver_seen, (unsigned long long)neighbour_seen,
	       (unsigned long long)ns,
	       (unsigned long long)vcpu_boost_tsc_ns(vcpus[0], work_ticks));
	kvm_vm_free(vm);
	return 0;
}
