/*
 * edge_http — the HTTP front: listening, routing by exact path, and the
 * reply helpers every route uses (JSON bodies with explicit content type,
 * security headers, CORS for allowed origins, one access-log line per
 * request). Routes are a table; a route handler must eventually answer with
 * one of the http_reply_* functions exactly once (possibly later, from a
 * worker callback). edge->active counts requests received and not yet
 * answered, which graceful shutdown waits on.
 */
#ifndef TM_EDGE_HTTP_H
#define TM_EDGE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/http.h>
#include <jansson.h>
#include "services/edge/edge.h"

/* Binds EDGE_LISTEN, installs the router; false (logged) if it cannot listen. */
bool http_start(struct edge *e);
/* Stops accepting new connections (graceful shutdown). */
void http_stop_accepting(struct edge *e);

/* Replies. `text` is sent as is; json variants serialise compactly. */
void http_reply(struct edge *e, struct evhttp_request *req, int status, const char *content_type, const char *body,
                size_t len);
void http_reply_json(struct edge *e, struct evhttp_request *req, int status, const json_t *body);
/* {"error": code, "error_description": description} */
void http_reply_error(struct edge *e, struct evhttp_request *req, int status, const char *code,
                      const char *description);

/* Origin policy: absent is allowed; present must be in the allow-list. */
bool http_origin_allowed(const struct edge *e, const char *origin);
/* Adds Access-Control-* headers for an allowed Origin of req (no-op without Origin). */
void http_add_cors(const struct edge *e, struct evhttp_request *req);
/* Answers a CORS preflight: 204 for an allowed origin, 403 otherwise. */
void http_reply_preflight(struct edge *e, struct evhttp_request *req, const char *methods);
/* The rest of a preflight once the caller has set its Access-Control-Allow-Origin
 * (allow-listed or public): allowed methods and request headers, max age, 204. */
void http_reply_preflight_allowed(struct edge *e, struct evhttp_request *req, const char *methods);

/* The client address of the request as text ("" if unknown): the TCP peer, or
 * behind a TRUSTED_PROXIES proxy the X-Forwarded-For client (edge_clientip.h). */
void http_client_ip(struct evhttp_request *req, char *buf, size_t cap);

/* The raw path of the request (no query), into buf; false if unusable. */
bool http_path(struct evhttp_request *req, char *buf, size_t cap);
const char *http_header(struct evhttp_request *req, const char *name);

#endif
