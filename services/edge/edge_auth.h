/*
 * edge_auth — who is calling. Extracts the bearer credential of a request
 * and resolves it to a principal: MCP API keys (tm_mcp_…) through the key
 * cache, or on a miss through a worker (auth.resolve_mcp_key, which looks up
 * SHA-256 of the key); OAuth access tokens (JWTs) locally, with no worker
 * trip: verified by oauth_jwt against the keys in memory, then refused if
 * their grant is in the revocation set. The callback runs exactly once,
 * possibly before auth_resolve returns (cache hit, JWT) or later on the loop
 * thread.
 */
#ifndef TM_EDGE_AUTH_H
#define TM_EDGE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include "proto/envelope.h"
#include "services/edge/edge.h"

#define MCP_KEY_PREFIX "tm_mcp_"
#define MCP_KEY_LEN (7 + 43)          /* prefix + base64url of 32 bytes */

enum auth_result {
    AUTH_OK,
    AUTH_MISSING,        /* no Authorization: Bearer credential */
    AUTH_INVALID,        /* a credential that is not valid (unknown, revoked, malformed) */
    AUTH_UNAVAILABLE,    /* could not be checked now (workers or database down) */
};

typedef void (*auth_cb)(void *arg, enum auth_result result, const struct principal *who);

/* Extracts the token of "Authorization: Bearer <token>" (scheme case-insensitive).
 * Returns a pointer into header (length in *len) or NULL. */
const char *auth_bearer_token(const char *header, size_t *len);

/* True if token has the exact shape of an MCP API key. */
bool auth_is_mcp_key(const char *token, size_t len);

void auth_resolve(struct edge *e, const char *authorization_header, auth_cb cb, void *arg);

#endif
