/*
 * web_collab — the web operations of the dashboard's collaboration keys page
 * (docs/DASHBOARD.md, "Collaboration keys and invitations"): one endpoint's
 * collaboration keys and invitations, and the actions kept out of MCP on
 * them: revealing a key, deactivating, reactivating and regenerating it per
 * environment, deleting it, and revoking an invitation. Creating a key,
 * changing its permissions and inviting are the collaborators_* tools' own
 * code (tool_collaborators.c), called here so the page and the tools cannot
 * disagree.
 *
 * Every lookup is by the endpoint's id AND the session's account AND (for a
 * key or an invitation) that endpoint, with row-level security behind it:
 * another account's id, or a key of another endpoint, is not_found exactly
 * like a missing one. The actions that weaken or expose a key need the
 * password again (web_require_password); reactivating does not, since it
 * only restores what the owner had. Every action writes its audit row in
 * the same transaction.
 *
 * The gateway resolves keys in PostgreSQL on every call (gateway_target; the
 * edge's key cache holds MCP API keys only), so a deactivated, regenerated
 * or deleted key is refused from the next call on: 403 key_inactive for an
 * inactive one, 401 invalid_api_key for one that no longer exists.
 * Revealed and regenerated keys are answered sealed for the edge
 * (web_seal_for_edge), never in the clear.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "services/worker/auth_oauth.h"
#include "services/worker/tool_collaborators.h"
#include "services/worker/tool_util.h"
#include "services/worker/web.h"

/* ---- arguments ------------------------------------------------------------ */

#define NO_ENDPOINT "no such endpoint in this account"
#define NO_KEY "no such collaboration key on this endpoint"
#define NO_INVITATION "no such invitation on this endpoint"

/* The ids of an action have the shape of UUIDs (before the password or any other query). */
static bool ids_shaped(struct tool_ctx *ctx, const json_t *args, const char *second, const char *message)
{
    return web_uuid_arg(ctx, args, "endpoint_id", NO_ENDPOINT) && web_uuid_arg(ctx, args, second, message);
}

/* The arguments of an action on one environment's key, in this order: the ids, then args.environment,
 * which is returned. NULL on failure. */
static const char *key_environment_arg(struct tool_ctx *ctx, const json_t *args)
{
    return ids_shaped(ctx, args, "key_id", NO_KEY) ? web_environment_arg(ctx, args) : NULL;
}

static const char SQL_OWN_ENDPOINT[] =
    "SELECT name FROM endpoints WHERE id = $1::uuid AND account_id = $2::uuid AND deleted_at IS NULL";

/* The account's live endpoint args.endpoint_id; its name into name[256] if not NULL. NULL on failure. */
static const char *own_endpoint(struct tool_ctx *ctx, const json_t *args, char *name)
{
    const char *id = web_uuid_arg(ctx, args, "endpoint_id", NO_ENDPOINT);
    if (!id)
        return NULL;
    const char *p[2] = {id, ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_OWN_ENDPOINT, 2, p);
    if (!res)
        return NULL;
    bool found = PQntuples(res) == 1;
    if (found && name)
        snprintf(name, 256, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!found) {
        tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, NO_ENDPOINT);
        return NULL;
    }
    return id;
}

static const char SQL_OWN_KEY[] =
    "SELECT name FROM collaboration_keys WHERE id = $1::uuid AND endpoint_id = $2::uuid AND account_id = $3::uuid "
    "FOR UPDATE";

/* The endpoint's collaboration key args.key_id (locked); its name into name[80]. NULL on failure. */
static const char *own_key(struct tool_ctx *ctx, const json_t *args, const char *endpoint_id, char name[80])
{
    const char *kid = web_uuid_arg(ctx, args, "key_id", NO_KEY);
    if (!kid)
        return NULL;
    const char *p[3] = {kid, endpoint_id, ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_OWN_KEY, 3, p);
    if (!res)
        return NULL;
    bool found = PQntuples(res) == 1;
    if (found)
        snprintf(name, 80, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!found) {
        tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, NO_KEY);
        return NULL;
    }
    return kid;
}

/* The account's endpoint args.endpoint_id into *id and its collaboration key args.key_id (locked), returned
 * with its name into name[80]. NULL on failure. */
static const char *own_endpoint_key(struct tool_ctx *ctx, const json_t *args, const char **id, char name[80])
{
    *id = own_endpoint(ctx, args, NULL);
    return *id ? own_key(ctx, args, *id, name) : NULL;
}

/* The key of an action that exposes one environment's key (reveal, regenerate), checked in this order: the
 * arguments (key_environment_arg, *env), the password again, then the endpoint (*id) and the key
 * (own_endpoint_key, name into name[80]). NULL on failure. */
static const char *guarded_key(struct tool_ctx *ctx, const json_t *args, const char **env, const char **id,
                               char name[80])
{
    *env = key_environment_arg(ctx, args);
    if (!*env || web_require_password(ctx, args) != TM_OK)
        return NULL;
    return own_endpoint_key(ctx, args, id, name);
}

/* An audit row about a key: {"endpoint_id", "name", "environment"?, ...extra}. */
static enum tm_error audit_key(struct tool_ctx *ctx, const char *action, const char *kid, const char *endpoint_id,
                               const char *name, const char *env, json_t *extra)
{
    json_t *d = extra ? extra : json_object();
    json_object_set_new(d, "endpoint_id", json_string(endpoint_id));
    json_object_set_new(d, "name", json_string(name));
    if (env)
        json_object_set_new(d, "environment", json_string(env));
    return web_audit_json(ctx, action, "collaboration_key", kid, d);
}

/* ---- collab.list ------------------------------------------------------------ */

static const char SQL_COLLABORATORS[] =
    "SELECT x.collaboration_key_id::text, coalesce(account_email(x.account_id), '(deleted account)'), "
    "to_char(x.joined_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM collaborators x JOIN collaboration_keys c ON c.id = x.collaboration_key_id "
    "WHERE x.owner_account_id = $1::uuid AND c.account_id = $1::uuid AND c.endpoint_id = $2::uuid "
    "ORDER BY x.joined_at, x.account_id LIMIT 500";

/* collab.list {endpoint_id} -> {endpoint:{id, name}, keys:[collaborators_list_keys' keys, each with
 * collaborators:[{email, joined_at}]], invitations:[collaborators_list_invitations' items]} */
enum tm_error web_collab_list(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    char name[256];
    const char *id = own_endpoint(ctx, args, name);
    if (!id)
        return ctx->code;
    json_t *q = json_pack("{s:s}", "endpoint", id), *keys = NULL, *invs = NULL;
    enum tm_error rc = tool_collaborators_list_keys(ctx, q, &keys);
    if (rc == TM_OK)
        rc = tool_collaborators_list_invitations(ctx, q, &invs);
    json_decref(q);
    if (rc != TM_OK) {
        json_decref(keys);
        return rc;
    }
    const char *p[2] = {ctx->who->account_id, id};
    PGresult *res = tool_query(ctx, SQL_COLLABORATORS, 2, p);
    if (!res) {
        json_decref(keys);
        json_decref(invs);
        return ctx->code;
    }
    json_t *list = json_object_get(keys, "keys");
    size_t i;
    json_t *k;
    json_array_foreach(list, i, k)
    {
        json_t *people = json_array();
        const char *kid = json_string_value(json_object_get(k, "id"));
        for (int r = 0; r < PQntuples(res); r++)
            if (kid && !strcmp(kid, PQgetvalue(res, r, 0)))
                json_array_append_new(people, json_pack("{s:s, s:s}", "email", PQgetvalue(res, r, 1), "joined_at",
                                                        PQgetvalue(res, r, 2)));
        json_object_set_new(k, "collaborators", people);
    }
    PQclear(res);
    *result = json_pack("{s:{s:s, s:s}, s:O, s:O}", "endpoint", "id", id, "name", name, "keys", list, "invitations",
                        json_object_get(invs, "items"));
    json_decref(keys);
    json_decref(invs);
    return TM_OK;
}

/* ---- collab.create_key, collab.permissions, collab.invite: the tools' code ---- */

/* {create, read, update, delete} booleans of args as the tools' permissions object. */
static json_t *permissions_of(const json_t *args)
{
    static const char *const bits[] = {"create", "read", "update", "delete"};
    json_t *perms = json_object();
    for (size_t i = 0; i < TM_ARRAY_LEN(bits); i++) {
        const json_t *v = json_object_get(args, bits[i]);
        if (json_is_boolean(v))
            json_object_set_new(perms, bits[i], json_boolean(json_is_true(v)));
    }
    return perms;
}

/* collab.create_key {endpoint_id, name, description?, create, read, update, delete} -> collaborators_create_key's
 * answer; audited (collaboration_key.create). */
enum tm_error web_collab_create_key(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id = own_endpoint(ctx, args, NULL);
    if (!id)
        return ctx->code;
    const char *name = tool_arg_str(args, "name"), *desc = tool_arg_str(args, "description");
    if (desc && strlen(desc) > 500)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "the description is at most 500 characters");
    json_t *q = json_pack("{s:s, s:s, s:s, s:o}", "endpoint", id, "name", name ? name : "", "description",
                          desc ? desc : "", "permissions", permissions_of(args));
    enum tm_error rc = tool_collaborators_create_key(ctx, q, result);
    json_decref(q);
    if (rc != TM_OK)
        return rc;
    json_t *k = json_object_get(*result, "key");
    json_t *extra = json_pack("{s:O}", "permissions", json_object_get(k, "permissions"));
    /* On failure the dispatcher drops *result and rolls back. */
    return audit_key(ctx, "collaboration_key.create", json_string_value(json_object_get(k, "id")), id,
                     json_string_value(json_object_get(k, "name")), NULL, extra);
}

/* collab.permissions {endpoint_id, key_id, create, read, update, delete} -> collaborators_update_permissions'
 * answer; every bit must be given (the form sends all four); audited (collaboration_key.permissions). */
enum tm_error web_collab_permissions(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id;
    char name[80];
    const char *kid = own_endpoint_key(ctx, args, &id, name);
    if (!kid)
        return ctx->code;
    json_t *perms = permissions_of(args);
    if (json_object_size(perms) != 4) {
        json_decref(perms);
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "give all four permissions: create, read, update, delete");
    }
    json_t *q = json_pack("{s:s, s:s, s:o}", "endpoint", id, "key_id", kid, "permissions", perms);
    enum tm_error rc = tool_collaborators_update_permissions(ctx, q, result);
    json_decref(q);
    if (rc != TM_OK)
        return rc;
    json_t *extra = json_pack("{s:O}", "permissions", json_object_get(json_object_get(*result, "key"), "permissions"));
    return audit_key(ctx, "collaboration_key.permissions", kid, id, name, NULL, extra);
}

/* collab.invite {endpoint_id, key_id, email, message?} -> collaborators_invite's answer (the e-mail is queued;
 * the 20-a-day limit holds); audited (invitation.create) unless it answered an invitation already pending. */
enum tm_error web_collab_invite(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *id;
    char name[80];
    const char *kid = own_endpoint_key(ctx, args, &id, name);
    if (!kid)
        return ctx->code;
    const char *email = tool_arg_str(args, "email"), *msg = tool_arg_str(args, "message");
    if (msg && strlen(msg) > 1000)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "the message is at most 1000 characters");
    json_t *q = json_pack("{s:s, s:s, s:s}", "endpoint", id, "key_id", kid, "email", email ? email : "");
    if (msg)
        json_object_set_new(q, "message", json_string(msg));
    enum tm_error rc = tool_collaborators_invite(ctx, q, result);
    json_decref(q);
    if (rc != TM_OK || json_is_true(json_object_get(*result, "already_pending")))
        return rc;
    json_t *inv = json_object_get(*result, "invitation");
    return web_audit_json(ctx, "invitation.create", "invitation", json_string_value(json_object_get(inv, "id")),
                          json_pack("{s:s, s:s, s:s, s:s}", "endpoint_id", id, "key_id", kid, "key", name, "email",
                                    json_string_value(json_object_get(inv, "email"))));
}

/* ---- collab.reveal -------------------------------------------------------------- */

/* The gateway key (api_keys row) of one environment of a collaboration key: $1 the key, $2 its endpoint,
 * $3 the account, $4 the environment. */
#define ENV_KEY                                                                                                \
    "collaboration_key_id = $1::uuid AND endpoint_id = $2::uuid AND account_id = $3::uuid AND environment = $4 " \
    "AND kind = 'collaboration'"

static const char SQL_KEY_ENC[] = "SELECT key_enc FROM api_keys WHERE " ENV_KEY;

/* collab.reveal {endpoint_id, key_id, environment, password, reply_key} -> {sealed, key_id, environment}:
 * the key sealed for the edge; audited (collaboration_key.reveal). */
enum tm_error web_collab_reveal(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *env, *id;
    char name[80];
    const char *kid = guarded_key(ctx, args, &env, &id, name);
    if (!kid)
        return ctx->code;
    const char *p[4] = {kid, id, ctx->who->account_id, env};
    PGresult *res = tool_query(ctx, SQL_KEY_ENC, 4, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this collaboration key has no %s key", env);
    }
    char *sealed = NULL;
    enum tm_error rc = web_reseal_stored(ctx, args, PQgetvalue(res, 0, 0), &sealed);
    PQclear(res);
    if (rc == TM_OK)
        rc = audit_key(ctx, "collaboration_key.reveal", kid, id, name, env, NULL);
    if (rc == TM_OK)
        *result = json_pack("{s:s, s:s, s:s}", "sealed", sealed, "key_id", kid, "environment", env);
    free(sealed);
    return rc;
}

/* ---- collab.set_active ------------------------------------------------------------ */

static const char SQL_KEY_ACTIVE[] = "SELECT active FROM api_keys WHERE " ENV_KEY " FOR UPDATE";
static const char SQL_SET_ACTIVE[] = "UPDATE api_keys SET active = $5::boolean WHERE " ENV_KEY;

/* collab.set_active {endpoint_id, key_id, environment, active, password (to deactivate)} -> {key_id, environment,
 * active, changed}: one environment's key on or off; the gateway answers 403 key_inactive from the next call
 * on. Audited (collaboration_key.deactivate / .reactivate) when it changed something. */
enum tm_error web_collab_set_active(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *env = key_environment_arg(ctx, args);
    if (!env)
        return ctx->code;
    const json_t *a = json_object_get(args, "active");
    if (!json_is_boolean(a))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "active must be true or false");
    bool on = json_is_true(a);
    if (!on && web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    const char *id;
    char name[80];
    const char *kid = own_endpoint_key(ctx, args, &id, name);
    if (!kid)
        return ctx->code;
    /* The old value, read under the key's lock (own_key), to tell a change from a repeat. */
    const char *p[5] = {kid, id, ctx->who->account_id, env, on ? "t" : "f"};
    PGresult *res = tool_query(ctx, SQL_KEY_ACTIVE, 4, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this collaboration key has no %s key", env);
    }
    bool was = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (was != on) {
        if (!(res = tool_query(ctx, SQL_SET_ACTIVE, 5, p)))
            return ctx->code;
        PQclear(res);
        if (audit_key(ctx, on ? "collaboration_key.reactivate" : "collaboration_key.deactivate", kid, id, name, env,
                      NULL) != TM_OK)
            return ctx->code;
    }
    *result = json_pack("{s:s, s:s, s:b, s:b}", "key_id", kid, "environment", env, "active", on, "changed", was != on);
    return TM_OK;
}

/* ---- collab.regenerate --------------------------------------------------------------- */

static const char SQL_REGENERATE[] =
    "UPDATE api_keys SET key_hash = $5::bytea, key_enc = $6::bytea, last4 = $7, created_at = now(), "
    "last_used_at = NULL WHERE " ENV_KEY;

/* collab.regenerate {endpoint_id, key_id, environment, password, reply_key} -> {sealed, key_id, environment,
 * masked}: a new key replaces the environment's key in place (its active flag stays); the old one is refused
 * (401) from the next call on; the new one is answered sealed, to be shown once; audited
 * (collaboration_key.regenerate). */
enum tm_error web_collab_regenerate(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *env, *id;
    char name[80];
    const char *kid = guarded_key(ctx, args, &env, &id, name);
    if (!kid)
        return ctx->code;
    const char *p[4] = {kid, id, ctx->who->account_id, env};
    char *sealed, masked[64];
    enum tm_error rc = web_key_regenerate(ctx, args, SQL_REGENERATE, 4, p, env, &sealed, masked);
    if (rc != TM_OK)
        return rc;
    if (!sealed)
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this collaboration key has no %s key", env);
    rc = audit_key(ctx, "collaboration_key.regenerate", kid, id, name, env, NULL);
    if (rc == TM_OK)
        *result = json_pack("{s:s, s:s, s:s, s:s}", "sealed", sealed, "key_id", kid, "environment", env, "masked",
                            masked);
    free(sealed);
    return rc;
}

/* ---- collab.delete ------------------------------------------------------------------- */

static const char SQL_DELETE_KEY[] =
    "WITH gone AS (DELETE FROM collaboration_keys WHERE id = $1::uuid AND endpoint_id = $2::uuid "
    "AND account_id = $3::uuid RETURNING id) SELECT count(*) FROM gone";
static const char SQL_KEY_PEOPLE[] =
    "SELECT (SELECT count(*) FROM collaborators WHERE collaboration_key_id = $1::uuid AND owner_account_id = $2::uuid), "
    "(SELECT count(*) FROM invitations WHERE collaboration_key_id = $1::uuid AND account_id = $2::uuid "
    " AND status = 'pending')";

/* collab.delete {endpoint_id, key_id, password} -> {deleted: true, key_id, name}: the key, its gateway keys of
 * both environments (refused with 401 from the next call on), its invitations and its collaborators go; call
 * logs and statistics keep its id. Audited (collaboration_key.delete, with the counts). */
enum tm_error web_collab_delete(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    if (!ids_shaped(ctx, args, "key_id", NO_KEY) || web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    const char *id;
    char name[80];
    const char *kid = own_endpoint_key(ctx, args, &id, name);
    if (!kid)
        return ctx->code;
    const char *pp[2] = {kid, ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_KEY_PEOPLE, 2, pp);
    if (!res)
        return ctx->code;
    json_int_t people = strtoll(PQgetvalue(res, 0, 0), NULL, 10), pending = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    const char *p[3] = {kid, id, ctx->who->account_id};
    if (!(res = tool_query(ctx, SQL_DELETE_KEY, 3, p)))
        return ctx->code;
    bool gone = !strcmp(PQgetvalue(res, 0, 0), "1");
    PQclear(res);
    if (!gone)
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, NO_KEY);
    if (audit_key(ctx, "collaboration_key.delete", kid, id, name, NULL,
                  json_pack("{s:I, s:I}", "collaborators", people, "pending_invitations", pending)) != TM_OK)
        return ctx->code;
    *result = json_pack("{s:b, s:s, s:s}", "deleted", 1, "key_id", kid, "name", name);
    return TM_OK;
}

/* ---- collab.revoke --------------------------------------------------------------------- */

static const char SQL_REVOKE[] =
    "UPDATE invitations i SET status = 'revoked' FROM collaboration_keys c "
    "WHERE i.id = $1::uuid AND i.account_id = $2::uuid AND c.id = i.collaboration_key_id "
    "AND c.account_id = $2::uuid AND c.endpoint_id = $3::uuid AND i.status = 'pending' AND i.expires_at > now() "
    "RETURNING i.email, c.id::text, c.name";
static const char SQL_INVITATION_STATE[] =
    "SELECT CASE WHEN i.status = 'pending' AND i.expires_at <= now() THEN 'expired' ELSE i.status END "
    "FROM invitations i JOIN collaboration_keys c ON c.id = i.collaboration_key_id "
    "WHERE i.id = $1::uuid AND i.account_id = $2::uuid AND c.account_id = $2::uuid AND c.endpoint_id = $3::uuid";

/* collab.revoke {endpoint_id, invitation_id, password} -> {revoked: true, invitation_id, email}: a pending
 * invitation's link stops working at once (accept_invitation answers not found for a revoked one); an
 * accepted, expired or revoked one is a conflict. Audited (invitation.revoke). */
enum tm_error web_collab_revoke(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    if (!ids_shaped(ctx, args, "invitation_id", NO_INVITATION) || web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    const char *id = own_endpoint(ctx, args, NULL);
    if (!id)
        return ctx->code;
    const char *iid = web_uuid_arg(ctx, args, "invitation_id", NO_INVITATION);
    if (!iid)
        return ctx->code;
    const char *p[3] = {iid, ctx->who->account_id, id};
    PGresult *res = tool_query(ctx, SQL_REVOKE, 3, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        if (!(res = tool_query(ctx, SQL_INVITATION_STATE, 3, p)))
            return ctx->code;
        bool exists = PQntuples(res) == 1;
        char state[16] = "";
        if (exists)
            snprintf(state, sizeof state, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        if (!exists)
            return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, NO_INVITATION);
        return tool_fail(ctx, TM_ERR_CONFLICT, NULL, "this invitation is %s already; only a pending one can be revoked",
                         state);
    }
    json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "endpoint_id", id, "email", PQgetvalue(res, 0, 0), "key_id",
                          PQgetvalue(res, 0, 1), "key", PQgetvalue(res, 0, 2));
    char *email = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    enum tm_error rc = web_audit_json(ctx, "invitation.revoke", "invitation", iid, d);
    if (rc == TM_OK)
        *result = json_pack("{s:b, s:s, s:s}", "revoked", 1, "invitation_id", iid, "email", email);
    free(email);
    return rc;
}

/* ---- web.invitation_peek (auth op, before sign-in) ------------------------------------------ */

static const char SQL_PEEK[] = "SELECT email, status, endpoint_name, key_name FROM invitation_peek($1::bytea)";

enum tm_error auth_web_invitation_peek(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *token = tool_arg_str(args, "token");
    char hp[AUTH_HASH_PARAM_LEN];
    if (!token || strlen(token) > 100 || !auth_secret_param(token, hp))
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this invitation link is not valid");
    const char *p[1] = {hp};
    PGresult *res = tool_query(ctx, SQL_PEEK, 1, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1 || !strcmp(PQgetvalue(res, 0, 1), "revoked")) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this invitation link is not valid");
    }
    *result = json_pack("{s:s, s:s, s:s, s:s}", "email", PQgetvalue(res, 0, 0), "status", PQgetvalue(res, 0, 1),
                        "endpoint", PQgetvalue(res, 0, 2), "key", PQgetvalue(res, 0, 3));
    PQclear(res);
    return TM_OK;
}
