/*
 * worker — runs tool calls for the edges (docs/DESIGN.md, "Processes" and
 * "Edge dispatch").
 *
 * Worker pull (proto/pull.h): one nng REQ socket per edge in EDGE_URLS, each
 * dialling its edge. WORKER_THREADS threads each own one PostgreSQL
 * connection and one context per edge, and loop: ask an edge for a job
 * (READY), run it, answer it to the same edge (ANSWER, whose reply is the
 * next job). An edge that has nothing for the hold time replies IDLE and the
 * thread asks the next edge, so with several edges every thread serves
 * whichever has work. Blocking per thread is deliberate: a thread is a
 * database connection, and libpq's synchronous API is the simple one.
 *
 * A beat thread per edge sends BEAT every PULL_BEAT_MS, also while jobs run,
 * so an edge can tell a busy worker from a frozen one and takes back the
 * jobs of a worker that went silent.
 *
 * Shutdown (SIGTERM/SIGINT): the main thread sets a stop flag; a thread
 * finishes the job it runs and delivers the answer as LAST (no next job), a
 * thread waiting for a job leaves when its edge replies (at most the hold
 * time). Then beats stop and the sockets close. Nothing in flight is lost,
 * and the edges never gave this worker more than it had threads.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/pull.h"
#include "services/worker/db.h"
#include "services/worker/dispatch.h"

#define SEND_WAIT_MS 250          /* a READY that finds no connection to its edge tries the next edge */
#define HOLD_ONE_EDGE_MS 1000     /* how long an edge may keep an idle thread (one edge) */
#define HOLD_MANY_EDGES_MS 200    /* (several edges: idle threads move on to the next edge sooner) */
#define REPLY_WAIT_MS 15000       /* longer than any hold: only a hung edge makes it expire */
#define IDLE_TXN_TIMEOUT_MS 2000  /* see db_set_idle_txn_timeout */

struct edge_link {
    nng_socket sock;
    const char *url;
    pthread_t beat_tid;
};

struct worker_thread {
    pthread_t tid;
    int index;
    const struct config *cfg;
};

static atomic_bool stopping;       /* job threads: finish and leave */
static atomic_bool stop_beats;     /* after the job threads are gone */
static struct edge_link *links;
static int nlinks;
static uint8_t worker_id[PULL_WORKER_ID_LEN];
static uint32_t worker_pid;
static int hold_ms;

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static nng_msg *frame(uint8_t type, uint32_t slot, uint32_t gen, const uint8_t *body, size_t len)
{
    struct pull_header h = {.type = type, .pid = worker_pid, .slot = slot, .gen = gen, .hold_ms = (uint32_t)hold_ms};
    memcpy(h.worker, worker_id, PULL_WORKER_ID_LEN);
    uint8_t hdr[PULL_HEADER_LEN];
    pull_encode(&h, hdr);
    nng_msg *m;
    if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, hdr, sizeof hdr) != 0 ||
        (len && nng_msg_append(m, body, len) != 0))
        fatal("out of memory building an nng message");
    return m;
}

static void *worker_run(void *arg)
{
    struct worker_thread *w = arg;
    nng_ctx *ctx = xcalloc((size_t)nlinks, sizeof *ctx);
    nng_aio *aio = NULL;
    int rv;
    for (int i = 0; i < nlinks; i++)
        if ((rv = nng_ctx_open(&ctx[i], links[i].sock)) != 0)
            fatal("thread %d: nng setup: %s", w->index, nng_strerror(rv));
    if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
        fatal("thread %d: nng setup: %s", w->index, nng_strerror(rv));

    struct db *db = db_new(w->cfg);
    db_set_idle_txn_timeout(db, IDLE_TXN_TIMEOUT_MS);
    db_ensure(db);   /* connect early so a bad configuration shows at start; failures retry per request */

    int k = w->index % nlinks;     /* the edge this thread talks to now */
    uint8_t *answer = NULL;        /* the answer to deliver to edge k, if any */
    size_t answer_len = 0;
    uint32_t slot = 0, gen = 0;

    for (;;) {
        bool stop = atomic_load(&stopping);
        if (stop && !answer)
            break;
        /* Reconnect between jobs too (within the backoff), so that a thread
         * is connected again soon after the database is back, not only when
         * its next job fails. */
        if (!answer && db_broken(db))
            db_ensure(db);
        uint8_t type = answer ? (stop ? PULL_LAST : PULL_ANSWER) : PULL_READY;
        nng_msg *m = frame(type, slot, gen, answer, answer_len);
        int64_t t0 = mono_ms();
        nng_aio_set_msg(aio, m);
        /* An answer waits longer for its connection than a READY: it is only for edge k. */
        nng_aio_set_timeout(aio, answer ? REPLY_WAIT_MS / 3 : SEND_WAIT_MS);
        nng_ctx_send(ctx[k], aio);
        nng_aio_wait(aio);
        if ((rv = nng_aio_result(aio)) != 0) {
            nng_msg_free(m);
            if (rv == NNG_ECLOSED)
                break;
            if (answer) {
                /* Edge k is gone; it handed the job out again when the connection dropped. */
                log_warn("thread %d: answer not delivered to %s: %s", w->index, links[k].url, nng_strerror(rv));
                free(answer);
                answer = NULL;
            }
            k = (k + 1) % nlinks;
            continue;
        }
        free(answer);
        answer = NULL;

        nng_aio_set_timeout(aio, REPLY_WAIT_MS);
        nng_ctx_recv(ctx[k], aio);
        nng_aio_wait(aio);
        if ((rv = nng_aio_result(aio)) != 0) {
            if (rv == NNG_ECLOSED)
                break;
            /* ECONNRESET: the connection to edge k closed while we waited. */
            log_debug("thread %d: no reply from %s: %s", w->index, links[k].url, nng_strerror(rv));
            k = (k + 1) % nlinks;
            continue;
        }
        m = nng_aio_get_msg(aio);
        struct pull_header h;
        if (!pull_decode(nng_msg_body(m), nng_msg_len(m), &h)) {
            log_warn("thread %d: a frame from %s does not decode", w->index, links[k].url);
            nng_msg_free(m);
            nap_ms(100);
            continue;
        }
        if (h.type == PULL_JOB) {
            slot = h.slot;
            gen = h.gen;
            dispatch_message(db, w->cfg, (const uint8_t *)nng_msg_body(m) + PULL_HEADER_LEN,
                             nng_msg_len(m) - PULL_HEADER_LEN, &answer, &answer_len);
        } else if (h.type == PULL_IDLE) {
            /* An edge that lets a thread go at once is full or lost the
             * connection: do not spin on it. */
            if (mono_ms() - t0 < hold_ms / 2)
                nap_ms(20);
            k = (k + 1) % nlinks;
        }
        nng_msg_free(m);
    }

    nng_aio_free(aio);
    for (int i = 0; i < nlinks; i++)
        nng_ctx_close(ctx[i]);
    free(ctx);
    db_free(db);
    return NULL;
}

/* Tells one edge, every PULL_BEAT_MS, that this process is alive. */
static void *beat_run(void *arg)
{
    struct edge_link *l = arg;
    nng_ctx ctx;
    nng_aio *aio;
    int rv;
    if ((rv = nng_ctx_open(&ctx, l->sock)) != 0 || (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
        fatal("beat: nng setup: %s", nng_strerror(rv));
    while (!atomic_load(&stop_beats)) {
        int64_t next = mono_ms() + PULL_BEAT_MS;
        nng_msg *m = frame(PULL_BEAT, 0, 0, NULL, 0);
        nng_aio_set_msg(aio, m);
        nng_aio_set_timeout(aio, PULL_BEAT_MS);
        nng_ctx_send(ctx, aio);
        nng_aio_wait(aio);
        if ((rv = nng_aio_result(aio)) == 0) {
            nng_aio_set_timeout(aio, 4 * PULL_BEAT_MS);
            nng_ctx_recv(ctx, aio);
            nng_aio_wait(aio);
            if (nng_aio_result(aio) == 0)
                nng_msg_free(nng_aio_get_msg(aio));
        } else {
            nng_msg_free(m);
            if (rv == NNG_ECLOSED)
                break;
        }
        int64_t left = next - mono_ms();
        if (left > 0)
            nap_ms((int)left);
    }
    nng_aio_free(aio);
    nng_ctx_close(ctx);
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

    random_bytes(worker_id, sizeof worker_id);
    worker_pid = (uint32_t)getpid();
    nlinks = cfg.edge_url_count;
    hold_ms = nlinks > 1 ? HOLD_MANY_EDGES_MS : HOLD_ONE_EDGE_MS;
    links = xcalloc((size_t)nlinks, sizeof *links);
    int rv;
    for (int i = 0; i < nlinks; i++) {
        struct edge_link *l = &links[i];
        l->url = cfg.edge_urls[i];
        if ((rv = nng_req0_open(&l->sock)) != 0)
            fatal("nng_req0_open: %s", nng_strerror(rv));
        /* Never resend: a READY held by an idle edge would be sent twice and
         * one thread would get two jobs. The edge resends jobs itself. Must
         * be set before contexts are opened: they copy it. */
        nng_socket_set_ms(l->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
        /* The edge never sends more than this; a larger claim is refused before allocation. */
        nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, ENV_MAX_MESSAGE + PULL_HEADER_LEN);
        nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT, 100);
        nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, 2000);
        /* Non-blocking: the edge may start later; nng keeps redialling. */
        if ((rv = nng_dial(l->sock, l->url, NULL, NNG_FLAG_NONBLOCK)) != 0)
            fatal("cannot dial %s: %s", l->url, nng_strerror(rv));
        if (pthread_create(&l->beat_tid, NULL, beat_run, l) != 0)
            fatal("cannot start the beat thread");
    }

    int n = cfg.worker_threads > 0 ? cfg.worker_threads : 1;
    struct worker_thread *threads = xcalloc((size_t)n, sizeof *threads);
    for (int i = 0; i < n; i++) {
        threads[i] = (struct worker_thread){.index = i, .cfg = &cfg};
        if (pthread_create(&threads[i].tid, NULL, worker_run, &threads[i]) != 0)
            fatal("cannot start thread %d", i);
    }

    char urls[CONFIG_MAX_EDGE_URLS * 64] = "";
    for (int i = 0; i < nlinks; i++) {
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
    atomic_store(&stop_beats, true);
    for (int i = 0; i < nlinks; i++)
        pthread_join(links[i].beat_tid, NULL);
    for (int i = 0; i < nlinks; i++)
        nng_close(links[i].sock);
    free(links);
    free(threads);
    log_info("stopped");
    return 0;
}
