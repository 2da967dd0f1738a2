/*
 * Unit tests of the sealed secrets of the dashboard's APIs pages
 * (docs/DASHBOARD.md, "APIs"): the worker seals with the reply key the edge
 * derives from the session (web_seal_for_edge), the edge keeps "<tag>.<sealed>"
 * in a cookie and opens it on the next GET with the same session only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "common/util.h"
#include "services/edge/dash.h"
#include "services/worker/web.h"

static const char SESSION[] = "Zm9vYmFyYmF6cXV4LXNlc3Npb24tdG9rZW4tZm9yLXRlc3Rz";
static const char SECRET[] = "tm_test_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdefg";
static const char TAG[] = "0b5e6f7a-1c2d-4e3f-8a9b-0c1d2e3f4a5b.newkey.sandbox";

/* The worker's side: SECRET sealed with the reply key of SESSION. */
static char *seal(const char *session, const char *secret)
{
    uint8_t k[32];
    dash_reveal_key(session, k);
    char *rk = b64url_encode(k, sizeof k);
    json_t *args = json_pack("{s:s}", "reply_key", rk);
    struct tool_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    char *out = NULL;
    assert_int_equal(web_seal_for_edge(&ctx, args, secret, &out), TM_OK);
    json_decref(args);
    free(rk);
    assert_non_null(out);
    return out;
}

static void test_round_trip_with_the_same_session(void **state)
{
    (void)state;
    char *sealed = seal(SESSION, SECRET);
    assert_null(strstr(sealed, "AbCdEf"));
    char *value = dash_reveal_cookie_value(TAG, sealed);
    assert_non_null(value);
    char *tag = NULL;
    char *secret = dash_reveal_open_value(value, SESSION, &tag);
    assert_non_null(secret);
    assert_string_equal(secret, SECRET);
    assert_string_equal(tag, TAG);
    free(secret);
    free(tag);
    free(value);
    free(sealed);
}

static void test_another_session_or_an_altered_box_opens_nothing(void **state)
{
    (void)state;
    char *sealed = seal(SESSION, SECRET);
    char *value = dash_reveal_cookie_value(TAG, sealed);
    char *tag = (char *)"untouched";
    assert_null(dash_reveal_open_value(value, "another-session", &tag));
    assert_null(tag);
    assert_null(dash_reveal_open_value(value, NULL, &tag));
    /* One character of the box changed. */
    char *bad = strdup(value);
    char *last = bad + strlen(bad) - 5;
    *last = *last == 'A' ? 'B' : 'A';
    assert_null(dash_reveal_open_value(bad, SESSION, &tag));
    assert_null(tag);
    free(bad);
    free(value);
    free(sealed);
}

static void test_malformed_values_are_refused(void **state)
{
    (void)state;
    char *tag;
    assert_null(dash_reveal_open_value(NULL, SESSION, &tag));
    assert_null(dash_reveal_open_value("", SESSION, &tag));
    assert_null(dash_reveal_open_value("no-dot-at-all", SESSION, &tag));
    assert_null(dash_reveal_open_value(".c2VhbGVk", SESSION, &tag));      /* no tag */
    assert_null(dash_reveal_open_value("tag.", SESSION, &tag));           /* no box */
    assert_null(dash_reveal_open_value("tag.not base64!", SESSION, &tag));
    assert_null(dash_reveal_open_value("tag.c2hvcnQ", SESSION, &tag));    /* too short to be a box */
    char big[1200];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[3] = '.';
    assert_null(dash_reveal_open_value(big, SESSION, &tag));
    /* Building a value: tags and boxes of the allowed shapes only (no cookie syntax can get in). */
    assert_null(dash_reveal_cookie_value("a;b", "c2VhbGVk"));
    assert_null(dash_reveal_cookie_value("a b", "c2VhbGVk"));
    assert_null(dash_reveal_cookie_value("", "c2VhbGVk"));
    assert_null(dash_reveal_cookie_value(NULL, "c2VhbGVk"));
    assert_null(dash_reveal_cookie_value("tag", "c2Vh.bGVk"));
    assert_null(dash_reveal_cookie_value("tag", "c2Vh=bGVk"));
    assert_null(dash_reveal_cookie_value("tag", ""));
    char *v = dash_reveal_cookie_value("id:key.newkey.sandbox", "c2VhbGVk");
    assert_string_equal(v, "id:key.newkey.sandbox.c2VhbGVk");
    free(v);
}

static void test_the_worker_refuses_a_bad_reply_key(void **state)
{
    (void)state;
    const char *bad[] = {"", "short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *args = json_pack("{s:s}", "reply_key", bad[i]);
        struct tool_ctx ctx;
        memset(&ctx, 0, sizeof ctx);
        char *out = NULL;
        assert_int_equal(web_seal_for_edge(&ctx, args, SECRET, &out), TM_ERR_INVALID_ARGUMENT);
        assert_null(out);
        json_decref(args);
        json_decref(ctx.details);
    }
    struct tool_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    char *out = NULL;
    json_t *none = json_object();
    assert_int_equal(web_seal_for_edge(&ctx, none, SECRET, &out), TM_ERR_INVALID_ARGUMENT);
    json_decref(none);
}

static void test_reply_keys_differ_per_session(void **state)
{
    (void)state;
    uint8_t a[32], b[32], c[32];
    dash_reveal_key(SESSION, a);
    dash_reveal_key(SESSION, b);
    dash_reveal_key("other", c);
    assert_memory_equal(a, b, 32);
    assert_memory_not_equal(a, c, 32);
    /* Not the session token's plain SHA-256, which is what the database keeps. */
    uint8_t h[32];
    sha256(SESSION, strlen(SESSION), h);
    assert_memory_not_equal(a, h, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_with_the_same_session),
        cmocka_unit_test(test_another_session_or_an_altered_box_opens_nothing),
        cmocka_unit_test(test_malformed_values_are_refused),
        cmocka_unit_test(test_the_worker_refuses_a_bad_reply_key),
        cmocka_unit_test(test_reply_keys_differ_per_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
