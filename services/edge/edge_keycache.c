/*
 * edge_keycache — open-addressing hash table keyed by SHA-256 of the key.
 * The hash is uniformly random, so its first 8 bytes are the bucket index.
 */
#include "services/edge/edge_keycache.h"

#include <stdlib.h>
#include <string.h>
#include "common/util.h"

#define SLOTS (KEYCACHE_MAX * 2)   /* load factor <= 0.5 */

struct entry {
    uint8_t hash[32];
    int64_t expires;               /* 0 = empty slot */
    int64_t added;
    bool valid;
    struct principal who;
};

struct keycache {
    struct entry *e;
    int ttl_ms;
    int count;
};

struct keycache *keycache_new(int ttl_ms)
{
    struct keycache *c = xcalloc(1, sizeof *c);
    c->e = xcalloc(SLOTS, sizeof *c->e);
    c->ttl_ms = ttl_ms;
    return c;
}

void keycache_free(struct keycache *c)
{
    if (!c)
        return;
    free(c->e);
    free(c);
}

static size_t bucket(const uint8_t hash[32])
{
    uint64_t h;
    memcpy(&h, hash, sizeof h);
    return (size_t)(h % SLOTS);
}

/* Rebuilds the table keeping live entries added at or after `keep_after`. */
static void rebuild(struct keycache *c, int64_t now, int64_t keep_after)
{
    struct entry *old = c->e;
    c->e = xcalloc(SLOTS, sizeof *c->e);
    c->count = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (old[i].expires > now && old[i].added >= keep_after) {
            size_t j = bucket(old[i].hash);
            while (c->e[j].expires)
                j = (j + 1) % SLOTS;
            c->e[j] = old[i];
            c->count++;
        }
    }
    free(old);
}

enum keycache_result keycache_get(struct keycache *c, const uint8_t hash[32], int64_t now, struct principal *who)
{
    if (c->ttl_ms <= 0)
        return KEYCACHE_MISS;
    for (size_t j = bucket(hash); c->e[j].expires; j = (j + 1) % SLOTS) {
        struct entry *e = &c->e[j];
        if (memcmp(e->hash, hash, 32) == 0) {
            if (e->expires <= now)
                return KEYCACHE_MISS;
            if (!e->valid)
                return KEYCACHE_INVALID;
            *who = e->who;
            return KEYCACHE_VALID;
        }
    }
    return KEYCACHE_MISS;
}

void keycache_put(struct keycache *c, const uint8_t hash[32], int64_t now, const struct principal *who)
{
    if (c->ttl_ms <= 0)
        return;
    if (c->count >= KEYCACHE_MAX) {
        /* Sweep the expired; if that frees less than half, start afresh. Each
         * rebuild is then paid for by at least KEYCACHE_MAX/2 insertions, and
         * forgetting an answer only costs one more lookup at a worker. */
        rebuild(c, now, INT64_MIN);
        if (c->count >= KEYCACHE_MAX / 2)
            rebuild(c, now, INT64_MAX);
    }
    size_t j = bucket(hash);
    while (c->e[j].expires && memcmp(c->e[j].hash, hash, 32) != 0)
        j = (j + 1) % SLOTS;
    struct entry *e = &c->e[j];
    if (!e->expires)
        c->count++;
    memcpy(e->hash, hash, 32);
    e->added = now;
    e->expires = now + c->ttl_ms;
    e->valid = who != NULL;
    if (who)
        e->who = *who;
    else
        memset(&e->who, 0, sizeof e->who);
}
