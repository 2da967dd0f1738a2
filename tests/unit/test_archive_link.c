/*
 * Unit tests of common/archive_link: a signed archive download link verifies
 * until it expires, and any change to the archive id, the format, the
 * expiry or the signature, or another server key, makes it fail; links
 * further in the future than the longest lifetime are refused too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/archive_link.h"
#include "common/util.h"

#define ID "0b6f3c1e-9d1a-4c5e-8f00-1234567890ab"
#define NOW 1800000000LL

static struct keybox kb, other;

static int setup(void **state)
{
    (void)state;
    util_init();
    uint8_t k[KEYBOX_KEY_LEN], k2[KEYBOX_KEY_LEN];
    memset(k, 7, sizeof k);
    memset(k2, 8, sizeof k2);
    keybox_from_bytes(&kb, k);
    keybox_from_bytes(&other, k2);
    return 0;
}

static void test_signed_link_verifies_until_it_expires(void **state)
{
    (void)state;
    char sig[ARCHIVE_LINK_SIG_LEN + 1];
    archive_link_sign(&kb, ID, "jsonl", NOW + 900, sig);
    assert_int_equal(strlen(sig), ARCHIVE_LINK_SIG_LEN);
    assert_true(archive_link_verify(&kb, ID, "jsonl", NOW + 900, sig, NOW));
    assert_true(archive_link_verify(&kb, ID, "jsonl", NOW + 900, sig, NOW + 899));
    assert_false(archive_link_verify(&kb, ID, "jsonl", NOW + 900, sig, NOW + 900));
    assert_false(archive_link_verify(&kb, ID, "jsonl", NOW + 900, sig, NOW + 5000));
}

static void test_verify_rejects_any_changed_part(void **state)
{
    (void)state;
    char sig[ARCHIVE_LINK_SIG_LEN + 1];
    archive_link_sign(&kb, ID, "jsonl", NOW + 600, sig);
    assert_false(archive_link_verify(&kb, "0b6f3c1e-9d1a-4c5e-8f00-1234567890ac", "jsonl", NOW + 600, sig, NOW));
    assert_false(archive_link_verify(&kb, ID, "csv", NOW + 600, sig, NOW));
    assert_false(archive_link_verify(&kb, ID, "jsonl", NOW + 601, sig, NOW));
    assert_false(archive_link_verify(&other, ID, "jsonl", NOW + 600, sig, NOW));
    char bad[ARCHIVE_LINK_SIG_LEN + 1];
    memcpy(bad, sig, sizeof bad);
    bad[10] = bad[10] == 'a' ? 'b' : 'a';
    assert_false(archive_link_verify(&kb, ID, "jsonl", NOW + 600, bad, NOW));
    bad[ARCHIVE_LINK_SIG_LEN - 1] = '\0';   /* one character short */
    assert_false(archive_link_verify(&kb, ID, "jsonl", NOW + 600, bad, NOW));
    assert_false(archive_link_verify(&kb, ID, "jsonl", NOW + 600, NULL, NOW));
    assert_false(archive_link_verify(&kb, ID, NULL, NOW + 600, sig, NOW));
}

static void test_verify_refuses_links_beyond_the_longest_lifetime(void **state)
{
    (void)state;
    char sig[ARCHIVE_LINK_SIG_LEN + 1];
    long long far = NOW + ARCHIVE_LINK_MAX_TTL_S + 3600;
    archive_link_sign(&kb, ID, "csv", far, sig);
    assert_false(archive_link_verify(&kb, ID, "csv", far, sig, NOW));
}

static void test_format_suffixes_are_the_two_formats_only(void **state)
{
    (void)state;
    assert_string_equal(archive_format_suffix("jsonl"), ".jsonl.gz");
    assert_string_equal(archive_format_suffix("csv"), ".csv");
    assert_null(archive_format_suffix("../etc"));
    assert_null(archive_format_suffix("JSONL"));
    assert_null(archive_format_suffix(""));
    assert_null(archive_format_suffix(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_link_verifies_until_it_expires),
        cmocka_unit_test(test_verify_rejects_any_changed_part),
        cmocka_unit_test(test_verify_refuses_links_beyond_the_longest_lifetime),
        cmocka_unit_test(test_format_suffixes_are_the_two_formats_only),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
