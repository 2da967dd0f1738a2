/*
 * worker_metrics — this worker's counters, handed to the edge on request
 * (`health.metrics`, docs/OBSERVABILITY.md): the edge serves them on its
 * /metrics with a `worker` label, so workers need no port of their own and
 * can be scaled without naming them.
 */
#ifndef TM_WORKER_METRICS_H
#define TM_WORKER_METRICS_H

#include <stdint.h>
#include "common/config.h"
#include "proto/envelope.h"

/* One envelope answered (any op), after ms milliseconds. Thread-safe. */
void worker_metrics_done(const struct config *cfg, const struct env_request *req, const struct env_response *r,
                         int64_t ms);

/* {"id": "<host>:<pid>", "metrics": "<exposition text>"}; malloc'd. */
char *worker_metrics_json(const struct config *cfg);

#endif
