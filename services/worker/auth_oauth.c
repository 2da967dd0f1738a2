/*
 * auth_oauth — clients, codes, grants and refresh tokens (auth_oauth.h,
 * docs/OAUTH.md). Every rule the edge checks is checked here again before
 * anything is stored or issued; the edge may be wrong, the database is what
 * a token is worth.
 *
 * Choices:
 * - Registration is limited to 20 per minute per client address, counted in
 *   oauth_clients itself under an advisory lock per address, so the limit
 *   holds across edges and concurrent requests. Each registration also
 *   prunes (at most 100) registrations never authorized within 24 hours.
 * - A grant is (account, client) with the union of the scopes ever approved;
 *   each code and refresh token carries the scopes of its own approval, which
 *   is what the access token gets.
 * - Refresh tokens rotate on every use. Presenting a rotated token again
 *   within 60 s of its first rotation (Claude refreshes from several
 *   machines at once) issues another successor in the same family rather
 *   than the same one: only hashes are stored, so the first successor cannot
 *   be returned again, and both successors stay valid. Later reuse revokes
 *   the family and its grant (so access tokens stop through the edge's
 *   revocation list).
 * - A reused code revokes the grant and all its refresh tokens. A wrong PKCE
 *   verifier spends the code. The same request delivered twice (nng REQ
 *   resends after a lost answer) is recognised by its request id and is not
 *   reuse.
 * - oauth.revocations returns grants revoked since since_ms with now_ms set
 *   10 s in the past: a revocation is stamped with its transaction's start
 *   and may commit after a poll, so consecutive polls overlap (ids repeat;
 *   the edge's list is a set).
 */
#include "services/worker/auth_oauth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/oauth_rules.h"
#include "services/worker/tool_util.h"

#define SECRET_MAX 100
#define CLIENT_ID_MAX 2000
#define CLIENT_NAME_MAX 100
#define RESOURCE_MAX 2000
#define METADATA_MAX 16384
#define REGISTRATIONS_PER_MINUTE 20
#define REVOCATIONS_MAX 5000

/* ---- shared helpers ------------------------------------------------------ */

static void hash_param(const void *data, size_t n, char out[AUTH_HASH_PARAM_LEN])
{
    uint8_t h[32];
    sha256(data, n, h);
    out[0] = '\\';
    out[1] = 'x';
    hex_encode(h, sizeof h, out + 2);
}

char *auth_secret_new(char hp[AUTH_HASH_PARAM_LEN])
{
    uint8_t raw[32];
    random_bytes(raw, sizeof raw);
    char *s = b64url_encode(raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    hash_param(s, strlen(s), hp);
    return s;
}

bool auth_secret_param(const char *secret, char hp[AUTH_HASH_PARAM_LEN])
{
    if (!secret || !secret[0] || strnlen(secret, SECRET_MAX + 1) > SECRET_MAX)
        return false;
    hash_param(secret, strlen(secret), hp);
    return true;
}

enum tm_error auth_tx_begin(struct tool_ctx *ctx)
{
    if (!db_exec(ctx->db, "BEGIN"))
        return tool_db_fail(ctx, NULL);
    return TM_OK;
}

enum tm_error auth_tx_end(struct tool_ctx *ctx, enum tm_error code, bool commit)
{
    if (db_broken(ctx->db))
        return code == TM_OK ? tool_fail(ctx, TM_ERR_UNAVAILABLE, NULL, "database unavailable, retry") : code;
    if (commit && PQtransactionStatus(db_conn(ctx->db)) == PQTRANS_INTRANS) {
        if (!db_exec(ctx->db, "COMMIT")) {
            db_exec(ctx->db, "ROLLBACK");
            return tool_db_fail(ctx, NULL);
        }
        return code;
    }
    db_exec(ctx->db, "ROLLBACK");
    if (commit && code == TM_OK)   /* a statement failed but the handler did not notice */
        return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    return code;
}

/* An error the edge renders as an OAuth error response. */
static enum tm_error oauth_fail(struct tool_ctx *ctx, enum tm_error code, const char *oauth_error,
                                const char *message)
{
    return tool_fail(ctx, code, json_pack("{s:s}", "oauth_error", oauth_error), "%s", message);
}

static enum tm_error invalid_grant(struct tool_ctx *ctx, const char *message)
{
    return oauth_fail(ctx, TM_ERR_INVALID_ARGUMENT, "invalid_grant", message);
}

static enum tm_error invalid_client(struct tool_ctx *ctx)
{
    return oauth_fail(ctx, TM_ERR_PERMISSION_DENIED, "invalid_client", "client authentication failed");
}

/* Runs a statement whose rows are not needed (tool_query: NULL with the
 * failure recorded). */
static bool q1(struct tool_ctx *ctx, const char *sql, int n, const char *const *p)
{
    PGresult *res = tool_query(ctx, sql, n, p);
    PQclear(res);
    return res != NULL;
}

static const char *str_arg(const json_t *args, const char *key)
{
    return json_string_value(json_object_get(args, key));
}

/* Canonical scope text ("read write") of bits. */
static void scope_text(uint32_t bits, char *out, size_t cap)
{
    scopes_format(bits, out, cap);
}

/* ---- clients ------------------------------------------------------------- */

static const char SQL_CLIENT_GET[] =
    "SELECT client_id, client_name, array_to_json(redirect_uris)::text, token_endpoint_auth_method, scope, "
    "reg_type, encode(secret_hash, 'hex'), array_to_json(grant_types)::text FROM oauth_clients "
    "WHERE client_id = $1";

struct client {
    PGresult *res;   /* row 0 of SQL_CLIENT_GET */
};

/* Loads a client: TM_OK, TM_ERR_NOT_FOUND (not recorded) or a failure. */
static enum tm_error client_load(struct tool_ctx *ctx, const char *client_id, struct client *c)
{
    c->res = NULL;
    if (!client_id || !client_id[0] || strnlen(client_id, CLIENT_ID_MAX + 1) > CLIENT_ID_MAX)
        return TM_ERR_NOT_FOUND;
    const char *p[1] = {client_id};
    PGresult *res = tool_query(ctx, SQL_CLIENT_GET, 1, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return TM_ERR_NOT_FOUND;
    }
    c->res = res;
    return TM_OK;
}

/* Whether the client row of SQL_CLIENT_GET accepts how args authenticate. */
static bool client_credentials_match(const PGresult *res, const json_t *args)
{
    /* A client authenticates the way it registered: a secret sent in the body
     * by a client_secret_basic client (or the reverse) is refused. */
    const char *method = str_arg(args, "auth_method");
    if (method && strcmp(method, PQgetvalue(res, 0, 3)) != 0)
        return false;
    if (PQgetisnull(res, 0, 6))
        return true;   /* public client: PKCE is its proof */
    const char *secret = str_arg(args, "client_secret");
    char hp[AUTH_HASH_PARAM_LEN];
    const char *stored = PQgetvalue(res, 0, 6);
    return auth_secret_param(secret, hp) && ct_equal(hp + 2, 64, stored, strlen(stored));
}

/* Client authentication at the token and revocation endpoints: a client with
 * a secret must present it (compared as SHA-256 in constant time). */
static enum tm_error client_authenticate(struct tool_ctx *ctx, const json_t *args)
{
    struct client c;
    enum tm_error code = client_load(ctx, str_arg(args, "client_id"), &c);
    if (code == TM_ERR_NOT_FOUND)
        return invalid_client(ctx);
    if (code != TM_OK)
        return code;
    bool ok = client_credentials_match(c.res, args);
    PQclear(c.res);
    return ok ? TM_OK : invalid_client(ctx);
}

static json_t *json_parse_text(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    return v ? v : json_array();
}

enum tm_error auth_oauth_get_client(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    struct client c;
    enum tm_error code = client_load(ctx, str_arg(args, "client_id"), &c);
    if (code == TM_ERR_NOT_FOUND)
        return oauth_fail(ctx, TM_ERR_NOT_FOUND, "invalid_client", "unknown client");
    if (code != TM_OK)
        return code;
    PGresult *r = c.res;
    *result = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:o}", "client_id", PQgetvalue(r, 0, 0), "client_name",
                        PQgetvalue(r, 0, 1), "redirect_uris", json_parse_text(PQgetvalue(r, 0, 2)),
                        "token_endpoint_auth_method", PQgetvalue(r, 0, 3), "scope", PQgetvalue(r, 0, 4),
                        "reg_type", PQgetvalue(r, 0, 5), "grant_types", json_parse_text(PQgetvalue(r, 0, 7)));
    PQclear(r);
    return TM_OK;
}

/* ---- registration -------------------------------------------------------- */

static const char SQL_REG_LOCK[] = "SELECT pg_advisory_xact_lock(hashtext('oauth_register:' || $1))";
static const char SQL_REG_COUNT[] =
    "SELECT count(*) FROM oauth_clients WHERE registered_ip = $1 AND created_at > now() - interval '1 minute'";
static const char SQL_REG_PRUNE[] =
    "DELETE FROM oauth_clients WHERE client_id IN (SELECT client_id FROM oauth_clients "
    "WHERE last_authorized_at IS NULL AND created_at < now() - interval '24 hours' LIMIT 100)";
#define REG_COLUMNS                                                                                    \
    "(client_id, secret_hash, client_name, redirect_uris, token_endpoint_auth_method, grant_types, "   \
    "response_types, scope, reg_type, metadata, registered_ip) VALUES ($1, $2::bytea, $3, "            \
    "ARRAY(SELECT json_array_elements_text($4::json)), $5, ARRAY(SELECT json_array_elements_text($6::json)), " \
    "ARRAY(SELECT json_array_elements_text($7::json)), $8, $9, $10::jsonb, $11) "
static const char SQL_REG_INSERT[] =
    "INSERT INTO oauth_clients " REG_COLUMNS "RETURNING extract(epoch FROM created_at)::bigint";
/* A metadata document is fetched again when its cache expires: same row. */
static const char SQL_REG_UPSERT_CIMD[] =
    "INSERT INTO oauth_clients " REG_COLUMNS
    "ON CONFLICT (client_id) DO UPDATE SET client_name = EXCLUDED.client_name, "
    "redirect_uris = EXCLUDED.redirect_uris, token_endpoint_auth_method = EXCLUDED.token_endpoint_auth_method, "
    "grant_types = EXCLUDED.grant_types, response_types = EXCLUDED.response_types, scope = EXCLUDED.scope, "
    "metadata = EXCLUDED.metadata WHERE oauth_clients.reg_type = 'cimd' "
    "RETURNING extract(epoch FROM created_at)::bigint";

static enum tm_error bad_metadata(struct tool_ctx *ctx, const char *oauth_error, const char *message)
{
    return oauth_fail(ctx, TM_ERR_INVALID_ARGUMENT, oauth_error, message);
}

/* An array of distinct strings, each from allowed[]; absent means def. */
static bool string_set(const json_t *v, const char *const *allowed, size_t n_allowed, const char *def,
                       json_t **out)
{
    if (!v) {
        *out = json_pack("[s]", def);
        return true;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > n_allowed)
        return false;
    json_t *res = json_array();
    for (size_t k = 0; k < n_allowed; k++) {
        size_t i;
        json_t *e;
        size_t seen = 0;
        json_array_foreach(v, i, e) {
            if (!json_is_string(e))
                goto bad;
            if (!strcmp(json_string_value(e), allowed[k]))
                seen++;
        }
        if (seen > 1)
            goto bad;
        if (seen)
            json_array_append_new(res, json_string(allowed[k]));
    }
    if (json_array_size(res) != json_array_size(v))
        goto bad;   /* something outside allowed[] */
    *out = res;
    return true;
bad:
    json_decref(res);
    return false;
}

enum tm_error auth_oauth_register_client(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const json_t *md = json_object_get(args, "metadata");
    const char *ip = str_arg(args, "ip");
    const char *reg_type = str_arg(args, "reg_type");
    if (!reg_type)
        reg_type = "dcr";
    bool cimd = !strcmp(reg_type, "cimd");
    if (!json_is_object(md))
        return bad_metadata(ctx, "invalid_client_metadata", "client metadata must be a JSON object");
    if ((!cimd && strcmp(reg_type, "dcr")) || (ip && strlen(ip) > 64))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "bad reg_type or ip");

    /* redirect_uris: 1..10, each https or loopback http, no fragment. */
    const json_t *uris = json_object_get(md, "redirect_uris");
    if (!json_is_array(uris) || json_array_size(uris) < 1 || json_array_size(uris) > 10)
        return bad_metadata(ctx, "invalid_redirect_uri", "redirect_uris must list 1 to 10 URIs");
    size_t i;
    const json_t *u;
    json_array_foreach(uris, i, u) {
        char why[160];
        if (!json_is_string(u))
            return bad_metadata(ctx, "invalid_redirect_uri", "redirect_uris must be strings");
        if (!oauth_redirect_uri_valid_for_registration(json_string_value(u), ctx->cfg->oauth_redirect_origins, why,
                                                       sizeof why))
            return bad_metadata(ctx, "invalid_redirect_uri", why);
    }

    const json_t *name_v = json_object_get(md, "client_name");
    if (name_v && !json_is_string(name_v))
        return bad_metadata(ctx, "invalid_client_metadata", "client_name must be a string");
    const char *client_name = name_v ? json_string_value(name_v) : "";
    if (strlen(client_name) > CLIENT_NAME_MAX)
        return bad_metadata(ctx, "invalid_client_metadata", "client_name is longer than 100 characters");

    /* RFC 7591 §2: token_endpoint_auth_method defaults to client_secret_basic. */
    const json_t *method_v = json_object_get(md, "token_endpoint_auth_method");
    const char *method = method_v ? json_string_value(method_v) : "client_secret_basic";
    if (!method || (strcmp(method, "none") && strcmp(method, "client_secret_post") &&
                    strcmp(method, "client_secret_basic")))
        return bad_metadata(ctx, "invalid_client_metadata",
                            "token_endpoint_auth_method must be none, client_secret_post or client_secret_basic");
    bool confidential = strcmp(method, "none") != 0;

    const char *client_id_in = NULL;
    if (cimd) {
        /* The edge fetched and validated the document; its URL is the id. */
        client_id_in = json_string_value(json_object_get(md, "client_id"));
        if (!client_id_in || strncmp(client_id_in, "https://", 8) || strlen(client_id_in) > CLIENT_ID_MAX)
            return bad_metadata(ctx, "invalid_client_metadata", "a metadata document's client_id must be its https URL");
        if (confidential)
            return bad_metadata(ctx, "invalid_client_metadata",
                                "a metadata document client must use token_endpoint_auth_method none");
    }

    static const char *const grant_allowed[] = {"authorization_code", "refresh_token"};
    static const char *const response_allowed[] = {"code"};
    json_t *grants = NULL, *responses = NULL;
    if (!string_set(json_object_get(md, "grant_types"), grant_allowed, 2, "authorization_code", &grants))
        return bad_metadata(ctx, "invalid_client_metadata",
                            "grant_types may contain only authorization_code and refresh_token");
    if (!string_set(json_object_get(md, "response_types"), response_allowed, 1, "code", &responses)) {
        json_decref(grants);
        return bad_metadata(ctx, "invalid_client_metadata", "response_types may contain only code");
    }

    /* scope: the known scopes it names (RFC 7591 lets the server replace the
     * value, and returns what it registered); none known means all. */
    uint32_t bits = 0;
    const char *scope_in = json_string_value(json_object_get(md, "scope"));
    if (scope_in && strlen(scope_in) <= 1000) {
        char *copy = xstrdup(scope_in);
        for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            uint32_t b;
            if (oauth_scope_parse(w, &b) == 0)
                bits |= b;
        }
        free(copy);
    }
    if (!bits)
        bits = SCOPE_ALL;
    char scope[64];
    scope_text(bits, scope, sizeof scope);

    /* What is stored and returned: the metadata with our values in place. */
    json_t *out = json_deep_copy(md);
    json_object_del(out, "client_secret");
    json_object_del(out, "client_secret_expires_at");
    json_object_del(out, "client_id_issued_at");
    json_object_set_new(out, "redirect_uris", json_deep_copy(uris));
    json_object_set_new(out, "token_endpoint_auth_method", json_string(method));
    json_object_set_new(out, "grant_types", grants);
    json_object_set_new(out, "response_types", responses);
    json_object_set_new(out, "scope", json_string(scope));
    if (name_v)
        json_object_set_new(out, "client_name", json_string(client_name));

    char *client_id = NULL;
    if (cimd) {
        client_id = xstrdup(client_id_in);
    } else {
        json_object_del(out, "client_id");
        uint8_t raw[16];
        random_bytes(raw, sizeof raw);
        char *b = b64url_encode(raw, sizeof raw);
        client_id = xasprintf("tmc_%s", b);
        free(b);
    }
    char *md_text = json_dumps(out, JSON_COMPACT);
    char *uris_text = json_dumps(uris, JSON_COMPACT);
    char *grants_text = json_dumps(json_object_get(out, "grant_types"), JSON_COMPACT);
    char *resp_text = json_dumps(json_object_get(out, "response_types"), JSON_COMPACT);
    char *secret = NULL;
    char hp[AUTH_HASH_PARAM_LEN];
    if (confidential)
        secret = auth_secret_new(hp);

    enum tm_error code = TM_OK;
    bool in_tx = false;
    if (strlen(md_text) > METADATA_MAX) {
        code = bad_metadata(ctx, "invalid_client_metadata", "client metadata is too large");
        goto out;
    }
    if ((code = auth_tx_begin(ctx)) != TM_OK)
        goto out;
    in_tx = true;
    const char *ipp[1] = {ip ? ip : ""};
    if (!cimd && ip) {
        if (!q1(ctx, SQL_REG_LOCK, 1, ipp)) {
            code = ctx->code;
            goto out;
        }
        PGresult *res = tool_query(ctx, SQL_REG_COUNT, 1, ipp);
        if (!res) {
            code = ctx->code;
            goto out;
        }
        long n = atol(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (n >= REGISTRATIONS_PER_MINUTE) {
            code = tool_fail(ctx, TM_ERR_RATE_LIMITED, json_pack("{s:i}", "retry_after_s", 60),
                             "too many client registrations from this address: at most %d per minute",
                             REGISTRATIONS_PER_MINUTE);
            goto out;
        }
    }
    if (!q1(ctx, SQL_REG_PRUNE, 0, NULL)) {
        code = ctx->code;
        goto out;
    }
    const char *p[11] = {client_id, confidential ? hp : NULL, client_name, uris_text, method, grants_text,
                         resp_text, scope, reg_type, md_text, ip};
    PGresult *res = tool_query(ctx, cimd ? SQL_REG_UPSERT_CIMD : SQL_REG_INSERT, 11, p);
    if (!res) {
        code = ctx->code;
        goto out;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        code = bad_metadata(ctx, "invalid_client_metadata", "this client_id is already registered otherwise");
        goto out;
    }
    long long issued = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    json_object_set_new(out, "client_id", json_string(client_id));
    json_object_set_new(out, "client_id_issued_at", json_integer(issued));
    if (secret) {
        json_object_set_new(out, "client_secret", json_string(secret));
        json_object_set_new(out, "client_secret_expires_at", json_integer(0));
    }
    json_object_set_new(out, "reg_type", json_string(reg_type));
    code = TM_OK;
    *result = out;
    out = NULL;
out:
    if (in_tx)
        code = auth_tx_end(ctx, code, code == TM_OK);
    if (code != TM_OK && *result) {
        json_decref(*result);
        *result = NULL;
    }
    secret_free(secret);
    json_decref(out);
    free(client_id);
    free(md_text);
    free(uris_text);
    free(grants_text);
    free(resp_text);
    return code;
}

/* ---- codes --------------------------------------------------------------- */

static const char SQL_GRANT_UPSERT[] =
    "INSERT INTO oauth_grants (account_id, client_id, scope) VALUES ($1::uuid, $2, $3) "
    "ON CONFLICT (account_id, client_id) WHERE revoked_at IS NULL DO UPDATE SET scope = ("
    "  SELECT string_agg(s, ' ' ORDER BY array_position(ARRAY['read','write','execute'], s)) FROM ("
    "    SELECT DISTINCT unnest(string_to_array(oauth_grants.scope || ' ' || EXCLUDED.scope, ' ')) AS s) x "
    "  WHERE s <> '') "
    "RETURNING id::text";
static const char SQL_CODE_INSERT[] =
    "INSERT INTO oauth_codes (code_hash, grant_id, account_id, client_id, redirect_uri, code_challenge, "
    "resource, scope) VALUES ($1::bytea, $2::uuid, $3::uuid, $4, $5, $6, $7, $8)";
static const char SQL_CLIENT_AUTHORIZED[] =
    "UPDATE oauth_clients SET last_authorized_at = now() WHERE client_id = $1";
/* Spent and expired codes go after a day (reuse of an old code is still
 * detected until then). */
static const char SQL_CODE_PRUNE[] =
    "DELETE FROM oauth_codes WHERE code_hash IN (SELECT code_hash FROM oauth_codes "
    "WHERE expires_at < now() - interval '1 day' LIMIT 100)";

enum tm_error auth_oauth_create_code(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *client_id = str_arg(args, "client_id");
    const char *redirect_uri = str_arg(args, "redirect_uri");
    const char *challenge = str_arg(args, "code_challenge");
    const json_t *resource_v = json_object_get(args, "resource");
    const char *resource = json_string_value(resource_v);
    const char *scope_in = str_arg(args, "scope");

    char account_id[37];
    enum tm_error code = auth_web_session_lookup(ctx, str_arg(args, "session"), account_id, NULL, NULL);
    if (code != TM_OK)
        return code;

    struct client c;
    code = client_load(ctx, client_id, &c);
    if (code == TM_ERR_NOT_FOUND)
        return oauth_fail(ctx, TM_ERR_NOT_FOUND, "invalid_client", "unknown client");
    if (code != TM_OK)
        return code;
    json_t *registered = json_parse_text(PQgetvalue(c.res, 0, 2));
    PQclear(c.res);
    bool allowed = false;
    size_t i;
    json_t *u;
    json_array_foreach(registered, i, u)
        if (oauth_redirect_allowed(json_string_value(u), redirect_uri))
            allowed = true;
    json_decref(registered);
    if (!allowed)
        return oauth_fail(ctx, TM_ERR_INVALID_ARGUMENT, "invalid_request",
                          "redirect_uri is not registered for this client");
    if (!oauth_pkce_challenge_valid(challenge))
        return oauth_fail(ctx, TM_ERR_INVALID_ARGUMENT, "invalid_request",
                          "code_challenge must be an S256 challenge (43 base64url characters)");
    if ((resource_v && !json_is_null(resource_v) && !resource) || (resource && strlen(resource) > RESOURCE_MAX))
        return oauth_fail(ctx, TM_ERR_INVALID_ARGUMENT, "invalid_target", "bad resource");
    uint32_t bits = 0;
    if (!scope_in || oauth_scope_parse(scope_in, &bits) != 0 || !bits)
        return oauth_fail(ctx, TM_ERR_INVALID_ARGUMENT, "invalid_scope",
                          "scope must name at least one of read, write, execute");
    char scope[64];
    scope_text(bits, scope, sizeof scope);

    if ((code = auth_tx_begin(ctx)) != TM_OK)
        return code;
    const char *gp[3] = {account_id, client_id, scope};
    PGresult *res = tool_query(ctx, SQL_GRANT_UPSERT, 3, gp);
    if (!res)
        return auth_tx_end(ctx, ctx->code, false);
    char grant_id[37];
    snprintf(grant_id, sizeof grant_id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    char hp[AUTH_HASH_PARAM_LEN];
    char *codestr = auth_secret_new(hp);
    const char *cp[8] = {hp, grant_id, account_id, client_id, redirect_uri, challenge, resource, scope};
    const char *ap[1] = {client_id};
    if (!q1(ctx, SQL_CODE_INSERT, 8, cp) || !q1(ctx, SQL_CLIENT_AUTHORIZED, 1, ap) ||
        !q1(ctx, SQL_CODE_PRUNE, 0, NULL)) {
        free(codestr);
        return auth_tx_end(ctx, ctx->code, false);
    }
    code = auth_tx_end(ctx, TM_OK, true);
    if (code == TM_OK)
        *result = json_pack("{s:s, s:s, s:s}", "code", codestr, "grant_id", grant_id, "scope", scope);
    secret_free(codestr);
    return code;
}

/* ---- tokens -------------------------------------------------------------- */

static const char SQL_CODE_LOOKUP[] =
    "SELECT c.grant_id::text, c.account_id::text, c.client_id, c.redirect_uri, c.code_challenge, c.resource, "
    "c.scope, c.used_at IS NOT NULL AND c.used_by IS DISTINCT FROM $2::bytea, c.expires_at <= now(), "
    "g.revoked_at IS NOT NULL OR account_email(c.account_id) IS NULL "
    "FROM oauth_codes c JOIN oauth_grants g ON g.id = c.grant_id WHERE c.code_hash = $1::bytea FOR UPDATE OF c";
static const char SQL_CODE_SPEND[] =
    "UPDATE oauth_codes SET used_at = coalesce(used_at, now()), used_by = $2::bytea WHERE code_hash = $1::bytea";
static const char SQL_GRANT_REVOKE[] =
    "UPDATE oauth_grants SET revoked_at = now() WHERE id = $1::uuid AND revoked_at IS NULL";
static const char SQL_GRANT_TOKENS_REVOKE[] =
    "UPDATE oauth_refresh_tokens SET revoked_at = now() WHERE grant_id = $1::uuid AND revoked_at IS NULL";
static const char SQL_GRANT_USED[] = "UPDATE oauth_grants SET last_used_at = now() WHERE id = $1::uuid";
static const char SQL_RT_INSERT[] =
    "INSERT INTO oauth_refresh_tokens (token_hash, family_id, grant_id, account_id, client_id, scope, resource) "
    "VALUES ($1::bytea, coalesce($2::uuid, gen_random_uuid()), $3::uuid, $4::uuid, $5, $6, $7)";
static const char SQL_RT_LOOKUP[] =
    "SELECT t.family_id::text, t.grant_id::text, t.account_id::text, t.client_id, t.scope, t.resource, "
    "t.revoked_at IS NOT NULL OR g.revoked_at IS NOT NULL OR account_email(t.account_id) IS NULL, "
    "t.expires_at <= now(), t.rotated_at IS NOT NULL, t.rotated_at > now() - interval '60 seconds' "
    "FROM oauth_refresh_tokens t JOIN oauth_grants g ON g.id = t.grant_id "
    "WHERE t.token_hash = $1::bytea FOR UPDATE OF t";
/* rotated_at keeps the first rotation: grace-window reuses do not extend the window. */
static const char SQL_RT_ROTATE[] =
    "UPDATE oauth_refresh_tokens SET rotated_at = coalesce(rotated_at, now()), replaced_by_hash = $2::bytea "
    "WHERE token_hash = $1::bytea";
static const char SQL_FAMILY_REVOKE[] =
    "UPDATE oauth_refresh_tokens SET revoked_at = now() WHERE family_id = $1::uuid AND revoked_at IS NULL";
static const char SQL_RT_PRUNE[] =
    "DELETE FROM oauth_refresh_tokens WHERE token_hash IN (SELECT token_hash FROM oauth_refresh_tokens "
    "WHERE expires_at < now() - interval '1 day' LIMIT 100)";

/* Revokes a grant and every refresh token issued under it. */
static bool revoke_grant(struct tool_ctx *ctx, const char *grant_id)
{
    const char *p[1] = {grant_id};
    return q1(ctx, SQL_GRANT_TOKENS_REVOKE, 1, p) && q1(ctx, SQL_GRANT_REVOKE, 1, p);
}

/* Issues a refresh token (family NULL = a new family) and builds the answer. */
static enum tm_error issue(struct tool_ctx *ctx, const char *family, const char *grant_id, const char *account_id,
                           const char *client_id, const char *scope, const char *resource,
                           char hp_out[AUTH_HASH_PARAM_LEN], json_t **result)
{
    char *token = auth_secret_new(hp_out);
    const char *p[7] = {hp_out, family, grant_id, account_id, client_id, scope, resource};
    const char *gp[1] = {grant_id};
    enum tm_error code = TM_OK;
    if (!q1(ctx, SQL_RT_INSERT, 7, p) || !q1(ctx, SQL_GRANT_USED, 1, gp) || !q1(ctx, SQL_RT_PRUNE, 0, NULL)) {
        code = ctx->code;
    } else {
        *result = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "account_id", account_id, "client_id", client_id,
                            "scope", scope, "grant_id", grant_id, "refresh_token", token, "resource", resource);
    }
    secret_free(token);
    return code;
}

/* The row sql finds for a presented code or refresh token (args.<name>): $1 is
 * its hash, also put into hp, and $2 second unless NULL. NULL when it cannot
 * be one of ours or there is no such row (invalid_grant with unknown), or on
 * a failure (recorded). */
static PGresult *presented_row(struct tool_ctx *ctx, const json_t *args, const char *name, const char *sql,
                               const char *second, const char *unknown, char hp[AUTH_HASH_PARAM_LEN])
{
    if (!auth_secret_param(str_arg(args, name), hp)) {
        invalid_grant(ctx, unknown);
        return NULL;
    }
    const char *p[2] = {hp, second};
    PGresult *res = tool_query(ctx, sql, second ? 2 : 1, p);
    if (res && PQntuples(res) != 1) {
        PQclear(res);
        invalid_grant(ctx, unknown);
        return NULL;
    }
    return res;
}

/* The body of redeem_code inside its transaction; *commit says whether its
 * writes stay even on failure. */
static enum tm_error redeem(struct tool_ctx *ctx, const json_t *args, json_t **result, bool *commit)
{
    enum tm_error code = client_authenticate(ctx, args);
    if (code != TM_OK)
        return code;
    const char *client_id = str_arg(args, "client_id");
    const char *redirect_uri = str_arg(args, "redirect_uri");
    const char *verifier = str_arg(args, "code_verifier");

    /* A second delivery of the same request (nng REQ resends) is not reuse:
     * it runs every check again and gets a token of its own. */
    char reqid[2 + 2 * ENV_ID_LEN + 1] = "\\x";
    hex_encode(ctx->request_id, ENV_ID_LEN, reqid + 2);
    char hp[AUTH_HASH_PARAM_LEN];
    PGresult *res = presented_row(ctx, args, "code", SQL_CODE_LOOKUP, reqid, "unknown authorization code", hp);
    if (!res)
        return ctx->code;
    const char *p[2] = {hp, reqid};
    char grant_id[37];
    snprintf(grant_id, sizeof grant_id, "%s", PQgetvalue(res, 0, 0));
    bool used = PQgetvalue(res, 0, 7)[0] == 't';
    bool expired = PQgetvalue(res, 0, 8)[0] == 't';
    bool dead = PQgetvalue(res, 0, 9)[0] == 't';

    if (used) {
        /* RFC 6749 §4.1.2 / MCP.md §5.6: reuse revokes what the code issued. */
        PQclear(res);
        log_warn("authorization code reused: revoking grant %s", grant_id);
        if (!revoke_grant(ctx, grant_id))
            return ctx->code;
        *commit = true;
        return invalid_grant(ctx, "authorization code already used");
    }
    if (strcmp(PQgetvalue(res, 0, 2), client_id)) {
        PQclear(res);
        return invalid_grant(ctx, "authorization code was issued to another client");
    }
    if (expired || dead) {
        PQclear(res);
        return invalid_grant(ctx, expired ? "authorization code expired" : "authorization was revoked");
    }
    if (!redirect_uri || strcmp(PQgetvalue(res, 0, 3), redirect_uri)) {
        PQclear(res);
        return invalid_grant(ctx, "redirect_uri differs from the authorization request");
    }
    /* The code is spent from here on, whatever the verifier says. */
    if (!q1(ctx, SQL_CODE_SPEND, 2, p)) {
        PQclear(res);
        return ctx->code;
    }
    if (!oauth_pkce_matches(verifier, PQgetvalue(res, 0, 4))) {
        PQclear(res);
        *commit = true;
        return invalid_grant(ctx, "code_verifier does not match the code_challenge");
    }
    char hp_new[AUTH_HASH_PARAM_LEN];
    code = issue(ctx, NULL, grant_id, PQgetvalue(res, 0, 1), client_id, PQgetvalue(res, 0, 6),
                 PQgetisnull(res, 0, 5) ? NULL : PQgetvalue(res, 0, 5), hp_new, result);
    PQclear(res);
    *commit = code == TM_OK;
    return code;
}

/* Runs one token step in its own transaction: the step says whether its
 * writes stand (commit), and a result is dropped when the transaction fails,
 * so no token goes out that the database does not hold. */
static enum tm_error in_transaction(struct tool_ctx *ctx, const json_t *args, json_t **result,
                                    enum tm_error (*step)(struct tool_ctx *, const json_t *, json_t **, bool *))
{
    enum tm_error code = auth_tx_begin(ctx);
    if (code != TM_OK)
        return code;
    bool commit = false;
    code = step(ctx, args, result, &commit);
    code = auth_tx_end(ctx, code, commit);
    if (code != TM_OK && *result) {
        json_decref(*result);
        *result = NULL;
    }
    return code;
}

enum tm_error auth_oauth_redeem_code(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    return in_transaction(ctx, args, result, redeem);
}

static enum tm_error refresh(struct tool_ctx *ctx, const json_t *args, json_t **result, bool *commit)
{
    enum tm_error code = client_authenticate(ctx, args);
    if (code != TM_OK)
        return code;
    const char *client_id = str_arg(args, "client_id");
    const json_t *scope_v = json_object_get(args, "scope");

    char hp[AUTH_HASH_PARAM_LEN];
    PGresult *res = presented_row(ctx, args, "refresh_token", SQL_RT_LOOKUP, NULL, "unknown refresh token", hp);
    if (!res)
        return ctx->code;
    char family[37], grant_id[37], account_id[37];
    snprintf(family, sizeof family, "%s", PQgetvalue(res, 0, 0));
    snprintf(grant_id, sizeof grant_id, "%s", PQgetvalue(res, 0, 1));
    snprintf(account_id, sizeof account_id, "%s", PQgetvalue(res, 0, 2));
    bool revoked = PQgetvalue(res, 0, 6)[0] == 't';
    bool expired = PQgetvalue(res, 0, 7)[0] == 't';
    bool rotated = PQgetvalue(res, 0, 8)[0] == 't';
    bool in_grace = PQgetvalue(res, 0, 9)[0] == 't';
    char *token_scope = xstrdup(PQgetvalue(res, 0, 4));
    char *resource = PQgetisnull(res, 0, 5) ? NULL : xstrdup(PQgetvalue(res, 0, 5));
    bool other_client = strcmp(PQgetvalue(res, 0, 3), client_id) != 0;
    PQclear(res);

    if (other_client) {
        code = invalid_grant(ctx, "refresh token was issued to another client");
    } else if (revoked) {
        code = invalid_grant(ctx, "refresh token revoked");
    } else if (expired) {
        code = invalid_grant(ctx, "refresh token expired");
    } else if (rotated && !in_grace) {
        /* A rotated-out token came back after the grace window: someone holds
         * a copy. Everything issued from this family stops, access tokens too. */
        log_warn("refresh token reused after rotation: revoking family %s and grant %s", family, grant_id);
        const char *fp[1] = {family};
        if (!q1(ctx, SQL_FAMILY_REVOKE, 1, fp) || !revoke_grant(ctx, grant_id)) {
            code = ctx->code;
        } else {
            *commit = true;
            code = invalid_grant(ctx, "refresh token already used");
        }
    } else {
        /* Scope may narrow, never widen. */
        uint32_t have = 0, want = 0;
        char scope[64];
        oauth_scope_parse(token_scope, &have);
        want = have;
        const char *scope_in = json_string_value(scope_v);
        if (scope_v && !json_is_null(scope_v) && (!scope_in || oauth_scope_parse(scope_in, &want) != 0)) {
            code = oauth_fail(ctx, TM_ERR_INVALID_ARGUMENT, "invalid_scope", "unknown scope");
        } else if (scope_in && !want) {
            want = have;   /* "" or only offline_access: keep the scopes */
        }
        if (code == TM_OK && (want & ~have)) {
            code = oauth_fail(ctx, TM_ERR_INVALID_ARGUMENT, "invalid_scope",
                              "scope may not exceed the scope originally granted");
        }
        if (code == TM_OK) {
            scope_text(want, scope, sizeof scope);
            char hp_new[AUTH_HASH_PARAM_LEN];
            code = issue(ctx, family, grant_id, account_id, client_id, scope, resource, hp_new, result);
            const char *rp[2] = {hp, hp_new};
            if (code == TM_OK && !q1(ctx, SQL_RT_ROTATE, 2, rp))
                code = ctx->code;
            *commit = code == TM_OK;
        }
    }
    free(token_scope);
    free(resource);
    return code;
}

enum tm_error auth_oauth_refresh(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    return in_transaction(ctx, args, result, refresh);
}

static const char SQL_RT_OWNER[] =
    "SELECT family_id::text, grant_id::text, client_id FROM oauth_refresh_tokens WHERE token_hash = $1::bytea";

enum tm_error auth_oauth_revoke(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    enum tm_error code = client_authenticate(ctx, args);
    if (code != TM_OK)
        return code;
    char hp[AUTH_HASH_PARAM_LEN];
    /* RFC 7009 §2.2: an unknown or malformed token is not an error. */
    if (!auth_secret_param(str_arg(args, "token"), hp)) {
        *result = json_object();
        return TM_OK;
    }
    if ((code = auth_tx_begin(ctx)) != TM_OK)
        return code;
    const char *p[1] = {hp};
    PGresult *res = tool_query(ctx, SQL_RT_OWNER, 1, p);
    if (!res)
        return auth_tx_end(ctx, ctx->code, false);
    /* Another client's token is treated as unknown: revoking it would let one
     * client end another's authorization. */
    if (PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 2), str_arg(args, "client_id"))) {
        char family[37], grant_id[37];
        snprintf(family, sizeof family, "%s", PQgetvalue(res, 0, 0));
        snprintf(grant_id, sizeof grant_id, "%s", PQgetvalue(res, 0, 1));
        const char *fp[1] = {family};
        /* The grant goes too, so the access tokens issued under it stop (RFC 7009 §2.1). */
        if (!q1(ctx, SQL_FAMILY_REVOKE, 1, fp) || !revoke_grant(ctx, grant_id)) {
            PQclear(res);
            return auth_tx_end(ctx, ctx->code, false);
        }
    }
    PQclear(res);
    code = auth_tx_end(ctx, TM_OK, true);
    if (code == TM_OK)
        *result = json_object();
    return code;
}

static const char SQL_NOW_MS[] = "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint";
static const char SQL_REVOKED_SINCE[] =
    "SELECT id::text, floor(extract(epoch FROM revoked_at) * 1000)::bigint FROM oauth_grants "
    "WHERE revoked_at >= to_timestamp($1::double precision / 1000) ORDER BY revoked_at LIMIT 5000";

enum tm_error auth_oauth_revocations(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const json_t *since_v = json_object_get(args, "since_ms");
    if (!json_is_integer(since_v) || json_integer_value(since_v) < 0)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "since_ms must be a non-negative integer");
    char since[32];
    snprintf(since, sizeof since, "%lld", (long long)json_integer_value(since_v));

    /* now first: a revocation committed after this instant is seen by the next poll. */
    PGresult *res = tool_query(ctx, SQL_NOW_MS, 0, NULL);
    if (!res)
        return ctx->code;
    long long now = atoll(PQgetvalue(res, 0, 0)) - 10000;
    PQclear(res);
    const char *p[1] = {since};
    res = tool_query(ctx, SQL_REVOKED_SINCE, 1, p);
    if (!res)
        return ctx->code;
    json_t *grants = json_array();
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        json_array_append_new(grants, json_string(PQgetvalue(res, i, 0)));
    /* A full page: the next poll continues from the last one listed. */
    if (n == REVOCATIONS_MAX)
        now = atoll(PQgetvalue(res, n - 1, 1));
    PQclear(res);
    *result = json_pack("{s:o, s:I}", "grants", grants, "now_ms", (json_int_t)now);
    return TM_OK;
}
