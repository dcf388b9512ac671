/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the vcpu_boost_* selftests: running vCPUs whose guest
 * code ends with GUEST_DONE() or never ends, and timing a run.
 */
#ifndef SELFTEST_KVM_VCPU_BOOST_H
#define SELFTEST_KVM_VCPU_BOOST_H

#include <pthread.h>
#include <time.h>

#include "kvm_util.h"
#include "ucall_common.h"

/*
 * Runs @vcpu until its guest code is done and returns how long that took in
 * ns. A guest assertion is reported; any other exit fails the test, naming
 * @who and the exit reason (host scripts look for "exited, reason N").
 */
static inline u64 vcpu_boost_run_to_done(struct kvm_vcpu *vcpu, const char *who)
{
	struct timespec t0, t1;
	struct ucall uc;

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
		TEST_FAIL("%s exited, reason %u", who, vcpu->run->exit_reason);
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

	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	vcpu_run(vcpu);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_FAIL("vCPU %u exited, reason %u", vcpu->id, vcpu->run->exit_reason);
	return NULL;
}

#endif /* SELFTEST_KVM_VCPU_BOOST_H */
