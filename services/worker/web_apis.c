/*
 * web_apis — the web operations of the dashboard's APIs pages
 * (docs/DASHBOARD.md, "APIs"): the endpoint list, one endpoint's detail, and
 * the actions kept out of MCP on it: revealing and regenerating the owner's
 * gateway keys, revealing the webhook signing secrets, pausing and resuming
 * the endpoint, clearing its sandbox records, deleting it.
 *
 * The detail reuses the MCP tools' own code (endpoints_get for the fields,
 * URLs, masked keys and webhooks; logs_search for the recent calls), so the
 * page and the tools cannot disagree. Every lookup is by the endpoint's id
 * AND the session's account, with row-level security behind it: another
 * account's id is not_found, exactly like a missing one.
 *
 * Secrets in answers. A non-read-only web operation's answer is stored in
 * applied_requests (to answer a resent request the same way), and that table
 * must never hold a usable key. So a revealed or regenerated secret is
 * answered sealed (libsodium secretbox, common/keybox.h) with args.reply_key,
 * 32 bytes the edge derives from the session token, which the database never
 * sees (it keeps only the session token's SHA-256).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/keybox.h"
#include "common/util.h"
#include "services/worker/auth_oauth.h"
#include "services/worker/cursor.h"
#include "services/worker/dispatch.h"
#include "services/worker/gateway.h"
#include "services/worker/tool_collaborators.h"
#include "services/worker/tool_logs.h"
#include "services/worker/tool_util.h"
#include "services/worker/web.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define LIST_PAGE 20
#define CALLS_SHOWN 20
#define CALLS_WINDOW_DAYS 92

/* ---- shared pieces ------------------------------------------------------- */

#define NO_ENDPOINT "no such endpoint in this account"

/* args.endpoint_id: must be a UUID (checked before any query). */
static const char *endpoint_id_arg(struct tool_ctx *ctx, const json_t *args)
{
    return web_uuid_arg(ctx, args, "endpoint_id", NO_ENDPOINT);
}

static const char SQL_OWN[] =
    "SELECT name, slug FROM endpoints WHERE id = $1::uuid AND account_id = $2::uuid AND deleted_at IS NULL";
static const char SQL_OWN_LOCK[] =
    "SELECT name, slug FROM endpoints WHERE id = $1::uuid AND account_id = $2::uuid AND deleted_at IS NULL "
    "FOR UPDATE";

/* The account's live endpoint id: name and slug (may be NULL) into caller buffers of 256 bytes. */
static enum tm_error own_endpoint(struct tool_ctx *ctx, const char *id, bool lock, char *name, char *slug)
{
    const char *p[2] = {id, ctx->who->account_id};
    PGresult *res = tool_query(ctx, lock ? SQL_OWN_LOCK : SQL_OWN, 2, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, NO_ENDPOINT);
    }
    if (name)
        snprintf(name, 256, "%s", PQgetvalue(res, 0, 0));
    if (slug)
        snprintf(slug, 256, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return TM_OK;
}

/* The sealed form of secret for the edge: base64url(secretbox with args.reply_key). Also the other pages'
 * (web.h). */
enum tm_error web_seal_for_edge(struct tool_ctx *ctx, const json_t *args, const char *secret, char **out)
{
    const char *rk = tool_arg_str(args, "reply_key");
    uint8_t key[KEYBOX_KEY_LEN + 1];
    if (!rk || strlen(rk) != 43 || b64url_decode(rk, 43, key, sizeof key) != KEYBOX_KEY_LEN)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "reply_key must be 32 bytes, base64url");
    struct keybox kb;
    keybox_from_bytes(&kb, key);
    size_t n;
    uint8_t *box = keybox_seal(&kb, secret, strlen(secret), &n);
    *out = b64url_encode(box, n);
    free(box);
    memset(&kb, 0, sizeof kb);
    memset(key, 0, sizeof key);
    return TM_OK;
}

/* Decrypts a stored secret (bytea text); NULL if it does not open (recorded on ctx). Also the other pages'. */
char *web_open_stored(struct tool_ctx *ctx, const char *bytea_text)
{
    const struct keybox *kb = gateway_keybox(ctx->cfg);
    size_t n;
    uint8_t *box = kb ? keybox_bytea_parse(bytea_text, &n) : NULL;
    char *plain = box ? keybox_open(kb, box, n) : NULL;
    free(box);
    if (!plain)
        tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    return plain;
}

/* Also the other pages' (web.h). */
enum tm_error web_reseal_stored(struct tool_ctx *ctx, const json_t *args, const char *bytea_text, char **sealed)
{
    char *plain = web_open_stored(ctx, bytea_text);
    if (!plain)
        return ctx->code;
    enum tm_error rc = web_seal_for_edge(ctx, args, plain, sealed);
    secret_free(plain);
    return rc;
}

/* Also the other pages' (web.h). */
enum tm_error web_key_regenerate(struct tool_ctx *ctx, const json_t *args, const char *sql, int n,
                                 const char *const *p, const char *env, char **sealed, char masked[64])
{
    *sealed = NULL;
    bool live = !strcmp(env, "production");
    char key[GATEWAY_KEY_LEN + 1], hash_hex[COLLAB_HASH_HEX_LEN];
    char *enc;
    if (n > 5 || !collab_key_new(ctx->cfg, live, key, hash_hex, &enc))
        return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    const char *q[8];
    memcpy(q, p, (size_t)n * sizeof *q);
    q[n] = hash_hex;
    q[n + 1] = enc;
    q[n + 2] = key + strlen(key) - 4;
    PGresult *res = tool_query(ctx, sql, n + 3, q);
    free(enc);
    enum tm_error rc = res ? TM_OK : ctx->code;
    if (res && !strcmp(PQcmdTuples(res), "1")) {
        gateway_key_mask(live ? "tm_live_" : "tm_test_", key + strlen(key) - 4, masked, 64);
        rc = web_seal_for_edge(ctx, args, key, sealed);
    }
    PQclear(res);
    sodium_memzero(key, sizeof key);
    return rc;
}

/* ---- endpoints.list ---------------------------------------------------------- */

/* A page of the account's endpoints, newest first (keyset on created_at, id),
 * with the calls of the current 30-day period (daily_stats, counted from the
 * UTC day the period began) and the time of the last logged call. */
static const char SQL_LIST[] =
    "SELECT e.id::text, e.name, e.slug, CASE WHEN NOT e.active THEN 'inactive' WHEN e.prod_version > 0 "
    "THEN 'deployed' ELSE 'draft' END, e.prod_version, " TS("e.created_at") ", "
    "(SELECT coalesce(sum(s.calls), 0) FROM daily_stats s WHERE s.account_id = $1::uuid AND s.endpoint_id = e.id "
    " AND s.day >= (per.period_start AT TIME ZONE 'UTC')::date), "
    TS("greatest((SELECT l.created_at FROM call_logs l WHERE l.endpoint_id = e.id AND l.environment = 'sandbox' "
       "AND l.account_id = $1::uuid ORDER BY l.created_at DESC LIMIT 1), (SELECT l.created_at FROM call_logs l "
       "WHERE l.endpoint_id = e.id AND l.environment = 'production' AND l.account_id = $1::uuid "
       "ORDER BY l.created_at DESC LIMIT 1))") ", "
    "(extract(epoch FROM e.created_at) * 1000000)::bigint, " TS("per.period_start") ", " TS("per.period_end") " "
    "FROM accounts a CROSS JOIN LATERAL usage_period(a.created_at, now()) per "
    "JOIN endpoints e ON e.account_id = a.id AND e.deleted_at IS NULL "
    "WHERE a.id = $1::uuid AND ($2::bigint IS NULL OR (e.created_at, e.id) < "
    "('epoch'::timestamptz + $2::bigint * interval '1 microsecond', $3::uuid)) "
    "ORDER BY e.created_at DESC, e.id DESC LIMIT $4::int";
static const char SQL_PERIOD[] =
    "SELECT " TS("per.period_start") ", " TS("per.period_end") " FROM accounts a "
    "CROSS JOIN LATERAL usage_period(a.created_at, now()) per WHERE a.id = $1::uuid";

/* endpoints.list {cursor?} -> {items:[{id, name, slug, status, prod_version, created_at, calls_period,
 * last_call_at}], next_cursor, period:{start, end}} */
enum tm_error web_endpoints_list(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    char micros[24], cid[CURSOR_ID_MAX + 1];
    const char *cursor = tool_arg_str(args, "cursor");
    if (cursor && (strlen(cursor) > 200 || !cursor_decode(cursor, micros, cid) || !is_uuid(cid)))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "this page link is not valid; start from the first page");
    char lim[8];
    snprintf(lim, sizeof lim, "%d", LIST_PAGE + 1);
    const char *p[4] = {ctx->who->account_id, cursor ? micros : NULL, cursor ? cid : NULL, lim};
    PGresult *res = tool_query(ctx, SQL_LIST, 4, p);
    if (!res)
        return ctx->code;
    int rows = PQntuples(res), shown = rows > LIST_PAGE ? LIST_PAGE : rows;
    json_t *items = json_array();
    for (int i = 0; i < shown; i++) {
        json_t *it = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I}", "id", PQgetvalue(res, i, 0), "name",
                               PQgetvalue(res, i, 1), "slug", PQgetvalue(res, i, 2), "status", PQgetvalue(res, i, 3),
                               "prod_version", (json_int_t)strtoll(PQgetvalue(res, i, 4), NULL, 10), "created_at",
                               PQgetvalue(res, i, 5), "calls_period",
                               (json_int_t)strtoll(PQgetvalue(res, i, 6), NULL, 10));
        json_object_set_new(it, "last_call_at",
                            PQgetisnull(res, i, 7) ? json_null() : json_string(PQgetvalue(res, i, 7)));
        json_array_append_new(items, it);
    }
    json_t *next = json_null();
    if (rows > LIST_PAGE) {
        char *c = cursor_encode(PQgetvalue(res, shown - 1, 8), PQgetvalue(res, shown - 1, 0));
        next = json_string(c);
        free(c);
    }
    PQclear(res);
    const char *pp[1] = {ctx->who->account_id};
    res = tool_query(ctx, SQL_PERIOD, 1, pp);
    if (!res) {
        json_decref(items);
        json_decref(next);
        return ctx->code;
    }
    json_t *period = PQntuples(res) == 1
                         ? json_pack("{s:s, s:s}", "start", PQgetvalue(res, 0, 0), "end", PQgetvalue(res, 0, 1))
                         : json_null();
    PQclear(res);
    *result = json_pack("{s:o, s:o, s:o}", "items", items, "next_cursor", next, "period", period);
    return TM_OK;
}

/* ---- endpoints.detail ----------------------------------------------------------- */

static const char SQL_DEPLOYS[] =
    "SELECT version, " TS("created_at") ", via, note, jsonb_array_length(diff) FROM endpoint_deployments "
    "WHERE endpoint_id = $1::uuid AND account_id = $2::uuid ORDER BY version DESC LIMIT 50";   /* the newest 50 deploys */
static const char SQL_WEBHOOK_SECRETS[] =
    "SELECT environment, secret_enc FROM webhooks WHERE endpoint_id = $1::uuid AND account_id = $2::uuid "
    "ORDER BY environment DESC";

/* "whsec_…abcd" of a webhook secret (decrypted here, never sent whole). */
static void webhook_mask(const char *secret, char *out, size_t cap)
{
    size_t n = strlen(secret);
    gateway_key_mask("whsec_", n >= 4 ? secret + n - 4 : "", out, cap);
}

/* endpoints.detail {endpoint_id} -> {endpoint: <endpoints_get's EndpointDetail>, deployments:[...],
 * calls:[...], webhook_secrets:{sandbox:{masked}, production:{masked}}} */
enum tm_error web_endpoint_detail(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = endpoint_id_arg(ctx, args);
    if (!id || own_endpoint(ctx, id, false, NULL, NULL) != TM_OK)
        return ctx->code;
    json_t *q = json_pack("{s:s}", "endpoint", id), *detail = NULL;
    enum tm_error rc = tool_endpoints_get(ctx, q, &detail);
    json_decref(q);
    if (rc != TM_OK)
        return rc;

    const char *p[2] = {id, ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_DEPLOYS, 2, p);
    if (!res) {
        json_decref(detail);
        return ctx->code;
    }
    json_t *deploys = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(deploys, json_pack("{s:I, s:s, s:s, s:s, s:I}", "version",
                                                 (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "deployed_at",
                                                 PQgetvalue(res, i, 1), "via", PQgetvalue(res, i, 2), "note",
                                                 PQgetvalue(res, i, 3), "changes",
                                                 (json_int_t)strtoll(PQgetvalue(res, i, 4), NULL, 10)));
    PQclear(res);

    json_t *secrets = json_object();
    res = tool_query(ctx, SQL_WEBHOOK_SECRETS, 2, p);
    if (!res) {
        json_decref(detail);
        json_decref(deploys);
        json_decref(secrets);
        return ctx->code;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        char *s = web_open_stored(ctx, PQgetvalue(res, i, 1));
        if (!s) {
            PQclear(res);
            json_decref(detail);
            json_decref(deploys);
            json_decref(secrets);
            return ctx->code;
        }
        char masked[64];
        webhook_mask(s, masked, sizeof masked);
        secret_free(s);
        json_object_set_new(secrets, PQgetvalue(res, i, 0), json_pack("{s:s}", "masked", masked));
    }
    PQclear(res);

    /* The recent calls: logs_search over the last CALLS_WINDOW_DAYS days. */
    char from[32];
    time_t t = time(NULL) - (time_t)CALLS_WINDOW_DAYS * 86400;
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(from, sizeof from, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    json_t *la = json_pack("{s:s, s:s, s:s, s:i}", "endpoint", id, "environment", "all", "from", from, "limit",
                           CALLS_SHOWN),
           *logs = NULL;
    rc = tool_logs_search(ctx, la, &logs);
    json_decref(la);
    if (rc != TM_OK) {
        json_decref(detail);
        json_decref(deploys);
        json_decref(secrets);
        return rc;
    }
    json_t *calls = json_incref(json_object_get(logs, "items"));
    json_decref(logs);
    *result = json_pack("{s:o, s:o, s:o, s:o}", "endpoint", detail, "deployments", deploys, "calls",
                        calls ? calls : json_array(), "webhook_secrets", secrets);
    return TM_OK;
}

/* ---- endpoints.reveal --------------------------------------------------------------- */

static const char SQL_OWNER_KEY[] =
    "SELECT key_enc FROM api_keys WHERE endpoint_id = $1::uuid AND account_id = $2::uuid AND environment = $3 "
    "AND kind = 'owner'";
static const char SQL_WEBHOOK_SECRET[] =
    "SELECT secret_enc FROM webhooks WHERE endpoint_id = $1::uuid AND account_id = $2::uuid AND environment = $3";

/* endpoints.reveal {endpoint_id, environment, secret: "key"|"webhook", password, reply_key}
 * -> {sealed, environment, secret}: the owner's gateway key or the webhook signing secret, sealed for the
 * edge; audited (endpoint.key_reveal, endpoint.webhook_secret_reveal). */
enum tm_error web_endpoint_reveal(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = endpoint_id_arg(ctx, args);
    const char *env = id ? web_environment_arg(ctx, args) : NULL;
    if (!env)
        return ctx->code;
    const char *what = tool_arg_str(args, "secret");
    if (!what || (strcmp(what, "key") && strcmp(what, "webhook")))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "secret must be key or webhook");
    if (web_require_password(ctx, args) != TM_OK || own_endpoint(ctx, id, false, NULL, NULL) != TM_OK)
        return ctx->code;
    bool key = !strcmp(what, "key");
    const char *p[3] = {id, ctx->who->account_id, env};
    PGresult *res = tool_query(ctx, key ? SQL_OWNER_KEY : SQL_WEBHOOK_SECRET, 3, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this endpoint has no %s in %s",
                         key ? "owner key" : "webhook secret", env);
    }
    char *sealed = NULL;
    enum tm_error rc = web_reseal_stored(ctx, args, PQgetvalue(res, 0, 0), &sealed);
    PQclear(res);
    if (rc == TM_OK)
        rc = web_audit_json(ctx, key ? "endpoint.key_reveal" : "endpoint.webhook_secret_reveal", "endpoint", id,
                            json_pack("{s:s}", "environment", env));
    if (rc == TM_OK)
        *result = json_pack("{s:s, s:s, s:s}", "sealed", sealed, "environment", env, "secret", what);
    free(sealed);
    return rc;
}

/* ---- endpoints.regenerate_key ----------------------------------------------------------- */

static const char SQL_REGENERATE[] =
    "UPDATE api_keys SET key_hash = $4::bytea, key_enc = $5::bytea, last4 = $6, created_at = now(), "
    "last_used_at = NULL WHERE endpoint_id = $1::uuid AND account_id = $2::uuid AND environment = $3 "
    "AND kind = 'owner'";

/* endpoints.regenerate_key {endpoint_id, environment, password, reply_key} -> {sealed, environment, masked}:
 * a new owner key replaces the old one in place (the gateway resolves keys per call, so the old one is
 * refused from the next call on); the new key is answered sealed, to be shown once; audited. */
enum tm_error web_endpoint_regenerate_key(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = endpoint_id_arg(ctx, args);
    const char *env = id ? web_environment_arg(ctx, args) : NULL;
    if (!env)
        return ctx->code;
    if (web_require_password(ctx, args) != TM_OK || own_endpoint(ctx, id, true, NULL, NULL) != TM_OK)
        return ctx->code;
    const char *p[3] = {id, ctx->who->account_id, env};
    char *sealed, masked[64];
    enum tm_error rc = web_key_regenerate(ctx, args, SQL_REGENERATE, 3, p, env, &sealed, masked);
    if (rc != TM_OK)
        return rc;
    if (!sealed)
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this endpoint has no owner key in %s", env);
    rc = web_audit_json(ctx, "endpoint.key_regenerate", "endpoint", id, json_pack("{s:s}", "environment", env));
    if (rc == TM_OK)
        *result = json_pack("{s:s, s:s, s:s}", "sealed", sealed, "environment", env, "masked", masked);
    free(sealed);
    return rc;
}

/* ---- endpoints.delete ---------------------------------------------------------------------- */

static const char SQL_DELETE[] = "SELECT records, keys, collaboration_keys FROM delete_endpoint($1::uuid)";

/* endpoints.delete {endpoint_id, confirm_name, password} -> {deleted: true, name, records, keys,
 * collaboration_keys}: confirm_name must be the endpoint's name exactly; see delete_endpoint
 * (deploy/sql/016) for what goes and what stays; audited (endpoint.delete). */
enum tm_error web_endpoint_delete(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = endpoint_id_arg(ctx, args);
    if (!id)
        return ctx->code;
    char name[256], slug[256];
    if (own_endpoint(ctx, id, true, name, slug) != TM_OK)
        return ctx->code;
    const char *confirm = tool_arg_str(args, "confirm_name");
    if (!confirm || strcmp(confirm, name))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "type the endpoint's name exactly to confirm; nothing was deleted");
    if (web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    const char *p[1] = {id};
    PGresult *res = tool_query(ctx, SQL_DELETE, 1, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, NO_ENDPOINT);
    }
    json_int_t records = strtoll(PQgetvalue(res, 0, 0), NULL, 10), keys = strtoll(PQgetvalue(res, 0, 1), NULL, 10),
               collab = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    enum tm_error rc = web_audit_json(ctx, "endpoint.delete", "endpoint", id,
                                      json_pack("{s:s, s:s, s:I, s:I, s:I}", "name", name, "slug", slug, "records",
                                                records, "keys", keys, "collaboration_keys", collab));
    if (rc != TM_OK)
        return rc;
    *result = json_pack("{s:b, s:s, s:I, s:I, s:I}", "deleted", 1, "name", name, "records", records, "keys", keys,
                        "collaboration_keys", collab);
    return TM_OK;
}


/* ---- endpoints.set_active ---------------------------------------------------------------------- */

static const char SQL_SET_ACTIVE[] =
    "UPDATE endpoints SET active = $3::boolean, updated_at = now() WHERE id = $1::uuid AND account_id = $2::uuid "
    "AND deleted_at IS NULL AND active <> $3::boolean";

/* endpoints.set_active {endpoint_id, active, password (to pause)} -> {active, changed}: a paused endpoint
 * keeps its data and keys, and the gateway answers 403 endpoint_inactive in every environment from the next
 * call on (it reads the flag per call); audited (endpoint.deactivate, endpoint.activate) when it changes. */
enum tm_error web_endpoint_set_active(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = endpoint_id_arg(ctx, args);
    if (!id)
        return ctx->code;
    const json_t *ja = json_object_get(args, "active");
    if (!json_is_boolean(ja))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "active must be true or false");
    bool active = json_is_true(ja);
    if ((!active && web_require_password(ctx, args) != TM_OK) || own_endpoint(ctx, id, true, NULL, NULL) != TM_OK)
        return ctx->code;
    const char *p[3] = {id, ctx->who->account_id, active ? "true" : "false"};
    PGresult *res = tool_query(ctx, SQL_SET_ACTIVE, 3, p);
    if (!res)
        return ctx->code;
    bool changed = !strcmp(PQcmdTuples(res), "1");
    PQclear(res);
    if (changed && web_audit(ctx, active ? "endpoint.activate" : "endpoint.deactivate", "endpoint", id, NULL) != TM_OK)
        return ctx->code;
    *result = json_pack("{s:b, s:b}", "active", active, "changed", changed);
    return TM_OK;
}

/* ---- endpoints.clear_sandbox --------------------------------------------------------------------- */

/* Like the gateway's DELETE: records are marked deleted (bin/jobs drops sandbox rows after 30 days). */
static const char SQL_CLEAR_SANDBOX[] =
    "UPDATE records SET deleted_at = now(), updated_at = now() WHERE endpoint_id = $1::uuid "
    "AND account_id = $2::uuid AND environment = 'sandbox' AND deleted_at IS NULL";

/* endpoints.clear_sandbox {endpoint_id, password} -> {records}: every sandbox record of the endpoint is
 * deleted (production is untouched); audited (endpoint.clear_sandbox, with the count). */
enum tm_error web_endpoint_clear_sandbox(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = endpoint_id_arg(ctx, args);
    if (!id)
        return ctx->code;
    if (web_require_password(ctx, args) != TM_OK || own_endpoint(ctx, id, true, NULL, NULL) != TM_OK)
        return ctx->code;
    const char *p[2] = {id, ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_CLEAR_SANDBOX, 2, p);
    if (!res)
        return ctx->code;
    long long n = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    char details[48];
    snprintf(details, sizeof details, "{\"records\":%lld}", n);
    if (web_audit(ctx, "endpoint.clear_sandbox", "endpoint", id, details) != TM_OK)
        return ctx->code;
    *result = json_pack("{s:I}", "records", (json_int_t)n);
    return TM_OK;
}
