/*
 * Unit tests of common/mcpkey: a new MCP API key has the shape the edge
 * accepts, its hash is SHA-256 of the key text (what the edge looks up), its
 * prefix is the key's first 11 characters, keys differ, wiping clears the
 * secret, and the shape checks refuse near misses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/mcpkey.h"
#include "common/util.h"

static void test_a_new_key_has_its_shape_hash_and_prefix(void **state)
{
    (void)state;
    struct mcpkey k;
    mcpkey_new(&k);
    assert_int_equal(strlen(k.key), MCPKEY_LEN);
    assert_true(mcpkey_shape_ok(k.key));
    assert_memory_equal(k.key, "tm_mcp_", 7);
    uint8_t h[32];
    sha256(k.key, strlen(k.key), h);
    assert_memory_equal(h, k.hash, 32);
    char hex[65];
    hex_encode(h, 32, hex);
    assert_string_equal(hex, k.hash_hex);
    assert_int_equal(strlen(k.prefix), MCPKEY_PREFIX_LEN);
    assert_memory_equal(k.prefix, k.key, MCPKEY_PREFIX_LEN);
    assert_true(mcpkey_prefix_ok(k.prefix));
    struct mcpkey k2;
    mcpkey_new(&k2);
    assert_string_not_equal(k.key, k2.key);
    mcpkey_wipe(&k);
    static const struct mcpkey zero;
    assert_memory_equal(&k, &zero, sizeof k);
}

static void test_shape_checks_refuse_near_misses(void **state)
{
    (void)state;
    const char *good = "tm_mcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_true(mcpkey_shape_ok(good));
    assert_false(mcpkey_shape_ok(NULL));
    assert_false(mcpkey_shape_ok(""));
    assert_false(mcpkey_shape_ok("tm_mcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));     /* 42 */
    assert_false(mcpkey_shape_ok("tm_mcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));   /* 44 */
    assert_false(mcpkey_shape_ok("tm_mcq_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_false(mcpkey_shape_ok("tm_mcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+"));
    assert_false(mcpkey_shape_ok("tm_mcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assert_true(mcpkey_prefix_ok("tm_mcp_Ab-_"));
    assert_false(mcpkey_prefix_ok("tm_mcp_Ab-"));
    assert_false(mcpkey_prefix_ok("tm_mcp_Ab-_x"));
    assert_false(mcpkey_prefix_ok("tm_mcp_Ab<_"));
    assert_false(mcpkey_prefix_ok("xx_mcp_Ab-_"));
    assert_false(mcpkey_prefix_ok(NULL));
}

int main(void)
{
    util_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_new_key_has_its_shape_hash_and_prefix),
        cmocka_unit_test(test_shape_checks_refuse_near_misses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
