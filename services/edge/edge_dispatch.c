/*
 * edge_dispatch — worker pull over nng REP contexts, bridged into libevent.
 * See edge_dispatch.h and proto/pull.h.
 *
 * State, all owned by the loop thread:
 *   jobs    a fixed table (EDGE_MAX_INFLIGHT x 17) of requests, each FREE,
 *           QUEUED (in the FIFO `queue`) or SENT (to a worker thread over
 *           connection `pipe`). An answer names its job by (slot, gen); gen
 *           changes whenever a slot is reused, and the envelope's request id
 *           is checked too, so a late answer never completes another job.
 *   ctxs    REP contexts: RECV (waiting for a frame), PARKED (holding a
 *           worker thread's READY until there is a job or its hold time
 *           passes) or SEND (a reply on its way).
 *   workers the last time each worker process was heard from (any frame).
 *
 * Threading: nng calls on_aio() and on_pipe() on its own threads; they only
 * push onto `done` / `dead` under the mutex and wake the loop.
 */
#include "services/edge/edge_dispatch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include "common/log.h"
#include "common/util.h"
#include "services/edge/edge_metrics.h"
#include "proto/pull.h"

#define WATCH_MS 100            /* watchdog period */
#define STALL_MS 2000           /* a worker silent this long while holding a job is taken to be hung */
#define SUSPECT_MS 1000         /* no new job goes to a worker silent this long */
#define READY_WINDOW_MS 6000    /* dispatch_ready(): a worker was heard from this recently */
#define FORGET_WORKER_MS 60000
#define REPLY_TIMEOUT_MS 5000
#define HOLD_MIN_MS 20
#define HOLD_MAX_MS 5000
#define RECENT_DEAD 64
#define QUEUE_FACTOR 17         /* jobs = EDGE_MAX_INFLIGHT x this (the former in-flight + queue bound) */

enum ctx_state { CTX_RECV, CTX_PARKED, CTX_SEND };
enum job_state { JOB_FREE, JOB_QUEUED, JOB_SENT };

struct rctx {
    struct dispatcher *d;
    nng_ctx ctx;
    nng_aio *aio;
    enum ctx_state state;
    uint32_t pipe;
    uint8_t worker[PULL_WORKER_ID_LEN];
    int64_t parked_at;
    int hold_ms;
    struct rctx *done_next;
    struct rctx *pprev, *pnext;   /* the parked list, oldest first */
};

struct job {
    enum job_state state;
    uint32_t gen;
    uint8_t *buf;                 /* the encoded request, kept for a resend */
    size_t len;
    uint8_t id[ENV_ID_LEN];
    int64_t deadline_mono, sent_mono;
    uint32_t pipe;
    uint8_t worker[PULL_WORKER_ID_LEN];
    uint32_t worker_pid;
    int sends;
    dispatch_cb cb;
    void *arg;
    int qprev, qnext;             /* the queue, by index; -1 = none */
};

struct wrec {
    uint8_t id[PULL_WORKER_ID_LEN];
    uint32_t pid;
    int64_t last_seen;
};

struct dispatcher {
    struct event_base *base;
    const struct config *cfg;
    nng_socket sock;
    struct rctx *ctxs;
    int nctx;
    struct rctx *parked_head, *parked_tail;
    int nparked;
    struct job *jobs;
    int njobs;
    int *free_jobs;
    int nfree;
    int qhead, qtail;
    int busy;                     /* jobs not FREE */
    struct wrec *workers;
    int nworkers, capworkers;
    uint32_t recent_dead[RECENT_DEAD];
    int recent_next;
    int resend_ms;
    pthread_mutex_t lock;         /* guards done and dead */
    struct rctx *done;
    uint32_t *dead;
    int ndead, capdead;
    struct event *wake;
    struct event *watch;
    bool closing;
};

const char *dispatch_status_text(enum dispatch_status s)
{
    switch (s) {
    case DISPATCH_OK:
        return "ok";
    case DISPATCH_TIMEOUT:
        return "no worker answered before the deadline";
    case DISPATCH_OVERLOAD:
        return "too many requests in flight";
    case DISPATCH_BAD_REPLY:
        return "a worker sent an invalid reply";
    case DISPATCH_SHUTDOWN:
        return "the server is shutting down";
    }
    return "unknown";
}

/* ---- nng threads ---------------------------------------------------------- */

static void on_aio(void *arg)
{
    struct rctx *r = arg;
    struct dispatcher *d = r->d;
    pthread_mutex_lock(&d->lock);
    r->done_next = d->done;
    d->done = r;
    pthread_mutex_unlock(&d->lock);
    event_active(d->wake, EV_READ, 0);
}

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct dispatcher *d = arg;
    if (ev != NNG_PIPE_EV_REM_POST)
        return;
    pthread_mutex_lock(&d->lock);
    if (d->ndead == d->capdead) {
        d->capdead = d->capdead ? d->capdead * 2 : 16;
        d->dead = xrealloc(d->dead, (size_t)d->capdead * sizeof *d->dead);
    }
    d->dead[d->ndead++] = (uint32_t)nng_pipe_id(p);
    pthread_mutex_unlock(&d->lock);
    event_active(d->wake, EV_READ, 0);
}

/* ---- workers --------------------------------------------------------------- */

static struct wrec *worker_find(struct dispatcher *d, const uint8_t id[PULL_WORKER_ID_LEN])
{
    for (int i = 0; i < d->nworkers; i++)
        if (!memcmp(d->workers[i].id, id, PULL_WORKER_ID_LEN))
            return &d->workers[i];
    return NULL;
}

static void worker_seen(struct dispatcher *d, const struct pull_header *h, int64_t now)
{
    struct wrec *w = worker_find(d, h->worker);
    if (!w) {
        if (d->nworkers == d->capworkers) {
            d->capworkers = d->capworkers ? d->capworkers * 2 : 16;
            d->workers = xrealloc(d->workers, (size_t)d->capworkers * sizeof *d->workers);
        }
        w = &d->workers[d->nworkers++];
        memcpy(w->id, h->worker, PULL_WORKER_ID_LEN);
        w->pid = h->pid;
        log_info("worker pid %u connected", (unsigned)h->pid);
    }
    w->last_seen = now;
}

/* How long the worker has been silent; unknown workers count as silent forever. */
static int64_t worker_silence(struct dispatcher *d, const uint8_t id[PULL_WORKER_ID_LEN], int64_t now)
{
    struct wrec *w = worker_find(d, id);
    return w ? now - w->last_seen : INT64_MAX / 2;
}

/* ---- the queue ------------------------------------------------------------- */

static void queue_unlink(struct dispatcher *d, int i)
{
    struct job *j = &d->jobs[i];
    if (j->qprev >= 0)
        d->jobs[j->qprev].qnext = j->qnext;
    else
        d->qhead = j->qnext;
    if (j->qnext >= 0)
        d->jobs[j->qnext].qprev = j->qprev;
    else
        d->qtail = j->qprev;
    j->qprev = j->qnext = -1;
}

static void queue_push(struct dispatcher *d, int i, bool front)
{
    struct job *j = &d->jobs[i];
    j->state = JOB_QUEUED;
    if (front) {
        j->qprev = -1;
        j->qnext = d->qhead;
        if (d->qhead >= 0)
            d->jobs[d->qhead].qprev = i;
        else
            d->qtail = i;
        d->qhead = i;
    } else {
        j->qnext = -1;
        j->qprev = d->qtail;
        if (d->qtail >= 0)
            d->jobs[d->qtail].qnext = i;
        else
            d->qhead = i;
        d->qtail = i;
    }
}

/* Answers a job and frees its slot; cb may submit new requests. */
static void job_finish(struct dispatcher *d, int i, enum dispatch_status st, const struct env_response *resp)
{
    struct job *j = &d->jobs[i];
    if (j->state == JOB_QUEUED)
        queue_unlink(d, i);
    dispatch_cb cb = j->cb;
    void *arg = j->arg;
    free(j->buf);
    j->buf = NULL;
    j->state = JOB_FREE;
    j->gen++;
    j->cb = NULL;
    d->free_jobs[d->nfree++] = i;
    d->busy--;
    edge_request_enter(j->id);   /* what the callback logs and sends next belongs to that request */
    cb(arg, st, resp);
    edge_request_leave();
}

/* ---- contexts -------------------------------------------------------------- */

static void ctx_recv(struct rctx *r)
{
    r->state = CTX_RECV;
    nng_aio_set_timeout(r->aio, NNG_DURATION_INFINITE);
    nng_ctx_recv(r->ctx, r->aio);
}

/* Replies a header (and body) on r; the context receives again once sent. */
static void ctx_reply(struct rctx *r, const struct pull_header *h, const uint8_t *body, size_t len)
{
    uint8_t hdr[PULL_HEADER_LEN];
    nng_msg *m;
    pull_encode(h, hdr);
    if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, hdr, sizeof hdr) != 0 ||
        (len && nng_msg_append(m, body, len) != 0))
        fatal("out of memory building an nng message");
    r->state = CTX_SEND;
    nng_aio_set_msg(r->aio, m);
    nng_aio_set_timeout(r->aio, REPLY_TIMEOUT_MS);
    nng_ctx_send(r->ctx, r->aio);
}

static void ctx_reply_type(struct rctx *r, uint8_t type)
{
    struct pull_header h = {.type = type};
    ctx_reply(r, &h, NULL, 0);
}

static void parked_unlink(struct dispatcher *d, struct rctx *r)
{
    if (r->pprev)
        r->pprev->pnext = r->pnext;
    else
        d->parked_head = r->pnext;
    if (r->pnext)
        r->pnext->pprev = r->pprev;
    else
        d->parked_tail = r->pprev;
    r->pprev = r->pnext = NULL;
    d->nparked--;
}

static bool recently_dead(const struct dispatcher *d, uint32_t pipe)
{
    for (int i = 0; i < RECENT_DEAD; i++)
        if (d->recent_dead[i] == pipe)
            return true;
    return false;
}

static void park(struct dispatcher *d, struct rctx *r, uint32_t pipe, const struct pull_header *h, int64_t now)
{
    /* Keep some contexts receiving, or beats could not get in. */
    if (recently_dead(d, pipe) || d->nparked >= d->nctx - 32) {
        ctx_reply_type(r, PULL_IDLE);
        return;
    }
    r->state = CTX_PARKED;
    r->pipe = pipe;
    memcpy(r->worker, h->worker, PULL_WORKER_ID_LEN);
    r->parked_at = now;
    r->hold_ms = h->hold_ms < HOLD_MIN_MS ? HOLD_MIN_MS : h->hold_ms > HOLD_MAX_MS ? HOLD_MAX_MS : (int)h->hold_ms;
    r->pnext = NULL;
    r->pprev = d->parked_tail;
    if (d->parked_tail)
        d->parked_tail->pnext = r;
    else
        d->parked_head = r;
    d->parked_tail = r;
    d->nparked++;
}

static void send_job(struct dispatcher *d, struct rctx *r, int i, int64_t now)
{
    struct job *j = &d->jobs[i];
    struct wrec *w = worker_find(d, r->worker);
    j->state = JOB_SENT;
    j->pipe = r->pipe;
    memcpy(j->worker, r->worker, PULL_WORKER_ID_LEN);
    j->worker_pid = w ? w->pid : 0;
    j->sent_mono = now;
    j->sends++;
    struct pull_header h = {.type = PULL_JOB, .slot = (uint32_t)i, .gen = j->gen};
    ctx_reply(r, &h, j->buf, j->len);
}

/* Gives queued jobs to parked threads of workers that are not suspected of hanging. */
static void match(struct dispatcher *d)
{
    int64_t now = mono_ms();
    while (d->qhead >= 0 && d->parked_head) {
        struct rctx *r = d->parked_head;
        while (r && worker_silence(d, r->worker, now) > SUSPECT_MS)
            r = r->pnext;
        if (!r)
            return;
        int i = d->qhead;
        if (d->jobs[i].deadline_mono <= now) {
            job_finish(d, i, DISPATCH_TIMEOUT, NULL);
            continue;
        }
        queue_unlink(d, i);
        parked_unlink(d, r);
        send_job(d, r, i, now);
    }
}

static void on_answer(struct dispatcher *d, const struct pull_header *h, const uint8_t *body, size_t len)
{
    if (h->slot >= (uint32_t)d->njobs)
        return;
    int i = (int)h->slot;
    struct job *j = &d->jobs[i];
    if (j->state == JOB_FREE || j->gen != h->gen) {
        log_debug("a late answer from worker pid %u (already answered)", (unsigned)h->pid);
        return;
    }
    struct env_response resp;
    const char *why = NULL;
    if (env_response_decode(body, len, &resp, &why) != 0) {
        log_warn("invalid reply from worker pid %u: %s", (unsigned)h->pid, why ? why : "?");
        job_finish(d, i, DISPATCH_BAD_REPLY, NULL);
        return;
    }
    if (memcmp(resp.id, j->id, ENV_ID_LEN) != 0) {
        log_warn("reply from worker pid %u carries another request's id", (unsigned)h->pid);
        env_response_free(&resp);
        return;
    }
    job_finish(d, i, DISPATCH_OK, &resp);
    env_response_free(&resp);
}

static void on_ctx_done(struct dispatcher *d, struct rctx *r, int64_t now)
{
    int rv = nng_aio_result(r->aio);
    if (r->state == CTX_SEND) {
        if (rv != 0) {
            nng_msg *m = nng_aio_get_msg(r->aio);   /* a failed send leaves the message with us */
            if (m)
                nng_msg_free(m);
            nng_aio_set_msg(r->aio, NULL);
        }
        if (!d->closing)
            ctx_recv(r);
        return;
    }
    if (rv != 0) {
        if (rv != NNG_ECLOSED && !d->closing) {
            log_debug("receive from workers failed: %s", nng_strerror(rv));
            ctx_recv(r);
        }
        return;
    }
    nng_msg *m = nng_aio_get_msg(r->aio);
    nng_aio_set_msg(r->aio, NULL);
    if (d->closing) {
        nng_msg_free(m);
        return;
    }
    const uint8_t *body = nng_msg_body(m);
    size_t len = nng_msg_len(m);
    uint32_t pipe = (uint32_t)nng_pipe_id(nng_msg_get_pipe(m));
    struct pull_header h;
    if (!pull_decode(body, len, &h) ||
        (h.type != PULL_READY && h.type != PULL_ANSWER && h.type != PULL_LAST && h.type != PULL_BEAT)) {
        log_warn("a frame from a worker does not decode; dropped");
        nng_msg_free(m);
        ctx_recv(r);   /* no reply: the peer is not a worker of this version */
        return;
    }
    worker_seen(d, &h, now);
    if (h.type == PULL_ANSWER || h.type == PULL_LAST)
        on_answer(d, &h, body + PULL_HEADER_LEN, len - PULL_HEADER_LEN);
    nng_msg_free(m);
    if (h.type == PULL_BEAT || h.type == PULL_LAST)
        ctx_reply_type(r, PULL_ACK);
    else
        park(d, r, pipe, &h, now);
}

/* A connection closed: its jobs go back to the front of the queue and its
 * parked threads are let go (the reply is dropped with the connection). */
static void on_pipe_gone(struct dispatcher *d, uint32_t pipe)
{
    d->recent_dead[d->recent_next] = pipe;
    d->recent_next = (d->recent_next + 1) % RECENT_DEAD;
    int requeued = 0;
    for (int i = d->njobs - 1; i >= 0; i--) {
        if (d->jobs[i].state == JOB_SENT && d->jobs[i].pipe == pipe) {
            queue_push(d, i, true);
            requeued++;
        }
    }
    for (struct rctx *r = d->parked_head, *n; r; r = n) {
        n = r->pnext;
        if (r->pipe == pipe) {
            parked_unlink(d, r);
            ctx_reply_type(r, PULL_IDLE);
        }
    }
    if (requeued)
        log_warn("a worker connection closed with %d jobs; sending them again", requeued);
}

static void process(struct dispatcher *d)
{
    pthread_mutex_lock(&d->lock);
    struct rctx *list = d->done;
    d->done = NULL;
    int ndead = d->ndead;
    uint32_t dead[64];
    if (ndead > 64)
        ndead = 64;
    if (ndead > 0) {   /* d->dead is NULL until the first worker goes silent */
        memcpy(dead, d->dead, (size_t)ndead * sizeof *dead);
        memmove(d->dead, d->dead + ndead, (size_t)(d->ndead - ndead) * sizeof *d->dead);
        d->ndead -= ndead;
    }
    bool more = d->ndead > 0;
    pthread_mutex_unlock(&d->lock);

    /* The list is newest first; handle in arrival order. */
    struct rctx *rev = NULL;
    while (list) {
        struct rctx *n = list->done_next;
        list->done_next = rev;
        rev = list;
        list = n;
    }
    int64_t now = mono_ms();
    while (rev) {
        struct rctx *r = rev;
        rev = r->done_next;
        on_ctx_done(d, r, now);
    }
    for (int i = 0; i < ndead; i++)
        on_pipe_gone(d, dead[i]);
    if (more)
        event_active(d->wake, EV_READ, 0);
    match(d);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    process(arg);
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dispatcher *d = arg;
    if (d->closing)
        return;
    process(d);   /* frames that arrived count before anyone is judged silent */
    int64_t now = mono_ms();
    for (int i = 0; i < d->njobs; i++) {
        struct job *j = &d->jobs[i];
        if (j->state == JOB_FREE)
            continue;
        if (j->deadline_mono <= now) {
            job_finish(d, i, DISPATCH_TIMEOUT, NULL);
            continue;
        }
        if (j->state != JOB_SENT)
            continue;
        int64_t age = now - j->sent_mono;
        int64_t silent = worker_silence(d, j->worker, now);
        if (age > STALL_MS && silent > STALL_MS) {
            /* Hung, not busy: a busy worker still beats. Closing the
             * connection hands its jobs back (on_pipe_gone). */
            log_warn("worker pid %u silent for %lld ms with a job; closing its connection", (unsigned)j->worker_pid,
                     (long long)(silent > 999999 ? 999999 : silent));
            uint32_t pipe = j->pipe;
            nng_pipe p = NNG_PIPE_INITIALIZER;
            p.id = pipe;
            nng_pipe_close(p);
            on_pipe_gone(d, pipe);   /* at once; the later notice finds nothing left */
        } else if (age > d->resend_ms) {
            log_warn("no answer from worker pid %u after %lld ms; sending the request again", (unsigned)j->worker_pid,
                     (long long)age);
            queue_push(d, i, true);
        }
    }
    for (struct rctx *r = d->parked_head, *n; r; r = n) {
        n = r->pnext;
        if (now - r->parked_at >= r->hold_ms) {
            parked_unlink(d, r);
            ctx_reply_type(r, PULL_IDLE);
        }
    }
    for (int i = 0; i < d->nworkers;) {
        if (now - d->workers[i].last_seen > FORGET_WORKER_MS) {
            log_info("worker pid %u gone", (unsigned)d->workers[i].pid);
            d->workers[i] = d->workers[--d->nworkers];
        } else {
            i++;
        }
    }
    match(d);
}

/* ---- API -------------------------------------------------------------------- */

struct dispatcher *dispatch_new(struct event_base *base, const struct config *cfg)
{
    struct dispatcher *d = xcalloc(1, sizeof *d);
    int rv;
    d->base = base;
    d->cfg = cfg;
    d->qhead = d->qtail = -1;
    d->resend_ms = cfg->statement_timeout_ms + 5000;
    pthread_mutex_init(&d->lock, NULL);

    d->njobs = cfg->max_inflight * QUEUE_FACTOR;
    d->jobs = xcalloc((size_t)d->njobs, sizeof *d->jobs);
    d->free_jobs = xcalloc((size_t)d->njobs, sizeof *d->free_jobs);
    uint32_t gen0;
    random_bytes(&gen0, sizeof gen0);   /* answers meant for an earlier edge process match nothing */
    for (int i = d->njobs - 1; i >= 0; i--) {
        d->jobs[i].gen = gen0 + (uint32_t)i * 7919u;
        d->jobs[i].qprev = d->jobs[i].qnext = -1;
        d->free_jobs[d->nfree++] = i;
    }

    if ((rv = nng_rep0_open(&d->sock)) != 0)
        fatal("nng_rep0_open: %s", nng_strerror(rv));
    nng_socket_set_size(d->sock, NNG_OPT_RECVMAXSZ, ENV_MAX_MESSAGE + PULL_HEADER_LEN);
    nng_pipe_notify(d->sock, NNG_PIPE_EV_REM_POST, on_pipe, d);
    if (!strncmp(cfg->worker_listen, "ipc://", 6))
        unlink(cfg->worker_listen + 6);   /* a socket file left by a previous edge */

    /* Parked READYs hold contexts: enough for every worker thread plus room for beats. */
    d->nctx = cfg->max_inflight * 2 + 64;
    d->ctxs = xcalloc((size_t)d->nctx, sizeof *d->ctxs);
    for (int i = 0; i < d->nctx; i++) {
        struct rctx *r = &d->ctxs[i];
        r->d = d;
        if ((rv = nng_ctx_open(&r->ctx, d->sock)) != 0 || (rv = nng_aio_alloc(&r->aio, on_aio, r)) != 0)
            fatal("nng context setup: %s", nng_strerror(rv));
    }
    d->wake = event_new(base, -1, EV_PERSIST, on_wake, d);
    event_add(d->wake, NULL);
    d->watch = event_new(base, -1, EV_PERSIST, on_watch, d);
    struct timeval tv = {0, WATCH_MS * 1000};
    event_add(d->watch, &tv);

    if ((rv = nng_listen(d->sock, cfg->worker_listen, NULL, 0)) != 0)
        fatal("cannot listen for workers on %s: %s", cfg->worker_listen, nng_strerror(rv));
    for (int i = 0; i < d->nctx; i++)
        ctx_recv(&d->ctxs[i]);
    log_info("listening for workers on %s", cfg->worker_listen);
    return d;
}

void dispatch_submit(struct dispatcher *d, struct env_request *req, dispatch_cb cb, void *arg)
{
    if (d->closing) {
        cb(arg, DISPATCH_SHUTDOWN, NULL);
        return;
    }
    if (d->nfree == 0) {
        cb(arg, DISPATCH_OVERLOAD, NULL);
        return;
    }
    edge_request_stamp(req->id);   /* the request id, then random bytes */
    if (req->deadline_ms == 0)
        req->deadline_ms = now_ms() + d->cfg->request_deadline_ms;
    int i = d->free_jobs[--d->nfree];
    struct job *j = &d->jobs[i];
    env_request_encode(req, &j->buf, &j->len);
    memcpy(j->id, req->id, ENV_ID_LEN);
    j->deadline_mono = mono_ms() + (req->deadline_ms - now_ms());
    j->cb = cb;
    j->arg = arg;
    j->sends = 0;
    d->busy++;
    queue_push(d, i, false);
    match(d);
}

bool dispatch_ready(const struct dispatcher *d)
{
    return dispatch_workers(d) > 0;
}

int dispatch_workers(const struct dispatcher *d)
{
    int64_t now = mono_ms();
    int n = 0;
    for (int i = 0; i < d->nworkers; i++)
        if (now - d->workers[i].last_seen < READY_WINDOW_MS)
            n++;
    return n;
}

int dispatch_inflight(const struct dispatcher *d)
{
    return d->busy;
}

int dispatch_queued(const struct dispatcher *d)
{
    int n = 0;
    for (int i = d->qhead; i >= 0; i = d->jobs[i].qnext)
        n++;
    return n;
}

int dispatch_idle_threads(const struct dispatcher *d)
{
    return d->nparked;
}

void dispatch_free(struct dispatcher *d)
{
    if (!d)
        return;
    d->closing = true;
    /* Closing the socket completes every aio with NNG_ECLOSED; stopping them
     * waits for callbacks still running. */
    nng_close(d->sock);
    for (int i = 0; i < d->nctx; i++) {
        nng_aio_stop(d->ctxs[i].aio);
        /* A frame received but not yet handled, or a reply that failed to go, is ours. */
        struct rctx *r = &d->ctxs[i];
        int rv = nng_aio_result(r->aio);
        nng_msg *m = nng_aio_get_msg(r->aio);
        if (m && ((r->state == CTX_RECV && rv == 0) || (r->state == CTX_SEND && rv != 0)))
            nng_msg_free(m);
        nng_aio_free(d->ctxs[i].aio);
    }
    for (int i = 0; i < d->njobs; i++)
        if (d->jobs[i].state != JOB_FREE)
            job_finish(d, i, DISPATCH_SHUTDOWN, NULL);
    event_free(d->wake);
    event_free(d->watch);
    pthread_mutex_destroy(&d->lock);
    free(d->dead);
    free(d->workers);
    free(d->jobs);
    free(d->free_jobs);
    free(d->ctxs);
    free(d);
}
