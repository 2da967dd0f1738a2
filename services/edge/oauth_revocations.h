/*
 * oauth_revocations — the grant ids (`gid` claim) whose access tokens the
 * edge must refuse although their signature and expiry are fine. JWTs are
 * verified locally, without a worker trip, so revoking a grant in the
 * database reaches the edge only through this set: a poller asks the
 * workers for grants revoked since its last poll (oauth.revocations) and
 * adds them here; the resource server consults it on every request,
 * including requests whose token came from the verified-token cache.
 *
 * An entry is needed only while some token of the grant can still be valid:
 * at most OAUTH_REVOCATION_KEEP_MS after the revocation (token lifetime plus
 * clock leeway), after which oauth_revocations_expire forgets it. The set
 * grows as needed (it cannot drop an entry early without letting a revoked
 * token back in); its size is the number of grants revoked within an hour.
 *
 * Not thread-safe: the edge's loop thread owns it.
 */
#ifndef TM_OAUTH_REVOCATIONS_H
#define TM_OAUTH_REVOCATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* (OAUTH_JWT_TTL + OAUTH_JWT_SKEW) seconds: what a poller adds to the
 * revocation time (or to now) to get until_ms. */
#define OAUTH_REVOCATION_KEEP_MS ((int64_t)(3600 + 60) * 1000)
#define OAUTH_REVOCATION_GID_MAX 40     /* with the NUL, like principal.key_id */

struct oauth_revocations;

struct oauth_revocations *oauth_revocations_new(void);
void oauth_revocations_free(struct oauth_revocations *r);

/* Records gid as revoked until until_ms (epoch ms). Adding a gid again keeps
 * the later of the two times. Returns false (and records nothing) if gid is
 * empty or too long: such a gid cannot appear in one of our tokens. */
bool oauth_revocations_add(struct oauth_revocations *r, const char *gid, int64_t until_ms);

/* True if gid is in the set (whatever until_ms says: only expire removes). */
bool oauth_revocations_contains(const struct oauth_revocations *r, const char *gid);

/* Forgets the entries whose until_ms <= now_ms; returns how many remain. */
size_t oauth_revocations_expire(struct oauth_revocations *r, int64_t now_ms);

size_t oauth_revocations_count(const struct oauth_revocations *r);

#endif
