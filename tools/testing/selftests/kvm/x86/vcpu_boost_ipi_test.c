// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu_boost_ipi_test: unicast fixed IPIs with an answer, and nothing that
 * depends on time.
 *
 * vCPU 0 sends IPIs round robin to vCPUs 1..N-1 through the xAPIC ICR and
 * spins with PAUSE until the receiver's handler has run and written EOI.
 * The receivers halt with interrupts on. The test passes when every IPI was
 * answered; how fast that happens never matters, so the emulator's timing
 * cannot make it fail. With -P the IPIs go through the PV send-IPI
 * hypercall (KVM_HC_SEND_IPI) instead of the ICR. With -H no vCPU spins:
 * vCPU 0 halts until the receiver answers with an IPI of its own, so a
 * round trip is two IPIs, two EOIs and two halts. Run on one host CPU,
 * that is a fixed sequence of exits and wake-ups, which make bench counts
 * in instructions. It prints the number of IPIs and vCPU 0's ipi_tracked
 * binary stat for the host scripts, which compare them.
 *
 * Usage: vcpu_boost_ipi_test [-v vcpus (2..16)] [-n ipis] [-P] [-H]
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "apic.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "vcpu_boost.h"

#define IPI_VECTOR	0xa6
#define MAX_VCPUS	16

/* Guest memory shared by all vCPUs (synced from the host before start). */
static u64 nr_ipis;
static u32 nr_vcpus;
static bool pv_send_ipi;
static bool halt_to_wait;
/* Receivers whose APIC is enabled, and so accept IPIs. */
static u32 nr_ready;
/* Answers counted by each receiver's handler, indexed by APIC ID. */
static u64 answered[MAX_VCPUS];

static void ipi_handler(struct ex_regs *regs)
{
	u32 me = GET_APIC_ID_FIELD(xapic_read_reg(APIC_ID));

	/* EOI before answering: the sender's next IPI never finds it in service. */
	xapic_write_reg(APIC_EOI, 0);
	WRITE_ONCE(answered[me], answered[me] + 1);
	/* -H: wake vCPU 0, which halts until its IPI is answered. */
	if (halt_to_wait && me) {
		xapic_write_reg(APIC_ICR2, SET_APIC_DEST_FIELD(0));
		xapic_write_reg(APIC_ICR, APIC_DEST_PHYSICAL | APIC_DM_FIXED | IPI_VECTOR);
	}
}

static void receiver_code(void)
{
	xapic_enable();
	__atomic_fetch_add(&nr_ready, 1, __ATOMIC_SEQ_CST);
	for (;;)
		safe_halt();
}

static void sender_code(void)
{
	u64 i, seen[MAX_VCPUS] = {};

	xapic_enable();
	/* An IPI to a software-disabled APIC is dropped: wait for all. */
	while (READ_ONCE(nr_ready) < nr_vcpus - 1)
		cpu_relax();
	for (i = 0; i < nr_ipis; i++) {
		u32 dst = 1 + i % (nr_vcpus - 1);

		if (pv_send_ipi) {
			/* Bitmap of APIC IDs from 0, fixed delivery. */
			kvm_hypercall(KVM_HC_SEND_IPI, BIT_ULL(dst), 0, 0,
				      APIC_DM_FIXED | IPI_VECTOR);
		} else {
			xapic_write_reg(APIC_ICR2, SET_APIC_DEST_FIELD(dst));
			xapic_write_reg(APIC_ICR, APIC_DEST_PHYSICAL | APIC_DM_FIXED | IPI_VECTOR);
		}
		while (READ_ONCE(answered[dst]) == seen[dst]) {
			if (!halt_to_wait) {
				cpu_relax();
				continue;
			}
			/* sti; hlt: the answer cannot slip in between. */
			cli();
			if (READ_ONCE(answered[dst]) == seen[dst])
				safe_halt();
			else
				sti();
		}
		seen[dst] = READ_ONCE(answered[dst]);
	}
	GUEST_DONE();
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	struct kvm_vm *vm;
	u64 total = 0, ns;
	int opt;
	u32 i;

	nr_vcpus = 2;
	nr_ipis = 1000;
	while ((opt = getopt(argc, argv, "v:n:PH")) != -1) {
		if (vcpu_boost_parse_opt(opt, &nr_vcpus, &nr_ipis))
			continue;
		switch (opt) {
		case 'P':
			pv_send_ipi = true;
			break;
		case 'H':
			halt_to_wait = true;
			break;
		default:
			exit(KSFT_FAIL);
		}
	}
	TEST_ASSERT(nr_vcpus >= 2 && nr_vcpus <= MAX_VCPUS, "vCPUs must be 2..%d", MAX_VCPUS);

	vm = vm_create_with_one_vcpu(&vcpus[0], sender_code);
	for (i = 1; i < nr_vcpus; i++)
		vcpus[i] = vm_vcpu_add(vm, i, receiver_code);
	vm_install_exception_handler(vm, IPI_VECTOR, ipi_handler);
	virt_pg_map(vm, APIC_DEFAULT_GPA, APIC_DEFAULT_GPA);
	sync_global_to_guest(vm, nr_ipis);
	sync_global_to_guest(vm, nr_vcpus);
	sync_global_to_guest(vm, pv_send_ipi);
	sync_global_to_guest(vm, halt_to_wait);

	ns = vcpu_boost_run_sender(vcpus, nr_vcpus);
	sync_global_from_guest(vm, answered);
	for (i = 1; i < nr_vcpus; i++)
		total += answered[i];
	TEST_ASSERT_EQ(total, nr_ipis);
	/* One line, in parts; the host scripts read it as key=value pairs. */
	printf("vcpu_boost_ipi_test: vcpus=%u ipis=%llu answered=%llu path=%s wait=%s",
	       nr_vcpus, (unsigned long long)nr_ipis, (unsigned long long)total,
	       pv_send_ipi ? "pv" : "icr", halt_to_wait ? "halt" : "spin");
	vcpu_boost_print_stat("ipi_tracked", vcpus, 0, 0);
	printf(" ns=%llu\n", (unsigned long long)ns);
	kvm_vm_free(vm);
	return 0;
}
