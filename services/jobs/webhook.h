/*
 * webhook — delivery of the webhook outbox (docs/GATEWAY.md "Outboxes",
 * DOMAIN.md §3): each due row of webhook_deliveries is POSTed, signed, with
 * a 10 s cap, and marked delivered, rescheduled by the retry schedule, or
 * failed (then the call log says so and a webhook_failed e-mail is queued
 * when a rule asks for one).
 *
 * The pure parts (signature, URL rules, request text, response snippet)
 * are separate functions so that unit tests pin them.
 */
#ifndef TM_JOBS_WEBHOOK_H
#define TM_JOBS_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "common/db.h"
#include "proto/cimd_rules.h"
#include "services/jobs/jobs.h"

#define WEBHOOK_TIMEOUT_MS 10000
#define WEBHOOK_SNIPPET_MAX 512
#define WEBHOOK_URL_MAX 2000
#define WEBHOOK_SIG_LEN 67              /* "v1=" + 64 hex */
#define WEBHOOK_LEASE_S 120             /* a claimed row is retaken after this (a jobs process died) */

/* "v1=" + lower-case hex HMAC-SHA256(secret, timestamp "." body). */
void webhook_sign(const char *secret, const char *timestamp, const char *body, size_t body_len,
                  char out[WEBHOOK_SIG_LEN + 1]);

/* Checks a delivery URL: http(s)://host[:port][/path], at most
 * WEBHOOK_URL_MAX bytes, printable ASCII, no userinfo or fragment; https
 * only unless allow_http. Fills out (target "" when the URL has no path). */
bool webhook_url_check(const char *url, bool allow_http, struct cimd_url *out, char *why, size_t cap);

/* True if name may be sent as a header name: an RFC 9110 token of at most
 * 100 bytes that is none of the headers this sender sets itself. */
bool webhook_header_name_ok(const char *name);

/* True if value may be sent as a header value: at most 4096 bytes, no
 * control characters (so no header injection through CR/LF). */
bool webhook_header_value_ok(const char *value);

struct webhook_request {
    const char *url;
    const char *delivery_id;
    const char *secret;          /* the endpoint's whsec_ signing secret */
    const char *auth_header;     /* optional name … */
    const char *auth_value;      /* … and value */
    const json_t *extra_headers; /* object of non-secret headers, or NULL */
    const char *body;
    size_t body_len;
    long long timestamp;         /* unix seconds */
};

/* The HTTP/1.1 request text for r to the checked URL u (malloc'd, *len set).
 * Headers that fail webhook_header_name_ok/value_ok are left out. */
char *webhook_request_text(const struct webhook_request *r, const struct cimd_url *u, size_t *len);

struct webhook_result {
    int status;                              /* HTTP status, 0 when none was received */
    char snippet[WEBHOOK_SNIPPET_MAX + 1];   /* start of the response body, printable ASCII */
    char error[256];                         /* why it failed, "" on 2xx */
};

/* POSTs r with the SSRF guard (public addresses and https only, unless
 * allow_private) and the time cap; redirects are answers like any other
 * non-2xx. Returns true on 2xx. */
bool webhook_post(const struct webhook_request *r, bool allow_private, int timeout_ms, struct webhook_result *out);

/* Copies at most WEBHOOK_SNIPPET_MAX bytes of a response body into out,
 * replacing bytes outside printable ASCII (and tab/newline) with '?', so the
 * text is valid in any column and in logs. */
void webhook_snippet(const char *body, size_t n, char out[WEBHOOK_SNIPPET_MAX + 1]);

/* Claims one due delivery (FOR UPDATE SKIP LOCKED, then a lease in
 * locked_at so the HTTP call holds no transaction), delivers it and records
 * the outcome. Returns 1 if one was handled, 0 if none was due, -1 on a
 * database failure. */
int webhook_run_one(struct db *db, const struct jobs_ctx *jc);

#endif
