/*
 * worker — runs tool calls for the edge (docs/DESIGN.md, "Processes").
 *
 * One nng REP socket dials every edge (EDGE_URLS); WORKER_THREADS threads
 * each own one PostgreSQL connection, one nng context and one aio, and loop
 * recv -> dispatch -> send. Blocking per thread is deliberate: a thread is a
 * database connection, and libpq's synchronous API is the simple one.
 *
 * Shutdown (SIGTERM/SIGINT): the main thread sets a stop flag; each thread
 * finishes the request it is running, sends its answer, and leaves at its
 * next receive (receives time out every STOP_POLL_MS to see the flag). Only
 * then is the socket closed, so no answer in flight is lost. Requests still
 * queued for this worker are resent by the edge's REQ to another worker when
 * the pipe closes.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "services/worker/db.h"
#include "services/worker/dispatch.h"

#define STOP_POLL_MS 250
#define SEND_TIMEOUT_MS 5000

struct worker_thread {
    pthread_t tid;
    int index;
    nng_socket sock;
    const struct config *cfg;
};

static atomic_bool stopping;

static void *worker_run(void *arg)
{
    struct worker_thread *w = arg;
    nng_ctx ctx;
    nng_aio *aio = NULL;
    int rv;
    if ((rv = nng_ctx_open(&ctx, w->sock)) != 0 || (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
        fatal("thread %d: nng setup: %s", w->index, nng_strerror(rv));

    struct db *db = db_new(w->cfg);
    db_ensure(db);   /* connect early so a bad configuration shows at start; failures retry per request */

    while (!atomic_load(&stopping)) {
        nng_aio_set_timeout(aio, STOP_POLL_MS);
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        rv = nng_aio_result(aio);
        if (rv == NNG_ETIMEDOUT)
            continue;
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0) {
            log_warn("thread %d: receive failed: %s", w->index, nng_strerror(rv));
            continue;
        }
        nng_msg *msg = nng_aio_get_msg(aio);
        uint8_t *out = NULL;
        size_t out_len = 0;
        dispatch_message(db, w->cfg, nng_msg_body(msg), nng_msg_len(msg), &out, &out_len);
        /* Reuse the message: its header carries the REP routing back to the asking edge. */
        nng_msg_clear(msg);
        if (nng_msg_append(msg, out, out_len) != 0) {
            log_error("thread %d: cannot build the reply", w->index);
            nng_msg_free(msg);
            free(out);
            continue;
        }
        free(out);
        nng_aio_set_msg(aio, msg);
        nng_aio_set_timeout(aio, SEND_TIMEOUT_MS);
        nng_ctx_send(ctx, aio);
        nng_aio_wait(aio);
        if ((rv = nng_aio_result(aio)) != 0) {
            log_warn("thread %d: reply not sent: %s", w->index, nng_strerror(rv));
            nng_msg_free(msg);
        }
    }

    nng_aio_free(aio);
    nng_ctx_close(ctx);
    db_free(db);
    return NULL;
}

int main(void)
{
    static struct config cfg;
    char name[32];
    snprintf(name, sizeof name, "worker %ld", (long)getpid());
    log_init(name);
    config_load(&cfg);
    util_init();
    catalog_init();

    for (size_t i = 0; i < catalog_tool_count; i++)
        if (catalog_tools[i].op == ENV_OP_TOOL && !dispatch_handler(catalog_tools[i].name))
            fatal("catalog tool %s has no handler in the worker", catalog_tools[i].name);

    /* Signals go to sigwait() below, never to nng's or our threads. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    nng_socket sock;
    int rv;
    if ((rv = nng_rep0_open(&sock)) != 0)
        fatal("nng_rep0_open: %s", nng_strerror(rv));
    /* The edge never sends more than this; a larger claim is refused before allocation. */
    nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, ENV_MAX_MESSAGE);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 2000);
    for (int i = 0; i < cfg.edge_url_count; i++) {
        /* Non-blocking: the edge may start later; nng keeps redialling. */
        if ((rv = nng_dial(sock, cfg.edge_urls[i], NULL, NNG_FLAG_NONBLOCK)) != 0)
            fatal("cannot dial %s: %s", cfg.edge_urls[i], nng_strerror(rv));
    }

    int n = cfg.worker_threads > 0 ? cfg.worker_threads : 1;
    struct worker_thread *threads = xcalloc((size_t)n, sizeof *threads);
    for (int i = 0; i < n; i++) {
        threads[i] = (struct worker_thread){.index = i, .sock = sock, .cfg = &cfg};
        if (pthread_create(&threads[i].tid, NULL, worker_run, &threads[i]) != 0)
            fatal("cannot start thread %d", i);
    }

    char urls[CONFIG_MAX_EDGE_URLS * 64] = "";
    for (int i = 0; i < cfg.edge_url_count; i++) {
        size_t len = strlen(urls);
        snprintf(urls + len, sizeof urls - len, "%s%s", i ? ", " : "", cfg.edge_urls[i]);
    }
    log_info("started: pid %ld, edges %s, %d threads", (long)getpid(), urls, n);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0 || sig == SIGHUP)
        ;
    log_info("signal %d: finishing requests in flight", sig);
    atomic_store(&stopping, true);
    for (int i = 0; i < n; i++)
        pthread_join(threads[i].tid, NULL);
    nng_close(sock);
    free(threads);
    log_info("stopped");
    return 0;
}
