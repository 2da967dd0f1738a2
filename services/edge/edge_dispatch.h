/*
 * edge_dispatch — sends request envelopes to the workers and brings their
 * answers back to the event loop, never blocking it.
 *
 * The edge listens on WORKER_LISTEN with an nng REQ socket; workers dial in.
 * Each request in flight owns one REQ context and one aio from a fixed pool
 * (EDGE_MAX_INFLIGHT); requests beyond the pool wait in a bounded queue, and
 * beyond that are refused at once (DISPATCH_OVERLOAD). nng completes aios on
 * its own threads; those only queue the slot and wake the loop with
 * event_active(), and the callback always runs on the loop thread.
 *
 * A heartbeat (`health.ping`, every 2 s) keeps `dispatch_ready` honest even
 * when there is no traffic: ready means a worker answered within 6 s.
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

/* Encodes and sends req (its id is filled in here with 16 random bytes and
 * its deadline with now + REQUEST_DEADLINE_MS when zero). */
void dispatch_submit(struct dispatcher *d, struct env_request *req, dispatch_cb cb, void *arg);

bool dispatch_ready(const struct dispatcher *d);
int dispatch_inflight(const struct dispatcher *d);   /* sent or queued, not yet answered */
const char *dispatch_status_text(enum dispatch_status s);

#endif
