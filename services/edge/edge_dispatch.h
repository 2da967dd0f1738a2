/*
 * edge_dispatch — sends request envelopes to the workers and brings their
 * answers back to the event loop, never blocking it.
 *
 * Worker pull (docs/DESIGN.md "Edge dispatch", proto/pull.h): the edge
 * listens on WORKER_LISTEN with an nng REP socket; every worker thread dials
 * in with REQ and asks for a job when it is free. Requests wait in a bounded
 * queue at the edge until a free thread asks, so a job only ever goes to an
 * idle thread and a slow or stopped worker receives nothing more. Beyond the
 * queue's bound (EDGE_MAX_INFLIGHT x 17 requests) a request is refused at
 * once (DISPATCH_OVERLOAD).
 *
 * A watchdog (every 100 ms) answers requests whose deadline passed, takes
 * back the jobs of a worker that has sent nothing for STALL_MS (it closes
 * that connection; the jobs go to the front of the queue), and sends a job
 * again that has had no answer for STATEMENT_TIMEOUT_MS + 5 s. Delivery is
 * therefore at least once; writes are idempotent by request id in the
 * worker. The first answer completes a request; later ones are dropped.
 *
 * nng completes aios and reports connections on its own threads; those only
 * queue the event and wake the loop with event_active(), and everything else,
 * user callbacks included, runs on the loop thread.
 */
#ifndef TM_EDGE_DISPATCH_H
#define TM_EDGE_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include "common/config.h"
#include "proto/envelope.h"

enum dispatch_status {
    DISPATCH_OK = 0,        /* resp is filled (it may still carry a tool error) */
    DISPATCH_TIMEOUT,       /* no worker answered before the deadline */
    DISPATCH_OVERLOAD,      /* too much in flight: refused without sending */
    DISPATCH_BAD_REPLY,     /* a worker answered something undecodable */
    DISPATCH_SHUTDOWN,
};

/* Called exactly once, on the loop thread. resp is valid only during the call
 * (the dispatcher frees it afterwards); NULL unless status is DISPATCH_OK. */
typedef void (*dispatch_cb)(void *arg, enum dispatch_status status, const struct env_response *resp);

struct dispatcher;

struct dispatcher *dispatch_new(struct event_base *base, const struct config *cfg);
void dispatch_free(struct dispatcher *d);

/* Encodes and queues req (its id is filled in here: the current request id
 * of edge_metrics.h, then random bytes; its deadline with now +
 * REQUEST_DEADLINE_MS when zero). */
void dispatch_submit(struct dispatcher *d, struct env_request *req, dispatch_cb cb, void *arg);

/* True while some worker has been heard from in the last 6 s. */
bool dispatch_ready(const struct dispatcher *d);
int dispatch_inflight(const struct dispatcher *d);   /* queued or sent, not yet answered */
int dispatch_workers(const struct dispatcher *d);    /* worker processes heard from in the last 6 s */
int dispatch_queued(const struct dispatcher *d);     /* waiting for a free worker thread (metrics) */
int dispatch_idle_threads(const struct dispatcher *d); /* worker threads waiting for a job (metrics) */
const char *dispatch_status_text(enum dispatch_status s);

#endif
