/*
 * edge_keycache — what the edge remembers about API keys it has resolved
 * through a worker: SHA-256(key) -> principal (or "no such key"), for at most
 * API_KEY_CACHE_MS (30 s). A revoked key therefore stops working within 30 s,
 * and a known key costs no database query per MCP request.
 *
 * Negative answers are cached too: keys are 32 random bytes, so a key that
 * was unknown when presented cannot become valid later, and caching the miss
 * keeps a client retrying a bad key from reaching the database each time.
 * The table is bounded (KEYCACHE_MAX entries); when full, expired entries are
 * swept and, if that frees too little, the table starts empty again.
 */
#ifndef TM_EDGE_KEYCACHE_H
#define TM_EDGE_KEYCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include "proto/envelope.h"

#define KEYCACHE_MAX 65536

enum keycache_result { KEYCACHE_MISS, KEYCACHE_VALID, KEYCACHE_INVALID };

struct keycache;

struct keycache *keycache_new(int ttl_ms);
void keycache_free(struct keycache *c);

/* Looks up hash at time now (monotonic ms); on KEYCACHE_VALID fills *who. */
enum keycache_result keycache_get(struct keycache *c, const uint8_t hash[32], int64_t now, struct principal *who);

/* Remembers a resolution; who == NULL records an unknown key. */
void keycache_put(struct keycache *c, const uint8_t hash[32], int64_t now, const struct principal *who);

#endif
