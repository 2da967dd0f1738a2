/*
 * oauth_http — what the OAuth endpoints share on the HTTP side: their route
 * handlers (registered in edge_http.c), reading bounded bodies, calling a
 * worker operation with JSON arguments, mapping worker errors to OAuth
 * errors, public CORS, and the client address.
 *
 * Each route handler answers exactly once through http_reply* (edge_http.h),
 * possibly later from a worker callback.
 */
#ifndef TM_OAUTH_HTTP_H
#define TM_OAUTH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/http.h>
#include <jansson.h>
#include "services/edge/edge.h"

#define OAUTH_MAX_BODY (16u << 10)   /* every body under /oauth/ (MCP.md §8) */

/* Routes (exact paths, see edge_http.c). */
void oauth_route_prm(struct edge *e, struct evhttp_request *req);          /* the PRM, both paths */
void oauth_route_as_metadata(struct edge *e, struct evhttp_request *req);  /* RFC 8414 metadata */
void oauth_route_jwks(struct edge *e, struct evhttp_request *req);         /* JWKS */
void oauth_route_register(struct edge *e, struct evhttp_request *req);     /* /oauth/register */
void oauth_route_authorize(struct edge *e, struct evhttp_request *req);    /* /oauth/authorize */
void oauth_route_token(struct edge *e, struct evhttp_request *req);        /* /oauth/token */
void oauth_route_revoke(struct edge *e, struct evhttp_request *req);       /* /oauth/revoke */

/* Access-Control-Allow-Origin: * (and the exposed headers) for public
 * endpoints that never rely on cookies. */
void oauth_cors_public(struct evhttp_request *req);
/* 204 preflight for a public endpoint, whatever the Origin, without auth. */
void oauth_preflight_public(struct edge *e, struct evhttp_request *req, const char *methods);
/* 405 with an Allow header. */
void oauth_reply_method_not_allowed(struct edge *e, struct evhttp_request *req, const char *allow);

/* The request body if it is at most max bytes: pointer into the request's
 * buffer (NUL-terminated copy is not made; use len). NULL with *too_big set
 * if it is larger. */
const char *oauth_body(struct evhttp_request *req, size_t max, size_t *len, bool *too_big);

/* True if the Content-Type's media type is `type` (case-insensitive, parameters ignored). */
bool oauth_content_type_is(const char *ct, const char *type);

/* Sends worker operation `name` (op auth, principal anon) with args (taken
 * over) to a worker; cb runs once on the loop thread. */
void oauth_worker_call(struct edge *e, const char *name, json_t *args, dispatch_cb cb, void *arg);

/* The worker's answer parsed as a JSON object (new reference), or NULL. */
json_t *oauth_worker_result(const struct env_response *resp);
/* details.oauth_error of a failed worker answer (copied into buf), or NULL. */
const char *oauth_worker_error(const struct env_response *resp, char *buf, size_t cap);

/* OAuth JSON error {"error","error_description"} with Cache-Control no-store
 * and public CORS. */
void oauth_reply_error(struct edge *e, struct evhttp_request *req, int status, const char *error,
                       const char *description);

/* Revocation poller (oauth_revpoll.c): asks a worker every 15 s for grants
 * revoked since the last poll and adds them to the edge's revoked set. */
struct oauth_revpoll;
struct oauth_revpoll *oauth_revpoll_start(struct edge *e);
void oauth_revpoll_free(struct oauth_revpoll *p);

#endif
