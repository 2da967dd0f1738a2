/*
 * cimd_fetch — the network side of Client ID Metadata Documents
 * (cimd_fetch.h). The rules themselves are pure and live in
 * proto/cimd_rules.c; the connection (resolution, SSRF check of every
 * address, connect, TLS, all against one deadline) is common/outbound.c;
 * this file sends the one GET and judges the answer.
 */
#include "services/worker/cimd_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/outbound.h"
#include "common/util.h"

#define RESPONSE_MAX (8192 + CIMD_BODY_MAX + 2048)   /* headers + body + chunk framing */
#define USER_AGENT "3MinAPI-CIMD/1.0"

static void say(char *why, size_t cap, const char *fmt, const char *arg)
{
    snprintf(why, cap, fmt, arg ? arg : "");
}

/* ---- the fetch ------------------------------------------------------------ */

bool cimd_fetch(const char *url, bool allow_private, int timeout_ms, struct cimd_http *out, char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    int64_t deadline = mono_ms() + timeout_ms;
    struct cimd_url u;
    if (!cimd_url_check(url, allow_private, &u, why, cap))
        return false;

    struct outbound_target t = {.host = u.host, .host_is_ip = u.host_is_ip, .port = u.port, .tls = u.https,
                                .allow_private = allow_private, .plain_loopback_only = true,
                                .label = "the client_id host"};
    struct outbound_conn c;
    if (!outbound_open(&c, &t, deadline, why, cap))
        return false;
    bool ok = false;
    char *buf = NULL;

    /* The authority exactly as written in the URL (no userinfo is possible). */
    const char *auth = url + (u.https ? 8 : 7);
    char *req = xasprintf("GET %s HTTP/1.1\r\nHost: %.*s\r\nAccept: application/json\r\nConnection: close\r\n"
                          "User-Agent: " USER_AGENT "\r\n\r\n",
                          u.target, (int)(u.target - auth), auth);
    int w = outbound_write(&c, req, strlen(req), deadline);
    free(req);
    if (w != 0) {
        say(why, cap, "sending the request to the client_id host failed or timed out%s", NULL);
        goto out;
    }

    buf = xmalloc(RESPONSE_MAX);
    size_t len = 0;
    for (;;) {
        ssize_t r = outbound_read(&c, buf + len, RESPONSE_MAX - len, deadline);
        if (r < 0) {
            say(why, cap, outbound_remaining(deadline) > 0 ? "reading the response of the client_id host failed%s"
                                                   : "the client_id host did not answer in time%s",
                NULL);
            goto out;
        }
        len += (size_t)r;
        enum cimd_http_result pr = cimd_http_parse(buf, len, r == 0, CIMD_BODY_MAX, out, why, cap);
        if (pr == CIMD_HTTP_INCOMPLETE) {
            if (len == RESPONSE_MAX) {
                say(why, cap, "the response is larger than allowed%s", NULL);
                goto out;
            }
            continue;
        }
        if (pr != CIMD_HTTP_OK)
            goto out;   /* why set by the parser */
        break;
    }
    if (out->status != 200) {
        char st[48];
        snprintf(st, sizeof st, "%d%s", out->status,
                 out->status >= 300 && out->status < 400 ? "; redirects are not followed" : "");
        say(why, cap, "the document URL answered HTTP %s", st);
        goto out;
    }
    if (!cimd_content_type_json(out->content_type)) {
        say(why, cap, "the document's Content-Type is not application/json%s", NULL);
        goto out;
    }
    ok = true;
out:
    if (!ok)
        cimd_http_free(out);
    free(buf);
    outbound_close(&c);
    return ok;
}
