/*
 * oauth_revocations — an open-addressing hash set of grant ids with an
 * expiry time each. Entries leave only through expire, which rebuilds the
 * table (it runs once per poll, every few seconds, so O(n) is fine and no
 * tombstones are needed). See oauth_revocations.h.
 */
#include "services/edge/oauth_revocations.h"

#include <stdlib.h>
#include <string.h>
#include "common/util.h"

#define INITIAL_SLOTS 1024

struct rentry {
    char gid[OAUTH_REVOCATION_GID_MAX];   /* "" = empty slot */
    int64_t until_ms;
};

struct oauth_revocations {
    struct rentry *e;
    size_t slots;                         /* a power of two */
    size_t count;
};

struct oauth_revocations *oauth_revocations_new(void)
{
    struct oauth_revocations *r = xcalloc(1, sizeof *r);
    r->slots = INITIAL_SLOTS;
    r->e = xcalloc(r->slots, sizeof *r->e);
    return r;
}

void oauth_revocations_free(struct oauth_revocations *r)
{
    if (!r)
        return;
    free(r->e);
    free(r);
}

/* FNV-1a: gids come from our own workers, not from callers. */
static size_t slot_of(const char *gid, size_t slots)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)gid; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h & (slots - 1));
}

static struct rentry *find(const struct oauth_revocations *r, const char *gid)
{
    for (size_t j = slot_of(gid, r->slots);; j = (j + 1) & (r->slots - 1)) {
        struct rentry *e = &r->e[j];
        if (!e->gid[0] || strcmp(e->gid, gid) == 0)
            return e;
    }
}

static void rebuild(struct oauth_revocations *r, size_t slots, int64_t now_ms, bool drop_expired)
{
    struct rentry *old = r->e;
    size_t old_slots = r->slots;
    r->e = xcalloc(slots, sizeof *r->e);
    r->slots = slots;
    r->count = 0;
    for (size_t i = 0; i < old_slots; i++) {
        if (!old[i].gid[0] || (drop_expired && old[i].until_ms <= now_ms))
            continue;
        *find(r, old[i].gid) = old[i];
        r->count++;
    }
    free(old);
}

bool oauth_revocations_add(struct oauth_revocations *r, const char *gid, int64_t until_ms)
{
    size_t n = gid ? strlen(gid) : 0;
    if (n == 0 || n >= OAUTH_REVOCATION_GID_MAX)
        return false;
    if ((r->count + 1) * 2 > r->slots)   /* load factor <= 0.5 */
        rebuild(r, r->slots * 2, 0, false);
    struct rentry *e = find(r, gid);
    if (!e->gid[0]) {
        memcpy(e->gid, gid, n + 1);
        e->until_ms = until_ms;
        r->count++;
    } else if (until_ms > e->until_ms) {
        e->until_ms = until_ms;
    }
    return true;
}

bool oauth_revocations_contains(const struct oauth_revocations *r, const char *gid)
{
    size_t n = gid ? strlen(gid) : 0;
    if (n == 0 || n >= OAUTH_REVOCATION_GID_MAX)
        return false;
    return find(r, gid)->gid[0] != '\0';
}

size_t oauth_revocations_expire(struct oauth_revocations *r, int64_t now_ms)
{
    size_t slots = r->slots;
    /* Shrink back when most entries are gone, never below the start size. */
    while (slots > INITIAL_SLOTS && r->count * 8 < slots)
        slots /= 2;
    rebuild(r, slots, now_ms, true);
    return r->count;
}

size_t oauth_revocations_count(const struct oauth_revocations *r)
{
    return r->count;
}
