/*
 * edge_http — listening, routing and replies. See edge_http.h.
 */
#include "services/edge/invitations.h"
#include "services/edge/edge_http.h"
#include "services/edge/edge_clientip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include "common/log.h"
#include "services/edge/archives_http.h"
#include "services/edge/dash.h"
#include "services/edge/edge_metrics.h"
#include "services/edge/gateway_http.h"
#include "services/edge/mcp_transport.h"
#include "services/edge/oauth_http.h"

typedef void (*route_fn)(struct edge *e, struct evhttp_request *req);

static void route_healthz(struct edge *e, struct evhttp_request *req);
static void route_readyz(struct edge *e, struct evhttp_request *req);

static const struct route {
    const char *path;
    route_fn fn;
} routes[] = {
    {"/api/mcp", mcp_transport_handle},
    {"/healthz", route_healthz},
    {"/readyz", route_readyz},
    {"/metrics", edge_metrics_route},
    {"/.well-known/oauth-protected-resource/api/mcp", oauth_route_prm},
    {"/.well-known/oauth-protected-resource", oauth_route_prm},
    {"/.well-known/oauth-authorization-server", oauth_route_as_metadata},
    {"/.well-known/jwks.json", oauth_route_jwks},
    {"/oauth/register", oauth_route_register},
    {"/oauth/authorize", oauth_route_authorize},
    {"/oauth/token", oauth_route_token},
    {"/oauth/revoke", oauth_route_revoke},
    {"/invitations/accept", invitations_route_accept},
};

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

const char *http_header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

bool http_path(struct evhttp_request *req, char *buf, size_t cap)
{
    const char *uri = evhttp_request_get_uri(req);
    if (!uri || uri[0] != '/')
        return false;
    size_t n = strcspn(uri, "?#");
    if (n >= cap)
        return false;
    memcpy(buf, uri, n);
    buf[n] = '\0';
    return true;
}

bool http_origin_allowed(const struct edge *e, const char *origin)
{
    if (!origin)
        return true;
    for (int i = 0; i < e->norigins; i++)
        if (!strcasecmp(origin, e->origins[i]))
            return true;
    return false;
}

void http_add_cors(const struct edge *e, struct evhttp_request *req)
{
    const char *origin = http_header(req, "Origin");
    if (!origin || !http_origin_allowed(e, origin))
        return;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Access-Control-Allow-Origin", origin);
    evhttp_add_header(h, "Vary", "Origin");
    evhttp_add_header(h, "Access-Control-Expose-Headers",
                      "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version, Retry-After, X-Request-Id");
}

void http_reply_preflight(struct edge *e, struct evhttp_request *req, const char *methods)
{
    const char *origin = http_header(req, "Origin");
    if (origin && !http_origin_allowed(e, origin)) {
        http_reply_error(e, req, 403, "forbidden_origin", "this Origin is not allowed");
        return;
    }
    http_add_cors(e, req);
    http_reply_preflight_allowed(e, req, methods);
}

void http_reply_preflight_allowed(struct edge *e, struct evhttp_request *req, const char *methods)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Access-Control-Allow-Methods", methods);
    evhttp_add_header(h, "Access-Control-Allow-Headers",
                      "Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Mcp-Method, "
                      "Mcp-Name, Last-Event-ID");
    evhttp_add_header(h, "Access-Control-Max-Age", "86400");
    http_reply(e, req, 204, NULL, NULL, 0);
}

void http_client_ip(struct evhttp_request *req, char *buf, size_t cap)
{
    buf[0] = '\0';
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (c)
        evhttp_connection_get_peer(c, &addr, &port);
    if (!addr)
        return;
    /* Behind a trusted reverse proxy the client is in X-Forwarded-For
     * (edge_clientip.h); more than one such header is not to be trusted. */
    const char *xff = NULL;
    int nxff = 0;
    for (struct evkeyval *h = evhttp_request_get_input_headers(req)->tqh_first; h; h = h->next.tqe_next)
        if (!strcasecmp(h->key, "X-Forwarded-For") && nxff++ == 0)
            xff = h->value;
    clientip_resolve(clientip_get_trust(), addr, xff, nxff > 1, buf, cap);
}

void http_reply(struct edge *e, struct evhttp_request *req, int status, const char *content_type, const char *body,
                size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (content_type)
        evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (e->draining)   /* shutting down: no further requests on this connection */
        evhttp_add_header(h, "Connection", "close");
    double secs = edge_metrics_reply(req, status);
    if (e->access_log) {
        /* Path without its query (queries may carry tokens), the client's
         * address as the rate limits see it, and the time at the edge. */
        char path[256], client[64] = "-";
        if (!http_path(req, path, sizeof path))
            strcpy(path, "?");
        http_client_ip(req, client, sizeof client);
        if (!client[0])
            strcpy(client, "-");
        log_info("%s %s %d %.1fms client=%s", method_name(evhttp_request_get_command(req)), path, status,
                 secs >= 0 ? secs * 1000.0 : 0.0, client);
    }
    struct evbuffer *buf = NULL;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        /* libevent writes whatever body it is given, also to HEAD; a body
         * there breaks the next response on a kept-alive connection. */
        char n[32];
        snprintf(n, sizeof n, "%zu", body ? len : 0);
        evhttp_add_header(h, "Content-Length", n);
    } else if (body && len) {
        buf = evbuffer_new();
        evbuffer_add(buf, body, len);
    }
    evhttp_send_reply(req, status, NULL, buf);
    if (buf)
        evbuffer_free(buf);
    e->active--;
}

void http_reply_json(struct edge *e, struct evhttp_request *req, int status, const json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    http_reply(e, req, status, "application/json", text, strlen(text));
    free(text);
}

void http_reply_error(struct edge *e, struct evhttp_request *req, int status, const char *code,
                      const char *description)
{
    json_t *b = json_pack("{s:s,s:s}", "error", code, "error_description", description);
    http_reply_json(e, req, status, b);
    json_decref(b);
}

static void route_healthz(struct edge *e, struct evhttp_request *req)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    http_reply(e, req, 200, "application/json", ok, sizeof ok - 1);
}

static void route_readyz(struct edge *e, struct evhttp_request *req)
{
    bool ready = dispatch_ready(e->dispatch) && !e->draining;
    json_t *b = json_pack("{s:s,s:b,s:i}", "status", ready ? "ready" : "unavailable", "workers_answering",
                          dispatch_ready(e->dispatch), "in_flight", dispatch_inflight(e->dispatch));
    http_reply_json(e, req, ready ? 200 : 503, b);
    json_decref(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct edge *e = arg;
    char path[1024];
    e->active++;
    if (!http_path(req, path, sizeof path)) {
        http_reply_error(e, req, 400, "invalid_request", "malformed request target");
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!strcmp(path, routes[i].path)) {
            routes[i].fn(e, req);
            return;
        }
    }
    /* The web dashboard's pages (dash.c has their table). */
    if (dash_route(e, req, path))
        return;
    if (!strncmp(path, ARCHIVES_PATH_PREFIX, strlen(ARCHIVES_PATH_PREFIX))) {
        archives_http_handle(e, req, path);
        return;
    }
    /* The gateway's paths carry the endpoint slug and record id. */
    if (!strncmp(path, GATEWAY_PATH_PREFIX, strlen(GATEWAY_PATH_PREFIX))) {
        gateway_http_handle(e, req, path);
        return;
    }
    /* Preflights of any discovery URL answer without auth (MCP.md §2.5),
     * including ones we do not serve (openid-configuration): a browser
     * client then gets the plain 404 of the GET. */
    if (evhttp_request_get_command(req) == EVHTTP_REQ_OPTIONS && !strncmp(path, "/.well-known/", 13)) {
        oauth_preflight_public(e, req, "GET, OPTIONS");
        return;
    }
    http_reply_error(e, req, 404, "not_found", "no such path");
}

/* Every request gets its request id and start time first (edge_metrics.h). */
static void on_request_observed(struct evhttp_request *req, void *arg)
{
    edge_request_begin(req);
    on_request(req, arg);
    edge_request_leave();
}

bool http_start(struct edge *e)
{
    e->http = evhttp_new(e->base);
    evhttp_set_gencb(e->http, on_request_observed, e);
    evhttp_set_max_body_size(e->http, EDGE_MAX_BODY);
    evhttp_set_max_headers_size(e->http, EDGE_MAX_HEADERS);
    evhttp_set_timeout(e->http, 60);
    /* Without OPTIONS/PATCH here libevent answers 501 before our router runs. */
    evhttp_set_allowed_methods(e->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(e->http, "application/json");
    e->bound = evhttp_bind_socket_with_handle(e->http, e->cfg->edge_listen_host, (ev_uint16_t)e->cfg->edge_listen_port);
    if (!e->bound) {
        log_error("cannot listen on %s:%d", e->cfg->edge_listen_host, e->cfg->edge_listen_port);
        return false;
    }
    /* Linux hands TCP_NODELAY down to accepted sockets. Without it, a reply
     * written in two pieces (headers, then a large body) waits for the
     * client's delayed ACK: about 40 ms per request. */
    int one = 1;
    setsockopt(evhttp_bound_socket_get_fd(e->bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    log_info("serving HTTP on %s:%d (public URL %s)", e->cfg->edge_listen_host, e->cfg->edge_listen_port,
             e->cfg->public_url);
    return edge_metrics_listen(e);
}

void http_stop_accepting(struct edge *e)
{
    if (e->bound) {
        evhttp_del_accept_socket(e->http, e->bound);
        e->bound = NULL;
    }
    edge_metrics_stop();
}
