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

#ifdef CONFIG_KVM_IPI_AWARE_YIELD
/*
 * One interrupt delivery seen by the LAPIC code: @src is the sending vCPU
 * (NULL when KVM itself injects), @accepted how many vCPUs accepted it and
 * @dst the last of them. @slow_path tells the APIC-map miss fallback from
 * the fast path.
 */
void kvm_ipi_tracker_deliver(struct kvm_vcpu *src, struct kvm_vcpu *dst,
			     unsigned int accepted, u32 delivery_mode,
			     u32 shorthand, u32 vector, bool slow_path);
/* @vcpu EOI'd @vector (-1: no vector in service); @accelerated by hardware. */
void kvm_ipi_tracker_eoi(struct kvm_vcpu *vcpu, int vector, bool accelerated);
/* kvm_vcpu_on_spin() was entered by @me. */
void kvm_vcpu_select_on_spin(struct kvm_vcpu *me);

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
static inline void kvm_ipi_tracker_deliver(struct kvm_vcpu *src, struct kvm_vcpu *dst,
					   unsigned int accepted, u32 delivery_mode,
					   u32 shorthand, u32 vector, bool slow_path) { }
static inline void kvm_ipi_tracker_eoi(struct kvm_vcpu *vcpu, int vector,
				       bool accelerated) { }
static inline void kvm_vcpu_select_on_spin(struct kvm_vcpu *me) { }
#endif

#endif /* _LINUX_KVM_IPI_YIELD_H */
