/*
 * Unit tests of the MCP JSON-RPC rules of the edge (mcp_jsonrpc.c), the
 * tools/list cursor, the API-key cache and the per-credential rate limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "services/edge/edge_auth.h"
#include "services/edge/edge_keycache.h"
#include "services/edge/edge_ratelimit.h"
#include "services/edge/mcp_jsonrpc.h"
#include "services/edge/mcp_methods.h"

static const struct mcp_headers no_headers = {0};

/* Classifies text with headers; returns true/false and leaves results in m/err. */
static bool classify(const char *text, const struct mcp_headers *h, struct mcp_message *m, struct mcp_error *err,
                     json_t **msg)
{
    *msg = mcp_parse_body(text, strlen(text), err);
    assert_non_null(*msg);
    return mcp_classify(*msg, h, m, err);
}

static void test_parse_error_is_32700_with_status_400(void **state)
{
    (void)state;
    struct mcp_error err = {0};
    assert_null(mcp_parse_body("{bad json", 9, &err));
    assert_int_equal(err.code, JSONRPC_PARSE_ERROR);
    assert_int_equal(err.http_status, 400);
}

static void test_duplicate_keys_are_a_parse_error(void **state)
{
    (void)state;
    struct mcp_error err = {0};
    const char *t = "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}";
    assert_null(mcp_parse_body(t, strlen(t), &err));
    assert_int_equal(err.code, JSONRPC_PARSE_ERROR);
}

static void test_batch_is_invalid_request(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    assert_false(classify("[]", &no_headers, &m, &err, &msg));
    assert_int_equal(err.code, JSONRPC_INVALID_REQUEST);
    assert_int_equal(err.http_status, 400);
    json_decref(msg);
}

static void test_null_id_is_invalid_request(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    assert_false(classify("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"tools/list\"}", &no_headers, &m, &err, &msg));
    assert_int_equal(err.code, JSONRPC_INVALID_REQUEST);
    json_decref(msg);
}

static void test_wrong_jsonrpc_version_is_invalid_request(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    assert_false(classify("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", &no_headers, &m, &err, &msg));
    assert_int_equal(err.code, JSONRPC_INVALID_REQUEST);
    json_decref(msg);
}

static void test_notification_and_response_are_recognised(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    assert_true(classify("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &no_headers, &m, &err, &msg));
    assert_int_equal(m.kind, MCP_NOTIFICATION);
    json_decref(msg);
    assert_true(classify("{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", &no_headers, &m, &err, &msg));
    assert_int_equal(m.kind, MCP_RESPONSE);
    json_decref(msg);
}

static void test_legacy_request_without_version_header_is_accepted(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    assert_true(classify("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/list\"}", &no_headers, &m, &err, &msg));
    assert_int_equal(m.era, MCP_ERA_LEGACY);
    assert_int_equal(m.kind, MCP_REQUEST);
    assert_string_equal(json_string_value(m.id), "a");
    json_decref(msg);
}

static void test_legacy_unsupported_version_header_is_400(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    struct mcp_headers h = {.protocol_version = "1999-01-01"};
    assert_false(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", &h, &m, &err, &msg));
    assert_int_equal(err.http_status, 400);
    json_decref(msg);
}

static void test_negotiation_echoes_known_versions_and_falls_back(void **state)
{
    (void)state;
    assert_string_equal(mcp_negotiate_version("2025-06-18"), "2025-06-18");
    assert_string_equal(mcp_negotiate_version("2025-03-26"), "2025-03-26");
    assert_string_equal(mcp_negotiate_version("2025-11-25"), "2025-11-25");
    assert_string_equal(mcp_negotiate_version("1999-01-01"), "2025-11-25");
    assert_string_equal(mcp_negotiate_version(NULL), "2025-11-25");
    assert_string_equal(mcp_negotiate_version("2026-07-28"), "2025-11-25");
}

#define MODERN_LIST                                                                                                  \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":{"                               \
    "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                                                     \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}}}"

static void test_modern_request_with_matching_headers_is_accepted(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    struct mcp_headers h = {.protocol_version = "2026-07-28", .method = "tools/list"};
    assert_true(classify(MODERN_LIST, &h, &m, &err, &msg));
    assert_int_equal(m.era, MCP_ERA_MODERN);
    json_decref(msg);
}

static void test_modern_header_version_mismatch_is_32020(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    struct mcp_headers h = {.protocol_version = "2025-11-25", .method = "tools/list"};
    assert_false(classify(MODERN_LIST, &h, &m, &err, &msg));
    assert_int_equal(err.code, MCP_HEADER_MISMATCH);
    assert_int_equal(err.http_status, 400);
    assert_int_equal(json_integer_value(err.id), 1);
    json_decref(msg);
}

static void test_modern_missing_method_header_is_32020(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    struct mcp_headers h = {.protocol_version = "2026-07-28"};
    assert_false(classify(MODERN_LIST, &h, &m, &err, &msg));
    assert_int_equal(err.code, MCP_HEADER_MISMATCH);
    json_decref(msg);
}

static void test_modern_unsupported_version_is_32022_with_data(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    struct mcp_headers h = {.protocol_version = "2099-01-01", .method = "tools/list"};
    const char *t = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
                    "\"io.modelcontextprotocol/protocolVersion\":\"2099-01-01\","
                    "\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
    assert_false(classify(t, &h, &m, &err, &msg));
    assert_int_equal(err.code, MCP_UNSUPPORTED_VERSION);
    assert_true(json_is_array(json_object_get(err.data, "supported")));
    assert_string_equal(json_string_value(json_object_get(err.data, "requested")), "2099-01-01");
    json_decref(err.data);
    json_decref(msg);
}

static void test_modern_without_client_capabilities_is_32602(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    struct mcp_headers h = {.protocol_version = "2026-07-28", .method = "tools/list"};
    const char *t = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
                    "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}";
    assert_false(classify(t, &h, &m, &err, &msg));
    assert_int_equal(err.code, JSONRPC_INVALID_PARAMS);
    json_decref(msg);
}

#define MODERN_CALL                                                                                                  \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\",\"_meta\":{"               \
    "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                                                     \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}}}"

static void test_modern_mcp_name_must_match_plain_or_base64(void **state)
{
    (void)state;
    struct mcp_message m;
    struct mcp_error err;
    json_t *msg;
    struct mcp_headers other = {.protocol_version = "2026-07-28", .method = "tools/call", .name = "other"};
    assert_false(classify(MODERN_CALL, &other, &m, &err, &msg));
    assert_int_equal(err.code, MCP_HEADER_MISMATCH);
    json_decref(msg);
    struct mcp_headers b64 = {.protocol_version = "2026-07-28", .method = "tools/call", .name = "=?base64?eA==?="};
    assert_true(classify(MODERN_CALL, &b64, &m, &err, &msg));
    json_decref(msg);
}

static void test_header_value_decode_rejects_control_characters(void **state)
{
    (void)state;
    assert_null(mcp_header_value_decode("a b"));
    assert_null(mcp_header_value_decode("=?base64?!!!?="));
    char *v = mcp_header_value_decode("=?base64?w6k=?=");
    assert_string_equal(v, "\xc3\xa9");
    free(v);
}

static void test_error_status_by_era(void **state)
{
    (void)state;
    assert_int_equal(mcp_error_status(MCP_ERA_LEGACY, JSONRPC_METHOD_NOT_FOUND), 200);
    assert_int_equal(mcp_error_status(MCP_ERA_MODERN, JSONRPC_METHOD_NOT_FOUND), 404);
    assert_int_equal(mcp_error_status(MCP_ERA_MODERN, JSONRPC_INVALID_PARAMS), 400);
    assert_int_equal(mcp_error_status(MCP_ERA_LEGACY, JSONRPC_PARSE_ERROR), 400);
}

static void test_responses_echo_string_and_integer_ids(void **state)
{
    (void)state;
    json_t *id = json_integer(9007199254740993LL);
    json_t *r = mcp_result(id, json_object());
    char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"id\":9007199254740993,\"jsonrpc\":\"2.0\",\"result\":{}}");
    free(s);
    json_decref(r);
    json_decref(id);
    r = mcp_error_response(NULL, JSONRPC_PARSE_ERROR, "Parse error", NULL);
    assert_true(json_is_null(json_object_get(r, "id")));
    json_decref(r);
}

static void test_cursor_round_trip_and_garbage(void **state)
{
    (void)state;
    char *c = mcp_cursor_encode(3);
    assert_int_equal(mcp_cursor_decode(c), 3);
    free(c);
    assert_int_equal(mcp_cursor_decode("garbage"), -1);
    assert_int_equal(mcp_cursor_decode(""), -1);
    assert_int_equal(mcp_cursor_decode("cGFnZTow"), -1);   /* "page:0" is never issued */
}

static void test_bearer_token_extraction(void **state)
{
    (void)state;
    size_t n;
    const char *t = auth_bearer_token("bearer  abc ", &n);
    assert_non_null(t);
    assert_int_equal(n, 3);
    assert_memory_equal(t, "abc", 3);
    assert_null(auth_bearer_token("Basic abc", &n));
    assert_null(auth_bearer_token("Bearer ", &n));
    assert_null(auth_bearer_token(NULL, &n));
}

static void test_mcp_key_shape(void **state)
{
    (void)state;
    const char *good = "tm_mcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_true(auth_is_mcp_key(good, strlen(good)));
    assert_false(auth_is_mcp_key(good, strlen(good) - 1));
    const char *bad = "tm_mcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+";
    assert_false(auth_is_mcp_key(bad, strlen(bad)));
    const char *live = "tm_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_false(auth_is_mcp_key(live, strlen(live)));
}

static void test_keycache_expires_after_ttl_and_remembers_unknown_keys(void **state)
{
    (void)state;
    struct keycache *c = keycache_new(30000);
    uint8_t h1[32] = {1}, h2[32] = {2};
    struct principal p = {.scopes = 3}, out;
    strcpy(p.account_id, "acct");
    keycache_put(c, h1, 1000, &p);
    keycache_put(c, h2, 1000, NULL);
    assert_int_equal(keycache_get(c, h1, 1000 + 29999, &out), KEYCACHE_VALID);
    assert_string_equal(out.account_id, "acct");
    assert_int_equal(keycache_get(c, h2, 2000, &out), KEYCACHE_INVALID);
    assert_int_equal(keycache_get(c, h1, 1000 + 30000, &out), KEYCACHE_MISS);
    keycache_free(c);
}

static void test_keycache_stays_bounded(void **state)
{
    (void)state;
    struct keycache *c = keycache_new(30000);
    struct principal p = {0}, out;
    uint8_t h[32] = {0};
    for (uint32_t i = 0; i < KEYCACHE_MAX + 1000; i++) {
        memcpy(h, &i, sizeof i);
        memcpy(h + 8, &i, sizeof i);
        keycache_put(c, h, 1000 + i / 10, &p);
    }
    uint32_t last = KEYCACHE_MAX + 999;
    memcpy(h, &last, sizeof last);
    memcpy(h + 8, &last, sizeof last);
    assert_int_equal(keycache_get(c, h, 1000 + last / 10, &out), KEYCACHE_VALID);
    keycache_free(c);
}

static void test_ratelimit_allows_burst_then_429_then_refills(void **state)
{
    (void)state;
    struct ratelimit *r = ratelimit_new(5, 5);
    int retry = 0;
    for (int i = 0; i < 5; i++)
        assert_true(ratelimit_take(r, "k", 1000, &retry));
    assert_false(ratelimit_take(r, "k", 1000, &retry));
    assert_true(retry >= 1);
    assert_true(ratelimit_take(r, "other", 1000, &retry));   /* buckets are per credential */
    assert_true(ratelimit_take(r, "k", 1200, &retry));       /* 0.2 s refills one token at 5/s */
    ratelimit_free(r);
    r = ratelimit_new(0, 1);                                 /* 0 turns it off */
    for (int i = 0; i < 1000; i++)
        assert_true(ratelimit_take(r, "k", 1000, &retry));
    ratelimit_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_error_is_32700_with_status_400),
        cmocka_unit_test(test_duplicate_keys_are_a_parse_error),
        cmocka_unit_test(test_batch_is_invalid_request),
        cmocka_unit_test(test_null_id_is_invalid_request),
        cmocka_unit_test(test_wrong_jsonrpc_version_is_invalid_request),
        cmocka_unit_test(test_notification_and_response_are_recognised),
        cmocka_unit_test(test_legacy_request_without_version_header_is_accepted),
        cmocka_unit_test(test_legacy_unsupported_version_header_is_400),
        cmocka_unit_test(test_negotiation_echoes_known_versions_and_falls_back),
        cmocka_unit_test(test_modern_request_with_matching_headers_is_accepted),
        cmocka_unit_test(test_modern_header_version_mismatch_is_32020),
        cmocka_unit_test(test_modern_missing_method_header_is_32020),
        cmocka_unit_test(test_modern_unsupported_version_is_32022_with_data),
        cmocka_unit_test(test_modern_without_client_capabilities_is_32602),
        cmocka_unit_test(test_modern_mcp_name_must_match_plain_or_base64),
        cmocka_unit_test(test_header_value_decode_rejects_control_characters),
        cmocka_unit_test(test_error_status_by_era),
        cmocka_unit_test(test_responses_echo_string_and_integer_ids),
        cmocka_unit_test(test_cursor_round_trip_and_garbage),
        cmocka_unit_test(test_bearer_token_extraction),
        cmocka_unit_test(test_mcp_key_shape),
        cmocka_unit_test(test_keycache_expires_after_ttl_and_remembers_unknown_keys),
        cmocka_unit_test(test_keycache_stays_bounded),
        cmocka_unit_test(test_ratelimit_allows_burst_then_429_then_refills),
    };
    return cmocka_run_group_tests_name("mcp_jsonrpc", tests, NULL, NULL);
}
