/*
 * edge — the HTTP process: MCP, and later OAuth, pages and the gateway. It
 * holds no database connection; everything that needs data goes to a worker
 * through edge_dispatch. SIGTERM/SIGINT: stop accepting, let requests in
 * flight finish (up to the request deadline), then exit. SIGHUP: reload the
 * OAuth signing keys (after `3min keys rotate`).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <event2/thread.h>
#include <jansson.h>
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "services/edge/edge.h"
#include "services/edge/edge_http.h"
#include "services/edge/edge_clientip.h"
#include "services/edge/oauth_http.h"
#include "services/edge/mcp_methods.h"
#include "services/edge/oauth_jwt.h"
#include "common/oauth_keys.h"
#include "services/edge/oauth_revocations.h"

static void add_origin(struct edge *e, const char *origin, size_t n)
{
    while (n > 0 && origin[n - 1] == '/')
        n--;
    if (n == 0)
        return;
    if (e->norigins == EDGE_MAX_ORIGINS)
        fatal("too many allowed origins (at most %d)", EDGE_MAX_ORIGINS);
    e->origins[e->norigins++] = xstrndup(origin, n);
}

static void load_origins(struct edge *e)
{
    static const char *const fixed[] = {"https://claude.ai", "https://claude.com", "https://chatgpt.com"};
    add_origin(e, e->cfg->public_origin, strlen(e->cfg->public_origin));
    for (size_t i = 0; i < TM_ARRAY_LEN(fixed); i++)
        add_origin(e, fixed[i], strlen(fixed[i]));
    const char *p = e->cfg->allowed_origins;
    while (*p) {
        size_t n = strcspn(p, ", ");
        add_origin(e, p, n);
        p += n;
        p += strspn(p, ", ");
    }
}

#define DRAIN_FLUSH_MS 200

static struct event *drain_tick;   /* freed after the loop ends */

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct edge *e = arg;
    static int64_t started;
    if (!started)
        started = mono_ms();
    if (e->active <= 0 || mono_ms() - started > e->cfg->request_deadline_ms) {
        if (e->active > 0)
            log_warn("exiting with %d requests unanswered", e->active);
        /* A reply handed to evhttp is written by later loop iterations, and
         * freeing evhttp drops what is still unwritten (the client sees a
         * reset). Replies while draining carry Connection: close, so their
         * connections close once written; give the loop a moment for that. */
        event_del(drain_tick);
        struct timeval flush = {0, DRAIN_FLUSH_MS * 1000};
        event_base_loopexit(e->base, &flush);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct edge *e = arg;
    if (e->draining)
        return;
    e->draining = true;
    log_info("signal %d: no longer accepting; finishing %d requests in flight", (int)sig, e->active);
    http_stop_accepting(e);
    drain_tick = event_new(e->base, -1, EV_PERSIST, on_drain_tick, e);
    struct timeval tv = {0, 20000};
    event_add(drain_tick, &tv);
}

/* A failed reload keeps the keys in use (oauth_keys_reload logs why); the
 * verified-token cache empties itself when it sees the new key set. */
static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct edge *e = arg;
    oauth_keys_reload(e->keys_oauth);
}

int main(void)
{
    static struct config cfg;
    struct edge e = {0};

    log_init("edge");
    util_init();
    signal(SIGPIPE, SIG_IGN);
    json_object_seed(0);
    config_load(&cfg);
    catalog_init();
    if (evthread_use_pthreads() != 0)   /* nng threads wake the loop with event_active() */
        fatal("libevent has no pthreads support");
    mkdir(cfg.state_dir, 0700);

    e.cfg = &cfg;
    e.base = event_base_new();
    e.access_log = getenv("ACCESS_LOG") ? strcmp(getenv("ACCESS_LOG"), "0") != 0 : true;
    load_origins(&e);
    struct clientip_trust trust;
    char terr[256];
    if (!clientip_parse_list(cfg.trusted_proxies, &trust, terr, sizeof terr))
        fatal("%s", terr);
    clientip_set_trust(&trust);
    e.keys = keycache_new(cfg.key_cache_ttl_ms);
    e.limits = ratelimit_new_shared(cfg.mcp_rate_limit, cfg.mcp_rate_burst, cfg.edge_count);
    e.gateway_limits = ratelimit_new_shared(cfg.gateway_rate_limit, cfg.gateway_rate_burst, cfg.edge_count);
    e.mcp = mcp_cache_new(&cfg);
    e.dispatch = dispatch_new(e.base, &cfg);
    char kerr[512];
    e.keys_oauth = oauth_keys_open(cfg.signing_key_file, true, kerr, sizeof kerr);
    if (!e.keys_oauth)
        fatal("OAuth signing key: %s", kerr);
    log_info("OAuth signing key %s (kid %s)", cfg.signing_key_file, oauth_keys_current_kid(e.keys_oauth));
    e.revoked = oauth_revocations_new();
    e.jwt_cache = jwt_cache_new();
    if (!http_start(&e))
        return 1;
    e.revpoll = oauth_revpoll_start(&e);

    struct event *sigterm = evsignal_new(e.base, SIGTERM, on_signal, &e);
    struct event *sigint = evsignal_new(e.base, SIGINT, on_signal, &e);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    struct event *sighup = evsignal_new(e.base, SIGHUP, on_sighup, &e);
    event_add(sighup, NULL);

    event_base_loop(e.base, EVLOOP_NO_EXIT_ON_EMPTY);

    oauth_revpoll_free(e.revpoll);   /* before the dispatcher: its last answer frees it */
    dispatch_free(e.dispatch);
    evhttp_free(e.http);
    mcp_cache_free(e.mcp);
    keycache_free(e.keys);
    ratelimit_free(e.limits);
    ratelimit_free(e.gateway_limits);
    jwt_cache_free(e.jwt_cache);
    oauth_revocations_free(e.revoked);
    oauth_keys_free(e.keys_oauth);
    for (int i = 0; i < e.norigins; i++)
        free(e.origins[i]);
    if (drain_tick)
        event_free(drain_tick);
    event_free(sigterm);
    event_free(sigint);
    event_free(sighup);
    event_base_free(e.base);
    log_info("stopped");
    return 0;
}
