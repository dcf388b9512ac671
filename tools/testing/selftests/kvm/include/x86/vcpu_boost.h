/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vcpu_boost_* selftests: running vCPUs whose guest
 * code ends with GUEST_DONE() or never ends, timing a run and the guest's
 * work, and printing binary stats that only a kernel with the series has.
 */
#ifndef SELFTEST_KVM_VCPU_BOOST_H
#define SELFTEST_KVM_VCPU_BOOST_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "ucall_common.h"

/*
 * The options every vcpu_boost test takes: -v <vCPUs> and -n <count> (of
 * IPIs or lock acquisitions). False for any other option.
 */
static inline bool vcpu_boost_parse_opt(int opt, u32 *nr_vcpus, u64 *count)
{
	switch (opt) {
	case 'v':
		*nr_vcpus = atoi(optarg);
		return true;
	case 'n':
		*count = strtoull(optarg, NULL, 0);
		return true;
	default:
		return false;
	}
}

/*
 * Fails the test for an unexpected exit of @vcpu, naming @who and the exit
 * reason (host scripts take "exited, reason 8" at the end of the line for a
 * shutdown); for KVM_EXIT_INTERNAL_ERROR, with KVM's suberror and data,
 * which say what KVM could not handle.
 */
static inline void vcpu_boost_fail_exit(struct kvm_vcpu *vcpu, const char *who)
{
	struct kvm_run *run = vcpu->run;
	char data[256] = "";
	size_t len = 0;
	u32 i;

	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
		len = snprintf(data, sizeof(data), ", suberror %u, data", run->internal.suberror);
		for (i = 0; i < run->internal.ndata && i < ARRAY_SIZE(run->internal.data); i++) {
			if (len >= sizeof(data))
				break;
			len += snprintf(data + len, sizeof(data) - len, " %#llx",
					(unsigned long long)run->internal.data[i]);
		}
	}
	TEST_FAIL("%s exited, reason %u%s", who, run->exit_reason, data);
}

/*
 * VCPU_BOOST_PIN in the environment binds the thread that runs vCPU @id to
 * one host CPU, a fixed layout, so that runs do not differ by where the
 * load balancer happened to put the vCPUs: "spread" puts vCPU @id on CPU
 * @id modulo the CPUs online (vCPUs 0 and 1 apart), "paired" on CPU @id / 2
 * modulo the CPUs (vCPUs 0 and 1 together), "crowded" on CPU @id / 3 modulo
 * the CPUs (vCPUs 0, 1 and 2 together).
 */
static inline void vcpu_boost_pin(u32 id)
{
	const char *pin = getenv("VCPU_BOOST_PIN");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	long cpu;
	int r;

	if (!pin || cpus < 1)
		return;
	if (!strcmp(pin, "spread"))
		cpu = id % cpus;
	else if (!strcmp(pin, "paired"))
		cpu = (id / 2) % cpus;
	else if (!strcmp(pin, "crowded"))
		cpu = (id / 3) % cpus;
	else
		TEST_FAIL("VCPU_BOOST_PIN=%s: spread, paired or crowded", pin);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	r = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	TEST_ASSERT(!r, "pinning vCPU %u to CPU %ld: %s", id, cpu, strerror(r));
}

/*
 * @vcpu's TSC offset, exactly: guest TSC = host TSC + offset (KVM offers no
 * TSC scaling here). Reading both TSCs around KVM_GET_MSRS instead would be
 * off by up to half the ioctl's time, which under TCG is longer than a lock
 * waiter takes from its last yield to its acquisition. A test that times or
 * places events by the guest TSC checks that it did not move during the run
 * (KVM rewrites it on a vCPU's load when the host TSC is unstable).
 */
static inline s64 vcpu_boost_tsc_offset(struct kvm_vcpu *vcpu)
{
	u64 offset;

	vcpu_device_attr_get(vcpu, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, &offset);
	return (s64)offset;
}

/*
 * @ticks of @vcpu's guest TSC in ns. The tests time their work in the guest,
 * from its first unit to its last: the host's clock around vcpu_run() also
 * counts the vCPUs' start, their meeting and their end, which wait for the
 * scheduler's tick and so differ by whole ticks between two runs of one
 * setting.
 */
static inline u64 vcpu_boost_tsc_ns(struct kvm_vcpu *vcpu, u64 ticks)
{
	int khz = __vcpu_ioctl(vcpu, KVM_GET_TSC_KHZ, NULL);

	TEST_ASSERT(khz > 0, "KVM_GET_TSC_KHZ: %d", khz);
	/* In two parts: ticks * 10^6 overflows after hours at GHz rates. */
	return ticks / khz * 1000000 + ticks % khz * 1000000 / khz;
}

/*
 * Runs @vcpu until its guest code is done and returns how long that took in
 * ns. A guest assertion is reported; any other exit fails the test
 * (vcpu_boost_fail_exit()).
 */
static inline u64 vcpu_boost_run_to_done(struct kvm_vcpu *vcpu, const char *who)
{
	struct timespec t0, t1;
	struct ucall uc;

	vcpu_boost_pin(vcpu->id);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	vcpu_run(vcpu);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		vcpu_boost_fail_exit(vcpu, who);
	}
	return (t1.tv_sec - t0.tv_sec) * 1000000000ull + t1.tv_nsec - t0.tv_nsec;
}

/*
 * Thread body for a vCPU whose guest code never ends: main() cancels the
 * thread with kvm_pthread_cancel_join_async(). Any exit fails the test.
 */
static inline void *vcpu_boost_run_forever(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;
	char who[32];

	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	vcpu_boost_pin(vcpu->id);
	vcpu_run(vcpu);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	snprintf(who, sizeof(who), "vCPU %u", vcpu->id);
	vcpu_boost_fail_exit(vcpu, who);
	return NULL;
}

/*
 * Adds the binary stat @name of @vcpu to *@sum. Returns false and adds
 * nothing when the kernel has no such stat: make bench also runs these
 * tests on the kernel without the series, for their timings.
 */
static inline bool vcpu_boost_stat_add(struct kvm_vcpu *vcpu, const char *name, u64 *sum)
{
	struct kvm_binary_stats *stats = &vcpu->stats;
	struct kvm_stats_desc *desc;
	u64 val;
	u32 i;

	if (!stats->desc) {
		read_stats_header(stats->fd, &stats->header);
		stats->desc = read_stats_descriptors(stats->fd, &stats->header);
	}
	for (i = 0; i < stats->header.num_desc; i++) {
		desc = get_stats_descriptor(stats->desc, i, &stats->header);
		if (strcmp(desc->name, name))
			continue;
		read_stat_data(stats->fd, &stats->header, desc, &val, 1);
		*sum += val;
		return true;
	}
	return false;
}

/*
 * Prints " @name=SUM", the stat summed over @vcpus[@first..@last], for the
 * host scripts; prints nothing on a kernel without that stat.
 */
static inline void vcpu_boost_print_stat(const char *name, struct kvm_vcpu **vcpus,
					 u32 first, u32 last)
{
	u64 sum = 0;
	u32 i;

	for (i = first; i <= last; i++)
		if (!vcpu_boost_stat_add(vcpus[i], name, &sum))
			return;
	printf(" %s=%llu", name, (unsigned long long)sum);
}

/*
 * Runs vCPUs 1 to @nr - 1 in threads, with guest code that never ends, and
 * vCPU 0 until its guest code is done; then ends the others. Returns how
 * long vCPU 0 ran, in ns.
 */
static inline u64 vcpu_boost_run_sender(struct kvm_vcpu **vcpus, u32 nr)
{
	pthread_t *threads = calloc(nr, sizeof(*threads));
	u64 ns;
	u32 i;

	TEST_ASSERT(threads, "no memory for %u threads", nr);
	for (i = 1; i < nr; i++)
		kvm_pthread_create(&threads[i], NULL, vcpu_boost_run_forever, vcpus[i]);
	ns = vcpu_boost_run_to_done(vcpus[0], "sender");
	for (i = 1; i < nr; i++)
		kvm_pthread_cancel_join_async(threads[i]);
	free(threads);
	return ns;
}

#endif /* SELFTEST_KVM_VCPU_BOOST_H */
