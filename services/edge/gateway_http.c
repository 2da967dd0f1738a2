/*
 * gateway_http — the /api/v1/data/ routes. See gateway_http.h.
 */
#include "services/edge/gateway_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include "common/log.h"
#include "common/util.h"
#include "proto/envelope.h"
#include "services/edge/edge_http.h"

#define GW_HEADER_VALUE_MAX 4096
#define GW_UNAVAILABLE_RETRY "2"

/* ---- pure parsing ------------------------------------------------------ */

static bool slug_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool record_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool gw_parse_path(const char *path, struct gw_path *out)
{
    memset(out, 0, sizeof *out);
    size_t plen = strlen(GATEWAY_PATH_PREFIX);
    if (!path || strncmp(path, GATEWAY_PATH_PREFIX, plen) != 0)
        return false;
    const char *s = path + plen;
    size_t n = strcspn(s, "/");
    if (n == 0 || n > GW_SLUG_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!slug_char(s[i]))
            return false;
    memcpy(out->slug, s, n);
    out->slug[n] = '\0';
    s += n;
    if (*s == '\0') {
        out->route = GW_ROUTE_COLLECTION;
        return true;
    }
    s++;   /* the '/' */
    if (!strcmp(s, "search")) {
        out->route = GW_ROUTE_SEARCH;
        return true;
    }
    n = strlen(s);
    if (n <= 4 || n > GW_RECORD_ID_MAX || strncmp(s, "rec_", 4) != 0)
        return false;
    for (size_t i = 4; i < n; i++)
        if (!record_char(s[i]))
            return false;
    memcpy(out->record_id, s, n + 1);
    out->route = GW_ROUTE_RECORD;
    return true;
}

const char *gw_allow(enum gw_route route)
{
    switch (route) {
    case GW_ROUTE_COLLECTION: return "GET, POST, OPTIONS";
    case GW_ROUTE_SEARCH: return "GET, OPTIONS";
    case GW_ROUTE_RECORD: return "GET, PUT, DELETE, OPTIONS";
    case GW_ROUTE_NONE: break;
    }
    return "OPTIONS";
}

bool gw_method_allowed(enum gw_route route, enum evhttp_cmd_type method)
{
    switch (route) {
    case GW_ROUTE_COLLECTION: return method == EVHTTP_REQ_GET || method == EVHTTP_REQ_POST;
    case GW_ROUTE_SEARCH: return method == EVHTTP_REQ_GET;
    case GW_ROUTE_RECORD:
        return method == EVHTTP_REQ_GET || method == EVHTTP_REQ_PUT || method == EVHTTP_REQ_DELETE;
    case GW_ROUTE_NONE: break;
    }
    return false;
}

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

const char *gw_bearer_key(const char *authorization, const char **key, size_t *len)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *t = authorization + 7;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n != GW_KEY_LEN)
        return NULL;
    const char *env;
    if (!strncmp(t, "tm_test_", 8))
        env = "sandbox";
    else if (!strncmp(t, "tm_live_", 8))
        env = "production";
    else
        return NULL;
    for (size_t i = 8; i < n; i++)
        if (!b64url_char(t[i]))
            return NULL;
    *key = t;
    *len = n;
    return env;
}

bool gw_content_type_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, "; \t");
    if (n != 16 || strncasecmp(ct, "application/json", 16) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static void set_reject(struct gw_reject *rej, int status, const char *code, const char *message)
{
    rej->status = status;
    rej->code = code;
    snprintf(rej->message, sizeof rej->message, "%s", message);
}

bool gw_check_body(const char *content_type, const char *body, size_t len, struct gw_reject *rej)
{
    if (!gw_content_type_json(content_type)) {
        set_reject(rej, 415, "unsupported_media_type", "Content-Type must be application/json");
        return false;
    }
    if (len > GW_MAX_BODY) {
        set_reject(rej, 413, "payload_too_large", "the request body is larger than 100 KB (102400 bytes)");
        return false;
    }
    json_error_t jerr;
    json_t *doc = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr) : NULL;
    if (!doc) {
        set_reject(rej, 400, "invalid_json", "the request body is not valid JSON (duplicate keys are refused)");
        return false;
    }
    bool object = json_is_object(doc);
    json_decref(doc);
    if (!object) {
        set_reject(rej, 400, "invalid_body", "the request body must be a JSON object");
        return false;
    }
    return true;
}

/* Form-decodes s[0..n) ('+' is a space, %XX a byte) into out (cap bytes,
 * NUL-terminated). False on a bad escape, a NUL byte or overflow. */
static bool form_decode(const char *s, size_t n, char *out, size_t cap, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return false;
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    *outlen = o;
    return true;
}

static const char *const query_names[] = {"q", "from", "to", "cursor", "limit"};

static json_t *empty_query(void)
{
    json_t *q = json_object();
    for (size_t i = 0; i < TM_ARRAY_LEN(query_names); i++)
        json_object_set_new(q, query_names[i], json_null());
    return q;
}

static bool query_fail(struct gw_reject *rej, json_t *q, const char *message)
{
    json_decref(q);
    set_reject(rej, 400, "invalid_query", message);
    return false;
}

bool gw_parse_query(const char *query, json_t **out, struct gw_reject *rej)
{
    *out = NULL;
    json_t *q = empty_query();
    bool seen[TM_ARRAY_LEN(query_names)] = {false};
    const char *s = query ? query : "";
    char value[GW_QUERY_VALUE_MAX + 1];
    char name[16];
    while (*s) {
        size_t seg = strcspn(s, "&");
        const char *eq = memchr(s, '=', seg);
        size_t nlen = eq ? (size_t)(eq - s) : seg;
        if (seg == 0) {   /* "a=1&&b=2" or a trailing '&' */
            s++;
            continue;
        }
        size_t dn, dv;
        if (!form_decode(s, nlen, name, sizeof name, &dn))
            return query_fail(rej, q, "unknown query parameter; allowed: q, from, to, cursor, limit");
        size_t idx = TM_ARRAY_LEN(query_names);
        for (size_t i = 0; i < TM_ARRAY_LEN(query_names); i++)
            if (!strcmp(name, query_names[i]))
                idx = i;
        if (idx == TM_ARRAY_LEN(query_names))
            return query_fail(rej, q, "unknown query parameter; allowed: q, from, to, cursor, limit");
        if (seen[idx])
            return query_fail(rej, q, "a query parameter is repeated");
        seen[idx] = true;
        const char *v = eq ? eq + 1 : s + seg;
        size_t vlen = eq ? seg - nlen - 1 : 0;
        if (!form_decode(v, vlen, value, sizeof value, &dv))
            return query_fail(rej, q, "a query parameter is too long or badly %-encoded");
        if (idx == 4) {
            /* limit: 1..30, digits only (no sign, no spaces). */
            long n = 0;
            bool ok = dv >= 1 && dv <= 2;
            for (size_t i = 0; ok && i < dv; i++) {
                ok = value[i] >= '0' && value[i] <= '9';
                n = n * 10 + (value[i] - '0');
            }
            if (!ok || n < 1 || n > GW_LIMIT_MAX)
                return query_fail(rej, q, "limit must be an integer from 1 to 30");
            json_object_set_new(q, "limit", json_integer(n));
        } else {
            json_t *str = json_stringn(value, dv);   /* NULL unless valid UTF-8 */
            if (!str)
                return query_fail(rej, q, "a query parameter is not valid UTF-8");
            json_object_set_new(q, query_names[idx], str);
        }
        s += seg;
        if (*s == '&')
            s++;
    }
    *out = q;
    return true;
}

static bool token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool header_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!token_char(s[i]))
            return false;
    return true;
}

/* Printable ASCII (and tab inside): nothing that could split a header line. */
static bool header_value_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c > 0x7e)
            return false;
    }
    return true;
}

bool gw_parse_webhook(const char *callback, const char *auth, const char *auth_header, json_t **out,
                      struct gw_reject *rej)
{
    *out = NULL;
    if (!callback && !auth && !auth_header)
        return true;
    if (!callback || !*callback) {
        set_reject(rej, 400, "invalid_webhook", "X-Webhook-Auth and X-Webhook-Auth-Header need X-Webhook-Callback");
        return false;
    }
    if (!header_value_ok(callback, GW_WEBHOOK_URL_MAX) || strchr(callback, ' ') || strchr(callback, '\t')) {
        set_reject(rej, 400, "invalid_webhook", "X-Webhook-Callback must be a URL of at most 2048 characters");
        return false;
    }
    if (auth && !header_value_ok(auth, GW_WEBHOOK_AUTH_MAX)) {
        set_reject(rej, 400, "invalid_webhook", "X-Webhook-Auth must be printable text of at most 1024 characters");
        return false;
    }
    if (auth_header && !header_name_ok(auth_header, GW_WEBHOOK_HEADER_MAX)) {
        set_reject(rej, 400, "invalid_webhook", "X-Webhook-Auth-Header must be an HTTP header name");
        return false;
    }
    *out = json_pack("{s:s,s:s?,s:s?}", "url", callback, "auth", auth, "auth_header", auth_header);
    return true;
}

bool gw_parse_result(const char *json, size_t len, int *status, json_t **headers, char **body_text)
{
    *headers = NULL;
    *body_text = NULL;
    json_t *r = json ? json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *st = json_object_get(r, "status");
    json_t *h = json_object_get(r, "headers");
    json_t *b = json_object_get(r, "body");
    bool ok = json_is_integer(st) && json_integer_value(st) >= 100 && json_integer_value(st) <= 599 &&
              (!h || json_is_null(h) || json_is_object(h)) && json_is_object(b);
    const char *name;
    json_t *v;
    if (ok && json_is_object(h)) {
        json_object_foreach(h, name, v) {
            if (!json_is_string(v) || !header_name_ok(name, 128) ||
                !header_value_ok(json_string_value(v), GW_HEADER_VALUE_MAX)) {
                ok = false;
                break;
            }
        }
    }
    if (ok) {
        *status = (int)json_integer_value(st);
        *headers = json_is_object(h) ? json_incref(h) : json_object();
        *body_text = json_dumps(b, JSON_COMPACT);
    }
    json_decref(r);
    return ok;
}

/* ---- HTTP -------------------------------------------------------------- */

struct gw_call {
    struct edge *e;
    struct evhttp_request *req;
    bool throttled;
    int retry_after;   /* seconds, when throttled */
};

static void add_cors(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    evhttp_add_header(h, "Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate");
}

/* The same error shape as the worker's answers (docs/GATEWAY.md, "Answers"),
 * so a client reads error.code whichever side refused. */
static void reply_error(struct edge *e, struct evhttp_request *req, int status, const char *code,
                        const char *message)
{
    add_cors(req);
    json_t *b = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    http_reply_json(e, req, status, b);
    json_decref(b);
}

static void reply_unavailable(struct edge *e, struct evhttp_request *req)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", GW_UNAVAILABLE_RETRY);
    reply_error(e, req, 503, "unavailable", "The gateway is temporarily unavailable; retry in a few seconds");
}

static void reply_preflight(struct edge *e, struct evhttp_request *req, enum gw_route route)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    add_cors(req);
    evhttp_add_header(h, "Access-Control-Allow-Methods", gw_allow(route));
    evhttp_add_header(h, "Access-Control-Allow-Headers",
                      "Authorization, Content-Type, X-Webhook-Callback, X-Webhook-Auth, X-Webhook-Auth-Header");
    evhttp_add_header(h, "Access-Control-Max-Age", "86400");
    http_reply(e, req, 204, NULL, NULL, 0);
}

/* Occurrences of a request header: a repeated credential or webhook header is
 * ambiguous (which one would a proxy in front have checked?), so it is refused. */
static int header_count(struct evhttp_request *req, const char *name)
{
    int n = 0;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
        if (!strcasecmp(kv->key, name))
            n++;
    return n;
}

/* The value of a header that must appear at most once; *dup set when repeated. */
static const char *single_header(struct evhttp_request *req, const char *name, bool *dup)
{
    if (header_count(req, name) > 1) {
        *dup = true;
        return NULL;
    }
    return http_header(req, name);
}

static bool reserved_header(const char *name)
{
    static const char *const reserved[] = {"Content-Type", "Content-Length", "Transfer-Encoding", "Connection",
                                           "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
                                           "Cache-Control", "X-Content-Type-Options", "Set-Cookie"};
    for (size_t i = 0; i < TM_ARRAY_LEN(reserved); i++)
        if (!strcasecmp(name, reserved[i]))
            return true;
    return false;
}

static void on_reply(void *arg, enum dispatch_status status, const struct env_response *resp)
{
    struct gw_call *c = arg;
    struct edge *e = c->e;
    struct evhttp_request *req = c->req;
    if (status != DISPATCH_OK) {
        log_warn("gateway.call: %s", dispatch_status_text(status));
        reply_unavailable(e, req);
        free(c);
        return;
    }
    if (!resp->ok) {
        log_warn("gateway.call failed: %s: %s", tm_error_name(resp->code), resp->message ? resp->message : "");
        if (resp->code == TM_ERR_UNAVAILABLE)
            reply_unavailable(e, req);
        else
            reply_error(e, req, 500, "internal", "The gateway could not complete this request");
        free(c);
        return;
    }
    int code;
    json_t *headers;
    char *body;
    if (!gw_parse_result(resp->result, resp->result_len, &code, &headers, &body)) {
        log_error("gateway.call: the worker's result is not {status, headers, body}");
        reply_error(e, req, 500, "internal", "The gateway could not complete this request");
        free(c);
        return;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    bool has_retry = false, has_challenge = false;
    const char *name;
    json_t *v;
    json_object_foreach(headers, name, v) {
        if (reserved_header(name))
            continue;
        /* The edge's bucket knows when this key gets its next token; the
         * worker only knows that it was throttled. */
        if (code == 429 && c->throttled && !strcasecmp(name, "Retry-After"))
            continue;
        has_retry |= !strcasecmp(name, "Retry-After");
        has_challenge |= !strcasecmp(name, "WWW-Authenticate");
        evhttp_add_header(out, name, json_string_value(v));
    }
    if (code == 429 && !has_retry) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", c->throttled && c->retry_after > 0 ? c->retry_after : 1);
        evhttp_add_header(out, "Retry-After", ra);
    }
    if (code == 401 && !has_challenge)
        evhttp_add_header(out, "WWW-Authenticate", "Bearer");
    add_cors(req);
    http_reply(e, req, code, "application/json", body, strlen(body));
    free(body);
    json_decref(headers);
    free(c);
}

static const char *method_text(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    default: return "OTHER";
    }
}

/* The raw query string of the request target, or "" (into buf). */
static void raw_query(struct evhttp_request *req, char *buf, size_t cap)
{
    buf[0] = '\0';
    const char *uri = evhttp_request_get_uri(req);
    const char *q = uri ? strchr(uri, '?') : NULL;
    if (!q)
        return;
    q++;
    size_t n = strcspn(q, "#");
    if (n >= cap)
        n = cap - 1;   /* longer than the header limit allows; the parse then fails on its own terms */
    memcpy(buf, q, n);
    buf[n] = '\0';
}

void gateway_http_handle(struct edge *e, struct evhttp_request *req, const char *path)
{
    struct gw_path p;
    if (!gw_parse_path(path, &p)) {
        reply_error(e, req, 404, "not_found", "No such gateway path: use /api/v1/data/{slug}[/{record_id}|/search]");
        return;
    }
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method == EVHTTP_REQ_OPTIONS) {
        reply_preflight(e, req, p.route);
        return;
    }
    if (!gw_method_allowed(p.route, method)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", gw_allow(p.route));
        reply_error(e, req, 405, "method_not_allowed", "This method is not allowed on this path; see Allow");
        return;
    }
    bool dup = false;
    const char *authz = single_header(req, "Authorization", &dup);
    const char *key;
    size_t klen;
    const char *env = gw_bearer_key(authz, &key, &klen);
    if (!env) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        reply_error(e, req, 401, "invalid_api_key",
                    "Send the endpoint's API key as Authorization: Bearer tm_test_... (sandbox) or tm_live_... "
                    "(production)");
        return;
    }
    uint8_t hash[32];
    char hex[65];
    sha256(key, klen, hash);
    hex_encode(hash, 32, hex);

    struct gw_call *c = xcalloc(1, sizeof *c);
    c->e = e;
    c->req = req;
    c->throttled = !ratelimit_take(e->gateway_limits, hex, mono_ms(), &c->retry_after);

    struct gw_reject rej = {0};
    json_t *body = json_null();
    bool write = method == EVHTTP_REQ_POST || method == EVHTTP_REQ_PUT;
    if (write) {
        dup = false;
        const char *ct = single_header(req, "Content-Type", &dup);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        /* Over the limit the body is neither parsed nor forwarded. */
        const char *data = len <= GW_MAX_BODY ? (const char *)evbuffer_pullup(in, -1) : NULL;
        gw_check_body(ct, data, len, &rej);
        if (data && len && !memchr(data, '\0', len)) {
            json_decref(body);
            body = json_stringn(data, len);   /* NULL if not UTF-8: sent as null */
            if (!body)
                body = json_null();
        }
    }
    json_t *query = NULL;
    if (method == EVHTTP_REQ_GET) {
        char qs[EDGE_MAX_HEADERS];
        raw_query(req, qs, sizeof qs);
        struct gw_reject qrej = {0};
        if (!gw_parse_query(qs, &query, &qrej) && !rej.status)
            rej = qrej;
    }
    if (!query)
        query = empty_query();
    json_t *webhook = NULL;
    if (method != EVHTTP_REQ_GET) {
        bool d1 = false, d2 = false, d3 = false;
        const char *cb = single_header(req, "X-Webhook-Callback", &d1);
        const char *auth = single_header(req, "X-Webhook-Auth", &d2);
        const char *ah = single_header(req, "X-Webhook-Auth-Header", &d3);
        struct gw_reject wrej = {0};
        if (d1 || d2 || d3)
            set_reject(&wrej, 400, "invalid_webhook", "a webhook header is repeated");
        else
            gw_parse_webhook(cb, auth, ah, &webhook, &wrej);
        if (wrej.status && !rej.status)
            rej = wrej;
    }

    char ip[64];
    http_client_ip(req, ip, sizeof ip);

    json_t *reject = rej.status ? json_pack("{s:i,s:s,s:s}", "status", rej.status, "code", rej.code, "message",
                                            rej.message)
                                : json_null();
    json_t *args = json_pack("{s:s,s:s,s:s?,s:s,s:s,s:o,s:o,s:o,s:b,s:s,s:o}", "method", method_text(method),
                             "slug", p.slug, "record_id", p.route == GW_ROUTE_RECORD ? p.record_id : NULL,
                             "key_hash", hex, "environment", env, "query", query, "body", body, "reject", reject,
                             "throttled", c->throttled, "ip", ip, "webhook", webhook ? webhook : json_null());
    /* GET /{slug} and GET /{slug}/search differ only in the path. */
    json_object_set_new(args, "search", json_boolean(p.route == GW_ROUTE_SEARCH));
    struct env_request r = {.op = ENV_OP_GATEWAY};
    strcpy(r.name, "gateway.call");
    r.who.kind = PRINCIPAL_ANON;
    r.args = json_dumps(args, JSON_COMPACT);
    r.args_len = strlen(r.args);
    json_decref(args);
    dispatch_submit(e->dispatch, &r, on_reply, c);
    free(r.args);
}
