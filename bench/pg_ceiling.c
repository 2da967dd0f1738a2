/*
 * pg_ceiling — the database baselines of `make bench`, directly with libpq
 * (no edge, no nng, no worker): THREADS connections, each running work in a
 * loop for SECONDS. Prints
 *   requests=<n> seconds=<s> rps=<r> p50_ms=<x> p99_ms=<y>
 * where a request is one run of the work and the latencies are per run.
 *
 * Usage: bench_pg_ceiling CONNINFO THREADS SECONDS SQL [PARAM...]
 *   one prepared statement, the same PARAMs every time.
 *
 *        bench_pg_ceiling -f FILE CONNINFO THREADS SECONDS
 *   a transaction: BEGIN, the statements of FILE in order, COMMIT, each
 *   statement a separate prepared statement and round trip, as a worker
 *   issues them. FILE holds blocks separated by blank lines: a block's first
 *   line is the SQL (one line), each further line one parameter, `\N` for
 *   NULL. `{seq}` in a parameter becomes 32 lower-case hex digits unique to
 *   the transaction (the same in every statement of it), so inserts of fresh
 *   ids do not collide: `rec_{seq}` is a record id, `\x{seq}` 16 bytes. Every
 *   statement must return or change at least one row, so a baseline cannot
 *   be fast by doing nothing; otherwise the run fails.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#define MAX_SAMPLES 2000000
#define MAX_STMTS 32
#define MAX_PARAMS 64

struct stmt {
    char *sql;
    int nparams;
    char *params[MAX_PARAMS];    /* NULL = SQL NULL */
    int has_seq[MAX_PARAMS];
};

struct run {
    const char *conninfo, *sql;
    int nparams;
    const char *const *params;
    const struct stmt *stmts;    /* -f mode when non-NULL */
    int nstmts;
    unsigned long long seq_hi;
    double stop_at;
    double *lat;
    long n;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(PGconn *c, const char *what, int stmt)
{
    if (stmt >= 0)
        fprintf(stderr, "%s (statement %d): %s", what, stmt + 1, PQerrorMessage(c));
    else
        fprintf(stderr, "%s: %s", what, PQerrorMessage(c));
    exit(1);
}

static void exec_simple(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail(c, sql, -1);
    PQclear(r);
}

/* One transaction of the -f work. */
static void run_tx(PGconn *c, struct run *r, unsigned long long seq_lo)
{
    char seq[33];
    snprintf(seq, sizeof seq, "%016llx%016llx", r->seq_hi, seq_lo);
    exec_simple(c, "BEGIN");
    for (int i = 0; i < r->nstmts; i++) {
        const struct stmt *s = &r->stmts[i];
        char *vals[MAX_PARAMS] = {0};
        const char *pv[MAX_PARAMS];
        for (int k = 0; k < s->nparams; k++) {
            pv[k] = s->params[k];
            if (s->has_seq[k]) {   /* substitute every {seq} */
                size_t cap = strlen(s->params[k]) * 7 + 1;
                char *o = malloc(cap), *d = o;
                for (const char *p = s->params[k]; *p;) {
                    if (!strncmp(p, "{seq}", 5)) {
                        memcpy(d, seq, 32);
                        d += 32;
                        p += 5;
                    } else {
                        *d++ = *p++;
                    }
                }
                *d = '\0';
                pv[k] = vals[k] = o;
            }
        }
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        PGresult *res = PQexecPrepared(c, name, s->nparams, pv, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            fail(c, "query", i);
        if (PQntuples(res) == 0 && atol(PQcmdTuples(res)) == 0) {
            fprintf(stderr, "statement %d returned and changed no rows: %s\n", i + 1, s->sql);
            exit(1);
        }
        PQclear(res);
        for (int k = 0; k < s->nparams; k++)
            free(vals[k]);
    }
    exec_simple(c, "COMMIT");
}

static void *loop(void *arg)
{
    struct run *r = arg;
    PGconn *c = PQconnectdb(r->conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        fail(c, "connect", -1);
    if (r->stmts) {
        for (int i = 0; i < r->nstmts; i++) {
            char name[16];
            snprintf(name, sizeof name, "s%d", i);
            PGresult *p = PQprepare(c, name, r->stmts[i].sql, r->stmts[i].nparams, NULL);
            if (PQresultStatus(p) != PGRES_COMMAND_OK)
                fail(c, "prepare", i);
            PQclear(p);
        }
    } else {
        PGresult *p = PQprepare(c, "q", r->sql, r->nparams, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK)
            fail(c, "prepare", -1);
        PQclear(p);
    }
    while (now_s() < r->stop_at && r->n < MAX_SAMPLES) {
        double t0 = now_s();
        if (r->stmts) {
            run_tx(c, r, (unsigned long long)r->n);
        } else {
            PGresult *res = PQexecPrepared(c, "q", r->nparams, r->params, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_TUPLES_OK)
                fail(c, "query", -1);
            PQclear(res);
        }
        r->lat[r->n++] = (now_s() - t0) * 1000.0;
    }
    PQfinish(c);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads the -f FILE described at the top; returns the number of statements or -1. */
static int read_stmts(const char *path, struct stmt *out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    int n = 0;
    struct stmt *cur = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0) {
            cur = NULL;
            continue;
        }
        if (!cur) {
            if (n == MAX_STMTS) {
                fprintf(stderr, "%s: more than %d statements\n", path, MAX_STMTS);
                return -1;
            }
            cur = &out[n++];
            memset(cur, 0, sizeof *cur);
            cur->sql = strdup(line);
            continue;
        }
        if (cur->nparams == MAX_PARAMS) {
            fprintf(stderr, "%s: statement %d has more than %d parameters\n", path, n, MAX_PARAMS);
            return -1;
        }
        int k = cur->nparams++;
        cur->params[k] = strcmp(line, "\\N") ? strdup(line) : NULL;
        cur->has_seq[k] = cur->params[k] && strstr(cur->params[k], "{seq}") != NULL;
    }
    free(line);
    fclose(f);
    if (n == 0)
        fprintf(stderr, "%s: no statements\n", path);
    return n ? n : -1;
}

int main(int argc, char **argv)
{
    static struct stmt stmts[MAX_STMTS];
    int nstmts = 0;
    const char *file = NULL;
    if (argc >= 3 && !strcmp(argv[1], "-f")) {
        file = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc < (file ? 4 : 5) || (file && argc != 4)) {
        fprintf(stderr, "usage: %s CONNINFO THREADS SECONDS SQL [PARAM...]\n"
                        "       %s -f FILE CONNINFO THREADS SECONDS\n", argv[0], argv[0]);
        return 2;
    }
    if (file && (nstmts = read_stmts(file, stmts)) < 0)
        return 2;
    int threads = atoi(argv[2]);
    double seconds = atof(argv[3]);
    if (threads < 1 || threads > 256 || seconds <= 0)
        return 2;
    struct run *runs = calloc((size_t)threads, sizeof *runs);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    double start = now_s();
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    for (int i = 0; i < threads; i++) {
        runs[i] = (struct run){argv[1], file ? NULL : argv[4], file ? 0 : argc - 5,
                               file ? NULL : (const char *const *)argv + 5, file ? stmts : NULL, nstmts,
                               /* unique across threads and runs: the start time and the thread */
                               ((unsigned long long)wall.tv_sec << 30 ^ (unsigned long long)wall.tv_nsec) << 8 | (unsigned)i,
                               start + seconds, malloc(sizeof(double) * MAX_SAMPLES), 0};
        pthread_create(&tids[i], NULL, loop, &runs[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        total += runs[i].n;
    }
    double elapsed = now_s() - start;
    double *all = malloc(sizeof(double) * (size_t)(total ? total : 1));
    long k = 0;
    for (int i = 0; i < threads; i++)
        for (long j = 0; j < runs[i].n; j++)
            all[k++] = runs[i].lat[j];
    qsort(all, (size_t)total, sizeof(double), cmp);
    printf("requests=%ld seconds=%.2f rps=%.0f p50_ms=%.3f p99_ms=%.3f\n", total, elapsed, total / elapsed,
           total ? all[total / 2] : 0.0, total ? all[(long)(total * 0.99)] : 0.0);
    return 0;
}
