/*
 * jobs_metrics — the outboxes and this process's work as metrics. See jobs_metrics.h.
 */
#include "services/jobs/jobs_metrics.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "common/db.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "common/version.h"

#define REQUEST_MAX 8192
#define IO_TIMEOUT_S 5

static struct metrics *reg;
static struct metric *processed, *db_errors, *pending, *due, *oldest, *up, *build, *start_time;
static double started;
static int listen_fd = -1;
static const struct config *jcfg;

/* Pending rows of both outboxes; the partial indexes on next_attempt_at
 * WHERE status = 'pending' keep this cheap however many rows were delivered. */
static const char SQL_OUTBOXES[] =
    "SELECT 'webhook', count(*), count(*) FILTER (WHERE next_attempt_at <= now()), "
    "       COALESCE(EXTRACT(EPOCH FROM now() - min(next_attempt_at) FILTER (WHERE next_attempt_at <= now())), 0) "
    "  FROM webhook_deliveries WHERE status = 'pending' "
    "UNION ALL "
    "SELECT 'mail', count(*), count(*) FILTER (WHERE next_attempt_at <= now()), "
    "       COALESCE(EXTRACT(EPOCH FROM now() - min(next_attempt_at) FILTER (WHERE next_attempt_at <= now())), 0) "
    "  FROM notifications WHERE status = 'pending'";

static void init(void)
{
    reg = metrics_new();
    processed = metrics_family(reg, METRIC_COUNTER, "tm_jobs_handled_total",
                               "Outbox rows this process handled (an attempt made, whatever its result).", "outbox",
                               NULL, 0);
    db_errors = metrics_family(reg, METRIC_COUNTER, "tm_jobs_database_errors_total",
                               "Passes of a jobs thread that failed on the database.", "", NULL, 0);
    pending = metrics_family(reg, METRIC_GAUGE, "tm_jobs_outbox_pending",
                             "Outbox rows waiting for an attempt (now or later), all processes.", "outbox", NULL, 0);
    due = metrics_family(reg, METRIC_GAUGE, "tm_jobs_outbox_due", "Pending outbox rows whose attempt is due now.",
                         "outbox", NULL, 0);
    oldest = metrics_family(reg, METRIC_GAUGE, "tm_jobs_outbox_oldest_due_seconds",
                            "How long the oldest due outbox row has waited past its attempt time.", "outbox", NULL, 0);
    up = metrics_family(reg, METRIC_GAUGE, "tm_jobs_database_up",
                        "1 when this scrape could read the outboxes from PostgreSQL.", "", NULL, 0);
    build = metrics_family(reg, METRIC_GAUGE, "tm_jobs_build_info", "Version of the running bin/jobs.", "version",
                           NULL, 0);
    start_time = metrics_family(reg, METRIC_GAUGE, "tm_jobs_start_time_seconds",
                                "Start time of the jobs process, seconds since the epoch.", "", NULL, 0);
    started = (double)now_ms() / 1000.0;
    /* Zeros from the start, so that rate() has a first point. */
    metric_add(processed, (const char *[]){"webhook"}, 0);
    metric_add(processed, (const char *[]){"mail"}, 0);
    metric_add(db_errors, NULL, 0);
}

void jobs_metrics_pass(int w, int m)
{
    if (!reg)
        return;
    if (w > 0)
        metric_add(processed, (const char *[]){"webhook"}, 1);
    if (m > 0)
        metric_add(processed, (const char *[]){"mail"}, 1);
    if (w < 0 || m < 0)
        metric_add(db_errors, NULL, 1);
}

static void read_outboxes(struct db *db)
{
    PGresult *res = db_ensure(db) ? db_query(db, SQL_OUTBOXES, 0, NULL) : NULL;
    bool ok = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 2;
    metric_set(up, NULL, ok ? 1 : 0);
    if (ok) {
        for (int i = 0; i < 2; i++) {
            const char *box[1] = {PQgetvalue(res, i, 0)};
            metric_set(pending, box, atof(PQgetvalue(res, i, 1)));
            metric_set(due, box, atof(PQgetvalue(res, i, 2)));
            metric_set(oldest, box, atof(PQgetvalue(res, i, 3)));
        }
    } else {
        /* Numbers from an earlier scrape would look current. */
        metric_clear(pending);
        metric_clear(due);
        metric_clear(oldest);
    }
    PQclear(res);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void answer(int fd, int status, const char *reason, const char *type, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, type, len);
    write_all(fd, head, (size_t)n);
    write_all(fd, body, len);
}

/* Reads up to the end of the request head; false on a timeout, a close or an over-long head. */
static bool read_head(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return true;
    }
    return false;
}

static void serve(int fd, struct db *db)
{
    char req[REQUEST_MAX];
    if (!read_head(fd, req, sizeof req))
        return;
    bool get = !strncmp(req, "GET ", 4), head = !strncmp(req, "HEAD ", 5);
    const char *target = req + (get ? 4 : head ? 5 : 0);
    size_t tlen = strcspn(target, " ?\r\n");
    if (!get && !head) {
        static const char m[] = "{\"error\":\"method_not_allowed\"}";
        answer(fd, 405, "Method Not Allowed", "application/json", m, sizeof m - 1);
        return;
    }
    if (tlen != 8 || strncmp(target, "/metrics", 8)) {
        static const char m[] = "{\"error\":\"not_found\"}";
        answer(fd, 404, "Not Found", "application/json", m, sizeof m - 1);
        return;
    }
    read_outboxes(db);
    metric_set(build, (const char *[]){TM_VERSION}, 1);
    metric_set(start_time, NULL, started);
    struct strbuf b;
    sb_init(&b, 4096);
    metrics_render(reg, &b);
    size_t len;
    char *text = sb_take(&b, &len);
    answer(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", head ? "" : text, head ? 0 : len);
    free(text);
}

static void *listener(void *arg)
{
    (void)arg;
    struct db *db = db_new(jcfg);
    db_set_application_name(db, "jobs metrics");
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
                continue;
            log_warn("metrics listener: accept failed: %s", strerror(errno));
            break;
        }
        struct timeval tv = {IO_TIMEOUT_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        serve(fd, db);
        close(fd);
    }
    db_free(db);
    return NULL;
}

void jobs_metrics_start(const struct config *cfg)
{
    init();
    if (!cfg->metrics_listen_port)
        return;
    jcfg = cfg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    char port[8];
    snprintf(port, sizeof port, "%d", cfg->metrics_listen_port);
    int rv = getaddrinfo(cfg->metrics_listen_host, port, &hints, &ai);
    if (rv != 0)
        fatal("METRICS_LISTEN %s:%d: %s", cfg->metrics_listen_host, cfg->metrics_listen_port, gai_strerror(rv));
    listen_fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    if (listen_fd >= 0)
        setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (listen_fd < 0 || bind(listen_fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(listen_fd, 16) != 0)
        fatal("cannot listen for metrics on %s:%d: %s", cfg->metrics_listen_host, cfg->metrics_listen_port,
              strerror(errno));
    freeaddrinfo(ai);
    pthread_t t;
    if (pthread_create(&t, NULL, listener, NULL) != 0)
        fatal("cannot start the metrics listener");
    pthread_detach(t);
    log_info("serving /metrics on %s:%d", cfg->metrics_listen_host, cfg->metrics_listen_port);
}
