/*
 * web_ops — the table of web operations (op `web`, see web.h), the session
 * check every one of them passes first, and the helpers they share: audit
 * rows, the password re-check of destructive actions, password hashing.
 *
 * Page modules add their handlers to `handlers` below, in their section.
 */
#include "services/worker/web.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/util.h"
#include "services/worker/auth_oauth.h"
#include "services/worker/tool_util.h"

#define WEB_STR_(x) #x
#define WEB_STR(x) WEB_STR_(x)

/* ---- the table ------------------------------------------------------------ */

static const struct web_handler handlers[] = {
    /* session and account (web_ops.c) */
    {"session.logout", web_session_logout, false},
    {"profile.password", web_profile_password, false},
    {"audit.list", web_audit_list, true},

    /* APIs: /dashboard, /dashboard/endpoints/{id} (web_apis.c) */
    {"endpoints.list", web_endpoints_list, true},
    {"endpoints.detail", web_endpoint_detail, true},
    {"endpoints.reveal", web_endpoint_reveal, false},
    {"endpoints.regenerate_key", web_endpoint_regenerate_key, false},
    {"endpoints.delete", web_endpoint_delete, false},
    {"endpoints.set_active", web_endpoint_set_active, false},
    {"endpoints.clear_sandbox", web_endpoint_clear_sandbox, false},

    /* collaborators: keys and invitations of an endpoint (/dashboard/endpoints/{id}/collaborators, web_collab.c) */
    {"collab.list", web_collab_list, true},
    {"collab.create_key", web_collab_create_key, false},
    {"collab.permissions", web_collab_permissions, false},
    {"collab.reveal", web_collab_reveal, false},
    {"collab.set_active", web_collab_set_active, false},
    {"collab.regenerate", web_collab_regenerate, false},
    {"collab.delete", web_collab_delete, false},
    {"collab.invite", web_collab_invite, false},
    {"collab.revoke", web_collab_revoke, false},

    /* AI integration: MCP API keys, connected apps (/settings/ai, web_ai.c) */
    {"mcpkeys.list", web_mcpkeys_list, true},
    {"mcpkeys.get", web_mcpkeys_get, true},
    {"mcpkeys.create", web_mcpkeys_create, false},
    {"mcpkeys.rename", web_mcpkeys_rename, false},
    {"mcpkeys.regenerate", web_mcpkeys_regenerate, false},
    {"mcpkeys.delete", web_mcpkeys_delete, false},
    {"apps.list", web_apps_list, true},
    {"apps.get", web_apps_get, true},
    {"apps.revoke", web_apps_revoke, false},

    /* subscription (/settings/subscription, web_subscription.c) */
    {"subscription.get", web_subscription_get, true},
    {"subscription.change", web_subscription_change, false},
    {"subscription.cancel", web_subscription_cancel, false},

    /* archives (/archives, web_archives.c) */
    {"archives.list", web_archives_list, true},
    {"archives.download", web_archives_download, true},
    {"archives.delete", web_archives_delete, false},

    /* profile (/settings/profile, web_profile.c) */
    {"profile.get", web_profile_get, true},
    {"profile.timezone", web_profile_timezone, false},
    {"profile.notifications", web_profile_notifications, false},
    {"account.delete", web_account_delete, false},
};

const struct web_handler *web_handler_find(const char *name)
{
    for (size_t i = 0; i < TM_ARRAY_LEN(handlers); i++)
        if (!strcmp(handlers[i].name, name))
            return &handlers[i];
    return NULL;
}

/* ---- the session check ------------------------------------------------------ */

/* The account the last web_require_password of this thread refused, to be
 * counted as a failed sign-in after the rollback (web_after_rollback). A
 * worker thread runs one request at a time. */
static _Thread_local char failed_password_account[40];

static const char SQL_SESSION_CHECK[] =
    "SELECT 1 FROM web_sessions s WHERE s.token_hash = $1::bytea AND s.account_id = $2::uuid "
    "AND s.revoked_at IS NULL AND s.expires_at > now() AND account_email(s.account_id) IS NOT NULL";
static const char SQL_SET_IP[] = "SELECT set_config('app.client_ip', $1, true)";

enum tm_error web_session_check(struct tool_ctx *ctx, const json_t *args)
{
    failed_password_account[0] = '\0';
    char hp[AUTH_HASH_PARAM_LEN];
    const char *session = json_string_value(json_object_get(args, "session"));
    if (!ctx->who->account_id[0] || !auth_secret_param(session, hp))
        return tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL, "a dashboard session is required");
    const char *p[2] = {hp, ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_SESSION_CHECK, 2, p);
    if (!res)
        return ctx->code;
    int n = PQntuples(res);
    PQclear(res);
    if (n != 1)
        return tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL, "the dashboard session is not valid (signed out or expired)");
    const char *ip = json_string_value(json_object_get(args, "ip"));
    char ipbuf[64];
    snprintf(ipbuf, sizeof ipbuf, "%s", ip ? ip : "");
    const char *q[1] = {ipbuf};
    res = tool_query(ctx, SQL_SET_IP, 1, q);
    if (!res)
        return ctx->code;
    PQclear(res);
    return TM_OK;
}

/* ---- audit ---------------------------------------------------------------- */

static const char SQL_AUDIT[] =
    "INSERT INTO audit_log (account_id, action, target_type, target_id, details, ip) "
    "VALUES ($1::uuid, $2, $3, $4, COALESCE($5::jsonb, '{}'), nullif(current_setting('app.client_ip', true), ''))";

enum tm_error web_audit(struct tool_ctx *ctx, const char *action, const char *target_type, const char *target_id,
                        const char *details_json)
{
    const char *p[5] = {ctx->who->account_id, action, target_type, target_id, details_json};
    PGresult *res = tool_query(ctx, SQL_AUDIT, 5, p);
    if (!res)
        return ctx->code;
    PQclear(res);
    return TM_OK;
}

enum tm_error web_audit_json(struct tool_ctx *ctx, const char *action, const char *target_type, const char *target_id,
                             json_t *details)
{
    char *text = details ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(details);
    enum tm_error rc = web_audit(ctx, action, target_type, target_id, text);
    free(text);
    return rc;
}

/* ---- arguments ------------------------------------------------------------- */

const char *web_uuid_arg(struct tool_ctx *ctx, const json_t *args, const char *name, const char *message)
{
    const char *id = tool_arg_str(args, name);
    if (!id || !is_uuid(id)) {
        tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "%s", message);
        return NULL;
    }
    return id;
}

const char *web_environment_arg(struct tool_ctx *ctx, const json_t *args)
{
    const char *env = tool_arg_str(args, "environment");
    if (!env || (strcmp(env, "sandbox") && strcmp(env, "production"))) {
        tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "environment must be sandbox or production");
        return NULL;
    }
    return env;
}

#define AUDIT_PAGE 50

static const char SQL_AUDIT_LIST[] =
    "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), action, target_type, target_id, "
    "details::text, ip FROM audit_log WHERE account_id = $1::uuid AND ($2::bigint IS NULL OR id < $2::bigint) "
    "ORDER BY id DESC LIMIT " WEB_STR(AUDIT_PAGE) " + 1";

/* audit.list {before?} -> {items:[{id, at, action, target_type, target_id, details, ip}], next_before} */
enum tm_error web_audit_list(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const json_t *b = json_object_get(args, "before");
    char before[24] = "";
    if (b && !json_is_null(b)) {
        long long v;
        const char *s = json_string_value(b);
        if (json_is_integer(b))
            v = json_integer_value(b);
        else if (!s || !parse_int(s, 1, INT64_MAX, &v))
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "before must be a positive integer");
        if (v < 1)
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "before must be a positive integer");
        snprintf(before, sizeof before, "%lld", v);
    }
    const char *p[2] = {ctx->who->account_id, before[0] ? before : NULL};
    PGresult *res = tool_query(ctx, SQL_AUDIT_LIST, 2, p);
    if (!res)
        return ctx->code;
    int n = PQntuples(res);
    json_t *items = json_array();
    for (int i = 0; i < n && i < AUDIT_PAGE; i++) {
        json_t *d = json_loads(PQgetvalue(res, i, 5), 0, NULL);
        json_t *row = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:o, s:s?}", "id",
                                (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "at", PQgetvalue(res, i, 1),
                                "action", PQgetvalue(res, i, 2), "target_type",
                                PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3), "target_id",
                                PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4), "details",
                                d ? d : json_object(), "ip", PQgetisnull(res, i, 6) ? NULL : PQgetvalue(res, i, 6));
        json_array_append_new(items, row);
    }
    json_t *next = n > AUDIT_PAGE ? json_integer(strtoll(PQgetvalue(res, AUDIT_PAGE - 1, 0), NULL, 10)) : json_null();
    PQclear(res);
    *result = json_pack("{s:o, s:o}", "items", items, "next_before", next);
    return TM_OK;
}

/* ---- passwords ------------------------------------------------------------- */

bool web_password_hash(const char *password, char hash[128])
{
    _Static_assert(crypto_pwhash_STRBYTES == 128, "hash buffer size");
    /* The parameters of services/admin/admin_account.c. */
    return crypto_pwhash_str(hash, password, strlen(password), 2, 19u << 20) == 0;
}

const char *web_password_problem(const char *password)
{
    size_t n = password ? strlen(password) : 0;
    if (n > WEB_PASSWORD_MAX)
        return "the password must have at most " WEB_STR(WEB_PASSWORD_MAX) " bytes";
    if (!utf8_valid(password ? password : "", n, false))
        return "the password is not valid UTF-8 text";
    /* Characters, not bytes: ten Korean syllables are as long as ten letters. */
    if (utf8_count(password ? password : "", n) < WEB_PASSWORD_MIN)
        return "the password must have at least " WEB_STR(WEB_PASSWORD_MIN) " characters";
    return NULL;
}

static const char SQL_LOCKED[] =
    "SELECT 1 FROM login_lockouts WHERE account_id = $1::uuid AND locked_until > now()";
static const char SQL_HASH[] = "SELECT password_hash FROM accounts WHERE id = $1::uuid";

enum tm_error web_require_password(struct tool_ctx *ctx, const json_t *args)
{
    const char *password = tool_arg_str(args, "password");
    if (!password || strlen(password) > WEB_PASSWORD_MAX)
        return tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL, "wrong password");
    const char *p[1] = {ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_LOCKED, 1, p);
    if (!res)
        return ctx->code;
    bool locked = PQntuples(res) > 0;
    PQclear(res);
    if (locked)
        return tool_fail(ctx, TM_ERR_RATE_LIMITED, json_pack("{s:i}", "retry_after_s", 900),
                         "too many wrong passwords: this account is locked for up to 15 minutes");
    res = tool_query(ctx, SQL_HASH, 1, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL, "wrong password");
    }
    int bad = crypto_pwhash_str_verify(PQgetvalue(res, 0, 0), password, strlen(password));
    PQclear(res);
    if (bad) {
        snprintf(failed_password_account, sizeof failed_password_account, "%s", ctx->who->account_id);
        return tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL, "wrong password");
    }
    return TM_OK;
}

bool web_after_rollback(struct tool_ctx *ctx)
{
    if (!failed_password_account[0])
        return true;
    char account[40];
    memcpy(account, failed_password_account, sizeof account);
    failed_password_account[0] = '\0';
    bool locked;
    if (!auth_login_failure(ctx, account, &locked))
        return false;
    if (locked)
        tool_fail(ctx, TM_ERR_RATE_LIMITED, json_pack("{s:i}", "retry_after_s", 900),
                  "too many wrong passwords: this account is locked for 15 minutes");
    return true;
}

/* ---- session and profile ------------------------------------------------------ */

static const char SQL_LOGOUT[] =
    "UPDATE web_sessions SET revoked_at = now() WHERE token_hash = $1::bytea AND account_id = $2::uuid "
    "AND revoked_at IS NULL";

/* session.logout {} -> {signed_out: true}: revokes the session that asks. */
enum tm_error web_session_logout(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    char hp[AUTH_HASH_PARAM_LEN];
    if (!auth_secret_param(tool_arg_str(args, "session"), hp))
        return tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL, "a dashboard session is required");
    const char *p[2] = {hp, ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_LOGOUT, 2, p);
    if (!res)
        return ctx->code;
    PQclear(res);
    *result = json_pack("{s:b}", "signed_out", 1);
    return TM_OK;
}

static const char SQL_SET_PASSWORD[] = "UPDATE accounts SET password_hash = $2 WHERE id = $1::uuid";
static const char SQL_REVOKE_OTHERS[] =
    "UPDATE web_sessions SET revoked_at = now() WHERE account_id = $1::uuid AND token_hash <> $2::bytea "
    "AND revoked_at IS NULL";
static const char SQL_DROP_RESETS[] =
    "UPDATE account_tokens SET used_at = now() WHERE account_id = $1::uuid AND purpose = 'reset' AND used_at IS NULL";

/* profile.password {password, new_password} -> {changed: true, other_sessions_revoked: n} */
enum tm_error web_profile_password(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *np = tool_arg_str(args, "new_password");
    const char *why = web_password_problem(np);
    if (web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    if (why)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "%s", why);
    char hash[128];
    if (!web_password_hash(np, hash))
        return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    const char *p[2] = {ctx->who->account_id, hash};
    PGresult *res = tool_query(ctx, SQL_SET_PASSWORD, 2, p);
    sodium_memzero(hash, sizeof hash);
    if (!res)
        return ctx->code;
    PQclear(res);
    char hp[AUTH_HASH_PARAM_LEN];
    auth_secret_param(tool_arg_str(args, "session"), hp);   /* checked by web_session_check */
    const char *q[2] = {ctx->who->account_id, hp};
    if (!(res = tool_query(ctx, SQL_REVOKE_OTHERS, 2, q)))
        return ctx->code;
    int revoked = atoi(PQcmdTuples(res));
    PQclear(res);
    if (!(res = tool_query(ctx, SQL_DROP_RESETS, 1, p)))
        return ctx->code;
    PQclear(res);
    char details[64];
    snprintf(details, sizeof details, "{\"other_sessions_revoked\":%d}", revoked);
    if (web_audit(ctx, "password.change", "account", ctx->who->account_id, details) != TM_OK)
        return ctx->code;
    *result = json_pack("{s:b, s:i}", "changed", 1, "other_sessions_revoked", revoked);
    return TM_OK;
}
