/*
 * webhook — webhook deliveries (webhook.h).
 *
 * Choices:
 * - A delivery is claimed in a short statement (FOR UPDATE SKIP LOCKED,
 *   then locked_at = now() as a lease) and the POST runs with no transaction
 *   open: a slow receiver holds a thread for at most 10 s but never a row
 *   lock or a snapshot. A process that dies mid-delivery leaves the lease,
 *   which another takes over after WEBHOOK_LEASE_S; the receiver may then
 *   see the same X-3MinAPI-Delivery twice, which is what that id is for.
 * - The outcome update checks the lease it took (locked_at), so a process
 *   that overran its lease cannot overwrite a newer attempt's result.
 * - Secrets (signing secret, auth value) are opened from the keybox only for
 *   the attempt and never logged; the log line names the delivery, the host
 *   and the outcome.
 * - The body is sent exactly as stored: the signature covers those bytes.
 */
#include "services/jobs/webhook.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"
#include "common/notify_rules.h"
#include "common/outbound.h"
#include "common/util.h"

#define RESPONSE_BODY_MAX 65536
#define RESPONSE_MAX (8192 + RESPONSE_BODY_MAX + 2048)
#define USER_AGENT "3MinAPI-Webhooks/1.0"

/* ---- pure parts ----------------------------------------------------------- */

int jobs_parse_schedule(const char *s, int *out, int cap)
{
    if (!s)
        return -1;
    int n = 0;
    const char *p = s;
    for (;;) {
        while (*p == ' ')
            p++;
        const char *d = p;
        while (*p >= '0' && *p <= '9')
            p++;
        size_t dl = (size_t)(p - d);
        if (dl == 0 || dl > 6 || n == cap)
            return -1;
        char num[8];
        memcpy(num, d, dl);
        num[dl] = '\0';
        long long v;
        if (!parse_int(num, 1, 604800, &v))
            return -1;
        out[n++] = (int)v;
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return n;
        if (*p != ',')
            return -1;
        p++;
    }
}

void webhook_sign(const char *secret, const char *timestamp, const char *body, size_t body_len,
                  char out[WEBHOOK_SIG_LEN + 1])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)timestamp, strlen(timestamp));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "v1=", 3);
    hex_encode(mac, sizeof mac, out + 3);
    sodium_memzero(&st, sizeof st);
}

bool webhook_url_check(const char *url, bool allow_http, struct cimd_url *out, char *why, size_t cap)
{
    if (!url || !*url || strnlen(url, WEBHOOK_URL_MAX + 1) > WEBHOOK_URL_MAX) {
        snprintf(why, cap, "the webhook URL is empty or longer than %d bytes", WEBHOOK_URL_MAX);
        return false;
    }
    if (!cimd_url_split(url, out, why, cap))
        return false;
    if (!out->https && !allow_http) {
        snprintf(why, cap, "the webhook URL must use https");
        return false;
    }
    return true;
}

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c);
}

bool webhook_header_name_ok(const char *name)
{
    static const char *const ours[] = {"host", "content-type", "content-length", "connection", "user-agent",
                                       "transfer-encoding", "x-3minapi-delivery", "x-3minapi-timestamp",
                                       "x-3minapi-signature", "te", "upgrade", "expect", "trailer"};
    size_t n = name ? strnlen(name, 101) : 0;
    if (n == 0 || n > 100)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)name[i]))
            return false;
    for (size_t i = 0; i < TM_ARRAY_LEN(ours); i++)
        if (!strcasecmp(name, ours[i]))
            return false;
    return true;
}

bool webhook_header_value_ok(const char *value)
{
    if (!value || strnlen(value, 4097) > 4096)
        return false;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

char *webhook_request_text(const struct webhook_request *r, const struct cimd_url *u, size_t *len)
{
    /* The Host header: brackets for an IPv6 literal, the port when not the default. */
    bool v6 = strchr(u->host, ':') != NULL;
    bool default_port = !strcmp(u->port, u->https ? "443" : "80");
    char host[300];
    snprintf(host, sizeof host, "%s%s%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "", default_port ? "" : ":",
             default_port ? "" : u->port);
    char ts[24], sig[WEBHOOK_SIG_LEN + 1];
    snprintf(ts, sizeof ts, "%lld", r->timestamp);
    webhook_sign(r->secret, ts, r->body, r->body_len, sig);

    char *extra = xstrdup("");
    if (r->auth_header && r->auth_value && webhook_header_name_ok(r->auth_header) &&
        webhook_header_value_ok(r->auth_value)) {
        char *e = xasprintf("%s%s: %s\r\n", extra, r->auth_header, r->auth_value);
        free(extra);
        extra = e;
    }
    if (json_is_object(r->extra_headers)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)r->extra_headers, k, v) {
            const char *sv = json_string_value(v);
            if (!sv || !webhook_header_name_ok(k) || !webhook_header_value_ok(sv) ||
                (r->auth_header && !strcasecmp(k, r->auth_header)))
                continue;
            char *e = xasprintf("%s%s: %s\r\n", extra, k, sv);
            free(extra);
            extra = e;
        }
    }
    char *head = xasprintf("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " USER_AGENT "\r\n"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n"
                           "X-3MinAPI-Delivery: %s\r\nX-3MinAPI-Timestamp: %s\r\nX-3MinAPI-Signature: %s\r\n"
                           "%s\r\n",
                           *u->target ? u->target : "/", host, r->body_len, r->delivery_id, ts, sig, extra);
    secret_free(extra);   /* it may hold the auth value */
    size_t hl = strlen(head);
    char *req = xmalloc(hl + r->body_len + 1);
    memcpy(req, head, hl);
    memcpy(req + hl, r->body, r->body_len);
    req[hl + r->body_len] = '\0';
    sodium_memzero(head, hl);
    free(head);
    *len = hl + r->body_len;
    return req;
}

void webhook_snippet(const char *body, size_t n, char out[WEBHOOK_SNIPPET_MAX + 1])
{
    if (n > WEBHOOK_SNIPPET_MAX)
        n = WEBHOOK_SNIPPET_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)body[i];
        out[i] = (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' ? (char)c : '?';
    }
    out[n] = '\0';
}

/* The status code of a response whose full parse failed (a body over our
 * cap, say): "HTTP/1.x NNN" at the start. 0 if not even that. */
static int status_line(const char *buf, size_t n)
{
    if (n < 12 || memcmp(buf, "HTTP/1.", 7) || buf[8] != ' ')
        return 0;
    int s = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return 0;
        s = s * 10 + (buf[i] - '0');
    }
    return s >= 100 ? s : 0;
}

bool webhook_post(const struct webhook_request *r, bool allow_private, int timeout_ms, struct webhook_result *out)
{
    memset(out, 0, sizeof *out);
    int64_t deadline = mono_ms() + timeout_ms;
    struct cimd_url u;
    if (!webhook_url_check(r->url, allow_private, &u, out->error, sizeof out->error))
        return false;
    struct outbound_target t = {.host = u.host, .host_is_ip = u.host_is_ip, .port = u.port, .tls = u.https,
                                .allow_private = allow_private, .plain_loopback_only = false,
                                .label = "the webhook host"};
    struct outbound_conn c;
    if (!outbound_open(&c, &t, deadline, out->error, sizeof out->error))
        return false;

    size_t rlen;
    char *req = webhook_request_text(r, &u, &rlen);
    int w = outbound_write(&c, req, rlen, deadline);
    sodium_memzero(req, rlen);
    free(req);
    if (w != 0) {
        snprintf(out->error, sizeof out->error, "sending the request failed or timed out");
        outbound_close(&c);
        return false;
    }

    char *buf = xmalloc(RESPONSE_MAX);
    size_t len = 0;
    struct cimd_http h = {0};
    enum cimd_http_result pr = CIMD_HTTP_INCOMPLETE;
    char why[160] = "";
    for (;;) {
        ssize_t n = outbound_read(&c, buf + len, RESPONSE_MAX - len, deadline);
        if (n < 0)
            break;
        len += (size_t)n;
        pr = cimd_http_parse(buf, len, n == 0, RESPONSE_BODY_MAX, &h, why, sizeof why);
        if (pr != CIMD_HTTP_INCOMPLETE || n == 0 || len == RESPONSE_MAX)
            break;
    }
    outbound_close(&c);

    if (pr == CIMD_HTTP_OK) {
        out->status = h.status;
        webhook_snippet(h.body, h.body_len, out->snippet);
        cimd_http_free(&h);
    } else {
        /* No complete answer: keep what the status line says, and the raw
         * bytes after the headers as the snippet. */
        out->status = status_line(buf, len);
        const char *end = len ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
        if (end)
            webhook_snippet(end + 4, len - (size_t)(end + 4 - buf), out->snippet);
        if (out->status == 0)
            snprintf(out->error, sizeof out->error, "%s",
                     len == 0 ? (outbound_remaining(deadline) > 0 ? "the webhook host closed without answering"
                                                                  : "no answer within the time limit")
                              : "the answer was not a valid HTTP response");
    }
    free(buf);
    if (out->status >= 200 && out->status < 300) {
        out->error[0] = '\0';
        return true;
    }
    if (out->status && !out->error[0])
        snprintf(out->error, sizeof out->error, "HTTP %d%s", out->status,
                 out->status >= 300 && out->status < 400 ? " (redirects are not followed)" : "");
    return false;
}

/* ---- the outbox ----------------------------------------------------------- */

static const char SQL_CLAIM[] =
    "UPDATE webhook_deliveries d SET locked_at = clock_timestamp()"
    " WHERE d.id = (SELECT id FROM webhook_deliveries"
    "                WHERE status = 'pending' AND next_attempt_at <= now()"
    "                  AND (locked_at IS NULL OR locked_at < now() - make_interval(secs => $1::int))"
    "                ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " RETURNING d.id, d.account_id, d.endpoint_id, d.environment, d.url, d.auth_header_name, d.auth_value_enc,"
    "           d.secret_enc, d.headers::text, d.body, d.attempt, d.locked_at::text";

static const char SQL_DONE[] =
    "UPDATE webhook_deliveries SET status = $2, attempt = attempt + 1, response_status = $3::int,"
    " response_snippet = $4, last_error = $5, locked_at = NULL,"
    " delivered_at = CASE WHEN $2 = 'delivered' THEN now() END"
    " WHERE id = $1 AND locked_at = $6::timestamptz"
    " RETURNING call_log_id, call_log_created_at::text";

static const char SQL_RETRY[] =
    "UPDATE webhook_deliveries SET attempt = attempt + 1, response_status = $2::int, response_snippet = $3,"
    " last_error = $4, next_attempt_at = now() + make_interval(secs => $5::int), locked_at = NULL"
    " WHERE id = $1 AND locked_at = $6::timestamptz";

static const char SQL_LOG_STATUS[] =
    "UPDATE call_logs SET webhook_status = $3 WHERE id = $1 AND created_at = $2::timestamptz";

static const char SQL_ENDPOINT[] = "SELECT name, slug FROM endpoints WHERE id = $1";

/* Queues an e-mail when an enabled rule of the account asks for this event
 * (for this endpoint or every endpoint) and the (account, event, endpoint)
 * key is not cooling down; the cool-down row is taken in the same statement,
 * so concurrent failures queue one message. */
static const char SQL_NOTIFY[] =
    "WITH rule AS (SELECT 1 WHERE " NOTIFY_RULE_ENABLED("$1::uuid", "$2::uuid", "$3::text") "),"
    " cool AS (INSERT INTO notify_cooldowns (account_id, key, until)"
    "          SELECT $1, $3 || ':' || $2, now() + make_interval(secs => $4::int) WHERE EXISTS (SELECT 1 FROM rule)"
    "          ON CONFLICT (account_id, key) DO UPDATE SET until = EXCLUDED.until"
    "             WHERE notify_cooldowns.until <= now()"
    "          RETURNING 1)"
    " INSERT INTO notifications (account_id, endpoint_id, kind, subject, body)"
    " SELECT $1, $2, $3, $5, $6 WHERE EXISTS (SELECT 1 FROM cool)";

static bool ok_result(PGresult *res, ExecStatusType want, const char *what)
{
    if (res && PQresultStatus(res) == want)
        return true;
    if (res)
        log_error("webhooks: %s failed: %s", what, PQresultErrorMessage(res));
    return false;
}

/* Opens an encrypted bytea column (text form); NULL when absent or unreadable. */
static char *open_secret(const struct jobs_ctx *jc, PGresult *res, int col)
{
    if (PQgetisnull(res, 0, col))
        return NULL;
    size_t n = 0;
    uint8_t *box = keybox_bytea_parse(PQgetvalue(res, 0, col), &n);
    if (!box)
        return NULL;
    char *s = keybox_open(&jc->keys, box, n);
    free(box);
    return s;
}

static void free_secret(char *s)
{
    if (s) {
        secret_free(s);
    }
}

/* Marks the delivery failed for good, the call log too, and queues the
 * webhook_failed e-mail if asked for. One transaction. */
static int finish_failed(struct db *db, const struct jobs_ctx *jc, const char *id, const char *account,
                         const char *endpoint, const char *env, const char *host, int attempts,
                         const char *status, const struct webhook_result *wr, const char *lease)
{
    if (!db_exec(db, "BEGIN"))
        return -1;
    const char *p[6] = {id, "failed", status, wr->snippet, wr->error, lease};
    PGresult *res = db_query(db, SQL_DONE, 6, p);
    if (!ok_result(res, PGRES_TUPLES_OK, "recording a failed delivery")) {
        PQclear(res);
        db_exec(db, "ROLLBACK");
        return -1;
    }
    if (PQntuples(res) == 0) {   /* the lease went to another process meanwhile */
        PQclear(res);
        db_exec(db, "ROLLBACK");
        return 1;
    }
    const char *lp[3] = {PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), "failed"};
    PGresult *r2 = db_query(db, SQL_LOG_STATUS, 3, lp);
    PQclear(res);
    bool ok = ok_result(r2, PGRES_COMMAND_OK, "setting the call log's webhook status");
    PQclear(r2);

    if (ok) {
        const char *ep[1] = {endpoint};
        PGresult *er = db_query(db, SQL_ENDPOINT, 1, ep);
        ok = ok_result(er, PGRES_TUPLES_OK, "reading the endpoint");
        if (ok) {
            const char *name = PQntuples(er) ? PQgetvalue(er, 0, 0) : "(deleted endpoint)";
            const char *slug = PQntuples(er) ? PQgetvalue(er, 0, 1) : "";
            char *subject = xasprintf("Webhook deliveries failing for %s", name);
            char *body = xasprintf(
                "A webhook of your endpoint \"%s\" (%s, %s) could not be delivered to %s after %d attempts.\n\n"
                "Last error: %s\n"
                "Delivery id: %s\n\n"
                "The call itself succeeded and its record is stored; only the notification to your URL failed.\n"
                "Look the call up with logs_lookup to see the answer of your server.\n\n"
                "Further failures of this endpoint's webhooks are not mailed for %d minutes.\n",
                name, slug, env, host, attempts, wr->error[0] ? wr->error : "no answer", id,
                jc->cfg->notify_cooldown_s / 60);
            char cool[16];
            snprintf(cool, sizeof cool, "%d", jc->cfg->notify_cooldown_s);
            const char *np[6] = {account, endpoint, "webhook_failed", cool, subject, body};
            PGresult *nr = db_query(db, SQL_NOTIFY, 6, np);
            ok = ok_result(nr, PGRES_COMMAND_OK, "queueing the webhook_failed notification");
            if (ok && atoi(PQcmdTuples(nr)) > 0)
                log_info("webhook %s: queued a webhook_failed notification", id);
            PQclear(nr);
            free(subject);
            free(body);
        }
        PQclear(er);
    }
    if (!ok || !db_exec(db, "COMMIT")) {
        db_exec(db, "ROLLBACK");
        return -1;
    }
    return 1;
}

int webhook_run_one(struct db *db, const struct jobs_ctx *jc)
{
    char lease_s[16];
    snprintf(lease_s, sizeof lease_s, "%d", WEBHOOK_LEASE_S);
    const char *cp[1] = {lease_s};
    PGresult *res = db_query(db, SQL_CLAIM, 1, cp);
    if (!ok_result(res, PGRES_TUPLES_OK, "claiming a delivery")) {
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    char *id = xstrdup(PQgetvalue(res, 0, 0));
    char *account = xstrdup(PQgetvalue(res, 0, 1));
    char *endpoint = xstrdup(PQgetvalue(res, 0, 2));
    char *env = xstrdup(PQgetvalue(res, 0, 3));
    char *url = xstrdup(PQgetvalue(res, 0, 4));
    char *auth_name = PQgetisnull(res, 0, 5) ? NULL : xstrdup(PQgetvalue(res, 0, 5));
    char *auth_value = open_secret(jc, res, 6);
    char *secret = open_secret(jc, res, 7);
    json_t *headers = json_loads(PQgetvalue(res, 0, 8), 0, NULL);
    char *body = xstrdup(PQgetvalue(res, 0, 9));
    size_t body_len = (size_t)PQgetlength(res, 0, 9);
    int attempt = atoi(PQgetvalue(res, 0, 10)) + 1;   /* this one */
    char *lease = xstrdup(PQgetvalue(res, 0, 11));
    PQclear(res);

    struct cimd_url u;
    char host[300] = "?";
    char why[160];
    if (webhook_url_check(url, true, &u, why, sizeof why))
        snprintf(host, sizeof host, "%s:%s", u.host, u.port);

    struct webhook_result wr;
    bool delivered = false;
    int64_t t0 = mono_ms();
    if (!secret) {
        memset(&wr, 0, sizeof wr);
        snprintf(wr.error, sizeof wr.error, "the signing secret cannot be opened (is KEYS_SECRET_FILE the same "
                                            "as the workers'?)");
    } else if (auth_name && !auth_value) {
        memset(&wr, 0, sizeof wr);
        snprintf(wr.error, sizeof wr.error, "the webhook auth value cannot be opened");
    } else {
        struct webhook_request rq = {.url = url, .delivery_id = id, .secret = secret, .auth_header = auth_name,
                                     .auth_value = auth_value, .extra_headers = headers, .body = body,
                                     .body_len = body_len, .timestamp = (long long)time(NULL)};
        delivered = webhook_post(&rq, jc->cfg->allow_private_webhooks, WEBHOOK_TIMEOUT_MS, &wr);
    }
    free_secret(secret);
    free_secret(auth_value);
    json_decref(headers);

    char status[16];
    snprintf(status, sizeof status, "%d", wr.status);
    const char *status_p = wr.status ? status : NULL;
    bool last = attempt > jc->nschedule;
    log_info("webhook %s attempt %d to %s: %s%s%s (%lld ms)%s", id, attempt, host,
             delivered ? "delivered" : "failed", delivered ? "" : ": ", delivered ? "" : wr.error,
             (long long)(mono_ms() - t0), delivered || !last ? "" : "; no retries left");

    int rc;
    if (delivered) {
        rc = -1;
        if (db_exec(db, "BEGIN")) {
            const char *p[6] = {id, "delivered", status_p, wr.snippet, NULL, lease};
            PGresult *r1 = db_query(db, SQL_DONE, 6, p);
            bool ok = ok_result(r1, PGRES_TUPLES_OK, "recording a delivery");
            if (ok && PQntuples(r1) == 1) {
                const char *lp[3] = {PQgetvalue(r1, 0, 0), PQgetvalue(r1, 0, 1), "delivered"};
                PGresult *r2 = db_query(db, SQL_LOG_STATUS, 3, lp);
                ok = ok_result(r2, PGRES_COMMAND_OK, "setting the call log's webhook status");
                PQclear(r2);
            }
            PQclear(r1);
            if (ok && db_exec(db, "COMMIT"))
                rc = 1;
            else
                db_exec(db, "ROLLBACK");
        }
    } else if (!last) {
        char delay[16];
        snprintf(delay, sizeof delay, "%d", jc->schedule[attempt - 1]);
        const char *p[6] = {id, status_p, wr.snippet, wr.error, delay, lease};
        PGresult *r = db_query(db, SQL_RETRY, 6, p);
        rc = ok_result(r, PGRES_COMMAND_OK, "scheduling a retry") ? 1 : -1;
        PQclear(r);
    } else {
        rc = finish_failed(db, jc, id, account, endpoint, env, host, attempt, status_p, &wr, lease);
    }
    free(id);
    free(account);
    free(endpoint);
    free(env);
    free(url);
    free(auth_name);
    free(body);
    free(lease);
    return rc;
}
