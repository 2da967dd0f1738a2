/*
 * Unit tests of the gateway's pure pieces (services/worker/gateway.h) and of
 * the keybox that keeps gateway secrets encrypted (common/keybox.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/keybox.h"
#include "common/util.h"
#include "services/worker/gateway.h"

static int setup(void **state)
{
    (void)state;
    util_init();
    return 0;
}

static void test_record_id_has_the_shape_and_sorts_by_time(void **state)
{
    (void)state;
    uint8_t rnd[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t zero[10] = {0};
    char a[GW_RECORD_ID_LEN + 1], b[GW_RECORD_ID_LEN + 1], c[GW_RECORD_ID_LEN + 1];
    gateway_record_id(1700000000000LL, rnd, a);
    gateway_record_id(1700000000001LL, zero, b);
    gateway_record_id(1700000000001LL, rnd, c);
    assert_int_equal(strlen(a), 30);
    assert_memory_equal(a, "rec_", 4);
    for (int i = 4; i < 30; i++)
        assert_non_null(strchr("0123456789abcdefghjkmnpqrstvwxyz", a[i]));
    assert_true(strcmp(a, b) < 0);   /* a later millisecond sorts after, whatever the random part */
    assert_true(strcmp(b, c) < 0);
    assert_string_equal(a + 14, "zzzzzzzzzzzzzzzz");
    assert_string_equal(b + 14, "0000000000000000");
}

static void test_record_ids_differ_with_random_bytes(void **state)
{
    (void)state;
    uint8_t r1[10], r2[10];
    random_bytes(r1, sizeof r1);
    random_bytes(r2, sizeof r2);
    char a[31], b[31];
    gateway_record_id(now_ms(), r1, a);
    gateway_record_id(now_ms(), r2, b);
    assert_string_not_equal(a + 14, b + 14);
}

static void test_clip_keeps_short_text_unchanged(void **state)
{
    (void)state;
    bool cut = true;
    char *s = gateway_clip_text("{\"a\":\"é\"}", 10, 16384, &cut);
    assert_string_equal(s, "{\"a\":\"é\"}");
    assert_false(cut);
    free(s);
}

static void test_clip_cuts_at_a_character_boundary_and_marks_it(void **state)
{
    (void)state;
    const char *t = "ab\xc3\xa9\xc3\xa9";   /* ab é é: 6 bytes */
    bool cut = false;
    char *s = gateway_clip_text(t, 6, 3, &cut);
    assert_string_equal(s, "ab");   /* the 2-byte é does not fit in the third byte */
    assert_true(cut);
    free(s);
    s = gateway_clip_text(t, 6, 4, &cut);
    assert_string_equal(s, "ab\xc3\xa9");
    assert_true(cut);
    free(s);
}

static void test_clip_replaces_invalid_utf8_and_nul(void **state)
{
    (void)state;
    const char t[] = {'a', '\0', 'b', (char)0xff, (char)0xc3, 'c', (char)0xed, (char)0xa0, (char)0x80};
    bool cut = true;
    char *s = gateway_clip_text(t, sizeof t, 100, &cut);
    assert_string_equal(s, "a?b??c???");   /* a surrogate (ED A0 80) is not valid UTF-8 either */
    assert_false(cut);
    free(s);
}

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    assert_non_null(v);
    return v;
}

static void test_search_text_uses_searchable_fields_only_when_marked(void **state)
{
    (void)state;
    json_t *fields = J("[{\"name\":\"email\",\"type\":\"string\",\"required\":true,\"searchable\":false},"
                       "{\"name\":\"msg\",\"type\":\"string\",\"required\":false,\"searchable\":true}]");
    json_t *p = J("{\"email\":\"a@example.com\",\"msg\":\"hello world\",\"n\":3}");
    char *s = gateway_search_text(fields, p);
    assert_string_equal(s, "hello world");
    free(s);
    json_t *none = J("[]");
    s = gateway_search_text(none, p);
    assert_non_null(strstr(s, "a@example.com"));
    assert_non_null(strstr(s, "hello world"));
    assert_null(strstr(s, "3"));   /* only strings */
    free(s);
    json_decref(fields);
    json_decref(none);
    json_decref(p);
}

static void test_search_text_is_capped_at_4_kb(void **state)
{
    (void)state;
    char *big = xmalloc(10001);
    memset(big, 'x', 10000);
    big[10000] = '\0';
    json_t *p = json_pack("{s:s, s:s}", "a", big, "b", "tail");
    char *s = gateway_search_text(NULL, p);
    assert_true(strlen(s) <= GW_SEARCH_TEXT_MAX);
    assert_true(strlen(s) >= GW_SEARCH_TEXT_MAX - 8);
    free(s);
    free(big);
    json_decref(p);
}

static void test_cursor_round_trips_and_rejects_junk(void **state)
{
    (void)state;
    char *c = gateway_cursor_encode("1700000000123456", "rec_01hx0000000000000000000000");
    char micros[24], id[48];
    assert_true(gateway_cursor_decode(c, micros, id));
    assert_string_equal(micros, "1700000000123456");
    assert_string_equal(id, "rec_01hx0000000000000000000000");
    free(c);
    assert_false(gateway_cursor_decode("", micros, id));
    assert_false(gateway_cursor_decode("bm90LWEtY3Vyc29y", micros, id));   /* "not-a-cursor" */
    char *bad = gateway_cursor_encode("12", "rec_'; drop");
    assert_false(gateway_cursor_decode(bad, micros, id));
    free(bad);
    bad = gateway_cursor_encode("-5", "rec_abc");
    assert_false(gateway_cursor_decode(bad, micros, id));
    free(bad);
}

static void test_keybox_seals_and_opens_and_refuses_tampering(void **state)
{
    (void)state;
    uint8_t k1[32], k2[32];
    random_bytes(k1, sizeof k1);
    random_bytes(k2, sizeof k2);
    struct keybox a, b;
    keybox_from_bytes(&a, k1);
    keybox_from_bytes(&b, k2);
    char key[GATEWAY_KEY_LEN + 1];
    gateway_key_generate(true, key);
    assert_int_equal(strlen(key), GATEWAY_KEY_LEN);
    assert_memory_equal(key, "tm_live_", 8);
    size_t n;
    uint8_t *box = keybox_seal(&a, key, strlen(key), &n);
    assert_int_equal(n, strlen(key) + KEYBOX_OVERHEAD);
    assert_null(memmem(box, n, key, strlen(key)));
    char *plain = keybox_open(&a, box, n);
    assert_string_equal(plain, key);
    free(plain);
    assert_null(keybox_open(&b, box, n));   /* another server key */
    box[n - 1] ^= 1;
    assert_null(keybox_open(&a, box, n));   /* altered */
    assert_null(keybox_open(&a, box, 10));
    /* Through the bytea text form and back. */
    box[n - 1] ^= 1;
    char *hex = keybox_bytea_hex(box, n);
    size_t m;
    uint8_t *back = keybox_bytea_parse(hex, &m);
    assert_int_equal(m, n);
    assert_memory_equal(back, box, n);
    assert_null(keybox_bytea_parse("\\xzz", &m));
    assert_null(keybox_bytea_parse("abc", &m));
    free(back);
    free(hex);
    free(box);
}

static void test_keybox_file_is_created_once_and_reloaded(void **state)
{
    (void)state;
    char dir[] = "/tmp/keybox-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = xasprintf("%s/keys-secret", dir);
    struct keybox a, b;
    char err[256];
    assert_int_equal(keybox_load(&a, path, false, err, sizeof err), -1);   /* missing, not created */
    assert_int_equal(keybox_load(&a, path, true, err, sizeof err), 0);
    assert_int_equal(keybox_load(&b, path, true, err, sizeof err), 0);
    assert_memory_equal(a.key, b.key, KEYBOX_KEY_LEN);                     /* not replaced */
    char secret[WEBHOOK_SECRET_LEN + 1];
    webhook_secret_generate(secret);
    assert_memory_equal(secret, "whsec_", 6);
    assert_int_equal(strlen(secret), WEBHOOK_SECRET_LEN);
    unlink(path);
    rmdir(dir);
    free(path);
}

static void test_key_mask_shows_prefix_and_last_four(void **state)
{
    (void)state;
    char out[64];
    gateway_key_mask("tm_live_", "abcd", out, sizeof out);
    assert_string_equal(out, "tm_live_\xe2\x80\xa6" "abcd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_id_has_the_shape_and_sorts_by_time),
        cmocka_unit_test(test_record_ids_differ_with_random_bytes),
        cmocka_unit_test(test_clip_keeps_short_text_unchanged),
        cmocka_unit_test(test_clip_cuts_at_a_character_boundary_and_marks_it),
        cmocka_unit_test(test_clip_replaces_invalid_utf8_and_nul),
        cmocka_unit_test(test_search_text_uses_searchable_fields_only_when_marked),
        cmocka_unit_test(test_search_text_is_capped_at_4_kb),
        cmocka_unit_test(test_cursor_round_trips_and_rejects_junk),
        cmocka_unit_test(test_keybox_seals_and_opens_and_refuses_tampering),
        cmocka_unit_test(test_keybox_file_is_created_once_and_reloaded),
        cmocka_unit_test(test_key_mask_shows_prefix_and_last_four),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
