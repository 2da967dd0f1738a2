/*
 * Unit tests of plans: the quota boundary (the call that reaches the limit
 * passes, the next is refused), which usage alert a counted call is due,
 * and the usage figures of the subscription tool.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "services/worker/plans.h"

static void test_quota_lets_the_call_that_reaches_the_limit_through(void **state)
{
    (void)state;
    assert_false(plans_quota_blocks(true, 1000, 998));
    assert_false(plans_quota_blocks(true, 1000, 999));   /* this call makes 1000 */
    assert_true(plans_quota_blocks(true, 1000, 1000));   /* the one after */
    assert_true(plans_quota_blocks(true, 1000, 1005));   /* overshoot by a burst */
}

static void test_quota_never_blocks_a_plan_without_hard_limit(void **state)
{
    (void)state;
    assert_false(plans_quota_blocks(false, 1000000, 1000000));
    assert_false(plans_quota_blocks(false, 1000000, 5000000));
}

static void test_alert_80_fires_exactly_at_four_fifths(void **state)
{
    (void)state;
    assert_int_equal(plans_alert_due(799, 1000, true, true), PLANS_ALERT_NONE);
    assert_int_equal(plans_alert_due(800, 1000, true, true), PLANS_ALERT_80);
    assert_int_equal(plans_alert_due(801, 1000, true, true), PLANS_ALERT_80);   /* if 800 was missed */
    /* 80% of 30,000 is 24,000: no rounding. */
    assert_int_equal(plans_alert_due(23999, 30000, true, true), PLANS_ALERT_NONE);
    assert_int_equal(plans_alert_due(24000, 30000, true, true), PLANS_ALERT_80);
}

static void test_alert_is_not_due_twice_in_a_period(void **state)
{
    (void)state;
    assert_int_equal(plans_alert_due(850, 1000, false, true), PLANS_ALERT_NONE);
    assert_int_equal(plans_alert_due(1000, 1000, false, false), PLANS_ALERT_NONE);
    assert_int_equal(plans_alert_due(1200, 1000, false, false), PLANS_ALERT_NONE);
}

static void test_alert_100_wins_when_both_are_due(void **state)
{
    (void)state;
    assert_int_equal(plans_alert_due(1000, 1000, true, true), PLANS_ALERT_100);
    assert_int_equal(plans_alert_due(1000, 1000, false, true), PLANS_ALERT_100);
    assert_int_equal(plans_alert_due(999, 1000, false, true), PLANS_ALERT_NONE);
}

static void test_usage_figures_for_the_subscription_tool(void **state)
{
    (void)state;
    assert_int_equal(plans_remaining(1000, 0), 1000);
    assert_int_equal(plans_remaining(1000, 999), 1);
    assert_int_equal(plans_remaining(1000, 1000), 0);
    assert_int_equal(plans_remaining(1000000, 1000007), 0);   /* never negative */
    assert_float_equal(plans_percent(1000, 0), 0.0, 1e-9);
    assert_float_equal(plans_percent(1000, 805), 80.5, 1e-9);
    assert_float_equal(plans_percent(30000, 1), 0.0, 1e-9);
    assert_float_equal(plans_percent(30000, 10000), 33.3, 1e-9);
    assert_float_equal(plans_percent(1000000, 1200000), 120.0, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quota_lets_the_call_that_reaches_the_limit_through),
        cmocka_unit_test(test_quota_never_blocks_a_plan_without_hard_limit),
        cmocka_unit_test(test_alert_80_fires_exactly_at_four_fifths),
        cmocka_unit_test(test_alert_is_not_due_twice_in_a_period),
        cmocka_unit_test(test_alert_100_wins_when_both_are_due),
        cmocka_unit_test(test_usage_figures_for_the_subscription_tool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
