// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu_boost_lock_test: vCPUs that contend one guest spinlock, more vCPUs
 * than host CPUs, while they also send each other unrelated IPIs.
 *
 * Every vCPU takes a test-and-set lock a fixed number of times, spinning
 * with PAUSE while it waits, and does a fixed amount of work inside and
 * outside the lock. Every k-th acquisition it also sends the next vCPU a
 * unicast fixed IPI it never waits for: such an IPI makes its sender a
 * tracked IPI sender while it then spins for the lock. With -m, vCPU 0
 * also sends vCPU 1 an IPI after each of its acquisitions and spins with
 * PAUSE until it is answered, so both kinds of waiting happen in one guest.
 * Each PAUSE that exits takes the spinner into kvm_vcpu_on_spin() (under
 * QEMU's TCG only with kvm_amd.test_pause_exits=1).
 *
 * The run is count-based: it checks that every acquisition happened under
 * mutual exclusion and every round trip was answered, never a speed. It
 * prints one summary line with the directed-yield stats of all vCPUs and how
 * long the run and its work (first acquisition to last release or answer,
 * by the TSC) took, for the host scripts, which judge them.
 *
 * With -t it also says where each directed yield of a lock waiter went: the
 * guest logs (guest TSC, vCPU) of every acquisition and release; the test
 * traces kvm:kvm_dy_select with trace_clock x86-tsc, turns guest TSC into
 * host TSC with each vCPU's TSC offset (KVM_VCPU_TSC_OFFSET, unchanged
 * through the run), and counts the yields whose target held the lock at that
 * instant (holder_yields of lock_yields; free_yields found it free;
 * misplaced_yields, left out, are yields the log has the spinner itself
 * holding the lock at, which only a wrong clock conversion can give).
 * tracked_yields of lock_yields are those the IPI tracker chose (tier
 * ipi_receiver), tracked_holder_yields of them went to the holder: where
 * tracking could take a lock waiter's yield away from the holder. With
 * -m, vCPU 0's yields while it waits for an answer count apart (rt_yields,
 * rt_receiver_yields: to vCPU 1). Every IPI a vCPU sends goes to the next
 * vCPU, so every yield the tracker chose must go there: tracked_elsewhere
 * counts those that did not, of all yields. Tracing needs root and tracefs at
 * /sys/kernel/tracing; the test restores the settings it changes.
 *
 * Usage: vcpu_boost_lock_test [-v vcpus (2..16)] [-n acquisitions per vCPU
 *			       (all vCPUs: at most 10^6)]
 *			       [-k acquisitions per unrelated IPI] [-m] [-t]
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "apic.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "vcpu_boost.h"

#define UNRELATED_VECTOR	0xa8
#define RT_VECTOR		0xa9
#define WAKE_VECTOR		0xaa
#define RT_RECEIVER		1
#define MAX_VCPUS		16
#define MAX_ACQUISITIONS	1000000		/* in all: 24 MB of log */
#define LOG_GPA			0xc0000000ull
#define LOG_SLOT		1
/* Pure work, no PAUSE: only lock and answer waits may reach the host. */
#define CS_LOOPS		2000
#define OUTSIDE_LOOPS		500

/* One critical section, in guest TSC. */
struct lock_entry {
	u64 acquired;
	u64 released;
	u64 vcpu;
};

/* One round trip of vCPU 0 (-m), in guest TSC. */
struct rt_entry {
	u64 start;
	u64 end;
};

/* Guest memory shared by all vCPUs; the settings are written by the host. */
static u32 nr_vcpus;
static u64 nr_acquisitions;
static u64 ipi_every;
static bool mixed;
static struct lock_entry *lock_log;
static struct rt_entry *rt_log;

static u32 lock;
static s32 holder = -1;
static u64 nr_acquired;
static u32 started;
static u32 finished;
static u64 ipis_sent;
static u64 ipis_received;
static u64 rt_answered;

static void unrelated_handler(struct ex_regs *regs)
{
	xapic_write_reg(APIC_EOI, 0);
	__atomic_fetch_add(&ipis_received, 1, __ATOMIC_RELAXED);
}

static void rt_handler(struct ex_regs *regs)
{
	/* EOI first: the next IPI then never overtakes it. */
	xapic_write_reg(APIC_EOI, 0);
	WRITE_ONCE(rt_answered, rt_answered + 1);
}

static void wake_handler(struct ex_regs *regs)
{
	xapic_write_reg(APIC_EOI, 0);
}

static void send_ipi(u32 dest, u32 vector)
{
	xapic_write_reg(APIC_ICR2, SET_APIC_DEST_FIELD(dest));
	xapic_write_reg(APIC_ICR, APIC_DEST_PHYSICAL | APIC_DM_FIXED | vector);
}

static void do_work(u64 loops)
{
	u64 i, x = 0;

	/* The empty asm keeps the compiler from folding the loop away. */
	for (i = 0; i < loops; i++) {
		x += i;
		asm volatile("" : "+r"(x));
	}
}

static void lock_acquire(u32 me)
{
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE)) {
		while (READ_ONCE(lock))
			cpu_relax();
	}
	WRITE_ONCE(holder, me);
	lock_log[nr_acquired].acquired = rdtsc();
	lock_log[nr_acquired].vcpu = me;
}

static void lock_release(void)
{
	lock_log[nr_acquired].released = rdtsc();
	nr_acquired++;
	WRITE_ONCE(holder, -1);
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

static void round_trip(u64 i)
{
	rt_log[i].start = rdtsc();
	send_ipi(RT_RECEIVER, RT_VECTOR);
	while (READ_ONCE(rt_answered) == i)
		cpu_relax();
	rt_log[i].end = rdtsc();
}

static void guest_code(u32 me)
{
	u32 i;

	xapic_enable();
	sti();
	/* No PAUSE here: every vCPU must be able to take IPIs first. */
	__atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
	while (READ_ONCE(started) < nr_vcpus)
		;
	for (i = 0; i < nr_acquisitions; i++) {
		lock_acquire(me);
		do_work(CS_LOOPS);
		lock_release();
		do_work(OUTSIDE_LOOPS);
		if (i % ipi_every == ipi_every - 1) {
			send_ipi((me + 1) % nr_vcpus, UNRELATED_VECTOR);
			__atomic_fetch_add(&ipis_sent, 1, __ATOMIC_RELAXED);
		}
		if (mixed && me == 0)
			round_trip(i);
	}
	/*
	 * Halt until all are done: vCPU 1 must still answer round trips, and
	 * a finished vCPU must not take CPU time from the others. The last
	 * one wakes the rest; IRQs are off between the check and the halt.
	 */
	cli();
	if (__atomic_add_fetch(&finished, 1, __ATOMIC_SEQ_CST) == nr_vcpus) {
		for (i = 0; i < nr_vcpus; i++)
			if (i != me)
				send_ipi(i, WAKE_VECTOR);
	}
	while (READ_ONCE(finished) < nr_vcpus) {
		safe_halt();
		cli();
	}
	sti();
	GUEST_DONE();
}

struct vcpu_thread {
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	pid_t tid;
};

static void *vcpu_thread_main(void *arg)
{
	struct vcpu_thread *t = arg;

	WRITE_ONCE(t->tid, syscall(SYS_gettid));
	vcpu_boost_run_to_done(t->vcpu, "lock vCPU");
	return NULL;
}

#define TRACEFS		"/sys/kernel/tracing/"
#define DY_EVENT	TRACEFS "events/kvm/kvm_dy_select/"
#define TRACE_BUF_KB	"16384"

static char saved_clock[32];
static char saved_buf_kb[32];
static bool trace_changed;

static void tracefs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	TEST_ASSERT(fd >= 0, "open %s: needs root and tracefs", path);
	TEST_ASSERT(write(fd, val, strlen(val)) == (ssize_t)strlen(val),
		    "write '%s' to %s", val, path);
	close(fd);
}

/* Reads the first line of @path into @buf without its newline. */
static void tracefs_read(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	TEST_ASSERT(f, "open %s: needs root and tracefs", path);
	TEST_ASSERT(fgets(buf, size, f), "read %s", path);
	buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static void trace_restore(void)
{
	if (!trace_changed)
		return;
	trace_changed = false;
	tracefs_write(DY_EVENT "enable", "0");
	tracefs_write(DY_EVENT "filter", "0");
	tracefs_write(TRACEFS "trace_clock", saved_clock);
	tracefs_write(TRACEFS "buffer_size_kb", saved_buf_kb);
}

static void trace_start(void)
{
	char clocks[256], buf_kb[64], *l, *r;

	tracefs_read(TRACEFS "trace_clock", clocks, sizeof(clocks));
	l = strchr(clocks, '[');
	r = l ? strchr(l, ']') : NULL;
	TEST_ASSERT(r, "no current clock in trace_clock: %s", clocks);
	*r = 0;
	snprintf(saved_clock, sizeof(saved_clock), "%s", l + 1);
	/* An unused buffer reads "7 (expanded: 1408)": restore the size it gets. */
	tracefs_read(TRACEFS "buffer_size_kb", buf_kb, sizeof(buf_kb));
	l = strstr(buf_kb, "expanded: ");
	snprintf(saved_buf_kb, sizeof(saved_buf_kb), "%lu",
		 strtoul(l ? l + strlen("expanded: ") : buf_kb, NULL, 10));

	/* Also when the test fails: TEST_ASSERT() exits. */
	trace_changed = true;
	atexit(trace_restore);
	tracefs_write(TRACEFS "trace_clock", "x86-tsc");
	tracefs_write(TRACEFS "buffer_size_kb", TRACE_BUF_KB);
	/* Decisions without a target are not yields; they only fill the buffer. */
	tracefs_write(DY_EVENT "filter", "target >= 0");
	tracefs_write(TRACEFS "trace", "");
	tracefs_write(DY_EVENT "enable", "1");
}

/* Fails the test when any CPU's trace buffer lost events. */
static void trace_stop(void)
{
	char path[64], line[128];
	unsigned long long overrun;
	int cpu, n = 0;
	FILE *f;

	tracefs_write(DY_EVENT "enable", "0");
	for (cpu = 0; ; cpu++) {
		snprintf(path, sizeof(path), TRACEFS "per_cpu/cpu%d/stats", cpu);
		f = fopen(path, "r");
		if (!f)
			break;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "overrun: %llu", &overrun) == 1) {
				TEST_ASSERT(!overrun,
					    "trace buffer of CPU %d overran: %llu events lost",
					    cpu, overrun);
				n++;
			}
		fclose(f);
	}
	TEST_ASSERT(n > 0, "no per-CPU trace buffer stats");
}

/* Where the yields of lock waiters went, from the trace. */
struct holder_counts {
	u64 lock_yields;
	u64 holder_yields;
	u64 free_yields;
	u64 tracked_yields;
	u64 tracked_holder_yields;
	u64 misplaced;
	u64 rt_yields;
	u64 rt_receiver_yields;
	u64 tracked_elsewhere;
	u64 other_events;
};

/*
 * One kvm_dy_select line: "<comm>-<tid> [cpu] <flags> <tsc>: kvm_dy_select:
 * vcpu V target T tier NAME". Returns false for any other line; @tracked
 * says whether the IPI tracker chose the target.
 */
static bool parse_dy_line(const char *line, pid_t *tid, u64 *tsc, u32 *vcpu, int *target,
			  bool *tracked)
{
	const char *ev = strstr(line, ": kvm_dy_select: ");
	const char *p, *br = strchr(line, '[');
	char tier[16];

	if (!ev || !br || br > ev)
		return false;
	if (sscanf(ev, ": kvm_dy_select: vcpu %u target %d tier %15s", vcpu, target, tier) != 3)
		return false;
	*tracked = !strcmp(tier, "ipi_receiver");
	for (p = ev; p > br && p[-1] >= '0' && p[-1] <= '9'; p--)
		;
	*tsc = strtoull(p, NULL, 10);
	for (p = br; p > line && p[-1] == ' '; p--)
		;
	while (p > line && p[-1] != '-')
		p--;
	if (p == line)
		return false;
	*tid = atoi(p);
	return true;
}

/*
 * How many of the @n entries of @size bytes at @log start at or before
 * guest TSC @t, their start being the u64 at @start in each: entries are
 * logged in order, so their starts ascend.
 */
static u64 started_by(const void *log, size_t size, size_t start, u64 n, u64 t)
{
	u64 lo = 0, hi = n;

	while (lo < hi) {
		u64 mid = lo + (hi - lo) / 2;
		u64 s;

		memcpy(&s, (const char *)log + mid * size + start, sizeof(s));
		if (s <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The critical section that covers guest TSC @t, or NULL: the lock was free. */
static struct lock_entry *holder_at(struct lock_entry *log, u64 n, u64 t)
{
	u64 k = started_by(log, sizeof(*log), offsetof(struct lock_entry, acquired), n, t);

	if (!k || t >= log[k - 1].released)
		return NULL;
	return &log[k - 1];
}

static bool in_round_trip(struct rt_entry *log, u64 n, u64 t)
{
	u64 k = started_by(log, sizeof(*log), offsetof(struct rt_entry, start), n, t);

	return k && t < log[k - 1].end;
}

/*
 * Counts where the traced yields of this VM went. @log and @rts are in host
 * TSC by now, like the trace.
 */
static struct holder_counts count_holder_yields(struct vcpu_thread *threads,
						struct lock_entry *log, u64 n_log,
						struct rt_entry *rts, u64 n_rt)
{
	struct holder_counts c = {};
	struct lock_entry *e;
	size_t cap = 0;
	char *line = NULL;
	bool tracked;
	int target;
	pid_t tid;
	u64 t;
	FILE *f;
	u32 v;

	f = fopen(TRACEFS "trace", "r");
	TEST_ASSERT(f, "open " TRACEFS "trace");
	while (getline(&line, &cap, f) > 0) {
		if (line[0] == '#' || !parse_dy_line(line, &tid, &t, &v, &target, &tracked))
			continue;
		/* Only this VM's vCPU threads, each under its own vCPU id. */
		if (v >= nr_vcpus || threads[v].tid != tid || target < 0) {
			c.other_events++;
			continue;
		}
		/* The tracker names the receiver of the vCPU's last IPI. */
		c.tracked_elsewhere += tracked && (u32)target != (v + 1) % nr_vcpus;
		if (mixed && v == 0 && in_round_trip(rts, n_rt, t)) {
			c.rt_yields++;
			c.rt_receiver_yields += target == RT_RECEIVER;
			continue;
		}
		e = holder_at(log, n_log, t);
		/* A waiter never holds the lock: the clocks disagree there. */
		if (e && e->vcpu == v) {
			c.misplaced++;
			continue;
		}
		c.lock_yields++;
		c.tracked_yields += tracked;
		if (!e) {
			c.free_yields++;
		} else if (e->vcpu == (u64)target) {
			c.holder_yields++;
			c.tracked_holder_yields += tracked;
		}
	}
	free(line);
	fclose(f);
	return c;
}

/*
 * Host TSC ticks from the first acquisition to the last release or answer:
 * the guest's work, without the vCPUs' start and meeting.
 */
static u64 work_span(const struct lock_entry *log, u64 total, const struct rt_entry *rts,
		     u64 nr_rts, const s64 *offset)
{
	u64 i, first = ~0ull, last = 0, t;

	for (i = 0; i < total; i++) {
		t = log[i].acquired - offset[log[i].vcpu];
		first = t < first ? t : first;
		t = log[i].released - offset[log[i].vcpu];
		last = t > last ? t : last;
	}
	for (i = 0; i < nr_rts; i++) {
		t = rts[i].end - offset[0];
		last = t > last ? t : last;
	}
	TEST_ASSERT(total && last > first, "no acquisitions logged in order");
	return last - first;
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	struct vcpu_thread threads[MAX_VCPUS];
	s64 offset[MAX_VCPUS];
	struct holder_counts hc;
	struct lock_entry *log;
	struct rt_entry *rts;
	struct timespec t0, t1;
	bool trace = false;
	struct kvm_vm *vm;
	u64 i, total, ns, work, log_pages;
	int opt;

	nr_vcpus = 4;
	nr_acquisitions = 1000;
	ipi_every = 4;
	while ((opt = getopt(argc, argv, "v:n:k:mt")) != -1) {
		if (vcpu_boost_parse_opt(opt, &nr_vcpus, &nr_acquisitions))
			continue;
		switch (opt) {
		case 'k':
			ipi_every = strtoull(optarg, NULL, 0);
			break;
		case 'm':
			mixed = true;
			break;
		case 't':
			trace = true;
			break;
		default:
			exit(KSFT_FAIL);
		}
	}
	TEST_ASSERT(nr_vcpus >= 2 && nr_vcpus <= MAX_VCPUS, "vCPUs must be 2..%d", MAX_VCPUS);
	TEST_ASSERT(nr_acquisitions >= 1 && nr_vcpus * nr_acquisitions <= MAX_ACQUISITIONS,
		    "acquisitions per vCPU must be 1..%u", MAX_ACQUISITIONS / nr_vcpus);
	TEST_ASSERT(ipi_every >= 1, "-k must be at least 1");
	total = nr_vcpus * nr_acquisitions;

	/*
	 * The logs get a memslot of their own, mapped 1:1; the default memory
	 * has room for their page tables only.
	 */
	log_pages = (total * sizeof(*log) + nr_acquisitions * sizeof(*rts) +
		     PAGE_SIZE - 1) / PAGE_SIZE;
	vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, nr_vcpus, log_pages / 512 + 8,
				    guest_code, vcpus);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, LOG_GPA, LOG_SLOT, log_pages, 0);
	virt_map(vm, LOG_GPA, LOG_GPA, log_pages);
	log = addr_gpa2hva(vm, LOG_GPA);
	rts = (struct rt_entry *)&log[total];
	lock_log = (struct lock_entry *)LOG_GPA;
	rt_log = (struct rt_entry *)(LOG_GPA + total * sizeof(*log));
	for (i = 0; i < nr_vcpus; i++)
		vcpu_args_set(vcpus[i], 1, (u64)i);
	vm_install_exception_handler(vm, UNRELATED_VECTOR, unrelated_handler);
	vm_install_exception_handler(vm, RT_VECTOR, rt_handler);
	vm_install_exception_handler(vm, WAKE_VECTOR, wake_handler);
	virt_pg_map(vm, APIC_DEFAULT_GPA, APIC_DEFAULT_GPA);

	sync_global_to_guest(vm, nr_vcpus);
	sync_global_to_guest(vm, nr_acquisitions);
	sync_global_to_guest(vm, ipi_every);
	sync_global_to_guest(vm, mixed);
	sync_global_to_guest(vm, lock_log);
	sync_global_to_guest(vm, rt_log);

	for (i = 0; i < nr_vcpus; i++)
		offset[i] = vcpu_boost_tsc_offset(vcpus[i]);
	if (trace)
		trace_start();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nr_vcpus; i++) {
		threads[i].vcpu = vcpus[i];
		kvm_pthread_create(&threads[i].thread, NULL, vcpu_thread_main, &threads[i]);
	}
	for (i = 0; i < nr_vcpus; i++)
		kvm_pthread_join(threads[i].thread, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (t1.tv_sec - t0.tv_sec) * 1000000000ull + t1.tv_nsec - t0.tv_nsec;

	if (trace)
		trace_stop();
	/* An offset that moved (TSC adjusted on vCPU load) would misplace yields. */
	for (i = 0; i < nr_vcpus; i++)
		TEST_ASSERT(vcpu_boost_tsc_offset(vcpus[i]) == offset[i],
			    "vCPU %llu: guest TSC offset moved during the run",
			    (unsigned long long)i);

	sync_global_from_guest(vm, nr_acquired);
	sync_global_from_guest(vm, ipis_sent);
	sync_global_from_guest(vm, ipis_received);
	sync_global_from_guest(vm, rt_answered);
	/* A lost update of nr_acquired would mean two holders at once. */
	TEST_ASSERT_EQ(nr_acquired, total);
	TEST_ASSERT_EQ(ipis_sent, nr_vcpus * (nr_acquisitions / ipi_every));
	TEST_ASSERT(ipis_received <= ipis_sent, "more IPIs received than sent");
	TEST_ASSERT_EQ(rt_answered, mixed ? nr_acquisitions : 0);
	work = vcpu_boost_tsc_ns(vcpus[0], work_span(log, total, rts, rt_answered, offset));

	/* One line, in parts; the host scripts read it as key=value pairs. */
	printf("vcpu_boost_lock_test: vcpus=%u acquisitions=%llu mixed=%d", nr_vcpus,
	       (unsigned long long)total, mixed);
	printf(" ipis=%llu ipis_received=%llu round_trips=%llu", (unsigned long long)ipis_sent,
	       (unsigned long long)ipis_received, (unsigned long long)rt_answered);
	vcpu_boost_print_stat("dy_on_spin", vcpus, 0, nr_vcpus - 1);
	vcpu_boost_print_stat("dy_ipi_receiver", vcpus, 0, nr_vcpus - 1);
	vcpu_boost_print_stat("dy_pending_irq", vcpus, 0, nr_vcpus - 1);
	vcpu_boost_print_stat("dy_mainline", vcpus, 0, nr_vcpus - 1);
	vcpu_boost_print_stat("dy_relaxed", vcpus, 0, nr_vcpus - 1);
	vcpu_boost_print_stat("dy_held", vcpus, 0, nr_vcpus - 1);
	vcpu_boost_print_stat("dy_no_target", vcpus, 0, nr_vcpus - 1);
	vcpu_boost_print_stat("ipi_tracked", vcpus, 0, nr_vcpus - 1);

	if (trace) {
		for (i = 0; i < total; i++) {
			log[i].acquired -= offset[log[i].vcpu];
			log[i].released -= offset[log[i].vcpu];
		}
		for (i = 0; i < rt_answered; i++) {
			rts[i].start -= offset[0];
			rts[i].end -= offset[0];
		}
		hc = count_holder_yields(threads, log, total, rts, rt_answered);
		trace_restore();
		printf(" lock_yields=%llu holder_yields=%llu free_yields=%llu",
		       (unsigned long long)hc.lock_yields, (unsigned long long)hc.holder_yields,
		       (unsigned long long)hc.free_yields);
		printf(" tracked_yields=%llu tracked_holder_yields=%llu",
		       (unsigned long long)hc.tracked_yields,
		       (unsigned long long)hc.tracked_holder_yields);
		if (mixed)
			printf(" rt_yields=%llu rt_receiver_yields=%llu",
			       (unsigned long long)hc.rt_yields,
			       (unsigned long long)hc.rt_receiver_yields);
		printf(" tracked_elsewhere=%llu misplaced_yields=%llu other_events=%llu",
		       (unsigned long long)hc.tracked_elsewhere, (unsigned long long)hc.misplaced,
		       (unsigned long long)hc.other_events);
	}
	printf(" ns=%llu work_ns=%llu\n", (unsigned long long)ns, (unsigned long long)work);
	kvm_vm_free(vm);
	return 0;
}
