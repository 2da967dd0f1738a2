/*
 * oauth_http — shared plumbing of the OAuth endpoints. See oauth_http.h.
 */
#include "services/edge/oauth_http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include "common/util.h"
#include "services/edge/edge_http.h"

void oauth_cors_public(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    evhttp_add_header(h, "Access-Control-Expose-Headers", "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version, Retry-After");
}

void oauth_preflight_public(struct edge *e, struct evhttp_request *req, const char *methods)
{
    oauth_cors_public(req);
    http_reply_preflight_allowed(e, req, methods);
}

void oauth_reply_method_not_allowed(struct edge *e, struct evhttp_request *req, const char *allow)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
    http_reply_error(e, req, 405, "method_not_allowed", "this method is not allowed here");
}

const char *oauth_body(struct evhttp_request *req, size_t max, size_t *len, bool *too_big)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    *too_big = n > max;
    if (*too_big)
        return NULL;
    *len = n;
    if (n == 0)
        return "";
    return (const char *)evbuffer_pullup(in, -1);
}

bool oauth_content_type_is(const char *ct, const char *type)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; \t");
    return n == strlen(type) && !strncasecmp(ct, type, n);
}

void oauth_worker_call(struct edge *e, const char *name, json_t *args, dispatch_cb cb, void *arg)
{
    struct env_request r = {.op = ENV_OP_AUTH};
    snprintf(r.name, sizeof r.name, "%s", name);
    r.who.kind = PRINCIPAL_ANON;
    r.args = json_dumps(args, JSON_COMPACT);
    r.args_len = strlen(r.args);
    json_decref(args);
    dispatch_submit(e->dispatch, &r, cb, arg);
    free(r.args);
}

json_t *oauth_worker_result(const struct env_response *resp)
{
    if (!resp || !resp->ok || !resp->result)
        return NULL;
    json_t *j = json_loadb(resp->result, resp->result_len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

const char *oauth_worker_error(const struct env_response *resp, char *buf, size_t cap)
{
    if (!resp || resp->ok || !resp->details)
        return NULL;
    json_t *d = json_loadb(resp->details, resp->details_len, 0, NULL);
    const char *s = json_string_value(json_object_get(d, "oauth_error"));
    const char *out = NULL;
    if (s && strlen(s) < cap && strspn(s, "abcdefghijklmnopqrstuvwxyz_") == strlen(s)) {
        strcpy(buf, s);
        out = buf;
    }
    json_decref(d);
    return out;
}

void oauth_reply_error(struct edge *e, struct evhttp_request *req, int status, const char *error,
                       const char *description)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Pragma", "no-cache");
    if (status == 503)
        evhttp_add_header(h, "Retry-After", "5");
    oauth_cors_public(req);
    http_reply_error(e, req, status, error, description);
}
