/*
 * Unit tests of the pure pieces of services/worker/tool_logs: from/to
 * parsing (dates, wall-clock times for the account's time zone, instants),
 * months and day counts (the 93-day window rule), the logs_search cursor and
 * the payload preview.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "services/worker/tool_logs.h"

static void assert_time(const char *in, enum logs_time_kind kind, const char *want)
{
    char out[64] = "";
    enum logs_time_kind k = logs_time_parse(in, out, sizeof out);
    if (k != kind) fail_msg("%s: kind %d, want %d", in, (int)k, (int)kind);
    if (want) assert_string_equal(out, want);
}

static void test_a_date_alone_is_a_day_of_the_account_time_zone(void **state)
{
    (void)state;
    assert_time("2025-01-31", LOGS_TIME_DATE, "2025-01-31");
    assert_time("2024-02-29", LOGS_TIME_DATE, "2024-02-29");
    assert_time("2000-02-29", LOGS_TIME_DATE, "2000-02-29");
}

static void test_a_time_without_offset_is_wall_clock_with_offset_an_instant(void **state)
{
    (void)state;
    assert_time("2025-01-31T09:00", LOGS_TIME_LOCAL, "2025-01-31 09:00:00");
    assert_time("2025-01-31T09:00:05.123", LOGS_TIME_LOCAL, "2025-01-31 09:00:05.123");
    assert_time("2025-01-31 23:59:59", LOGS_TIME_LOCAL, "2025-01-31 23:59:59");
    assert_time("2025-01-31T09:00:00Z", LOGS_TIME_INSTANT, "2025-01-31 09:00:00+00:00");
    assert_time("2025-01-31T09:00:00+09:00", LOGS_TIME_INSTANT, "2025-01-31 09:00:00+09:00");
    assert_time("2025-01-31T09:00-0530", LOGS_TIME_INSTANT, "2025-01-31 09:00:00-05:30");
    assert_time("2025-01-31T09:00:00.1234567891Z", LOGS_TIME_INVALID, NULL);   /* 10 digits */
    assert_time("2025-01-31T09:00:00.123456789Z", LOGS_TIME_INSTANT, "2025-01-31 09:00:00.123456+00:00");
}

static void test_impossible_dates_and_times_and_junk_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2025-02-30", "2023-02-29", "1900-02-29", "2025-13-01", "2025-00-10", "2025-04-31", "1969-12-31",
        "2025-1-31",  "25-01-31",   "2025-01-31T24:00", "2025-01-31T10:60", "2025-01-31T10:00:60",
        "2025-01-31T10", "2025-01-31X10:00", "2025-01-31T10:00+15:00", "2025-01-31T10:00:00+01:00x",
        "yesterday", "", "2025-01-31T10:00:00'; DROP TABLE call_logs;--",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_time(bad[i], LOGS_TIME_INVALID, NULL);
    char out[64];
    assert_int_equal(logs_time_parse(NULL, out, sizeof out), LOGS_TIME_INVALID);
    assert_int_equal(logs_time_parse("2025-01-31", out, 8), LOGS_TIME_INVALID);   /* no room: refused, not cut */
}

static void test_a_month_covers_its_first_day_to_the_next_month(void **state)
{
    (void)state;
    char a[11], b[11];
    assert_true(logs_month_range("2025-01", a, b));
    assert_string_equal(a, "2025-01-01");
    assert_string_equal(b, "2025-02-01");
    assert_true(logs_month_range("2025-12", a, b));
    assert_string_equal(a, "2025-12-01");
    assert_string_equal(b, "2026-01-01");
    assert_false(logs_month_range("2025-13", a, b));
    assert_false(logs_month_range("2025-1", a, b));
    assert_false(logs_month_range("2025-01-01", a, b));
    assert_false(logs_month_range(NULL, a, b));
}

static void test_day_counts_decide_the_93_day_window(void **state)
{
    (void)state;
    long d;
    assert_true(logs_days_between("2025-01-01", "2025-01-01", &d));
    assert_int_equal(d, 0);
    assert_true(logs_days_between("2024-02-28", "2024-03-01", &d));
    assert_int_equal(d, 2);   /* leap day */
    assert_true(logs_days_between("2025-12-31", "2026-01-01", &d));
    assert_int_equal(d, 1);
    /* 2025-01-01 through 2025-04-03 inclusive is 93 days: allowed; one more is not. */
    assert_true(logs_days_between("2025-01-01", "2025-04-03", &d));
    assert_int_equal(d + 1, LOGS_WINDOW_MAX_DAYS);
    assert_true(logs_days_between("2025-01-01", "2025-04-04", &d));
    assert_true(d + 1 > LOGS_WINDOW_MAX_DAYS);
    assert_true(logs_days_between("2025-03-01", "2025-02-01", &d));
    assert_int_equal(d, -28);
    assert_false(logs_days_between("2025-02-30", "2025-03-01", &d));
    assert_false(logs_days_between("2025-01-01T00:00", "2025-03-01", &d));
}

static void test_cursor_round_trips_and_rejects_forgeries(void **state)
{
    (void)state;
    const char *id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    char *c = logs_cursor_encode("1738300000123456", id);
    char micros[24], got[40];
    assert_true(logs_cursor_decode(c, micros, got));
    assert_string_equal(micros, "1738300000123456");
    assert_string_equal(got, id);
    free(c);

    static const char *const raw_bad[] = {
        "1738300000123456",                                   /* no id */
        ":0f8fad5b-d9cb-469f-a165-70867728950e",              /* no time */
        "-5:0f8fad5b-d9cb-469f-a165-70867728950e",            /* negative */
        "12:not-a-uuid",
        "12:0f8fad5b-d9cb-469f-a165-70867728950e' OR 1=1",    /* trailing junk */
        "99999999999999999999:0f8fad5b-d9cb-469f-a165-70867728950e",
    };
    for (size_t i = 0; i < sizeof raw_bad / sizeof raw_bad[0]; i++) {
        char *enc = b64url_encode(raw_bad[i], strlen(raw_bad[i]));
        if (logs_cursor_decode(enc, micros, got)) fail_msg("accepted %s", raw_bad[i]);
        free(enc);
    }
    /* An embedded NUL must not let the part after it pass unseen. */
    static const char nul[] = "12:0f8fad5b-d9cb-469f-a165-70867728950e\0x";
    char *enc = b64url_encode(nul, sizeof nul - 1);
    assert_false(logs_cursor_decode(enc, micros, got));
    free(enc);
    assert_false(logs_cursor_decode("!!!", micros, got));
    assert_false(logs_cursor_decode("", micros, got));
    assert_false(logs_cursor_decode(NULL, micros, got));
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) n++;
    return n;
}

static void test_preview_keeps_short_text_and_cuts_long_text_at_a_character(void **state)
{
    (void)state;
    char *p = logs_preview("{\"a\":1}", 7, 300);
    assert_string_equal(p, "{\"a\":1}");
    free(p);

    /* Exactly 300 characters: kept whole, no ellipsis. */
    char exact[301];
    memset(exact, 'x', 300);
    exact[300] = '\0';
    p = logs_preview(exact, 300, 300);
    assert_string_equal(p, exact);
    free(p);

    /* 301 characters: 299 of them and "…", 300 characters in all. */
    char longer[302];
    memset(longer, 'y', 301);
    longer[301] = '\0';
    p = logs_preview(longer, 301, 300);
    assert_int_equal(utf8_chars(p), 300);
    assert_int_equal(strlen(p), 299 + 3);
    assert_memory_equal(p + 299, "\xe2\x80\xa6", 3);
    free(p);

    /* Korean text: counted in characters, never cut inside one. */
    char korean[3 * 400 + 1] = "";
    for (int i = 0; i < 400; i++) strcat(korean, "\xea\xb0\x80");   /* 가 */
    p = logs_preview(korean, strlen(korean), 300);
    assert_int_equal(utf8_chars(p), 300);
    assert_int_equal(strlen(p), 299 * 3 + 3);
    free(p);

    /* Invalid bytes become '?'. */
    p = logs_preview("a\xff" "b", 3, 300);
    assert_string_equal(p, "a?b");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_date_alone_is_a_day_of_the_account_time_zone),
        cmocka_unit_test(test_a_time_without_offset_is_wall_clock_with_offset_an_instant),
        cmocka_unit_test(test_impossible_dates_and_times_and_junk_are_refused),
        cmocka_unit_test(test_a_month_covers_its_first_day_to_the_next_month),
        cmocka_unit_test(test_day_counts_decide_the_93_day_window),
        cmocka_unit_test(test_cursor_round_trips_and_rejects_forgeries),
        cmocka_unit_test(test_preview_keeps_short_text_and_cuts_long_text_at_a_character),
    };
    return cmocka_run_group_tests_name("tool_logs", tests, NULL, NULL);
}
