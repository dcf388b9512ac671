// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the C hooks reach the Rust objects, and the run-time controls read,
 * write and reject bad values.
 */
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/kthread.h>
#include <linux/kvm_ipi_yield.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/vcpu_debooster.h>
#include <linux/string.h>
#include <trace/events/sched.h>

#include "../sched/sched.h"

#ifdef CONFIG_SCHED_VCPU_DEBOOSTER

/* The strategies a kernel boots with: of every yield, of yields to an IPI's receiver. */
#define DEFAULT_STRATEGY "donate"
#define DEFAULT_IPI_STRATEGY "handoff"

/* The controls as debugfs writes them: the value, then the hook's static key. */
static int set_enabled(u64 on)
{
	int ret = sched_vcpu_debooster_enabled_set(NULL, on);

	sched_vcpu_yield_key_sync();
	return ret;
}

/* Every strategy's name, in the order of enum sched_vcpu_yield_strategy. */
static const char * const strategy_names[] = {
	"deboost", "lag-credit", "proportional", "donate", "handoff", "mainline"
};

/* The strategy file of @reason, as debugfs writes it. */
static int set_strategy_for(enum yield_to_reason reason, const char *name)
{
	int ret = sched_vcpu_yield_strategy_write(name, strlen(name), reason);

	sched_vcpu_yield_key_sync();
	return ret;
}

static int set_strategy(const char *name)
{
	return set_strategy_for(YIELD_TO_ANY, name);
}

static int set_ipi_strategy(const char *name)
{
	return set_strategy_for(YIELD_TO_IPI_RECEIVER, name);
}

static int spin_until_stopped(void *unused)
{
	while (!kthread_should_stop())
		cond_resched();
	return 0;
}

/*
 * A kthread that spins on the test's CPU, with the test bound there too: it
 * is runnable but not running whenever the test runs, which makes it a valid
 * yield_to() target on the test's own runqueue.
 */
static struct task_struct *start_spinner(struct kunit *test)
{
	unsigned int cpu = raw_smp_processor_id();
	struct task_struct *spinner;

	spinner = kthread_create(spin_until_stopped, NULL, "vcpu_boost_spin");
	KUNIT_ASSERT_FALSE(test, IS_ERR(spinner));
	kthread_bind(spinner, cpu);
	KUNIT_ASSERT_EQ(test, set_cpus_allowed_ptr(current, cpumask_of(cpu)), 0);
	wake_up_process(spinner);
	return spinner;
}

static void stop_spinner(struct task_struct *spinner)
{
	kthread_stop(spinner);
	set_cpus_allowed_ptr(current, cpu_possible_mask);
}

/* What the sched_vcpu_deboost tracepoint saw, for yields to @target. */
struct deboost_seen {
	struct task_struct *target;
	int hits;
	int yielded;		/* yield_to() calls that yielded */
	struct sched_vcpu_deboost_yield y;
	u64 vruntime;	/* the yielder's entity right after the push */
	u64 deadline;
};

static void deboost_probe(void *data, struct task_struct *yielder,
			  struct task_struct *target,
			  const struct sched_vcpu_deboost_yield *y)
{
	struct deboost_seen *seen = data;

	if (target != seen->target)
		return;
	seen->y = *y;
	seen->vruntime = yielder->se.vruntime;
	seen->deadline = yielder->se.deadline;
	seen->hits++;
}

/*
 * Yields to @spinner up to @tries times, 7 ms apart so that the 6 ms rate
 * limit never refuses, and stops at the first penalty @seen records.
 */
static void yield_until_penalised(struct task_struct *spinner,
				  struct deboost_seen *seen, int tries)
{
	seen->target = spinner;
	WARN_ON(register_trace_sched_vcpu_deboost(deboost_probe, seen));
	while (tries-- > 0 && !seen->hits) {
		if (yield_to(spinner, true) > 0)
			seen->yielded++;
		if (!seen->hits)
			usleep_range(7000, 8000);
	}
	unregister_trace_sched_vcpu_deboost(deboost_probe, seen);
	tracepoint_synchronize_unregister();
}

static void yield_to_reaches_debooster(struct kunit *test)
{
	struct sched_vcpu_deboost_stats before, after;
	struct task_struct *spinner = start_spinner(test);
	bool reached = false;
	int i;

	for (i = 0; i < 1000 && !reached; i++) {
		sched_vcpu_debooster_read_stats(&before);
		yield_to(spinner, true);
		sched_vcpu_debooster_read_stats(&after);
		reached = after.calls > before.calls;
	}
	stop_spinner(spinner);
	KUNIT_EXPECT_TRUE(test, reached);
}

/* What one run of yields to a spinner saw. */
struct deboost_run {
	struct deboost_seen seen;
	struct sched_vcpu_deboost_stats before, after;
	pid_t spinner_pid;
	struct sched_vcpu_deboost_yield last;	/* the runqueue's record of the last yield */
};

/*
 * Yields from the test thread to a kthread spinning on its CPU, with
 * strategy @strategy (NULL: the switch off), until the tracepoint sees a
 * penalty or @tries yields were made; records what it saw and the counters
 * around it. The switch and the default strategy are restored after.
 */
static void run_yields(struct kunit *test, const char *strategy, int tries,
		       struct deboost_run *r)
{
	struct task_struct *spinner;
	u64 on;

	if (strategy)
		KUNIT_ASSERT_EQ(test, set_strategy(strategy), 0);
	sched_vcpu_debooster_enabled_get(NULL, &on);
	set_enabled(!!strategy);
	spinner = start_spinner(test);
	r->spinner_pid = spinner->pid;
	sched_vcpu_debooster_read_stats(&r->before);
	yield_until_penalised(spinner, &r->seen, tries);
	sched_vcpu_debooster_read_stats(&r->after);
	scoped_guard(task_rq_lock, spinner)
		r->last = task_rq(spinner)->vcpu_deboost_yield;
	stop_spinner(spinner);
	set_enabled(on);
	set_strategy(DEFAULT_STRATEGY);
}

/*
 * Real tasks on one CPU: the yielder's entity moves by exactly the penalty
 * the debooster computed, its deadline follows from its slice, and the
 * counters record the penalty.
 */
static void deboost_moves_yielder_vruntime_and_deadline(struct kunit *test)
{
	struct deboost_run r = { };

	run_yields(test, "deboost", 50, &r);

	KUNIT_ASSERT_EQ(test, r.seen.hits, 1);
	KUNIT_EXPECT_EQ(test, r.seen.y.yielder_pid, current->pid);
	KUNIT_EXPECT_EQ(test, r.seen.y.target_pid, r.spinner_pid);
	/* Both tasks are in the root group: they meet at the top. */
	KUNIT_EXPECT_EQ(test, r.seen.y.lca_depth, 0U);
	KUNIT_EXPECT_GE(test, r.seen.y.h_nr_queued, 2U);
	KUNIT_EXPECT_GT(test, r.seen.y.penalty, 0ULL);
	KUNIT_EXPECT_LE(test, r.seen.y.penalty, 6 * r.seen.y.gran);
	KUNIT_EXPECT_EQ(test, r.seen.vruntime - r.seen.y.yielder_vruntime, r.seen.y.penalty);
	/* Default slice: deadline = vruntime + the same scaled slice as gran. */
	KUNIT_EXPECT_EQ(test, r.seen.deadline - r.seen.vruntime, r.seen.y.gran);
	KUNIT_EXPECT_GE(test, r.after.applied - r.before.applied, 1ULL);
	KUNIT_EXPECT_GE(test, r.after.calls - r.before.calls, 1ULL);
}

/*
 * With the switch off, the hook's static key keeps yields out of the
 * debooster: not a counter moves.
 */
static void deboost_off_moves_nothing(struct kunit *test)
{
	struct deboost_run r = { };

	run_yields(test, NULL, 5, &r);

	KUNIT_EXPECT_EQ(test, r.seen.yielded, 5);
	KUNIT_EXPECT_EQ(test, r.seen.hits, 0);
	KUNIT_EXPECT_EQ(test, r.after.calls, r.before.calls);
	KUNIT_EXPECT_EQ(test, r.after.applied, r.before.applied);
	KUNIT_EXPECT_EQ(test, r.after.rate_limited, r.before.rate_limited);
	KUNIT_EXPECT_EQ(test, r.after.no_contention, r.before.no_contention);
	KUNIT_EXPECT_EQ(test, r.after.not_queued, r.before.not_queued);
}

/*
 * Strategy proportional yields a share of a slice per level of the
 * yielder's cgroup hierarchy, above the forfeit. A kthread in the root
 * group has no level above it: its yields pass the gate, reach
 * yield_to_proportional() (its record of the last yield has the queue's
 * weight, which only that function fills in) and push nothing.
 */
static void proportional_in_root_group_pushes_nothing(struct kunit *test)
{
	struct deboost_run r = { };

	run_yields(test, "proportional", 5, &r);

	KUNIT_EXPECT_EQ(test, r.seen.yielded, 5);
	KUNIT_EXPECT_EQ(test, r.seen.hits, 0);
	KUNIT_EXPECT_EQ(test, r.after.calls - r.before.calls, 5ULL);
	KUNIT_EXPECT_EQ(test, r.after.applied, r.before.applied);
	KUNIT_EXPECT_EQ(test, r.after.pushed, r.before.pushed);
	/* No refusal: every call passed the gate and found contention. */
	KUNIT_EXPECT_EQ(test, r.after.rate_limited, r.before.rate_limited);
	KUNIT_EXPECT_EQ(test, r.after.no_contention, r.before.no_contention);
	KUNIT_EXPECT_EQ(test, r.after.other_rq, r.before.other_rq);
	KUNIT_EXPECT_EQ(test, r.after.not_queued, r.before.not_queued);
	KUNIT_EXPECT_EQ(test, r.after.no_target, r.before.no_target);
	KUNIT_EXPECT_EQ(test, r.after.self_yield, r.before.self_yield);
	KUNIT_EXPECT_EQ(test, r.after.target_not_fair, r.before.target_not_fair);

	KUNIT_EXPECT_EQ(test, r.last.strategy, (u32)SCHED_VCPU_YIELD_PROPORTIONAL);
	KUNIT_EXPECT_EQ(test, r.last.target_pid, r.spinner_pid);
	KUNIT_EXPECT_GE(test, r.last.h_nr_queued, 2U);
	KUNIT_EXPECT_GT(test, r.last.total_weight, r.last.weight);
	KUNIT_EXPECT_GT(test, r.last.weight, 0ULL);
	KUNIT_EXPECT_EQ(test, r.last.nr_levels, 0U);
	KUNIT_EXPECT_EQ(test, r.last.penalty, 0ULL);
}

/* A donation as the tracepoint saw it, under the rq lock, right after it. */
struct donate_seen {
	struct task_struct *target, *third;
	int hits;
	struct sched_vcpu_deboost_yield y;
	u64 target_vruntime;	/* the target's, after */
	u64 third_vruntime;
	u64 avg;		/* the queue's average vruntime, after */
	u64 yielder_vslice;	/* the yielder's request after the forfeit renewed it */
	u64 weight;		/* the queue's total weight in that average */
};

static void donate_probe(void *data, struct task_struct *yielder,
			 struct task_struct *target,
			 const struct sched_vcpu_deboost_yield *y)
{
	struct donate_seen *seen = data;
	struct cfs_rq *cfs_rq = &task_rq(target)->cfs;

	if (target != seen->target || y->strategy != SCHED_VCPU_YIELD_DONATE || seen->hits)
		return;
	seen->y = *y;
	seen->target_vruntime = target->se.vruntime;
	seen->third_vruntime = seen->third->se.vruntime;
	seen->avg = avg_vruntime(cfs_rq);
	seen->yielder_vslice = yielder->se.deadline - yielder->se.vruntime;
	/* The yielder runs: outside the tree's sums, with the weight y->weight. */
	seen->weight = cfs_rq->sum_weight + y->weight;
	seen->hits++;
}

/*
 * Strategy donate with real tasks on one CPU: the test thread yields to one
 * spinning kthread while a third one waits. The target's vruntime moves
 * back by exactly the donation; the donation, weighted, is what the
 * yielder forfeited (never more, less only by rounding); and the queue's
 * average vruntime, hence the third task's lag, ends where it was before
 * the forfeit: the yielder pays for the target, nobody else does.
 */
static void donate_conserves_the_average(struct kunit *test)
{
	struct task_struct *target = start_spinner(test), *third = start_spinner(test);
	struct donate_seen seen = { .target = target, .third = third };
	struct sched_vcpu_deboost_yield *y = &seen.y;
	s64 lag_before, lag_after, target_lag;
	u64 given, paid, a0;
	int i;

	KUNIT_ASSERT_EQ(test, set_strategy("donate"), 0);
	WARN_ON(register_trace_sched_vcpu_deboost(donate_probe, &seen));
	for (i = 0; i < 200 && !seen.hits; i++) {
		yield_to(target, true);
		if (!seen.hits)
			usleep_range(1000, 2000);
	}
	unregister_trace_sched_vcpu_deboost(donate_probe, &seen);
	tracepoint_synchronize_unregister();
	set_strategy(DEFAULT_STRATEGY);
	kthread_stop(third);
	stop_spinner(target);

	KUNIT_ASSERT_EQ(test, seen.hits, 1);
	KUNIT_EXPECT_EQ(test, y->target_pid, target->pid);
	KUNIT_EXPECT_GT(test, y->forfeit, 0ULL);
	/* What is left of one request can be no more than a whole one. */
	KUNIT_EXPECT_LE(test, y->forfeit, seen.yielder_vslice);
	KUNIT_EXPECT_GT(test, y->credit, 0ULL);
	KUNIT_EXPECT_EQ(test, y->target_vruntime - seen.target_vruntime, y->credit);
	/* Within the lag EEVDF lets the target keep. */
	target_lag = (s64)(y->avg_vruntime - seen.target_vruntime);
	KUNIT_EXPECT_LE(test, target_lag, (s64)y->lag_limit);

	/* Paid by the yielder: never more than it forfeited, weighted. */
	given = y->credit * y->target_weight;
	paid = y->forfeit * y->weight;
	KUNIT_EXPECT_LE(test, given, paid);
	if (target_lag < (s64)y->lag_limit)
		KUNIT_EXPECT_LE(test, paid - given,
				(paid >> 13) + y->target_weight + 2 * y->weight);

	/*
	 * The average before the forfeit: the forfeit moved only the yielder,
	 * by y->forfeit at weight y->weight.
	 */
	a0 = y->avg_vruntime - div64_u64(paid, seen.weight);
	lag_before = (s64)(a0 - seen.third_vruntime);
	lag_after = (s64)(seen.avg - seen.third_vruntime);
	KUNIT_EXPECT_GE(test, lag_after, lag_before - 2);
	if (target_lag < (s64)y->lag_limit)
		KUNIT_EXPECT_LE(test, lag_after - lag_before, (s64)(y->forfeit >> 12) + 3);
}

/* fair.c's protect_slice(): @se's vruntime short of its protected one. */
static bool slice_protected(const struct sched_entity *se)
{
	return (s64)(se->vruntime - se->vprot) < 0;
}

/*
 * A handoff as the tracepoint saw it, under the rq lock, after the credit
 * and the pay and before the step back that replaces the forfeit: the last
 * event, and over all of them how many handed off, how many of those left
 * the target not eligible, stepped by other than the policy says, as far
 * as the deadline or more, left the deadline elsewhere than where the pay
 * put it, or left the yielder's slice protection in place (a re-pick of
 * the yielder would outrank the target's turn), how many needed no credit
 * (the target was eligible already), how many credited the target and how
 * many of those moved the queue's average against the other tasks or by
 * more than the pay's rounding, or left the yielder's deadline further
 * past the average than the lag EEVDF lets it keep (the clamp would hand
 * that debt to the other tasks).
 */
struct handoff_seen {
	struct task_struct *target;
	int hits, handoffs, not_eligible, bad_steps, protected, uncredited;
	int credits, bad_avg, bad_debt;
	struct sched_vcpu_deboost_yield y;
	bool target_eligible;
	bool yielder_eligible;	/* so that mainline's forfeit would act */
	u64 vruntime;		/* the yielder's, after its pay */
	u64 deadline;
	u64 exec;		/* the yielder's sum_exec_runtime */
};

static void handoff_probe(void *data, struct task_struct *yielder,
			  struct task_struct *target,
			  const struct sched_vcpu_deboost_yield *y)
{
	struct handoff_seen *seen = data;
	struct cfs_rq *cfs_rq = &task_rq(target)->cfs;
	s64 moved, step;

	if (target != seen->target || y->strategy != SCHED_VCPU_YIELD_HANDOFF)
		return;
	seen->y = *y;
	seen->target_eligible = entity_eligible(cfs_rq, &target->se);
	seen->yielder_eligible = entity_eligible(cfs_rq, &yielder->se);
	seen->vruntime = yielder->se.vruntime;
	seen->deadline = yielder->se.deadline;
	seen->exec = yielder->se.sum_exec_runtime;
	seen->hits++;
	if (y->keep_deadline) {
		/*
		 * None while the yielder is not past the average before the
		 * credit; else to a sixteenth of a slice past it, or none.
		 */
		step = (s64)(y->yielder_vruntime + (y->gran >> SCHED_VCPU_HANDOFF_STEP_SHIFT) -
			     seen->vruntime);
		if ((s64)(seen->vruntime - y->yielder_vruntime) <= 0)
			step = 0;
		seen->handoffs++;
		if (!seen->target_eligible)
			seen->not_eligible++;
		if (y->step != (step > 0 ? step : 0) ||
		    y->step >= seen->deadline - seen->vruntime ||
		    seen->deadline != y->own_deadline + y->penalty)
			seen->bad_steps++;
		if (slice_protected(&yielder->se))
			seen->protected++;
		if (!y->credit)
			seen->uncredited++;
	}
	if (!y->credit)
		return;
	/* lag-credit's pay: y->yielder_vruntime is the average before it. */
	seen->credits++;
	moved = (s64)(avg_vruntime(cfs_rq) - y->yielder_vruntime);
	if (moved < -1 || moved > (s64)(y->credit >> 12) + 4)
		seen->bad_avg++;
	if ((s64)(seen->deadline - avg_vruntime(cfs_rq)) > (s64)y->own_lag_limit)
		seen->bad_debt++;
}

/* The current task's deadline, vruntime and runtime, read as one. */
static void read_own(u64 *deadline, u64 *vruntime, u64 *exec)
{
	struct rq_flags rf;
	struct rq *rq = task_rq_lock(current, &rf);

	*deadline = current->se.deadline;
	*vruntime = current->se.vruntime;
	*exec = current->se.sum_exec_runtime;
	task_rq_unlock(rq, current, &rf);
}

/*
 * Strategy handoff with real tasks on one CPU: the test thread yields to one
 * spinning kthread while a third one waits. Every credit leaves the queue's
 * average vruntime, hence the third task's lag, where it was, but for the
 * pay's rounding in the third task's favour (the yielder pays for it). A
 * hand-off leaves the target eligible, and the yielder, instead of
 * forfeiting its request, stays where it is while eligible (past the
 * average, it steps back to a sixteenth of a slice past it) and keeps its
 * deadline: when the yield returns, its vruntime has moved on by the step
 * (none for an eligible one) and by what it ran since (the test thread runs
 * at nice 0, where virtual time is run time), where a forfeit would have
 * moved it to its deadline at once, and its deadline is the one it had right
 * after paying, unless it has run to it since (a stalled host CPU can make
 * that happen).
 * The yields go on until one hand-off is sampled that the forfeit would
 * have acted on (the yielder eligible) and that left the yielder at least
 * 200 us of its request after the step, and until a credit was seen.
 */
static void handoff_steps_back(struct kunit *test)
{
	struct task_struct *target = start_spinner(test), *third = start_spinner(test);
	struct sched_vcpu_deboost_stats before, after;
	struct handoff_seen seen = { .target = target }, sample = { };
	u64 deadline = 0, vruntime = 0, exec = 0;
	int i, hits = 0;

	KUNIT_ASSERT_EQ(test, set_strategy("handoff"), 0);
	sched_vcpu_debooster_read_stats(&before);
	WARN_ON(register_trace_sched_vcpu_deboost(handoff_probe, &seen));
	for (i = 0; i < 2000 && !(sample.hits && seen.credits); i++) {
		yield_to(target, true);
		if (sample.hits || seen.hits == hits)
			continue;
		hits = seen.hits;
		if (seen.y.keep_deadline && seen.yielder_eligible &&
		    seen.deadline - (seen.vruntime + seen.y.step) >= 200 * NSEC_PER_USEC) {
			read_own(&deadline, &vruntime, &exec);
			sample = seen;
		}
	}
	unregister_trace_sched_vcpu_deboost(handoff_probe, &seen);
	tracepoint_synchronize_unregister();
	sched_vcpu_debooster_read_stats(&after);
	set_strategy(DEFAULT_STRATEGY);
	kthread_stop(third);
	stop_spinner(target);

	KUNIT_ASSERT_GT(test, sample.hits, 0);
	KUNIT_EXPECT_EQ(test, sample.y.target_pid, target->pid);
	KUNIT_EXPECT_TRUE(test, sample.target_eligible);
	KUNIT_EXPECT_EQ(test, current->se.h_load.weight, (unsigned long)NICE_0_LOAD);
	KUNIT_EXPECT_EQ(test, vruntime - sample.vruntime - sample.y.step, exec - sample.exec);
	if ((s64)(vruntime - sample.deadline) < 0)
		KUNIT_EXPECT_EQ(test, deadline, sample.deadline);
	KUNIT_EXPECT_EQ(test, seen.not_eligible, 0);
	KUNIT_EXPECT_EQ(test, seen.bad_steps, 0);
	KUNIT_EXPECT_EQ(test, seen.protected, 0);
	KUNIT_EXPECT_EQ(test, after.handed_off - before.handed_off, (u64)seen.handoffs);
	KUNIT_ASSERT_GT(test, seen.credits, 0);
	KUNIT_EXPECT_EQ(test, seen.bad_avg, 0);
	KUNIT_EXPECT_EQ(test, seen.bad_debt, 0);
}

/* Whether @p is queued and eligible on its runqueue now. */
static bool task_eligible(struct task_struct *p)
{
	struct rq_flags rf;
	struct rq *rq = task_rq_lock(p, &rf);
	bool eligible = p->se.on_rq && entity_eligible(cfs_rq_of(&p->se), &p->se);

	task_rq_unlock(rq, p, &rf);
	return eligible;
}

/*
 * slice_protected() of the current task, read under its rq lock, on its
 * vruntime as last accounted: the yield brings that up to date first,
 * so a task seen protected here may no longer be at the hook. The test
 * below therefore samples three such hand-offs.
 */
static bool own_slice_protected(void)
{
	struct rq_flags rf;
	struct rq *rq = task_rq_lock(current, &rf);
	bool protected = slice_protected(&current->se);

	task_rq_unlock(rq, current, &rf);
	return protected;
}

/*
 * A hand-off ends the yielder's slice protection also when the target is
 * eligible already and gets no credit: the yielder keeps its place and its
 * deadline, and, still protected and eligible, it would outrank every task
 * but the next buddy at the pick, should another CPU's yield_to() set a
 * different one between the yield and schedule(). The test thread yields to
 * a spinner only while that spinner is eligible (else it sleeps a little,
 * and the two spinners run), until three such hand-offs came from a yielder
 * protected right before it yielded.
 */
static void handoff_ends_slice_protection(struct kunit *test)
{
	struct task_struct *target = start_spinner(test), *third = start_spinner(test);
	struct handoff_seen seen = { .target = target };
	int i, uncredited, sampled = 0;
	bool protected;

	KUNIT_ASSERT_EQ(test, set_strategy("handoff"), 0);
	WARN_ON(register_trace_sched_vcpu_deboost(handoff_probe, &seen));
	for (i = 0; i < 2000 && sampled < 3; i++) {
		if (!task_eligible(target)) {
			usleep_range(200, 400);
			continue;
		}
		uncredited = seen.uncredited;
		protected = own_slice_protected();
		yield_to(target, true);
		if (protected && seen.uncredited > uncredited)
			sampled++;
	}
	unregister_trace_sched_vcpu_deboost(handoff_probe, &seen);
	tracepoint_synchronize_unregister();
	set_strategy(DEFAULT_STRATEGY);
	kthread_stop(third);
	stop_spinner(target);

	KUNIT_ASSERT_GT(test, sampled, 0);
	KUNIT_EXPECT_EQ(test, seen.protected, 0);
	KUNIT_EXPECT_EQ(test, seen.not_eligible, 0);
	KUNIT_EXPECT_EQ(test, seen.bad_steps, 0);
}

/*
 * yield_to_reason() hands its reason to the strategies. With mainline for
 * every yield and deboost for yields to an IPI's receiver, yield_to() calls
 * reach the hook (its key is on for the other reason) and move nothing;
 * the same yields with the reason are penalised. The runqueue forgets the
 * reason after each.
 */
static void ipi_reason_gets_its_strategy(struct kunit *test)
{
	struct sched_vcpu_deboost_stats before, after;
	struct deboost_seen seen = { };
	struct task_struct *spinner;
	int i;

	spinner = start_spinner(test);
	KUNIT_EXPECT_EQ(test, set_strategy("mainline"), 0);
	KUNIT_EXPECT_EQ(test, set_ipi_strategy("deboost"), 0);
	seen.target = spinner;
	WARN_ON(register_trace_sched_vcpu_deboost(deboost_probe, &seen));
	sched_vcpu_debooster_read_stats(&before);
	for (i = 0; i < 10; i++) {
		yield_to(spinner, true);
		usleep_range(7000, 8000);
	}
	sched_vcpu_debooster_read_stats(&after);
	KUNIT_EXPECT_EQ(test, seen.hits, 0);
	KUNIT_EXPECT_GE(test, after.calls - before.calls, 1ULL);
	KUNIT_EXPECT_EQ(test, after.applied, before.applied);
	for (i = 0; i < 50 && !seen.hits; i++) {
		yield_to_reason(spinner, true, YIELD_TO_IPI_RECEIVER);
		KUNIT_EXPECT_EQ(test, cpu_rq(raw_smp_processor_id())->vcpu_deboost.reason,
				(u32)YIELD_TO_ANY);
		if (!seen.hits)
			usleep_range(7000, 8000);
	}
	unregister_trace_sched_vcpu_deboost(deboost_probe, &seen);
	tracepoint_synchronize_unregister();
	KUNIT_EXPECT_EQ(test, set_ipi_strategy("same"), 0);
	KUNIT_EXPECT_EQ(test, set_ipi_strategy(DEFAULT_IPI_STRATEGY), 0);
	set_strategy(DEFAULT_STRATEGY);
	stop_spinner(spinner);

	KUNIT_ASSERT_EQ(test, seen.hits, 1);
	KUNIT_EXPECT_EQ(test, seen.y.strategy, (u32)SCHED_VCPU_YIELD_DEBOOST);
	KUNIT_EXPECT_GT(test, seen.y.penalty, 0ULL);
	KUNIT_EXPECT_EQ(test, seen.vruntime - seen.y.yielder_vruntime, seen.y.penalty);
}

/* Two kthreads on @cpu that hand a token back and forth with yield_to(). */
struct pingpong {
	atomic_t turn;
	bool stop;
	struct task_struct *task[2];
};

static int pingpong_side(void *arg)
{
	struct pingpong *pp = arg;
	int me = current == pp->task[1];

	while (!READ_ONCE(pp->stop)) {
		if (atomic_read(&pp->turn) == me)
			atomic_set(&pp->turn, !me);
		else
			yield_to(pp->task[!me], true);
	}
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/* The actions the tracepoint saw, by strategy and by counter. */
struct actions_seen {
	atomic_t by_strategy[SCHED_VCPU_YIELD_NR];
	atomic_t unknown;	/* a strategy out of range */
	atomic_t credited, handed_off, debounced;
};

static void actions_probe(void *data, struct task_struct *yielder,
			  struct task_struct *target,
			  const struct sched_vcpu_deboost_yield *y)
{
	struct actions_seen *seen = data;

	if (y->strategy >= SCHED_VCPU_YIELD_NR) {
		atomic_inc(&seen->unknown);
		return;
	}
	atomic_inc(&seen->by_strategy[y->strategy]);
	if (y->strategy == SCHED_VCPU_YIELD_DEBOOST && y->debounced)
		atomic_inc(&seen->debounced);
	if (y->strategy == SCHED_VCPU_YIELD_LAG_CREDIT ||
	    y->strategy == SCHED_VCPU_YIELD_HANDOFF)
		atomic_inc(y->keep_deadline ? &seen->handed_off : &seen->credited);
}

/*
 * The strategy and the switch flip thousands of times while two kthreads
 * on another CPU yield to each other: the yield path reads both locklessly
 * and must stay safe. The switch flips every 7 writes of the strategy, so
 * that each of the 6 strategies is selected while the switch is on. The
 * counters agree, action by action, with what the tracepoint saw: every
 * action is traced once, with the strategy that took it, and counted
 * once, by its kind.
 */
static void strategy_switch_under_load(struct kunit *test)
{
	struct sched_vcpu_deboost_stats before, after;
	unsigned int cpu = num_online_cpus() > 1 ? 1 : 0;
	struct actions_seen *seen;
	struct pingpong *pp;
	u64 on, actions = 0;
	int i;

	pp = kunit_kzalloc(test, sizeof(*pp), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pp);
	seen = kunit_kzalloc(test, sizeof(*seen), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, seen);
	for (i = 0; i < 2; i++) {
		pp->task[i] = kthread_create(pingpong_side, pp, "vcpu_boost_pp/%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(pp->task[i]));
		get_task_struct(pp->task[i]);
		kthread_bind(pp->task[i], cpu);
	}
	sched_vcpu_debooster_enabled_get(NULL, &on);
	WARN_ON(register_trace_sched_vcpu_deboost(actions_probe, seen));
	sched_vcpu_debooster_read_stats(&before);
	wake_up_process(pp->task[0]);
	wake_up_process(pp->task[1]);
	for (i = 0; i < 3000; i++) {
		const char *name = strategy_names[i % ARRAY_SIZE(strategy_names)];

		KUNIT_EXPECT_EQ(test, set_strategy(name), 0);
		set_enabled((i / 7) % 2);
		if (i % 100 == 0)
			usleep_range(1000, 2000);
	}
	msleep(20);
	WRITE_ONCE(pp->stop, true);
	for (i = 0; i < 2; i++) {
		kthread_stop(pp->task[i]);
		put_task_struct(pp->task[i]);
	}
	set_strategy(DEFAULT_STRATEGY);
	set_enabled(on);
	sched_vcpu_debooster_read_stats(&after);
	unregister_trace_sched_vcpu_deboost(actions_probe, seen);
	tracepoint_synchronize_unregister();

	for (i = 0; i < SCHED_VCPU_YIELD_NR; i++) {
		actions += atomic_read(&seen->by_strategy[i]);
		kunit_info(test, "%s: %d actions\n", strategy_names[i],
			   atomic_read(&seen->by_strategy[i]));
	}
	KUNIT_EXPECT_GT(test, after.calls, before.calls);
	/* Not all strategies act here (nothing is ahead), but some must. */
	KUNIT_EXPECT_GT(test, actions, 0ULL);
	KUNIT_EXPECT_EQ(test, atomic_read(&seen->unknown), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&seen->by_strategy[SCHED_VCPU_YIELD_MAINLINE]), 0);
	KUNIT_EXPECT_EQ(test, after.applied - before.applied, actions);
	KUNIT_EXPECT_EQ(test, after.credited - before.credited,
			(u64)atomic_read(&seen->credited));
	KUNIT_EXPECT_EQ(test, after.handed_off - before.handed_off,
			(u64)atomic_read(&seen->handed_off));
	KUNIT_EXPECT_EQ(test, after.pushed - before.pushed,
			(u64)atomic_read(&seen->by_strategy[SCHED_VCPU_YIELD_PROPORTIONAL]));
	KUNIT_EXPECT_EQ(test, after.donated - before.donated,
			(u64)atomic_read(&seen->by_strategy[SCHED_VCPU_YIELD_DONATE]));
	KUNIT_EXPECT_EQ(test, after.debounced - before.debounced,
			(u64)atomic_read(&seen->debounced));
}

static void debooster_switch_rejects_bad_values(struct kunit *test)
{
	u64 old, val;

	KUNIT_ASSERT_EQ(test, sched_vcpu_debooster_enabled_get(NULL, &old), 0);
	KUNIT_EXPECT_EQ(test, old, 1ULL);	/* on by default */

	KUNIT_EXPECT_EQ(test, sched_vcpu_debooster_enabled_set(NULL, 0), 0);
	sched_vcpu_debooster_enabled_get(NULL, &val);
	KUNIT_EXPECT_EQ(test, val, 0ULL);

	KUNIT_EXPECT_EQ(test, sched_vcpu_debooster_enabled_set(NULL, 2), -EINVAL);
	sched_vcpu_debooster_enabled_get(NULL, &val);
	KUNIT_EXPECT_EQ(test, val, 0ULL);

	KUNIT_EXPECT_EQ(test, sched_vcpu_debooster_enabled_set(NULL, 1), 0);
	sched_vcpu_debooster_enabled_get(NULL, &val);
	KUNIT_EXPECT_EQ(test, val, 1ULL);

	set_enabled(old);
}

/*
 * The name the tracepoint prints for each strategy selects that very
 * strategy; a value that is no strategy is "unknown".
 */
static void strategy_names_agree(struct kunit *test)
{
	struct sched_vcpu_deboost_rq *st;
	unsigned int i;
	u64 on;

	KUNIT_ASSERT_EQ(test, ARRAY_SIZE(strategy_names), (size_t)SCHED_VCPU_YIELD_NR);
	st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, st);
	sched_vcpu_debooster_enabled_get(NULL, &on);
	set_enabled(1);
	for (i = 0; i < SCHED_VCPU_YIELD_NR; i++) {
		const char *name = sched_vcpu_yield_strategy_name(i);

		KUNIT_EXPECT_STREQ(test, name, strategy_names[i]);
		KUNIT_EXPECT_EQ(test, set_strategy(name), 0);
		KUNIT_EXPECT_EQ(test, (unsigned int)sched_vcpu_deboost_begin(st, YIELD_TO_ANY), i);
	}
	set_strategy(DEFAULT_STRATEGY);
	set_enabled(on);
	KUNIT_EXPECT_EQ(test, st->stats.calls, (u64)SCHED_VCPU_YIELD_NR);
	KUNIT_EXPECT_STREQ(test, sched_vcpu_yield_strategy_name(SCHED_VCPU_YIELD_NR), "unknown");
}
#endif /* CONFIG_SCHED_VCPU_DEBOOSTER */

#if IS_BUILTIN(CONFIG_KVM) && IS_ENABLED(CONFIG_KVM_IPI_AWARE_YIELD)
static char param_buf[PAGE_SIZE];

static const char *param_get(int (*get)(char *, const struct kernel_param *))
{
	int len = get(param_buf, NULL);

	return len > 0 ? param_buf : "";
}

/*
 * A bool parameter and its static key: @off turns both off, @bad is rejected
 * and leaves them off, @on turns them back on, and so does the bare name (no
 * value: a command line's "kvm.<name>"). Ends on.
 */
static void check_bool_param(struct kunit *test,
			     int (*get)(char *, const struct kernel_param *),
			     int (*set)(const char *, const struct kernel_param *),
			     struct static_key *key,
			     const char *off, const char *bad, const char *on)
{
	KUNIT_EXPECT_EQ(test, set(off, NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(get), "N\n");
	KUNIT_EXPECT_FALSE(test, static_key_enabled(key));
	KUNIT_EXPECT_EQ(test, set(bad, NULL), -EINVAL);
	KUNIT_EXPECT_STREQ(test, param_get(get), "N\n");
	KUNIT_EXPECT_FALSE(test, static_key_enabled(key));
	KUNIT_EXPECT_EQ(test, set(on, NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(get), "Y\n");
	KUNIT_EXPECT_TRUE(test, static_key_enabled(key));
	KUNIT_EXPECT_EQ(test, set(off, NULL), 0);
	KUNIT_EXPECT_EQ(test, set(NULL, NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(get), "Y\n");
	KUNIT_EXPECT_TRUE(test, static_key_enabled(key));
}

static void kvm_params_read_write_and_reject(struct kunit *test)
{
	char tracking[4], window[16], hold[16], relaxed[4];

	/* kvm is built in: its parameters share the built-in ones' lock. */
	kernel_param_lock(NULL);
	/* What the boot set, restored at the end. */
	strscpy(tracking, param_get(kvm_ipi_tracking_enabled_get));
	strscpy(window, param_get(kvm_ipi_window_ns_get));
	strscpy(hold, param_get(kvm_ipi_hold_ns_get));
	strscpy(relaxed, param_get(kvm_relaxed_boost_get));
	/* The keys follow the values. */
	KUNIT_EXPECT_EQ(test, static_key_enabled(&kvm_ipi_tracking_key), !strcmp(tracking, "Y\n"));
	KUNIT_EXPECT_EQ(test, static_key_enabled(&kvm_dy_relaxed_key), !strcmp(relaxed, "Y\n"));

	check_bool_param(test, kvm_ipi_tracking_enabled_get, kvm_ipi_tracking_enabled_set,
			 &kvm_ipi_tracking_key.key, "0\n", "perhaps", "Y");

	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("2000000\n", NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_window_ns_get), "2000000\n");
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("0", NULL), -ERANGE);
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("5000000000", NULL), -ERANGE);
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("12ms", NULL), -EINVAL);
	/* Decimal only: kstrtoul()'s base 0 would read these as hex and octal. */
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("0x2faf080", NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set(NULL, NULL), -EINVAL);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_window_ns_get), "2000000\n");
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("03000000", NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_window_ns_get), "3000000\n");

	/* The hold: 0 (off) up to 1 ms. */
	KUNIT_EXPECT_EQ(test, kvm_ipi_hold_ns_set("0\n", NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_hold_ns_get), "0\n");
	KUNIT_EXPECT_EQ(test, kvm_ipi_hold_ns_set("1000000", NULL), 0);
	KUNIT_EXPECT_EQ(test, kvm_ipi_hold_ns_set("1000001", NULL), -ERANGE);
	KUNIT_EXPECT_EQ(test, kvm_ipi_hold_ns_set("-1", NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, kvm_ipi_hold_ns_set(NULL, NULL), -EINVAL);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_hold_ns_get), "1000000\n");

	check_bool_param(test, kvm_relaxed_boost_get, kvm_relaxed_boost_set,
			 &kvm_dy_relaxed_key.key, "off", "2", "on");

	KUNIT_EXPECT_EQ(test, kvm_ipi_tracking_enabled_set(tracking, NULL), 0);
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set(window, NULL), 0);
	KUNIT_EXPECT_EQ(test, kvm_ipi_hold_ns_set(hold, NULL), 0);
	KUNIT_EXPECT_EQ(test, kvm_relaxed_boost_set(relaxed, NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_tracking_enabled_get), tracking);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_window_ns_get), window);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_hold_ns_get), hold);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_relaxed_boost_get), relaxed);
	kernel_param_unlock(NULL);
}
#endif

static struct kunit_case vcpu_boost_hooks_cases[] = {
#ifdef CONFIG_SCHED_VCPU_DEBOOSTER
	KUNIT_CASE(debooster_switch_rejects_bad_values),
	KUNIT_CASE(yield_to_reaches_debooster),
	KUNIT_CASE(deboost_moves_yielder_vruntime_and_deadline),
	KUNIT_CASE(deboost_off_moves_nothing),
	KUNIT_CASE(proportional_in_root_group_pushes_nothing),
	KUNIT_CASE(donate_conserves_the_average),
	KUNIT_CASE(handoff_steps_back),
	KUNIT_CASE(handoff_ends_slice_protection),
	KUNIT_CASE(ipi_reason_gets_its_strategy),
	KUNIT_CASE(strategy_switch_under_load),
	KUNIT_CASE(strategy_names_agree),
#endif
#if IS_BUILTIN(CONFIG_KVM) && IS_ENABLED(CONFIG_KVM_IPI_AWARE_YIELD)
	KUNIT_CASE(kvm_params_read_write_and_reject),
#endif
	{}
};

static struct kunit_suite vcpu_boost_hooks_suite = {
	.name = "vcpu_boost_hooks",
	.test_cases = vcpu_boost_hooks_cases,
};

kunit_test_suite(vcpu_boost_hooks_suite);

MODULE_DESCRIPTION("KUnit tests for the vCPU boost hooks and controls");
MODULE_LICENSE("GPL");
