/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interface between KVM and its Rust IPI-aware directed yield,
 * arch/x86/kvm/ipi_yield/: the IPI tracker records unicast fixed IPIs; the
 * selector adds its steps around mainline's directed-yield scan.
 * The functions and parameter ops are defined in Rust; #[export] checks each
 * definition against these prototypes (see rust/bindings/bindings_helper.h).
 */
#ifndef _LINUX_KVM_IPI_YIELD_H
#define _LINUX_KVM_IPI_YIELD_H

#include <linux/types.h>
#include <linux/jump_label.h>

struct kvm_vcpu;
struct kernel_param;

/*
 * What the IPI tracker knows about one vCPU (in struct kvm_vcpu_arch on x86).
 * Only the IPI tracker reads or writes it, always atomically, and under the
 * vCPU's mutex or before the vCPU is published: it records the IPIs the
 * vCPU sends and reads them back when the vCPU spins, and notes there how
 * often their receiver has halted.
 */
struct kvm_ipi_ctx {
	u64 sent;	/* the last IPI this vCPU sent, packed in one word; 0: none */
	u64 seen;	/* a receiver and its halt count, as this vCPU's last spin saw them */
};

/* Which LAPIC path delivered an interrupt. */
enum kvm_ipi_path {
	KVM_IPI_PATH_FAST,	/* the APIC map */
	KVM_IPI_PATH_SLOW,	/* the fallback that walks every vCPU */
	KVM_IPI_PATH_PV,	/* the PV send-IPI hypercall */
};

/* One interrupt that a vCPU's LAPIC sent and one vCPU accepted. */
struct kvm_ipi_delivery {
	struct kvm_ipi_ctx *src;	/* the sending vCPU's */
	int src_idx;			/* the sender's vcpu_idx */
	int dst_idx;			/* the receiver's */
	unsigned int targets;		/* vCPUs addressed (slow path: that accepted) */
	bool fixed;			/* APIC_DM_FIXED delivery */
	bool shorthand;			/* a destination shorthand (self, all, all-but-self) */
	u32 vector;
	enum kvm_ipi_path path;
};

/* What the IPI-aware steps of directed yield know about a candidate. */
struct kvm_dy_facts {
	bool ready;		/* vcpu->ready: preempted or woken, not yet running */
	bool blocked;		/* blocking, and nothing would make it runnable */
	bool preempted;		/* vcpu->preempted: descheduled while runnable */
	bool other_cpu;		/* it last ran on another host CPU than the spinner */
	bool spinning;		/* in its own kvm_vcpu_on_spin() (in_spin_loop) */
};

/* The most vCPUs the relaxed round tries in one spin. */
#define KVM_DY_RELAXED_MAX	8

/*
 * One spin of kvm_vcpu_on_spin() with IPI-aware directed yield, on the
 * spinner's stack: what its steps before and after mainline's scan share
 * with the scan.
 */
struct kvm_dy_spin {
	int me;				/* the spinner's vcpu_idx */
	int nr_vcpus;			/* online vCPUs of the VM */
	int skip;			/* tried first, skipped by the scan; -1: none */
	int tries;			/* failed yield_to() calls left (mainline's 3) */
	bool pending;			/* the scan's last try had a pending interrupt */
	bool held;			/* kept the CPU for a running receiver: no scan */
	unsigned int nr_passed;
	int passed[KVM_DY_RELAXED_MAX];	/* kept out by the scan only for user mode */
};

/* How kvm_vcpu_on_spin() decided: whom it yielded to, or why nobody. */
enum kvm_dy_tier {
	KVM_DY_NONE,		/* it yielded to nobody */
	KVM_DY_IPI_RECEIVER,	/* the receiver of the spinner's pending IPI */
	KVM_DY_PENDING_IRQ,	/* mainline's scan: a vCPU with a pending interrupt */
	KVM_DY_MAINLINE,	/* mainline's scan: any other vCPU */
	KVM_DY_RELAXED,		/* relaxed round: a vCPU preempted in user mode */
	KVM_DY_HELD,		/* nobody: the receiver of a fresh IPI runs */
};

/* The static keys behind the kvm parameters, switched by their set ops. */
enum kvm_ipi_yield_key {
	KVM_IPI_YIELD_TRACKING,	/* ipi_tracking_enabled */
	KVM_IPI_YIELD_RELAXED,	/* enable_relaxed_boost */
};

#ifdef CONFIG_KVM_IPI_AWARE_YIELD
/* On while ipi_tracking_enabled is: the LAPIC hooks call no Rust while off. */
DECLARE_STATIC_KEY_TRUE(kvm_ipi_tracking_key);
/* On while enable_relaxed_boost is. */
DECLARE_STATIC_KEY_FALSE(kvm_dy_relaxed_key);
void kvm_ipi_yield_set_key(enum kvm_ipi_yield_key key, bool on);

/*
 * For the IPI-aware steps, in kvm_main.c: the candidate at @idx of @me's VM
 * (NULL when there is none), valid while the VM lives, then what is known
 * about it. kvm_dy_facts() reads nothing more about a vCPU that is not
 * ready. kvm_dy_eligible() has mainline's side effect of toggling a spinning
 * candidate's eligibility.
 */
struct kvm_vcpu *kvm_dy_vcpu(struct kvm_vcpu *me, int idx);
void kvm_dy_facts(struct kvm_vcpu *me, struct kvm_vcpu *vcpu, struct kvm_dy_facts *f);
bool kvm_dy_eligible(struct kvm_vcpu *vcpu);
/* kvm_vcpu_yield_to(), telling the scheduler whether @vcpu owes an IPI's answer. */
int kvm_dy_yield(struct kvm_vcpu *vcpu, bool ipi_receiver);
/*
 * By the arch, before mainline's scan: while IPI tracking is on,
 * kvm_dy_receiver_first() with @vcpu's IPI context; -1 otherwise.
 */
int kvm_arch_dy_receiver_first(struct kvm_vcpu *vcpu, struct kvm_dy_spin *dy);
/*
 * By the arch, for the IPI tracker: whether @vcpu has not EOI'd @vector yet
 * (posted to it and not yet in its IRR, in its IRR or in its ISR).
 */
bool kvm_arch_dy_ipi_outstanding(struct kvm_vcpu *vcpu, u32 vector);
/*
 * By the arch, for the hold: whether @vcpu runs, on a host CPU inside
 * KVM_RUN (in the guest, handling an exit, or halt-polling).
 */
bool kvm_arch_dy_running(struct kvm_vcpu *vcpu);
/* By the arch, for the IPI tracker: how often @vcpu has halted (HLT exits). */
u64 kvm_arch_dy_halts(struct kvm_vcpu *vcpu);
/* By the arch: counts kvm_vcpu_on_spin()'s decision @tier in @vcpu's stats. */
void kvm_arch_dy_count(struct kvm_vcpu *vcpu, enum kvm_dy_tier tier);
/*
 * Before mainline's scan: sets @dy->held, so that @me keeps its CPU, while
 * the receiver of the last IPI @me sent (its record in @sender) runs, for
 * ipi_hold_ns after the IPI; otherwise tries that receiver if it still owes
 * the answer (the vector still posted (PIR), in its IRR or in its ISR, sent
 * within ipi_window_ns), was preempted on @me's CPU outside a spin of its
 * own and has not halted since @me last asked about it, and sets @dy->skip
 * if it tried it without a yield. After a scan that yielded to nobody, with
 * enable_relaxed_boost: tries @dy->passed. Each returns the vcpu_idx it
 * yielded to, or -1, and counts failed yields in @dy->tries.
 */
int kvm_dy_receiver_first(struct kvm_vcpu *me, struct kvm_ipi_ctx *sender,
			  struct kvm_dy_spin *dy);
int kvm_dy_relaxed_round(struct kvm_vcpu *me, struct kvm_dy_spin *dy);

/* Forgets everything about a vCPU: on creation and reset. */
void kvm_ipi_tracker_reset(struct kvm_ipi_ctx *ctx);
/*
 * After vCPU @d->src_idx's interrupt was accepted by @d->dst_idx: records it
 * when it is a unicast fixed IPI between two vCPUs; returns whether it did.
 */
bool kvm_ipi_tracker_deliver(const struct kvm_ipi_delivery *d);

/*
 * Module parameters of kvm: ipi_tracking_enabled, ipi_window_ns, ipi_hold_ns,
 * enable_relaxed_boost.
 */
int kvm_ipi_tracking_enabled_set(const char *val, const struct kernel_param *kp);
int kvm_ipi_tracking_enabled_get(char *buf, const struct kernel_param *kp);
int kvm_ipi_window_ns_set(const char *val, const struct kernel_param *kp);
int kvm_ipi_window_ns_get(char *buf, const struct kernel_param *kp);
int kvm_ipi_hold_ns_set(const char *val, const struct kernel_param *kp);
int kvm_ipi_hold_ns_get(char *buf, const struct kernel_param *kp);
int kvm_relaxed_boost_set(const char *val, const struct kernel_param *kp);
int kvm_relaxed_boost_get(char *buf, const struct kernel_param *kp);
#endif /* CONFIG_KVM_IPI_AWARE_YIELD */

#endif /* _LINUX_KVM_IPI_YIELD_H */
