/*
 * Unit tests of proto/oauth_rules: redirect URI matching (exact, loopback
 * port ignored), redirect URI registration rules, PKCE S256 shapes and
 * verification (RFC 7636 appendix B vector), scope strings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/util.h"
#include "proto/envelope.h"
#include "proto/oauth_rules.h"

#define RFC_VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define RFC_CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static void test_redirect_exact_match_allowed(void **s)
{
    (void)s;
    assert_true(oauth_redirect_allowed("https://claude.ai/api/mcp/auth_callback",
                                       "https://claude.ai/api/mcp/auth_callback"));
}

static void test_redirect_rejects_any_difference_on_remote_hosts(void **s)
{
    (void)s;
    const char *reg = "https://claude.ai/api/mcp/auth_callback";
    assert_false(oauth_redirect_allowed(reg, "https://claude.ai/api/mcp/auth_callback/"));
    assert_false(oauth_redirect_allowed(reg, "https://claude.ai/api/mcp/auth_callback?x=1"));
    assert_false(oauth_redirect_allowed(reg, "https://CLAUDE.ai/api/mcp/auth_callback"));
    assert_false(oauth_redirect_allowed(reg, "https://claude.ai:444/api/mcp/auth_callback"));
    assert_false(oauth_redirect_allowed(reg, "https://claude.ai.evil.com/api/mcp/auth_callback"));
    assert_false(oauth_redirect_allowed(reg, "https://claude.ai/api/mcp/auth_callback#x"));
    assert_false(oauth_redirect_allowed(reg, "http://claude.ai/api/mcp/auth_callback"));
    assert_false(oauth_redirect_allowed("https://example.com:8443/cb", "https://example.com:9443/cb"));
    assert_false(oauth_redirect_allowed(reg, ""));
    assert_false(oauth_redirect_allowed(reg, NULL));
    assert_false(oauth_redirect_allowed(NULL, reg));
}

static void test_redirect_loopback_port_ignored(void **s)
{
    (void)s;
    assert_true(oauth_redirect_allowed("http://localhost/callback", "http://localhost:53122/callback"));
    assert_true(oauth_redirect_allowed("http://127.0.0.1/callback", "http://127.0.0.1:8080/callback"));
    assert_true(oauth_redirect_allowed("http://127.0.0.1:3000/callback", "http://127.0.0.1:4000/callback"));
    assert_true(oauth_redirect_allowed("http://[::1]:1/cb", "http://[::1]:65535/cb"));
    assert_true(oauth_redirect_allowed("http://[::1]/cb", "http://[::1]/cb"));
}

static void test_redirect_loopback_still_matches_host_path_and_scheme(void **s)
{
    (void)s;
    assert_false(oauth_redirect_allowed("http://localhost/callback", "http://127.0.0.1:5000/callback"));
    assert_false(oauth_redirect_allowed("http://localhost/callback", "http://localhost:5000/other"));
    assert_false(oauth_redirect_allowed("http://localhost/callback", "http://localhost:5000/callback?x"));
    assert_false(oauth_redirect_allowed("http://localhost/callback", "https://localhost:5000/callback"));
    assert_false(oauth_redirect_allowed("http://localhost/callback", "http://localhost:99999/callback"));
    assert_false(oauth_redirect_allowed("http://localhost/callback", "http://localhost:/callback"));
    assert_false(oauth_redirect_allowed("http://localhost/callback", "http://localhost:80x/callback"));
    assert_false(oauth_redirect_allowed("http://localhost/callback", "http://user@localhost:80/callback"));
    assert_false(oauth_redirect_allowed("http://localhost/cb", "http://localhost.evil.com:80/cb"));
}

static void assert_reg(const char *uri, bool expect, const char *why_contains)
{
    char why[200];
    bool ok = oauth_redirect_uri_valid_for_registration(uri, "https://app.example.org, https://example.com:8443/", why, sizeof why);
    if (ok != expect)
        fail_msg("%s: expected %s, got %s (%s)", uri, expect ? "valid" : "invalid", ok ? "valid" : "invalid", why);
    if (!expect && why_contains && !strstr(why, why_contains))
        fail_msg("%s: reason '%s' lacks '%s'", uri, why, why_contains);
}

static void test_registration_refuses_unlisted_https_callbacks(void **s)
{
    (void)s;
    assert_reg("https://evil.example/cb", false, "not an allowed callback");
    assert_reg("https://chatgpt.com.evil.example/connector/oauth/x", false, "not an allowed callback");
    assert_reg("https://chatgpt.com/connector/oauth/x/y", false, "not an allowed callback");
    assert_reg("https://chatgpt.com/connector/oauth/x?y=1", false, "not an allowed callback");
    assert_reg("https://claude.ai/api/mcp/auth_callback/x", false, "not an allowed callback");
    assert_reg("https://example.com/cb", false, "not an allowed callback");            /* other port listed */
    assert_reg("https://app.example.org.evil.example/cb", false, "not an allowed callback");
}

static void test_registration_accepts_https_and_loopback_http(void **s)
{
    (void)s;
    assert_reg("https://claude.ai/api/mcp/auth_callback", true, NULL);
    assert_reg("https://chatgpt.com/connector_platform_oauth_redirect", true, NULL);
    assert_reg("https://chatgpt.com/connector/oauth/abc123", true, NULL);
    assert_reg("https://example.com:8443/cb?x=1", true, NULL);         /* listed origin */
    assert_reg("https://APP.example.org/any/path", true, NULL);        /* listed, host case-insensitive */
    assert_reg("http://localhost/callback", true, NULL);
    assert_reg("http://localhost:33418/callback", true, NULL);
    assert_reg("http://127.0.0.1:8080/cb", true, NULL);
    assert_reg("http://[::1]/cb", true, NULL);
}

static void test_registration_rejects_unsafe_uris(void **s)
{
    (void)s;
    assert_reg("http://example.com/cb", false, "loopback");
    assert_reg("https://example.com/cb#frag", false, "fragment");
    assert_reg("https://user:pw@example.com/cb", false, "user");
    assert_reg("javascript:alert(1)", false, NULL);
    assert_reg("ftp://example.com/cb", false, "https");
    assert_reg("https:///cb", false, "host");
    assert_reg("https://exa mple.com/cb", false, NULL);
    assert_reg("https://example.com/c\nb", false, NULL);
    assert_reg("https://example.com:0/cb", false, "port");
    assert_reg("https://example.com:abc/cb", false, "port");
    assert_reg("https://exa_mple.com/cb", false, "host");
    assert_reg("", false, NULL);
    assert_reg(NULL, false, NULL);
    char long_uri[OAUTH_REDIRECT_URI_MAX + 40] = "https://example.com/";
    memset(long_uri + 20, 'a', sizeof long_uri - 21);
    long_uri[sizeof long_uri - 1] = '\0';
    assert_reg(long_uri, false, "long");
}

static void test_loopback_detection(void **s)
{
    (void)s;
    assert_true(oauth_redirect_uri_is_loopback("http://localhost:9/x"));
    assert_true(oauth_redirect_uri_is_loopback("http://127.0.0.1/x"));
    assert_false(oauth_redirect_uri_is_loopback("https://claude.ai/x"));
}

static void test_pkce_verifier_shape(void **s)
{
    (void)s;
    char v[OAUTH_VERIFIER_MAX + 2];
    memset(v, 'a', sizeof v);
    v[42] = '\0';
    assert_false(oauth_pkce_verifier_valid(v));          /* 42: too short */
    v[42] = 'a'; v[43] = '\0';
    assert_true(oauth_pkce_verifier_valid(v));           /* 43 */
    memset(v, '~', sizeof v);
    v[128] = '\0';
    assert_true(oauth_pkce_verifier_valid(v));           /* 128 */
    v[128] = '~'; v[129] = '\0';
    assert_false(oauth_pkce_verifier_valid(v));          /* 129: too long */
    assert_true(oauth_pkce_verifier_valid(RFC_VERIFIER));
    assert_true(oauth_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyz-._~0123456789ABCDEFG"));
    assert_false(oauth_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyz+/0123456789ABCDEFGHI"));
    assert_false(oauth_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyz =0123456789ABCDEFGHI"));
    assert_false(oauth_pkce_verifier_valid(NULL));
}

static void test_pkce_challenge_shape(void **s)
{
    (void)s;
    assert_true(oauth_pkce_challenge_valid(RFC_CHALLENGE));
    assert_false(oauth_pkce_challenge_valid(RFC_CHALLENGE "="));          /* padding */
    assert_false(oauth_pkce_challenge_valid("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"));  /* 42 */
    assert_false(oauth_pkce_challenge_valid("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));  /* '+' */
    assert_false(oauth_pkce_challenge_valid("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));  /* not a digest */
    assert_false(oauth_pkce_challenge_valid(RFC_VERIFIER "xyz"));
    assert_false(oauth_pkce_challenge_valid(NULL));
}

static void test_pkce_matches_rfc7636_vector(void **s)
{
    (void)s;
    assert_true(oauth_pkce_matches(RFC_VERIFIER, RFC_CHALLENGE));
}

static void test_pkce_rejects_wrong_verifier_and_plain(void **s)
{
    (void)s;
    assert_false(oauth_pkce_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", RFC_CHALLENGE));
    /* "plain": the verifier itself as the challenge never matches. */
    assert_false(oauth_pkce_matches(RFC_VERIFIER, RFC_VERIFIER));
    assert_false(oauth_pkce_matches(NULL, RFC_CHALLENGE));
    assert_false(oauth_pkce_matches(RFC_VERIFIER, NULL));
}

static void test_scope_parse(void **s)
{
    (void)s;
    uint32_t b = 99;
    assert_int_equal(oauth_scope_parse("read write", &b), 0);
    assert_int_equal(b, SCOPE_READ | SCOPE_WRITE);
    assert_int_equal(oauth_scope_parse("read write execute offline_access", &b), 0);
    assert_int_equal(b, SCOPE_ALL);
    assert_int_equal(oauth_scope_parse("", &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(oauth_scope_parse("read admin", &b), -1);
    assert_int_equal(oauth_scope_parse("read,write", &b), -1);
    assert_int_equal(oauth_scope_parse("READ", &b), -1);
}

static int setup(void **s)
{
    (void)s;
    util_init();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redirect_exact_match_allowed),
        cmocka_unit_test(test_redirect_rejects_any_difference_on_remote_hosts),
        cmocka_unit_test(test_redirect_loopback_port_ignored),
        cmocka_unit_test(test_redirect_loopback_still_matches_host_path_and_scheme),
        cmocka_unit_test(test_registration_accepts_https_and_loopback_http),
        cmocka_unit_test(test_registration_refuses_unlisted_https_callbacks),
        cmocka_unit_test(test_registration_rejects_unsafe_uris),
        cmocka_unit_test(test_loopback_detection),
        cmocka_unit_test(test_pkce_verifier_shape),
        cmocka_unit_test(test_pkce_challenge_shape),
        cmocka_unit_test(test_pkce_matches_rfc7636_vector),
        cmocka_unit_test(test_pkce_rejects_wrong_verifier_and_plain),
        cmocka_unit_test(test_scope_parse),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
