/*
 * Unit tests of strbuf: the JSON string escaping the edge uses to embed a
 * tool result as a text block must agree with jansson on every byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "common/strbuf.h"

static char *escaped(const char *s, size_t n)
{
    struct strbuf b;
    sb_init(&b, 1);
    sb_append_json_string(&b, s, n);
    return sb_take(&b, NULL);
}

static void test_escaping_round_trips_through_a_json_parser(void **state)
{
    (void)state;
    const char *samples[] = {"", "plain", "quote \" and backslash \\", "line\nbreak\ttab\r\b\f",
                             "\x01\x1f control", "{\"items\":[],\"next_cursor\":null}", "한국어 日本語 é"};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char *e = escaped(samples[i], strlen(samples[i]));
        json_error_t err;
        json_t *v = json_loads(e, JSON_DECODE_ANY, &err);
        assert_non_null(v);
        assert_string_equal(json_string_value(v), samples[i]);
        json_decref(v);
        free(e);
    }
}

static void test_escaping_uses_short_forms_and_u00xx(void **state)
{
    (void)state;
    char *e = escaped("a\"b\\c\nd\x02", 8);
    assert_string_equal(e, "\"a\\\"b\\\\c\\nd\\u0002\"");
    free(e);
}

static void test_buffer_grows_and_take_terminates(void **state)
{
    (void)state;
    struct strbuf b;
    sb_init(&b, 2);
    for (int i = 0; i < 1000; i++)
        sb_append_str(&b, "0123456789");
    size_t len;
    char *s = sb_take(&b, &len);
    assert_int_equal(len, 10000);
    assert_int_equal(strlen(s), 10000);
    assert_null(b.data);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping_round_trips_through_a_json_parser),
        cmocka_unit_test(test_escaping_uses_short_forms_and_u00xx),
        cmocka_unit_test(test_buffer_grows_and_take_terminates),
    };
    return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
