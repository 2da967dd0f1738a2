/*
 * edge_ratelimit — token buckets in a chained hash table. See edge_ratelimit.h.
 */
#include "services/edge/edge_ratelimit.h"

#include <stdlib.h>
#include <string.h>
#include "common/util.h"

#define BUCKETS 4096
#define SWEEP_EVERY_MS 10000

struct bucket {
    char *key;
    double tokens;
    int64_t updated;
    struct bucket *next;
};

struct ratelimit {
    double rate, burst;   /* this edge's share: per second, and depth */
    struct bucket *table[BUCKETS];
    int64_t last_sweep;
};

struct ratelimit *ratelimit_new_shared(int rate_per_s, int burst, int edges)
{
    struct ratelimit *r = xcalloc(1, sizeof *r);
    if (edges < 1)
        edges = 1;
    r->rate = (double)rate_per_s / edges;
    r->burst = (double)(burst > 0 ? burst : 1) / edges;
    if (r->burst < 1.0)
        r->burst = 1.0;   /* a request needs one whole token */
    return r;
}

struct ratelimit *ratelimit_new(int rate_per_s, int burst)
{
    return ratelimit_new_shared(rate_per_s, burst, 1);
}

void ratelimit_free(struct ratelimit *r)
{
    if (!r)
        return;
    for (int i = 0; i < BUCKETS; i++) {
        for (struct bucket *b = r->table[i], *n; b; b = n) {
            n = b->next;
            free(b->key);
            free(b);
        }
    }
    free(r);
}

static unsigned hash_key(const char *s)
{
    unsigned h = 2166136261u;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

/* Forgets buckets that have been idle long enough to be full again. */
static void sweep(struct ratelimit *r, int64_t now)
{
    int64_t full_after = (int64_t)(r->burst * 1000.0 / r->rate) + 1;
    for (int i = 0; i < BUCKETS; i++) {
        struct bucket **pp = &r->table[i];
        while (*pp) {
            struct bucket *b = *pp;
            if (now - b->updated > full_after) {
                *pp = b->next;
                free(b->key);
                free(b);
            } else {
                pp = &b->next;
            }
        }
    }
    r->last_sweep = now;
}

bool ratelimit_take(struct ratelimit *r, const char *key, int64_t now, int *retry_after_s)
{
    if (r->rate <= 0)
        return true;
    if (now - r->last_sweep > SWEEP_EVERY_MS)
        sweep(r, now);
    unsigned h = hash_key(key);
    struct bucket *b = r->table[h];
    while (b && strcmp(b->key, key))
        b = b->next;
    if (!b) {
        b = xcalloc(1, sizeof *b);
        b->key = xstrdup(key);
        b->tokens = r->burst;
        b->updated = now;
        b->next = r->table[h];
        r->table[h] = b;
    }
    double refill = (double)(now - b->updated) * r->rate / 1000.0;   /* rate > 0 here */
    b->tokens = b->tokens + refill > r->burst ? r->burst : b->tokens + refill;
    b->updated = now;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    double wait_s = (1.0 - b->tokens) / r->rate;
    *retry_after_s = (int)wait_s + 1;
    return false;
}
