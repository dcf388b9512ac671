/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interface between KVM and its Rust IPI-aware directed yield:
 *   arch/x86/kvm/ipi_tracker.rs  records unicast fixed IPIs, clears on EOI;
 *   virt/kvm/vcpu_select.rs      picks the directed-yield candidate.
 * The functions and parameter ops are defined in Rust; #[export] checks each
 * definition against these prototypes (see rust/bindings/bindings_helper.h).
 */
#ifndef _LINUX_KVM_IPI_YIELD_H
#define _LINUX_KVM_IPI_YIELD_H

#include <linux/types.h>

struct kvm_vcpu;
struct kernel_param;
struct seq_file;

/*
 * What the IPI tracker knows about one vCPU, in struct kvm_vcpu (also when
 * CONFIG_KVM_IPI_AWARE_YIELD is off, which keeps the hooks free of #ifdef;
 * it is then never written). Written and
 * read locklessly, only by ipi_tracker.rs, each field with single-copy
 * atomic accesses: the sender's own thread records, the receiver's thread
 * clears on EOI, any vCPU spinning in kvm_vcpu_on_spin() reads.
 */
struct kvm_ipi_ctx {
	u64 send_ns;		/* ktime_get_mono_fast_ns() when the IPI was sent */
	s32 receiver;		/* vcpu_idx the last tracked IPI went to; -1: none */
	s32 sender;		/* vcpu_idx of the last sender of a tracked IPI; -1: none */
	u32 vector;		/* vector of the last tracked IPI sent */
	bool pending;		/* that IPI awaits the receiver's EOI */
};

/* Which LAPIC path delivered an interrupt. */
enum kvm_ipi_path {
	KVM_IPI_PATH_FAST,	/* the APIC map */
	KVM_IPI_PATH_SLOW,	/* the fallback that walks every vCPU */
	KVM_IPI_PATH_PV,	/* the PV send-IPI hypercall */
	KVM_IPI_PATH_NR,
};

/* One interrupt delivery to one vCPU, as the LAPIC code sees it. */
struct kvm_ipi_delivery {
	struct kvm_ipi_ctx *src;	/* the sending vCPU's; NULL: not sent by a vCPU's LAPIC */
	struct kvm_ipi_ctx *dst;	/* the receiving vCPU's */
	int src_idx;			/* their vcpu_idx; -1 with a NULL context */
	int dst_idx;
	unsigned int targets;		/* vCPUs addressed (slow path: that accepted) */
	bool fixed;			/* APIC_DM_FIXED delivery */
	bool shorthand;			/* a destination shorthand (self, all, all-but-self) */
	u32 vector;
	enum kvm_ipi_path path;
};

/* What an EOI did to the sender of the IPI it acknowledged. */
enum kvm_ipi_eoi {
	KVM_IPI_EOI_NONE,	/* the receiver had no tracked sender */
	KVM_IPI_EOI_CLEARED,	/* the sender's pending IPI is cleared */
	KVM_IPI_EOI_UNMATCHED,	/* other vector, window passed, or the sender moved on */
};

/* What kvm_vcpu_on_spin() knows about a directed-yield candidate. */
struct kvm_dy_facts {
	bool ready;		/* vcpu->ready: preempted or woken, not yet running */
	bool blocked;		/* blocking, and nothing would make it runnable */
	bool preempted;		/* vcpu->preempted */
	bool pending_interrupt;	/* kvm_arch_dy_has_pending_interrupt() */
};

/* How kvm_vcpu_on_spin() chose the vCPU it yielded to. */
enum kvm_dy_tier {
	KVM_DY_NONE,		/* it yielded to nobody */
	KVM_DY_IPI_RECEIVER,	/* round 1: the recent receiver of the spinner's IPI */
	KVM_DY_PENDING_IRQ,	/* round 1: a vCPU with a pending interrupt */
	KVM_DY_PREEMPTED,	/* round 1: mainline's preempted gate */
	KVM_DY_RELAXED,		/* round 2: preempted alone */
	KVM_DY_RECEIVER_RUNS,	/* nobody: the receiver of the spinner's IPI runs */
};

#ifdef CONFIG_KVM_IPI_AWARE_YIELD
/*
 * For vcpu_select.rs, in kvm_main.c: the candidate at @idx of @me's VM (each
 * false when there is none). kvm_dy_eligible() has mainline's side effect of
 * toggling a spinning candidate's eligibility.
 */
bool kvm_dy_facts(struct kvm_vcpu *me, int idx, struct kvm_dy_facts *f);
bool kvm_dy_in_kernel(struct kvm_vcpu *me, int idx);
bool kvm_dy_eligible(struct kvm_vcpu *me, int idx);
int kvm_dy_yield(struct kvm_vcpu *me, int idx);
/*
 * Picks the vCPU @me should yield to and yields. @start is where the scan
 * begins (after the last boosted vCPU), @receiver the target of @me's recent
 * IPI, pending or EOI'd (-1: none). Returns the tier and stores the target
 * in *@target.
 */
enum kvm_dy_tier kvm_vcpu_select_and_yield(struct kvm_vcpu *me, int me_idx, int nr_vcpus,
					   int start, int receiver, bool yield_to_kernel_mode,
					   int *target);
/*
 * The vCPU that last got a tracked IPI from @sender, pending or EOI'd, if
 * sent at most ipi_window_ns before @now; else -1.
 */
int kvm_ipi_tracker_last_receiver(const struct kvm_ipi_ctx *sender, u64 now);

/* Forgets everything about a vCPU: on creation, reset and destruction. */
void kvm_ipi_tracker_reset(struct kvm_ipi_ctx *ctx);
/*
 * Before the delivery @d: records it when it is a unicast fixed IPI between
 * two vCPUs, and returns whether it did. Then kvm_ipi_tracker_delivered().
 */
bool kvm_ipi_tracker_deliver(const struct kvm_ipi_delivery *d);
/* After a recorded delivery: keeps it if @accepted (returns true), else undoes it. */
bool kvm_ipi_tracker_delivered(const struct kvm_ipi_delivery *d, bool accepted);
/*
 * First half of an EOI on the receiver @ctx: forgets and returns who sent it
 * the last tracked IPI (-1: nobody). @accelerated: the EOI did not trap.
 */
int kvm_ipi_tracker_eoi_receiver(struct kvm_ipi_ctx *ctx, bool accelerated);
/*
 * Second half, on that sender: clears its pending IPI if it still points at
 * @receiver_idx, is inside ipi_window_ns at @now and has @vector.
 */
enum kvm_ipi_eoi kvm_ipi_tracker_eoi_sender(struct kvm_ipi_ctx *sender, int receiver_idx,
					    int vector, u64 now);
/* Whether @receiver_idx is the pending, recent IPI target of @sender at @now. */
bool kvm_ipi_tracker_is_receiver(const struct kvm_ipi_ctx *sender, int receiver_idx, u64 now);

/* Module parameters of kvm: ipi_tracking_enabled, ipi_window_ns, enable_relaxed_boost. */
int kvm_ipi_tracking_enabled_set(const char *val, const struct kernel_param *kp);
int kvm_ipi_tracking_enabled_get(char *buf, const struct kernel_param *kp);
int kvm_ipi_window_ns_set(const char *val, const struct kernel_param *kp);
int kvm_ipi_window_ns_get(char *buf, const struct kernel_param *kp);
int kvm_relaxed_boost_set(const char *val, const struct kernel_param *kp);
int kvm_relaxed_boost_get(char *buf, const struct kernel_param *kp);

/* debugfs: /sys/kernel/debug/kvm/ipi_yield_hooks */
void kvm_ipi_tracker_show(struct seq_file *m);
void kvm_vcpu_select_show(struct seq_file *m);
#else
static inline void kvm_ipi_tracker_reset(struct kvm_ipi_ctx *ctx) { }

static inline bool kvm_ipi_tracker_deliver(const struct kvm_ipi_delivery *d)
{
	return false;
}

static inline bool kvm_ipi_tracker_delivered(const struct kvm_ipi_delivery *d, bool accepted)
{
	return false;
}

static inline int kvm_ipi_tracker_eoi_receiver(struct kvm_ipi_ctx *ctx, bool accelerated)
{
	return -1;
}

static inline enum kvm_ipi_eoi kvm_ipi_tracker_eoi_sender(struct kvm_ipi_ctx *sender,
							  int receiver_idx, int vector, u64 now)
{
	return KVM_IPI_EOI_NONE;
}

static inline bool kvm_ipi_tracker_is_receiver(const struct kvm_ipi_ctx *sender,
					       int receiver_idx, u64 now)
{
	return false;
}

static inline enum kvm_dy_tier
kvm_vcpu_select_and_yield(struct kvm_vcpu *me, int me_idx, int nr_vcpus, int start,
			  int receiver, bool yield_to_kernel_mode, int *target)
{
	return KVM_DY_NONE;
}

static inline int kvm_ipi_tracker_last_receiver(const struct kvm_ipi_ctx *sender, u64 now)
{
	return -1;
}
#endif

#endif /* _LINUX_KVM_IPI_YIELD_H */
