// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the C hooks reach the Rust objects, and the run-time controls read,
 * write and reject bad values.
 */
#include <kunit/test.h>
#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/kthread.h>
#include <linux/kvm_ipi_yield.h>
#include <linux/sched.h>
#include <linux/sched/vcpu_debooster.h>

#ifdef CONFIG_SCHED_VCPU_DEBOOSTER

static int spin_until_stopped(void *unused)
{
	while (!kthread_should_stop())
		cond_resched();
	return 0;
}

/*
 * A task on our CPU that is runnable but not running is a valid yield_to()
 * target, so yield_to() must go through yield_to_task_fair() and its hook.
 */
static void yield_to_reaches_debooster(struct kunit *test)
{
	unsigned int cpu = raw_smp_processor_id();
	struct task_struct *spinner;
	bool reached = false;
	int i;

	spinner = kthread_create(spin_until_stopped, NULL, "vcpu_boost_spin");
	KUNIT_ASSERT_FALSE(test, IS_ERR(spinner));
	kthread_bind(spinner, cpu);
	KUNIT_ASSERT_EQ(test, set_cpus_allowed_ptr(current, cpumask_of(cpu)), 0);
	wake_up_process(spinner);

	for (i = 0; i < 1000 && !reached; i++) {
		u64 before = sched_vcpu_debooster_hook_calls();

		yield_to(spinner, true);
		reached = sched_vcpu_debooster_hook_calls() > before;
	}

	kthread_stop(spinner);
	set_cpus_allowed_ptr(current, cpu_possible_mask);
	KUNIT_EXPECT_TRUE(test, reached);
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

	sched_vcpu_debooster_enabled_set(NULL, old);
}
#endif /* CONFIG_SCHED_VCPU_DEBOOSTER */

#if IS_BUILTIN(CONFIG_KVM) && IS_ENABLED(CONFIG_KVM_IPI_AWARE_YIELD)
static char param_buf[PAGE_SIZE];

static const char *param_get(int (*get)(char *, const struct kernel_param *))
{
	int len = get(param_buf, NULL);

	return len > 0 ? param_buf : "";
}

static void kvm_params_read_write_and_reject(struct kunit *test)
{
	/* Defaults of the series. */
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_tracking_enabled_get), "Y\n");
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_window_ns_get), "50000000\n");
	KUNIT_EXPECT_STREQ(test, param_get(kvm_relaxed_boost_get), "Y\n");

	KUNIT_EXPECT_EQ(test, kvm_ipi_tracking_enabled_set("0\n", NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_tracking_enabled_get), "N\n");
	KUNIT_EXPECT_EQ(test, kvm_ipi_tracking_enabled_set("perhaps", NULL), -EINVAL);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_tracking_enabled_get), "N\n");
	KUNIT_EXPECT_EQ(test, kvm_ipi_tracking_enabled_set("Y", NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_tracking_enabled_get), "Y\n");

	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("2000000\n", NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_window_ns_get), "2000000\n");
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("0", NULL), -ERANGE);
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("5000000000", NULL), -ERANGE);
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("12ms", NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set(NULL, NULL), -EINVAL);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_ipi_window_ns_get), "2000000\n");
	KUNIT_EXPECT_EQ(test, kvm_ipi_window_ns_set("50000000", NULL), 0);

	KUNIT_EXPECT_EQ(test, kvm_relaxed_boost_set("off", NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_relaxed_boost_get), "N\n");
	KUNIT_EXPECT_EQ(test, kvm_relaxed_boost_set("2", NULL), -EINVAL);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_relaxed_boost_get), "N\n");
	KUNIT_EXPECT_EQ(test, kvm_relaxed_boost_set("on", NULL), 0);
	KUNIT_EXPECT_STREQ(test, param_get(kvm_relaxed_boost_get), "Y\n");
}
#endif

static struct kunit_case vcpu_boost_hooks_cases[] = {
#ifdef CONFIG_SCHED_VCPU_DEBOOSTER
	KUNIT_CASE(yield_to_reaches_debooster),
	KUNIT_CASE(debooster_switch_rejects_bad_values),
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
