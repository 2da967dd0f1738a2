/*
 * jobs — drains the outboxes the gateway fills (docs/GATEWAY.md
 * "Outboxes"): webhook deliveries and notification e-mails.
 *
 * JOBS_THREADS threads each own one PostgreSQL connection (as the role
 * tm_jobs, whose policies see every account's outbox rows) and loop: claim
 * one due delivery and one due notification, handle them, and sleep
 * IDLE_MS when there was nothing to do. Any number of jobs processes may run
 * at once: rows are claimed with FOR UPDATE SKIP LOCKED and held by a lease
 * (locked_at), never by an open transaction.
 *
 * Polling rather than LISTEN/NOTIFY: the retry schedule makes most work due
 * at a time rather than on an event, so a timer is needed anyway, and a
 * quarter-second poll of two partial indexes costs nothing.
 *
 * Shutdown (SIGTERM/SIGINT): each thread finishes the delivery or e-mail in
 * hand, records its outcome, and leaves; then the process exits 0.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/db.h"
#include "common/keybox.h"
#include "common/log.h"
#include "common/util.h"
#include "services/jobs/archive.h"
#include "services/jobs/jobs.h"
#include "services/jobs/jobs_metrics.h"
#include "services/jobs/mail.h"
#include "services/jobs/webhook.h"

#define JOBS_THREADS 4
#define IDLE_MS 250
#define SLEEP_STEP_MS 50
#define PARTITIONS_EVERY_MS (6 * 3600 * 1000LL)
#define ARCHIVE_EVERY_MS (24 * 3600 * 1000LL)
#define ARCHIVE_FIRST_MS (60 * 1000LL)   /* the first pass a minute after start, not in a restart loop's way */

static atomic_bool stopping;

struct jobs_thread {
    pthread_t tid;
    int index;
    const struct jobs_ctx *jc;
    const struct smtp_url *relay;   /* NULL: no SMTP_URL; e-mails go to MAIL_DIR if set, else stay queued */
};

/* Sleeps up to ms, waking early when shutdown starts. */
#define PRUNE_EVERY_MS (10 * 60 * 1000)

static void nap(int ms)
{
    for (int left = ms; left > 0 && !atomic_load(&stopping); left -= SLEEP_STEP_MS) {
        struct timespec ts = {0, (long)(left < SLEEP_STEP_MS ? left : SLEEP_STEP_MS) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Creates the coming months' call log partitions (idempotent); one thread
 * of each jobs process does it at start and every six hours. */
static void ensure_partitions(struct db *db)
{
    PGresult *res = db_query(db, "SELECT ensure_call_log_partitions(now())", 0, NULL);
    if (res && PQresultStatus(res) != PGRES_TUPLES_OK)
        log_warn("creating call log partitions failed: %s", PQresultErrorMessage(res));
    PQclear(res);
}

/* Forgets applied request ids older than an hour (005_prune_applied_requests.sql),
 * a batch at a time so the delete never holds locks for long. */
static void prune_applied(struct db *db)
{
    for (int i = 0; i < 20 && !atomic_load(&stopping); i++) {
        PGresult *res = db_query(db, "SELECT prune_applied_requests(interval '1 hour', 5000)", 0, NULL);
        bool more = res && PQresultStatus(res) == PGRES_TUPLES_OK && atoi(PQgetvalue(res, 0, 0)) == 5000;
        if (res && PQresultStatus(res) != PGRES_TUPLES_OK)
            log_warn("pruning applied request ids failed: %s", PQresultErrorMessage(res));
        PQclear(res);
        if (!more)
            break;
    }
}

static void *jobs_run(void *arg)
{
    struct jobs_thread *t = arg;
    struct db *db = db_new(t->jc->cfg);
    db_set_application_name(db, "jobs");
    int64_t next_partitions = 0, next_prune = 0, next_archive = mono_ms() + ARCHIVE_FIRST_MS;

    while (!atomic_load(&stopping)) {
        if (!db_ensure(db)) {
            nap(1000);
            continue;
        }
        if (t->index == 0 && mono_ms() >= next_partitions) {
            ensure_partitions(db);
            next_partitions = mono_ms() + PARTITIONS_EVERY_MS;
        }
        if (t->index == 1 && mono_ms() >= next_prune) {
            prune_applied(db);
            next_prune = mono_ms() + PRUNE_EVERY_MS;
        }
        if (t->index == 2 && mono_ms() >= next_archive) {
            if (archive_pass(db, t->jc->cfg, NULL, &stopping) < 0)
                log_warn("the archive pass stopped early; the next one continues");
            next_archive = mono_ms() + ARCHIVE_EVERY_MS;
        }
        int w = webhook_run_one(db, t->jc);
        int m = (t->relay || t->jc->cfg->mail_dir[0]) && !atomic_load(&stopping) ? mail_run_one(db, t->jc, t->relay) : 0;
        jobs_metrics_pass(w, m);
        if (w < 0 || m < 0)
            nap(1000);   /* a database failure: db_ensure reconnects if it was the connection */
        else if (w == 0 && m == 0)
            nap(IDLE_MS);
    }
    db_free(db);
    return NULL;
}

/* `bin/jobs --once archive [--now <ISO time>]`: one archive pass, then exit
 * (0 when it finished, 1 when it failed). */
static int run_once(const struct config *cfg, int argc, char **argv)
{
    const char *now = NULL;
    if (argc < 3 || strcmp(argv[2], "archive") != 0)
        fatal("usage: jobs [--once archive [--now 2026-12-31T00:00:00Z]]");
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--now") && i + 1 < argc && strlen(argv[i + 1]) < 64)
            now = argv[++i];
        else
            fatal("usage: jobs --once archive [--now 2026-12-31T00:00:00Z]");
    }
    struct db *db = db_new(cfg);
    db_set_application_name(db, "jobs");
    if (!db_ensure(db))
        fatal("cannot connect to PostgreSQL");
    int n = archive_pass(db, cfg, now, &stopping);
    db_free(db);
    if (n < 0)
        return 1;
    log_info("archive pass done: %d archives written", n);
    return 0;
}

int main(int argc, char **argv)
{
    static struct config cfg;
    static struct jobs_ctx jc;
    static struct smtp_url relay;
    char name[32];
    snprintf(name, sizeof name, "jobs %ld", (long)getpid());
    log_init(name);
    config_load(&cfg);
    util_init();

    /* bin/jobs connects as its own role; db.c reads the worker role's fields. */
    snprintf(cfg.worker_db_user, sizeof cfg.worker_db_user, "%s", cfg.jobs_db_user);
    snprintf(cfg.worker_db_password, sizeof cfg.worker_db_password, "%s", cfg.jobs_db_password);

    if (argc > 1) {
        if (strcmp(argv[1], "--once") != 0)
            fatal("usage: jobs [--once archive [--now 2026-12-31T00:00:00Z]]");
        return run_once(&cfg, argc, argv);
    }

    jc.cfg = &cfg;
    jc.nschedule = jobs_parse_schedule(cfg.webhook_retry_schedule, jc.schedule, JOBS_SCHEDULE_MAX);
    if (jc.nschedule < 0)
        fatal("WEBHOOK_RETRY_SCHEDULE must be 1 to %d comma-separated numbers of seconds (got \"%s\")",
              JOBS_SCHEDULE_MAX, cfg.webhook_retry_schedule);
    char path[1024], err[256];
    keybox_path(cfg.state_dir, path, sizeof path);
    if (keybox_load(&jc.keys, path, true, err, sizeof err) != 0)
        fatal("cannot load the key of stored secrets: %s", err);

    const struct smtp_url *r = NULL;
    if (cfg.smtp_url[0]) {
        if (!smtp_url_parse(cfg.smtp_url, &relay, err, sizeof err))
            fatal("%s", err);
        char addr[256];
        if (!mail_address_of(cfg.mail_from, addr, sizeof addr))
            fatal("MAIL_FROM has no valid address (got \"%s\")", cfg.mail_from);
        r = &relay;
    } else if (cfg.mail_dir[0]) {
        if (mkdir(cfg.mail_dir, 0700) != 0 && errno != EEXIST)
            fatal("MAIL_DIR %s cannot be created: %s", cfg.mail_dir, strerror(errno));
        log_info("SMTP_URL is not set: notification e-mails are written to %s as .eml files", cfg.mail_dir);
    } else {
        log_warn("SMTP_URL is not set: notification e-mails stay queued");
    }
    if (cfg.allow_private_webhooks)
        log_warn("ALLOW_PRIVATE_WEBHOOKS=1: webhooks may reach private addresses and plain http (tests only)");

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    jobs_metrics_start(&cfg);   /* METRICS_LISTEN; after the mask, so signals stay with sigwait */

    struct jobs_thread threads[JOBS_THREADS];
    for (int i = 0; i < JOBS_THREADS; i++) {
        threads[i] = (struct jobs_thread){.index = i, .jc = &jc, .relay = r};
        if (pthread_create(&threads[i].tid, NULL, jobs_run, &threads[i]) != 0)
            fatal("cannot start thread %d", i);
    }
    log_info("started: pid %ld, %d threads, retry schedule %s s, SMTP relay %s%s%s", (long)getpid(), JOBS_THREADS,
             cfg.webhook_retry_schedule, r ? relay.host : "none", r ? ":" : "", r ? relay.port : "");

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0 || sig == SIGHUP)
        ;
    log_info("signal %d: finishing the work in hand", sig);
    atomic_store(&stopping, true);
    for (int i = 0; i < JOBS_THREADS; i++)
        pthread_join(threads[i].tid, NULL);
    log_info("stopped");
    return 0;
}
