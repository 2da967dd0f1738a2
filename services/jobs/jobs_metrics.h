/*
 * jobs_metrics — bin/jobs's GET /metrics on METRICS_LISTEN (Prometheus text
 * 0.0.4, docs/OBSERVABILITY.md): what the outboxes hold, read from the
 * database at each scrape, and what this process has done.
 *
 * bin/jobs has no HTTP server and no link to the edge, so it gets a port of
 * its own: one thread accepts connections one at a time, answers GET
 * /metrics and closes (a scrape every few seconds needs nothing more).
 * Whoever reaches the port may read it; leave it unpublished.
 */
#ifndef TM_JOBS_METRICS_H
#define TM_JOBS_METRICS_H

#include "common/config.h"

/* Starts the listener thread when METRICS_LISTEN is set; fatal if it cannot listen. */
void jobs_metrics_start(const struct config *cfg);

/* One pass of a jobs thread: w and m as webhook_run_one and mail_run_one
 * return them (>0 one handled, 0 nothing due, <0 a database failure). */
void jobs_metrics_pass(int w, int m);

#endif
