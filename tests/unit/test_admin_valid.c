/*
 * Unit tests of admin_valid: what `3min` accepts from the operator before
 * anything reaches the database. The admin command has no library of its
 * own, so the module is compiled into this test directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "services/admin/admin.h"

static void test_email_accepts_ordinary_addresses(void **state)
{
    (void)state;
    assert_null(admin_check_email("demo@3minapi.local"));
    assert_null(admin_check_email("first.last+tag@mail.example.co.kr"));
}

static void test_email_rejects_malformed_addresses(void **state)
{
    (void)state;
    assert_non_null(admin_check_email(""));
    assert_non_null(admin_check_email("no-at.example.com"));
    assert_non_null(admin_check_email("two@at@example.com"));
    assert_non_null(admin_check_email("@example.com"));
    assert_non_null(admin_check_email("user@localhost"));
    assert_non_null(admin_check_email("user@.example.com"));
    assert_non_null(admin_check_email("user@example.com."));
    assert_non_null(admin_check_email("user@example..com"));
    assert_non_null(admin_check_email("us er@example.com"));
    assert_non_null(admin_check_email("user@example.com\n"));
}

static void test_email_rejects_more_than_254_characters(void **state)
{
    (void)state;
    char buf[300];
    memset(buf, 'a', sizeof buf);
    /* 242 + "@example.com" (12) = 254: the longest allowed. */
    memcpy(buf + 242, "@example.com", 13);
    assert_null(admin_check_email(buf));
    memset(buf, 'a', sizeof buf);
    memcpy(buf + 243, "@example.com", 13);
    assert_non_null(admin_check_email(buf));
}

static void test_password_needs_ten_characters_counted_not_bytes(void **state)
{
    (void)state;
    assert_non_null(admin_check_password("123456789"));
    assert_null(admin_check_password("1234567890"));
    /* Nine Hangul syllables are 27 bytes but nine characters. */
    assert_non_null(admin_check_password("가나다라마바사아자"));
    assert_null(admin_check_password("가나다라마바사아자차"));
}

static void test_password_longer_than_limit_is_rejected(void **state)
{
    (void)state;
    char buf[ADMIN_PASSWORD_MAX + 2];
    memset(buf, 'x', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    assert_non_null(admin_check_password(buf));
    buf[ADMIN_PASSWORD_MAX] = '\0';
    assert_null(admin_check_password(buf));
}

static void test_plan_accepts_only_the_four_plans(void **state)
{
    (void)state;
    assert_null(admin_check_plan("free"));
    assert_null(admin_check_plan("basic"));
    assert_null(admin_check_plan("pro"));
    assert_null(admin_check_plan("enterprise"));
    assert_non_null(admin_check_plan("Pro"));
    assert_non_null(admin_check_plan("gold"));
    assert_non_null(admin_check_plan(""));
}

static void test_key_name_is_one_to_64_printable_characters(void **state)
{
    (void)state;
    char buf[70];
    assert_non_null(admin_check_key_name(""));
    assert_non_null(admin_check_key_name("ci\tbot"));
    assert_non_null(admin_check_key_name("ci\x1b[2Jbot"));
    memset(buf, 'k', 64);
    buf[64] = '\0';
    assert_null(admin_check_key_name(buf));
    buf[64] = 'k';
    buf[65] = '\0';
    assert_non_null(admin_check_key_name(buf));
    assert_null(admin_check_key_name("노트북 (Cursor)"));
}

static void test_uuid_must_have_the_canonical_shape(void **state)
{
    (void)state;
    assert_null(admin_check_uuid("7d25e1bd-2687-4d0c-ab1f-7bc98bdb6b74"));
    assert_null(admin_check_uuid("7D25E1BD-2687-4D0C-AB1F-7BC98BDB6B74"));
    assert_non_null(admin_check_uuid("7d25e1bd26874d0cab1f7bc98bdb6b74"));
    assert_non_null(admin_check_uuid("7d25e1bd-2687-4d0c-ab1f-7bc98bdb6b7g"));
    assert_non_null(admin_check_uuid("7d25e1bd-2687-4d0c-ab1f-7bc98bdb6b74x"));
    assert_non_null(admin_check_uuid("'; DROP TABLE accounts; --"));
    assert_non_null(admin_check_uuid(""));
}

static void test_scopes_become_a_canonical_array_literal(void **state)
{
    (void)state;
    uint32_t bits = 0;
    char lit[64];
    assert_null(admin_parse_scopes("execute, read", &bits));
    admin_scopes_literal(bits, lit, sizeof lit);
    assert_string_equal(lit, "{read,execute}");
    assert_null(admin_parse_scopes("read,write,execute", &bits));
    admin_scopes_literal(bits, lit, sizeof lit);
    assert_string_equal(lit, "{read,write,execute}");
}

static void test_scopes_reject_unknown_and_empty_lists(void **state)
{
    (void)state;
    uint32_t bits = 0;
    assert_non_null(admin_parse_scopes("read,admin", &bits));
    assert_non_null(admin_parse_scopes("", &bits));
    assert_non_null(admin_parse_scopes(" , ", &bits));
    assert_non_null(admin_parse_scopes("READ", &bits));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_accepts_ordinary_addresses),
        cmocka_unit_test(test_email_rejects_malformed_addresses),
        cmocka_unit_test(test_email_rejects_more_than_254_characters),
        cmocka_unit_test(test_password_needs_ten_characters_counted_not_bytes),
        cmocka_unit_test(test_password_longer_than_limit_is_rejected),
        cmocka_unit_test(test_plan_accepts_only_the_four_plans),
        cmocka_unit_test(test_key_name_is_one_to_64_printable_characters),
        cmocka_unit_test(test_uuid_must_have_the_canonical_shape),
        cmocka_unit_test(test_scopes_become_a_canonical_array_literal),
        cmocka_unit_test(test_scopes_reject_unknown_and_empty_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
