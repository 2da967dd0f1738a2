/*
 * worker_metrics — counters of the envelopes this worker answered. See worker_metrics.h.
 *
 * Family names start with tm_worker_ so that they never collide with the
 * edge's own families when the edge serves both on one page.
 */
#include "services/worker/worker_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "common/version.h"
#include "proto/catalog.h"
#include "proto/errors.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct metrics *reg;
static struct metric *requests, *seconds, *threads, *build, *start_time;
static double started;

static void init(void)
{
    reg = metrics_new();
    requests = metrics_family(reg, METRIC_COUNTER, "tm_worker_requests_total",
                              "Envelopes this worker answered, by operation kind, name and outcome.",
                              "op,name,outcome", NULL, 0);
    seconds = metrics_family(reg, METRIC_HISTOGRAM, "tm_worker_request_duration_seconds",
                             "Time this worker took to answer an envelope, by operation kind.", "op",
                             metrics_latency_buckets, metrics_latency_nbuckets);
    threads = metrics_family(reg, METRIC_GAUGE, "tm_worker_threads",
                             "Threads (and database connections) of this worker (WORKER_THREADS).", "", NULL, 0);
    build = metrics_family(reg, METRIC_GAUGE, "tm_worker_build_info", "Version of the running worker.", "version",
                           NULL, 0);
    start_time = metrics_family(reg, METRIC_GAUGE, "tm_worker_start_time_seconds",
                                "Start time of the worker process, seconds since the epoch.", "", NULL, 0);
    started = (double)now_ms() / 1000.0;
}

/* Names come from the edge, which sends only catalog and built-in names; a
 * name that is neither is labelled "other" so that it cannot add series. */
static const char *name_label(const struct env_request *req, const struct env_response *r)
{
    if (catalog_find(req->name))
        return req->name;
    if (!r->ok && r->code == TM_ERR_NOT_FOUND && r->message && !strcmp(r->message, "unknown operation"))
        return "other";
    for (const char *p = req->name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_' || *p == '.'))
            return "other";
    return req->name;
}

void worker_metrics_done(const struct config *cfg, const struct env_request *req, const struct env_response *r,
                         int64_t ms)
{
    (void)cfg;
    /* The edge's heartbeats and metrics asks are not work: leaving them out
     * keeps the counters a measure of load. */
    if (!strncmp(req->name, "health.", 7))
        return;
    pthread_once(&once, init);
    const char *op = env_op_name(req->op);
    metric_add(requests, (const char *[]){op, name_label(req, r), r->ok ? "ok" : tm_error_name(r->code)}, 1);
    metric_observe(seconds, (const char *[]){op}, (double)ms / 1000.0);
}

char *worker_metrics_json(const struct config *cfg)
{
    pthread_once(&once, init);
    metric_set(threads, NULL, cfg->worker_threads > 0 ? cfg->worker_threads : 1);
    metric_set(build, (const char *[]){TM_VERSION}, 1);
    metric_set(start_time, NULL, started);
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    char id[128];
    snprintf(id, sizeof id, "%s:%ld", host[0] ? host : "worker", (long)getpid());
    struct strbuf b;
    sb_init(&b, 8192);
    metrics_render(reg, &b);
    size_t len;
    char *text = sb_take(&b, &len);
    json_t *v = json_pack("{s:s,s:s%}", "id", id, "metrics", text, len);
    free(text);
    char *out = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!out)
        fatal("out of memory");
    return out;
}
