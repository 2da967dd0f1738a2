/*
 * test_jobs — the pure parts of bin/jobs: the webhook signature (against a
 * vector computed independently with `openssl dgst -hmac`), the retry
 * schedule, the delivery URL and header rules, the request text, the
 * response snippet, SMTP URL parsing, dot-stuffing and the message headers;
 * and webhook_post against a one-shot loopback receiver, with and without
 * ALLOW_PRIVATE_WEBHOOKS.
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
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "services/jobs/jobs.h"
#include "services/jobs/mail.h"
#include "services/jobs/webhook.h"

/* printf '%s' '1700000000.{"event":"record.created"}' | openssl dgst -sha256 -hmac whsec_test */
static void test_signature_matches_openssl_vector(void **state)
{
    (void)state;
    const char *body = "{\"event\":\"record.created\"}";
    char sig[WEBHOOK_SIG_LEN + 1];
    webhook_sign("whsec_test", "1700000000", body, strlen(body), sig);
    assert_string_equal(sig, "v1=66aa3bae19d510e9de0df97cbe4b5992e2a3ca7f3286480c583ae1cd7a301e43");
    /* Any change of the signed bytes changes it. */
    webhook_sign("whsec_test", "1700000001", body, strlen(body), sig);
    assert_string_not_equal(sig, "v1=66aa3bae19d510e9de0df97cbe4b5992e2a3ca7f3286480c583ae1cd7a301e43");
}

static void test_schedule_parses_default_and_rejects_junk(void **state)
{
    (void)state;
    int s[JOBS_SCHEDULE_MAX];
    assert_int_equal(jobs_parse_schedule("60,300,1800,7200,21600", s, JOBS_SCHEDULE_MAX), 5);
    assert_int_equal(s[0], 60);
    assert_int_equal(s[4], 21600);
    assert_int_equal(jobs_parse_schedule(" 1, 1 ,1", s, JOBS_SCHEDULE_MAX), 3);
    assert_int_equal(s[2], 1);
    assert_int_equal(jobs_parse_schedule("", s, JOBS_SCHEDULE_MAX), -1);
    assert_int_equal(jobs_parse_schedule("60,", s, JOBS_SCHEDULE_MAX), -1);
    assert_int_equal(jobs_parse_schedule("60,,300", s, JOBS_SCHEDULE_MAX), -1);
    assert_int_equal(jobs_parse_schedule("0", s, JOBS_SCHEDULE_MAX), -1);
    assert_int_equal(jobs_parse_schedule("-5", s, JOBS_SCHEDULE_MAX), -1);
    assert_int_equal(jobs_parse_schedule("60s", s, JOBS_SCHEDULE_MAX), -1);
    assert_int_equal(jobs_parse_schedule("604801", s, JOBS_SCHEDULE_MAX), -1);
    assert_int_equal(jobs_parse_schedule("1,2,3", s, 2), -1);
}

static void test_webhook_url_requires_https_unless_allowed(void **state)
{
    (void)state;
    struct cimd_url u;
    char why[128];
    assert_true(webhook_url_check("https://hooks.example.com", false, &u, why, sizeof why));
    assert_string_equal(u.host, "hooks.example.com");
    assert_string_equal(u.port, "443");
    assert_string_equal(u.target, "");
    assert_false(webhook_url_check("http://hooks.example.com/x", false, &u, why, sizeof why));
    assert_non_null(strstr(why, "https"));
    assert_true(webhook_url_check("http://127.0.0.1:9999/hook?a=1", true, &u, why, sizeof why));
    assert_string_equal(u.port, "9999");
    assert_string_equal(u.target, "/hook?a=1");
    assert_false(webhook_url_check("https://user:pw@example.com/", false, &u, why, sizeof why));
    assert_false(webhook_url_check("https://example.com/#frag", false, &u, why, sizeof why));
    assert_false(webhook_url_check("ftp://example.com/", true, &u, why, sizeof why));
    assert_false(webhook_url_check("https://exa mple.com/", false, &u, why, sizeof why));
}

static void test_header_rules_block_injection_and_our_headers(void **state)
{
    (void)state;
    assert_true(webhook_header_name_ok("Authorization"));
    assert_true(webhook_header_name_ok("X-Api-Key"));
    assert_false(webhook_header_name_ok("X-3MinAPI-Signature"));
    assert_false(webhook_header_name_ok("content-length"));
    assert_false(webhook_header_name_ok("Host"));
    assert_false(webhook_header_name_ok("Bad Name"));
    assert_false(webhook_header_name_ok("X:Y"));
    assert_false(webhook_header_name_ok(""));
    assert_true(webhook_header_value_ok("Bearer abc"));
    assert_false(webhook_header_value_ok("abc\r\nX-Evil: 1"));
    assert_false(webhook_header_value_ok("abc\n"));
}

static void test_request_text_carries_signed_headers_and_exact_body(void **state)
{
    (void)state;
    struct cimd_url u;
    char why[128];
    assert_true(webhook_url_check("http://127.0.0.1:8088/in", true, &u, why, sizeof why));
    json_t *extra = json_pack("{s:s, s:s}", "X-Extra", "yes", "X-Bad", "a\r\nInjected: 1");
    const char *body = "{\"event\":\"record.created\"}";
    struct webhook_request r = {.url = "http://127.0.0.1:8088/in", .delivery_id = "d-123", .secret = "whsec_test",
                                .auth_header = "Authorization", .auth_value = "Bearer s3cret",
                                .extra_headers = extra, .body = body, .body_len = strlen(body),
                                .timestamp = 1700000000};
    size_t len;
    char *req = webhook_request_text(&r, &u, &len);
    assert_int_equal(len, strlen(req));
    assert_true(!strncmp(req, "POST /in HTTP/1.1\r\n", 19));
    assert_non_null(strstr(req, "\r\nHost: 127.0.0.1:8088\r\n"));
    assert_non_null(strstr(req, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(req, "\r\nContent-Length: 26\r\n"));
    assert_non_null(strstr(req, "\r\nX-3MinAPI-Delivery: d-123\r\n"));
    assert_non_null(strstr(req, "\r\nX-3MinAPI-Timestamp: 1700000000\r\n"));
    assert_non_null(strstr(req,
        "\r\nX-3MinAPI-Signature: v1=66aa3bae19d510e9de0df97cbe4b5992e2a3ca7f3286480c583ae1cd7a301e43\r\n"));
    assert_non_null(strstr(req, "\r\nAuthorization: Bearer s3cret\r\n"));
    assert_non_null(strstr(req, "\r\nX-Extra: yes\r\n"));
    assert_null(strstr(req, "Injected"));
    const char *sep = strstr(req, "\r\n\r\n");
    assert_non_null(sep);
    assert_string_equal(sep + 4, body);
    free(req);

    /* No path in the URL: the request line asks for "/"; default port: no port in Host. */
    assert_true(webhook_url_check("https://hooks.example.com", false, &u, why, sizeof why));
    r.auth_header = NULL;
    r.extra_headers = NULL;
    req = webhook_request_text(&r, &u, &len);
    assert_true(!strncmp(req, "POST / HTTP/1.1\r\nHost: hooks.example.com\r\n", 42));
    free(req);
    json_decref(extra);
}

static void test_snippet_is_capped_and_printable(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'a', sizeof big);
    char out[WEBHOOK_SNIPPET_MAX + 1];
    webhook_snippet(big, sizeof big, out);
    assert_int_equal(strlen(out), WEBHOOK_SNIPPET_MAX);
    webhook_snippet("ok\x01\xff\nline", 9, out);
    assert_string_equal(out, "ok??\nline");
}

static void test_smtp_url_parses_auth_and_port(void **state)
{
    (void)state;
    struct smtp_url s;
    char why[128];
    assert_true(smtp_url_parse("smtp://mail.example.com", &s, why, sizeof why));
    assert_string_equal(s.host, "mail.example.com");
    assert_string_equal(s.port, "25");
    assert_string_equal(s.user, "");
    assert_true(smtp_url_parse("smtp://us%40er:p%3Ass@127.0.0.1:2525", &s, why, sizeof why));
    assert_string_equal(s.user, "us@er");
    assert_string_equal(s.password, "p:ss");
    assert_string_equal(s.host, "127.0.0.1");
    assert_string_equal(s.port, "2525");
    assert_true(smtp_url_parse("smtp://[::1]:25/", &s, why, sizeof why));
    assert_string_equal(s.host, "::1");
    assert_false(smtp_url_parse("http://mail.example.com", &s, why, sizeof why));
    assert_false(smtp_url_parse("smtp://mail.example.com:99999", &s, why, sizeof why));
    assert_false(smtp_url_parse("smtp://mail.example.com:", &s, why, sizeof why));
    assert_false(smtp_url_parse("smtp://u:%0d%0a@host", &s, why, sizeof why));
    assert_false(smtp_url_parse("smtp://u:%4@host", &s, why, sizeof why));
}

static void test_dot_stuffing_and_crlf(void **state)
{
    (void)state;
    char *t = mail_dot_stuff(".starts\nmiddle . dot\n.\n..two\r\nlast");
    assert_string_equal(t, "..starts\r\nmiddle . dot\r\n..\r\n...two\r\nlast\r\n");
    free(t);
    t = mail_dot_stuff("a\rb\n\nc\n");
    assert_string_equal(t, "a\r\nb\r\n\r\nc\r\n");
    free(t);
    t = mail_dot_stuff("");
    assert_string_equal(t, "");
    free(t);
}

static void test_message_headers(void **state)
{
    (void)state;
    char *m = mail_build_message("3Min API <no-reply@3minapi.test>", "owner@example.com",
                                 "Calls failing\r\nBcc: evil@example.com", "Hello\n.\nBye", 1700000000, "abc123");
    assert_true(!strncmp(m, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n", 39));
    assert_non_null(strstr(m, "\r\nFrom: 3Min API <no-reply@3minapi.test>\r\n"));
    assert_non_null(strstr(m, "\r\nTo: owner@example.com\r\n"));
    /* CR/LF in a subject cannot add a header. */
    assert_non_null(strstr(m, "\r\nSubject: Calls failing  Bcc: evil@example.com\r\n"));
    assert_null(strstr(m, "\r\nBcc:"));
    assert_non_null(strstr(m, "\r\nMessage-ID: <abc123@3minapi.test>\r\n"));
    assert_non_null(strstr(m, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    const char *sep = strstr(m, "\r\n\r\n");
    assert_non_null(sep);
    assert_string_equal(sep + 4, "Hello\r\n..\r\nBye\r\n");
    free(m);

    char *h = mail_header_text("Échec");
    assert_string_equal(h, "=?UTF-8?B?w4ljaGVj?=");
    free(h);
}

static void test_mail_file_is_the_message_private_and_named_safely(void **state)
{
    (void)state;
    char dir[] = "/tmp/3min-maildir.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char why[256] = "";
    assert_true(mail_write_file(dir, "42", "3Min API <no-reply@localhost>", "a@example.com", "Hello",
                                "line one\n.starts with a dot\n", why, sizeof why));
    char path[128];
    snprintf(path, sizeof path, "%s/42.eml", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_non_null(strstr(buf, "To: a@example.com\r\n"));
    assert_non_null(strstr(buf, "Subject: Hello\r\n"));
    /* Not dot-stuffed: the file is the message as the recipient reads it. */
    assert_non_null(strstr(buf, "\r\n.starts with a dot\r\n"));
    assert_null(strstr(buf, "..starts"));
    unlink(path);
    /* An id that is not a plain name never becomes a path. */
    assert_false(mail_write_file(dir, "../escape", "x <a@b.c>", "a@example.com", "s", "b", why, sizeof why));
    assert_false(mail_write_file(dir, "", "x <a@b.c>", "a@example.com", "s", "b", why, sizeof why));
    assert_int_equal(rmdir(dir), 0);   /* nothing else was written, no temporary file left */
}

static void test_addresses(void **state)
{
    (void)state;
    char a[256];
    assert_true(mail_address_of("3Min API <no-reply@localhost>", a, sizeof a));
    assert_string_equal(a, "no-reply@localhost");
    assert_true(mail_address_of("plain@example.com", a, sizeof a));
    assert_false(mail_address_of("No address <>", a, sizeof a));
    assert_true(mail_address_ok("a.b+c@example.com"));
    assert_false(mail_address_ok("a b@example.com"));
    assert_false(mail_address_ok("a@b>\r\nRCPT TO:<x@y"));
    assert_false(mail_address_ok("@example.com"));
    assert_false(mail_address_ok("a@"));
    assert_int_equal(mail_backoff_s(1), 30);
    assert_int_equal(mail_backoff_s(2), 60);
    assert_int_equal(mail_backoff_s(20), 3600);
}

/* ---- webhook_post against a one-shot loopback receiver ------------------- */

struct receiver {
    int fd;
    int port;
    const char *answer;
    char got[4096];
};

static void *receive_once(void *arg)
{
    struct receiver *rv = arg;
    int c = accept(rv->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(c, rv->got + n, sizeof rv->got - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        rv->got[n] = '\0';
        const char *sep = strstr(rv->got, "\r\n\r\n");
        const char *cl = strstr(rv->got, "Content-Length: ");
        if (sep && cl && n >= (size_t)(sep + 4 - rv->got) + (size_t)atoi(cl + 16))
            break;
    }
    send(c, rv->answer, strlen(rv->answer), MSG_NOSIGNAL);
    close(c);
    return NULL;
}

static void start_receiver(struct receiver *rv, pthread_t *t)
{
    rv->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(rv->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(rv->fd, (struct sockaddr *)&a, &al);
    rv->port = ntohs(a.sin_port);
    listen(rv->fd, 1);
    pthread_create(t, NULL, receive_once, rv);
}

static void test_post_delivers_to_loopback_when_private_allowed(void **state)
{
    (void)state;
    struct receiver rv = {.answer = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nthanks!\n"};
    pthread_t t;
    start_receiver(&rv, &t);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", rv.port);
    const char *body = "{\"a\":1}";
    struct webhook_request r = {.url = url, .delivery_id = "d-1", .secret = "whsec_x", .body = body,
                                .body_len = strlen(body), .timestamp = 1700000000};
    struct webhook_result out;
    assert_true(webhook_post(&r, true, 5000, &out));
    pthread_join(t, NULL);
    close(rv.fd);
    assert_int_equal(out.status, 200);
    assert_string_equal(out.snippet, "thanks!\n");
    assert_string_equal(out.error, "");
    assert_non_null(strstr(rv.got, "X-3MinAPI-Delivery: d-1\r\n"));
    assert_non_null(strstr(rv.got, "\r\n\r\n{\"a\":1}"));
}

static void test_post_reports_non_2xx_and_redirects(void **state)
{
    (void)state;
    struct receiver rv = {.answer = "HTTP/1.1 302 Found\r\nLocation: http://10.0.0.1/\r\nContent-Length: 0\r\n\r\n"};
    pthread_t t;
    start_receiver(&rv, &t);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", rv.port);
    struct webhook_request r = {.url = url, .delivery_id = "d-2", .secret = "whsec_x", .body = "{}", .body_len = 2,
                                .timestamp = 1};
    struct webhook_result out;
    assert_false(webhook_post(&r, true, 5000, &out));
    pthread_join(t, NULL);
    close(rv.fd);
    assert_int_equal(out.status, 302);
    assert_non_null(strstr(out.error, "redirects are not followed"));
}

static void test_post_refuses_loopback_and_http_without_flag(void **state)
{
    (void)state;
    struct webhook_request r = {.url = "https://127.0.0.1:1/", .delivery_id = "d", .secret = "s", .body = "{}",
                                .body_len = 2, .timestamp = 1};
    struct webhook_result out;
    assert_false(webhook_post(&r, false, 2000, &out));
    assert_int_equal(out.status, 0);
    assert_non_null(strstr(out.error, "loopback"));
    r.url = "https://10.1.2.3/";
    assert_false(webhook_post(&r, false, 2000, &out));
    assert_non_null(strstr(out.error, "private"));
    r.url = "http://hooks.example.com/";
    assert_false(webhook_post(&r, false, 2000, &out));
    assert_non_null(strstr(out.error, "https"));
}

int main(void)
{
    util_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_matches_openssl_vector),
        cmocka_unit_test(test_schedule_parses_default_and_rejects_junk),
        cmocka_unit_test(test_webhook_url_requires_https_unless_allowed),
        cmocka_unit_test(test_header_rules_block_injection_and_our_headers),
        cmocka_unit_test(test_request_text_carries_signed_headers_and_exact_body),
        cmocka_unit_test(test_snippet_is_capped_and_printable),
        cmocka_unit_test(test_smtp_url_parses_auth_and_port),
        cmocka_unit_test(test_dot_stuffing_and_crlf),
        cmocka_unit_test(test_message_headers),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_mail_file_is_the_message_private_and_named_safely),
        cmocka_unit_test(test_post_delivers_to_loopback_when_private_allowed),
        cmocka_unit_test(test_post_reports_non_2xx_and_redirects),
        cmocka_unit_test(test_post_refuses_loopback_and_http_without_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
