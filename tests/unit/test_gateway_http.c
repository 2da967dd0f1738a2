/*
 * Unit tests of the gateway's edge-side parsing: paths, methods, bearer key
 * shape, body checks, query parameters, webhook override headers and the
 * validation of the worker's result (services/edge/gateway_http.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "services/edge/gateway_http.h"

#define KEY43 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_Z"

/* ---- paths ---- */

static void test_path_accepts_collection_search_and_record(void **state)
{
    (void)state;
    struct gw_path p;
    assert_true(gw_parse_path("/api/v1/data/contact-form", &p));
    assert_int_equal(p.route, GW_ROUTE_COLLECTION);
    assert_string_equal(p.slug, "contact-form");
    assert_string_equal(p.record_id, "");

    assert_true(gw_parse_path("/api/v1/data/contact-form/search", &p));
    assert_int_equal(p.route, GW_ROUTE_SEARCH);
    assert_string_equal(p.slug, "contact-form");

    assert_true(gw_parse_path("/api/v1/data/a1/rec_0abc9z", &p));
    assert_int_equal(p.route, GW_ROUTE_RECORD);
    assert_string_equal(p.slug, "a1");
    assert_string_equal(p.record_id, "rec_0abc9z");

    /* A slug named "search" is a collection, not the search route. */
    assert_true(gw_parse_path("/api/v1/data/search", &p));
    assert_int_equal(p.route, GW_ROUTE_COLLECTION);
}

static void test_path_rejects_everything_else(void **state)
{
    (void)state;
    struct gw_path p;
    const char *bad[] = {
        "/api/v1/data/",                       /* no slug */
        "/api/v1/data/Contact",                /* upper case */
        "/api/v1/data/contact_form",           /* underscore */
        "/api/v1/data/contact%2dform",         /* no %-decoding: '%' is refused */
        "/api/v1/data/contact/",               /* trailing slash */
        "/api/v1/data//rec_1",                 /* empty slug */
        "/api/v1/data/contact/rec_",           /* empty record id */
        "/api/v1/data/contact/rec_ABC",        /* upper case id */
        "/api/v1/data/contact/record_1",       /* wrong prefix */
        "/api/v1/data/contact/rec_1/extra",    /* extra segment */
        "/api/v1/data/contact/search/",        /* trailing slash */
        "/api/v1/data/contact/%72ec_1",        /* encoded record id */
        "/api/v1/data/../admin",
        "/api/v1/datax/contact",
        "/api/v1/data",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (gw_parse_path(bad[i], &p))
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(p.route, GW_ROUTE_NONE);
    }
}

static void test_path_bounds_slug_and_record_id_lengths(void **state)
{
    (void)state;
    struct gw_path p;
    char path[256];
    char slug[70];
    memset(slug, 'a', 64);
    slug[64] = '\0';
    snprintf(path, sizeof path, "/api/v1/data/%s", slug);
    assert_true(gw_parse_path(path, &p));
    slug[64] = 'a';
    slug[65] = '\0';
    snprintf(path, sizeof path, "/api/v1/data/%s", slug);
    assert_false(gw_parse_path(path, &p));

    char id[50] = "rec_";
    memset(id + 4, '7', 40);
    id[44] = '\0';
    snprintf(path, sizeof path, "/api/v1/data/x/%s", id);
    assert_true(gw_parse_path(path, &p));
    assert_string_equal(p.record_id, id);
    id[44] = '7';
    id[45] = '\0';
    snprintf(path, sizeof path, "/api/v1/data/x/%s", id);
    assert_false(gw_parse_path(path, &p));
}

static void test_methods_per_route(void **state)
{
    (void)state;
    assert_true(gw_method_allowed(GW_ROUTE_COLLECTION, EVHTTP_REQ_GET));
    assert_true(gw_method_allowed(GW_ROUTE_COLLECTION, EVHTTP_REQ_POST));
    assert_false(gw_method_allowed(GW_ROUTE_COLLECTION, EVHTTP_REQ_PUT));
    assert_false(gw_method_allowed(GW_ROUTE_COLLECTION, EVHTTP_REQ_DELETE));
    assert_true(gw_method_allowed(GW_ROUTE_SEARCH, EVHTTP_REQ_GET));
    assert_false(gw_method_allowed(GW_ROUTE_SEARCH, EVHTTP_REQ_POST));
    assert_true(gw_method_allowed(GW_ROUTE_RECORD, EVHTTP_REQ_GET));
    assert_true(gw_method_allowed(GW_ROUTE_RECORD, EVHTTP_REQ_PUT));
    assert_true(gw_method_allowed(GW_ROUTE_RECORD, EVHTTP_REQ_DELETE));
    assert_false(gw_method_allowed(GW_ROUTE_RECORD, EVHTTP_REQ_POST));
    assert_false(gw_method_allowed(GW_ROUTE_RECORD, EVHTTP_REQ_PATCH));
    assert_false(gw_method_allowed(GW_ROUTE_COLLECTION, EVHTTP_REQ_HEAD));
    assert_string_equal(gw_allow(GW_ROUTE_COLLECTION), "GET, POST, OPTIONS");
    assert_string_equal(gw_allow(GW_ROUTE_SEARCH), "GET, OPTIONS");
    assert_string_equal(gw_allow(GW_ROUTE_RECORD), "GET, PUT, DELETE, OPTIONS");
}

/* ---- keys ---- */

static void test_key_prefix_selects_environment(void **state)
{
    (void)state;
    const char *key;
    size_t len;
    const char *env = gw_bearer_key("Bearer tm_test_" KEY43, &key, &len);
    assert_non_null(env);
    assert_string_equal(env, "sandbox");
    assert_int_equal(len, 51);
    assert_memory_equal(key, "tm_test_" KEY43, 51);

    env = gw_bearer_key("bearer   tm_live_" KEY43 "  ", &key, &len);
    assert_non_null(env);
    assert_string_equal(env, "production");
    assert_int_equal(len, 51);
}

static void test_key_of_wrong_shape_is_refused(void **state)
{
    (void)state;
    const char *key;
    size_t len;
    const char *bad[] = {
        NULL,
        "",
        "tm_test_" KEY43,                          /* no scheme */
        "Basic tm_test_" KEY43,
        "Bearer tm_test_" KEY43 "A",               /* 44 characters */
        "Bearer tm_test_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_",   /* 42 */
        "Bearer tm_prod_" KEY43,
        "Bearer tm_mcp_a" KEY43,
        "Bearer TM_TEST_" KEY43,
        "Bearer tm_test_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123+/Z",  /* not base64url */
        "Bearer tm_test_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123=_Z",
        "Bearer tm_test_abcdefghijklmnopqrstuvwxyzABC EFGHIJ0123-_Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (gw_bearer_key(bad[i], &key, &len))
            fail_msg("accepted key %zu: %s", i, bad[i] ? bad[i] : "(null)");
}

/* ---- bodies ---- */

static void test_content_type_must_be_json(void **state)
{
    (void)state;
    assert_true(gw_content_type_json("application/json"));
    assert_true(gw_content_type_json("Application/JSON; charset=utf-8"));
    assert_true(gw_content_type_json(" application/json ;charset=utf-8"));
    assert_false(gw_content_type_json(NULL));
    assert_false(gw_content_type_json(""));
    assert_false(gw_content_type_json("text/plain"));
    assert_false(gw_content_type_json("application/jsonx"));
    assert_false(gw_content_type_json("application/json-patch+json"));
    assert_false(gw_content_type_json("application/json x"));
    assert_false(gw_content_type_json("application/x-www-form-urlencoded"));
}

static void test_body_checks_in_order_415_413_400(void **state)
{
    (void)state;
    struct gw_reject rej = {0};
    const char *ok = "{\"name\":\"Ann\"}";

    assert_true(gw_check_body("application/json", ok, strlen(ok), &rej));
    assert_int_equal(rej.status, 0);

    assert_false(gw_check_body("text/plain", ok, strlen(ok), &rej));
    assert_int_equal(rej.status, 415);
    assert_string_equal(rej.code, "unsupported_media_type");

    memset(&rej, 0, sizeof rej);
    assert_false(gw_check_body("text/plain", NULL, GW_MAX_BODY + 1, &rej));
    assert_int_equal(rej.status, 415);   /* the media type is checked before the size */

    memset(&rej, 0, sizeof rej);
    assert_false(gw_check_body("application/json", NULL, GW_MAX_BODY + 1, &rej));
    assert_int_equal(rej.status, 413);
    assert_string_equal(rej.code, "payload_too_large");

    const char *bad_json[] = {"", "{", "{\"a\":1,\"a\":2}", "{\"a\":1} x", "{'a':1}"};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        memset(&rej, 0, sizeof rej);
        assert_false(gw_check_body("application/json", bad_json[i], strlen(bad_json[i]), &rej));
        assert_int_equal(rej.status, 400);
        assert_string_equal(rej.code, "invalid_json");
    }
    const char *not_object[] = {"[]", "[{\"a\":1}]", "\"text\"", "42", "null"};
    for (size_t i = 0; i < sizeof not_object / sizeof not_object[0]; i++) {
        memset(&rej, 0, sizeof rej);
        assert_false(gw_check_body("application/json", not_object[i], strlen(not_object[i]), &rej));
        assert_int_equal(rej.status, 400);
        assert_string_equal(rej.code, "invalid_body");
    }
}

static void test_body_of_exactly_100_kb_is_accepted(void **state)
{
    (void)state;
    char *body = malloc(GW_MAX_BODY);
    memset(body, 'x', GW_MAX_BODY);
    memcpy(body, "{\"t\":\"", 6);
    memcpy(body + GW_MAX_BODY - 2, "\"}", 2);
    struct gw_reject rej = {0};
    assert_true(gw_check_body("application/json", body, GW_MAX_BODY, &rej));
    free(body);
}

/* ---- query ---- */

static void test_query_parses_known_parameters(void **state)
{
    (void)state;
    json_t *q;
    struct gw_reject rej = {0};
    assert_true(gw_parse_query("q=hello+w%C3%B6rld%21&from=2024-01-01&to=2024-02-01&cursor=abc_-1&limit=30&",
                               &q, &rej));
    assert_string_equal(json_string_value(json_object_get(q, "q")), "hello w\xc3\xb6rld!");
    assert_string_equal(json_string_value(json_object_get(q, "from")), "2024-01-01");
    assert_string_equal(json_string_value(json_object_get(q, "to")), "2024-02-01");
    assert_string_equal(json_string_value(json_object_get(q, "cursor")), "abc_-1");
    assert_int_equal(json_integer_value(json_object_get(q, "limit")), 30);
    json_decref(q);

    assert_true(gw_parse_query(NULL, &q, &rej));
    assert_int_equal(json_object_size(q), 5);
    assert_true(json_is_null(json_object_get(q, "q")));
    assert_true(json_is_null(json_object_get(q, "limit")));
    json_decref(q);

    assert_true(gw_parse_query("limit=1&q=", &q, &rej));
    assert_int_equal(json_integer_value(json_object_get(q, "limit")), 1);
    assert_string_equal(json_string_value(json_object_get(q, "q")), "");
    json_decref(q);
}

static void test_query_rejects_bad_limit_repeats_unknown_and_bad_encoding(void **state)
{
    (void)state;
    const char *bad[] = {
        "limit=0", "limit=31", "limit=abc", "limit=+5", "limit=%205", "limit=-1", "limit=", "limit=100",
        "limit=1.5",
        "q=a&q=b",            /* repeated */
        "limit=5&limit=5",
        "page=2",             /* unknown */
        "Q=a",
        "q=%4",               /* truncated escape */
        "q=%zz",
        "q=a%00b",            /* NUL */
        "q=%FF%FE",           /* not UTF-8 */
        "q=%C3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *q = (json_t *)1;
        struct gw_reject rej = {0};
        if (gw_parse_query(bad[i], &q, &rej))
            fail_msg("accepted query %s", bad[i]);
        assert_null(q);
        assert_int_equal(rej.status, 400);
        assert_string_equal(rej.code, "invalid_query");
    }
}

static void test_query_value_length_is_bounded(void **state)
{
    (void)state;
    char buf[GW_QUERY_VALUE_MAX + 16];
    strcpy(buf, "q=");
    memset(buf + 2, 'a', GW_QUERY_VALUE_MAX);
    buf[2 + GW_QUERY_VALUE_MAX] = '\0';
    json_t *q;
    struct gw_reject rej = {0};
    assert_true(gw_parse_query(buf, &q, &rej));
    assert_int_equal(strlen(json_string_value(json_object_get(q, "q"))), GW_QUERY_VALUE_MAX);
    json_decref(q);
    strcat(buf, "a");
    assert_false(gw_parse_query(buf, &q, &rej));
    assert_int_equal(rej.status, 400);
}

/* ---- webhook override ---- */

static void test_webhook_headers_build_the_override(void **state)
{
    (void)state;
    json_t *w = (json_t *)1;
    struct gw_reject rej = {0};
    assert_true(gw_parse_webhook(NULL, NULL, NULL, &w, &rej));
    assert_null(w);

    assert_true(gw_parse_webhook("https://hooks.example.com/x?y=1", "Bearer s3cret", "Authorization", &w, &rej));
    assert_string_equal(json_string_value(json_object_get(w, "url")), "https://hooks.example.com/x?y=1");
    assert_string_equal(json_string_value(json_object_get(w, "auth")), "Bearer s3cret");
    assert_string_equal(json_string_value(json_object_get(w, "auth_header")), "Authorization");
    json_decref(w);

    assert_true(gw_parse_webhook("https://hooks.example.com/", NULL, NULL, &w, &rej));
    assert_true(json_is_null(json_object_get(w, "auth")));
    assert_true(json_is_null(json_object_get(w, "auth_header")));
    json_decref(w);
}

static void test_webhook_headers_are_refused_when_malformed(void **state)
{
    (void)state;
    char longurl[GW_WEBHOOK_URL_MAX + 32] = "https://h.example/";
    memset(longurl + strlen(longurl), 'a', GW_WEBHOOK_URL_MAX);
    longurl[GW_WEBHOOK_URL_MAX + 1] = '\0';
    struct {
        const char *cb, *auth, *hdr;
    } bad[] = {
        {NULL, "secret", NULL},                          /* auth without callback */
        {NULL, NULL, "X-Token"},
        {"", "secret", NULL},
        {longurl, NULL, NULL},
        {"https://h.example/a b", NULL, NULL},
        {"https://h.example/\r\nX-Evil: 1", NULL, NULL},
        {"https://h.example/", "line\nbreak", NULL},
        {"https://h.example/", NULL, "X Token"},
        {"https://h.example/", NULL, "X-Token:"},
        {"https://h.example/", NULL, ""},
        {"https://h.example/\xc3\xa9", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *w = (json_t *)1;
        struct gw_reject rej = {0};
        if (gw_parse_webhook(bad[i].cb, bad[i].auth, bad[i].hdr, &w, &rej))
            fail_msg("accepted webhook case %zu", i);
        assert_null(w);
        assert_int_equal(rej.status, 400);
        assert_string_equal(rej.code, "invalid_webhook");
    }
}

/* ---- the worker's result ---- */

static void test_result_is_rendered_from_status_headers_body(void **state)
{
    (void)state;
    const char *r = "{\"status\":202,\"headers\":{\"Retry-After\":\"3\"},\"body\":{\"id\":\"rec_1\",\"status\":\"queued\"}}";
    int status = 0;
    json_t *h;
    char *body;
    assert_true(gw_parse_result(r, strlen(r), &status, &h, &body));
    assert_int_equal(status, 202);
    assert_string_equal(json_string_value(json_object_get(h, "Retry-After")), "3");
    assert_string_equal(body, "{\"id\":\"rec_1\",\"status\":\"queued\"}");
    json_decref(h);
    free(body);

    const char *noh = "{\"status\":404,\"body\":{\"error\":\"not_found\"}}";
    assert_true(gw_parse_result(noh, strlen(noh), &status, &h, &body));
    assert_int_equal(status, 404);
    assert_int_equal(json_object_size(h), 0);
    json_decref(h);
    free(body);
}

static void test_result_of_wrong_shape_is_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "not json",
        "[]",
        "{\"status\":99,\"headers\":{},\"body\":{}}",
        "{\"status\":600,\"headers\":{},\"body\":{}}",
        "{\"status\":\"200\",\"headers\":{},\"body\":{}}",
        "{\"status\":200.0,\"headers\":{},\"body\":{}}",
        "{\"headers\":{},\"body\":{}}",
        "{\"status\":200,\"headers\":[],\"body\":{}}",
        "{\"status\":200,\"headers\":{\"X-A\":1},\"body\":{}}",
        "{\"status\":200,\"headers\":{\"X-A\":\"a\\r\\nSet-Cookie: x\"},\"body\":{}}",
        "{\"status\":200,\"headers\":{\"X A\":\"a\"},\"body\":{}}",
        "{\"status\":200,\"headers\":{},\"body\":[]}",
        "{\"status\":200,\"headers\":{}}",
        "{\"status\":200,\"status\":201,\"headers\":{},\"body\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int status = 0;
        json_t *h = (json_t *)1;
        char *body = (char *)1;
        if (gw_parse_result(bad[i], strlen(bad[i]), &status, &h, &body))
            fail_msg("accepted result %s", bad[i]);
        assert_null(h);
        assert_null(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_accepts_collection_search_and_record),
        cmocka_unit_test(test_path_rejects_everything_else),
        cmocka_unit_test(test_path_bounds_slug_and_record_id_lengths),
        cmocka_unit_test(test_methods_per_route),
        cmocka_unit_test(test_key_prefix_selects_environment),
        cmocka_unit_test(test_key_of_wrong_shape_is_refused),
        cmocka_unit_test(test_content_type_must_be_json),
        cmocka_unit_test(test_body_checks_in_order_415_413_400),
        cmocka_unit_test(test_body_of_exactly_100_kb_is_accepted),
        cmocka_unit_test(test_query_parses_known_parameters),
        cmocka_unit_test(test_query_rejects_bad_limit_repeats_unknown_and_bad_encoding),
        cmocka_unit_test(test_query_value_length_is_bounded),
        cmocka_unit_test(test_webhook_headers_build_the_override),
        cmocka_unit_test(test_webhook_headers_are_refused_when_malformed),
        cmocka_unit_test(test_result_is_rendered_from_status_headers_body),
        cmocka_unit_test(test_result_of_wrong_shape_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
