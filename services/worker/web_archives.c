/*
 * web_archives — the web operations of the dashboard's Archives page
 * (/archives, docs/DASHBOARD.md "Archives"): the list with its filters, a
 * download link, and deleting an archive file.
 *
 * Downloads reuse archives_download (tool_archives.c): the same signed,
 * 15-minute link the MCP tool hands out, which the edge's page redirects to.
 *
 * Deleting is kept out of MCP. It removes the day's two files and their
 * by-id links from ARCHIVE_DIR and marks the archives row deleted; the row
 * stays (without files) so that logs_fetch_archived can tell the log rows
 * that point at it apart from entries that were never archived. The files
 * go only after the commit (web_removal_schedule, run by the dispatcher):
 * if the commit fails, the row and its files both stay. A file that cannot
 * be removed then is logged; deleting never reports it, since the row is
 * already marked deleted.
 */
#include "services/worker/web.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/archive_link.h"
#include "common/log.h"
#include "common/util.h"
#include "services/worker/tool_archives.h"
#include "services/worker/tool_logs.h"
#include "services/worker/tool_util.h"

#define PAGE 25
#define PAGE_S "25"

/* ---- archives.list ---------------------------------------------------------------- */

static const char SQL_LIST[] =
    "SELECT a.id::text, e.id::text, e.slug, e.name, to_char(a.day, 'YYYY-MM-DD'), a.record_count, "
    "a.jsonl_bytes, a.jsonl_sha256, a.csv_bytes, a.csv_sha256, "
    "to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM archives a JOIN endpoints e ON e.id = a.endpoint_id AND e.account_id = a.account_id "
    "WHERE a.account_id = $1::uuid AND a.deleted_at IS NULL AND ($2::uuid IS NULL OR a.endpoint_id = $2::uuid) "
    "AND ($3::date IS NULL OR a.day >= $3::date) AND ($4::date IS NULL OR a.day <= $4::date) "
    "AND ($5::date IS NULL OR (a.day, a.id) < ($5::date, $6::uuid)) AND ($7::uuid IS NULL OR a.id = $7::uuid) "
    "ORDER BY a.day DESC, a.id DESC LIMIT " PAGE_S " + 1";

/* The filter's choices: live endpoints, and deleted ones whose archives are still listed. */
static const char SQL_ENDPOINTS[] =
    "SELECT e.id::text, e.slug, e.name, e.deleted_at IS NOT NULL FROM endpoints e WHERE e.account_id = $1::uuid "
    "AND (e.deleted_at IS NULL OR EXISTS (SELECT 1 FROM archives a WHERE a.account_id = $1::uuid "
    "AND a.endpoint_id = e.id AND a.deleted_at IS NULL)) ORDER BY e.slug";

/* A date argument: absent, or a calendar date "YYYY-MM-DD". */
static bool date_arg(const json_t *args, const char *name, const char **out)
{
    const char *s = tool_arg_str(args, name);
    char buf[48];
    *out = s;
    return !s || (strlen(s) == 10 && logs_time_parse(s, buf, sizeof buf) == LOGS_TIME_DATE);
}

/* The page's cursor "<day>.<archive id>" (the last row shown): not a secret, not signed. */
static bool cursor_arg(const char *s, char day[11], char id[37])
{
    char buf[48];
    if (!s || strlen(s) != 10 + 1 + 36 || s[10] != '.')
        return false;
    memcpy(day, s, 10);
    day[10] = '\0';
    memcpy(id, s + 11, 36);
    id[36] = '\0';
    return logs_time_parse(day, buf, sizeof buf) == LOGS_TIME_DATE && is_uuid(id);
}

static json_t *format_json(const char *format, const char *bytes, const char *sha)
{
    return json_pack("{s:s, s:I, s:s}", "format", format, "size_bytes", (json_int_t)strtoll(bytes, NULL, 10),
                     "sha256", sha);
}

/* archives.list {endpoint_id?, from?, to?, after?, archive_id?} ->
 * {items:[{id, endpoint:{id, slug, name}, day, record_count, size_bytes, created_at, formats:[...]}],
 *  next_after, endpoints:[{id, slug, name, deleted}]} */
enum tm_error web_archives_list(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *ep = tool_arg_str(args, "endpoint_id"), *one = tool_arg_str(args, "archive_id");
    const char *from, *to;
    if (ep && !is_uuid(ep))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "endpoint_id must be an endpoint id");
    if (one && !is_uuid(one))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "archive_id must be an archive id");
    if (!date_arg(args, "from", &from) || !date_arg(args, "to", &to))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "from and to must be dates (YYYY-MM-DD, UTC days)");
    const char *after = tool_arg_str(args, "after");
    char aday[11], aid[37];
    if (after && !cursor_arg(after, aday, aid))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "after must be the next_after of a previous page");

    const char *pe[1] = {ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_ENDPOINTS, 1, pe);
    if (!res)
        return ctx->code;
    json_t *endpoints = json_array();
    bool ep_found = !ep;
    for (int i = 0; i < PQntuples(res); i++) {
        if (ep && !strcmp(ep, PQgetvalue(res, i, 0)))
            ep_found = true;
        json_array_append_new(endpoints, json_pack("{s:s, s:s, s:s, s:b}", "id", PQgetvalue(res, i, 0), "slug",
                                                   PQgetvalue(res, i, 1), "name", PQgetvalue(res, i, 2), "deleted",
                                                   PQgetvalue(res, i, 3)[0] == 't'));
    }
    PQclear(res);
    if (!ep_found) {
        json_decref(endpoints);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no endpoint with this id");
    }

    const char *p[7] = {ctx->who->account_id, ep, from, to, after ? aday : NULL, after ? aid : NULL, one};
    res = tool_query(ctx, SQL_LIST, 7, p);
    if (!res) {
        json_decref(endpoints);
        return ctx->code;
    }
    int n = PQntuples(res);
    bool more = n > PAGE;
    if (more)
        n = PAGE;
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        long long size = strtoll(PQgetvalue(res, i, 6), NULL, 10) + strtoll(PQgetvalue(res, i, 8), NULL, 10);
        json_array_append_new(
            items, json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:i, s:I, s:s, s:[o, o]}", "id", PQgetvalue(res, i, 0),
                             "endpoint", "id", PQgetvalue(res, i, 1), "slug", PQgetvalue(res, i, 2), "name",
                             PQgetvalue(res, i, 3), "day", PQgetvalue(res, i, 4), "record_count",
                             atoi(PQgetvalue(res, i, 5)), "size_bytes", (json_int_t)size, "created_at",
                             PQgetvalue(res, i, 10), "formats",
                             format_json("jsonl", PQgetvalue(res, i, 6), PQgetvalue(res, i, 7)),
                             format_json("csv", PQgetvalue(res, i, 8), PQgetvalue(res, i, 9))));
    }
    json_t *next = json_null();
    if (more) {
        char *c = xasprintf("%s.%s", PQgetvalue(res, n - 1, 4), PQgetvalue(res, n - 1, 0));
        next = json_string(c);
        free(c);
    }
    PQclear(res);
    if (one && n == 0) {
        json_decref(items);
        json_decref(next);
        json_decref(endpoints);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no archive with this id (it may have been deleted)");
    }
    *result = json_pack("{s:o, s:o, s:o}", "items", items, "next_after", next, "endpoints", endpoints);
    return TM_OK;
}

/* ---- archives.download --------------------------------------------------------------- */

/* archives.download {archive_id, format} -> archives_download's answer (url, expires_at, filename, ...) */
enum tm_error web_archives_download(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    return tool_archives_download(ctx, args, result);
}

/* ---- archives.delete ------------------------------------------------------------------ */

static const char SQL_ONE[] =
    "SELECT a.jsonl_path, a.csv_path, e.slug, to_char(a.day, 'YYYY-MM-DD'), a.record_count "
    "FROM archives a JOIN endpoints e ON e.id = a.endpoint_id "
    "WHERE a.account_id = $1::uuid AND a.id = $2::uuid AND a.deleted_at IS NULL FOR UPDATE OF a";
static const char SQL_MARK[] =
    "UPDATE archives SET deleted_at = now() WHERE account_id = $1::uuid AND id = $2::uuid AND deleted_at IS NULL";
static const char SQL_ENTRIES[] =
    "SELECT count(*) FROM call_logs WHERE account_id = $1::uuid AND archive_id = $2::uuid";

/* A path relative to ARCHIVE_DIR as bin/jobs records it: no "..", not absolute. */
static bool safe_relative(const char *p)
{
    if (!p || !*p || p[0] == '/' || strlen(p) > 512)
        return false;
    for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
            return false;
    return true;
}

/* Removes dir/rel; a file already gone counts as removed. */
static bool remove_file(const char *dir, const char *rel)
{
    char *path = xasprintf("%s/%s", dir, rel);
    bool ok = unlink(path) == 0 || errno == ENOENT;
    if (!ok)
        log_warn("archive file %s cannot be removed: %s", path, strerror(errno));
    free(path);
    return ok;
}

bool web_archive_files_remove(const struct config *cfg, const char *id, const char *jsonl_path,
                              const char *csv_path)
{
    char link_jsonl[64], link_csv[64];
    snprintf(link_jsonl, sizeof link_jsonl, "by-id/%s%s", id, archive_format_suffix("jsonl"));
    snprintf(link_csv, sizeof link_csv, "by-id/%s%s", id, archive_format_suffix("csv"));
    /* The links first: once they are gone no signed link can serve the day. */
    bool ok = remove_file(cfg->archive_dir, link_jsonl) & remove_file(cfg->archive_dir, link_csv);
    if (safe_relative(jsonl_path))
        ok &= remove_file(cfg->archive_dir, jsonl_path);
    if (safe_relative(csv_path))
        ok &= remove_file(cfg->archive_dir, csv_path);
    return ok;
}

/* ---- removal after the commit ---- */

struct web_removal {
    struct {
        char *id, *jsonl, *csv;
    } *items;
    size_t n, cap;
    char *tree;   /* a directory under ARCHIVE_DIR removed whole, or NULL */
};

struct web_removal *web_removal_new(void)
{
    return xcalloc(1, sizeof(struct web_removal));
}

void web_removal_add_archive(struct web_removal *rm, const char *id, const char *jsonl_path, const char *csv_path)
{
    if (rm->n == rm->cap) {
        rm->cap = rm->cap ? rm->cap * 2 : 8;
        rm->items = xrealloc(rm->items, rm->cap * sizeof rm->items[0]);
    }
    rm->items[rm->n].id = xstrdup(id);
    rm->items[rm->n].jsonl = xstrdup(jsonl_path);
    rm->items[rm->n].csv = xstrdup(csv_path);
    rm->n++;
}

void web_removal_set_tree(struct web_removal *rm, const char *dir)
{
    free(rm->tree);
    rm->tree = xstrdup(dir);
}

size_t web_removal_count(const struct web_removal *rm)
{
    return rm->n;
}

static void removal_free(void *arg)
{
    struct web_removal *rm = arg;
    for (size_t i = 0; i < rm->n; i++) {
        free(rm->items[i].id);
        free(rm->items[i].jsonl);
        free(rm->items[i].csv);
    }
    free(rm->items);
    free(rm->tree);
    free(rm);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int r = flag == FTW_DP ? rmdir(path) : unlink(path);
    if (r != 0 && errno != ENOENT)
        log_warn("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

static void removal_run(struct tool_ctx *ctx, void *arg)
{
    struct web_removal *rm = arg;
    size_t failed = 0;
    for (size_t i = 0; i < rm->n; i++)
        if (!web_archive_files_remove(ctx->cfg, rm->items[i].id, rm->items[i].jsonl, rm->items[i].csv))
            failed++;
    if (failed)
        log_warn("the files of %zu deleted archive(s) were not all removed (see above)", failed);
    if (rm->tree) {
        char *dir = xasprintf("%s/%s", ctx->cfg->archive_dir, rm->tree);
        if (safe_relative(rm->tree) && access(dir, F_OK) == 0)
            nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
    }
}

void web_removal_schedule(struct tool_ctx *ctx, struct web_removal *rm)
{
    tool_after_commit(ctx, removal_run, removal_free, rm);
}

/* archives.delete {archive_id, password} -> {deleted: true, id, endpoint, day, entries} */
enum tm_error web_archives_delete(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = tool_arg_str(args, "archive_id");
    if (!id || !is_uuid(id))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "archive_id must be an archive id");
    if (web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    const char *p[2] = {ctx->who->account_id, id};
    PGresult *res = tool_query(ctx, SQL_ONE, 2, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no archive with this id (it may have been deleted already)");
    }
    char *jsonl = xstrdup(PQgetvalue(res, 0, 0)), *csv = xstrdup(PQgetvalue(res, 0, 1));
    json_t *out = json_pack("{s:b, s:s, s:s, s:s}", "deleted", 1, "id", id, "endpoint", PQgetvalue(res, 0, 2),
                            "day", PQgetvalue(res, 0, 3));
    PQclear(res);
    enum tm_error rc = TM_OK;
    PGresult *r2 = NULL;
    if (!(res = tool_query(ctx, SQL_MARK, 2, p)) || !(r2 = tool_query(ctx, SQL_ENTRIES, 2, p))) {
        rc = ctx->code;
        goto done;
    }
    json_object_set_new(out, "entries", json_integer(strtoll(PQgetvalue(r2, 0, 0), NULL, 10)));
    char *details = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    rc = web_audit(ctx, "archive.delete", "archive", id, details);
    free(details);
    if (rc != TM_OK)
        goto done;
    struct web_removal *rm = web_removal_new();
    web_removal_add_archive(rm, id, jsonl, csv);
    web_removal_schedule(ctx, rm);
    *result = out;
    out = NULL;
done:
    PQclear(res);
    PQclear(r2);
    json_decref(out);
    free(jsonl);
    free(csv);
    return rc;
}
