/*
 * metrics — label-keyed series and their text exposition. See metrics.h.
 *
 * Series are found by a linear scan of the family: families hold tens of
 * series (routes x methods x statuses seen), and a scan of short strings is
 * cheaper than hashing them at that size.
 */
#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "common/util.h"

const double metrics_latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10,   30};
const int metrics_latency_nbuckets = (int)(sizeof metrics_latency_buckets / sizeof metrics_latency_buckets[0]);

struct series {
    char *values[METRICS_MAX_LABELS];
    double value;       /* counter, gauge */
    double sum;         /* histogram */
    uint64_t count;
    uint64_t *buckets;  /* histogram: nbounds + 1 counts, not cumulative (+Inf last) */
};

struct metric {
    struct metrics *reg;
    enum metric_type type;
    char *name, *help;
    int nlabels;
    char *labels[METRICS_MAX_LABELS];
    double bounds[METRICS_MAX_BUCKETS];
    int nbounds;
    struct series *series;
    int nseries, cap;
    bool warned_full;
    struct metric *next;
};

struct metrics {
    pthread_mutex_t lock;
    struct metric *head, *tail;
};

struct metrics *metrics_new(void)
{
    struct metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void free_series(struct metric *f)
{
    for (int i = 0; i < f->nseries; i++) {
        for (int k = 0; k < f->nlabels; k++)
            free(f->series[i].values[k]);
        free(f->series[i].buckets);
    }
    f->nseries = 0;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    struct metric *f = m->head;
    while (f) {
        struct metric *next = f->next;
        free_series(f);
        free(f->series);
        for (int k = 0; k < f->nlabels; k++)
            free(f->labels[k]);
        free(f->name);
        free(f->help);
        free(f);
        f = next;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static bool valid_name(const char *s, size_t n, bool colon)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              (colon && c == ':')))
            return false;
    }
    return true;
}

struct metric *metrics_family(struct metrics *m, enum metric_type type, const char *name, const char *help,
                              const char *labels, const double *bounds, int nbounds)
{
    if (!valid_name(name, strlen(name), true))
        fatal("metrics: bad metric name %s", name);
    struct metric *f = xcalloc(1, sizeof *f);
    f->reg = m;
    f->type = type;
    f->name = xstrdup(name);
    f->help = xstrdup(help);
    for (const char *p = labels; p && *p;) {
        size_t n = strcspn(p, ",");
        if (f->nlabels == METRICS_MAX_LABELS || !valid_name(p, n, false) || (n == 2 && !memcmp(p, "le", 2)))
            fatal("metrics: bad label list \"%s\" of %s", labels, name);
        f->labels[f->nlabels++] = xstrndup(p, n);
        p += n + (p[n] == ',');
    }
    if (type == METRIC_HISTOGRAM) {
        if (nbounds < 1 || nbounds > METRICS_MAX_BUCKETS)
            fatal("metrics: histogram %s needs 1..%d buckets", name, METRICS_MAX_BUCKETS);
        for (int i = 0; i < nbounds; i++) {
            if (i && bounds[i] <= bounds[i - 1])
                fatal("metrics: buckets of %s are not ascending", name);
            f->bounds[i] = bounds[i];
        }
        f->nbounds = nbounds;
    }
    pthread_mutex_lock(&m->lock);
    if (m->tail)
        m->tail->next = f;
    else
        m->head = f;
    m->tail = f;
    pthread_mutex_unlock(&m->lock);
    return f;
}

/* The series of values, created if new; NULL when the family is full. Lock held. */
static struct series *find(struct metric *f, const char *const *values)
{
    for (int i = 0; i < f->nseries; i++) {
        struct series *s = &f->series[i];
        int k = 0;
        while (k < f->nlabels && !strcmp(s->values[k], values[k] ? values[k] : ""))
            k++;
        if (k == f->nlabels)
            return s;
    }
    if (f->nseries == METRICS_MAX_SERIES) {
        if (!f->warned_full)
            log_warn("metrics: %s has %d series; new label values are not recorded", f->name, METRICS_MAX_SERIES);
        f->warned_full = true;
        return NULL;
    }
    if (f->nseries == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->series = xrealloc(f->series, (size_t)f->cap * sizeof *f->series);
    }
    struct series *s = &f->series[f->nseries++];
    memset(s, 0, sizeof *s);
    for (int k = 0; k < f->nlabels; k++)
        s->values[k] = xstrdup(values[k] ? values[k] : "");
    if (f->type == METRIC_HISTOGRAM)
        s->buckets = xcalloc((size_t)f->nbounds + 1, sizeof *s->buckets);
    return s;
}

void metric_add(struct metric *f, const char *const *values, double v)
{
    pthread_mutex_lock(&f->reg->lock);
    struct series *s = find(f, values);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&f->reg->lock);
}

void metric_set(struct metric *f, const char *const *values, double v)
{
    pthread_mutex_lock(&f->reg->lock);
    struct series *s = find(f, values);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&f->reg->lock);
}

void metric_observe(struct metric *f, const char *const *values, double v)
{
    pthread_mutex_lock(&f->reg->lock);
    struct series *s = find(f, values);
    if (s) {
        int b = 0;
        while (b < f->nbounds && v > f->bounds[b])
            b++;
        s->buckets[b]++;
        s->count++;
        s->sum += v;
    }
    pthread_mutex_unlock(&f->reg->lock);
}

void metric_clear(struct metric *f)
{
    pthread_mutex_lock(&f->reg->lock);
    free_series(f);
    pthread_mutex_unlock(&f->reg->lock);
}

/* ---- exposition ----------------------------------------------------------- */

static void append_number(struct strbuf *out, double v)
{
    char buf[64];
    if (isnan(v))
        snprintf(buf, sizeof buf, "NaN");
    else if (isinf(v))
        snprintf(buf, sizeof buf, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, sizeof buf, "%.0f", v);
    else
        snprintf(buf, sizeof buf, "%.17g", v);
    sb_append_str(out, buf);
}

void metrics_escape_label(struct strbuf *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            sb_append_str(out, "\\\\");
        else if (*p == '"')
            sb_append_str(out, "\\\"");
        else if (*p == '\n')
            sb_append_str(out, "\\n");
        else
            sb_append(out, p, 1);
    }
}

/* name{l1="v1",...[,le="x"]} */
static void append_sample_name(struct strbuf *out, const struct metric *f, const char *suffix,
                               const struct series *s, const char *le)
{
    sb_append_str(out, f->name);
    sb_append_str(out, suffix);
    if (f->nlabels == 0 && !le)
        return;
    sb_append_str(out, "{");
    for (int k = 0; k < f->nlabels; k++) {
        if (k)
            sb_append_str(out, ",");
        sb_append_str(out, f->labels[k]);
        sb_append_str(out, "=\"");
        metrics_escape_label(out, s->values[k]);
        sb_append_str(out, "\"");
    }
    if (le) {
        sb_append_str(out, f->nlabels ? ",le=\"" : "le=\"");
        sb_append_str(out, le);
        sb_append_str(out, "\"");
    }
    sb_append_str(out, "}");
}

static void append_help(struct strbuf *out, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            sb_append_str(out, "\\\\");
        else if (*p == '\n')
            sb_append_str(out, "\\n");
        else
            sb_append(out, p, 1);
    }
}

static void render_family(struct strbuf *out, const struct metric *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    sb_append_str(out, "# HELP ");
    sb_append_str(out, f->name);
    sb_append_str(out, " ");
    append_help(out, f->help);
    sb_append_str(out, "\n# TYPE ");
    sb_append_str(out, f->name);
    sb_append_str(out, " ");
    sb_append_str(out, types[f->type]);
    sb_append_str(out, "\n");
    for (int i = 0; i < f->nseries; i++) {
        const struct series *s = &f->series[i];
        if (f->type != METRIC_HISTOGRAM) {
            append_sample_name(out, f, "", s, NULL);
            sb_append_str(out, " ");
            append_number(out, s->value);
            sb_append_str(out, "\n");
            continue;
        }
        uint64_t cum = 0;
        for (int b = 0; b <= f->nbounds; b++) {
            char le[40];
            cum += s->buckets[b];
            if (b < f->nbounds)
                snprintf(le, sizeof le, "%g", f->bounds[b]);
            else
                snprintf(le, sizeof le, "+Inf");
            append_sample_name(out, f, "_bucket", s, le);
            sb_append_str(out, " ");
            append_number(out, (double)cum);
            sb_append_str(out, "\n");
        }
        append_sample_name(out, f, "_sum", s, NULL);
        sb_append_str(out, " ");
        append_number(out, s->sum);
        sb_append_str(out, "\n");
        append_sample_name(out, f, "_count", s, NULL);
        sb_append_str(out, " ");
        append_number(out, (double)s->count);
        sb_append_str(out, "\n");
    }
}

void metrics_render(struct metrics *m, struct strbuf *out)
{
    pthread_mutex_lock(&m->lock);
    for (const struct metric *f = m->head; f; f = f->next)
        render_family(out, f);
    pthread_mutex_unlock(&m->lock);
}

/* ---- merging expositions -------------------------------------------------- */

struct fam_range {
    const char *name;
    size_t name_len;
    const char *head, *head_end;       /* its # lines */
    const char *samples, *samples_end; /* its sample lines */
};

static size_t metric_name_len(const char *s, const char *end)
{
    size_t n = 0;
    while (s + n < end && s[n] != ' ' && s[n] != '{' && s[n] != '\n')
        n++;
    return n;
}

/* Splits text into families: a family starts at a "# HELP" or "# TYPE" line
 * naming a metric other than the current one. Returns the count; *out is malloc'd. */
static int split_families(const char *text, struct fam_range **out)
{
    int n = 0, cap = 0;
    struct fam_range *r = NULL;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        const char *next = eol ? eol + 1 : p + strlen(p);
        bool help = !strncmp(p, "# HELP ", 7), type = !strncmp(p, "# TYPE ", 7);
        if (help || type) {
            const char *nm = p + 7;
            size_t nl = metric_name_len(nm, next);
            if (!n || r[n - 1].name_len != nl || memcmp(r[n - 1].name, nm, nl) || r[n - 1].samples) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 16;
                    r = xrealloc(r, (size_t)cap * sizeof *r);
                }
                r[n++] = (struct fam_range){.name = nm, .name_len = nl, .head = p};
            }
            r[n - 1].head_end = next;
        } else if (*p != '#' && *p != '\n' && n) {
            if (!r[n - 1].samples)
                r[n - 1].samples = p;
            r[n - 1].samples_end = next;
        }
        p = next;
    }
    *out = r;
    return n;
}

/* Copies the sample lines [p, end) adding label="id" to each. */
static void append_labelled(struct strbuf *out, const char *p, const char *end, const char *label, const char *id)
{
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (*p == '#' || *p == '\n') {
            p = next;
            continue;
        }
        size_t nl = metric_name_len(p, next);
        sb_append(out, p, nl);
        sb_append_str(out, "{");
        sb_append_str(out, label);
        sb_append_str(out, "=\"");
        metrics_escape_label(out, id);
        sb_append_str(out, "\"");
        const char *rest = p + nl;
        if (*rest == '{') {
            rest++;
            if (*rest != '}')
                sb_append_str(out, ",");
        } else {
            sb_append_str(out, "}");
        }
        sb_append(out, rest, (size_t)(next - rest));
        if (!eol)
            sb_append_str(out, "\n");
        p = next;
    }
}

void metrics_merge(struct strbuf *out, const char *label, const char *const *ids, const char *const *texts, int n)
{
    struct fam_range **fams = xcalloc((size_t)n + 1, sizeof *fams);
    int *counts = xcalloc((size_t)n + 1, sizeof *counts);
    for (int i = 0; i < n; i++)
        counts[i] = split_families(texts[i], &fams[i]);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < counts[i]; j++) {
            struct fam_range *f = &fams[i][j];
            if (!f->name)
                continue;   /* already written with an earlier text's */
            sb_append(out, f->head, (size_t)(f->head_end - f->head));
            for (int k = i; k < n; k++) {
                for (int l = 0; l < counts[k]; l++) {
                    struct fam_range *g = &fams[k][l];
                    if (!g->name || g->name_len != f->name_len || memcmp(g->name, f->name, f->name_len))
                        continue;
                    if (g->samples)
                        append_labelled(out, g->samples, g->samples_end, label, ids[k]);
                    if (g != f)
                        g->name = NULL;
                }
            }
            f->name = NULL;
        }
    }
    for (int i = 0; i < n; i++)
        free(fams[i]);
    free(fams);
    free(counts);
}
