/*
 * oauth_revpoll — keeps the edge's set of revoked grants current.
 *
 * Access tokens are verified locally, so a grant revoked in the database
 * (token endpoint on code reuse or refresh-family reuse, /oauth/revoke, the
 * dashboard) reaches this edge only by polling: every 15 s one worker is
 * asked for grants revoked since the previous answer's now_ms, and each is
 * added to e->revoked for the lifetime of any token it may still have. A
 * revocation therefore takes effect within about 15 s (plus one round trip),
 * well inside the 60 s the product promises.
 *
 * The first poll looks back one token lifetime plus leeway: a grant revoked
 * before this edge started may still have live tokens. A failed poll keeps
 * `since` unchanged, so nothing is missed, only late. The worker's own clock
 * (now_ms) is the cursor, minus a small overlap for transactions that
 * committed with an earlier timestamp than their visibility; adding a gid
 * twice is harmless.
 */
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "common/util.h"
#include "services/edge/oauth_http.h"
#include "services/edge/oauth_revocations.h"

#define REVPOLL_INTERVAL_MS 15000
#define REVPOLL_OVERLAP_MS 5000

struct oauth_revpoll {
    struct edge *e;
    struct event *timer;
    int64_t since_ms;
    bool in_flight;
    bool stopping;
    bool warned;
};

static void on_answer(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct oauth_revpoll *p = arg;
    p->in_flight = false;
    if (p->stopping) {
        free(p);
        return;
    }
    json_t *r = st == DISPATCH_OK ? oauth_worker_result(resp) : NULL;
    json_t *grants = json_object_get(r, "grants");
    json_t *now = json_object_get(r, "now_ms");
    if (!json_is_array(grants) || !json_is_integer(now)) {
        if (!p->warned)
            log_warn("revocation poll failed (%s); retrying every %d s", st != DISPATCH_OK ? dispatch_status_text(st)
                     : resp->ok ? "malformed answer" : resp->message, REVPOLL_INTERVAL_MS / 1000);
        p->warned = true;
        json_decref(r);
        return;
    }
    p->warned = false;
    int64_t worker_now = json_integer_value(now);
    int64_t until = now_ms() + OAUTH_REVOCATION_KEEP_MS;
    size_t i, added = 0;
    json_t *g;
    json_array_foreach(grants, i, g)
    {
        if (json_is_string(g) && oauth_revocations_add(p->e->revoked, json_string_value(g), until))
            added++;
    }
    if (added)
        log_info("revocation poll: %zu grant(s) revoked", added);
    if (worker_now - REVPOLL_OVERLAP_MS > p->since_ms)
        p->since_ms = worker_now - REVPOLL_OVERLAP_MS;
    oauth_revocations_expire(p->e->revoked, now_ms());
    json_decref(r);
}

static void poll_now(struct oauth_revpoll *p)
{
    if (p->in_flight || !p->e->revoked)
        return;
    p->in_flight = true;
    oauth_worker_call(p->e, "oauth.revocations", json_pack("{s:I}", "since_ms", (json_int_t)p->since_ms), on_answer,
                      p);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    poll_now(arg);
}

struct oauth_revpoll *oauth_revpoll_start(struct edge *e)
{
    struct oauth_revpoll *p = xcalloc(1, sizeof *p);
    p->e = e;
    p->since_ms = now_ms() - OAUTH_REVOCATION_KEEP_MS;
    p->timer = event_new(e->base, -1, EV_PERSIST, on_tick, p);
    struct timeval tv = {REVPOLL_INTERVAL_MS / 1000, (REVPOLL_INTERVAL_MS % 1000) * 1000};
    event_add(p->timer, &tv);
    poll_now(p);
    return p;
}

void oauth_revpoll_free(struct oauth_revpoll *p)
{
    if (!p)
        return;
    event_free(p->timer);
    /* An answer still in flight frees p when it arrives (the dispatcher
     * calls back exactly once, also at shutdown). */
    if (p->in_flight)
        p->stopping = true;
    else
        free(p);
}
