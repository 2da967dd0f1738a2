/*
 * Unit tests of common/utf8: which byte sequences are valid UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF, no truncated
 * sequences), how NUL is treated, and code point counting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/utf8.h"

static size_t seq(const char *s, size_t n)
{
    return utf8_seq_len((const unsigned char *)s, n);
}

static void test_seq_len_gives_the_length_of_each_valid_form(void **state)
{
    (void)state;
    assert_int_equal(seq("a", 1), 1);
    assert_int_equal(seq("\x7f", 1), 1);
    assert_int_equal(seq("\xc2\x80", 2), 2);            /* U+0080 */
    assert_int_equal(seq("\xc3\xa9xyz", 5), 2);         /* é, followed by more */
    assert_int_equal(seq("\xe0\xa0\x80", 3), 3);        /* U+0800 */
    assert_int_equal(seq("\xe2\x80\xa6", 3), 3);        /* … */
    assert_int_equal(seq("\xed\x9f\xbf", 3), 3);        /* U+D7FF, just below the surrogates */
    assert_int_equal(seq("\xef\xbf\xbf", 3), 3);        /* U+FFFF */
    assert_int_equal(seq("\xf0\x90\x80\x80", 4), 4);    /* U+10000 */
    assert_int_equal(seq("\xf4\x8f\xbf\xbf", 4), 4);    /* U+10FFFF */
}

static void test_seq_len_counts_nul_as_a_one_byte_sequence(void **state)
{
    (void)state;
    assert_int_equal(seq("\0", 1), 1);
}

static void test_seq_len_rejects_overlong_forms(void **state)
{
    (void)state;
    assert_int_equal(seq("\xc0\x80", 2), 0);
    assert_int_equal(seq("\xc1\xbf", 2), 0);
    assert_int_equal(seq("\xe0\x9f\xbf", 3), 0);        /* U+07FF in three bytes */
    assert_int_equal(seq("\xf0\x8f\xbf\xbf", 4), 0);    /* U+FFFF in four bytes */
}

static void test_seq_len_rejects_surrogates_and_values_above_10ffff(void **state)
{
    (void)state;
    assert_int_equal(seq("\xed\xa0\x80", 3), 0);        /* U+D800 */
    assert_int_equal(seq("\xed\xbf\xbf", 3), 0);        /* U+DFFF */
    assert_int_equal(seq("\xf4\x90\x80\x80", 4), 0);    /* U+110000 */
    assert_int_equal(seq("\xf5\x80\x80\x80", 4), 0);
    assert_int_equal(seq("\xff", 1), 0);
}

static void test_seq_len_rejects_stray_continuation_and_truncated_sequences(void **state)
{
    (void)state;
    assert_int_equal(seq("\x80", 1), 0);
    assert_int_equal(seq("\xbf" "a", 2), 0);
    assert_int_equal(seq("\xe2\x80\xa6", 2), 0);        /* the third byte is beyond n */
    assert_int_equal(seq("\xc3", 1), 0);
    assert_int_equal(seq("\xc3" "a", 2), 0);            /* a lead byte without its continuation */
    assert_int_equal(seq("\xf0\x90\x80" "a", 4), 0);
}

static void test_valid_accepts_text_and_rejects_any_bad_sequence(void **state)
{
    (void)state;
    const char *t = "caf\xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x98\x80";
    assert_true(utf8_valid(t, strlen(t), false));
    assert_true(utf8_valid("", 0, false));
    assert_false(utf8_valid("ab\xc3", 3, false));
    assert_false(utf8_valid("ab\xed\xa0\x80" "cd", 7, true));
    assert_false(utf8_valid("\xc0\xaf", 2, true));
}

static void test_valid_refuses_nul_unless_allowed(void **state)
{
    (void)state;
    assert_false(utf8_valid("a\0b", 3, false));
    assert_true(utf8_valid("a\0b", 3, true));
}

static void test_count_counts_code_points_not_bytes(void **state)
{
    (void)state;
    assert_int_equal(utf8_count("", 0), 0);
    assert_int_equal(utf8_count("abc", 3), 3);
    assert_int_equal(utf8_count("\xc3\xa9\xe2\x80\xa6\xf0\x9f\x98\x80", 9), 3);
    assert_int_equal(utf8_count("a\0b", 3), 3);
    assert_int_equal(utf8_count("\xc3\xa9", 1), 1);     /* only what lies within n */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_len_gives_the_length_of_each_valid_form),
        cmocka_unit_test(test_seq_len_counts_nul_as_a_one_byte_sequence),
        cmocka_unit_test(test_seq_len_rejects_overlong_forms),
        cmocka_unit_test(test_seq_len_rejects_surrogates_and_values_above_10ffff),
        cmocka_unit_test(test_seq_len_rejects_stray_continuation_and_truncated_sequences),
        cmocka_unit_test(test_valid_accepts_text_and_rejects_any_bad_sequence),
        cmocka_unit_test(test_valid_refuses_nul_unless_allowed),
        cmocka_unit_test(test_count_counts_code_points_not_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
