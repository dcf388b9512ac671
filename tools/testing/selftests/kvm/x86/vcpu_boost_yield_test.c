// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu_boost_yield_test: directed yields through the real KVM path, from
 * vCPU threads placed in chosen cgroups.
 *
 * vCPU 0 issues KVM_HC_SCHED_YIELD hypercalls naming vCPU 1 as the target;
 * KVM turns each one into yield_to() on vCPU 1's thread. vCPU 1 spins. Both
 * vCPU threads, and an optional crowd of spinning host threads, are pinned
 * to one CPU, so that the target is queued on the yielder's runqueue. Each
 * vCPU thread can be moved into a cgroup v2 directory of a threaded subtree
 * first, which sets where the two tasks' hierarchies meet.
 *
 * The test checks only that both vCPUs finish. The host scripts compare the
 * scheduler's sched_vcpu_deboost trace events for the printed thread IDs
 * with the placement they chose.
 *
 * Usage: vcpu_boost_yield_test [-y cgroup] [-t cgroup] [-c crowd] [-p cpu]
 *        [-m milliseconds]
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "apic.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "vcpu_boost.h"

#define TARGET_APIC_ID	1
#define MAX_CROWD	8

/* Guest memory shared by both vCPUs. */
static bool stop;
static u64 nr_hypercalls;

static void yielder_code(void)
{
	GUEST_SYNC(0);
	xapic_enable();
	while (!READ_ONCE(stop)) {
		kvm_hypercall(KVM_HC_SCHED_YIELD, TARGET_APIC_ID, 0, 0, 0);
		WRITE_ONCE(nr_hypercalls, nr_hypercalls + 1);
	}
	GUEST_DONE();
}

static void target_code(void)
{
	GUEST_SYNC(0);
	xapic_enable();
	while (!READ_ONCE(stop))
		cpu_relax();
	GUEST_DONE();
}

static int pin_cpu;
static pthread_barrier_t start;
static bool crowd_stop;

struct vcpu_thread {
	struct kvm_vcpu *vcpu;
	const char *cgroup;	/* NULL: stay in the process's cgroup */
	pid_t tid;
};

/* Pins the calling thread to @cpu. */
static void pin_self(int cpu)
{
	cpu_set_t set;
	int r;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	r = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	TEST_ASSERT(!r, "pinning to CPU %d failed: %d", cpu, r);
}

/* Moves the calling thread into @cgroup, a threaded cgroup v2 directory. */
static void enter_cgroup(const char *cgroup, pid_t tid)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.threads", cgroup);
	f = fopen(path, "w");
	TEST_ASSERT(f, "cannot open %s", path);
	TEST_ASSERT(fprintf(f, "%d\n", tid) > 0 && !fclose(f),
		    "cannot move thread %d into %s", tid, cgroup);
}

static void *run_vcpu(void *arg)
{
	struct vcpu_thread *t = arg;

	t->tid = syscall(SYS_gettid);
	if (t->cgroup)
		enter_cgroup(t->cgroup, t->tid);
	pin_self(pin_cpu);
	/* No yield may happen before both threads are in place. */
	pthread_barrier_wait(&start);

	vcpu_boost_run_to_done(t->vcpu, "vCPU");
	return NULL;
}

static void *run_crowd(void *arg)
{
	pin_self(pin_cpu);
	pthread_barrier_wait(&start);
	while (!READ_ONCE(crowd_stop))
		;
	return NULL;
}

int main(int argc, char *argv[])
{
	struct vcpu_thread yielder = {}, target = {};
	pthread_t vcpu_threads[2], crowd[MAX_CROWD];
	int opt, i, nr_crowd = 0, ms = 1000;
	struct kvm_vm *vm;

	while ((opt = getopt(argc, argv, "y:t:c:p:m:")) != -1) {
		switch (opt) {
		case 'y':
			yielder.cgroup = optarg;
			break;
		case 't':
			target.cgroup = optarg;
			break;
		case 'c':
			nr_crowd = atoi(optarg);
			break;
		case 'p':
			pin_cpu = atoi(optarg);
			break;
		case 'm':
			ms = atoi(optarg);
			break;
		default:
			exit(KSFT_FAIL);
		}
	}
	TEST_ASSERT(nr_crowd >= 0 && nr_crowd <= MAX_CROWD, "crowd must be 0..%d", MAX_CROWD);
	TEST_ASSERT(ms > 0, "the run must last at least 1 ms");

	vm = vm_create_with_one_vcpu(&yielder.vcpu, yielder_code);
	target.vcpu = vm_vcpu_add(vm, TARGET_APIC_ID, target_code);
	virt_pg_map(vm, APIC_DEFAULT_GPA, APIC_DEFAULT_GPA);

	/*
	 * The first KVM_RUN starts the VM's worker thread in the cgroup of the
	 * calling thread. Run both vCPUs to their first sync from here, so
	 * that the worker stays in the process's cgroup, not in the groups of
	 * the vCPU threads.
	 */
	vcpu_run(yielder.vcpu);
	TEST_ASSERT_EQ(get_ucall(yielder.vcpu, NULL), UCALL_SYNC);
	vcpu_run(target.vcpu);
	TEST_ASSERT_EQ(get_ucall(target.vcpu, NULL), UCALL_SYNC);

	/* Keep this thread off the shared CPU when there is another one. */
	if (get_nprocs() > 1)
		pin_self(pin_cpu ? 0 : 1);

	TEST_ASSERT(!pthread_barrier_init(&start, NULL, 3 + nr_crowd), "barrier");
	for (i = 0; i < nr_crowd; i++)
		kvm_pthread_create(&crowd[i], NULL, run_crowd, NULL);
	kvm_pthread_create(&vcpu_threads[1], NULL, run_vcpu, &target);
	kvm_pthread_create(&vcpu_threads[0], NULL, run_vcpu, &yielder);
	pthread_barrier_wait(&start);

	usleep(ms * 1000);
	stop = true;
	sync_global_to_guest(vm, stop);
	for (i = 0; i < 2; i++)
		pthread_join(vcpu_threads[i], NULL);
	WRITE_ONCE(crowd_stop, true);
	for (i = 0; i < nr_crowd; i++)
		pthread_join(crowd[i], NULL);

	sync_global_from_guest(vm, nr_hypercalls);
	printf("vcpu_boost_yield_test: yielder_tid=%d target_tid=%d hypercalls=%llu\n",
	       yielder.tid, target.tid, (unsigned long long)nr_hypercalls);
	TEST_ASSERT(nr_hypercalls > 0, "the yielder made no hypercall");
	kvm_vm_free(vm);
	return 0;
}
