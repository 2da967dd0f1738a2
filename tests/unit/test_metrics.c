/*
 * Unit tests of the metrics registry and its Prometheus text exposition
 * (0.0.4), of merging several processes' expositions, and of the edge's
 * bounded route and outcome labels.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "common/metrics.h"
#include "services/edge/edge_dispatch.h"
#include "services/edge/edge_metrics.h"

static char *render(struct metrics *m)
{
    struct strbuf b;
    sb_init(&b, 64);
    metrics_render(m, &b);
    return sb_take(&b, NULL);
}

static void test_counter_and_gauge_exposition(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    struct metric *c = metrics_family(m, METRIC_COUNTER, "x_requests_total", "Requests.", "route,status", NULL, 0);
    struct metric *g = metrics_family(m, METRIC_GAUGE, "x_in_flight", "In flight.", "", NULL, 0);
    metric_add(c, (const char *[]){"/a", "200"}, 1);
    metric_add(c, (const char *[]){"/a", "200"}, 2);
    metric_add(c, (const char *[]){"/b", "404"}, 1);
    metric_set(g, NULL, 7);
    metric_set(g, NULL, 3);
    char *t = render(m);
    assert_string_equal(t, "# HELP x_requests_total Requests.\n"
                           "# TYPE x_requests_total counter\n"
                           "x_requests_total{route=\"/a\",status=\"200\"} 3\n"
                           "x_requests_total{route=\"/b\",status=\"404\"} 1\n"
                           "# HELP x_in_flight In flight.\n"
                           "# TYPE x_in_flight gauge\n"
                           "x_in_flight 3\n");
    free(t);
    metrics_free(m);
}

static void test_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    const double bounds[] = {0.01, 0.1, 1};
    struct metric *h = metrics_family(m, METRIC_HISTOGRAM, "x_seconds", "Latency.", "route", bounds, 3);
    metric_observe(h, (const char *[]){"/a"}, 0.005);
    metric_observe(h, (const char *[]){"/a"}, 0.01);   /* on the bound: counted in le="0.01" */
    metric_observe(h, (const char *[]){"/a"}, 0.5);
    metric_observe(h, (const char *[]){"/a"}, 3);
    char *t = render(m);
    assert_string_equal(t, "# HELP x_seconds Latency.\n"
                           "# TYPE x_seconds histogram\n"
                           "x_seconds_bucket{route=\"/a\",le=\"0.01\"} 2\n"
                           "x_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
                           "x_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"
                           "x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
                           "x_seconds_sum{route=\"/a\"} 3.5150000000000001\n"
                           "x_seconds_count{route=\"/a\"} 4\n");
    free(t);
    metrics_free(m);
}

static void test_label_values_and_help_are_escaped(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    struct metric *c = metrics_family(m, METRIC_COUNTER, "x_total", "Help with \\ and\nnewline.", "v", NULL, 0);
    metric_add(c, (const char *[]){"a\"b\\c\nd"}, 1);
    char *t = render(m);
    assert_non_null(strstr(t, "# HELP x_total Help with \\\\ and\\nnewline.\n"));
    assert_non_null(strstr(t, "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
    free(t);
    metrics_free(m);
}

static void test_series_are_capped(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    struct metric *c = metrics_family(m, METRIC_COUNTER, "x_total", "X.", "v", NULL, 0);
    char v[32];
    for (int i = 0; i < METRICS_MAX_SERIES + 50; i++) {
        snprintf(v, sizeof v, "s%d", i);
        metric_add(c, (const char *[]){v}, 1);
    }
    metric_add(c, (const char *[]){"s0"}, 1);   /* an existing series still counts */
    char *t = render(m);
    int lines = 0;
    for (char *p = t; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 2 + METRICS_MAX_SERIES);
    assert_non_null(strstr(t, "x_total{v=\"s0\"} 2\n"));
    assert_null(strstr(t, "x_total{v=\"s1000\"}"));
    free(t);
    metrics_free(m);
}

static void test_merge_groups_families_and_labels_every_sample(void **state)
{
    (void)state;
    const char *a = "# HELP w_total W.\n# TYPE w_total counter\nw_total{op=\"tool\"} 2\n"
                    "# HELP w_up Up.\n# TYPE w_up gauge\nw_up 1\n";
    const char *b = "# HELP w_total W.\n# TYPE w_total counter\nw_total{op=\"auth\"} 5\n"
                    "# HELP w_up Up.\n# TYPE w_up gauge\nw_up 1\n";
    struct strbuf out;
    sb_init(&out, 64);
    metrics_merge(&out, "worker", (const char *[]){"h:1", "h:\"2"}, (const char *[]){a, b}, 2);
    char *t = sb_take(&out, NULL);
    assert_string_equal(t, "# HELP w_total W.\n# TYPE w_total counter\n"
                           "w_total{worker=\"h:1\",op=\"tool\"} 2\n"
                           "w_total{worker=\"h:\\\"2\",op=\"auth\"} 5\n"
                           "# HELP w_up Up.\n# TYPE w_up gauge\n"
                           "w_up{worker=\"h:1\"} 1\n"
                           "w_up{worker=\"h:\\\"2\"} 1\n");
    free(t);
}

static void test_merge_of_a_family_only_one_process_has(void **state)
{
    (void)state;
    const char *a = "# HELP only_a A.\n# TYPE only_a gauge\nonly_a 1\n";
    const char *b = "# HELP only_b B.\n# TYPE only_b gauge\nonly_b 2";   /* no final newline */
    struct strbuf out;
    sb_init(&out, 64);
    metrics_merge(&out, "worker", (const char *[]){"x", "y"}, (const char *[]){a, b}, 2);
    char *t = sb_take(&out, NULL);
    assert_string_equal(t, "# HELP only_a A.\n# TYPE only_a gauge\nonly_a{worker=\"x\"} 1\n"
                           "# HELP only_b B.\n# TYPE only_b gauge\nonly_b{worker=\"y\"} 2\n");
    free(t);
}

static void test_route_labels_are_patterns_never_raw_paths(void **state)
{
    (void)state;
    assert_string_equal(edge_metrics_route_label("/api/mcp"), "/api/mcp");
    assert_string_equal(edge_metrics_route_label("/metrics"), "/metrics");
    assert_string_equal(edge_metrics_route_label("/oauth/token"), "/oauth/token");
    assert_string_equal(edge_metrics_route_label("/api/v1/data/my-slug/123"), "/api/v1/data/*");
    assert_string_equal(edge_metrics_route_label("/archives/2026-01-01.jsonl.gz"), "/archives/*");
    assert_string_equal(edge_metrics_route_label("/no/such/path/8f3a"), "other");
    assert_string_equal(edge_metrics_route_label("/api/mcp/extra"), "other");
    assert_string_equal(edge_metrics_route_label(""), "other");
}

static void test_outcome_labels_are_bounded(void **state)
{
    (void)state;
    assert_string_equal(edge_metrics_outcome_label("ok"), "ok");
    assert_string_equal(edge_metrics_outcome_label("not_found"), "not_found");
    assert_string_equal(edge_metrics_outcome_label("insufficient_scope"), "insufficient_scope");
    assert_string_equal(edge_metrics_outcome_label(dispatch_status_text(DISPATCH_TIMEOUT)), "timeout");
    assert_string_equal(edge_metrics_outcome_label(dispatch_status_text(DISPATCH_OVERLOAD)), "overload");
    assert_string_equal(edge_metrics_outcome_label("bad result"), "bad_result");
    assert_string_equal(edge_metrics_outcome_label("anything else"), "other");
    assert_string_equal(edge_metrics_outcome_label(NULL), "other");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge_exposition),
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_label_values_and_help_are_escaped),
        cmocka_unit_test(test_series_are_capped),
        cmocka_unit_test(test_merge_groups_families_and_labels_every_sample),
        cmocka_unit_test(test_merge_of_a_family_only_one_process_has),
        cmocka_unit_test(test_route_labels_are_patterns_never_raw_paths),
        cmocka_unit_test(test_outcome_labels_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
