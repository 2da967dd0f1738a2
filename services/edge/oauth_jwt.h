/*
 * oauth_jwt — the edge's OAuth access tokens: ES256 JWTs it signs as the
 * authorization server and verifies as the resource server.
 *
 * Signing uses libjwt (it writes the header {"alg":"ES256","typ":"JWT","kid"}).
 * Verification does not: libjwt 1.10 re-parses the PEM key on every call
 * (~0.6 ms) and checks only the signature. Here the token is split and
 * decoded strictly, the header must say exactly alg "ES256" with a kid of
 * one of our keys (so "none", HS256-with-the-public-key and foreign keys
 * never get near a signature check), the raw R||S signature is checked with
 * the parsed key kept by oauth_keys, and only then is the payload parsed and
 * every claim checked: iss byte for byte, aud naming our one resource, exp
 * and nbf with OAUTH_JWT_SKEW seconds of leeway, and the shapes of sub,
 * client_id, scope and gid.
 *
 * jwt_cache remembers tokens that verified (SHA-256(token) -> principal)
 * until they expire, so a client's repeated requests cost a hash, not an
 * ECDSA verification. Revocation is not its business: the caller checks the
 * grant id against the revocation set on every request, cached or not.
 */
#ifndef TM_OAUTH_JWT_H
#define TM_OAUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto/envelope.h"
#include "common/oauth_keys.h"

#define OAUTH_JWT_MAX 4096          /* bytes of a token we even look at */
#define OAUTH_JWT_TTL 3600          /* seconds from iat to exp */
#define OAUTH_JWT_SKEW 60           /* seconds of clock leeway on exp and nbf */
#define OAUTH_GID_MAX 40            /* grant id buffer (fits principal.key_id) */
#define OAUTH_CLIENT_ID_MAX 255     /* fits principal.client_id */

/* What goes into a new access token. iss is PUBLIC_URL, aud the canonical
 * MCP URL (<PUBLIC_URL>/api/mcp), sub the account id, scope space separated
 * ("read write"), gid the grant id; iat in epoch seconds (exp = iat + TTL). */
struct oauth_claims {
    const char *iss, *sub, *aud, *client_id, *scope, *gid;
    int64_t iat;
};

/* Signs a new access token with the current key: a malloc'd string, or NULL
 * if a claim is missing or too long, or the signing fails. */
char *oauth_jwt_sign(const struct oauth_keys *keys, const struct oauth_claims *c);

enum oauth_jwt_status {
    OAUTH_JWT_OK = 0,
    OAUTH_JWT_MALFORMED,        /* not three strict base64url parts of JSON, or too big */
    OAUTH_JWT_BAD_ALG,          /* alg is not exactly "ES256", or a crit/typ we do not accept */
    OAUTH_JWT_UNKNOWN_KEY,      /* kid missing or not one of our keys */
    OAUTH_JWT_BAD_SIGNATURE,
    OAUTH_JWT_EXPIRED,
    OAUTH_JWT_NOT_YET_VALID,
    OAUTH_JWT_WRONG_ISSUER,
    OAUTH_JWT_WRONG_AUDIENCE,
    OAUTH_JWT_BAD_CLAIMS,       /* exp, sub, client_id, scope or gid missing or ill-formed */
};

/* A short reason, suitable for logs and error_description. */
const char *oauth_jwt_status_text(enum oauth_jwt_status s);

/* True if token has the shape of a JWS compact serialization: three
 * non-empty base64url parts separated by dots, at most OAUTH_JWT_MAX bytes.
 * Cheap; says nothing about validity. */
bool oauth_jwt_looks_like(const char *token, size_t len);

/* Verifies token at time now (epoch seconds). On OAUTH_JWT_OK fills *out
 * (kind PRINCIPAL_OAUTH, account_id = sub, client_id, key_id = gid, scope
 * bits; unknown scopes are ignored), gid_out[OAUTH_GID_MAX] and *exp_out
 * when not NULL. */
enum oauth_jwt_status oauth_jwt_verify(const struct oauth_keys *keys, const char *token, size_t len,
                                       const char *expected_iss, const char *expected_aud, int64_t now,
                                       struct principal *out, char *gid_out, int64_t *exp_out);

/* ---- verified-token cache ---- */

#define JWT_CACHE_MAX 16384

struct jwt_cache;

struct jwt_cache *jwt_cache_new(void);
void jwt_cache_free(struct jwt_cache *c);
/* True (and *who filled) if the token with this SHA-256 verified before and
 * is still within exp + OAUTH_JWT_SKEW at now (epoch seconds). */
bool jwt_cache_get(struct jwt_cache *c, const uint8_t hash[32], int64_t now, struct principal *who);
void jwt_cache_put(struct jwt_cache *c, const uint8_t hash[32], int64_t exp, int64_t now, const struct principal *who);
void jwt_cache_clear(struct jwt_cache *c);
size_t jwt_cache_count(const struct jwt_cache *c);

/* The resource server's check of a bearer JWT: the cache, else a full
 * verification whose success is cached. The cache empties itself when the
 * key set changed (a reload may have dropped a key). cache may be NULL. */
enum oauth_jwt_status oauth_jwt_check(const struct oauth_keys *keys, struct jwt_cache *cache, const char *token,
                                      size_t len, const char *expected_iss, const char *expected_aud, int64_t now,
                                      struct principal *out);

#endif
