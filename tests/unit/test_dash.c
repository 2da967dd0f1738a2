/*
 * Unit tests of the dashboard's pure parts: which `next` paths sign-in may
 * redirect to, the HTTP status of each worker error, and the password rules
 * and hashing shared by sign-up, reset and password change.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>
#include "services/edge/dash.h"
#include "services/worker/web.h"

static void test_local_paths_are_accepted(void **state)
{
    (void)state;
    assert_true(dash_local_path("/dashboard"));
    assert_true(dash_local_path("/audit?before=12"));
    assert_true(dash_local_path("/dashboard/endpoints/0b5e?x=%2F%2F"));
    assert_true(dash_local_path("/"));
}

static void test_other_sites_and_odd_paths_are_refused(void **state)
{
    (void)state;
    assert_false(dash_local_path(NULL));
    assert_false(dash_local_path(""));
    assert_false(dash_local_path("//evil.example/x"));      /* scheme-relative: another host */
    assert_false(dash_local_path("/\\evil.example"));       /* browsers read \ as / */
    assert_false(dash_local_path("/a\\b"));
    assert_false(dash_local_path("https://evil.example/"));
    assert_false(dash_local_path("dashboard"));
    assert_false(dash_local_path("/a b"));
    assert_false(dash_local_path("/a\r\nSet-Cookie: x=1"));   /* no header injection */
    assert_false(dash_local_path("/caf\xc3\xa9"));
    char long_path[600];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    assert_false(dash_local_path(long_path));
}

static void test_worker_errors_map_to_statuses(void **state)
{
    (void)state;
    assert_int_equal(dash_status_of(TM_ERR_INVALID_ARGUMENT), 400);
    assert_int_equal(dash_status_of(TM_ERR_PERMISSION_DENIED), 403);
    assert_int_equal(dash_status_of(TM_ERR_NOT_FOUND), 404);
    assert_int_equal(dash_status_of(TM_ERR_CONFLICT), 409);
    assert_int_equal(dash_status_of(TM_ERR_QUOTA_EXCEEDED), 402);
    assert_int_equal(dash_status_of(TM_ERR_RATE_LIMITED), 429);
    assert_int_equal(dash_status_of(TM_ERR_UNAVAILABLE), 503);
    assert_int_equal(dash_status_of(TM_ERR_INTERNAL), 503);
}

static void test_password_lengths(void **state)
{
    (void)state;
    assert_non_null(web_password_problem(NULL));
    assert_non_null(web_password_problem("123456789"));
    assert_null(web_password_problem("1234567890"));
    char big[WEB_PASSWORD_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_non_null(web_password_problem(big));
    big[WEB_PASSWORD_MAX] = '\0';
    assert_null(web_password_problem(big));
    /* Characters, not bytes: nine Hangul syllables (27 bytes) are too short, ten are enough. */
    assert_non_null(web_password_problem("\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80"
                                         "\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80"));
    assert_null(web_password_problem("\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80"
                                     "\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80"));
    assert_non_null(web_password_problem("abcdefghij\xff"));   /* not UTF-8 */
}

static void test_password_hash_is_argon2id_and_verifies(void **state)
{
    (void)state;
    char hash[128];
    assert_true(web_password_hash("correct horse battery", hash));
    assert_int_equal(strncmp(hash, "$argon2id$", 10), 0);
    assert_int_equal(crypto_pwhash_str_verify(hash, "correct horse battery", 21), 0);
    assert_int_not_equal(crypto_pwhash_str_verify(hash, "correct horse batterY", 21), 0);
    char again[128];
    assert_true(web_password_hash("correct horse battery", again));
    assert_string_not_equal(hash, again);   /* salted */
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_paths_are_accepted),
        cmocka_unit_test(test_other_sites_and_odd_paths_are_refused),
        cmocka_unit_test(test_worker_errors_map_to_statuses),
        cmocka_unit_test(test_password_lengths),
        cmocka_unit_test(test_password_hash_is_argon2id_and_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
