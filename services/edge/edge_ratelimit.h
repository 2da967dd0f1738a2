/*
 * edge_ratelimit — a token bucket per credential (MCP_RATE_LIMIT tokens per
 * second, MCP_RATE_BURST deep). Keyed by the credential's id, so every
 * request of one key shares one bucket. Buckets idle long enough to be full
 * again are forgotten, which bounds memory by the number of active keys.
 *
 * Several edges (EDGE_COUNT) behind one load balancer: each edge holds
 * rate / EDGE_COUNT and burst / EDGE_COUNT (at least one token), so the sum
 * over the edges is the configured limit and never more, with no shared
 * state and no database round trip per request (docs/DESIGN.md "Several
 * edges").
 */
#ifndef TM_EDGE_RATELIMIT_H
#define TM_EDGE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

/* rate 0 turns limiting off. edges (>= 1) divides rate and burst. */
struct ratelimit *ratelimit_new(int rate_per_s, int burst);
struct ratelimit *ratelimit_new_shared(int rate_per_s, int burst, int edges);
void ratelimit_free(struct ratelimit *r);

/* Takes one token for key at time now (monotonic ms). Returns true if allowed;
 * otherwise false with the seconds until a token is available in *retry_after_s. */
bool ratelimit_take(struct ratelimit *r, const char *key, int64_t now, int *retry_after_s);

#endif
