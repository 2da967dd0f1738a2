/*
 * metrics — counters, gauges and histograms with labels, rendered in the
 * Prometheus text exposition format 0.0.4 (docs/OBSERVABILITY.md).
 *
 * A registry holds families; a family has a fixed list of label names and
 * one series per distinct tuple of label values, created on first use. The
 * callers choose label values from bounded sets (route names, tool names,
 * outcomes), never raw input; as a last guard a family holds at most
 * METRICS_MAX_SERIES series and drops observations of new tuples beyond
 * that. A registry is safe to use from several threads (one mutex: an
 * observation is a few string compares and additions).
 */
#ifndef TM_METRICS_H
#define TM_METRICS_H

#include <stddef.h>
#include "common/strbuf.h"

#define METRICS_MAX_LABELS 4
#define METRICS_MAX_BUCKETS 20
#define METRICS_MAX_SERIES 1000

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric;

/* Latency buckets in seconds, from 1 ms to 30 s (the default request deadline). */
extern const double metrics_latency_buckets[];
extern const int metrics_latency_nbuckets;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* A new family. labels: comma-separated label names ("route,method,status"),
 * or "" for none. bounds: the histogram's upper bounds, ascending (the +Inf
 * bucket is implicit); NULL/0 for counters and gauges. Names are trusted
 * constants from the code; a bad one is a programming error (fatal). */
struct metric *metrics_family(struct metrics *m, enum metric_type type, const char *name, const char *help,
                              const char *labels, const double *bounds, int nbounds);

/* values: one per label name of the family (NULL when it has none). */
void metric_add(struct metric *f, const char *const *values, double v);      /* counter or gauge */
void metric_set(struct metric *f, const char *const *values, double v);      /* gauge */
void metric_observe(struct metric *f, const char *const *values, double v);  /* histogram */
/* Forgets every series of f (a gauge re-filled at each scrape). */
void metric_clear(struct metric *f);

/* Appends every family, in creation order, to out. */
void metrics_render(struct metrics *m, struct strbuf *out);

/* Appends value escaped as a label value (backslash, double quote, newline). */
void metrics_escape_label(struct strbuf *out, const char *value);

/* Merges n expositions (as metrics_render writes them) into out, one family
 * at a time, adding label=ids[i] to every sample of texts[i]: the same
 * family from several processes must appear as one group. A family's HELP
 * and TYPE come from the first text that has it. */
void metrics_merge(struct strbuf *out, const char *label, const char *const *ids, const char *const *texts, int n);

#endif
