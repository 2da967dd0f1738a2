/*
 * Unit tests of the rate limit's share per edge (edge_ratelimit.c,
 * EDGE_COUNT): N edges together allow the configured rate and burst, never
 * more, and a share is never below one whole token.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "services/edge/edge_ratelimit.h"

/* How many of n requests at time `now` one limiter lets through. */
static int allowed(struct ratelimit *r, const char *key, int64_t now, int n)
{
    int ok = 0, retry;
    for (int i = 0; i < n; i++)
        ok += ratelimit_take(r, key, now, &retry);
    return ok;
}

static void test_two_edges_share_the_burst_and_the_rate(void **state)
{
    (void)state;
    struct ratelimit *a = ratelimit_new_shared(10, 20, 2), *b = ratelimit_new_shared(10, 20, 2);
    /* Each edge holds half the burst; together exactly the configured 20. */
    assert_int_equal(allowed(a, "k", 1000, 50), 10);
    assert_int_equal(allowed(b, "k", 1000, 50), 10);
    /* One second later each edge has refilled half the rate: 5 + 5 = 10. */
    assert_int_equal(allowed(a, "k", 2000, 50), 5);
    assert_int_equal(allowed(b, "k", 2000, 50), 5);
    int retry = 0;
    assert_false(ratelimit_take(a, "k", 2000, &retry));
    assert_true(retry >= 1);
    ratelimit_free(a);
    ratelimit_free(b);
}

static void test_one_edge_is_the_plain_limit(void **state)
{
    (void)state;
    struct ratelimit *r = ratelimit_new_shared(5, 5, 1);
    assert_int_equal(allowed(r, "k", 1000, 10), 5);
    assert_int_equal(allowed(r, "k", 1200, 10), 1);   /* 0.2 s at 5/s */
    ratelimit_free(r);
}

static void test_a_share_is_at_least_one_token(void **state)
{
    (void)state;
    /* Burst 2 over 4 edges would be half a token: a request could never pass. */
    struct ratelimit *r = ratelimit_new_shared(2, 2, 4);
    assert_int_equal(allowed(r, "k", 1000, 5), 1);
    /* The rate share is 0.5/s: the next token after 2 s. */
    assert_int_equal(allowed(r, "k", 2000, 5), 0);
    assert_int_equal(allowed(r, "k", 3001, 5), 1);
    ratelimit_free(r);
}

static void test_zero_rate_is_off_whatever_the_count(void **state)
{
    (void)state;
    struct ratelimit *r = ratelimit_new_shared(0, 1, 3);
    assert_int_equal(allowed(r, "k", 1000, 100), 100);
    ratelimit_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_edges_share_the_burst_and_the_rate),
        cmocka_unit_test(test_one_edge_is_the_plain_limit),
        cmocka_unit_test(test_a_share_is_at_least_one_token),
        cmocka_unit_test(test_zero_rate_is_off_whatever_the_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
