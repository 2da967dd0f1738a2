/*
 * Tests of proto/envelope: round trips of requests and responses, and the
 * strict decoder against hostile bytes (truncation, trailing data, lying
 * length headers, deep nesting, wrong types, unknown keys, random bytes).
 * Hostile messages are built by hand with msgpack-c so that each test breaks
 * exactly one rule of the wire contract.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "proto/envelope.h"

/* ---- fixtures ------------------------------------------------------------- */

static const uint8_t test_id[ENV_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const char test_args[] = "{\"limit\":10,\"q\":\"caf\xc3\xa9\"}";

static void make_request(struct env_request *r)
{
    memset(r, 0, sizeof *r);
    memcpy(r->id, test_id, ENV_ID_LEN);
    r->op = ENV_OP_TOOL;
    strcpy(r->name, "tables.list");
    strcpy(r->who.account_id, "0b8e6c52-5f8e-4a43-9d55-2d7c0c3b1e7a");
    r->who.kind = PRINCIPAL_OAUTH;
    strcpy(r->who.client_id, "client-abc");
    strcpy(r->who.key_id, "7d1f0c3e-1111-4222-8333-944455556666");
    r->who.scopes = SCOPE_READ | SCOPE_EXECUTE;
    r->args = (char *)test_args;
    r->args_len = strlen(test_args);
    r->deadline_ms = 1735689600123;
}

/* ---- a hand packer for messages that break one rule at a time -------------- */

/*
 * path names a field ("v", "who.kind", "error.code"). omit drops it, wrong
 * gives it a value of the wrong msgpack type, extra adds an unknown key to the
 * map named by extra ("" = top level).
 */
struct mut {
    const char *omit;
    const char *wrong;
    const char *extra;
};

static bool eq(const char *a, const char *b)
{
    return a != NULL && strcmp(a, b) == 0;
}

static void p_key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
}

static void p_str(msgpack_packer *pk, const struct mut *m, const char *path, const char *key,
                  const char *val)
{
    if (eq(m->omit, path))
        return;
    p_key(pk, key);
    if (eq(m->wrong, path))
        msgpack_pack_int(pk, 7);
    else
        msgpack_pack_str_with_body(pk, val, strlen(val));
}

/* A bin field given as str is the likeliest wrong type in practice. */
static void p_bin(msgpack_packer *pk, const struct mut *m, const char *path, const char *key,
                  const void *val, size_t n)
{
    if (eq(m->omit, path))
        return;
    p_key(pk, key);
    if (eq(m->wrong, path))
        msgpack_pack_str_with_body(pk, val, n);
    else
        msgpack_pack_bin_with_body(pk, val, n);
}

static void p_uint(msgpack_packer *pk, const struct mut *m, const char *path, const char *key,
                   uint64_t val)
{
    if (eq(m->omit, path))
        return;
    p_key(pk, key);
    if (eq(m->wrong, path))
        msgpack_pack_str_with_body(pk, "1", 1);
    else
        msgpack_pack_uint64(pk, val);
}

static size_t map_size(const struct mut *m, const char *map, const char *const *paths, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += !eq(m->omit, paths[i]);
    return k + eq(m->extra, map);
}

static void p_extra(msgpack_packer *pk, const struct mut *m, const char *map)
{
    if (eq(m->extra, map)) {
        p_key(pk, "x");
        msgpack_pack_nil(pk);
    }
}

static const char *const req_paths[] = {"v", "id", "op", "name", "who", "args", "deadline"};
static const char *const who_paths[] = {"who.acct", "who.kind", "who.client", "who.key", "who.scopes"};

static void pack_request(msgpack_sbuffer *sb, const struct mut *m)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, map_size(m, "", req_paths, 7));
    p_uint(&pk, m, "v", "v", ENV_VERSION);
    p_bin(&pk, m, "id", "id", test_id, ENV_ID_LEN);
    p_str(&pk, m, "op", "op", "tool");
    p_str(&pk, m, "name", "name", "tables.list");
    if (!eq(m->omit, "who")) {
        p_key(&pk, "who");
        if (eq(m->wrong, "who")) {
            msgpack_pack_array(&pk, 0);
        } else {
            msgpack_pack_map(&pk, map_size(m, "who", who_paths, 5));
            p_str(&pk, m, "who.acct", "acct", "0b8e6c52-5f8e-4a43-9d55-2d7c0c3b1e7a");
            p_str(&pk, m, "who.kind", "kind", "apikey");
            p_str(&pk, m, "who.client", "client", "");
            p_str(&pk, m, "who.key", "key", "k1");
            p_uint(&pk, m, "who.scopes", "scopes", SCOPE_ALL);
            p_extra(&pk, m, "who");
        }
    }
    p_bin(&pk, m, "args", "args", "{}", 2);
    p_uint(&pk, m, "deadline", "deadline", 1000);
    p_extra(&pk, m, "");
}

static const char *const ok_paths[] = {"v", "id", "ok", "result"};
static const char *const fail_paths[] = {"v", "id", "ok", "error"};
static const char *const err_paths[] = {"error.code", "error.message", "error.details"};

static void pack_response(msgpack_sbuffer *sb, const struct mut *m, bool ok)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, map_size(m, "", ok ? ok_paths : fail_paths, 4));
    p_uint(&pk, m, "v", "v", ENV_VERSION);
    p_bin(&pk, m, "id", "id", test_id, ENV_ID_LEN);
    if (!eq(m->omit, "ok")) {
        p_key(&pk, "ok");
        if (eq(m->wrong, "ok"))
            msgpack_pack_int(&pk, ok);
        else if (ok)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
    }
    if (ok) {
        p_bin(&pk, m, "result", "result", "[1,2]", 5);
    } else if (!eq(m->omit, "error")) {
        p_key(&pk, "error");
        if (eq(m->wrong, "error")) {
            msgpack_pack_str_with_body(&pk, "not_found", 9);
        } else {
            msgpack_pack_map(&pk, map_size(m, "error", err_paths, 3));
            p_str(&pk, m, "error.code", "code", "not_found");
            p_str(&pk, m, "error.message", "message", "no such table");
            p_bin(&pk, m, "error.details", "details", "{\"table\":\"t\"}", 13);
            p_extra(&pk, m, "error");
        }
    }
    p_extra(&pk, m, "");
}

static int decode_req_bytes(const void *buf, size_t len)
{
    struct env_request r;
    const char *err = NULL;
    int rc = env_request_decode(buf, len, &r, &err);
    if (rc == 0)
        env_request_free(&r);
    else
        assert_non_null(err);
    return rc;
}

static int decode_resp_bytes(const void *buf, size_t len)
{
    struct env_response r;
    const char *err = NULL;
    int rc = env_response_decode(buf, len, &r, &err);
    if (rc == 0)
        env_response_free(&r);
    else
        assert_non_null(err);
    return rc;
}

static int decode_req_mut(struct mut m)
{
    msgpack_sbuffer sb;
    pack_request(&sb, &m);
    int rc = decode_req_bytes(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int decode_resp_mut(struct mut m, bool ok)
{
    msgpack_sbuffer sb;
    pack_response(&sb, &m, ok);
    int rc = decode_resp_bytes(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- round trips ------------------------------------------------------------ */

static void test_request_round_trip_keeps_every_field(void **state)
{
    (void)state;
    struct env_request in, out;
    uint8_t *buf;
    size_t len;
    make_request(&in);
    in.deadline_ms = -5; /* signed deadlines survive too */
    assert_int_equal(env_request_encode(&in, &buf, &len), 0);
    assert_int_equal(env_request_decode(buf, len, &out, NULL), 0);
    assert_memory_equal(out.id, in.id, ENV_ID_LEN);
    assert_int_equal(out.op, ENV_OP_TOOL);
    assert_string_equal(out.name, "tables.list");
    assert_string_equal(out.who.account_id, in.who.account_id);
    assert_int_equal(out.who.kind, PRINCIPAL_OAUTH);
    assert_string_equal(out.who.client_id, "client-abc");
    assert_string_equal(out.who.key_id, in.who.key_id);
    assert_int_equal(out.who.scopes, SCOPE_READ | SCOPE_EXECUTE);
    assert_int_equal(out.args_len, strlen(test_args));
    assert_string_equal(out.args, test_args);
    assert_int_equal(out.deadline_ms, -5);
    env_request_free(&out);
    assert_null(out.args);
    free(buf);
}

static void test_request_round_trip_every_op_and_kind(void **state)
{
    (void)state;
    const enum env_op ops[] = {ENV_OP_TOOL, ENV_OP_GATEWAY, ENV_OP_AUTH, ENV_OP_WEB};
    const enum principal_kind kinds[] = {PRINCIPAL_ANON, PRINCIPAL_APIKEY, PRINCIPAL_OAUTH,
                                         PRINCIPAL_COLLAB, PRINCIPAL_WEB};
    for (size_t i = 0; i < 4; i++) {
        for (size_t k = 0; k < 5; k++) {
            struct env_request in, out;
            uint8_t *buf;
            size_t len;
            make_request(&in);
            in.op = ops[i];
            in.who.kind = kinds[k];
            assert_int_equal(env_request_encode(&in, &buf, &len), 0);
            assert_int_equal(env_request_decode(buf, len, &out, NULL), 0);
            assert_int_equal(out.op, ops[i]);
            assert_int_equal(out.who.kind, kinds[k]);
            env_request_free(&out);
            free(buf);
        }
    }
}

static void test_request_round_trip_with_empty_fields_and_int64_deadline(void **state)
{
    (void)state;
    struct env_request in, out;
    uint8_t *buf;
    size_t len;
    make_request(&in);
    in.who.kind = PRINCIPAL_ANON;
    in.who.account_id[0] = in.who.client_id[0] = in.who.key_id[0] = '\0';
    in.who.scopes = 0;
    in.args = NULL;
    in.args_len = 0;
    in.deadline_ms = INT64_MAX;
    assert_int_equal(env_request_encode(&in, &buf, &len), 0);
    assert_int_equal(env_request_decode(buf, len, &out, NULL), 0);
    assert_string_equal(out.who.account_id, "");
    assert_string_equal(out.who.client_id, "");
    assert_int_equal(out.who.scopes, 0);
    assert_non_null(out.args);
    assert_string_equal(out.args, "");
    assert_int_equal(out.args_len, 0);
    assert_true(out.deadline_ms == INT64_MAX);
    env_request_free(&out);
    free(buf);
}

static void test_request_names_at_their_size_limits_round_trip(void **state)
{
    (void)state;
    struct env_request in, out;
    uint8_t *buf;
    size_t len;
    make_request(&in);
    memset(in.name, 'n', ENV_MAX_NAME - 1);
    in.name[ENV_MAX_NAME - 1] = '\0';
    memset(in.who.account_id, 'a', sizeof in.who.account_id - 1);
    in.who.account_id[sizeof in.who.account_id - 1] = '\0';
    memset(in.who.client_id, 'c', sizeof in.who.client_id - 1);
    in.who.client_id[sizeof in.who.client_id - 1] = '\0';
    memset(in.who.key_id, 'k', sizeof in.who.key_id - 1);
    in.who.key_id[sizeof in.who.key_id - 1] = '\0';
    assert_int_equal(env_request_encode(&in, &buf, &len), 0);
    assert_int_equal(env_request_decode(buf, len, &out, NULL), 0);
    assert_string_equal(out.name, in.name);
    assert_string_equal(out.who.account_id, in.who.account_id);
    assert_string_equal(out.who.client_id, in.who.client_id);
    assert_string_equal(out.who.key_id, in.who.key_id);
    env_request_free(&out);
    free(buf);
}

static void test_response_ok_round_trip(void **state)
{
    (void)state;
    struct env_response in = {0}, out;
    uint8_t *buf;
    size_t len;
    memcpy(in.id, test_id, ENV_ID_LEN);
    in.ok = true;
    in.result = "{\"rows\":[]}";
    in.result_len = strlen(in.result);
    assert_int_equal(env_response_encode(&in, &buf, &len), 0);
    assert_int_equal(env_response_decode(buf, len, &out, NULL), 0);
    assert_true(out.ok);
    assert_memory_equal(out.id, test_id, ENV_ID_LEN);
    assert_string_equal(out.result, "{\"rows\":[]}");
    assert_int_equal(out.result_len, 11);
    assert_null(out.message);
    assert_null(out.details);
    env_response_free(&out);
    free(buf);
}

static void test_response_error_round_trip_with_and_without_details(void **state)
{
    (void)state;
    for (int with = 0; with < 2; with++) {
        struct env_response in = {0}, out;
        uint8_t *buf;
        size_t len;
        memcpy(in.id, test_id, ENV_ID_LEN);
        in.ok = false;
        in.code = TM_ERR_QUOTA_EXCEEDED;
        in.message = "monthly row quota reached";
        if (with) {
            in.details = "{\"limit\":1000}";
            in.details_len = strlen(in.details);
        }
        assert_int_equal(env_response_encode(&in, &buf, &len), 0);
        assert_int_equal(env_response_decode(buf, len, &out, NULL), 0);
        assert_false(out.ok);
        assert_int_equal(out.code, TM_ERR_QUOTA_EXCEEDED);
        assert_string_equal(out.message, "monthly row quota reached");
        assert_null(out.result);
        if (with) {
            assert_string_equal(out.details, "{\"limit\":1000}");
            assert_int_equal(out.details_len, 14);
        } else {
            assert_null(out.details);
        }
        env_response_free(&out);
        free(buf);
    }
}

static void test_response_every_error_code_round_trips(void **state)
{
    (void)state;
    for (int c = TM_ERR_INVALID_ARGUMENT; c < TM_ERR__COUNT; c++) {
        struct env_response in = {0}, out;
        uint8_t *buf;
        size_t len;
        in.code = (enum tm_error)c;
        in.message = "m";
        assert_int_equal(env_response_encode(&in, &buf, &len), 0);
        assert_int_equal(env_response_decode(buf, len, &out, NULL), 0);
        assert_int_equal(out.code, c);
        env_response_free(&out);
        free(buf);
    }
}

static void test_encode_refuses_message_over_the_size_limit(void **state)
{
    (void)state;
    struct env_request in;
    uint8_t *buf = (uint8_t *)"sentinel";
    size_t len = 1;
    make_request(&in);
    in.args_len = ENV_MAX_MESSAGE;
    in.args = calloc(1, in.args_len);
    assert_non_null(in.args);
    assert_int_equal(env_request_encode(&in, &buf, &len), -1);
    assert_null(buf);
    assert_int_equal(len, 0);
    free(in.args);
}

static void test_names_of_ops_kinds_and_errors(void **state)
{
    (void)state;
    assert_string_equal(env_op_name(ENV_OP_TOOL), "tool");
    assert_string_equal(env_op_name(ENV_OP_GATEWAY), "gateway");
    assert_string_equal(env_op_name(ENV_OP_AUTH), "auth");
    assert_string_equal(env_op_name(ENV_OP_WEB), "web");
    assert_string_equal(principal_kind_name(PRINCIPAL_ANON), "anon");
    assert_string_equal(principal_kind_name(PRINCIPAL_APIKEY), "apikey");
    assert_string_equal(principal_kind_name(PRINCIPAL_OAUTH), "oauth");
    assert_string_equal(principal_kind_name(PRINCIPAL_COLLAB), "collab");
    assert_string_equal(principal_kind_name(PRINCIPAL_WEB), "web");
    assert_string_equal(tm_error_name(TM_OK), "ok");
    assert_string_equal(tm_error_name(TM_ERR_PRECONDITION_FAILED), "precondition_failed");
    assert_string_equal(tm_error_name(TM_ERR_INTERNAL), "internal");
    assert_int_equal(tm_error_from_name("rate_limited", 12), TM_ERR_RATE_LIMITED);
    assert_int_equal(tm_error_from_name("rate_limitedX", 12), TM_ERR_RATE_LIMITED);
    assert_int_equal(tm_error_from_name("rate_limite", 11), -1);
    assert_int_equal(tm_error_from_name("Not_Found", 9), -1);
    for (int c = 0; c < TM_ERR__COUNT; c++) {
        const char *n = tm_error_name((enum tm_error)c);
        assert_int_equal(tm_error_from_name(n, strlen(n)), c);
    }
}

/* ---- the hand packer itself produces valid messages --------------------- */

static void test_hand_built_messages_decode(void **state)
{
    (void)state;
    struct mut none = {0};
    assert_int_equal(decode_req_mut(none), 0);
    assert_int_equal(decode_resp_mut(none, true), 0);
    assert_int_equal(decode_resp_mut(none, false), 0);
    /* details is optional */
    assert_int_equal(decode_resp_mut((struct mut){.omit = "error.details"}, false), 0);
}

/* ---- hostile input ----------------------------------------------------------- */

static void test_decode_rejects_every_truncation(void **state)
{
    (void)state;
    struct env_request in;
    uint8_t *buf;
    size_t len;
    make_request(&in);
    assert_int_equal(env_request_encode(&in, &buf, &len), 0);
    for (size_t n = 0; n < len; n++) {
        /* a fresh copy of exactly n bytes, so ASan sees any over-read */
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        assert_int_equal(decode_req_bytes(cut, n), -1);
        assert_false(mp_check(cut, n, ENV_MAX_DEPTH));
        free(cut);
    }
    free(buf);

    struct env_response r = {.code = TM_ERR_CONFLICT, .message = "x", .details = "{}", .details_len = 2};
    assert_int_equal(env_response_encode(&r, &buf, &len), 0);
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        assert_int_equal(decode_resp_bytes(cut, n), -1);
        free(cut);
    }
    free(buf);
}

static void test_decode_rejects_trailing_bytes(void **state)
{
    (void)state;
    struct env_request in;
    uint8_t *buf;
    size_t len;
    make_request(&in);
    assert_int_equal(env_request_encode(&in, &buf, &len), 0);
    uint8_t *more = malloc(len + 1);
    memcpy(more, buf, len);
    more[len] = 0xc0;
    assert_int_equal(decode_req_bytes(more, len), 0);
    assert_int_equal(decode_req_bytes(more, len + 1), -1);
    assert_false(mp_check(more, len + 1, ENV_MAX_DEPTH));
    /* two whole messages back to back are not one message either */
    uint8_t *two = malloc(2 * len);
    memcpy(two, buf, len);
    memcpy(two + len, buf, len);
    assert_int_equal(decode_req_bytes(two, 2 * len), -1);
    free(two);
    free(more);
    free(buf);
}

static void test_decode_rejects_huge_declared_lengths(void **state)
{
    (void)state;
    static const uint8_t bombs[][8] = {
        {0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c'},  /* str32 of 4 GiB */
        {0xc6, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c'},  /* bin32 */
        {0xdd, 0x04, 0x00, 0x00, 0x00, 0xc0, 0xc0, 0xc0}, /* array32 of 64M */
        {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0, 0xc0}, /* array32 of 4G */
        {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'v', 0x01},  /* map32 */
        {0xdf, 0x00, 0x00, 0x00, 0x02, 0xa1, 'v', 0x01},  /* map32 one pair short */
        {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00}, /* ext32 */
        {0xda, 0x00, 0x10, 'a', 'b', 'c', 'd', 'e'},      /* str16, 16 claimed, 5 present */
        {0xdc, 0x00, 0x08, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0}, /* array16, 8 claimed, 5 present */
    };
    for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
        assert_false(mp_check(bombs[i], 8, ENV_MAX_DEPTH));
        assert_int_equal(decode_req_bytes(bombs[i], 8), -1);
        assert_int_equal(decode_resp_bytes(bombs[i], 8), -1);
    }

    /* 150 bytes of nested array32 headers (the 58 GB VmPeak case) */
    uint8_t nest[150];
    for (size_t i = 0; i < sizeof nest; i += 5) {
        nest[i] = 0xdd;
        nest[i + 1] = 0x04;
        nest[i + 2] = nest[i + 3] = nest[i + 4] = 0x00;
    }
    assert_false(mp_check(nest, sizeof nest, 64));
    assert_int_equal(decode_req_bytes(nest, sizeof nest), -1);

    /* a lying header inside an otherwise valid request */
    uint8_t msg[] = {0x81, 0xa4, 'a', 'r', 'g', 's', 0xc6, 0x7f, 0xff, 0xff, 0xff, '{', '}'};
    assert_false(mp_check(msg, sizeof msg, ENV_MAX_DEPTH));
    assert_int_equal(decode_req_bytes(msg, sizeof msg), -1);
}

static void test_decode_rejects_deep_nesting(void **state)
{
    (void)state;
    uint8_t deep[101];
    memset(deep, 0x91, 100); /* 100 arrays of one element */
    deep[100] = 0xc0;
    assert_false(mp_check(deep, sizeof deep, ENV_MAX_DEPTH));
    assert_false(mp_check(deep, sizeof deep, 1000));
    assert_int_equal(decode_req_bytes(deep, sizeof deep), -1);
    assert_int_equal(decode_resp_bytes(deep, sizeof deep), -1);

    /* the limit is exact: 8 levels pass, 9 do not */
    uint8_t d8[9];
    memset(d8, 0x91, 8);
    d8[8] = 0xc0;
    assert_true(mp_check(d8, sizeof d8, 8));
    assert_false(mp_check(d8, sizeof d8, 7));
    uint8_t d9[10];
    memset(d9, 0x91, 9);
    d9[9] = 0xc0;
    assert_false(mp_check(d9, sizeof d9, 8));
}

static void test_mp_check_accepts_well_formed_values(void **state)
{
    (void)state;
    static const struct {
        uint8_t b[12];
        size_t n;
    } ok[] = {
        {{0xc0}, 1},
        {{0x7f}, 1},
        {{0xe0}, 1},
        {{0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, 9},
        {{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        {{0xa3, 'a', 'b', 'c'}, 4},
        {{0xc4, 0x00}, 2},
        {{0x90}, 1},
        {{0x80}, 1},
        {{0x92, 0x90, 0x80}, 3},
        {{0x82, 0x01, 0x02, 0xa1, 'k', 0x91, 0xc3}, 7},
        {{0xd4, 0x01, 0x02}, 3},
        {{0xd6, 0xff, 1, 2, 3, 4}, 6},
        {{0xc7, 0x02, 0x05, 0xaa, 0xbb}, 5},
        {{0xdc, 0x00, 0x02, 0xc2, 0xc3}, 5},
        {{0xdf, 0x00, 0x00, 0x00, 0x01, 0xc0, 0xc0}, 7},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(mp_check(ok[i].b, ok[i].n, ENV_MAX_DEPTH));
    static const uint8_t reserved[] = {0x92, 0xc0, 0xc1};
    assert_false(mp_check(reserved, sizeof reserved, ENV_MAX_DEPTH));
    static const uint8_t fixext_short[] = {0xd8, 0x01, 0x00};
    assert_false(mp_check(fixext_short, sizeof fixext_short, ENV_MAX_DEPTH));
    assert_false(mp_check(NULL, 0, ENV_MAX_DEPTH));
}

static void test_decode_rejects_wrong_type_for_each_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(decode_req_mut((struct mut){.wrong = req_paths[i]}), -1);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(decode_req_mut((struct mut){.wrong = who_paths[i]}), -1);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(decode_resp_mut((struct mut){.wrong = ok_paths[i]}, true), -1);
        assert_int_equal(decode_resp_mut((struct mut){.wrong = fail_paths[i]}, false), -1);
    }
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(decode_resp_mut((struct mut){.wrong = err_paths[i]}, false), -1);
}

static void test_decode_rejects_missing_required_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(decode_req_mut((struct mut){.omit = req_paths[i]}), -1);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(decode_req_mut((struct mut){.omit = who_paths[i]}), -1);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(decode_resp_mut((struct mut){.omit = ok_paths[i]}, true), -1);
        assert_int_equal(decode_resp_mut((struct mut){.omit = fail_paths[i]}, false), -1);
    }
    assert_int_equal(decode_resp_mut((struct mut){.omit = "error.code"}, false), -1);
    assert_int_equal(decode_resp_mut((struct mut){.omit = "error.message"}, false), -1);
}

static void test_decode_rejects_unknown_keys(void **state)
{
    (void)state;
    assert_int_equal(decode_req_mut((struct mut){.extra = ""}), -1);
    assert_int_equal(decode_req_mut((struct mut){.extra = "who"}), -1);
    assert_int_equal(decode_resp_mut((struct mut){.extra = ""}, true), -1);
    assert_int_equal(decode_resp_mut((struct mut){.extra = ""}, false), -1);
    assert_int_equal(decode_resp_mut((struct mut){.extra = "error"}, false), -1);
}

/* Packs {v:1, key:<value from fn>} + the rest of a valid request, replacing one value. */
static int decode_req_with(const char *key, void (*val)(msgpack_packer *))
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 7);
    for (size_t i = 0; i < 7; i++) {
        const char *k = req_paths[i];
        p_key(&pk, k);
        if (strcmp(k, key) == 0) {
            val(&pk);
        } else if (strcmp(k, "v") == 0) {
            msgpack_pack_uint64(&pk, ENV_VERSION);
        } else if (strcmp(k, "id") == 0) {
            msgpack_pack_bin_with_body(&pk, test_id, ENV_ID_LEN);
        } else if (strcmp(k, "op") == 0) {
            msgpack_pack_str_with_body(&pk, "auth", 4);
        } else if (strcmp(k, "name") == 0) {
            msgpack_pack_str_with_body(&pk, "auth.resolve_mcp_key", 20);
        } else if (strcmp(k, "who") == 0) {
            msgpack_pack_map(&pk, 5);
            p_key(&pk, "acct");
            msgpack_pack_str_with_body(&pk, "", 0);
            p_key(&pk, "kind");
            msgpack_pack_str_with_body(&pk, "anon", 4);
            p_key(&pk, "client");
            msgpack_pack_str_with_body(&pk, "", 0);
            p_key(&pk, "key");
            msgpack_pack_str_with_body(&pk, "", 0);
            p_key(&pk, "scopes");
            msgpack_pack_uint64(&pk, 0);
        } else if (strcmp(k, "args") == 0) {
            msgpack_pack_bin_with_body(&pk, "{}", 2);
        } else {
            msgpack_pack_int64(&pk, 1);
        }
    }
    int rc = decode_req_bytes(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void v_ok(msgpack_packer *pk) { msgpack_pack_uint64(pk, ENV_VERSION); }
static void v_two(msgpack_packer *pk) { msgpack_pack_uint64(pk, 2); }
static void v_zero(msgpack_packer *pk) { msgpack_pack_uint64(pk, 0); }
static void v_neg(msgpack_packer *pk) { msgpack_pack_int64(pk, -1); }
static void v_float(msgpack_packer *pk) { msgpack_pack_double(pk, 1.0); }
static void id_15(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, test_id, 15); }
static void id_17(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, "0123456789abcdefg", 17); }
static void id_0(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, "", 0); }
static void id_str(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, test_id, 16); }
static void op_bad(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "tools", 5); }
static void op_prefix(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "too", 3); }
static void op_case(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "TOOL", 4); }
static void name_63(msgpack_packer *pk)
{
    char n[63];
    memset(n, 'x', sizeof n);
    msgpack_pack_str_with_body(pk, n, sizeof n);
}
static void name_64(msgpack_packer *pk)
{
    char n[64];
    memset(n, 'x', sizeof n);
    msgpack_pack_str_with_body(pk, n, sizeof n);
}
static void name_nul(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "a\0b", 3); }
static void name_empty(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "", 0); }
static void deadline_neg(msgpack_packer *pk) { msgpack_pack_int64(pk, -1); }
static void deadline_huge(msgpack_packer *pk) { msgpack_pack_uint64(pk, UINT64_MAX); }
static void deadline_float(msgpack_packer *pk) { msgpack_pack_double(pk, 1e12); }
static void args_nil(msgpack_packer *pk) { msgpack_pack_nil(pk); }

static void who_with(msgpack_packer *pk, const char *acct, size_t acct_len, const char *kind,
                     size_t client_len, size_t key_len, uint64_t scopes)
{
    static char big[300];
    memset(big, 'z', sizeof big);
    msgpack_pack_map(pk, 5);
    p_key(pk, "acct");
    msgpack_pack_str_with_body(pk, acct, acct_len);
    p_key(pk, "kind");
    msgpack_pack_str_with_body(pk, kind, strlen(kind));
    p_key(pk, "client");
    msgpack_pack_str_with_body(pk, big, client_len);
    p_key(pk, "key");
    msgpack_pack_str_with_body(pk, big, key_len);
    p_key(pk, "scopes");
    msgpack_pack_uint64(pk, scopes);
}
static const char acct40[] = "0123456789012345678901234567890123456789";
static void who_ok(msgpack_packer *pk) { who_with(pk, acct40, 39, "oauth", 255, 39, SCOPE_ALL); }
static void who_acct40(msgpack_packer *pk) { who_with(pk, acct40, 40, "oauth", 0, 0, 1); }
static void who_acct_nul(msgpack_packer *pk) { who_with(pk, "ab\0c", 4, "oauth", 0, 0, 1); }
static void who_client256(msgpack_packer *pk) { who_with(pk, "", 0, "oauth", 256, 0, 1); }
static void who_key40(msgpack_packer *pk) { who_with(pk, "", 0, "oauth", 0, 40, 1); }
static void who_kind_bad(msgpack_packer *pk) { who_with(pk, "", 0, "root", 0, 0, 1); }
static void who_scope_bit(msgpack_packer *pk) { who_with(pk, "", 0, "web", 0, 0, 8); }
static void who_scope_huge(msgpack_packer *pk) { who_with(pk, "", 0, "web", 0, 0, 1ull << 33 | 1); }

static void test_decode_accepts_the_baseline_variant(void **state)
{
    (void)state;
    assert_int_equal(decode_req_with("v", v_ok), 0);
    assert_int_equal(decode_req_with("name", name_63), 0);
    assert_int_equal(decode_req_with("deadline", deadline_neg), 0);
    assert_int_equal(decode_req_with("who", who_ok), 0);
}

static void test_decode_rejects_wrong_version(void **state)
{
    (void)state;
    assert_int_equal(decode_req_with("v", v_two), -1);
    assert_int_equal(decode_req_with("v", v_zero), -1);
    assert_int_equal(decode_req_with("v", v_neg), -1);
    assert_int_equal(decode_req_with("v", v_float), -1);
}

static void test_decode_rejects_id_of_wrong_length(void **state)
{
    (void)state;
    assert_int_equal(decode_req_with("id", id_15), -1);
    assert_int_equal(decode_req_with("id", id_17), -1);
    assert_int_equal(decode_req_with("id", id_0), -1);
    assert_int_equal(decode_req_with("id", id_str), -1);
}

static void test_decode_rejects_unknown_op_kind_and_scopes(void **state)
{
    (void)state;
    assert_int_equal(decode_req_with("op", op_bad), -1);
    assert_int_equal(decode_req_with("op", op_prefix), -1);
    assert_int_equal(decode_req_with("op", op_case), -1);
    assert_int_equal(decode_req_with("who", who_kind_bad), -1);
    assert_int_equal(decode_req_with("who", who_scope_bit), -1);
    assert_int_equal(decode_req_with("who", who_scope_huge), -1);
}

static void test_decode_rejects_oversize_or_nul_strings(void **state)
{
    (void)state;
    assert_int_equal(decode_req_with("name", name_64), -1);
    assert_int_equal(decode_req_with("name", name_nul), -1);
    assert_int_equal(decode_req_with("name", name_empty), -1);
    assert_int_equal(decode_req_with("who", who_acct40), -1);
    assert_int_equal(decode_req_with("who", who_acct_nul), -1);
    assert_int_equal(decode_req_with("who", who_client256), -1);
    assert_int_equal(decode_req_with("who", who_key40), -1);
}

static void test_decode_rejects_bad_deadline_and_args(void **state)
{
    (void)state;
    assert_int_equal(decode_req_with("deadline", deadline_huge), -1);
    assert_int_equal(decode_req_with("deadline", deadline_float), -1);
    assert_int_equal(decode_req_with("args", args_nil), -1);
}

static void test_decode_rejects_duplicate_keys(void **state)
{
    (void)state;
    /* a map that repeats "id": the second must not silently win */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    p_key(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    p_key(&pk, "id");
    msgpack_pack_bin_with_body(&pk, test_id, 16);
    p_key(&pk, "id");
    msgpack_pack_bin_with_body(&pk, test_id, 16);
    assert_int_equal(decode_req_bytes(sb.data, sb.size), -1);
    assert_int_equal(decode_resp_bytes(sb.data, sb.size), -1);
    msgpack_sbuffer_destroy(&sb);
}

static void test_decode_rejects_inconsistent_responses(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    /* ok:true carrying an error, ok:false carrying a result */
    for (int ok = 0; ok < 2; ok++) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 5);
        p_key(&pk, "v");
        msgpack_pack_uint64(&pk, 1);
        p_key(&pk, "id");
        msgpack_pack_bin_with_body(&pk, test_id, 16);
        p_key(&pk, "ok");
        ok ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
        p_key(&pk, "result");
        msgpack_pack_bin_with_body(&pk, "1", 1);
        p_key(&pk, "error");
        msgpack_pack_map(&pk, 2);
        p_key(&pk, "code");
        msgpack_pack_str_with_body(&pk, "internal", 8);
        p_key(&pk, "message");
        msgpack_pack_str_with_body(&pk, "m", 1);
        assert_int_equal(decode_resp_bytes(sb.data, sb.size), -1);
        msgpack_sbuffer_destroy(&sb);
    }

    /* error codes: unknown, and "ok" which is not an error */
    const char *codes[] = {"ok", "teapot", "NOT_FOUND", ""};
    for (size_t i = 0; i < 4; i++) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4);
        p_key(&pk, "v");
        msgpack_pack_uint64(&pk, 1);
        p_key(&pk, "id");
        msgpack_pack_bin_with_body(&pk, test_id, 16);
        p_key(&pk, "ok");
        msgpack_pack_false(&pk);
        p_key(&pk, "error");
        msgpack_pack_map(&pk, 2);
        p_key(&pk, "code");
        msgpack_pack_str_with_body(&pk, codes[i], strlen(codes[i]));
        p_key(&pk, "message");
        msgpack_pack_str_with_body(&pk, "m", 1);
        assert_int_equal(decode_resp_bytes(sb.data, sb.size), -1);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void test_decode_rejects_message_over_the_size_limit(void **state)
{
    (void)state;
    /* a well-formed request whose args make it larger than the limit */
    size_t big = ENV_MAX_MESSAGE;
    char *args = calloc(1, big);
    assert_non_null(args);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    p_key(&pk, "args");
    msgpack_pack_bin_with_body(&pk, args, big);
    assert_true(mp_check((const uint8_t *)sb.data, sb.size, ENV_MAX_DEPTH));
    const char *err = NULL;
    struct env_request r;
    assert_int_equal(env_request_decode((const uint8_t *)sb.data, sb.size, &r, &err), -1);
    assert_string_equal(err, "message too large");
    msgpack_sbuffer_destroy(&sb);
    free(args);
}

static void test_decode_rejects_non_map_top_level(void **state)
{
    (void)state;
    static const uint8_t arr[] = {0x90};
    static const uint8_t nil[] = {0xc0};
    static const uint8_t empty_map[] = {0x80};
    assert_int_equal(decode_req_bytes(arr, 1), -1);
    assert_int_equal(decode_req_bytes(nil, 1), -1);
    assert_int_equal(decode_req_bytes(empty_map, 1), -1);
    assert_int_equal(decode_resp_bytes(empty_map, 1), -1);
    assert_int_equal(decode_req_bytes(NULL, 0), -1);
}

/* xorshift64*: a fixed seed keeps the fuzz runs reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_random_bytes_never_decode(void **state)
{
    (void)state;
    uint8_t buf[256];
    for (int it = 0; it < 100000; it++) {
        size_t n = rng() % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rng();
        /* half of the runs start like a map, to get past the first byte */
        if (n > 0 && (it & 1))
            buf[0] = 0x80 | (uint8_t)(rng() % 8);
        uint8_t *exact = malloc(n ? n : 1);
        memcpy(exact, buf, n);
        (void)mp_check(exact, n, ENV_MAX_DEPTH);
        assert_int_equal(decode_req_bytes(exact, n), -1);
        assert_int_equal(decode_resp_bytes(exact, n), -1);
        free(exact);
    }
}

/* Mutations of a valid message may decode (a flipped byte inside args is
 * still a message); what matters is that nothing crashes or leaks. */
static void test_mutated_messages_never_crash(void **state)
{
    (void)state;
    struct env_request in;
    uint8_t *buf;
    size_t len;
    make_request(&in);
    assert_int_equal(env_request_encode(&in, &buf, &len), 0);
    uint8_t *m = malloc(len);
    for (int it = 0; it < 50000; it++) {
        memcpy(m, buf, len);
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips; f++)
            m[rng() % len] = (uint8_t)rng();
        size_t n = (rng() % 8 == 0) ? rng() % len : len;
        struct env_request r;
        if (env_request_decode(m, n, &r, NULL) == 0) {
            assert_true(strlen(r.name) < ENV_MAX_NAME);
            assert_true(r.args[r.args_len] == '\0');
            env_request_free(&r);
        }
        struct env_response s;
        if (env_response_decode(m, n, &s, NULL) == 0)
            env_response_free(&s);
    }
    free(m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip_keeps_every_field),
        cmocka_unit_test(test_request_round_trip_every_op_and_kind),
        cmocka_unit_test(test_request_round_trip_with_empty_fields_and_int64_deadline),
        cmocka_unit_test(test_request_names_at_their_size_limits_round_trip),
        cmocka_unit_test(test_response_ok_round_trip),
        cmocka_unit_test(test_response_error_round_trip_with_and_without_details),
        cmocka_unit_test(test_response_every_error_code_round_trips),
        cmocka_unit_test(test_encode_refuses_message_over_the_size_limit),
        cmocka_unit_test(test_names_of_ops_kinds_and_errors),
        cmocka_unit_test(test_hand_built_messages_decode),
        cmocka_unit_test(test_decode_rejects_every_truncation),
        cmocka_unit_test(test_decode_rejects_trailing_bytes),
        cmocka_unit_test(test_decode_rejects_huge_declared_lengths),
        cmocka_unit_test(test_decode_rejects_deep_nesting),
        cmocka_unit_test(test_mp_check_accepts_well_formed_values),
        cmocka_unit_test(test_decode_rejects_wrong_type_for_each_key),
        cmocka_unit_test(test_decode_rejects_missing_required_keys),
        cmocka_unit_test(test_decode_rejects_unknown_keys),
        cmocka_unit_test(test_decode_accepts_the_baseline_variant),
        cmocka_unit_test(test_decode_rejects_wrong_version),
        cmocka_unit_test(test_decode_rejects_id_of_wrong_length),
        cmocka_unit_test(test_decode_rejects_unknown_op_kind_and_scopes),
        cmocka_unit_test(test_decode_rejects_oversize_or_nul_strings),
        cmocka_unit_test(test_decode_rejects_bad_deadline_and_args),
        cmocka_unit_test(test_decode_rejects_duplicate_keys),
        cmocka_unit_test(test_decode_rejects_inconsistent_responses),
        cmocka_unit_test(test_decode_rejects_message_over_the_size_limit),
        cmocka_unit_test(test_decode_rejects_non_map_top_level),
        cmocka_unit_test(test_random_bytes_never_decode),
        cmocka_unit_test(test_mutated_messages_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
