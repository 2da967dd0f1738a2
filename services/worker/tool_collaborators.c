/*
 * tool_collaborators — collaboration keys and invitations (see
 * tool_collaborators.h; output shapes in proto/catalog.c).
 *
 * A collaboration key is a collaboration_keys row (name, description, CRUD
 * bits) plus one api_keys row per environment (kind 'collaboration') whose
 * secret is stored keybox-encrypted like the owner's keys; the gateway
 * already resolves and honours them. Secrets are never returned over MCP:
 * only masked, with a pointer to the dashboard.
 *
 * Invitations: a random token (base64url of 32 bytes) goes into the e-mail
 * link and only its SHA-256 is stored. The e-mail is a notifications row of
 * kind 'invitation' with the invited address as recipient; bin/jobs sends it.
 * Every handler filters by account explicitly besides row-level security, and
 * an endpoint or key of another account answers exactly like a missing one.
 */
#include "services/worker/tool_collaborators.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/keybox.h"
#include "common/utf8.h"
#include "common/util.h"
#include "services/worker/auth_oauth.h"
#include "services/worker/gateway.h"
#include "services/worker/tool_util.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static bool pg_bool(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

/* ---- the endpoint ------------------------------------------------------- */

/* The principal's endpoint named by args.endpoint into id[40] (and its name into name if given). */
static enum tm_error resolve(struct tool_ctx *ctx, const json_t *args, char id[40], char *name, size_t name_cap)
{
    return tool_find_endpoint(ctx, json_string_value(json_object_get(args, "endpoint")), false, id, NULL, 0, name,
                              name_cap);
}

/* ---- keys as JSON ------------------------------------------------------- */

#define KEY_COLS 13
static const char SQL_KEYS[] =
    "SELECT c.id::text, c.name, c.description, c.can_create, c.can_read, c.can_update, c.can_delete, "
    "COALESCE(s.active, false), s.last4, COALESCE(p.active, false), p.last4, "
    "(SELECT count(*) FROM collaborators x WHERE x.collaboration_key_id = c.id), "
    "(SELECT count(*) FROM invitations i WHERE i.collaboration_key_id = c.id AND i.status = 'pending' "
    " AND i.expires_at > now()) "
    "FROM collaboration_keys c "
    "LEFT JOIN api_keys s ON s.collaboration_key_id = c.id AND s.kind = 'collaboration' AND s.environment = 'sandbox' "
    "LEFT JOIN api_keys p ON p.collaboration_key_id = c.id AND p.kind = 'collaboration' "
    " AND p.environment = 'production' "
    "WHERE c.account_id = $1::uuid AND c.endpoint_id = $2::uuid AND ($3::uuid IS NULL OR c.id = $3::uuid) "
    "ORDER BY c.created_at, c.id";

static json_t *env_key(const PGresult *res, int row, int col, const char *prefix)
{
    char masked[64];
    if (PQgetisnull(res, row, col + 1))
        return json_pack("{s:b, s:n}", "active", 0, "masked");
    gateway_key_mask(prefix, PQgetvalue(res, row, col + 1), masked, sizeof masked);
    return json_pack("{s:b, s:s}", "active", pg_bool(res, row, col), "masked", masked);
}

static json_t *key_json(const PGresult *res, int i)
{
    return json_pack("{s:s, s:s, s:s, s:{s:b, s:b, s:b, s:b}, s:o, s:o, s:{s:I, s:I}}",
                     "id", PQgetvalue(res, i, 0), "name", PQgetvalue(res, i, 1), "description",
                     PQgetvalue(res, i, 2), "permissions", "create", pg_bool(res, i, 3), "read", pg_bool(res, i, 4),
                     "update", pg_bool(res, i, 5), "delete", pg_bool(res, i, 6), "sandbox",
                     env_key(res, i, 7, "tm_test_"), "production", env_key(res, i, 9, "tm_live_"), "invitations",
                     "accepted", (json_int_t)strtoll(PQgetvalue(res, i, 11), NULL, 10), "pending",
                     (json_int_t)strtoll(PQgetvalue(res, i, 12), NULL, 10));
}

/* The endpoint's keys (key_id NULL) or one key; *res is the query result. */
static enum tm_error query_keys(struct tool_ctx *ctx, const char *endpoint_id, const char *key_id, PGresult **res)
{
    const char *p[3] = {ctx->who->account_id, endpoint_id, key_id};
    *res = tool_query(ctx, SQL_KEYS, 3, p);
    return *res ? TM_OK : ctx->code;
}

/* ---- collaborators_list_keys -------------------------------------------- */

enum tm_error tool_collaborators_list_keys(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    char ep[40];
    PGresult *res;
    if (resolve(ctx, args, ep, NULL, 0) != TM_OK || query_keys(ctx, ep, NULL, &res) != TM_OK)
        return ctx->code;
    json_t *keys = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(keys, key_json(res, i));
    PQclear(res);
    *result = json_pack("{s:s, s:o}", "endpoint_id", ep, "keys", keys);
    return TM_OK;
}

/* ---- collaborators_create_key ------------------------------------------- */

static const char SQL_KEY_NAME_TAKEN[] =
    "SELECT 1 FROM collaboration_keys WHERE account_id = $1::uuid AND endpoint_id = $2::uuid "
    "AND lower(name) = lower($3)";
static const char SQL_INSERT_COLLAB[] =
    "INSERT INTO collaboration_keys (account_id, endpoint_id, name, description, can_create, can_read, can_update, "
    "can_delete) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8) RETURNING id::text";
static const char SQL_INSERT_API_KEY[] =
    "INSERT INTO api_keys (account_id, endpoint_id, environment, kind, collaboration_key_id, key_hash, key_enc, last4) "
    "VALUES ($1::uuid, $2::uuid, $3, 'collaboration', $4::uuid, $5::bytea, $6::bytea, $7)";

bool collab_key_new(const struct config *cfg, bool live, char key[GATEWAY_KEY_LEN + 1],
                    char hash_hex[COLLAB_HASH_HEX_LEN], char **enc)
{
    const struct keybox *kb = gateway_keybox(cfg);
    if (!kb)
        return false;
    gateway_key_generate(live, key);
    uint8_t hash[32];
    sha256(key, strlen(key), hash);
    memcpy(hash_hex, "\\x", 2);
    hex_encode(hash, sizeof hash, hash_hex + 2);
    size_t n;
    uint8_t *box = keybox_seal(kb, key, strlen(key), &n);
    *enc = keybox_bytea_hex(box, n);
    free(box);
    return true;
}

/* One bit of args.permissions: its value, or dflt when absent. */
static bool perm(const json_t *perms, const char *name, bool dflt)
{
    const json_t *v = json_object_get(perms, name);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* A key's name is shown on pages, in e-mails and in listings: 1-64 characters (code points), not blank, no
 * control characters (a terminal escape or a line break in a name would reach whoever lists it). */
static bool key_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 4 * 64 || !utf8_valid(name, n, false) || utf8_count(name, n) > 64)
        return false;
    bool visible = false;
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        if (*s < 0x20 || *s == 0x7f)
            return false;
        visible |= *s != ' ';
    }
    return visible;
}

enum tm_error tool_collaborators_create_key(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    char ep[40];
    if (resolve(ctx, args, ep, NULL, 0) != TM_OK)
        return ctx->code;
    const char *name = json_string_value(json_object_get(args, "name"));
    const char *desc = json_string_value(json_object_get(args, "description"));
    if (!key_name_ok(name))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "name is required: 1-64 characters, not blank, without control characters");
    if (!desc)
        desc = "";
    const json_t *perms = json_object_get(args, "permissions");
    const char *pn[3] = {ctx->who->account_id, ep, name};
    PGresult *res = tool_query(ctx, SQL_KEY_NAME_TAKEN, 3, pn);
    if (!res)
        return ctx->code;
    bool taken = PQntuples(res) > 0;
    PQclear(res);
    if (taken)
        return tool_fail(ctx, TM_ERR_CONFLICT, NULL,
                         "this endpoint already has a collaboration key named \"%.64s\"; pick another name", name);
    const char *b[4] = {perm(perms, "create", true) ? "t" : "f", perm(perms, "read", true) ? "t" : "f",
                        perm(perms, "update", false) ? "t" : "f", perm(perms, "delete", false) ? "t" : "f"};
    const char *pi[8] = {ctx->who->account_id, ep, name, desc, b[0], b[1], b[2], b[3]};
    if (!(res = tool_query(ctx, SQL_INSERT_COLLAB, 8, pi)))
        return ctx->code;
    char kid[40];
    snprintf(kid, sizeof kid, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    static const char *const envs[] = {"sandbox", "production"};
    for (size_t i = 0; i < TM_ARRAY_LEN(envs); i++) {
        char key[GATEWAY_KEY_LEN + 1], hash_hex[COLLAB_HASH_HEX_LEN];
        char *kenc;
        if (!collab_key_new(ctx->cfg, i == 1, key, hash_hex, &kenc))
            return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
        const char *pk[7] = {ctx->who->account_id, ep, envs[i], kid, hash_hex, kenc, key + strlen(key) - 4};
        res = tool_query(ctx, SQL_INSERT_API_KEY, 7, pk);
        free(kenc);
        sodium_memzero(key, sizeof key);
        if (!res)
            return ctx->code;
        PQclear(res);
    }
    if (query_keys(ctx, ep, kid, &res) != TM_OK)
        return ctx->code;
    json_t *k = key_json(res, 0);
    PQclear(res);
    char *where = xasprintf("The full keys are shown only in the dashboard (%s/dashboard), never over MCP. Invite "
                            "people to this key with collaborators_invite.",
                            ctx->cfg->public_url);
    *result = json_pack("{s:s, s:o, s:s}", "endpoint_id", ep, "key", k, "secrets", where);
    free(where);
    return TM_OK;
}

/* ---- collaborators_update_permissions ----------------------------------- */

static const char SQL_UPDATE_PERMS[] =
    "UPDATE collaboration_keys SET can_create = COALESCE($4::boolean, can_create), "
    "can_read = COALESCE($5::boolean, can_read), can_update = COALESCE($6::boolean, can_update), "
    "can_delete = COALESCE($7::boolean, can_delete), updated_at = now() "
    "WHERE account_id = $1::uuid AND endpoint_id = $2::uuid AND id = $3::uuid";

enum tm_error tool_collaborators_update_permissions(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    char ep[40];
    if (resolve(ctx, args, ep, NULL, 0) != TM_OK)
        return ctx->code;
    const char *kid = json_string_value(json_object_get(args, "key_id"));
    if (!kid || !is_uuid(kid))
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such collaboration key on this endpoint; "
                                                     "collaborators_list_keys shows them");
    const json_t *perms = json_object_get(args, "permissions");
    static const char *const bits[] = {"create", "read", "update", "delete"};
    const char *v[4];
    int given = 0;
    for (int i = 0; i < 4; i++) {
        const json_t *b = json_object_get(perms, bits[i]);
        v[i] = json_is_boolean(b) ? (json_is_true(b) ? "t" : "f") : NULL;
        given += v[i] != NULL;
    }
    if (!given)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "permissions needs at least one of create, read, update, delete (true or false)");
    const char *p[7] = {ctx->who->account_id, ep, kid, v[0], v[1], v[2], v[3]};
    PGresult *res = tool_query(ctx, SQL_UPDATE_PERMS, 7, p);
    if (!res)
        return ctx->code;
    bool found = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (!found)
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such collaboration key on this endpoint; "
                                                     "collaborators_list_keys shows them");
    if (query_keys(ctx, ep, kid, &res) != TM_OK)
        return ctx->code;
    json_t *k = key_json(res, 0);
    PQclear(res);
    *result = json_pack("{s:s, s:o}", "endpoint_id", ep, "key", k);
    return TM_OK;
}

/* ---- collaborators_list_invitations ------------------------------------- */

static const char SQL_LIST_INVITES[] =
    "SELECT i.id::text, i.email, c.id::text, c.name, "
    "CASE WHEN i.status = 'pending' AND i.expires_at <= now() THEN 'expired' ELSE i.status END, "
    TS("i.created_at") ", " TS("i.expires_at") ", " TS("i.accepted_at") " "
    "FROM invitations i JOIN collaboration_keys c ON c.id = i.collaboration_key_id "
    "WHERE i.account_id = $1::uuid AND c.endpoint_id = $2::uuid AND ($3::uuid IS NULL OR c.id = $3::uuid) "
    "AND ($4::text IS NULL OR (CASE WHEN i.status = 'pending' AND i.expires_at <= now() THEN 'expired' "
    "     ELSE i.status END) = $4) "
    "ORDER BY i.created_at DESC, i.id LIMIT 200";

static json_t *invitation_json(const PGresult *res, int i)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:o}", "id", PQgetvalue(res, i, 0), "email",
                     PQgetvalue(res, i, 1), "key", "id", PQgetvalue(res, i, 2), "name", PQgetvalue(res, i, 3),
                     "status", PQgetvalue(res, i, 4), "invited_at", PQgetvalue(res, i, 5), "expires_at",
                     PQgetvalue(res, i, 6), "accepted_at",
                     PQgetisnull(res, i, 7) ? json_null() : json_string(PQgetvalue(res, i, 7)));
}

enum tm_error tool_collaborators_list_invitations(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    char ep[40];
    if (resolve(ctx, args, ep, NULL, 0) != TM_OK)
        return ctx->code;
    const char *kid = json_string_value(json_object_get(args, "key_id"));
    const char *status = json_string_value(json_object_get(args, "status"));
    if (kid && !is_uuid(kid))
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such collaboration key on this endpoint");
    if (status && !strcmp(status, "all"))
        status = NULL;
    const char *p[4] = {ctx->who->account_id, ep, kid, status};
    PGresult *res = tool_query(ctx, SQL_LIST_INVITES, 4, p);
    if (!res)
        return ctx->code;
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(items, invitation_json(res, i));
    PQclear(res);
    *result = json_pack("{s:s, s:o}", "endpoint_id", ep, "items", items);
    return TM_OK;
}

/* ---- collaborators_invite ----------------------------------------------- */

bool collab_email_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 3 || n > 254)
        return false;
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@'))
        return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || strchr("\"(),:;<>[\\]", *c))
            return false;
    const char *dom = at + 1;
    const char *dot = strrchr(dom, '.');
    return *dom && dom[0] != '.' && dot && dot[1] && !strstr(dom, "..") && (size_t)(at - s) <= 64;
}

static const char SQL_SELF_EMAIL[] = "SELECT lower(account_email($1::uuid)) = lower($2)";
static const char SQL_KEY_CHOICES[] =
    "SELECT id::text, name FROM collaboration_keys WHERE account_id = $1::uuid AND endpoint_id = $2::uuid "
    "AND ($3::uuid IS NULL OR id = $3::uuid) ORDER BY created_at, id";
static const char SQL_EXPIRE_OLD[] =
    "UPDATE invitations SET status = 'expired' WHERE account_id = $1::uuid AND collaboration_key_id = $2::uuid "
    "AND lower(email) = lower($3) AND status = 'pending' AND expires_at <= now()";
static const char SQL_PENDING[] =
    "SELECT id::text, email, " TS("expires_at") " FROM invitations WHERE account_id = $1::uuid "
    "AND collaboration_key_id = $2::uuid AND lower(email) = lower($3) AND status = 'pending'";
/* The lock serialises concurrent invitations of one account, so the count is exact. */
static const char SQL_LOCK_ACCOUNT[] = "SELECT pg_advisory_xact_lock(hashtext('invitations:' || $1))";
static const char SQL_COUNT_DAY[] =
    "SELECT count(*) FROM invitations WHERE account_id = $1::uuid AND created_at > now() - interval '1 day'";
static const char SQL_INSERT_INVITE[] =
    "INSERT INTO invitations (account_id, collaboration_key_id, email, token_hash, invited_by) "
    "VALUES ($1::uuid, $2::uuid, $3, $4::bytea, $1::uuid) RETURNING id::text, " TS("expires_at");
static const char SQL_QUEUE_MAIL[] =
    "INSERT INTO notifications (account_id, endpoint_id, kind, subject, body, recipient) "
    "VALUES ($1::uuid, $2::uuid, 'invitation', $3, $4, $5)";

/* A line of user text for the e-mail body: controls other than tab become spaces. */
static char *mail_text(const char *s, size_t max)
{
    char *t = xstrndup(s, max);
    for (char *c = t; *c; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t')
            *c = ' ';
    return t;
}

static json_t *invite_answer(const char *id, const char *email, const char *expires, const char *kid,
                             const char *kname, bool existing)
{
    return json_pack("{s:{s:s, s:s, s:s, s:s, s:{s:s, s:s}}, s:b}", "invitation", "id", id, "email", email, "status",
                     "pending", "expires_at", expires, "key", "id", kid, "name", kname, "already_pending",
                     existing);
}

enum tm_error tool_collaborators_invite(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    char ep[40], ep_name[80];
    if (resolve(ctx, args, ep, ep_name, sizeof ep_name) != TM_OK)
        return ctx->code;
    const char *email = json_string_value(json_object_get(args, "email"));
    const char *kid_arg = json_string_value(json_object_get(args, "key_id"));
    const char *message = json_string_value(json_object_get(args, "message"));
    if (!collab_email_valid(email))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "\"%.100s\" is not a valid e-mail address; give one like chris@example.com",
                         email ? email : "");
    const char *ps[2] = {ctx->who->account_id, email};
    PGresult *res = tool_query(ctx, SQL_SELF_EMAIL, 2, ps);
    if (!res)
        return ctx->code;
    bool self = pg_bool(res, 0, 0);
    PQclear(res);
    if (self)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "%.100s is this account's own address; you cannot invite yourself", email);

    /* Which key: the one named, else the endpoint's only key. */
    if (kid_arg && !is_uuid(kid_arg))
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such collaboration key on this endpoint; "
                                                     "collaborators_list_keys shows them");
    const char *pk[3] = {ctx->who->account_id, ep, kid_arg};
    if (!(res = tool_query(ctx, SQL_KEY_CHOICES, 3, pk)))
        return ctx->code;
    int nkeys = PQntuples(res);
    if (kid_arg && nkeys == 0) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such collaboration key on this endpoint; "
                                                     "collaborators_list_keys shows them");
    }
    if (nkeys == 0) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_PRECONDITION_FAILED,
                         json_pack("{s:s}", "hint", "create a key with collaborators_create_key first"),
                         "this endpoint has no collaboration key yet; create one with collaborators_create_key, "
                         "then invite");
    }
    if (nkeys > 1) {
        json_t *keys = json_array();
        char names[420] = "";
        size_t used = 0;
        for (int i = 0; i < nkeys; i++) {
            json_array_append_new(keys, json_pack("{s:s, s:s}", "id", PQgetvalue(res, i, 0), "name",
                                                  PQgetvalue(res, i, 1)));
            if (used < sizeof names)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s\"%.64s\" (%s)", i ? ", " : "",
                                         PQgetvalue(res, i, 1), PQgetvalue(res, i, 0));
        }
        PQclear(res);
        tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, json_pack("{s:o}", "keys", keys),
                  "this endpoint has %d collaboration keys; give key_id, one of: %.400s", nkeys, names);
        return ctx->code;
    }
    char kid[40], kname[80];
    snprintf(kid, sizeof kid, "%s", PQgetvalue(res, 0, 0));
    snprintf(kname, sizeof kname, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);

    /* Re-inviting a pending address answers with that invitation. */
    const char *pe[3] = {ctx->who->account_id, kid, email};
    if (!(res = tool_query(ctx, SQL_EXPIRE_OLD, 3, pe)))
        return ctx->code;
    PQclear(res);
    if (!(res = tool_query(ctx, SQL_PENDING, 3, pe)))
        return ctx->code;
    if (PQntuples(res) == 1) {
        *result = invite_answer(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), kid, kname,
                                true);
        PQclear(res);
        return TM_OK;
    }
    PQclear(res);

    const char *pa[1] = {ctx->who->account_id};
    if (!(res = tool_query(ctx, SQL_LOCK_ACCOUNT, 1, pa)))
        return ctx->code;
    PQclear(res);
    if (!(res = tool_query(ctx, SQL_COUNT_DAY, 1, pa)))
        return ctx->code;
    long long today = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (today >= INVITES_PER_DAY)
        return tool_fail(ctx, TM_ERR_RATE_LIMITED, json_pack("{s:i}", "limit", INVITES_PER_DAY),
                         "this account has sent %d invitations in the last 24 hours, the most allowed; try again "
                         "later",
                         INVITES_PER_DAY);

    char hp[AUTH_HASH_PARAM_LEN];
    char *token = auth_secret_new(hp);
    const char *pi[4] = {ctx->who->account_id, kid, email, hp};
    if (!(res = tool_query(ctx, SQL_INSERT_INVITE, 4, pi))) {
        secret_free(token);
        return ctx->code;
    }
    char inv_id[40], expires[40];
    snprintf(inv_id, sizeof inv_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(expires, sizeof expires, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);

    /* The e-mail: who invites, to what, with which rights, and the link. */
    if (!(res = tool_query(ctx, "SELECT account_email($1::uuid)", 1, pa))) {
        secret_free(token);
        return ctx->code;
    }
    char *inviter = mail_text(PQgetvalue(res, 0, 0), 254);
    PQclear(res);
    char *epn = mail_text(ep_name, 80), *kn = mail_text(kname, 80);
    char *msg = message && *message ? mail_text(message, 1000) : NULL;
    char *body = xasprintf("%s invited you to collaborate on the 3Min API endpoint \"%s\" with the collaboration "
                           "key \"%s\".\n\n%s%s%s"
                           "Accept the invitation (sign in with %s; the link works once and expires on %s):\n"
                           "%s/invitations/accept?token=%s\n",
                           inviter, epn, kn, msg ? "Their message:\n" : "", msg ? msg : "", msg ? "\n\n" : "",
                           email, expires, ctx->cfg->public_url, token);
    const char *pm[5] = {ctx->who->account_id, ep, "You are invited to collaborate on a 3Min API endpoint", body,
                         email};
    res = tool_query(ctx, SQL_QUEUE_MAIL, 5, pm);
    sodium_memzero(body, strlen(body));
    sodium_memzero(token, strlen(token));
    free(body);
    free(token);
    free(inviter);
    free(epn);
    free(kn);
    free(msg);
    if (!res)
        return ctx->code;
    PQclear(res);
    *result = invite_answer(inv_id, email, expires, kid, kname, false);
    return TM_OK;
}

/* ---- web.accept_invitation ---------------------------------------------- */

static const char SQL_ACCEPT[] = "SELECT outcome, endpoint_name, key_name FROM accept_invitation($1::bytea, $2::uuid, $3)";

enum tm_error auth_web_accept_invitation(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *session = json_string_value(json_object_get(args, "session"));
    const char *token = json_string_value(json_object_get(args, "token"));
    char account_id[37];
    char *email = NULL, *csrf = NULL;
    if (auth_web_session_lookup(ctx, session, account_id, &email, &csrf) != TM_OK)
        return ctx->code;
    free(csrf);
    char hp[AUTH_HASH_PARAM_LEN];
    if (!auth_secret_param(token, hp)) {
        free(email);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this invitation link is not valid");
    }
    const char *p[3] = {hp, account_id, email};
    PGresult *res = tool_query(ctx, SQL_ACCEPT, 3, p);
    free(email);
    if (!res)
        return ctx->code;
    const char *outcome = PQntuples(res) ? PQgetvalue(res, 0, 0) : "not_found";
    enum tm_error code = TM_OK;
    if (!strcmp(outcome, "accepted"))
        *result = json_pack("{s:s, s:s, s:s}", "outcome", "accepted", "endpoint", PQgetvalue(res, 0, 1), "key",
                            PQgetvalue(res, 0, 2));
    else if (!strcmp(outcome, "used"))
        code = tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this invitation has already been accepted");
    else if (!strcmp(outcome, "expired"))
        code = tool_fail(ctx, TM_ERR_PRECONDITION_FAILED, NULL,
                         "this invitation has expired; ask for a new one");
    else if (!strcmp(outcome, "wrong_account"))
        code = tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL,
                         "this invitation was sent to another address; sign in with the invited address");
    else
        code = tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this invitation link is not valid");
    PQclear(res);
    return code;
}
