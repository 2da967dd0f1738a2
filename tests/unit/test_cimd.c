/*
 * test_cimd — Client ID Metadata Documents: the client_id URL rules, the
 * address classifier (SSRF guard), the HTTP response parser, the cache
 * lifetime, the document rules, and cimd_fetch against a one-shot local
 * server (plain http on loopback, as OAUTH_ALLOW_PRIVATE_CIMD=1 allows) and
 * without the flag (loopback refused before any connection).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/cimd_rules.h"
#include "services/worker/cimd_fetch.h"

static bool url_ok(const char *url, bool allow)
{
    struct cimd_url u;
    char why[128];
    return cimd_url_check(url, allow, &u, why, sizeof why);
}

static void test_url_accepts_https_with_path(void **state)
{
    (void)state;
    struct cimd_url u;
    char why[128];
    assert_true(cimd_url_check("https://claude.ai/oauth/mcp-oauth-client-metadata", false, &u, why, sizeof why));
    assert_true(u.https);
    assert_string_equal(u.host, "claude.ai");
    assert_string_equal(u.port, "443");
    assert_string_equal(u.target, "/oauth/mcp-oauth-client-metadata");
    assert_false(u.host_is_ip);
    assert_true(cimd_url_check("https://Example.COM:8443/c.json?x=1", false, &u, why, sizeof why));
    assert_string_equal(u.host, "example.com");
    assert_string_equal(u.port, "8443");
    assert_string_equal(u.target, "/c.json?x=1");
    assert_true(cimd_url_check("https://[2001:db8::1]/c", false, &u, why, sizeof why));
    assert_true(u.host_is_ip);
    assert_string_equal(u.host, "2001:db8::1");
}

static void test_url_rejects_bad_shapes(void **state)
{
    (void)state;
    assert_false(url_ok("https://example.com", false));          /* no path */
    assert_false(url_ok("https://example.com/", false));         /* root path */
    assert_false(url_ok("https://example.com/?a=1", false));     /* root path with query */
    assert_false(url_ok("https://example.com/c#frag", false));   /* fragment */
    assert_false(url_ok("https://user@example.com/c", false));   /* userinfo */
    assert_false(url_ok("https://u:p@example.com/c", false));
    assert_false(url_ok("https://example.com/a/../c", false));   /* dot segments */
    assert_false(url_ok("https://example.com/./c", false));
    assert_false(url_ok("https://example.com/a/..", false));
    assert_false(url_ok("https://example.com/a/%2e%2E/c", false));
    assert_false(url_ok("https://example.com/a/.%2e/c", false));
    assert_false(url_ok("https://example.com/a b", false));      /* space */
    assert_false(url_ok("https://example.com\\@evil.com/c", false));
    assert_false(url_ok("https://example.com:0/c", false));
    assert_false(url_ok("https://example.com:65536/c", false));
    assert_false(url_ok("https://example.com:/c", false));
    assert_false(url_ok("https:///c", false));
    assert_false(url_ok("https://[::1/c", false));
    assert_false(url_ok("ftp://example.com/c", false));
    assert_false(url_ok("HTTPS://example.com/c", false));
    assert_false(url_ok("https://exa_mple.com/c", false));
    assert_false(url_ok(NULL, false));
    assert_false(url_ok("", false));
    /* Dots inside a segment are fine. */
    assert_true(url_ok("https://example.com/.well-known/client...json", false));
}

static void test_url_length_cap_is_512(void **state)
{
    (void)state;
    char url[600];
    strcpy(url, "https://example.com/");
    size_t n = strlen(url);
    memset(url + n, 'a', 512 - n);
    url[512] = '\0';
    assert_true(url_ok(url, false));
    url[512] = 'a';
    url[513] = '\0';
    assert_false(url_ok(url, false));
}

static void test_url_http_only_on_loopback_with_flag(void **state)
{
    (void)state;
    assert_false(url_ok("http://127.0.0.1:8000/c.json", false));
    assert_true(url_ok("http://127.0.0.1:8000/c.json", true));
    assert_true(url_ok("http://localhost/c.json", true));
    assert_true(url_ok("http://[::1]:9/c.json", true));
    assert_false(url_ok("http://example.com/c.json", true));
    assert_false(url_ok("http://10.0.0.1/c.json", true));
    assert_true(cimd_is_url_client_id("https://a.b/c", false));
    assert_false(cimd_is_url_client_id("http://127.0.0.1/c", false));
    assert_true(cimd_is_url_client_id("http://127.0.0.1/c", true));
    assert_false(cimd_is_url_client_id("tmc_abc", true));
}

/* ---- addresses ---- */

static const char *v4(const char *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, s, &a.sin_addr), 1);
    return cimd_addr_forbidden((struct sockaddr *)&a);
}

static const char *v6(const char *s)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, s, &a.sin6_addr), 1);
    return cimd_addr_forbidden((struct sockaddr *)&a);
}

static void test_addr_refuses_non_public_ipv4(void **state)
{
    (void)state;
    const char *bad[] = {"0.0.0.0", "10.1.2.3", "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.255.0.9",
                         "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.168.1.1", "192.0.0.8",
                         "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.1.1.1",
                         "240.0.0.1", "255.255.255.255"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (!v4(bad[i]))
            fail_msg("%s was accepted", bad[i]);
    }
    assert_null(v4("8.8.8.8"));
    assert_null(v4("1.1.1.1"));
    assert_null(v4("100.128.0.1"));   /* just outside CGNAT */
    assert_null(v4("172.32.0.1"));    /* just outside 172.16/12 */
    assert_null(v4("160.79.104.10"));
}

static void test_addr_refuses_non_public_ipv6(void **state)
{
    (void)state;
    const char *bad[] = {"::", "::1", "fe80::1", "febf::1", "fec0::1", "fc00::1", "fd12:3456::1", "ff02::1",
                         "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:192.168.0.1",
                         "::127.0.0.1", "64:ff9b::10.0.0.1", "2002:0a00:0001::1", "2001:0:4136:e378::1",
                         "2001:db8::1", "100::1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (!v6(bad[i]))
            fail_msg("%s was accepted", bad[i]);
    }
    assert_null(v6("2606:4700::6810:84e5"));
    assert_null(v6("2a00:1450:4001:80b::200e"));
    assert_null(v6("::ffff:8.8.8.8"));   /* mapped public */
    assert_null(v6("64:ff9b::8.8.8.8"));
    assert_null(v6("2002:0808:0808::1"));   /* 6to4 of a public address */
}

static void test_addr_loopback(void **state)
{
    (void)state;
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
    assert_true(cimd_addr_is_loopback((struct sockaddr *)&a));
    inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
    assert_false(cimd_addr_is_loopback((struct sockaddr *)&a));
    struct sockaddr_in6 b = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::1", &b.sin6_addr);
    assert_true(cimd_addr_is_loopback((struct sockaddr *)&b));
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &b.sin6_addr);
    assert_true(cimd_addr_is_loopback((struct sockaddr *)&b));
    inet_pton(AF_INET6, "fe80::1", &b.sin6_addr);
    assert_false(cimd_addr_is_loopback((struct sockaddr *)&b));
}

/* ---- HTTP ---- */

static enum cimd_http_result parse(const char *s, bool eof, struct cimd_http *h)
{
    char why[128];
    return cimd_http_parse(s, strlen(s), eof, CIMD_BODY_MAX, h, why, sizeof why);
}

static void test_http_content_length_body(void **state)
{
    (void)state;
    struct cimd_http h;
    const char *r = "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                    "Cache-Control: public\r\ncache-control: max-age=600\r\nContent-Length: 2\r\n\r\n{}";
    assert_int_equal(parse(r, false, &h), CIMD_HTTP_OK);
    assert_int_equal(h.status, 200);
    assert_string_equal(h.body, "{}");
    assert_string_equal(h.content_type, "application/json; charset=utf-8");
    assert_string_equal(h.cache_control, "public, max-age=600");
    cimd_http_free(&h);
    /* Short body: more is needed; at end of stream it is truncated. */
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}";
    assert_int_equal(parse(s, false, &h), CIMD_HTTP_INCOMPLETE);
    assert_int_equal(parse(s, true, &h), CIMD_HTTP_BAD);
    /* Extra bytes after the declared body. */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{}", true, &h), CIMD_HTTP_BAD);
}

static void test_http_chunked_body(void **state)
{
    (void)state;
    struct cimd_http h;
    const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n"
                    "X-Trailer: x\r\n\r\n";
    assert_int_equal(parse(r, false, &h), CIMD_HTTP_OK);
    assert_string_equal(h.body, "{\"a\":1}");
    assert_int_equal(h.body_len, 7);
    cimd_http_free(&h);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a", false, &h),
                     CIMD_HTTP_INCOMPLETE);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a", true, &h),
                     CIMD_HTTP_BAD);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", true, &h),
                     CIMD_HTTP_BAD);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", true, &h),
                     CIMD_HTTP_BAD);
    /* A chunk size over the cap is refused before its bytes arrive. */
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1401\r\n", false, &h),
                     CIMD_HTTP_TOO_BIG);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\n", false, &h),
                     CIMD_HTTP_BAD);
}

static void test_http_refuses_ambiguous_framing(void **state)
{
    (void)state;
    struct cimd_http h;
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", true, &h),
                     CIMD_HTTP_BAD);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}", true, &h),
                     CIMD_HTTP_BAD);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{}", true, &h), CIMD_HTTP_BAD);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}", true, &h), CIMD_HTTP_BAD);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n{}", true, &h), CIMD_HTTP_BAD);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nBad Header: 1\r\n\r\n{}", true, &h), CIMD_HTTP_BAD);
    assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\n", true, &h), CIMD_HTTP_BAD);
    assert_int_equal(parse("HTTP/2 200\r\n\r\n{}", true, &h), CIMD_HTTP_BAD);
    assert_int_equal(parse("garbage", true, &h), CIMD_HTTP_BAD);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n{}", true, &h),
                     CIMD_HTTP_BAD);
}

static void test_http_size_caps(void **state)
{
    (void)state;
    struct cimd_http h;
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5121\r\n\r\n", false, &h), CIMD_HTTP_TOO_BIG);
    char *big = malloc(8000);
    int n = snprintf(big, 8000, "HTTP/1.1 200 OK\r\n\r\n");
    memset(big + n, 'x', 5121);
    big[n + 5121] = '\0';
    assert_int_equal(parse(big, false, &h), CIMD_HTTP_TOO_BIG);   /* no length, still too big */
    big[n + 5120] = '\0';
    assert_int_equal(parse(big, false, &h), CIMD_HTTP_INCOMPLETE);
    assert_int_equal(parse(big, true, &h), CIMD_HTTP_OK);
    assert_int_equal(h.body_len, 5120);
    cimd_http_free(&h);
    free(big);
    /* Headers over 8 KiB. */
    char *hdr = malloc(9000);
    n = snprintf(hdr, 9000, "HTTP/1.1 200 OK\r\nX: ");
    memset(hdr + n, 'a', 8500);
    hdr[n + 8500] = '\0';
    assert_int_equal(parse(hdr, false, &h), CIMD_HTTP_BAD);
    free(hdr);
}

static void test_http_redirect_parses_with_status(void **state)
{
    (void)state;
    struct cimd_http h;
    assert_int_equal(parse("HTTP/1.1 302 Found\r\nLocation: http://x/\r\nContent-Length: 0\r\n\r\n", false, &h),
                     CIMD_HTTP_OK);
    assert_int_equal(h.status, 302);
    cimd_http_free(&h);
}

static void test_content_type_json(void **state)
{
    (void)state;
    assert_true(cimd_content_type_json("application/json"));
    assert_true(cimd_content_type_json("Application/JSON; charset=utf-8"));
    assert_true(cimd_content_type_json("application/json;charset=utf-8"));
    assert_false(cimd_content_type_json("application/jsonx"));
    assert_false(cimd_content_type_json("text/html"));
    assert_false(cimd_content_type_json("text/plain; application/json"));
    assert_false(cimd_content_type_json(""));
    assert_false(cimd_content_type_json(NULL));
}

static void test_cache_ttl_is_clamped(void **state)
{
    (void)state;
    assert_int_equal(cimd_cache_ttl(NULL), 3600);
    assert_int_equal(cimd_cache_ttl("public"), 3600);
    assert_int_equal(cimd_cache_ttl("max-age=600"), 600);
    assert_int_equal(cimd_cache_ttl("public, max-age=7200"), 7200);
    assert_int_equal(cimd_cache_ttl("max-age=10"), 300);
    assert_int_equal(cimd_cache_ttl("max-age=0"), 300);
    assert_int_equal(cimd_cache_ttl("max-age=9999999"), 86400);
    assert_int_equal(cimd_cache_ttl("max-age=99999999999999999999"), 86400);
    assert_int_equal(cimd_cache_ttl("no-store"), 300);
    assert_int_equal(cimd_cache_ttl("max-age=7200, no-cache"), 300);
    assert_int_equal(cimd_cache_ttl("max-age=abc"), 3600);
    assert_int_equal(cimd_cache_ttl("max-age=\"900\""), 900);
}

/* ---- documents ---- */

#define URL "https://app.example.com/oauth/client.json"

static json_t *doc(const char *json)
{
    char why[160];
    return cimd_document_check(json, strlen(json), URL, why, sizeof why);
}

static void test_document_valid(void **state)
{
    (void)state;
    json_t *d = doc("{\"client_id\":\"" URL "\",\"client_name\":\"App\",\"redirect_uris\":"
                    "[\"https://app.example.com/cb\",\"http://127.0.0.1/cb\"],\"token_endpoint_auth_method\":\"none\","
                    "\"grant_types\":[\"authorization_code\",\"refresh_token\"],\"response_types\":[\"code\"]}");
    assert_non_null(d);
    json_decref(d);
    d = doc("{\"client_id\":\"" URL "\",\"client_name\":\"App\",\"redirect_uris\":[\"https://x.example/cb\"]}");
    assert_non_null(d);
    json_decref(d);
}

static void test_document_refusals(void **state)
{
    (void)state;
    const char *bad[] = {
        "[]",
        "not json",
        /* client_id differs (simple string comparison: even a trailing slash) */
        "{\"client_id\":\"" URL "/\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a.example/cb\"]}",
        "{\"client_id\":\"HTTPS://app.example.com/oauth/client.json\",\"client_name\":\"A\","
        "\"redirect_uris\":[\"https://a.example/cb\"]}",
        "{\"client_name\":\"A\",\"redirect_uris\":[\"https://a.example/cb\"]}",
        /* client_name */
        "{\"client_id\":\"" URL "\",\"redirect_uris\":[\"https://a.example/cb\"]}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"\",\"redirect_uris\":[\"https://a.example/cb\"]}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"a\\nb\",\"redirect_uris\":[\"https://a.example/cb\"]}",
        /* redirect_uris */
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\"}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[]}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":\"https://a.example/cb\"}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"http://a.example/cb\"]}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a.example/cb#x\"]}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"javascript:alert(1)\"]}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://u@a.example/cb\"]}",
        /* secrets and confidential methods */
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a.example/cb\"],"
        "\"client_secret\":\"s\"}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a.example/cb\"],"
        "\"client_secret_expires_at\":0}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a.example/cb\"],"
        "\"token_endpoint_auth_method\":\"client_secret_basic\"}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a.example/cb\"],"
        "\"grant_types\":[\"client_credentials\"]}",
        "{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"redirect_uris\":[\"https://a.example/cb\"],"
        "\"response_types\":[\"token\"]}",
        /* duplicate keys */
        "{\"client_id\":\"" URL "\",\"client_id\":\"" URL "\",\"client_name\":\"A\","
        "\"redirect_uris\":[\"https://a.example/cb\"]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *d = doc(bad[i]);
        if (d) {
            json_decref(d);
            fail_msg("accepted: %s", bad[i]);
        }
    }
    /* 101-byte name */
    char name[102];
    memset(name, 'n', 101);
    name[101] = '\0';
    char *j = NULL;
    assert_true(asprintf(&j, "{\"client_id\":\"" URL "\",\"client_name\":\"%s\",\"redirect_uris\":[\"https://a.example/cb\"]}",
                         name) > 0);
    assert_null(doc(j));
    free(j);
}

/* ---- cimd_fetch against a local one-shot server ---- */

struct server {
    int lfd;
    int port;
    const char *response;
    size_t response_len;
    char request[2048];
};

static void *serve_once(void *arg)
{
    struct server *s = arg;
    int c = accept(s->lfd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t n = 0;
    while (n < sizeof s->request - 1) {
        ssize_t r = recv(c, s->request + n, sizeof s->request - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        s->request[n] = '\0';
        if (strstr(s->request, "\r\n\r\n"))
            break;
    }
    if (s->response_len)
        (void)!write(c, s->response, s->response_len);
    close(c);
    return NULL;
}

static bool fetch_from(const char *response, const char *path, struct cimd_http *out, char *why, size_t cap,
                       struct server *s)
{
    memset(s, 0, sizeof *s);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 4), 0);
    socklen_t l = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &l);
    s->port = ntohs(a.sin_port);
    s->response = response;
    s->response_len = strlen(response);
    pthread_t t;
    pthread_create(&t, NULL, serve_once, s);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    bool ok = cimd_fetch(url, true, 3000, out, why, cap);
    pthread_join(t, NULL);
    close(s->lfd);
    return ok;
}

static void test_fetch_chunked_document_over_loopback(void **state)
{
    (void)state;
    struct server s;
    struct cimd_http h;
    char why[256] = "";
    bool ok = fetch_from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: max-age=900\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                         "/client.json?v=1", &h, why, sizeof why, &s);
    if (!ok)
        fail_msg("fetch failed: %s", why);
    assert_string_equal(h.body, "{}");
    assert_int_equal(cimd_cache_ttl(h.cache_control), 900);
    cimd_http_free(&h);
    char expect[128];
    snprintf(expect, sizeof expect, "GET /client.json?v=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", s.port);
    assert_true(!strncmp(s.request, expect, strlen(expect)));
    assert_non_null(strstr(s.request, "\r\nAccept: application/json\r\n"));
    assert_non_null(strstr(s.request, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(s.request, "\r\nUser-Agent: "));
}

static void test_fetch_refuses_redirect_and_wrong_type(void **state)
{
    (void)state;
    struct server s;
    struct cimd_http h;
    char why[256];
    assert_false(fetch_from("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1/x\r\nContent-Length: 0\r\n\r\n", "/c",
                            &h, why, sizeof why, &s));
    assert_non_null(strstr(why, "302"));
    assert_false(fetch_from("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\n{}", "/c", &h,
                            why, sizeof why, &s));
    assert_non_null(strstr(why, "Content-Type"));
    assert_false(fetch_from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9000\r\n\r\n{}",
                            "/c", &h, why, sizeof why, &s));
    assert_non_null(strstr(why, "5 KiB"));
    assert_false(fetch_from("", "/c", &h, why, sizeof why, &s));   /* closed without an answer */
}

/* A server that accepts and never answers: the fetch gives up at its deadline. */
static void *accept_and_stall(void *arg)
{
    struct server *s = arg;
    int c = accept(s->lfd, NULL, NULL);
    if (c >= 0) {
        usleep(1500 * 1000);
        close(c);
    }
    return NULL;
}

static void test_fetch_gives_up_at_the_deadline(void **state)
{
    (void)state;
    struct server s = {0};
    s.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s.lfd, 4), 0);
    socklen_t l = sizeof a;
    getsockname(s.lfd, (struct sockaddr *)&a, &l);
    pthread_t t;
    pthread_create(&t, NULL, accept_and_stall, &s);
    char url[128], why[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/c.json", ntohs(a.sin_port));
    struct cimd_http h;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_false(cimd_fetch(url, true, 300, &h, why, sizeof why));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 250 && ms < 1000);
    assert_non_null(strstr(why, "did not answer"));
    pthread_join(t, NULL);
    close(s.lfd);
}

static void test_fetch_without_flag_refuses_loopback_before_connecting(void **state)
{
    (void)state;
    struct cimd_http h;
    char why[256];
    assert_false(cimd_fetch("https://127.0.0.1:1/c.json", false, 2000, &h, why, sizeof why));
    assert_non_null(strstr(why, "loopback"));
    assert_false(cimd_fetch("https://localhost:1/c.json", false, 2000, &h, why, sizeof why));
    assert_non_null(strstr(why, "loopback"));
    assert_false(cimd_fetch("https://[::1]:1/c.json", false, 2000, &h, why, sizeof why));
    assert_non_null(strstr(why, "loopback"));
    assert_false(cimd_fetch("https://169.254.169.254/latest/meta-data", false, 2000, &h, why, sizeof why));
    assert_non_null(strstr(why, "link-local"));
    assert_false(cimd_fetch("https://10.0.0.1/c.json", false, 2000, &h, why, sizeof why));
    assert_non_null(strstr(why, "private"));
    assert_false(cimd_fetch("http://127.0.0.1:1/c.json", false, 2000, &h, why, sizeof why));
    assert_non_null(strstr(why, "https"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_accepts_https_with_path),
        cmocka_unit_test(test_url_rejects_bad_shapes),
        cmocka_unit_test(test_url_length_cap_is_512),
        cmocka_unit_test(test_url_http_only_on_loopback_with_flag),
        cmocka_unit_test(test_addr_refuses_non_public_ipv4),
        cmocka_unit_test(test_addr_refuses_non_public_ipv6),
        cmocka_unit_test(test_addr_loopback),
        cmocka_unit_test(test_http_content_length_body),
        cmocka_unit_test(test_http_chunked_body),
        cmocka_unit_test(test_http_refuses_ambiguous_framing),
        cmocka_unit_test(test_http_size_caps),
        cmocka_unit_test(test_http_redirect_parses_with_status),
        cmocka_unit_test(test_content_type_json),
        cmocka_unit_test(test_cache_ttl_is_clamped),
        cmocka_unit_test(test_document_valid),
        cmocka_unit_test(test_document_refusals),
        cmocka_unit_test(test_fetch_chunked_document_over_loopback),
        cmocka_unit_test(test_fetch_refuses_redirect_and_wrong_type),
        cmocka_unit_test(test_fetch_gives_up_at_the_deadline),
        cmocka_unit_test(test_fetch_without_flag_refuses_loopback_before_connecting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
