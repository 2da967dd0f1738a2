/*
 * edge — the state one edge process shares between its modules: the
 * configuration, the event loop, the HTTP server, the worker dispatcher and
 * the per-credential caches. One instance, created in main.c and passed
 * down; nothing here is a hidden global.
 */
#ifndef TM_EDGE_H
#define TM_EDGE_H

#include <stdbool.h>
#include <event2/event.h>
#include <event2/http.h>
#include "common/config.h"
#include "services/edge/edge_dispatch.h"
#include "services/edge/edge_keycache.h"
#include "services/edge/edge_ratelimit.h"

#define EDGE_MAX_BODY (1u << 20)        /* 1 MiB: larger MCP bodies get 413 */
#define EDGE_MAX_HEADERS (16u << 10)
#define EDGE_MAX_ORIGINS 32

struct mcp_cache;
struct oauth_keys;
struct oauth_revocations;
struct jwt_cache;

struct edge {
    const struct config *cfg;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct dispatcher *dispatch;
    struct keycache *keys;
    struct ratelimit *limits;
    struct ratelimit *gateway_limits;  /* per gateway key hash (GATEWAY_RATE_LIMIT) */
    char *origins[EDGE_MAX_ORIGINS];   /* allowed browser origins */
    int norigins;
    struct mcp_cache *mcp;             /* pre-rendered tools/list pages */
    struct oauth_keys *keys_oauth;     /* ES256 signing/verification keys, JWKS (oauth_keys.h) */
    struct oauth_revocations *revoked; /* grant ids whose JWTs are refused (oauth_revocations.h) */
    struct jwt_cache *jwt_cache;       /* tokens that verified, until exp (oauth_jwt.h) */
    struct oauth_revpoll *revpoll;     /* refreshes `revoked` from the workers (oauth_http.h) */
    int active;                        /* HTTP requests awaiting an answer */
    bool draining;
    bool access_log;
};

#endif
