/*
 * Unit tests of services/worker/cursor: the keyset cursor of the worker's
 * paged lists round-trips, and decoding refuses anything cursor_encode would
 * not have produced from a valid time (forgeries, junk, embedded NUL, times
 * out of range, ids too long to be ours).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "services/worker/cursor.h"

static bool decode_raw(const void *raw, size_t n, char micros[24], char id[CURSOR_ID_MAX + 1])
{
    char *enc = b64url_encode(raw, n);
    bool ok = cursor_decode(enc, micros, id);
    free(enc);
    return ok;
}

static bool decode_text(const char *raw)
{
    char micros[24], id[CURSOR_ID_MAX + 1];
    return decode_raw(raw, strlen(raw), micros, id);
}

static void test_cursor_round_trips_time_and_id(void **state)
{
    (void)state;
    char micros[24], id[CURSOR_ID_MAX + 1];
    char *c = cursor_encode("1738300000123456", "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert_true(cursor_decode(c, micros, id));
    assert_string_equal(micros, "1738300000123456");
    assert_string_equal(id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    free(c);
    c = cursor_encode("0", "rec_01hx0000000000000000000000");
    assert_true(cursor_decode(c, micros, id));
    assert_string_equal(micros, "0");
    assert_string_equal(id, "rec_01hx0000000000000000000000");
    free(c);
}

static void test_cursor_is_base64url_of_time_colon_id(void **state)
{
    (void)state;
    char *c = cursor_encode("12", "ab");
    assert_string_equal(c, "MTI6YWI");   /* "12:ab", unpadded */
    free(c);
}

static void test_decode_accepts_the_whole_time_range(void **state)
{
    (void)state;
    char micros[24], id[CURSOR_ID_MAX + 1];
    assert_true(decode_raw("4000000000000000000:x", 21, micros, id));
    assert_string_equal(micros, "4000000000000000000");
    /* 20 digits with a leading zero: the time is canonicalised. */
    assert_true(decode_raw("00000000000000000042:x", 22, micros, id));
    assert_string_equal(micros, "42");
}

static void test_decode_rejects_times_out_of_range_or_not_decimal(void **state)
{
    (void)state;
    assert_false(decode_text("4000000000000000001:x"));
    assert_false(decode_text("99999999999999999999:x"));
    assert_false(decode_text("000000000000000000042:x"));   /* 21 digits */
    assert_false(decode_text("-5:x"));
    assert_false(decode_text("+5:x"));
    assert_false(decode_text(" 5:x"));
    assert_false(decode_text("0x10:x"));
    assert_false(decode_text(":x"));
}

static void test_decode_rejects_missing_or_oversized_id(void **state)
{
    (void)state;
    assert_false(decode_text("1738300000123456"));
    assert_false(decode_text("1738300000123456:"));
    char raw[80];
    snprintf(raw, sizeof raw, "12:%0*d", CURSOR_ID_MAX, 0);
    assert_true(decode_text(raw));
    snprintf(raw, sizeof raw, "12:%0*d", CURSOR_ID_MAX + 1, 0);
    assert_false(decode_text(raw));
}

static void test_decode_rejects_embedded_nul(void **state)
{
    (void)state;
    char micros[24], id[CURSOR_ID_MAX + 1];
    static const char nul[] = "12:abc\0x";
    assert_false(decode_raw(nul, sizeof nul - 1, micros, id));
    static const char nul_time[] = "1\0002:abc";
    assert_false(decode_raw(nul_time, sizeof nul_time - 1, micros, id));
}

static void test_decode_rejects_junk_and_leaves_outputs_untouched(void **state)
{
    (void)state;
    char micros[24] = "keep", id[CURSOR_ID_MAX + 1] = "keep";
    assert_false(cursor_decode(NULL, micros, id));
    assert_false(cursor_decode("", micros, id));
    assert_false(cursor_decode("!!!", micros, id));
    assert_false(cursor_decode("MTI6YWI=", micros, id));    /* padding is not base64url here */
    char long_cursor[122];
    memset(long_cursor, 'A', 121);
    long_cursor[121] = '\0';
    assert_false(cursor_decode(long_cursor, micros, id));
    assert_false(decode_raw("-5:x", 4, micros, id));
    assert_string_equal(micros, "keep");
    assert_string_equal(id, "keep");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_round_trips_time_and_id),
        cmocka_unit_test(test_cursor_is_base64url_of_time_colon_id),
        cmocka_unit_test(test_decode_accepts_the_whole_time_range),
        cmocka_unit_test(test_decode_rejects_times_out_of_range_or_not_decimal),
        cmocka_unit_test(test_decode_rejects_missing_or_oversized_id),
        cmocka_unit_test(test_decode_rejects_embedded_nul),
        cmocka_unit_test(test_decode_rejects_junk_and_leaves_outputs_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
