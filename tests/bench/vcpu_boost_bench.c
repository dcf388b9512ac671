// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel benchmarks of directed yield: kthreads on one CPU that hand a
 * token back and forth, or contend for a test-and-set lock, and that help
 * the task they wait for only through yield_to(), as a spinning vCPU does.
 * Test kernels only. scripts/guest/bench.sh writes a scenario to
 * /sys/kernel/debug/vcpu_boost_bench/run and reads the result back:
 *
 *   pingpong HOGS MS [PID [HOG_PID]]
 *                      two tasks pass a token; each spins 20 times before it
 *                      yields to the other; HOGS CPU-bound tasks share the CPU
 *   lock THREADS MS [PID [HOGS [HOG_PID]]]
 *                      THREADS tasks take a lock, hold it for 200 pause loops
 *                      and stay out for 50; a waiter yields to the holder
 *                      after 20 spins; HOGS CPU-bound tasks share the CPU
 *   lockall THREADS MS [PID]
 *                      the same, with the tasks spread over all online CPUs
 *                      (task i on the i-th CPU, round robin)
 *   spin THREADS MS [PID [HOGS [HOG_PID]]]
 *                      THREADS tasks that spin and never yield, next to HOGS
 *                      hogs: the CPU shares the scheduler gives the hogs
 *                      when nobody yields, the reference of the others
 *
 * With PID, the workers join the cgroups of that task, and the hogs those
 * of HOG_PID (default: PID): that is how a run places its kthreads in a
 * cgroup hierarchy. Without, they stay in the root groups.
 *
 * The result is one line of counts over the run: handoffs or critical
 * sections and yield_to() calls (not for spin), the run's length and the
 * hogs' CPU time, all in ns of sched_clock.
 */
#include <linux/atomic.h>
#include <linux/cgroup.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define SPINS_BEFORE_YIELD	20
#define HOLD_LOOPS		200
#define OUTSIDE_LOOPS		50
#define MAX_TASKS		16

struct bench;

struct bench_task {
	struct bench *b;
	struct task_struct *task;
	int id;
	u64 work;	/* handoffs or critical sections */
	u64 yields;	/* yield_to() calls */
};

struct bench {
	bool stop;
	atomic_t turn;			/* ping-pong: whose turn */
	atomic_t lock;			/* lock: 0 free, else holder id + 1 */
	struct task_struct *holder;	/* lock: the holder, for yield_to() */
	int nr;				/* worker tasks */
	int nr_hogs;
	bool all_cpus;			/* spread the workers over all online CPUs */
	pid_t cg_pid[2];		/* join the cgroups of: workers, hogs; 0: stay */
	struct bench_task t[MAX_TASKS];
};

/* Moves @task into the cgroups of the task @pid (0: leaves it where it is). */
static int bench_place(struct task_struct *task, pid_t pid)
{
	struct task_struct *from;
	int ret;

	if (!pid)
		return 0;
	from = find_get_task_by_vpid(pid);
	if (!from)
		return -ESRCH;
	ret = cgroup_attach_task_all(from, task);
	put_task_struct(from);
	return ret;
}

/* Workers join the cgroups of @pid[0], hogs those of @pid[1], else @pid[0]. */
static void bench_cgroups(struct bench *b, const int pid[2])
{
	b->cg_pid[0] = max(pid[0], 0);
	b->cg_pid[1] = pid[1] > 0 ? pid[1] : b->cg_pid[0];
}

static DEFINE_MUTEX(bench_mutex);
static char bench_result[256];

/* After the run: wait, still alive, until the controller stops us. */
static void bench_park(void)
{
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
}

static int pingpong_fn(void *arg)
{
	struct bench_task *me = arg;
	struct bench *b = me->b;
	struct task_struct *other = b->t[!me->id].task;
	unsigned int spins;

	while (!READ_ONCE(b->stop)) {
		spins = 0;
		while (atomic_read(&b->turn) != me->id && !READ_ONCE(b->stop)) {
			if (++spins < SPINS_BEFORE_YIELD) {
				cpu_relax();
				continue;
			}
			spins = 0;
			yield_to(other, true);
			me->yields++;
		}
		me->work++;
		atomic_set(&b->turn, !me->id);
	}
	bench_park();
	return 0;
}

static int lock_fn(void *arg)
{
	struct bench_task *me = arg;
	struct bench *b = me->b;
	struct task_struct *holder;
	unsigned int spins, i;

	while (!READ_ONCE(b->stop)) {
		spins = 0;
		while (atomic_cmpxchg(&b->lock, 0, me->id + 1) != 0) {
			if (READ_ONCE(b->stop))
				goto out;
			if (++spins < SPINS_BEFORE_YIELD) {
				cpu_relax();
				continue;
			}
			spins = 0;
			holder = READ_ONCE(b->holder);
			if (holder) {
				yield_to(holder, true);
				me->yields++;
			}
		}
		WRITE_ONCE(b->holder, me->task);
		for (i = 0; i < HOLD_LOOPS; i++)
			cpu_relax();
		me->work++;
		WRITE_ONCE(b->holder, NULL);
		atomic_set(&b->lock, 0);
		for (i = 0; i < OUTSIDE_LOOPS; i++)
			cpu_relax();
	}
out:
	bench_park();
	return 0;
}

static int hog_fn(void *arg)
{
	struct bench *b = ((struct bench_task *)arg)->b;

	while (!READ_ONCE(b->stop))
		cpu_relax();
	bench_park();
	return 0;
}

/*
 * Runs @nr workers of @fn and @nr_hogs hogs for @ms, all on one CPU, or
 * with b->all_cpus round robin over the online CPUs.
 */
static int bench_run(struct bench *b, int (*fn)(void *), int nr, int nr_hogs,
		     unsigned int ms, u64 *work, u64 *yields, u64 *ns, u64 *hog_ns)
{
	int cpu = num_online_cpus() > 1 ? 1 : 0;
	u64 hog_total = 0, start;
	int i, err, n = nr + nr_hogs;

	if (nr < 1 || nr_hogs < 0 || n > MAX_TASKS || !ms || ms > 60000)
		return -EINVAL;
	b->nr = nr;
	b->nr_hogs = nr_hogs;
	for (i = 0; i < n; i++) {
		struct bench_task *t = &b->t[i];

		t->b = b;
		t->id = i;
		t->task = kthread_create(i < nr ? fn : hog_fn, t, "vb_bench/%d", i);
		err = PTR_ERR_OR_ZERO(t->task);
		if (!err) {
			/* Tasks yield to each other: keep them until all are stopped. */
			get_task_struct(t->task);
			kthread_bind(t->task, b->all_cpus ?
				     cpumask_nth(i % num_online_cpus(), cpu_online_mask) : cpu);
			err = bench_place(t->task, b->cg_pid[i >= nr]);
			if (err)
				i++;
		}
		if (err) {
			WRITE_ONCE(b->stop, true);
			while (--i >= 0) {
				wake_up_process(b->t[i].task);
				kthread_stop(b->t[i].task);
				put_task_struct(b->t[i].task);
			}
			return err;
		}
	}
	start = sched_clock();
	for (i = 0; i < n; i++)
		wake_up_process(b->t[i].task);
	msleep(ms);
	for (i = nr; i < n; i++)
		hog_total += b->t[i].task->se.sum_exec_runtime;
	WRITE_ONCE(b->stop, true);
	*ns = sched_clock() - start;
	*hog_ns = hog_total;
	for (i = 0; i < n; i++)
		kthread_stop(b->t[i].task);
	*work = 0;
	*yields = 0;
	for (i = 0; i < n; i++) {
		if (i < nr) {
			*work += b->t[i].work;
			*yields += b->t[i].yields;
		}
		put_task_struct(b->t[i].task);
	}
	return 0;
}

static ssize_t run_write(struct file *file, const char __user *ubuf, size_t len,
			 loff_t *ppos)
{
	u64 work, yields, ns, hog_ns;
	int ret, pid[2] = { 0, 0 };
	unsigned int a, ms, hogs = 0;
	struct bench *b;
	char buf[64];

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;

	b = kzalloc_obj(*b);
	if (!b)
		return -ENOMEM;
	mutex_lock(&bench_mutex);
	if (sscanf(buf, "pingpong %u %u %d %d", &a, &ms, &pid[0], &pid[1]) >= 2) {
		bench_cgroups(b, pid);
		ret = bench_run(b, pingpong_fn, 2, a, ms, &work, &yields, &ns, &hog_ns);
		if (!ret)
			snprintf(bench_result, sizeof(bench_result),
				 "pingpong hogs=%u handoffs=%llu yields=%llu ns=%llu hog_ns=%llu\n",
				 a, work, yields, ns, hog_ns);
	} else if (sscanf(buf, "spin %u %u %d %u %d", &a, &ms, &pid[0], &hogs, &pid[1]) >= 2) {
		bench_cgroups(b, pid);
		ret = bench_run(b, hog_fn, a, hogs, ms, &work, &yields, &ns, &hog_ns);
		if (!ret)
			snprintf(bench_result, sizeof(bench_result),
				 "spin threads=%u hogs=%u ns=%llu hog_ns=%llu\n",
				 a, b->nr_hogs, ns, hog_ns);
	} else if (sscanf(buf, "lock %u %u %d %u %d", &a, &ms, &pid[0], &hogs, &pid[1]) >= 2 ||
		   sscanf(buf, "lockall %u %u %d", &a, &ms, &pid[0]) >= 2) {
		b->all_cpus = str_has_prefix(buf, "lockall");
		bench_cgroups(b, pid);
		ret = bench_run(b, lock_fn, a, b->all_cpus ? 0 : hogs, ms, &work, &yields, &ns,
				&hog_ns);
		if (!ret)
			snprintf(bench_result, sizeof(bench_result),
				 "%s threads=%u hogs=%u cs=%llu yields=%llu ns=%llu hog_ns=%llu\n",
				 b->all_cpus ? "lockall" : "lock", a, b->nr_hogs, work, yields,
				 ns, hog_ns);
	} else {
		ret = -EINVAL;
	}
	mutex_unlock(&bench_mutex);
	kfree(b);
	return ret ? ret : len;
}

static ssize_t run_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&bench_mutex);
	ret = simple_read_from_buffer(ubuf, len, ppos, bench_result, strlen(bench_result));
	mutex_unlock(&bench_mutex);
	return ret;
}

static const struct file_operations run_fops = {
	.write = run_write,
	.read = run_read,
	.llseek = default_llseek,
};

static int __init vcpu_boost_bench_init(void)
{
	struct dentry *dir = debugfs_create_dir("vcpu_boost_bench", NULL);

	debugfs_create_file("run", 0600, dir, NULL, &run_fops);
	return 0;
}
late_initcall(vcpu_boost_bench_init);

MODULE_DESCRIPTION("In-kernel benchmarks of directed yield (test kernels only)");
MODULE_LICENSE("GPL");
