/*
 * edge_dispatch — nng REQ contexts bridged into libevent. See edge_dispatch.h.
 *
 * Threading: nng calls on_aio() on its own threads. on_aio() only advances
 * the send->recv step (allowed: it touches nothing but the slot's own aio) or
 * pushes the finished slot onto `done` under a mutex and wakes the loop.
 * Everything else, including user callbacks, runs on the loop thread.
 */
#include "services/edge/edge_dispatch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include "common/log.h"
#include "common/util.h"

#define HEARTBEAT_MS 2000
#define READY_WINDOW_MS 6000

enum slot_state { SLOT_FREE, SLOT_SEND, SLOT_RECV };

struct slot {
    struct dispatcher *d;
    nng_ctx ctx;
    nng_aio *aio;
    enum slot_state state;
    int64_t deadline_mono;
    dispatch_cb cb;
    void *arg;
    uint8_t id[ENV_ID_LEN];
    struct slot *next;
};

struct pending {
    uint8_t *buf;
    size_t len;
    uint8_t id[ENV_ID_LEN];
    int64_t deadline_mono;
    dispatch_cb cb;
    void *arg;
    struct pending *next;
};

struct dispatcher {
    struct event_base *base;
    const struct config *cfg;
    nng_socket sock;
    struct slot *slots;
    int nslots;
    struct slot *free_slots;
    struct pending *queue_head, *queue_tail;
    int queued, queue_cap;
    int busy;                      /* slots in use */
    pthread_mutex_t lock;          /* guards `done` */
    struct slot *done;
    struct event *wake;
    struct event *heartbeat;
    bool heartbeat_inflight;
    int64_t last_answer_mono;
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

static void on_aio(void *arg)
{
    struct slot *s = arg;
    struct dispatcher *d = s->d;
    if (s->state == SLOT_SEND) {
        if (nng_aio_result(s->aio) == 0) {
            int64_t left = s->deadline_mono - mono_ms();
            s->state = SLOT_RECV;
            nng_aio_set_timeout(s->aio, left > 1 ? (nng_duration)left : 1);
            nng_ctx_recv(s->ctx, s->aio);
            return;
        }
        /* A failed send leaves the message with us. */
        nng_msg *m = nng_aio_get_msg(s->aio);
        if (m)
            nng_msg_free(m);
        nng_aio_set_msg(s->aio, NULL);
    }
    pthread_mutex_lock(&d->lock);
    s->next = d->done;
    d->done = s;
    pthread_mutex_unlock(&d->lock);
    event_active(d->wake, EV_READ, 0);
}

static void start_slot(struct dispatcher *d, struct slot *s, uint8_t *buf, size_t len, const uint8_t *id,
                       int64_t deadline_mono, dispatch_cb cb, void *arg)
{
    nng_msg *m;
    if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, buf, len) != 0)
        fatal("out of memory building an nng message");
    free(buf);
    memcpy(s->id, id, ENV_ID_LEN);
    s->cb = cb;
    s->arg = arg;
    s->deadline_mono = deadline_mono;
    s->state = SLOT_SEND;
    d->busy++;
    int64_t left = deadline_mono - mono_ms();
    nng_aio_set_msg(s->aio, m);
    nng_aio_set_timeout(s->aio, left > 1 ? (nng_duration)left : 1);
    nng_ctx_send(s->ctx, s->aio);
}

static void finish_slot(struct dispatcher *d, struct slot *s)
{
    int rv = nng_aio_result(s->aio);
    enum dispatch_status st = DISPATCH_OK;
    struct env_response resp;
    const char *why = NULL;
    bool have_resp = false;

    if (s->state == SLOT_RECV && rv == 0) {
        nng_msg *m = nng_aio_get_msg(s->aio);
        nng_aio_set_msg(s->aio, NULL);
        if (env_response_decode(nng_msg_body(m), nng_msg_len(m), &resp, &why) != 0) {
            log_warn("invalid reply from a worker: %s", why ? why : "?");
            st = DISPATCH_BAD_REPLY;
        } else if (memcmp(resp.id, s->id, ENV_ID_LEN) != 0) {
            log_warn("reply from a worker carries another request's id");
            env_response_free(&resp);
            st = DISPATCH_BAD_REPLY;
        } else {
            have_resp = true;
            d->last_answer_mono = mono_ms();
        }
        nng_msg_free(m);
    } else if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
        st = DISPATCH_SHUTDOWN;
    } else {
        st = DISPATCH_TIMEOUT;
    }

    dispatch_cb cb = s->cb;
    void *arg = s->arg;
    s->state = SLOT_FREE;
    s->cb = NULL;
    s->next = d->free_slots;
    d->free_slots = s;
    d->busy--;
    cb(arg, st, have_resp ? &resp : NULL);
    if (have_resp)
        env_response_free(&resp);
}

static void drain_queue(struct dispatcher *d)
{
    while (d->queue_head && d->free_slots) {
        struct pending *p = d->queue_head;
        d->queue_head = p->next;
        if (!d->queue_head)
            d->queue_tail = NULL;
        d->queued--;
        if (p->deadline_mono <= mono_ms()) {
            free(p->buf);
            p->cb(p->arg, DISPATCH_TIMEOUT, NULL);
            free(p);
            continue;
        }
        struct slot *s = d->free_slots;
        d->free_slots = s->next;
        start_slot(d, s, p->buf, p->len, p->id, p->deadline_mono, p->cb, p->arg);
        free(p);
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dispatcher *d = arg;
    pthread_mutex_lock(&d->lock);
    struct slot *list = d->done;
    d->done = NULL;
    pthread_mutex_unlock(&d->lock);
    while (list) {
        struct slot *s = list;
        list = s->next;
        finish_slot(d, s);
    }
    drain_queue(d);
}

static void on_heartbeat_reply(void *arg, enum dispatch_status status, const struct env_response *resp)
{
    struct dispatcher *d = arg;
    d->heartbeat_inflight = false;
    if (status != DISPATCH_OK || !resp)
        log_debug("heartbeat: %s", dispatch_status_text(status));
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct dispatcher *d = arg;
    if (d->heartbeat_inflight || d->closing)
        return;
    struct env_request req = {.op = ENV_OP_AUTH, .args = "{}", .args_len = 2};
    strcpy(req.name, "health.ping");
    req.deadline_ms = now_ms() + READY_WINDOW_MS - HEARTBEAT_MS;
    d->heartbeat_inflight = true;
    dispatch_submit(d, &req, on_heartbeat_reply, d);
}

struct dispatcher *dispatch_new(struct event_base *base, const struct config *cfg)
{
    struct dispatcher *d = xcalloc(1, sizeof *d);
    int rv;
    d->base = base;
    d->cfg = cfg;
    d->nslots = cfg->max_inflight;
    d->queue_cap = cfg->max_inflight * 16;
    pthread_mutex_init(&d->lock, NULL);

    if ((rv = nng_req0_open(&d->sock)) != 0)
        fatal("nng_req0_open: %s", nng_strerror(rv));
    /* A request outstanding longer than a statement can run is resent (to a
     * live worker if its first one died); writes are idempotent by id. Must be
     * set before contexts are opened: they copy it. */
    nng_socket_set_ms(d->sock, NNG_OPT_REQ_RESENDTIME, cfg->statement_timeout_ms + 5000);
    nng_socket_set_size(d->sock, NNG_OPT_RECVMAXSZ, ENV_MAX_MESSAGE);
    if (!strncmp(cfg->worker_listen, "ipc://", 6))
        unlink(cfg->worker_listen + 6);   /* a socket file left by a previous edge */
    if ((rv = nng_listen(d->sock, cfg->worker_listen, NULL, 0)) != 0)
        fatal("cannot listen for workers on %s: %s", cfg->worker_listen, nng_strerror(rv));

    d->slots = xcalloc((size_t)d->nslots, sizeof *d->slots);
    for (int i = d->nslots - 1; i >= 0; i--) {
        struct slot *s = &d->slots[i];
        s->d = d;
        if ((rv = nng_ctx_open(&s->ctx, d->sock)) != 0 || (rv = nng_aio_alloc(&s->aio, on_aio, s)) != 0)
            fatal("nng context setup: %s", nng_strerror(rv));
        s->next = d->free_slots;
        d->free_slots = s;
    }
    d->wake = event_new(base, -1, EV_PERSIST, on_wake, d);
    event_add(d->wake, NULL);
    d->heartbeat = event_new(base, -1, EV_PERSIST, on_heartbeat, d);
    struct timeval tv = {HEARTBEAT_MS / 1000, (HEARTBEAT_MS % 1000) * 1000};
    event_add(d->heartbeat, &tv);
    event_active(d->heartbeat, EV_TIMEOUT, 0);
    log_info("listening for workers on %s", cfg->worker_listen);
    return d;
}

void dispatch_submit(struct dispatcher *d, struct env_request *req, dispatch_cb cb, void *arg)
{
    if (d->closing) {
        cb(arg, DISPATCH_SHUTDOWN, NULL);
        return;
    }
    random_bytes(req->id, ENV_ID_LEN);
    if (req->deadline_ms == 0)
        req->deadline_ms = now_ms() + d->cfg->request_deadline_ms;
    int64_t deadline_mono = mono_ms() + (req->deadline_ms - now_ms());
    uint8_t *buf;
    size_t len;
    env_request_encode(req, &buf, &len);

    if (d->free_slots && !d->queue_head) {
        struct slot *s = d->free_slots;
        d->free_slots = s->next;
        start_slot(d, s, buf, len, req->id, deadline_mono, cb, arg);
        return;
    }
    if (d->queued >= d->queue_cap) {
        free(buf);
        cb(arg, DISPATCH_OVERLOAD, NULL);
        return;
    }
    struct pending *p = xcalloc(1, sizeof *p);
    p->buf = buf;
    p->len = len;
    memcpy(p->id, req->id, ENV_ID_LEN);
    p->deadline_mono = deadline_mono;
    p->cb = cb;
    p->arg = arg;
    if (d->queue_tail)
        d->queue_tail->next = p;
    else
        d->queue_head = p;
    d->queue_tail = p;
    d->queued++;
}

bool dispatch_ready(const struct dispatcher *d)
{
    return d->last_answer_mono != 0 && mono_ms() - d->last_answer_mono < READY_WINDOW_MS;
}

int dispatch_inflight(const struct dispatcher *d)
{
    return d->busy + d->queued;
}

void dispatch_free(struct dispatcher *d)
{
    if (!d)
        return;
    d->closing = true;
    /* Stop every aio first (waits for running callbacks), then close. */
    for (int i = 0; i < d->nslots; i++)
        nng_aio_stop(d->slots[i].aio);
    for (int i = 0; i < d->nslots; i++) {
        struct slot *s = &d->slots[i];
        if (s->state != SLOT_FREE) {
            nng_msg *m = nng_aio_get_msg(s->aio);
            if (m)
                nng_msg_free(m);
            s->cb(s->arg, DISPATCH_SHUTDOWN, NULL);
        }
        nng_ctx_close(s->ctx);
        nng_aio_free(s->aio);
    }
    while (d->queue_head) {
        struct pending *p = d->queue_head;
        d->queue_head = p->next;
        p->cb(p->arg, DISPATCH_SHUTDOWN, NULL);
        free(p->buf);
        free(p);
    }
    nng_close(d->sock);
    event_free(d->wake);
    event_free(d->heartbeat);
    pthread_mutex_destroy(&d->lock);
    free(d->slots);
    free(d);
}
