/*
 * web_profile — the web operations of the profile page's own sections
 * (/settings/profile, docs/DASHBOARD.md "Profile"): the account's time zone,
 * its account-wide notification settings, and deleting the account. (The
 * password change on the same page is profile.password in web_ops.c.)
 *
 * Notification settings are the account-wide rows of notification_rules
 * (endpoint_id NULL). The usage alerts (usage_80, usage_100) are on unless
 * such a row turns them off (gateway.c); the endpoint events (call_failed,
 * webhook_failed, deployed) are off unless it turns them on, and an
 * endpoint's own rule (endpoints_update) wins over it (notify_rules.h).
 *
 * Deleting the account is delete_account() of migration 017 (what it keeps
 * is listed there), after the password and the account's e-mail typed as
 * confirmation; the archive files are removed by the worker, since the
 * database cannot reach ARCHIVE_DIR, and only once the deletion has
 * committed (web_removal_schedule).
 */
#include "services/worker/web.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "services/worker/tool_util.h"

/* Events of the notification settings, in the page's order, and whether
 * each is on when the account has no rule of its own. */
static const struct {
    const char *event;
    bool default_on;
} EVENTS[] = {
    {"usage_80", true}, {"usage_100", true}, {"call_failed", false}, {"webhook_failed", false}, {"deployed", false},
};
#define N_EVENTS (sizeof EVENTS / sizeof EVENTS[0])

/* Time zones offered and accepted: PostgreSQL's, without the duplicate
 * posix/ and right/ trees. */
#define TZ_FILTER "name !~ '^(posix|right)/' AND name !~ '^(posixrules|Factory|localtime)$'"

static const char SQL_PROFILE[] =
    "SELECT a.email, a.timezone, "
    "(SELECT json_agg(name ORDER BY name) FROM pg_timezone_names WHERE " TZ_FILTER ")::text "
    "FROM accounts a WHERE a.id = $1::uuid AND a.deleted_at IS NULL";
static const char SQL_RULE[] =
    "SELECT enabled FROM notification_rules WHERE account_id = $1::uuid AND endpoint_id IS NULL AND event = $2";

/* profile.get {} -> {email, timezone, timezones:[...], notifications:{event: bool}} */
enum tm_error web_profile_get(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    (void)args;
    const char *p[1] = {ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_PROFILE, 1, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such account");
    }
    json_t *zones = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
    json_t *out = json_pack("{s:s, s:s, s:o}", "email", PQgetvalue(res, 0, 0), "timezone", PQgetvalue(res, 0, 1),
                            "timezones", zones ? zones : json_array());
    PQclear(res);
    json_t *notes = json_object();
    json_object_set_new(out, "notifications", notes);
    for (size_t i = 0; i < N_EVENTS; i++) {
        const char *q[2] = {ctx->who->account_id, EVENTS[i].event};
        if (!(res = tool_query(ctx, SQL_RULE, 2, q))) {
            json_decref(out);
            return ctx->code;
        }
        bool on = PQntuples(res) ? PQgetvalue(res, 0, 0)[0] == 't' : EVENTS[i].default_on;
        PQclear(res);
        json_object_set_new(notes, EVENTS[i].event, json_boolean(on));
    }
    *result = out;
    return TM_OK;
}

/* ---- time zone ------------------------------------------------------------------------ */

static const char SQL_TZ_VALID[] = "SELECT 1 FROM pg_timezone_names WHERE name = $1 AND " TZ_FILTER;
static const char SQL_TZ_SET[] =
    "UPDATE accounts SET timezone = $2 WHERE id = $1::uuid AND deleted_at IS NULL "
    "RETURNING (SELECT timezone FROM accounts WHERE id = $1::uuid)";

/* profile.timezone {timezone} -> {timezone, previous} */
enum tm_error web_profile_timezone(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *tz = tool_arg_str(args, "timezone");
    if (!tz || !*tz || strlen(tz) > 64)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "choose a time zone from the list");
    const char *v[1] = {tz};
    PGresult *res = tool_query(ctx, SQL_TZ_VALID, 1, v);
    if (!res)
        return ctx->code;
    int known = PQntuples(res);
    PQclear(res);
    if (!known)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "%s is not a time zone: use an IANA name such as Europe/Paris or Asia/Seoul", tz);
    const char *p[2] = {ctx->who->account_id, tz};
    if (!(res = tool_query(ctx, SQL_TZ_SET, 2, p)))
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such account");
    }
    json_t *out = json_pack("{s:s, s:s}", "timezone", tz, "previous", PQgetvalue(res, 0, 0));
    PQclear(res);
    char *details = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    enum tm_error rc = web_audit(ctx, "profile.timezone", "account", ctx->who->account_id, details);
    free(details);
    if (rc != TM_OK) {
        json_decref(out);
        return rc;
    }
    *result = out;
    return TM_OK;
}

/* ---- notification settings ---------------------------------------------------------------- */

static const char SQL_RULE_SET[] =
    "INSERT INTO notification_rules (account_id, endpoint_id, event, enabled) VALUES ($1::uuid, NULL, $2, $3::boolean) "
    "ON CONFLICT (account_id, endpoint_id, event) DO UPDATE SET enabled = excluded.enabled";

/* profile.notifications {usage_80, usage_100, call_failed, webhook_failed, deployed: booleans, all required}
 * -> {notifications:{event: bool}} */
enum tm_error web_profile_notifications(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    for (size_t i = 0; i < N_EVENTS; i++)
        if (!json_is_boolean(json_object_get(args, EVENTS[i].event)))
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "%s must be true or false", EVENTS[i].event);
    json_t *notes = json_object();
    for (size_t i = 0; i < N_EVENTS; i++) {
        bool on = json_is_true(json_object_get(args, EVENTS[i].event));
        const char *p[3] = {ctx->who->account_id, EVENTS[i].event, on ? "true" : "false"};
        PGresult *res = tool_query(ctx, SQL_RULE_SET, 3, p);
        if (!res) {
            json_decref(notes);
            return ctx->code;
        }
        PQclear(res);
        json_object_set_new(notes, EVENTS[i].event, json_boolean(on));
    }
    char *details = json_dumps(notes, JSON_COMPACT | JSON_SORT_KEYS);
    enum tm_error rc = web_audit(ctx, "profile.notifications", "account", ctx->who->account_id, details);
    free(details);
    if (rc != TM_OK) {
        json_decref(notes);
        return rc;
    }
    *result = json_pack("{s:o}", "notifications", notes);
    return TM_OK;
}

/* ---- delete the account --------------------------------------------------------------------- */

static const char SQL_EMAIL[] = "SELECT email FROM accounts WHERE id = $1::uuid AND deleted_at IS NULL";
static const char SQL_ARCHIVES[] =
    "SELECT id::text, jsonl_path, csv_path FROM archives WHERE account_id = $1::uuid";
static const char SQL_DELETE[] = "SELECT delete_account($1::uuid)::text";
/* The monthly partitions of call_logs (and its default one), oldest first. */
static const char SQL_PARTITIONS[] =
    "SELECT i.inhrelid::regclass::text FROM pg_inherits i WHERE i.inhparent = 'public.call_logs'::regclass "
    "ORDER BY 1";
static const char SQL_DELETE_LOGS[] = "SELECT delete_account_call_logs($1::uuid, $2::regclass)";

/* The account's call logs, one statement per partition (migration 017 says why). */
static enum tm_error delete_logs(struct tool_ctx *ctx)
{
    PGresult *parts = tool_query(ctx, SQL_PARTITIONS, 0, NULL);
    if (!parts)
        return ctx->code;
    for (int i = 0; i < PQntuples(parts); i++) {
        const char *p[2] = {ctx->who->account_id, PQgetvalue(parts, i, 0)};
        PGresult *res = tool_query(ctx, SQL_DELETE_LOGS, 2, p);
        if (!res) {
            PQclear(parts);
            return ctx->code;
        }
        PQclear(res);
    }
    PQclear(parts);
    return TM_OK;
}

/* account.delete {password, confirm_email} -> {deleted: true, removed:{endpoints, mcp_keys, archives,
 * oauth_grants_revoked}, archive_files_removed} (archives whose files are removed after the commit) */
enum tm_error web_account_delete(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *confirm = tool_arg_str(args, "confirm_email");
    if (web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    const char *p[1] = {ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_EMAIL, 1, p);
    if (!res)
        return ctx->code;
    bool match = PQntuples(res) == 1 && confirm && strlen(confirm) <= 320 &&
                 !strcasecmp(confirm, PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!match)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "type your account's e-mail address exactly to confirm; nothing was deleted");

    if (delete_logs(ctx) != TM_OK)
        return ctx->code;
    /* The files to remove once the rows are gone (deleted archives' files are already gone). */
    if (!(res = tool_query(ctx, SQL_ARCHIVES, 1, p)))
        return ctx->code;
    PGresult *del = tool_query(ctx, SQL_DELETE, 1, p);
    if (!del) {
        PQclear(res);
        return ctx->code;
    }
    json_t *removed = PQgetisnull(del, 0, 0) ? NULL : json_loads(PQgetvalue(del, 0, 0), 0, NULL);
    PQclear(del);
    if (!removed) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this account was already deleted");
    }
    /* The files go once the deletion has committed, never before. */
    struct web_removal *rm = web_removal_new();
    for (int i = 0; i < PQntuples(res); i++)
        web_removal_add_archive(rm, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
    PQclear(res);
    /* Whatever else bin/jobs left in the account's directory (temporary files of a pass). */
    if (is_uuid(ctx->who->account_id))
        web_removal_set_tree(rm, ctx->who->account_id);
    int files = (int)web_removal_count(rm);
    web_removal_schedule(ctx, rm);
    log_info("account %s deleted from the dashboard", ctx->who->account_id);
    *result = json_pack("{s:b, s:o, s:i}", "deleted", 1, "removed", removed, "archive_files_removed", files);
    return TM_OK;
}
