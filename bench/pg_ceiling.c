/*
 * pg_ceiling — the database baseline of `make bench`: THREADS connections,
 * each running one prepared statement in a loop for SECONDS, directly with
 * libpq (no edge, no nng, no worker). Prints
 *   requests=<n> seconds=<s> rps=<r> p50_ms=<x> p99_ms=<y>
 * Usage: bench_pg_ceiling CONNINFO THREADS SECONDS SQL [PARAM...]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#define MAX_SAMPLES 2000000

struct run {
    const char *conninfo, *sql;
    int nparams;
    const char *const *params;
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

static void *loop(void *arg)
{
    struct run *r = arg;
    PGconn *c = PQconnectdb(r->conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(c));
        exit(1);
    }
    PGresult *p = PQprepare(c, "q", r->sql, r->nparams, NULL);
    if (PQresultStatus(p) != PGRES_COMMAND_OK) {
        fprintf(stderr, "prepare: %s", PQerrorMessage(c));
        exit(1);
    }
    PQclear(p);
    while (now_s() < r->stop_at && r->n < MAX_SAMPLES) {
        double t0 = now_s();
        PGresult *res = PQexecPrepared(c, "q", r->nparams, r->params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "query: %s", PQerrorMessage(c));
            exit(1);
        }
        PQclear(res);
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

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s CONNINFO THREADS SECONDS SQL [PARAM...]\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[2]);
    double seconds = atof(argv[3]);
    if (threads < 1 || threads > 256 || seconds <= 0)
        return 2;
    struct run *runs = calloc((size_t)threads, sizeof *runs);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    double start = now_s();
    for (int i = 0; i < threads; i++) {
        runs[i] = (struct run){argv[1], argv[4], argc - 5, (const char *const *)argv + 5, start + seconds,
                               malloc(sizeof(double) * MAX_SAMPLES), 0};
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
