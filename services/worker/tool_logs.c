/*
 * tool_logs — logs_lookup, logs_search and stats (tool_logs.h; output shapes
 * in proto/catalog.c; choices in docs/GATEWAY.md, "Tools").
 *
 * Every query filters by the principal's account explicitly, on top of
 * row-level security, and an endpoint of another account is not_found
 * exactly like a missing one.
 *
 * logs_search reads call_logs, which is partitioned by month on created_at:
 * the window always bounds created_at (also for date_basis processed_at,
 * since a call is processed after it is created), so PostgreSQL touches only
 * the partitions the window overlaps. Pages are keyset pages on
 * (created_at DESC, id DESC), served by the indexes of migration 005. Optional
 * filters are written as "$n IS NULL OR ...", which only a custom plan folds
 * away, so the search transaction sets plan_cache_mode = force_custom_plan
 * (in SQL_WINDOW, the statement before).
 *
 * Time zones: from/to of logs_search that carry no offset (a date, or a
 * wall-clock time) are read in the account's time zone (accounts.timezone);
 * PostgreSQL does the conversion. stats reads daily_stats, whose days are
 * UTC days (the gateway writes them so), and says so in period.tz.
 */
#include "services/worker/tool_logs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "common/utf8.h"
#include "services/worker/cursor.h"
#include "services/worker/gateway.h"
#include "services/worker/tool_util.h"

/* ISO 8601 in UTC with milliseconds, as every tool shows times. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* The same with microseconds: exact, for passing a bound back to PostgreSQL. */
#define TS_US(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* ---- pure pieces -------------------------------------------------------- */

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* "YYYY-MM-DD" at s (exactly 10 characters there); fills y, m, d. */
static bool parse_date10(const char *s, int *y, int *m, int *d)
{
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return false;
    *y = num(s, 4);
    *m = num(s + 5, 2);
    *d = num(s + 8, 2);
    return *y >= 1970 && *y <= 9999 && *m >= 1 && *m <= 12 && *d >= 1 && *d <= month_days(*y, *m);
}

enum logs_time_kind logs_time_parse(const char *s, char *out, size_t cap)
{
    int y, mo, d;
    if (!s || cap < 40)
        return LOGS_TIME_INVALID;
    size_t n = strlen(s);
    if (n < 10 || n > 40 || !parse_date10(s, &y, &mo, &d))
        return LOGS_TIME_INVALID;
    if (n == 10) {
        snprintf(out, cap, "%04d-%02d-%02d", y, mo, d);
        return LOGS_TIME_DATE;
    }
    const char *p = s + 10;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return LOGS_TIME_INVALID;
    p++;
    if (!digits(p, 2) || p[2] != ':' || !digits(p + 3, 2))
        return LOGS_TIME_INVALID;
    int hh = num(p, 2), mi = num(p + 3, 2), ss = 0;
    p += 5;
    char frac[8] = "";
    if (*p == ':') {
        if (!digits(p + 1, 2))
            return LOGS_TIME_INVALID;
        ss = num(p + 1, 2);
        p += 3;
        if (*p == '.' || *p == ',') {
            p++;
            int k = 0;
            while (isdigit((unsigned char)p[k])) {
                if (k < 6)
                    frac[k] = p[k];
                k++;
            }
            if (k == 0 || k > 9)
                return LOGS_TIME_INVALID;
            frac[k < 6 ? k : 6] = '\0';
            p += k;
        }
    }
    if (hh > 23 || mi > 59 || ss > 59)
        return LOGS_TIME_INVALID;
    char base[80];   /* 26 characters at most; room for the compiler's worst case */
    snprintf(base, sizeof base, "%04d-%02d-%02d %02d:%02d:%02d%s%s", y, mo, d, hh, mi, ss, frac[0] ? "." : "", frac);
    if (*p == '\0') {
        snprintf(out, cap, "%s", base);
        return LOGS_TIME_LOCAL;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        snprintf(out, cap, "%s+00:00", base);
        return LOGS_TIME_INSTANT;
    }
    if ((*p == '+' || *p == '-') && digits(p + 1, 2)) {
        int oh = num(p + 1, 2), om = 0;
        const char *q = p + 3;
        if (*q == ':')
            q++;
        if (*q) {
            if (!digits(q, 2) || q[2] != '\0')
                return LOGS_TIME_INVALID;
            om = num(q, 2);
        }
        if (oh > 14 || om > 59 || (oh == 14 && om > 0))
            return LOGS_TIME_INVALID;
        snprintf(out, cap, "%s%c%02d:%02d", base, *p, oh, om);
        return LOGS_TIME_INSTANT;
    }
    return LOGS_TIME_INVALID;
}

bool logs_month_range(const char *month, char first[11], char next[11])
{
    if (!month || strlen(month) != 7 || !digits(month, 4) || month[4] != '-' || !digits(month + 5, 2))
        return false;
    int y = num(month, 4), m = num(month + 5, 2);
    if (y < 1970 || y > 9998 || m < 1 || m > 12)
        return false;
    snprintf(first, 11, "%04d-%02d-01", y, m);
    snprintf(next, 11, "%04d-%02d-01", m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1);
    return true;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool logs_days_between(const char *a, const char *b, long *days)
{
    int ya, ma, da, yb, mb, db;
    if (!a || !b || strlen(a) != 10 || strlen(b) != 10 || !parse_date10(a, &ya, &ma, &da) ||
        !parse_date10(b, &yb, &mb, &db))
        return false;
    *days = days_from_civil(yb, mb, db) - days_from_civil(ya, ma, da);
    return true;
}

char *logs_cursor_encode(const char *micros, const char *log_id)
{
    return cursor_encode(micros, log_id);
}

bool logs_cursor_decode(const char *cursor, char micros[24], char log_id[40])
{
    char m[24], id[CURSOR_ID_MAX + 1];
    if (!cursor_decode(cursor, m, id) || !is_uuid(id))
        return false;
    memcpy(micros, m, sizeof m);
    memcpy(log_id, id, 37);   /* a uuid: 36 characters */
    return true;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0; a NUL byte
 * is not text here (it becomes '?' in a preview). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    return s[0] ? utf8_seq_len(s, n) : 0;
}

char *logs_preview(const char *s, size_t n, size_t max_chars)
{
    static const char ellipsis[] = "\xe2\x80\xa6";   /* … */
    const unsigned char *u = (const unsigned char *)s;
    /* Where the text would be cut to max_chars - 1 characters, and whether it has more than max_chars. */
    size_t i = 0, chars = 0, cut_at = 0;
    while (i < n && chars <= max_chars) {
        if (chars == (max_chars ? max_chars - 1 : 0))
            cut_at = i;
        size_t len = utf8_len(u + i, n - i);
        i += len ? len : 1;
        chars++;
    }
    bool cut = chars > max_chars;
    size_t end = cut ? cut_at : n;
    char *out = xmalloc(4 * (end + 1) + sizeof ellipsis);
    size_t o = 0;
    for (size_t k = 0; k < end;) {
        size_t len = utf8_len(u + k, end - k);
        if (len == 0) {
            out[o++] = '?';
            k++;
        } else {
            memcpy(out + o, s + k, len);
            o += len;
            k += len;
        }
    }
    if (cut && max_chars > 0) {
        memcpy(out + o, ellipsis, sizeof ellipsis - 1);
        o += sizeof ellipsis - 1;
    }
    out[o] = '\0';
    return out;
}

/* ---- small helpers ------------------------------------------------------ */

static json_t *col_str(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *col_int(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

static long long col_ll(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static json_t *error_obj(const PGresult *res, int row, int code_col, int msg_col)
{
    if (PQgetisnull(res, row, code_col))
        return json_null();
    return json_pack("{s:s, s:s}", "code", PQgetvalue(res, row, code_col), "message",
                     PQgetisnull(res, row, msg_col) ? "" : PQgetvalue(res, row, msg_col));
}

/* An environment argument: "sandbox", "production", or NULL for all. */
static enum tm_error env_arg(struct tool_ctx *ctx, const json_t *args, const char *dflt, const char **env)
{
    const char *e = tool_arg_str(args, "environment");
    if (!e)
        e = dflt;
    if (!strcmp(e, "all")) {
        *env = NULL;
        return TM_OK;
    }
    if (strcmp(e, "sandbox") && strcmp(e, "production"))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "environment must be sandbox, production or all");
    *env = e;
    return TM_OK;
}

/* ---- finding an endpoint ------------------------------------------------ */

enum tm_error logs_resolve_endpoint(struct tool_ctx *ctx, const char *ref, char id[40], char *slug)
{
    return tool_find_endpoint(ctx, ref, false, id, slug, 80, NULL, 0);
}

/* ---- logs_lookup -------------------------------------------------------- */

#define LOOKUP_COLS                                                                                            \
    "SELECT l.id::text, l.record_id, l.endpoint_id::text, e.slug, e.name, l.environment, l.method, "           \
    "l.status_code, l.outcome, l.error_code, l.error_message, l.latency_ms, l.caller_kind, l.ip, "             \
    TS("l.created_at") ", " TS("l.processed_at") ", l.request_body, l.request_truncated, l.response_body, "    \
    "l.response_truncated, l.archive_id IS NOT NULL, l.webhook_status, d.status, d.attempt, d.response_status, " \
    "l.collaboration_key_id::text "                                                                            \
    "FROM call_logs l JOIN endpoints e ON e.id = l.endpoint_id "                                               \
    "LEFT JOIN LATERAL (SELECT status, attempt, response_status FROM webhook_deliveries "                      \
    "  WHERE call_log_id = l.id AND account_id = $1::uuid ORDER BY created_at DESC LIMIT 1) d ON true "        \
    "WHERE l.account_id = $1::uuid AND l.endpoint_id = $2::uuid AND ($3::text IS NULL OR l.environment = $3) "

static const char SQL_LOOKUP_BY_ID[] = LOOKUP_COLS "AND l.id = $4::uuid LIMIT 1";
static const char SQL_LOOKUP_BY_RECORD[] =
    LOOKUP_COLS "AND l.record_id = $4 ORDER BY l.created_at DESC, l.id DESC LIMIT 1";

static const char SQL_RECORD_HISTORY[] =
    "SELECT id::text, method, status_code, outcome, " TS("created_at") " FROM call_logs "
    "WHERE account_id = $1::uuid AND endpoint_id = $2::uuid AND record_id = $3 AND environment = $4 "
    "ORDER BY created_at DESC, id DESC LIMIT 20";

/* A logged body: the JSON value when the whole text parses, else the text itself. */
static json_t *body_value(const PGresult *res, int row, int col, bool truncated)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *text = PQgetvalue(res, row, col);
    if (!truncated) {
        json_error_t jerr;
        json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
        if (v)
            return v;
    }
    return json_string(text);
}

enum tm_error tool_logs_lookup(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *log_id = tool_arg_str(args, "log_id"), *record_id = tool_arg_str(args, "record_id");
    /* The schema cannot say "exactly one of"; the tool does. */
    if ((log_id != NULL) == (record_id != NULL))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "give exactly one of log_id (a log entry) or record_id (the latest entry of a record)");
    if (log_id && !is_uuid(log_id))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "log_id must be a log id as logs_search returns it");
    if (record_id && !gateway_is_record_id(record_id))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "record_id must look like rec_...");
    const char *env = tool_arg_str(args, "environment");
    if (env && strcmp(env, "sandbox") && strcmp(env, "production"))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "environment must be sandbox or production");

    char ep[40];
    enum tm_error rc = logs_resolve_endpoint(ctx, tool_arg_str(args, "endpoint"), ep, NULL);
    if (rc != TM_OK)
        return rc;
    const char *p[4] = {ctx->who->account_id, ep, env, log_id ? log_id : record_id};
    PGresult *res = tool_query(ctx, log_id ? SQL_LOOKUP_BY_ID : SQL_LOOKUP_BY_RECORD, 4, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL,
                         log_id ? "no log entry with this id for this endpoint"
                                : "no log entry for this record of this endpoint");
    }
    bool archived = PQgetvalue(res, 0, 20)[0] == 't';
    bool req_cut = PQgetvalue(res, 0, 17)[0] == 't', resp_cut = PQgetvalue(res, 0, 19)[0] == 't';
    json_t *webhook = json_null();
    if (!PQgetisnull(res, 0, 22))
        webhook = json_pack("{s:s, s:o, s:o}", "status", PQgetvalue(res, 0, 22), "attempts", col_int(res, 0, 23),
                            "last_response_status", col_int(res, 0, 24));
    else if (!PQgetisnull(res, 0, 21))
        webhook = json_pack("{s:s, s:i, s:n}", "status", PQgetvalue(res, 0, 21), "attempts", 0,
                            "last_response_status");
    json_t *request_body = archived ? json_null() : body_value(res, 0, 16, req_cut);
    json_t *payload = json_is_object(request_body) ? json_incref(request_body) : json_null();

    json_t *out = json_object();
    json_object_set_new(out, "log_id", json_string(PQgetvalue(res, 0, 0)));
    json_object_set_new(out, "endpoint",
                        json_pack("{s:s, s:s, s:s}", "id", PQgetvalue(res, 0, 2), "slug", PQgetvalue(res, 0, 3),
                                  "name", PQgetvalue(res, 0, 4)));
    json_object_set_new(out, "environment", json_string(PQgetvalue(res, 0, 5)));
    json_object_set_new(out, "method", json_string(PQgetvalue(res, 0, 6)));
    json_object_set_new(out, "record_id", col_str(res, 0, 1));
    json_object_set_new(out, "status_code", col_int(res, 0, 7));
    json_object_set_new(out, "outcome", json_string(PQgetvalue(res, 0, 8)));
    json_object_set_new(out, "error", error_obj(res, 0, 9, 10));
    json_object_set_new(out, "latency_ms", col_int(res, 0, 11));
    json_object_set_new(out, "caller", json_string(PQgetvalue(res, 0, 12)));
    json_object_set_new(out, "collaboration_key_id", col_str(res, 0, 25));
    json_object_set_new(out, "ip", col_str(res, 0, 13));
    json_object_set_new(out, "created_at", json_string(PQgetvalue(res, 0, 14)));
    json_object_set_new(out, "processed_at", col_str(res, 0, 15));
    json_object_set_new(out, "archived", json_boolean(archived));
    json_object_set_new(out, "payload", payload);
    json_object_set_new(out, "request_body", request_body);
    json_object_set_new(out, "request_truncated", json_boolean(req_cut));
    json_object_set_new(out, "response_body", archived ? json_null() : body_value(res, 0, 18, resp_cut));
    json_object_set_new(out, "response_truncated", json_boolean(resp_cut));
    json_object_set_new(out, "webhook", webhook);

    /* The record's other calls, so "what happened to rec_…" is one lookup. */
    json_t *history = json_array();
    if (!PQgetisnull(res, 0, 1)) {
        const char *ph[4] = {ctx->who->account_id, ep, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 5)};
        PGresult *h = tool_query(ctx, SQL_RECORD_HISTORY, 4, ph);
        if (!h) {
            PQclear(res);
            json_decref(history);
            json_decref(out);
            return ctx->code;
        }
        for (int i = 0; i < PQntuples(h); i++)
            json_array_append_new(history, json_pack("{s:s, s:s, s:o, s:s, s:s}", "log_id", PQgetvalue(h, i, 0),
                                                     "method", PQgetvalue(h, i, 1), "status_code",
                                                     col_int(h, i, 2), "outcome", PQgetvalue(h, i, 3),
                                                     "created_at", PQgetvalue(h, i, 4)));
        PQclear(h);
    }
    json_object_set_new(out, "record_history", history);
    PQclear(res);
    *result = out;
    return TM_OK;
}

/* ---- logs_search -------------------------------------------------------- */

/* The window in the account's time zone. $2-$4: from as a date, a wall-clock
 * time or an instant (one of them or none); $5-$7 the same for to. A date
 * `to` includes its whole day, a time `to` its instant. Returns tz, from and
 * to for display and exactly (µs), whether it is longer than the maximum
 * (an hour of slack, for a daylight-saving day inside a window of dates),
 * and whether it is empty. It also sets plan_cache_mode for the rest of the
 * transaction (SQL_SEARCH's custom plans, see the top of this file): a
 * column of this statement instead of a SET LOCAL of its own saves a round
 * trip per search. */
static const char SQL_WINDOW[] =
    "SELECT tz, " TS("lo") ", " TS("hi") ", " TS_US("lo") ", " TS_US("hi") ", "
    "hi - lo > interval '93 days 1 hour', lo >= hi, " TS_US("(lo - interval '1 day')") ", "
    "set_config('plan_cache_mode', 'force_custom_plan', true) FROM ("
    " SELECT tz, coalesce(lo_in, coalesce(hi_in, now()) - interval '7 days') AS lo, coalesce(hi_in, now()) AS hi"
    " FROM (SELECT a.timezone AS tz,"
    "  coalesce($2::date::timestamp AT TIME ZONE a.timezone, $3::timestamp AT TIME ZONE a.timezone,"
    "           $4::timestamptz) AS lo_in,"
    "  coalesce(($5::date + 1)::timestamp AT TIME ZONE a.timezone,"
    "           $6::timestamp AT TIME ZONE a.timezone + interval '1 microsecond',"
    "           $7::timestamptz + interval '1 microsecond') AS hi_in"
    "  FROM accounts a WHERE a.id = $1::uuid) b) c";

static const char SQL_SEARCH[] =
    "SELECT l.id::text, l.record_id, l.endpoint_id::text, e.slug, e.name, l.environment, l.method, "
    "l.status_code, l.outcome, l.error_code, l.error_message, l.latency_ms, l.caller_kind, " TS("l.created_at") ", "
    "(extract(epoch FROM l.created_at) * 1000000)::bigint, "
    "CASE WHEN l.archive_id IS NULL THEN left(coalesce(l.request_body, l.response_body), 301) END "
    "FROM call_logs l JOIN endpoints e ON e.id = l.endpoint_id "
    "WHERE l.account_id = $1::uuid AND l.created_at >= $2::timestamptz AND l.created_at < $3::timestamptz "
    "AND ($4::uuid IS NULL OR l.endpoint_id = $4::uuid) "
    "AND ($5::text IS NULL OR l.environment = $5) "
    "AND ($6::text IS NULL OR l.search @@ websearch_to_tsquery('simple', $6)) "
    "AND ($7::text IS NULL OR l.outcome = $7) "
    "AND ($8::int IS NULL OR l.status_code = $8::int) "
    "AND ($9::text IS NULL OR l.method = $9) "
    "AND ($10::timestamptz IS NULL OR (l.processed_at >= $10::timestamptz AND l.processed_at < $11::timestamptz)) "
    "AND ($12::bigint IS NULL OR (l.created_at, l.id) < "
    "     ('epoch'::timestamptz + $12::bigint * interval '1 microsecond', $13::uuid)) "
    "ORDER BY l.created_at DESC, l.id DESC LIMIT $14::int";

/* Splits a from/to argument into the three parameter slots of SQL_WINDOW. */
static enum tm_error time_arg(struct tool_ctx *ctx, const json_t *args, const char *name, char buf[48],
                              const char *slots[3])
{
    slots[0] = slots[1] = slots[2] = NULL;
    const char *s = tool_arg_str(args, name);
    if (!s)
        return TM_OK;
    enum logs_time_kind k = logs_time_parse(s, buf, 48);
    if (k == LOGS_TIME_INVALID)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "%s must be an ISO date or date-time, e.g. 2025-01-31, 2025-01-31T09:00 (your time zone) "
                         "or 2025-01-31T09:00:00Z",
                         name);
    slots[k - LOGS_TIME_DATE] = buf;
    return TM_OK;
}

enum tm_error tool_logs_search(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    enum tm_error rc;
    const char *env;
    if ((rc = env_arg(ctx, args, "all", &env)) != TM_OK)
        return rc;
    const char *status = tool_arg_str(args, "status");
    if (status && !strcmp(status, "all"))
        status = NULL;
    if (status && strcmp(status, "success") && strcmp(status, "failed"))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "status must be success, failed or all");
    const char *method = tool_arg_str(args, "method");
    if (method && strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT") && strcmp(method, "DELETE"))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "method must be GET, POST, PUT or DELETE");
    const char *basis = tool_arg_str(args, "date_basis");
    if (!basis)
        basis = "created_at";
    if (strcmp(basis, "created_at") && strcmp(basis, "processed_at"))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "date_basis must be created_at or processed_at");
    json_int_t limit = LOGS_SEARCH_DEFAULT;
    const json_t *jl = json_object_get(args, "limit");
    if (jl) {
        if (!json_is_integer(jl) || json_integer_value(jl) < 1 || json_integer_value(jl) > LOGS_SEARCH_MAX)
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "limit must be an integer from 1 to 100");
        limit = json_integer_value(jl);
    }
    char code_s[16] = "";
    const json_t *jc = json_object_get(args, "status_code");
    if (jc) {
        if (!json_is_integer(jc) || json_integer_value(jc) < 100 || json_integer_value(jc) > 599)
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "status_code must be an HTTP status, 100-599");
        snprintf(code_s, sizeof code_s, "%lld", (long long)json_integer_value(jc));
    }
    char micros[24], cid[40];
    const char *cursor = tool_arg_str(args, "cursor");
    if (cursor && !logs_cursor_decode(cursor, micros, cid))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "cursor is not valid; pass the next_cursor of a previous page");
    const char *query = tool_arg_str(args, "query");
    if (query && strlen(query) > 500)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "query must be at most 500 characters");

    char fbuf[48], tbuf[48];
    const char *w[7] = {ctx->who->account_id};
    if ((rc = time_arg(ctx, args, "from", fbuf, w + 1)) != TM_OK ||
        (rc = time_arg(ctx, args, "to", tbuf, w + 4)) != TM_OK)
        return rc;
    /* Two dates can be refused before any query. */
    long days;
    if (w[1] && w[4] && logs_days_between(w[1], w[4], &days) && days + 1 > LOGS_WINDOW_MAX_DAYS)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "the window from %s to %s is %ld days; it may be at most %d days: search in parts",
                         w[1], w[4], days + 1, LOGS_WINDOW_MAX_DAYS);

    char ep[40] = "";
    const char *ref = tool_arg_str(args, "endpoint");
    if (ref && (rc = logs_resolve_endpoint(ctx, ref, ep, NULL)) != TM_OK)
        return rc;

    PGresult *res = tool_query(ctx, SQL_WINDOW, 7, w);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    }
    bool too_long = PQgetvalue(res, 0, 5)[0] == 't', empty = PQgetvalue(res, 0, 6)[0] == 't';
    json_t *window = json_pack("{s:s, s:s, s:s, s:s}", "from", PQgetvalue(res, 0, 1), "to", PQgetvalue(res, 0, 2),
                               "tz", PQgetvalue(res, 0, 0), "date_basis", basis);
    char lo[40], hi[40], lo_wide[40];
    snprintf(lo, sizeof lo, "%s", PQgetvalue(res, 0, 3));
    snprintf(hi, sizeof hi, "%s", PQgetvalue(res, 0, 4));
    snprintf(lo_wide, sizeof lo_wide, "%s", PQgetvalue(res, 0, 7));
    PQclear(res);
    if (too_long || empty) {
        char f[40], t[40];
        snprintf(f, sizeof f, "%s", json_string_value(json_object_get(window, "from")));
        snprintf(t, sizeof t, "%s", json_string_value(json_object_get(window, "to")));
        json_decref(window);
        if (too_long)
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                             "the window from %s to %s is longer than %d days; it may be at most %d days: "
                             "search in parts",
                             f, t, LOGS_WINDOW_MAX_DAYS, LOGS_WINDOW_MAX_DAYS);
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "from (%s) must be before to (%s)", f, t);
    }

    bool by_processed = !strcmp(basis, "processed_at");
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)limit + 1);   /* one more tells whether there is a next page */
    const char *p[14] = {ctx->who->account_id,
                         by_processed ? lo_wide : lo,
                         hi,
                         ep[0] ? ep : NULL,
                         env,
                         query,
                         status,
                         code_s[0] ? code_s : NULL,
                         method,
                         by_processed ? lo : NULL,
                         by_processed ? hi : NULL,
                         cursor ? micros : NULL,
                         cursor ? cid : NULL,
                         lim};
    res = tool_query(ctx, SQL_SEARCH, 14, p);
    if (!res) {
        json_decref(window);
        return ctx->code;
    }
    int rows = PQntuples(res);
    int shown = rows > limit ? (int)limit : rows;
    json_t *items = json_array();
    for (int i = 0; i < shown; i++) {
        json_t *preview = json_null();
        if (!PQgetisnull(res, i, 15)) {
            char *pv = logs_preview(PQgetvalue(res, i, 15), (size_t)PQgetlength(res, i, 15), LOGS_PREVIEW_CHARS);
            preview = json_string(pv);
            free(pv);
        }
        json_t *it = json_object();
        json_object_set_new(it, "log_id", json_string(PQgetvalue(res, i, 0)));
        json_object_set_new(it, "record_id", col_str(res, i, 1));
        json_object_set_new(it, "endpoint", json_pack("{s:s, s:s, s:s}", "id", PQgetvalue(res, i, 2), "slug",
                                                      PQgetvalue(res, i, 3), "name", PQgetvalue(res, i, 4)));
        json_object_set_new(it, "environment", json_string(PQgetvalue(res, i, 5)));
        json_object_set_new(it, "method", json_string(PQgetvalue(res, i, 6)));
        json_object_set_new(it, "status_code", col_int(res, i, 7));
        json_object_set_new(it, "outcome", json_string(PQgetvalue(res, i, 8)));
        json_object_set_new(it, "error", error_obj(res, i, 9, 10));
        json_object_set_new(it, "latency_ms", col_int(res, i, 11));
        json_object_set_new(it, "caller", json_string(PQgetvalue(res, i, 12)));
        json_object_set_new(it, "created_at", json_string(PQgetvalue(res, i, 13)));
        json_object_set_new(it, "payload_preview", preview);
        json_array_append_new(items, it);
    }
    json_t *next = json_null();
    if (rows > limit && shown > 0) {
        char *c = logs_cursor_encode(PQgetvalue(res, shown - 1, 14), PQgetvalue(res, shown - 1, 0));
        next = json_string(c);
        free(c);
    }
    PQclear(res);
    *result = json_pack("{s:o, s:o, s:o}", "items", items, "next_cursor", next, "window", window);
    return TM_OK;
}

/* ---- stats -------------------------------------------------------------- */

/* daily_stats of the account in [from, to) (UTC days), optionally one
 * endpoint ($2) and environment ($5); $6 'day' or 'month' buckets, every
 * bucket listed even without calls. */
#define STATS_WHERE                                                                                   \
    "s.account_id = $1::uuid AND s.day >= $3::date AND s.day < $4::date "                            \
    "AND ($2::uuid IS NULL OR s.endpoint_id = $2::uuid) AND ($5::text IS NULL OR s.environment = $5) "

static const char SQL_STATS_SERIES[] =
    "WITH g AS (SELECT d::date AS b FROM generate_series("
    "  CASE WHEN $6 = 'month' THEN date_trunc('month', $3::date::timestamp) ELSE $3::date::timestamp END, "
    "  ($4::date - 1)::timestamp, CASE WHEN $6 = 'month' THEN interval '1 month' ELSE interval '1 day' END) d), "
    "s AS (SELECT CASE WHEN $6 = 'month' THEN date_trunc('month', s.day)::date ELSE s.day END AS b, "
    "  s.calls, s.success, s.failed, s.latency_sum_ms FROM daily_stats s WHERE " STATS_WHERE ") "
    "SELECT to_char(g.b, 'YYYY-MM-DD'), coalesce(sum(s.calls), 0), coalesce(sum(s.success), 0), "
    "coalesce(sum(s.failed), 0), coalesce(sum(s.latency_sum_ms), 0) "
    "FROM g LEFT JOIN s ON s.b = g.b GROUP BY g.b ORDER BY g.b";

static const char SQL_STATS_BY_ENDPOINT[] =
    "SELECT s.endpoint_id::text, e.slug, e.name, sum(s.calls), sum(s.success), sum(s.failed), "
    "sum(s.latency_sum_ms) FROM daily_stats s JOIN endpoints e ON e.id = s.endpoint_id "
    "WHERE " STATS_WHERE "AND $6::text IS NOT NULL "
    "GROUP BY 1, 2, 3 ORDER BY 4 DESC, 2 LIMIT 100";

static const char SQL_STATS_BY_KEY[] =
    "SELECT s.collaboration_key_id::text, c.name, sum(s.calls), sum(s.success), sum(s.failed), "
    "sum(s.latency_sum_ms) FROM daily_stats s LEFT JOIN collaboration_keys c ON c.id = s.collaboration_key_id "
    "WHERE " STATS_WHERE "AND $6::text IS NOT NULL "
    "GROUP BY 1, 2 ORDER BY 3 DESC, 2 NULLS FIRST LIMIT 100";

static json_t *avg_latency(long long sum, long long calls)
{
    return calls > 0 ? json_real((double)((sum * 10 + calls / 2) / calls) / 10.0) : json_null();
}

/* {calls, success, failed, avg_latency_ms} from columns c..c+3 (calls, success, failed, latency sum). */
static json_t *counts(const PGresult *res, int row, int c)
{
    long long calls = col_ll(res, row, c);
    return json_pack("{s:I, s:I, s:I, s:o}", "calls", (json_int_t)calls, "success", (json_int_t)col_ll(res, row, c + 1),
                     "failed", (json_int_t)col_ll(res, row, c + 2), "avg_latency_ms",
                     avg_latency(col_ll(res, row, c + 3), calls));
}

static void today_utc(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* d + n days ("YYYY-MM-DD"). */
static void add_days(const char *d, long n, char out[11])
{
    int y = num(d, 4), m = num(d + 5, 2), dd = num(d + 8, 2);
    long z = days_from_civil(y, m, dd) + n;
    /* civil_from_days (Howard Hinnant). */
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long day = doy - (153 * mp + 2) / 5 + 1;
    long mon = mp + (mp < 10 ? 3 : -9);
    /* Callers stay within 1970-9999, so the bounds only silence the compiler. */
    int oy = (int)((yy + (mon <= 2)) % 10000), om = (int)(mon % 100), od = (int)(day % 100);
    snprintf(out, 11, "%04d-%02d-%02d", oy < 0 ? 0 : oy, om < 0 ? 0 : om, od < 0 ? 0 : od);
}

enum tm_error tool_stats(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    enum tm_error rc;
    const char *env;
    if ((rc = env_arg(ctx, args, "production", &env)) != TM_OK)
        return rc;
    const char *gran = tool_arg_str(args, "granularity");
    if (!gran)
        gran = "day";
    if (strcmp(gran, "day") && strcmp(gran, "month"))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "granularity must be day or month");

    const char *month = tool_arg_str(args, "month"), *from = tool_arg_str(args, "from"), *to = tool_arg_str(args, "to");
    char lo[11], hi[11], last[11], today[11], buf[48];
    today_utc(today);
    if (month && (from || to))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "give either month or from/to, not both");
    if (month) {
        if (!logs_month_range(month, lo, hi))
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "month must be YYYY-MM, e.g. 2025-01");
    } else if (from || to) {
        if (from && logs_time_parse(from, buf, sizeof buf) != LOGS_TIME_DATE)
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "from must be a date, YYYY-MM-DD");
        if (to && logs_time_parse(to, buf, sizeof buf) != LOGS_TIME_DATE)
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "to must be a date, YYYY-MM-DD");
        /* to defaults to today; from to the 30 days ending at to. */
        add_days(to ? to : today, 1, hi);
        if (from)
            snprintf(lo, sizeof lo, "%s", from);
        else
            add_days(hi, -30, lo);
    } else {
        char cur[8];
        snprintf(cur, sizeof cur, "%.7s", today);
        logs_month_range(cur, lo, hi);
    }
    long days;
    if (!logs_days_between(lo, hi, &days) || days < 1)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "from must not be after to");
    if (days > STATS_MAX_DAYS)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "the period is %ld days; it may be at most %d days",
                         days, STATS_MAX_DAYS);
    add_days(hi, -1, last);

    char ep[40] = "";
    const char *ref = tool_arg_str(args, "endpoint");
    if (ref && (rc = logs_resolve_endpoint(ctx, ref, ep, NULL)) != TM_OK)
        return rc;

    const char *p[6] = {ctx->who->account_id, ep[0] ? ep : NULL, lo, hi, env, gran};
    PGresult *series = tool_query(ctx, SQL_STATS_SERIES, 6, p);
    if (!series)
        return ctx->code;
    PGresult *by_ep = tool_query(ctx, SQL_STATS_BY_ENDPOINT, 6, p);
    if (!by_ep) {
        PQclear(series);
        return ctx->code;
    }
    PGresult *by_key = tool_query(ctx, SQL_STATS_BY_KEY, 6, p);
    if (!by_key) {
        PQclear(series);
        PQclear(by_ep);
        return ctx->code;
    }

    long long t_calls = 0, t_success = 0, t_failed = 0, t_lat = 0;
    json_t *daily = json_array();
    for (int i = 0; i < PQntuples(series); i++) {
        json_t *c = counts(series, i, 1);
        json_object_set_new(c, "day", json_string(PQgetvalue(series, i, 0)));
        json_array_append_new(daily, c);
        t_calls += col_ll(series, i, 1);
        t_success += col_ll(series, i, 2);
        t_failed += col_ll(series, i, 3);
        t_lat += col_ll(series, i, 4);
    }
    json_t *endpoints = json_array();
    for (int i = 0; i < PQntuples(by_ep); i++) {
        json_t *c = counts(by_ep, i, 3);
        json_object_set_new(c, "endpoint", json_pack("{s:s, s:s, s:s}", "id", PQgetvalue(by_ep, i, 0), "slug",
                                                     PQgetvalue(by_ep, i, 1), "name", PQgetvalue(by_ep, i, 2)));
        json_array_append_new(endpoints, c);
    }
    json_t *keys = json_array();
    for (int i = 0; i < PQntuples(by_key); i++) {
        json_t *c = counts(by_key, i, 2);
        bool owner = PQgetisnull(by_key, i, 0);
        json_object_set_new(c, "collaboration_key_id", col_str(by_key, i, 0));
        /* The owner's row covers the owner key and api_call (caller mcp). */
        json_object_set_new(c, "name", owner ? json_string("owner") : col_str(by_key, i, 1));
        json_array_append_new(keys, c);
    }
    PQclear(series);
    PQclear(by_ep);
    PQclear(by_key);

    json_t *totals = json_pack("{s:I, s:I, s:I, s:o}", "calls", (json_int_t)t_calls, "success", (json_int_t)t_success,
                               "failed", (json_int_t)t_failed, "avg_latency_ms", avg_latency(t_lat, t_calls));
    *result = json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:o, s:o, s:o, s:o}", "period", "from", lo, "to", last, "tz",
                        "UTC", "granularity", gran, "environment", env ? env : "all", "totals", totals, "daily",
                        daily, "by_endpoint", endpoints, "by_collaboration_key", keys);
    return TM_OK;
}
