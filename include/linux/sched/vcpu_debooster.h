/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interface between the fair class and the Rust vCPU debooster
 * (kernel/sched/vcpu_debooster.rs). The functions are implemented in Rust;
 * rust/bindings/bindings_helper.h includes this header so that #[export]
 * checks every Rust definition against the prototype below.
 */
#ifndef _LINUX_SCHED_VCPU_DEBOOSTER_H
#define _LINUX_SCHED_VCPU_DEBOOSTER_H

#include <linux/types.h>

struct seq_file;

#ifdef CONFIG_SCHED_VCPU_DEBOOSTER
/* Called by yield_to_task_fair() before the yielder forfeits its slice. */
void sched_vcpu_debooster_yield_to(void);

/* debugfs: vcpu_debooster_enabled (0 or 1) and vcpu_debooster_stats. */
int sched_vcpu_debooster_enabled_get(void *data, u64 *val);
int sched_vcpu_debooster_enabled_set(void *data, u64 val);
int sched_vcpu_debooster_stats_show(struct seq_file *m, void *v);

/* Number of yield_to_task_fair() calls that reached the debooster. */
u64 sched_vcpu_debooster_hook_calls(void);
#else
static inline void sched_vcpu_debooster_yield_to(void) { }
#endif

#endif /* _LINUX_SCHED_VCPU_DEBOOSTER_H */
