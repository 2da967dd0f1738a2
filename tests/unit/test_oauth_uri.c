/*
 * Unit tests of oauth_uri: resource normalisation, strict form parsing,
 * redirect URL building, Basic client credentials, cookies, HTML escaping.
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
#include "services/edge/oauth_uri.h"

static const char PU[] = "https://api.example.com";

static void test_resource_accepts_the_four_forms_of_our_mcp_url(void **state)
{
    (void)state;
    assert_true(oauth_resource_ok(PU, "https://api.example.com/api/mcp"));
    assert_true(oauth_resource_ok(PU, "https://api.example.com/api/mcp/"));
    assert_true(oauth_resource_ok(PU, "https://api.example.com"));
    assert_true(oauth_resource_ok(PU, "https://api.example.com/"));
}

static void test_resource_scheme_and_host_are_case_insensitive_path_is_not(void **state)
{
    (void)state;
    assert_true(oauth_resource_ok(PU, "HTTPS://API.Example.COM/api/mcp"));
    assert_false(oauth_resource_ok(PU, "https://api.example.com/API/MCP"));
}

static void test_resource_rejects_other_targets(void **state)
{
    (void)state;
    assert_false(oauth_resource_ok(PU, "https://other.example/mcp"));
    assert_false(oauth_resource_ok(PU, "https://api.example.com.evil.example/api/mcp"));
    assert_false(oauth_resource_ok(PU, "http://api.example.com/api/mcp"));
    assert_false(oauth_resource_ok(PU, "https://api.example.com:8443/api/mcp"));
    assert_false(oauth_resource_ok(PU, "https://api.example.com/api/mcp?x=1"));
    assert_false(oauth_resource_ok(PU, "https://api.example.com/api/mcp#f"));
    assert_false(oauth_resource_ok(PU, "https://user@api.example.com/api/mcp"));
    assert_false(oauth_resource_ok(PU, "https://api.example.com/api/mcpx"));
    assert_false(oauth_resource_ok(PU, "https://api.example.com/api"));
    assert_false(oauth_resource_ok(PU, "https://api.example.com//"));
    assert_false(oauth_resource_ok(PU, ""));
    assert_false(oauth_resource_ok(PU, "api.example.com/api/mcp"));
}

static void test_resource_with_a_port_and_a_path_prefix(void **state)
{
    (void)state;
    assert_true(oauth_resource_ok("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/mcp"));
    assert_false(oauth_resource_ok("http://127.0.0.1:8080", "http://127.0.0.1:8081/api/mcp"));
    assert_true(oauth_resource_ok("https://h.example/t1", "https://h.example/t1/api/mcp"));
    assert_true(oauth_resource_ok("https://h.example/t1", "https://h.example/t1/"));
    assert_false(oauth_resource_ok("https://h.example/t1", "https://h.example/api/mcp"));
}

static void test_params_decode_plus_and_percent(void **state)
{
    (void)state;
    struct oauth_params p;
    const char q[] = "a=1&scope=read+write&r=https%3A%2F%2Fh%2Fx&empty=&flag&&";
    assert_int_equal(oauth_params_parse(q, strlen(q), NULL, &p, NULL, 0), OAUTH_PARSE_OK);
    assert_string_equal(oauth_params_get(&p, "scope"), "read write");
    assert_string_equal(oauth_params_get(&p, "r"), "https://h/x");
    assert_string_equal(oauth_params_get(&p, "empty"), "");
    assert_string_equal(oauth_params_get(&p, "flag"), "");
    assert_null(oauth_params_get(&p, "missing"));
    assert_int_equal(p.n, 5);
    oauth_params_free(&p);
}

static void test_params_reject_repeated_names(void **state)
{
    (void)state;
    struct oauth_params p;
    char dup[32];
    const char q[] = "grant_type=authorization_code&code=x&code=y";
    assert_int_equal(oauth_params_parse(q, strlen(q), NULL, &p, dup, sizeof dup), OAUTH_PARSE_DUPLICATE);
    assert_string_equal(dup, "code");
    assert_int_equal(p.n, 0);
}

static void test_params_allow_listed_repeats(void **state)
{
    (void)state;
    struct oauth_params p;
    static const char *const multi[] = {"resource", NULL};
    const char q[] = "resource=a&resource=b&x=1";
    assert_int_equal(oauth_params_parse(q, strlen(q), multi, &p, NULL, 0), OAUTH_PARSE_OK);
    assert_int_equal(oauth_params_count(&p, "resource"), 2);
    assert_string_equal(oauth_params_get(&p, "resource"), "a");
    oauth_params_free(&p);
}

static void test_params_reject_bad_escapes_and_nul(void **state)
{
    (void)state;
    struct oauth_params p;
    const char *bad[] = {"a=%zz", "a=%4", "a=%", "a=x%00y", "=v", "%41%=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(oauth_params_parse(bad[i], strlen(bad[i]), NULL, &p, NULL, 0), OAUTH_PARSE_MALFORMED);
}

static void test_params_are_bounded_in_count_and_size(void **state)
{
    (void)state;
    struct oauth_params p;
    char q[4096] = "";
    for (int i = 0; i <= OAUTH_MAX_PARAMS; i++) {
        char kv[16];
        snprintf(kv, sizeof kv, "k%d=v&", i);
        strcat(q, kv);
    }
    assert_int_equal(oauth_params_parse(q, strlen(q), NULL, &p, NULL, 0), OAUTH_PARSE_TOO_MANY);
    char *big = xmalloc(OAUTH_MAX_PARAM_LEN + 8);
    memset(big, 'a', OAUTH_MAX_PARAM_LEN + 6);
    memcpy(big, "k=", 2);
    big[OAUTH_MAX_PARAM_LEN + 6] = '\0';
    assert_int_equal(oauth_params_parse(big, strlen(big), NULL, &p, NULL, 0), OAUTH_PARSE_MALFORMED);
    free(big);
}

static void test_url_with_params_encodes_everything_reserved(void **state)
{
    (void)state;
    const char *pairs[] = {"code", "a+b/c=d&e", "state", "x y#z", "skipped", NULL, "iss", "https://h", NULL};
    char *u = oauth_url_with_params("https://client.example/cb", pairs);
    assert_string_equal(u, "https://client.example/cb?code=a%2Bb%2Fc%3Dd%26e&state=x%20y%23z&iss=https%3A%2F%2Fh");
    free(u);
    const char *one[] = {"error", "access_denied", NULL};
    u = oauth_url_with_params("https://c.example/cb?tenant=1", one);
    assert_string_equal(u, "https://c.example/cb?tenant=1&error=access_denied");
    free(u);
}

static void test_url_params_round_trip_through_the_parser(void **state)
{
    (void)state;
    const char *pairs[] = {"state", "ü&=+%", NULL};
    char *u = oauth_url_with_params("https://c/cb", pairs);
    struct oauth_params p;
    const char *q = strchr(u, '?') + 1;
    assert_int_equal(oauth_params_parse(q, strlen(q), NULL, &p, NULL, 0), OAUTH_PARSE_OK);
    assert_string_equal(oauth_params_get(&p, "state"), "ü&=+%");
    oauth_params_free(&p);
    free(u);
}

static void test_basic_credentials_are_urldecoded_halves(void **state)
{
    (void)state;
    bool basic;
    char *id, *secret;
    /* base64("my%3Aclient:s%2Bcret+x") */
    assert_true(oauth_basic_credentials("Basic bXklM0FjbGllbnQ6cyUyQmNyZXQreA==", &basic, &id, &secret));
    assert_true(basic);
    assert_string_equal(id, "my:client");
    assert_string_equal(secret, "s+cret x");
    free(id);
    free(secret);
}

static void test_basic_credentials_reject_malformed(void **state)
{
    (void)state;
    bool basic;
    char *id, *secret;
    assert_false(oauth_basic_credentials("Bearer abc", &basic, &id, &secret));
    assert_false(basic);
    assert_false(oauth_basic_credentials("Basic !!!!", &basic, &id, &secret));
    assert_true(basic);
    /* base64("nocolon") */
    assert_false(oauth_basic_credentials("Basic bm9jb2xvbg==", &basic, &id, &secret));
    /* base64(":secret"): empty id */
    assert_false(oauth_basic_credentials("Basic OnNlY3JldA==", &basic, &id, &secret));
    assert_null(id);
}

static void test_cookie_get_finds_exact_name(void **state)
{
    (void)state;
    char *v = oauth_cookie_get("a=1; tm_session_x=no; tm_session=abc; z=2", "tm_session");
    assert_string_equal(v, "abc");
    free(v);
    assert_null(oauth_cookie_get("x_tm_session=abc", "tm_session"));
    assert_null(oauth_cookie_get(NULL, "tm_session"));
    v = oauth_cookie_get("__Host-tm_session=\"q\"", "__Host-tm_session");
    assert_string_equal(v, "q");
    free(v);
}

static void test_html_escape_neutralises_markup(void **state)
{
    (void)state;
    char *s = html_escape("<script>alert('x')</script> & \"y\"");
    assert_string_equal(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;");
    free(s);
}

static void test_uri_host_strips_userinfo_and_path(void **state)
{
    (void)state;
    char *h = oauth_uri_host("https://u:p@claude.ai:443/api/mcp/auth_callback?x");
    assert_string_equal(h, "claude.ai:443");
    free(h);
    assert_null(oauth_uri_host("not a uri"));
}

int main(void)
{
    util_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resource_accepts_the_four_forms_of_our_mcp_url),
        cmocka_unit_test(test_resource_scheme_and_host_are_case_insensitive_path_is_not),
        cmocka_unit_test(test_resource_rejects_other_targets),
        cmocka_unit_test(test_resource_with_a_port_and_a_path_prefix),
        cmocka_unit_test(test_params_decode_plus_and_percent),
        cmocka_unit_test(test_params_reject_repeated_names),
        cmocka_unit_test(test_params_allow_listed_repeats),
        cmocka_unit_test(test_params_reject_bad_escapes_and_nul),
        cmocka_unit_test(test_params_are_bounded_in_count_and_size),
        cmocka_unit_test(test_url_with_params_encodes_everything_reserved),
        cmocka_unit_test(test_url_params_round_trip_through_the_parser),
        cmocka_unit_test(test_basic_credentials_are_urldecoded_halves),
        cmocka_unit_test(test_basic_credentials_reject_malformed),
        cmocka_unit_test(test_cookie_get_finds_exact_name),
        cmocka_unit_test(test_html_escape_neutralises_markup),
        cmocka_unit_test(test_uri_host_strips_userinfo_and_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
