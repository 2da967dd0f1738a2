/*
 * Unit tests of the dashboard's failure messages: every failed worker answer
 * becomes a sentence the user can act on, never an empty error box, and
 * internal or unavailable errors never show the worker's own text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "common/strbuf.h"
#include "services/edge/dash.h"

static void test_unavailable_has_a_message(void **state)
{
    (void)state;
    assert_string_equal(dash_message_of(TM_ERR_UNAVAILABLE, NULL), DASH_MSG_UNAVAILABLE);
    assert_string_equal(dash_message_of(TM_ERR_UNAVAILABLE, ""), DASH_MSG_UNAVAILABLE);
    assert_string_equal(dash_message_of(TM_ERR_INTERNAL, NULL), DASH_MSG_UNAVAILABLE);
    /* The worker's text of an internal error is not for the user. */
    assert_string_equal(dash_message_of(TM_ERR_INTERNAL, "relation x does not exist"), DASH_MSG_UNAVAILABLE);
    assert_non_null(strstr(DASH_MSG_UNAVAILABLE, "unavailable"));
    assert_non_null(strstr(DASH_MSG_UNAVAILABLE, "Try again"));
}

static void test_worker_message_is_kept(void **state)
{
    (void)state;
    assert_string_equal(dash_message_of(TM_ERR_CONFLICT, "The name is taken."), "The name is taken.");
    assert_string_equal(dash_message_of(TM_ERR_INVALID_ARGUMENT, "Bad zone."), "Bad zone.");
}

static void test_missing_message_gets_one_for_every_code(void **state)
{
    (void)state;
    const enum tm_error codes[] = {TM_ERR_INVALID_ARGUMENT, TM_ERR_PERMISSION_DENIED, TM_ERR_NOT_FOUND,
                                   TM_ERR_CONFLICT, TM_ERR_PRECONDITION_FAILED, TM_ERR_QUOTA_EXCEEDED,
                                   TM_ERR_RATE_LIMITED, TM_ERR_UNAVAILABLE, TM_ERR_INTERNAL};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *m = dash_message_of(codes[i], NULL);
        assert_non_null(m);
        assert_true(strlen(m) > 10);
        assert_string_equal(dash_message_of(codes[i], ""), m);
    }
}

static void test_notice_is_never_empty(void **state)
{
    (void)state;
    const char *texts[] = {NULL, ""};
    for (size_t i = 0; i < 2; i++) {
        struct strbuf b;
        sb_init(&b, 64);
        dash_notice(&b, "msg", texts[i]);
        char *html = sb_take(&b, NULL);
        assert_non_null(strstr(html, "The service is unavailable right now. Try again in a minute."));
        assert_null(strstr(html, "\"alert\"></p>"));
        free(html);
    }
    struct strbuf b;
    sb_init(&b, 64);
    dash_notice(&b, "msg", "<b>x</b>");
    char *html = sb_take(&b, NULL);
    assert_non_null(strstr(html, "&lt;b&gt;x&lt;/b&gt;"));
    free(html);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unavailable_has_a_message),
        cmocka_unit_test(test_worker_message_is_kept),
        cmocka_unit_test(test_missing_message_gets_one_for_every_code),
        cmocka_unit_test(test_notice_is_never_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
