/*
 * tool_archives — archives_list, archives_download and logs_fetch_archived.
 *
 * The archives themselves are written by bin/jobs (services/jobs/archive.c):
 * one gzipped JSONL and one CSV file per endpoint and UTC day under
 * ARCHIVE_DIR, recorded in the archives table; an archived log row keeps
 * its metadata and points at its line (archive_id, archive_line, 1-based in
 * the JSONL file). Every query filters by the caller's account on top of
 * row-level security.
 */
#include "services/worker/tool_archives.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "common/archive_link.h"
#include "common/util.h"
#include "services/worker/cursor.h"
#include "services/worker/gateway.h"
#include "services/worker/tool_logs.h"
#include "services/worker/tool_util.h"

#define LIST_LIMIT_DEFAULT 30
#define LIST_LIMIT_MAX 100
#define LINE_MAX_BYTES (1024 * 1024)   /* an archived line holds two bodies of at most 16 KB, escaped */

static json_t *formats_of(const PGresult *res, int row, int col)
{
    /* cols: jsonl_bytes, jsonl_sha256, csv_bytes, csv_sha256 */
    return json_pack("[{s:s, s:I, s:s}, {s:s, s:I, s:s}]", "format", "jsonl", "size_bytes",
                     (json_int_t)strtoll(PQgetvalue(res, row, col), NULL, 10), "sha256", PQgetvalue(res, row, col + 1),
                     "format", "csv", "size_bytes", (json_int_t)strtoll(PQgetvalue(res, row, col + 2), NULL, 10),
                     "sha256", PQgetvalue(res, row, col + 3));
}

/* ---- archives_list ------------------------------------------------------ */

static const char SQL_LIST[] =
    "SELECT a.id::text, e.id::text, e.slug, e.name, to_char(a.day, 'YYYY-MM-DD'), a.record_count, "
    "a.jsonl_bytes, a.jsonl_sha256, a.csv_bytes, a.csv_sha256, "
    "(extract(epoch FROM a.day::timestamp) * 1000000)::bigint::text "
    "FROM archives a JOIN endpoints e ON e.id = a.endpoint_id "
    "WHERE a.account_id = $1::uuid AND a.deleted_at IS NULL AND ($2::uuid IS NULL OR a.endpoint_id = $2::uuid) "
    "AND ($3::date IS NULL OR a.day >= $3::date) AND ($4::date IS NULL OR a.day <= $4::date) "
    "AND ($5::bigint IS NULL OR (a.day, a.id) < ((to_timestamp($5::bigint / 1000000.0) AT TIME ZONE 'UTC')::date, "
    "$6::uuid)) "
    "ORDER BY a.day DESC, a.id DESC LIMIT $7::int";

/* With no endpoint given: one row per endpoint over the same day range, not paged (an account has few
 * endpoints), so "what is archived where" is answered without walking every page. */
static const char SQL_SUMMARY[] =
    "SELECT e.id::text, e.slug, e.name, count(*), sum(a.record_count), sum(a.jsonl_bytes + a.csv_bytes), "
    "to_char(min(a.day), 'YYYY-MM-DD'), to_char(max(a.day), 'YYYY-MM-DD') "
    "FROM archives a JOIN endpoints e ON e.id = a.endpoint_id "
    "WHERE a.account_id = $1::uuid AND a.deleted_at IS NULL "
    "AND ($2::date IS NULL OR a.day >= $2::date) AND ($3::date IS NULL OR a.day <= $3::date) "
    "GROUP BY e.id, e.slug, e.name ORDER BY e.slug";

static json_t *list_summary(struct tool_ctx *ctx, const char *from, const char *to)
{
    const char *p[3] = {ctx->who->account_id, from, to};
    PGresult *res = tool_query(ctx, SQL_SUMMARY, 3, p);
    if (!res)
        return NULL;
    json_t *rows = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(
            rows, json_pack("{s:{s:s, s:s, s:s}, s:I, s:I, s:I, s:s, s:s}", "endpoint", "id", PQgetvalue(res, i, 0),
                            "slug", PQgetvalue(res, i, 1), "name", PQgetvalue(res, i, 2), "files",
                            (json_int_t)strtoll(PQgetvalue(res, i, 3), NULL, 10), "record_count",
                            (json_int_t)strtoll(PQgetvalue(res, i, 4), NULL, 10), "size_bytes",
                            (json_int_t)strtoll(PQgetvalue(res, i, 5), NULL, 10), "oldest_day",
                            PQgetvalue(res, i, 6), "newest_day", PQgetvalue(res, i, 7)));
    PQclear(res);
    return rows;
}

enum tm_error tool_archives_list(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *from = tool_arg_str(args, "from"), *to = tool_arg_str(args, "to"), *cursor = tool_arg_str(args, "cursor");
    char buf[48];
    if ((from && logs_time_parse(from, buf, sizeof buf) != LOGS_TIME_DATE) ||
        (to && logs_time_parse(to, buf, sizeof buf) != LOGS_TIME_DATE))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "from and to must be dates (YYYY-MM-DD, UTC days)");
    json_t *jl = json_object_get(args, "limit");
    json_int_t limit = jl ? json_integer_value(jl) : LIST_LIMIT_DEFAULT;
    if (jl && (!json_is_integer(jl) || limit < 1 || limit > LIST_LIMIT_MAX))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "limit must be 1 to %d", LIST_LIMIT_MAX);
    char micros[24] = "", cid[CURSOR_ID_MAX + 1] = "";
    if (cursor && (!cursor_decode(cursor, micros, cid) || !is_uuid(cid)))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "cursor is not a next_cursor of archives_list");
    char ep[40];
    const char *ref = tool_arg_str(args, "endpoint");
    if (ref) {
        enum tm_error rc = logs_resolve_endpoint(ctx, ref, ep, NULL);
        if (rc != TM_OK)
            return rc;
    }
    char lim[16];
    snprintf(lim, sizeof lim, "%d", (int)limit + 1);
    const char *p[7] = {ctx->who->account_id, ref ? ep : NULL, from, to, cursor ? micros : NULL,
                        cursor ? cid : NULL, lim};
    PGresult *res = tool_query(ctx, SQL_LIST, 7, p);
    if (!res)
        return ctx->code;
    int n = PQntuples(res);
    bool more = n > limit;
    if (more)
        n = (int)limit;
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(
            items, json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:i, s:I, s:o}", "id", PQgetvalue(res, i, 0), "endpoint",
                             "id", PQgetvalue(res, i, 1), "slug", PQgetvalue(res, i, 2), "name", PQgetvalue(res, i, 3),
                             "day", PQgetvalue(res, i, 4), "record_count", atoi(PQgetvalue(res, i, 5)), "size_bytes",
                             (json_int_t)(strtoll(PQgetvalue(res, i, 6), NULL, 10) +
                                          strtoll(PQgetvalue(res, i, 8), NULL, 10)),
                             "formats", formats_of(res, i, 6)));
    }
    json_t *next = json_null();
    if (more) {
        char *c = cursor_encode(PQgetvalue(res, n - 1, 10), PQgetvalue(res, n - 1, 0));
        next = json_string(c);
        free(c);
    }
    PQclear(res);
    json_t *summary = NULL;
    if (!ref && !(summary = list_summary(ctx, from, to))) {
        json_decref(items);
        json_decref(next);
        return ctx->code;
    }
    *result = json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
    if (summary)
        json_object_set_new(*result, "summary", summary);
    return TM_OK;
}

/* ---- archives_download -------------------------------------------------- */

static const char SQL_ONE[] =
    "SELECT a.id::text, e.slug, to_char(a.day, 'YYYY-MM-DD'), a.jsonl_bytes, a.jsonl_sha256, a.csv_bytes, "
    "a.csv_sha256 FROM archives a JOIN endpoints e ON e.id = a.endpoint_id "
    "WHERE a.account_id = $1::uuid AND a.id = $2::uuid AND a.deleted_at IS NULL";

enum tm_error tool_archives_download(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = tool_arg_str(args, "archive_id"), *format = tool_arg_str(args, "format");
    if (!format)
        format = "jsonl";
    const char *suffix = archive_format_suffix(format);
    if (!suffix)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "format must be jsonl or csv");
    if (!id || !is_uuid(id))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "archive_id must be an id from archives_list");
    const struct keybox *kb = gateway_keybox(ctx->cfg);
    if (!kb)
        return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "download links cannot be signed right now");
    const char *p[2] = {ctx->who->account_id, id};
    PGresult *res = tool_query(ctx, SQL_ONE, 2, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no archive with this id");
    }
    bool csv = !strcmp(format, "csv");
    char canon_id[40];
    snprintf(canon_id, sizeof canon_id, "%s", PQgetvalue(res, 0, 0));   /* lower case, as the edge checks it */
    long long expires = (long long)time(NULL) + ARCHIVE_LINK_MAX_TTL_S;
    char sig[ARCHIVE_LINK_SIG_LEN + 1];
    archive_link_sign(kb, canon_id, format, expires, sig);
    char *url = xasprintf("%s/archives/%s/download?format=%s&expires=%lld&sig=%s", ctx->cfg->public_url, canon_id,
                          format, expires, sig);
    char *filename = xasprintf("%s-%s%s", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), suffix);
    time_t ex = (time_t)expires;
    struct tm tm;
    gmtime_r(&ex, &tm);
    char expires_at[32];
    strftime(expires_at, sizeof expires_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    *result = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "url", url, "expires_at", expires_at, "filename", filename,
                        "format", format, "size_bytes",
                        (json_int_t)strtoll(PQgetvalue(res, 0, csv ? 5 : 3), NULL, 10), "sha256",
                        PQgetvalue(res, 0, csv ? 6 : 4));
    free(url);
    free(filename);
    PQclear(res);
    return TM_OK;
}

/* ---- logs_fetch_archived ------------------------------------------------ */

#define FETCH_COLS                                                                                            \
    "SELECT l.id::text, l.archive_line, a.id::text, to_char(a.day, 'YYYY-MM-DD'), a.jsonl_path "               \
    "FROM call_logs l JOIN archives a ON a.id = l.archive_id AND a.account_id = $1::uuid "                     \
    "WHERE l.account_id = $1::uuid AND l.endpoint_id = $2::uuid AND l.archive_id IS NOT NULL "                 \
    "AND a.deleted_at IS NULL "
static const char SQL_FETCH_BY_ID[] = FETCH_COLS "AND l.id = $3::uuid LIMIT 1";
static const char SQL_FETCH_BY_RECORD[] = FETCH_COLS "AND l.record_id = $3 ORDER BY l.created_at DESC, l.id DESC LIMIT 1";
/* The entry was archived, but its archive file was deleted in the dashboard (the row stays, marked). */
static const char SQL_FETCH_DELETED[] =
    "SELECT to_char(a.day, 'YYYY-MM-DD'), to_char(a.deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM call_logs l JOIN archives a ON a.id = l.archive_id AND a.account_id = $1::uuid "
    "WHERE l.account_id = $1::uuid AND l.endpoint_id = $2::uuid AND a.deleted_at IS NOT NULL "
    "AND (l.id::text = $3 OR l.record_id = $3) ORDER BY l.created_at DESC, l.id DESC LIMIT 1";

/* Reads line `line` (1-based) of a gzipped file into a malloc'd string without its newline; NULL if absent. */
static char *gz_line(const char *path, long line)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return NULL;
    char *buf = xmalloc(LINE_MAX_BYTES);
    long at = 1;
    bool line_start = true;
    char *found = NULL;
    while (gzgets(gz, buf, LINE_MAX_BYTES)) {
        size_t n = strlen(buf);
        bool ends = n > 0 && buf[n - 1] == '\n';
        if (at == line && line_start) {
            if (ends) {
                buf[n - 1] = '\0';
                found = xstrdup(buf);
            }
            break;   /* a line longer than the buffer was never written by the archive pass */
        }
        line_start = ends;
        if (ends)
            at++;
    }
    gzclose(gz);
    free(buf);
    return found;
}

enum tm_error tool_logs_fetch_archived(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *log_id = tool_arg_str(args, "log_id"), *record_id = tool_arg_str(args, "record_id");
    if ((log_id != NULL) == (record_id != NULL))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "give exactly one of log_id (a log entry) or record_id (the latest archived entry of a record)");
    if (log_id && !is_uuid(log_id))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "log_id must be a log id as logs_search returns it");
    if (record_id && !gateway_is_record_id(record_id))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "record_id must look like rec_...");
    char ep[40];
    enum tm_error rc = logs_resolve_endpoint(ctx, tool_arg_str(args, "endpoint"), ep, NULL);
    if (rc != TM_OK)
        return rc;
    const char *p[3] = {ctx->who->account_id, ep, log_id ? log_id : record_id};
    PGresult *res = tool_query(ctx, log_id ? SQL_FETCH_BY_ID : SQL_FETCH_BY_RECORD, 3, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        if (!(res = tool_query(ctx, SQL_FETCH_DELETED, 3, p)))
            return ctx->code;
        if (PQntuples(res) == 1) {
            json_t *why = json_pack("{s:s, s:s, s:s}", "reason", "archive_deleted", "day", PQgetvalue(res, 0, 0),
                                    "deleted_at", PQgetvalue(res, 0, 1));
            PQclear(res);
            return tool_fail(ctx, TM_ERR_NOT_FOUND, why,
                             "this log entry was archived, but its archive file (%s) was deleted in the dashboard "
                             "on %s: its payload no longer exists; logs_lookup still shows its metadata",
                             json_string_value(json_object_get(why, "day")),
                             json_string_value(json_object_get(why, "deleted_at")));
        }
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL,
                         "no archived log entry %s for this endpoint (entries younger than the retention period are "
                         "not archived: use logs_lookup)", log_id ? "with this id" : "for this record");
    }
    char *path = xasprintf("%s/%s", ctx->cfg->archive_dir, PQgetvalue(res, 0, 4));
    char *text = gz_line(path, strtol(PQgetvalue(res, 0, 1), NULL, 10));
    free(path);
    json_t *entry = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    const char *want_id = PQgetvalue(res, 0, 0);
    if (!entry || !json_is_object(entry) || !json_string_value(json_object_get(entry, "log_id")) ||
        strcmp(json_string_value(json_object_get(entry, "log_id")), want_id) != 0) {
        json_decref(entry);
        PQclear(res);
        return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "the archive file of this entry cannot be read");
    }
    json_t *payload = json_object_get(entry, "payload"), *response = json_object_get(entry, "response");
    *result = json_pack("{s:s, s:O, s:O, s:O, s:O, s:{s:s, s:s, s:i}}", "log_id", want_id, "record_id",
                        json_object_get(entry, "record_id") ? json_object_get(entry, "record_id") : json_null(),
                        "created_at", json_object_get(entry, "created_at") ? json_object_get(entry, "created_at") : json_null(),
                        "payload", payload ? payload : json_null(), "response", response ? response : json_null(),
                        "archive", "id", PQgetvalue(res, 0, 2), "day", PQgetvalue(res, 0, 3), "line",
                        atoi(PQgetvalue(res, 0, 1)));
    json_decref(entry);
    PQclear(res);
    return TM_OK;
}
