/*
 * edge_metrics — the edge's GET /metrics (Prometheus text format 0.0.4) and
 * the request id that follows a request from the edge to the workers
 * (docs/OBSERVABILITY.md).
 *
 * Every HTTP request gets a fresh 8-byte request id when it arrives. It is
 * echoed as X-Request-Id, set as the log module's request id while the edge
 * works on the request, and becomes the first 8 bytes of the 16-byte id of
 * every envelope sent for it (the other 8 stay random, so envelope ids stay
 * unique for the workers' idempotency records). The worker logs and hands
 * the same 8 bytes to PostgreSQL.
 *
 * The edge runs one event loop, so "the request being worked on" is a
 * variable: set by the HTTP entry point, by the dispatcher around a worker's
 * answer (from the envelope id), and cleared after each.
 *
 * Worker metrics: while /metrics is being scraped (in the last 5 minutes),
 * the edge asks the workers for their metrics (`health.metrics`) every
 * second, one ask per worker thread waiting for a job, so that every worker
 * with a free thread answers; the last answer of each worker (for at most
 * 30 s) is served with a `worker` label.
 *
 * Access on the public port: a loopback peer with no forwarding header, or
 * anyone with `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is
 * set (then the token is required from loopback too). Everyone else gets
 * 404. On METRICS_LISTEN, whoever reaches the port.
 */
#ifndef TM_EDGE_METRICS_H
#define TM_EDGE_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/http.h>
#include "proto/envelope.h"
#include "services/edge/edge.h"

/* A request arrived: new request id, X-Request-Id header, start time. */
void edge_request_begin(struct evhttp_request *req);
/* The edge stopped working on the current request (for now). */
void edge_request_leave(void);
/* Just before the reply goes out: counts it with its route label and latency.
 * Returns the request's time at the edge in seconds, or -1 if it was not
 * tracked (a reply without edge_request_begin). */
double edge_metrics_reply(struct evhttp_request *req, int status);

/* Fills an envelope id: the current request id, then 8 random bytes. */
void edge_request_stamp(uint8_t id[ENV_ID_LEN]);
/* A worker's answer to envelope id is being handled: its request is current. */
void edge_request_enter(const uint8_t id[ENV_ID_LEN]);

/* A tool call ended. tool: a catalog name; outcome: "ok", an error code name
 * or a dispatch_status_text(). */
void edge_metrics_tool(const char *tool, const char *outcome, int64_t ms);

/* GET /metrics. */
void edge_metrics_route(struct edge *e, struct evhttp_request *req);

/* METRICS_LISTEN: a second listener serving only /metrics, to anyone who
 * reaches it (a port left unpublished, on the containers' network). True
 * when it is not configured or listens. */
bool edge_metrics_listen(struct edge *e);
/* Shutdown: closes that listener and stops asking workers for metrics. */
void edge_metrics_stop(void);

/* The route label of path: the route's pattern, or "other". Never the raw
 * path: slugs, ids and unknown paths must not create new series. */
const char *edge_metrics_route_label(const char *path);
/* The outcome label of a tool call outcome text (bounded). */
const char *edge_metrics_outcome_label(const char *outcome);

#endif
