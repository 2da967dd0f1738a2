/*
 * mcp_transport — HTTP handling of /api/mcp. See mcp_transport.h.
 */
#include "services/edge/mcp_transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "services/edge/edge_auth.h"
#include "services/edge/edge_http.h"
#include "services/edge/mcp_methods.h"

static void call_free(struct mcp_call *c)
{
    json_decref(c->body);
    free(c);
}

static void add_challenge(struct mcp_call *c, const char *error, const char *description)
{
    char buf[1024];
    const struct config *cfg = c->e->cfg;
    if (error)
        snprintf(buf, sizeof buf,
                 "Bearer error=\"%s\", error_description=\"%s\", resource_metadata=\"%s/.well-known/"
                 "oauth-protected-resource/api/mcp\", scope=\"read write execute\"",
                 error, description, cfg->public_url);
    else
        snprintf(buf, sizeof buf,
                 "Bearer resource_metadata=\"%s/.well-known/oauth-protected-resource/api/mcp\", "
                 "scope=\"read write execute\"",
                 cfg->public_url);
    evhttp_add_header(evhttp_request_get_output_headers(c->req), "WWW-Authenticate", buf);
}

static void reply_json(struct mcp_call *c, int status, json_t *body)
{
    http_add_cors(c->e, c->req);
    http_reply_json(c->e, c->req, status, body);
    json_decref(body);
    call_free(c);
}

static void reply_oauth_error(struct mcp_call *c, int status, const char *code, const char *description)
{
    reply_json(c, status, json_pack("{s:s,s:s}", "error", code, "error_description", description));
}

void mcp_call_reply_result(struct mcp_call *c, json_t *result)
{
    if (c->m.era == MCP_ERA_MODERN && !json_object_get(result, "resultType"))
        json_object_set_new(result, "resultType", json_string("complete"));
    reply_json(c, 200, mcp_result(c->m.id, result));
}

void mcp_call_reply_raw_result(struct mcp_call *c, const char *result_json, size_t len)
{
    char *id = json_dumps(c->m.id, JSON_ENCODE_ANY | JSON_COMPACT);
    size_t idlen = strlen(id);
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    static const char mid[] = ",\"result\":";
    size_t total = sizeof head - 1 + idlen + sizeof mid - 1 + len + 1;
    char *buf = xmalloc(total);
    char *p = buf;
    memcpy(p, head, sizeof head - 1), p += sizeof head - 1;
    memcpy(p, id, idlen), p += idlen;
    memcpy(p, mid, sizeof mid - 1), p += sizeof mid - 1;
    memcpy(p, result_json, len), p += len;
    *p = '}';
    http_add_cors(c->e, c->req);
    http_reply(c->e, c->req, 200, "application/json", buf, total);
    free(buf);
    free(id);
    call_free(c);
}

void mcp_call_reply_error(struct mcp_call *c, int code, const char *message, json_t *data)
{
    reply_json(c, mcp_error_status(c->m.era, code), mcp_error_response(c->m.id, code, message, data));
}

void mcp_call_reply_insufficient_scope(struct mcp_call *c, uint32_t needed)
{
    char need[64], granted[64], all[96], desc[256];
    scopes_format(needed, need, sizeof need);
    /* Legacy clients expect the challenge to list what they already hold too
     * (MCP.md §5.2); modern ones only what is needed now. */
    scopes_format(c->m.era == MCP_ERA_MODERN ? needed : (needed | c->who.scopes), all, sizeof all);
    scopes_format(c->who.scopes, granted, sizeof granted);
    snprintf(desc, sizeof desc, "this call needs the %s scope; the credential has: %s", need,
             c->who.scopes ? granted : "none");
    char hdr[1024];
    snprintf(hdr, sizeof hdr,
             "Bearer error=\"insufficient_scope\", scope=\"%s\", resource_metadata=\"%s/.well-known/"
             "oauth-protected-resource/api/mcp\", error_description=\"%s\"",
             all, c->e->cfg->public_url, desc);
    evhttp_add_header(evhttp_request_get_output_headers(c->req), "WWW-Authenticate", hdr);
    reply_oauth_error(c, 403, "insufficient_scope", desc);
}

/* application/json, optionally with parameters. */
static bool content_type_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; ");
    return n == 16 && !strncasecmp(ct, "application/json", 16);
}

/* Lenient Accept (MCP.md §2.2): absent, or naming JSON, SSE or a wildcard. */
static bool accept_ok(const char *accept)
{
    if (!accept || !*accept)
        return true;
    return strcasestr(accept, "application/json") || strcasestr(accept, "text/event-stream") ||
           strcasestr(accept, "*/*") || strcasestr(accept, "application/*");
}

static void handle_post(struct mcp_call *c)
{
    struct evhttp_request *req = c->req;
    if (!content_type_json(http_header(req, "Content-Type"))) {
        reply_json(c, 415, mcp_error_response(NULL, JSONRPC_INVALID_REQUEST,
                                              "Unsupported Media Type: Content-Type must be application/json", NULL));
        return;
    }
    if (!accept_ok(http_header(req, "Accept"))) {
        reply_json(c, 406, mcp_error_response(NULL, JSONRPC_INVALID_REQUEST,
                                              "Not Acceptable: Accept must allow application/json", NULL));
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > EDGE_MAX_BODY) {
        reply_json(c, 413, mcp_error_response(NULL, JSONRPC_INVALID_REQUEST, "Payload Too Large", NULL));
        return;
    }
    struct mcp_error err;
    memset(&err, 0, sizeof err);
    c->body = mcp_parse_body((const char *)evbuffer_pullup(in, -1), len, &err);
    if (!c->body) {
        reply_json(c, err.http_status, mcp_error_response(NULL, err.code, err.message, NULL));
        return;
    }
    struct mcp_headers h = {
        .protocol_version = http_header(req, "MCP-Protocol-Version"),
        .method = http_header(req, "Mcp-Method"),
        .name = http_header(req, "Mcp-Name"),
    };
    if (!mcp_classify(c->body, &h, &c->m, &err)) {
        reply_json(c, err.http_status, mcp_error_response(err.id, err.code, err.message, err.data));
        return;
    }
    if (c->m.kind != MCP_REQUEST) {
        /* Notifications (initialized, cancelled, …) and responses: accepted, no body.
         * A stateless server has nothing in flight to cancel by notification. */
        http_add_cors(c->e, req);
        http_reply(c->e, req, 202, NULL, NULL, 0);
        call_free(c);
        return;
    }
    mcp_methods_dispatch(c);
}

static void on_auth(void *arg, enum auth_result result, const struct principal *who)
{
    struct mcp_call *c = arg;
    struct edge *e = c->e;
    switch (result) {
    case AUTH_MISSING:
        add_challenge(c, NULL, NULL);
        reply_oauth_error(c, 401, "invalid_token", "Missing bearer token");
        return;
    case AUTH_INVALID:
        add_challenge(c, "invalid_token", "The access token is invalid, expired or revoked");
        reply_oauth_error(c, 401, "invalid_token", "The access token is invalid, expired or revoked");
        return;
    case AUTH_UNAVAILABLE:
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "5");
        reply_oauth_error(c, 503, "temporarily_unavailable",
                          "The credential could not be checked right now; retry in a few seconds");
        return;
    case AUTH_OK:
        break;
    }
    c->who = *who;
    int retry_after;
    if (!ratelimit_take(e->limits, who->key_id, mono_ms(), &retry_after)) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", ra);
        reply_oauth_error(c, 429, "rate_limited", "Too many requests for this credential; retry after Retry-After seconds");
        return;
    }
    enum evhttp_cmd_type method = evhttp_request_get_command(c->req);
    if (method != EVHTTP_REQ_POST) {
        /* Stateless in both eras: no GET stream, no session to DELETE. */
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Allow", "POST, OPTIONS");
        reply_json(c, 405, mcp_error_response(NULL, JSONRPC_INVALID_REQUEST,
                                              "Method Not Allowed: this server is stateless; use POST", NULL));
        return;
    }
    handle_post(c);
}

void mcp_transport_handle(struct edge *e, struct evhttp_request *req)
{
    if (evhttp_request_get_command(req) == EVHTTP_REQ_OPTIONS) {
        http_reply_preflight(e, req, "GET, POST, DELETE, OPTIONS");
        return;
    }
    const char *origin = http_header(req, "Origin");
    if (!http_origin_allowed(e, origin)) {
        json_t *b = mcp_error_response(NULL, JSONRPC_INVALID_REQUEST, "Forbidden: Origin not allowed", NULL);
        http_reply_json(e, req, 403, b);
        json_decref(b);
        return;
    }
    struct mcp_call *c = xcalloc(1, sizeof *c);
    c->e = e;
    c->req = req;
    c->started_mono = mono_ms();
    auth_resolve(e, http_header(req, "Authorization"), on_auth, c);
}
