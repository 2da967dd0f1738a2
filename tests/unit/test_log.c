/*
 * Unit tests of the logger's JSON format (LOG_FORMAT=json): every line is
 * one JSON object with the fields docs/OBSERVABILITY.md names, whatever the
 * message holds, and the request id is per thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "common/log.h"

/* Runs fn with stderr going to a pipe; returns what it wrote. */
static char *capture(void (*fn)(void))
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    int saved = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    static char buf[65536];
    size_t n = 0;
    ssize_t r;
    while ((r = read(p[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(p[0]);
    buf[n] = '\0';
    return buf;
}

static json_t *line(const char *text, int i)
{
    const char *p = text;
    for (; i > 0; i--) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    size_t len = strcspn(p, "\n");
    json_error_t err;
    json_t *v = json_loadb(p, len, 0, &err);
    if (!v)
        fail_msg("not JSON (%s): %.*s", err.text, (int)len, p);
    return v;
}

static void log_plain(void)
{
    log_info("hello %d", 42);
}

static void test_json_line_has_the_documented_fields(void **state)
{
    (void)state;
    char *out = capture(log_plain);
    json_t *v = line(out, 0);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(v, "proc")), "edge \"test\"");
    assert_string_equal(json_string_value(json_object_get(v, "msg")), "hello 42");
    assert_int_equal(json_integer_value(json_object_get(v, "pid")), getpid());
    assert_int_equal(strlen(json_string_value(json_object_get(v, "ts"))), strlen("2026-11-27T11:21:40.288Z"));
    assert_null(json_object_get(v, "request_id"));
    json_decref(v);
}

static void log_hostile(void)
{
    log_warn("quote \" backslash \\ newline \n tab \t ctl \x01 bad utf8 \xff\xfe ok é 한");
}

static void test_hostile_messages_stay_one_json_line(void **state)
{
    (void)state;
    char *out = capture(log_hostile);
    assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1);   /* one line */
    json_t *v = line(out, 0);
    assert_string_equal(json_string_value(json_object_get(v, "msg")),
                        "quote \" backslash \\ newline \n tab \t ctl \x01 bad utf8 \xef\xbf\xbd\xef\xbf\xbd ok é 한");
    json_decref(v);
}

static void log_long(void)
{
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[100] = '"';
    log_error("%s", big);
}

static void test_a_long_message_is_cut_but_stays_json(void **state)
{
    (void)state;
    char *out = capture(log_long);
    json_t *v = line(out, 0);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "error");
    assert_true(strlen(json_string_value(json_object_get(v, "msg"))) > 1000);
    json_decref(v);
}

static void log_with_id(void)
{
    const uint8_t id[16] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 9, 9, 9, 9, 9, 9, 9, 9};
    log_set_request_id(id);
    log_info("first");
    log_set_request_id(NULL);
    log_info("second");
}

static void test_request_id_is_the_first_eight_bytes_until_cleared(void **state)
{
    (void)state;
    char *out = capture(log_with_id);
    json_t *a = line(out, 0), *b = line(out, 1);
    assert_string_equal(json_string_value(json_object_get(a, "request_id")), "deadbeef00010203");
    assert_null(json_object_get(b, "request_id"));
    json_decref(a);
    json_decref(b);
}

static void *other_thread(void *arg)
{
    (void)arg;
    return (void *)(uintptr_t)(log_request_id()[0] == '\0');
}

static void test_request_id_is_per_thread(void **state)
{
    (void)state;
    const uint8_t id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    log_set_request_id(id);
    pthread_t t;
    void *empty;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, &empty);
    assert_true((uintptr_t)empty);
    assert_string_equal(log_request_id(), "0102030405060708");
    log_set_request_id(NULL);
}

int main(void)
{
    setenv("LOG_FORMAT", "json", 1);
    unsetenv("LOG_LEVEL");
    log_init("edge \"test\"");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_line_has_the_documented_fields),
        cmocka_unit_test(test_hostile_messages_stay_one_json_line),
        cmocka_unit_test(test_a_long_message_is_cut_but_stays_json),
        cmocka_unit_test(test_request_id_is_the_first_eight_bytes_until_cleared),
        cmocka_unit_test(test_request_id_is_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
