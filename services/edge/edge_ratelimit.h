/*
 * edge_ratelimit — a token bucket per credential (MCP_RATE_LIMIT tokens per
 * second, MCP_RATE_BURST deep). Keyed by the credential's id, so every
 * request of one key shares one bucket. Buckets idle long enough to be full
 * again are forgotten, which bounds memory by the number of active keys.
 */
#ifndef TM_EDGE_RATELIMIT_H
#define TM_EDGE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

/* rate 0 turns limiting off. */
struct ratelimit *ratelimit_new(int rate_per_s, int burst);
void ratelimit_free(struct ratelimit *r);

/* Takes one token for key at time now (monotonic ms). Returns true if allowed;
 * otherwise false with the seconds until a token is available in *retry_after_s. */
bool ratelimit_take(struct ratelimit *r, const char *key, int64_t now, int *retry_after_s);

#endif
