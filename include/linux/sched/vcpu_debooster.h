/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interface between the fair class and the Rust vCPU debooster
 * (kernel/sched/vcpu_debooster/). The functions are implemented in Rust;
 * rust/bindings/bindings_helper.h includes this header, so #[export] checks
 * every Rust definition against its prototype here, and bindgen gives Rust
 * the very structures defined here.
 */
#ifndef _LINUX_SCHED_VCPU_DEBOOSTER_H
#define _LINUX_SCHED_VCPU_DEBOOSTER_H

#include <linux/types.h>

struct seq_file;

/*
 * Event counters of one runqueue. Written by the debooster under the rq
 * lock, read locklessly by the stats file; every access is a single-copy
 * atomic load or store.
 */
struct sched_vcpu_deboost_stats {
	u64 calls;		/* yield_to_task_fair() calls, yielder not alone */
	u64 applied;		/* actions applied (penalties, credits, pushes, ...) */
	u64 credited;		/* ... of which lag credits (lag-credit; handoff cut short) */
	u64 pushed;		/* ... of which proportional pushes (proportional) */
	u64 donated;		/* ... of which donations of the forfeit (donate) */
	u64 handed_off;		/* ... of which hand-offs without the forfeit (handoff) */
	u64 debounced;		/* ... of which the reverse-pair debounce cut */
	u64 rate_limited;	/* refused: an action within the last 6 ms */
	u64 no_contention;	/* refused: the LCA cfs_rq has h_nr_queued <= 1 */
	u64 no_target;		/* refused: no target task */
	u64 self_yield;		/* refused: the yielder is the target */
	u64 target_not_fair;	/* refused: the target is not in the fair class */
	u64 other_rq;		/* refused: the target is on another runqueue */
	u64 not_queued;		/* refused: the yielder or the target is not queued */
	u64 ipi_receiver;	/* calls with the reason YIELD_TO_IPI_RECEIVER */
};

/* Per-runqueue state of the debooster, in struct rq, under the rq lock. */
struct sched_vcpu_deboost_rq {
	u64 last_apply_ns;	/* rq clock of the last action; 0: none yet */
	u64 last_pair_ns;	/* rq clock of the last validated yield */
	pid_t last_yielder;	/* ... its yielder and target; 0: none */
	pid_t last_target;
	u32 reason;		/* enum yield_to_reason of the yield_to() under way */
	struct sched_vcpu_deboost_stats stats;
};

/*
 * What yield_to_task_fair() does for the target of yield_to(), beyond
 * mainline's next buddy and forfeit. Selected at run time through
 * /sys/kernel/debug/sched/vcpu_yield_strategy, and for the yields that give
 * the reason YIELD_TO_IPI_RECEIVER through vcpu_ipi_yield_strategy.
 */
enum sched_vcpu_yield_strategy {
	SCHED_VCPU_YIELD_DEBOOST,	/* push the yielder's vruntime, bounded */
	SCHED_VCPU_YIELD_LAG_CREDIT,	/* credit the target with lag, paid by the yielder */
	SCHED_VCPU_YIELD_PROPORTIONAL,	/* push the yielder by its groups' shares */
	SCHED_VCPU_YIELD_DONATE,	/* give the target what the yielder forfeits */
	SCHED_VCPU_YIELD_HANDOFF,	/* make the target eligible, keep the yielder behind it */
	SCHED_VCPU_YIELD_MAINLINE,	/* nothing more */
	SCHED_VCPU_YIELD_NR,
};

/*
 * Strategy handoff steps a yielder that is past the queue's average, but by
 * less than the target's base slice shifted right by this (a sixteenth), to
 * that point; an eligible one stays where it is.
 */
#define SCHED_VCPU_HANDOFF_STEP_SHIFT	4

/* Levels of the yielder's cgroup hierarchy that strategy proportional weighs. */
#define SCHED_VCPU_PROP_LEVELS	8

/*
 * One level of the yielder's hierarchy, from the bottom: level 0 is the
 * yielder's own entity, level i its i-th ancestor group entity.
 */
struct sched_vcpu_prop_level {
	u64 weight;		/* load.weight of the entity at this level */
	u64 group_weight;	/* load.weight of the cfs_rq that entity is queued on */
};

/*
 * One yield_to() as yield_to_task_fair() sees it. The C hook fills the
 * inputs; the debooster fills the outputs.
 */
struct sched_vcpu_deboost_yield {
	/* Inputs for the gate. */
	u64 now;		/* rq_clock() */
	pid_t yielder_pid;
	pid_t target_pid;	/* 0 when there is no target */
	bool target_fair;	/* the target is in the fair class */
	bool same_rq;		/* ... and on the yielder's runqueue */
	bool yielder_queued;
	bool target_queued;
	/* Inputs for the penalty, once the gate passed. */
	u32 lca_depth;		/* depth of the level where both hierarchies meet */
	u32 h_nr_queued;	/* tasks queued below that level */
	/* Base slice (proportional: the yielder's) in the mover's virtual time. */
	u64 gran;
	u64 yielder_vruntime;	/* lag-credit, handoff: the queue's average vruntime */
	u64 target_vruntime;	/* proportional: the queue's average vruntime */
	/*
	 * Weights in the queue's average vruntime: the yielder's (lag-credit,
	 * handoff, proportional, donate) and the whole queue's (proportional).
	 */
	u64 weight;
	u64 total_weight;
	/* donate, after the forfeit: what the yielder forfeited, in its virtual time */
	u64 forfeit;
	u64 avg_vruntime;	/* donate: the queue's average vruntime after the forfeit */
	u64 target_weight;	/* lag-credit, handoff, donate: the target's weight */
	bool buddy;		/* handoff: the pick takes the target as the next buddy */
	/* lag-credit, handoff: the yielder's vruntime and deadline before its pay */
	u64 own_vruntime;
	u64 own_deadline;
	u64 own_lag_limit;	/* lag-credit, handoff: the most lag EEVDF lets the yielder keep */
	u64 lag_limit;		/* donate: the most lag EEVDF lets the target keep */
	u32 nr_levels;		/* proportional: levels filled in below */
	struct sched_vcpu_prop_level levels[SCHED_VCPU_PROP_LEVELS];
	/* Outputs. */
	u32 strategy;		/* enum sched_vcpu_yield_strategy, from _begin() */
	/* gate: the last valid yield here was target -> yielder, <= 600 us ago */
	bool reverse_pair;
	u64 need;		/* how far the target is ahead in vruntime */
	/* vruntime push of the yielder (deboost, proportional; lag-credit, handoff: its pay) */
	u64 penalty;
	u64 credit;		/* vruntime pull of the target (lag-credit, donate, handoff) */
	/*
	 * handoff: the target ends eligible and the step fits in the yielder's
	 * request, so the yielder does not forfeit: its vruntime moves on by
	 * step, after the pay, and its deadline stays.
	 */
	bool keep_deadline;
	u64 step;
	bool debounced;		/* the reverse-pair debounce cut the penalty */
};

#ifdef CONFIG_SCHED_VCPU_DEBOOSTER
/* Whether a strategy may act: the switch is on and a selected strategy not mainline. */
bool sched_vcpu_deboost_active(void);
/*
 * Brings the static key of yield_to_task_fair()'s hook in line with
 * sched_vcpu_deboost_active(), in kernel/sched/fair.c. The debugfs controls
 * call it after every accepted write.
 */
void sched_vcpu_yield_key_sync(void);
/*
 * Counts the call and returns the strategy to apply to it, given its
 * @reason (enum yield_to_reason); MAINLINE (also when the switch is off):
 * stop, nothing more to do.
 */
enum sched_vcpu_yield_strategy
sched_vcpu_deboost_begin(struct sched_vcpu_deboost_rq *rq_state, u32 reason);
/*
 * For y->strategy from sched_vcpu_deboost_begin(): checks both tasks and the
 * rate limit. True: go on, fill the inputs of y->strategy and call its
 * _decide() function.
 */
bool sched_vcpu_deboost_gate(struct sched_vcpu_deboost_rq *rq_state,
			     struct sched_vcpu_deboost_yield *y);
/* Computes y->penalty (0: none) and records it in @rq_state. */
void sched_vcpu_deboost_decide(struct sched_vcpu_deboost_rq *rq_state,
			       struct sched_vcpu_deboost_yield *y);
/* lag-credit: computes y->credit (0: none) and records it in @rq_state. */
void sched_vcpu_lag_credit_decide(struct sched_vcpu_deboost_rq *rq_state,
				  struct sched_vcpu_deboost_yield *y);
/*
 * donate, after yield_task_fair() forfeited: computes y->credit (0: none),
 * the forfeit scaled to the target's weight and bounded by its lag limit.
 */
void sched_vcpu_donate_decide(struct sched_vcpu_deboost_rq *rq_state,
			      struct sched_vcpu_deboost_yield *y);
/*
 * proportional, after yield_task_fair() forfeited: computes y->penalty
 * (0: none) from y->levels and records it in @rq_state.
 */
void sched_vcpu_proportional_decide(struct sched_vcpu_deboost_rq *rq_state,
				    struct sched_vcpu_deboost_yield *y);
/* The strategy's name, as vcpu_yield_strategy shows it; "unknown" if none. */
const char *sched_vcpu_yield_strategy_name(enum sched_vcpu_yield_strategy strategy);
/*
 * debugfs: vcpu_yield_strategy (@reason YIELD_TO_ANY) and
 * vcpu_ipi_yield_strategy (YIELD_TO_IPI_RECEIVER; it also takes "same":
 * whatever vcpu_yield_strategy selects). Show lists the names, the selected
 * one in [].
 */
void sched_vcpu_yield_strategy_show(struct seq_file *m, u32 reason);
int sched_vcpu_yield_strategy_write(const char *buf, size_t len, u32 reason);
/* Adds the counters of @rq_state to @sum. */
void sched_vcpu_deboost_stats_add(struct sched_vcpu_deboost_stats *sum,
				  const struct sched_vcpu_deboost_rq *rq_state);
/* Sums the counters of all runqueues (kernel/sched/fair.c). */
void sched_vcpu_debooster_read_stats(struct sched_vcpu_deboost_stats *sum);
/* Prints summed counters into the stats file. */
void sched_vcpu_deboost_stats_print(struct seq_file *m,
				    const struct sched_vcpu_deboost_stats *sum);

/* debugfs: vcpu_debooster_enabled (0 or 1). */
int sched_vcpu_debooster_enabled_get(void *data, u64 *val);
int sched_vcpu_debooster_enabled_set(void *data, u64 val);
#endif

#endif /* _LINUX_SCHED_VCPU_DEBOOSTER_H */
