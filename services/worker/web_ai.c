/*
 * web_ai — the worker side of Settings → AI Integration (docs/DASHBOARD.md):
 * the account's MCP API keys (list, create, rename, regenerate, delete) and
 * its connected apps, i.e. OAuth grants (list, revoke).
 *
 * Keys. The edge generates a new key (common/mcpkey.c) and sends only its
 * SHA-256 and display prefix, so the key text never reaches a worker, the
 * database or the idempotency record (applied_requests keeps results). A
 * deleted key is revoked (revoked_at), like `3min mcp-key revoke`; the row
 * stays for the operator's listing. Regenerating replaces the hash and prefix
 * of the same row (id, name and scopes stay). Either way the old key stops
 * at the edges within their key cache's bound (API_KEY_CACHE_MS, at most
 * 30 s), since edges cache resolved keys and are not told.
 *
 * Apps. oauth_grants has no row-level security (it is read before any
 * principal exists, 002_oauth.sql), so every statement here filters by the
 * account explicitly. Revoking a grant revokes its refresh tokens at once;
 * its access tokens stop when the edges' revocation poll sees the grant
 * (every 15 s, within the 60 s promised).
 *
 * Every lookup is by id AND account: another account's id is not_found,
 * exactly like a missing one. Destructive actions re-check the password and
 * write an audit row in the same transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mcpkey.h"
#include "common/utf8.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "services/worker/tool_util.h"
#include "services/worker/web.h"

#define KEY_NAME_MAX 64        /* characters, as `3min mcp-key create` */
#define KEYS_PER_ACCOUNT 50    /* live keys: bounds what one account can pile up */

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* ---- helpers ------------------------------------------------------------- */

/* The uuid argument `name`, or a recorded invalid_argument. */
static const char *arg_id(struct tool_ctx *ctx, const json_t *args, const char *what)
{
    const char *id = tool_arg_str(args, "id");
    if (!id || !is_uuid(id)) {
        tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "%s id must be a uuid", what);
        return NULL;
    }
    return id;
}

/* NULL if name is an acceptable key name, else why not. */
static const char *key_name_problem(const char *name)
{
    if (!name || !*name)
        return "the key needs a name";
    size_t n = strlen(name);
    if (n > 4 * KEY_NAME_MAX || !utf8_valid(name, n, false) || utf8_count(name, n) > KEY_NAME_MAX)
        return "the key name must be valid text of at most 64 characters";
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "the key name must not contain control characters";
    return NULL;
}

/* args.scopes: a non-empty array of "read", "write", "execute" -> "{read,write}". */
static bool scopes_literal(struct tool_ctx *ctx, const json_t *args, char *out, size_t cap)
{
    const json_t *a = json_object_get(args, "scopes");
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 3) {
        tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "choose at least one scope (read, write, execute)");
        return false;
    }
    uint32_t bits = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v)
    {
        uint32_t b;
        const char *s = json_string_value(v);
        if (!s || strlen(s) > 16 || scopes_parse(s, &b) != 0 || strchr(s, ',') || strchr(s, ' ')) {
            tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "unknown scope (the scopes are read, write, execute)");
            return false;
        }
        bits |= b;
    }
    if (!bits) {
        tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "choose at least one scope (read, write, execute)");
        return false;
    }
    char words[32];   /* "read write execute" at most */
    scopes_format(bits, words, sizeof words);
    for (char *p = words; *p; p++)
        if (*p == ' ')
            *p = ',';
    snprintf(out, cap, "{%.31s}", words);
    return true;
}

/* The hash (64 lower-case hex) and prefix of a key the edge generated. */
static bool key_material(struct tool_ctx *ctx, const json_t *args, const char **hash, const char **prefix)
{
    *hash = tool_arg_str(args, "key_hash");
    *prefix = tool_arg_str(args, "prefix");
    bool hex = *hash && strlen(*hash) == 64;
    for (size_t i = 0; hex && i < 64; i++)
        hex = ((*hash)[i] >= '0' && (*hash)[i] <= '9') || ((*hash)[i] >= 'a' && (*hash)[i] <= 'f');
    if (!hex || !mcpkey_prefix_ok(*prefix)) {
        tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "malformed key material");
        return false;
    }
    return true;
}

static enum tm_error audit_json(struct tool_ctx *ctx, const char *action, const char *type, const char *id,
                                json_t *details)
{
    char *text = json_dumps(details, JSON_COMPACT);
    json_decref(details);
    enum tm_error rc = web_audit(ctx, action, type, id, text);
    free(text);
    return rc;
}

/* ---- MCP API keys ---------------------------------------------------------- */

#define KEY_OBJECT                                                                                              \
    "json_build_object('id', k.id, 'name', k.name, 'scopes', k.scopes, 'prefix', k.prefix, 'created_at', "      \
    TS("k.created_at") ", 'last_used_at', " TS("k.last_used_at") ")"

static const char SQL_KEYS[] =
    "SELECT COALESCE(json_agg(" KEY_OBJECT " ORDER BY k.created_at DESC, k.id DESC), '[]')::text "
    "FROM mcp_api_keys k WHERE k.account_id = $1::uuid AND k.revoked_at IS NULL";
static const char SQL_KEY[] =
    "SELECT " KEY_OBJECT "::text FROM mcp_api_keys k "
    "WHERE k.account_id = $1::uuid AND k.id = $2::uuid AND k.revoked_at IS NULL";
static const char SQL_KEY_LOCK[] =
    "SELECT k.name, k.prefix FROM mcp_api_keys k "
    "WHERE k.account_id = $1::uuid AND k.id = $2::uuid AND k.revoked_at IS NULL FOR UPDATE";

/* mcpkeys.list {} -> {items:[{id, name, scopes, prefix, created_at, last_used_at}], max} */
enum tm_error web_mcpkeys_list(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    (void)args;
    (void)result;
    const char *p[1] = {ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_KEYS, 1, p);
    if (!res)
        return ctx->code;
    ctx->raw_result = xasprintf("{\"items\":%s,\"max\":%d}", PQgetvalue(res, 0, 0), KEYS_PER_ACCOUNT);
    PQclear(res);
    return TM_OK;
}

/* mcpkeys.get {id} -> {id, name, scopes, prefix, created_at, last_used_at} */
enum tm_error web_mcpkeys_get(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    (void)result;
    const char *id = arg_id(ctx, args, "the key");
    if (!id)
        return ctx->code;
    const char *p[2] = {ctx->who->account_id, id};
    PGresult *res = tool_query(ctx, SQL_KEY, 2, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such MCP API key");
    }
    ctx->raw_result = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return TM_OK;
}

/* The live key id of the account, locked: name and prefix into the buffers. */
static enum tm_error lock_key(struct tool_ctx *ctx, const char *id, char name[4 * KEY_NAME_MAX + 1],
                              char prefix[MCPKEY_PREFIX_LEN + 1])
{
    const char *p[2] = {ctx->who->account_id, id};
    PGresult *res = tool_query(ctx, SQL_KEY_LOCK, 2, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such MCP API key");
    }
    snprintf(name, 4 * KEY_NAME_MAX + 1, "%s", PQgetvalue(res, 0, 0));
    snprintf(prefix, MCPKEY_PREFIX_LEN + 1, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return TM_OK;
}

static const char SQL_KEY_COUNT[] =
    "SELECT count(*) FROM mcp_api_keys WHERE account_id = $1::uuid AND revoked_at IS NULL";
static const char SQL_KEY_INSERT[] =
    "INSERT INTO mcp_api_keys (account_id, name, key_hash, prefix, scopes) "
    "VALUES ($1::uuid, $2, decode($3, 'hex'), $4, $5::text[]) RETURNING id::text";

/* mcpkeys.create {name, scopes[], key_hash, prefix} -> {id, name, scopes, prefix} */
enum tm_error web_mcpkeys_create(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *name = tool_arg_str(args, "name");
    const char *why = key_name_problem(name);
    if (why)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "%s", why);
    char lit[64];
    const char *hash, *prefix;
    if (!scopes_literal(ctx, args, lit, sizeof lit) || !key_material(ctx, args, &hash, &prefix))
        return ctx->code;
    const char *p[5] = {ctx->who->account_id, name, hash, prefix, lit};
    PGresult *res = tool_query(ctx, SQL_KEY_COUNT, 1, p);
    if (!res)
        return ctx->code;
    long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (n >= KEYS_PER_ACCOUNT)
        return tool_fail(ctx, TM_ERR_PRECONDITION_FAILED, NULL,
                         "this account already has %d MCP API keys; delete one first", KEYS_PER_ACCOUNT);
    if (!(res = tool_query(ctx, SQL_KEY_INSERT, 5, p)))
        return ctx->code;
    char id[40];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    json_t *scopes = json_deep_copy(json_object_get(args, "scopes"));
    if (audit_json(ctx, "mcp_key.create", "mcp_key", id,
                   json_pack("{s:s, s:s, s:s}", "name", name, "prefix", prefix, "scopes", lit)) != TM_OK) {
        json_decref(scopes);
        return ctx->code;
    }
    *result = json_pack("{s:s, s:s, s:o, s:s}", "id", id, "name", name, "scopes", scopes, "prefix", prefix);
    return TM_OK;
}

static const char SQL_KEY_RENAME[] =
    "UPDATE mcp_api_keys SET name = $3 WHERE account_id = $1::uuid AND id = $2::uuid AND revoked_at IS NULL";

/* mcpkeys.rename {id, name} -> {id, name} */
enum tm_error web_mcpkeys_rename(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = arg_id(ctx, args, "the key");
    if (!id)
        return ctx->code;
    const char *name = tool_arg_str(args, "name");
    const char *why = key_name_problem(name);
    char old[4 * KEY_NAME_MAX + 1], prefix[MCPKEY_PREFIX_LEN + 1];
    if (lock_key(ctx, id, old, prefix) != TM_OK)
        return ctx->code;
    if (why)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "%s", why);
    const char *p[3] = {ctx->who->account_id, id, name};
    PGresult *res = tool_query(ctx, SQL_KEY_RENAME, 3, p);
    if (!res)
        return ctx->code;
    PQclear(res);
    if (audit_json(ctx, "mcp_key.rename", "mcp_key", id,
                   json_pack("{s:s, s:s, s:s}", "from", old, "to", name, "prefix", prefix)) != TM_OK)
        return ctx->code;
    *result = json_pack("{s:s, s:s}", "id", id, "name", name);
    return TM_OK;
}

static const char SQL_KEY_REGENERATE[] =
    "UPDATE mcp_api_keys SET key_hash = decode($3, 'hex'), prefix = $4, last_used_at = NULL "
    "WHERE account_id = $1::uuid AND id = $2::uuid AND revoked_at IS NULL";

/* mcpkeys.regenerate {id, password, key_hash, prefix} -> {id, name, prefix} */
enum tm_error web_mcpkeys_regenerate(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = arg_id(ctx, args, "the key");
    const char *hash, *prefix;
    if (!id || !key_material(ctx, args, &hash, &prefix))
        return ctx->code;
    char name[4 * KEY_NAME_MAX + 1], old[MCPKEY_PREFIX_LEN + 1];
    if (lock_key(ctx, id, name, old) != TM_OK || web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    const char *p[4] = {ctx->who->account_id, id, hash, prefix};
    PGresult *res = tool_query(ctx, SQL_KEY_REGENERATE, 4, p);
    if (!res)
        return ctx->code;
    PQclear(res);
    if (audit_json(ctx, "mcp_key.regenerate", "mcp_key", id,
                   json_pack("{s:s, s:s, s:s}", "name", name, "old_prefix", old, "prefix", prefix)) != TM_OK)
        return ctx->code;
    *result = json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "prefix", prefix);
    return TM_OK;
}

static const char SQL_KEY_REVOKE[] =
    "UPDATE mcp_api_keys SET revoked_at = now() WHERE account_id = $1::uuid AND id = $2::uuid "
    "AND revoked_at IS NULL";

/* mcpkeys.delete {id, password} -> {id, deleted: true} */
enum tm_error web_mcpkeys_delete(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = arg_id(ctx, args, "the key");
    if (!id)
        return ctx->code;
    char name[4 * KEY_NAME_MAX + 1], prefix[MCPKEY_PREFIX_LEN + 1];
    if (lock_key(ctx, id, name, prefix) != TM_OK || web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    const char *p[2] = {ctx->who->account_id, id};
    PGresult *res = tool_query(ctx, SQL_KEY_REVOKE, 2, p);
    if (!res)
        return ctx->code;
    PQclear(res);
    if (audit_json(ctx, "mcp_key.delete", "mcp_key", id, json_pack("{s:s, s:s}", "name", name, "prefix", prefix)) !=
        TM_OK)
        return ctx->code;
    *result = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
    return TM_OK;
}

/* ---- connected apps (OAuth grants) -------------------------------------------- */

/* The host of the client's first redirect URI (scheme://[userinfo@]host...). */
#define REDIRECT_HOST                                                                                  \
    "coalesce(substring(c.redirect_uris[1] from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\\[[^]]*\\]|[^/:?#]*)'), '')"

#define APP_OBJECT                                                                                                \
    "json_build_object('id', g.id, 'client_name', c.client_name, 'client_id', c.client_id, 'redirect_host', "      \
    REDIRECT_HOST ", 'scopes', string_to_array(g.scope, ' '), 'created_at', " TS("g.created_at")                  \
    ", 'last_used_at', " TS("g.last_used_at") ")"

static const char SQL_APPS[] =
    "SELECT COALESCE(json_agg(" APP_OBJECT " ORDER BY g.created_at DESC, g.id), '[]')::text "
    "FROM oauth_grants g JOIN oauth_clients c ON c.client_id = g.client_id "
    "WHERE g.account_id = $1::uuid AND g.revoked_at IS NULL";
static const char SQL_APP[] =
    "SELECT " APP_OBJECT "::text FROM oauth_grants g JOIN oauth_clients c ON c.client_id = g.client_id "
    "WHERE g.account_id = $1::uuid AND g.id = $2::uuid AND g.revoked_at IS NULL";
static const char SQL_APP_LOCK[] =
    "SELECT c.client_name, c.client_id FROM oauth_grants g JOIN oauth_clients c ON c.client_id = g.client_id "
    "WHERE g.account_id = $1::uuid AND g.id = $2::uuid AND g.revoked_at IS NULL FOR UPDATE OF g";
static const char SQL_APP_TOKENS_REVOKE[] =
    "UPDATE oauth_refresh_tokens SET revoked_at = now() WHERE grant_id = $2::uuid AND account_id = $1::uuid "
    "AND revoked_at IS NULL";
static const char SQL_APP_REVOKE[] =
    "UPDATE oauth_grants SET revoked_at = now() WHERE id = $2::uuid AND account_id = $1::uuid AND revoked_at IS NULL";

/* apps.list {} -> {items:[{id, client_name, client_id, redirect_host, scopes, created_at, last_used_at}]} */
enum tm_error web_apps_list(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    (void)args;
    (void)result;
    const char *p[1] = {ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_APPS, 1, p);
    if (!res)
        return ctx->code;
    ctx->raw_result = xasprintf("{\"items\":%s}", PQgetvalue(res, 0, 0));
    PQclear(res);
    return TM_OK;
}

/* apps.get {id} -> the list's item */
enum tm_error web_apps_get(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    (void)result;
    const char *id = arg_id(ctx, args, "the app");
    if (!id)
        return ctx->code;
    const char *p[2] = {ctx->who->account_id, id};
    PGresult *res = tool_query(ctx, SQL_APP, 2, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such connected app");
    }
    ctx->raw_result = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return TM_OK;
}

/* apps.revoke {id, password} -> {id, revoked: true, refresh_tokens_revoked: n} */
enum tm_error web_apps_revoke(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = arg_id(ctx, args, "the app");
    if (!id)
        return ctx->code;
    const char *p[2] = {ctx->who->account_id, id};
    PGresult *res = tool_query(ctx, SQL_APP_LOCK, 2, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such connected app");
    }
    json_t *details = json_pack("{s:s, s:s}", "client_name", PQgetvalue(res, 0, 0), "client_id", PQgetvalue(res, 0, 1));
    PQclear(res);
    if (web_require_password(ctx, args) != TM_OK) {
        json_decref(details);
        return ctx->code;
    }
    if (!(res = tool_query(ctx, SQL_APP_TOKENS_REVOKE, 2, p))) {
        json_decref(details);
        return ctx->code;
    }
    int tokens = atoi(PQcmdTuples(res));
    PQclear(res);
    if (!(res = tool_query(ctx, SQL_APP_REVOKE, 2, p))) {
        json_decref(details);
        return ctx->code;
    }
    PQclear(res);
    json_object_set_new(details, "refresh_tokens_revoked", json_integer(tokens));
    if (audit_json(ctx, "oauth_grant.revoke", "oauth_grant", id, details) != TM_OK)
        return ctx->code;
    *result = json_pack("{s:s, s:b, s:i}", "id", id, "revoked", 1, "refresh_tokens_revoked", tokens);
    return TM_OK;
}
