/*
 * edge_metrics — /metrics, request counting and the request id. See edge_metrics.h.
 *
 * Everything here runs on the event loop thread.
 */
#include "services/edge/edge_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "common/version.h"
#include "proto/errors.h"
#include "services/edge/archives_http.h"
#include "services/edge/edge_http.h"
#include "services/edge/gateway_http.h"

#define TRACK_BUCKETS 1024
#define TRACK_MAX 65536            /* requests awaiting a reply whose start we remember */
#define POLL_MS 1000               /* workers asked about once a second while scraped */
#define POLL_MAX_ASKS 64
#define POLL_DEADLINE_MS 2000
#define SCRAPED_RECENTLY_MS (5 * 60 * 1000)
#define WORKER_STALE_MS 30000      /* a worker not heard of for this long is dropped */
#define MAX_WORKERS 128
#define MAX_WORKER_TEXT (256 * 1024)
#define MAX_WORKER_ID 128

/* Routes served, exactly as edge_http.c routes them; the two prefixed ones
 * are labelled by their prefix. */
static const char *const exact_routes[] = {
    "/api/mcp",
    "/healthz",
    "/readyz",
    "/metrics",
    "/.well-known/oauth-protected-resource/api/mcp",
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-authorization-server",
    "/.well-known/jwks.json",
    "/oauth/register",
    "/oauth/authorize",
    "/oauth/token",
    "/oauth/revoke",
    "/invitations/accept",
};

struct tracked {
    struct evhttp_request *req;
    uint8_t rid[LOG_REQUEST_ID_BYTES];
    struct timespec start;
    struct tracked *next;
};

struct worker_snap {
    char id[MAX_WORKER_ID];
    char *text;
    int64_t seen_mono;
};

static struct {
    bool ready;
    struct metrics *reg;
    struct metric *requests, *request_seconds, *tools, *tool_seconds;
    struct metric *in_flight, *dispatch_in_flight, *queue_depth, *idle_threads, *workers_connected, *workers_ready,
        *workers_reporting, *build, *start_time;
    struct tracked *table[TRACK_BUCKETS];
    int ntracked;
    uint8_t current[LOG_REQUEST_ID_BYTES];
    bool have_current;
    struct edge *e;
    struct event *poll;
    int poll_inflight;             /* health.metrics asks not yet answered */
    int64_t last_scrape_mono;
    struct worker_snap workers[MAX_WORKERS];
    int nworkers;
    double started;
} M;

static void init(void)
{
    if (M.ready)
        return;
    M.ready = true;
    M.reg = metrics_new();
    M.requests = metrics_family(M.reg, METRIC_COUNTER, "tm_http_requests_total",
                                "HTTP requests answered, by route pattern, method and status.",
                                "route,method,status", NULL, 0);
    M.request_seconds = metrics_family(M.reg, METRIC_HISTOGRAM, "tm_http_request_duration_seconds",
                                       "Time from a request's arrival to its reply, by route pattern.", "route",
                                       metrics_latency_buckets, metrics_latency_nbuckets);
    M.in_flight = metrics_family(M.reg, METRIC_GAUGE, "tm_http_requests_in_flight",
                                 "HTTP requests received and not yet answered.", "", NULL, 0);
    M.tools = metrics_family(M.reg, METRIC_COUNTER, "tm_tool_calls_total", "MCP tool calls, by tool and outcome.",
                             "tool,outcome", NULL, 0);
    M.tool_seconds = metrics_family(M.reg, METRIC_HISTOGRAM, "tm_tool_call_duration_seconds",
                                    "MCP tool call latency at the edge, by tool.", "tool", metrics_latency_buckets,
                                    metrics_latency_nbuckets);
    M.dispatch_in_flight = metrics_family(M.reg, METRIC_GAUGE, "tm_dispatch_in_flight",
                                          "Envelopes sent to workers or queued, not yet answered.", "", NULL, 0);
    M.queue_depth = metrics_family(M.reg, METRIC_GAUGE, "tm_dispatch_queue_depth",
                                   "Envelopes waiting for a free dispatch slot.", "", NULL, 0);
    M.idle_threads = metrics_family(M.reg, METRIC_GAUGE, "tm_dispatch_idle_threads",
                                    "Worker threads waiting at this edge for a job.", "", NULL, 0);
    M.workers_connected = metrics_family(M.reg, METRIC_GAUGE, "tm_workers_connected",
                                         "Worker processes heard from in the last 6 s.", "", NULL, 0);
    M.workers_ready = metrics_family(M.reg, METRIC_GAUGE, "tm_workers_ready",
                                     "1 when some worker was heard from in the last 6 s (as /readyz).", "", NULL,
                                     0);
    M.workers_reporting = metrics_family(M.reg, METRIC_GAUGE, "tm_workers_reporting",
                                         "Workers whose metrics this edge holds (answered within 30 s).", "", NULL,
                                         0);
    M.build = metrics_family(M.reg, METRIC_GAUGE, "tm_build_info", "Version of the running binary.",
                             "service,version", NULL, 0);
    M.start_time = metrics_family(M.reg, METRIC_GAUGE, "tm_process_start_time_seconds",
                                  "Start time of the process, seconds since the epoch.", "service", NULL, 0);
    M.started = (double)now_ms() / 1000.0;
}

/* ---- labels --------------------------------------------------------------- */

const char *edge_metrics_route_label(const char *path)
{
    for (size_t i = 0; i < TM_ARRAY_LEN(exact_routes); i++)
        if (!strcmp(path, exact_routes[i]))
            return exact_routes[i];
    if (!strncmp(path, ARCHIVES_PATH_PREFIX, strlen(ARCHIVES_PATH_PREFIX)))
        return ARCHIVES_PATH_PREFIX "*";
    if (!strncmp(path, GATEWAY_PATH_PREFIX, strlen(GATEWAY_PATH_PREFIX)))
        return GATEWAY_PATH_PREFIX "*";
    return "other";
}

const char *edge_metrics_outcome_label(const char *outcome)
{
    static const char *const extra[] = {"ok", "insufficient_scope", "invalid_argument"};
    static const struct {
        enum dispatch_status st;
        const char *label;
    } dispatch[] = {{DISPATCH_TIMEOUT, "timeout"},
                    {DISPATCH_OVERLOAD, "overload"},
                    {DISPATCH_BAD_REPLY, "bad_reply"},
                    {DISPATCH_SHUTDOWN, "shutdown"}};
    if (!outcome)
        return "other";
    for (size_t i = 0; i < TM_ARRAY_LEN(extra); i++)
        if (!strcmp(outcome, extra[i]))
            return extra[i];
    int code = tm_error_from_name(outcome, strlen(outcome));
    if (code > 0)
        return tm_error_name((enum tm_error)code);
    for (size_t i = 0; i < TM_ARRAY_LEN(dispatch); i++)
        if (!strcmp(outcome, dispatch_status_text(dispatch[i].st)))
            return dispatch[i].label;
    if (!strcmp(outcome, "bad result"))
        return "bad_result";
    return "other";
}

static const char *method_label(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

/* ---- request id and timing ------------------------------------------------ */

static size_t bucket_of(const struct evhttp_request *req)
{
    uintptr_t p = (uintptr_t)req;
    return (size_t)((p >> 4) ^ (p >> 14)) % TRACK_BUCKETS;
}

void edge_request_begin(struct evhttp_request *req)
{
    init();
    uint8_t rid[LOG_REQUEST_ID_BYTES];
    random_bytes(rid, sizeof rid);
    memcpy(M.current, rid, sizeof rid);
    M.have_current = true;
    log_set_request_id(rid);
    char hex[LOG_REQUEST_ID_LEN + 1];
    hex_encode(rid, sizeof rid, hex);
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Request-Id", hex);
    if (M.ntracked >= TRACK_MAX)
        return;   /* counted anyway when it is answered, without a latency */
    struct tracked *t = xcalloc(1, sizeof *t);
    t->req = req;
    memcpy(t->rid, rid, sizeof rid);
    clock_gettime(CLOCK_MONOTONIC, &t->start);
    size_t b = bucket_of(req);
    t->next = M.table[b];
    M.table[b] = t;
    M.ntracked++;
}

void edge_request_leave(void)
{
    M.have_current = false;
    log_set_request_id(NULL);
}

void edge_request_stamp(uint8_t id[ENV_ID_LEN])
{
    random_bytes(id, ENV_ID_LEN);
    if (M.have_current)
        memcpy(id, M.current, LOG_REQUEST_ID_BYTES);
}

void edge_request_enter(const uint8_t id[ENV_ID_LEN])
{
    memcpy(M.current, id, LOG_REQUEST_ID_BYTES);
    M.have_current = true;
    log_set_request_id(id);
}

double edge_metrics_reply(struct evhttp_request *req, int status)
{
    init();
    char path[1024];
    const char *route = http_path(req, path, sizeof path) ? edge_metrics_route_label(path) : "other";
    char st[16];
    snprintf(st, sizeof st, "%d", status);
    metric_add(M.requests, (const char *[]){route, method_label(evhttp_request_get_command(req)), st}, 1);

    struct tracked **pp = &M.table[bucket_of(req)];
    while (*pp && (*pp)->req != req)
        pp = &(*pp)->next;
    struct tracked *t = *pp;
    if (!t)
        return -1;
    *pp = t->next;
    M.ntracked--;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double secs = (double)(now.tv_sec - t->start.tv_sec) + (double)(now.tv_nsec - t->start.tv_nsec) / 1e9;
    metric_observe(M.request_seconds, (const char *[]){route}, secs);
    /* The access log line that follows names this request even when the
     * reply is sent from a timer. */
    log_set_request_id(t->rid);
    free(t);
    return secs;
}

void edge_metrics_tool(const char *tool, const char *outcome, int64_t ms)
{
    init();
    const char *name = tool ? tool : "other";
    metric_add(M.tools, (const char *[]){name, edge_metrics_outcome_label(outcome)}, 1);
    metric_observe(M.tool_seconds, (const char *[]){name}, (double)ms / 1000.0);
}

/* ---- workers -------------------------------------------------------------- */

static void drop_worker(int i)
{
    free(M.workers[i].text);
    M.workers[i] = M.workers[--M.nworkers];
}

static void expire_workers(void)
{
    int64_t now = mono_ms();
    for (int i = 0; i < M.nworkers;)
        if (now - M.workers[i].seen_mono > WORKER_STALE_MS)
            drop_worker(i);
        else
            i++;
}

/* {"id": "<host:pid>", "metrics": "<exposition text>"} from health.metrics. */
static void on_worker_metrics(void *arg, enum dispatch_status status, const struct env_response *resp)
{
    (void)arg;
    M.poll_inflight--;
    if (status != DISPATCH_OK || !resp->ok || resp->result_len > MAX_WORKER_TEXT + 1024)
        return;
    json_t *v = json_loadb(resp->result, resp->result_len, 0, NULL);
    const char *id = json_string_value(json_object_get(v, "id"));
    const char *text = json_string_value(json_object_get(v, "metrics"));
    if (!id || !text || strlen(id) >= MAX_WORKER_ID || !*id) {
        json_decref(v);
        return;
    }
    int i = 0;
    while (i < M.nworkers && strcmp(M.workers[i].id, id))
        i++;
    if (i == M.nworkers) {
        if (M.nworkers == MAX_WORKERS) {
            json_decref(v);
            return;
        }
        M.nworkers++;
        snprintf(M.workers[i].id, sizeof M.workers[i].id, "%s", id);
        M.workers[i].text = NULL;
    }
    free(M.workers[i].text);
    M.workers[i].text = xstrdup(text);
    M.workers[i].seen_mono = mono_ms();
    json_decref(v);
}

/* The next ask in 0.75 to 1.25 POLL_MS: a fixed period would lock onto the
 * scrape interval (both start at the first scrape), and every scrape would
 * then find the workers' threads busy answering the asks. */
static void arm_poll(void)
{
    uint32_t r;
    random_bytes(&r, sizeof r);
    int ms = POLL_MS * 3 / 4 + (int)(r % (POLL_MS / 2 + 1));
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(M.poll, &tv);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    expire_workers();
    if (!event_pending(M.poll, EV_TIMEOUT, NULL))
        arm_poll();
    if (M.poll_inflight || mono_ms() - M.last_scrape_mono > SCRAPED_RECENTLY_MS || M.e->draining)
        return;
    /* One ask per waiting worker thread: each goes to a different thread, so
     * every worker with a free thread answers within the second. */
    int asks = dispatch_idle_threads(M.e->dispatch);
    asks = asks < 1 ? 1 : asks > POLL_MAX_ASKS ? POLL_MAX_ASKS : asks;
    for (int i = 0; i < asks; i++) {
        struct env_request req = {.op = ENV_OP_AUTH, .args = "{}", .args_len = 2};
        strcpy(req.name, "health.metrics");
        req.deadline_ms = now_ms() + POLL_DEADLINE_MS;
        M.poll_inflight++;
        dispatch_submit(M.e->dispatch, &req, on_worker_metrics, NULL);
    }
}

/* ---- GET /metrics --------------------------------------------------------- */

static bool is_loopback(const char *ip)
{
    return !strncmp(ip, "127.", 4) || !strcmp(ip, "::1") || !strncmp(ip, "::ffff:127.", 11);
}

static bool allowed(struct edge *e, struct evhttp_request *req)
{
    const char *token = e->cfg->metrics_token;
    if (token[0]) {
        const char *auth = http_header(req, "Authorization");
        if (!auth || strncasecmp(auth, "Bearer ", 7))
            return false;
        return ct_equal(auth + 7, strlen(auth + 7), token, strlen(token));
    }
    /* Behind a reverse proxy every peer is the proxy: a forwarded request is
     * someone else's and needs the token. */
    if (http_header(req, "Forwarded") || http_header(req, "X-Forwarded-For") || http_header(req, "X-Real-IP"))
        return false;
    char ip[64];
    http_client_ip(req, ip, sizeof ip);
    return is_loopback(ip);
}

static void fill_gauges(struct edge *e)
{
    /* Without the edge's own health.metrics asks: monitoring is not load.
     * With nothing queued every ask is at a thread that would otherwise be
     * idle; with a queue, no thread is idle either way. */
    int queued = dispatch_queued(e->dispatch);
    metric_set(M.in_flight, NULL, e->active);
    metric_set(M.dispatch_in_flight, NULL, dispatch_inflight(e->dispatch) - M.poll_inflight);
    metric_set(M.queue_depth, NULL, queued);
    metric_set(M.idle_threads, NULL, dispatch_idle_threads(e->dispatch) + (queued ? 0 : M.poll_inflight));
    metric_set(M.workers_connected, NULL, dispatch_workers(e->dispatch));
    metric_set(M.workers_ready, NULL, dispatch_ready(e->dispatch) ? 1 : 0);
    metric_set(M.workers_reporting, NULL, M.nworkers);
    metric_set(M.build, (const char *[]){"edge", TM_VERSION}, 1);
    metric_set(M.start_time, (const char *[]){"edge"}, M.started);
}

/* trusted: from the METRICS_LISTEN listener, where reaching the port is the permission. */
static void serve(struct edge *e, struct evhttp_request *req, bool trusted)
{
    init();
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (!trusted && !allowed(e, req)) {
        /* As if it did not exist: nothing tells a stranger there is something to guess. */
        http_reply_error(e, req, 404, "not_found", "no such path");
        return;
    }
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        http_reply_error(e, req, 405, "method_not_allowed", "use GET");
        return;
    }
    if (!M.poll) {
        M.e = e;
        M.poll = event_new(e->base, -1, 0, on_poll, NULL);
        arm_poll();
    }
    bool first = M.last_scrape_mono == 0;
    M.last_scrape_mono = mono_ms();
    if (first)
        event_active(M.poll, EV_TIMEOUT, 0);   /* ask a worker now rather than in a second */
    expire_workers();
    fill_gauges(e);

    struct strbuf b;
    sb_init(&b, 16384);
    metrics_render(M.reg, &b);
    if (M.nworkers) {
        const char *ids[MAX_WORKERS], *texts[MAX_WORKERS];
        for (int i = 0; i < M.nworkers; i++) {
            ids[i] = M.workers[i].id;
            texts[i] = M.workers[i].text;
        }
        metrics_merge(&b, "worker", ids, texts, M.nworkers);
    }
    size_t len;
    char *text = sb_take(&b, &len);
    http_reply(e, req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

void edge_metrics_route(struct edge *e, struct evhttp_request *req)
{
    serve(e, req, false);
}

/* ---- METRICS_LISTEN ------------------------------------------------------- */

static struct evhttp *metrics_http;

static void on_metrics_request(struct evhttp_request *req, void *arg)
{
    struct edge *e = arg;
    e->active++;   /* http_reply counts it down */
    edge_request_begin(req);
    char path[64];
    if (http_path(req, path, sizeof path) && !strcmp(path, "/metrics"))
        serve(e, req, true);
    else
        http_reply_error(e, req, 404, "not_found", "no such path");
    edge_request_leave();
}

bool edge_metrics_listen(struct edge *e)
{
    if (!e->cfg->metrics_listen_port)
        return true;
    metrics_http = evhttp_new(e->base);
    evhttp_set_gencb(metrics_http, on_metrics_request, e);
    evhttp_set_max_body_size(metrics_http, 4096);
    evhttp_set_max_headers_size(metrics_http, EDGE_MAX_HEADERS);
    evhttp_set_timeout(metrics_http, 30);
    evhttp_set_allowed_methods(metrics_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    if (evhttp_bind_socket(metrics_http, e->cfg->metrics_listen_host, (ev_uint16_t)e->cfg->metrics_listen_port)) {
        log_error("cannot listen for metrics on %s:%d", e->cfg->metrics_listen_host, e->cfg->metrics_listen_port);
        return false;
    }
    log_info("serving /metrics on %s:%d", e->cfg->metrics_listen_host, e->cfg->metrics_listen_port);
    return true;
}

void edge_metrics_stop(void)
{
    if (metrics_http)
        evhttp_free(metrics_http);
    metrics_http = NULL;
    if (M.poll)
        event_free(M.poll);
    M.poll = NULL;
}
