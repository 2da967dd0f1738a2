/*
 * tool_endpoints — the endpoint tools: endpoints_list, endpoints_get,
 * endpoints_create, endpoints_update, endpoints_deploy (docs/DESIGN.md,
 * "Tools of the foundation"; output shapes in proto/catalog.c).
 *
 * Every handler runs inside the dispatcher's transaction with app.account_id
 * set, and still filters by account explicitly: row-level security is the
 * second wall, not the only one. An endpoint of another account is looked up
 * exactly like a missing one, so the answer (not_found) reveals nothing.
 *
 * The sandbox configuration is the editable draft; the production row is the
 * last deployed snapshot. update and deploy lock the endpoint row first
 * (SELECT ... FOR UPDATE) so concurrent changes to one endpoint serialise and
 * a deploy always copies the sandbox it diffed.
 *
 * The gateway's side of an endpoint (docs/GATEWAY.md): create makes the
 * owner's key per environment and the webhook rows with their signing
 * secrets; the detail view shows the keys masked only; update sets an
 * environment's webhook; deploy needs a sandbox call first.
 *
 * Notifications (services/worker/notify.h): the detail view shows the
 * endpoint's effective rules, update sets the endpoint's own rules (they take
 * effect at once, no deploy), and deploy queues a `deployed` e-mail in its
 * transaction when the rule asks for one.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "common/utf8.h"
#include "proto/fields.h"
#include "services/worker/cursor.h"
#include "services/worker/dispatch.h"
#include "services/worker/gateway.h"
#include "services/worker/notify.h"
#include "services/worker/tool_util.h"

#define SLUG_MAX 48
#define SLUG_SUFFIX 6
#define LIST_DEFAULT_LIMIT 20
#define LIST_MAX_LIMIT 100
#define DEPLOYMENTS_SHOWN 5

/* ISO 8601 in UTC with milliseconds, e.g. 2025-01-31T12:00:00.123Z */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* ---- small helpers ------------------------------------------------------ */

/* A unique violation on the per-account name index. */
static bool is_name_conflict(const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    return state && !strcmp(state, "23505") && constraint && !strcmp(constraint, "endpoints_account_name");
}

static bool pg_bool(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

static json_t *pg_int(const PGresult *res, int row, int col)
{
    return json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

static json_t *pg_str_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

/* A stored jsonb array; a broken value reads as empty rather than failing the call. */
static json_t *pg_json_array(const PGresult *res, int row, int col)
{
    json_error_t jerr;
    json_t *v = PQgetisnull(res, row, col) ? NULL : json_loads(PQgetvalue(res, row, col), 0, &jerr);
    if (!json_is_array(v)) {
        json_decref(v);
        v = json_array();
    }
    return v;
}

static bool fields_differ(const json_t *a, const json_t *b)
{
    json_t *d = fields_diff(a, b);
    bool differ = json_array_size(d) > 0;
    json_decref(d);
    return differ;
}

static char *gateway_url(const struct config *cfg, const char *slug)
{
    return xasprintf("%s/api/v1/data/%s", cfg->public_url, slug);
}

static json_t *value_obj(const char *v)
{
    return json_pack("{s:s}", "value", v);
}

/* ---- finding an endpoint ------------------------------------------------ */

static enum tm_error resolve(struct tool_ctx *ctx, const json_t *args, bool lock, char id[40])
{
    return tool_find_endpoint(ctx, json_string_value(json_object_get(args, "endpoint")), lock, id, NULL, 0, NULL, 0);
}

/* ---- the detail view ---------------------------------------------------- */

static const char SQL_DETAIL[] =
    "SELECT e.id::text, e.name, e.slug, e.description, e.active, e.prod_version, " TS("e.created_at") ", " TS(
        "e.updated_at") ", s.version, s.fields::text, " TS("s.updated_at") ", p.version, p.fields::text, "
    "CASE WHEN e.prod_version > 0 THEN " TS("p.updated_at") " END, "
    /* the sandbox calls: counted before migration 020, plus its stripes */
    "(e.sandbox_test_calls + (SELECT coalesce(sum(c.calls), 0) FROM endpoint_sandbox_calls c "
    "WHERE c.endpoint_id = e.id)), "
    NOTIFY_RULE_ENABLED("e.account_id", "e.id", "'call_failed'") ", "
    NOTIFY_RULE_ENABLED("e.account_id", "e.id", "'webhook_failed'") ", "
    NOTIFY_RULE_ENABLED("e.account_id", "e.id", "'deployed'") " "
    "FROM endpoints e "
    "JOIN endpoint_configs s ON s.endpoint_id = e.id AND s.environment = 'sandbox' "
    "JOIN endpoint_configs p ON p.endpoint_id = e.id AND p.environment = 'production' "
    "WHERE e.id = $1::uuid AND e.account_id = $2::uuid AND e.deleted_at IS NULL";

/* The owner's keys (last four characters only) and the webhooks, per environment. */
static const char SQL_DETAIL_GATEWAY[] =
    "SELECT v.env, k.last4, w.url, w.auth_header_name, w.auth_value_enc IS NOT NULL, coalesce(w.enabled, false) "
    "FROM (VALUES ('sandbox'), ('production')) v(env) "
    "LEFT JOIN api_keys k ON k.endpoint_id = $1::uuid AND k.account_id = $2::uuid AND k.kind = 'owner' "
    "AND k.environment = v.env "
    "LEFT JOIN webhooks w ON w.endpoint_id = $1::uuid AND w.account_id = $2::uuid AND w.environment = v.env";

static const char SQL_DEPLOYMENTS[] =
    "SELECT version, " TS("created_at") ", note, via, jsonb_array_length(diff) FROM endpoint_deployments "
    "WHERE endpoint_id = $1::uuid AND account_id = $2::uuid ORDER BY version DESC LIMIT 5";

/* EndpointDetail of endpoint id into *out. */
static enum tm_error load_detail(struct tool_ctx *ctx, const char *id, json_t **out)
{
    const char *p[2] = {id, ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_DETAIL, 2, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "the endpoint no longer exists");
    }
    json_t *sandbox_fields = pg_json_array(res, 0, 9);
    json_t *prod_fields = pg_json_array(res, 0, 12);
    json_t *pending = fields_diff(prod_fields, sandbox_fields);
    char *url = gateway_url(ctx->cfg, PQgetvalue(res, 0, 2));

    json_t *d = json_object();
    json_object_set_new(d, "id", json_string(PQgetvalue(res, 0, 0)));
    json_object_set_new(d, "name", json_string(PQgetvalue(res, 0, 1)));
    json_object_set_new(d, "slug", json_string(PQgetvalue(res, 0, 2)));
    json_object_set_new(d, "description", json_string(PQgetvalue(res, 0, 3)));
    json_object_set_new(d, "active", json_boolean(pg_bool(res, 0, 4)));
    json_object_set_new(d, "created_at", json_string(PQgetvalue(res, 0, 6)));
    json_object_set_new(d, "updated_at", json_string(PQgetvalue(res, 0, 7)));
    json_object_set_new(d, "urls", json_pack("{s:s}", "gateway", url));
    json_object_set_new(d, "sandbox",
                        json_pack("{s:o, s:o, s:s, s:o}", "version", pg_int(res, 0, 8), "fields", sandbox_fields,
                                  "updated_at", PQgetvalue(res, 0, 10), "test_calls", pg_int(res, 0, 14)));
    json_object_set_new(d, "production",
                        json_pack("{s:o, s:o, s:o}", "version", pg_int(res, 0, 11), "fields", prod_fields,
                                  "deployed_at", pg_str_or_null(res, 0, 13)));
    json_object_set_new(d, "has_undeployed_changes", json_boolean(json_array_size(pending) > 0));
    json_object_set_new(d, "pending_changes", pending);
    json_t *rules = json_object();
    for (int i = 0; i < NOTIFY_ENDPOINT_EVENTS; i++)   /* columns 15.. follow notify_endpoint_events */
        json_object_set_new(rules, notify_endpoint_events[i], json_boolean(pg_bool(res, 0, 15 + i)));
    json_object_set_new(d, "notifications", rules);
    free(url);
    PQclear(res);

    res = tool_query(ctx, SQL_DEPLOYMENTS, 2, p);
    if (!res) {
        json_decref(d);
        return ctx->code;
    }
    json_t *deps = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(deps, json_pack("{s:o, s:s, s:s, s:s, s:o}", "version", pg_int(res, i, 0),
                                              "deployed_at", PQgetvalue(res, i, 1), "note", PQgetvalue(res, i, 2),
                                              "via", PQgetvalue(res, i, 3), "changes", pg_int(res, i, 4)));
    PQclear(res);
    json_object_set_new(d, "deployments", deps);

    res = tool_query(ctx, SQL_DETAIL_GATEWAY, 2, p);
    if (!res) {
        json_decref(d);
        return ctx->code;
    }
    json_t *keys = json_object(), *hooks = json_object();
    for (int i = 0; i < PQntuples(res); i++) {
        const char *env = PQgetvalue(res, i, 0);
        json_t *key = json_null();
        if (!PQgetisnull(res, i, 1)) {
            char masked[64];
            gateway_key_mask(!strcmp(env, "production") ? "tm_live_" : "tm_test_", PQgetvalue(res, i, 1), masked,
                             sizeof masked);
            key = json_pack("{s:s}", "masked", masked);
        }
        json_object_set_new(keys, env, key);
        json_object_set_new(hooks, env,
                            json_pack("{s:o, s:o, s:b, s:b}", "url", pg_str_or_null(res, i, 2), "auth_header_name",
                                      pg_str_or_null(res, i, 3), "has_auth_value", pg_bool(res, i, 4), "enabled",
                                      pg_bool(res, i, 5)));
    }
    PQclear(res);
    json_object_set_new(d, "keys", keys);
    json_object_set_new(d, "webhooks", hooks);
    *out = d;
    return TM_OK;
}

/* ---- endpoints_get ------------------------------------------------------ */

enum tm_error tool_endpoints_get(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    char id[40];
    if (resolve(ctx, args, false, id) != TM_OK)
        return ctx->code;
    return load_detail(ctx, id, result);
}

/* ---- endpoints_list ----------------------------------------------------- */

/* The page is chosen from endpoints alone (the inner query: the index
 * endpoints_account_created gives the order, so the scan stops after limit
 * rows) and only its rows are joined to their configurations and formatted.
 * As one flat join the parameterised statement got a generic plan that
 * joined and formatted every endpoint of the account and then sorted, twice
 * the database time of the first page's literal query (docs/BENCHMARKS.md). */
static const char SQL_LIST[] =
    "SELECT e.id::text, e.name, e.slug, e.description, e.active, e.prod_version, " TS("e.created_at") ", " TS(
        "e.updated_at") ", s.fields::text, p.fields::text, jsonb_array_length(s.fields), "
    "(extract(epoch FROM e.created_at) * 1000000)::bigint "
    "FROM (SELECT id, name, slug, description, active, prod_version, created_at, updated_at FROM endpoints "
    "WHERE account_id = $1::uuid AND deleted_at IS NULL "
    "AND ($2::text = 'all' OR active = ($2::text = 'active')) "
    "AND ($3::text IS NULL OR name ILIKE $3::text OR slug ILIKE $3::text) "
    "AND ($4::bigint IS NULL OR (created_at, id) < "
    "('epoch'::timestamptz + $4::bigint * interval '1 microsecond', $5::uuid)) "
    "ORDER BY created_at DESC, id DESC LIMIT $6::int) e "
    "JOIN endpoint_configs s ON s.endpoint_id = e.id AND s.environment = 'sandbox' AND s.account_id = $1::uuid "
    "JOIN endpoint_configs p ON p.endpoint_id = e.id AND p.environment = 'production' AND p.account_id = $1::uuid "
    "ORDER BY e.created_at DESC, e.id DESC";

/* The cursor (cursor.h) of the last item of the previous page; its id is an endpoint uuid. */
static bool cursor_decode_uuid(const char *c, char micros[24], char id[40])
{
    char m[24], raw[CURSOR_ID_MAX + 1];
    if (!cursor_decode(c, m, raw) || !is_uuid(raw))
        return false;
    memcpy(micros, m, sizeof m);
    memcpy(id, raw, 37);   /* a uuid: 36 characters */
    return true;
}

/* "%<query>%" with LIKE's own characters escaped, so the query is a plain substring. */
static char *like_pattern(const char *q)
{
    size_t n = strlen(q);
    char *out = xmalloc(2 * n + 3), *o = out;
    *o++ = '%';
    for (size_t i = 0; i < n; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
            *o++ = '\\';
        *o++ = q[i];
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

/* Whether a row's sandbox fields (column sc) differ from its production
 * fields (column pc), as fields_diff decides. Parsing both arrays and
 * building a diff for every row was half of the worker's CPU time per
 * endpoints_list, so the two common cases are answered from the text:
 * jsonb prints a value canonically, so byte-equal texts are equal fields (a
 * deployed, unchanged endpoint: deploy copies the sandbox verbatim); and a
 * stored array is canonical (fields_normalize: every element is a named
 * field), so "[]" against any other array is a change (a never-deployed
 * endpoint). Only the rest, edited after a deploy, are parsed and compared. */
static bool list_row_has_changes(const PGresult *res, int row, int sc, int pc)
{
    if (!PQgetisnull(res, row, sc) && !PQgetisnull(res, row, pc)) {
        const char *s = PQgetvalue(res, row, sc), *p = PQgetvalue(res, row, pc);
        if (!strcmp(s, p))
            return false;
        if ((!strcmp(p, "[]") && s[0] == '[') || (!strcmp(s, "[]") && p[0] == '['))
            return true;
    }
    json_t *sandbox = pg_json_array(res, row, sc), *prod = pg_json_array(res, row, pc);
    bool differ = fields_differ(prod, sandbox);
    json_decref(sandbox);
    json_decref(prod);
    return differ;
}

/* A text column as a JSON string (PostgreSQL text is valid UTF-8 without NUL). */
static void list_append_string(struct strbuf *b, const PGresult *res, int row, int col)
{
    sb_append_json_string(b, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

enum tm_error tool_endpoints_list(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *status = json_string_value(json_object_get(args, "status"));
    if (!status)
        status = "all";
    if (strcmp(status, "all") && strcmp(status, "active") && strcmp(status, "inactive"))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "status must be active, inactive or all");

    json_int_t limit = LIST_DEFAULT_LIMIT;
    const json_t *jl = json_object_get(args, "limit");
    if (jl) {
        if (!json_is_integer(jl) || json_integer_value(jl) < 1 || json_integer_value(jl) > LIST_MAX_LIMIT)
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "limit must be an integer from 1 to 100");
        limit = json_integer_value(jl);
    }

    char micros[24], cid[40];
    const char *cursor = json_string_value(json_object_get(args, "cursor"));
    if (cursor && !cursor_decode_uuid(cursor, micros, cid))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "cursor is not valid; pass the next_cursor of a previous page");

    const char *query = json_string_value(json_object_get(args, "query"));
    char *pattern = query && *query ? like_pattern(query) : NULL;
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)limit + 1);   /* one more tells if there is a next page */

    const char *p[6] = {ctx->who->account_id, status, pattern, cursor ? micros : NULL, cursor ? cid : NULL, lim};
    PGresult *res = tool_query(ctx, SQL_LIST, 6, p);
    free(pattern);
    if (!res)
        return ctx->code;

    /* Written as text (strbuf), not as jansson objects: building and dumping
     * twenty objects cost more than the query (docs/BENCHMARKS.md). The
     * catalog's outputSchema for endpoints_list describes exactly this. */
    int rows = PQntuples(res);
    int shown = rows > limit ? (int)limit : rows;
    struct strbuf b;
    sb_init(&b, 256 + (size_t)shown * 320);
    sb_append_str(&b, "{\"items\":[");
    for (int i = 0; i < shown; i++) {
        long long prod_version = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        char nums[160];
        sb_append_str(&b, i ? ",{\"id\":" : "{\"id\":");
        list_append_string(&b, res, i, 0);
        sb_append_str(&b, ",\"name\":");
        list_append_string(&b, res, i, 1);
        sb_append_str(&b, ",\"slug\":");
        list_append_string(&b, res, i, 2);
        sb_append_str(&b, ",\"description\":");
        list_append_string(&b, res, i, 3);
        snprintf(nums, sizeof nums,
                 ",\"active\":%s,\"deployed\":%s,\"prod_version\":%lld,\"has_undeployed_changes\":%s,"
                 "\"field_count\":%lld,\"created_at\":",
                 pg_bool(res, i, 4) ? "true" : "false", prod_version > 0 ? "true" : "false", prod_version,
                 list_row_has_changes(res, i, 8, 9) ? "true" : "false", strtoll(PQgetvalue(res, i, 10), NULL, 10));
        sb_append_str(&b, nums);
        list_append_string(&b, res, i, 6);
        sb_append_str(&b, ",\"updated_at\":");
        list_append_string(&b, res, i, 7);
        sb_append_str(&b, "}");
    }
    sb_append_str(&b, "],\"next_cursor\":");
    if (rows > limit && shown > 0) {
        char *enc = cursor_encode(PQgetvalue(res, shown - 1, 11), PQgetvalue(res, shown - 1, 0));
        sb_append_json_string(&b, enc, strlen(enc));
        free(enc);
    } else {
        sb_append_str(&b, "null");
    }
    sb_append_str(&b, "}");
    PQclear(res);
    ctx->raw_result = sb_take(&b, NULL);
    (void)result;
    return TM_OK;
}

/* ---- endpoints_create --------------------------------------------------- */

static const char SQL_NAME_TAKEN[] =
    "SELECT 1 FROM endpoints WHERE account_id = $1::uuid AND lower(name) = lower($2) AND deleted_at IS NULL "
    "AND ($3::uuid IS NULL OR id <> $3::uuid)";
static const char SQL_SLUG_TAKEN[] = "SELECT slug_taken($1)";
static const char SQL_INSERT_ENDPOINT[] =
    "INSERT INTO endpoints (account_id, name, slug, description) VALUES ($1::uuid, $2, $3, $4) "
    "ON CONFLICT (slug) DO NOTHING RETURNING id::text";
static const char SQL_INSERT_KEY[] =
    "INSERT INTO api_keys (account_id, endpoint_id, environment, kind, key_hash, key_enc, last4) "
    "VALUES ($1::uuid, $2::uuid, $3, 'owner', $4::bytea, $5::bytea, $6)";
static const char SQL_INSERT_WEBHOOK[] =
    "INSERT INTO webhooks (endpoint_id, account_id, environment, secret_enc) VALUES ($1::uuid, $2::uuid, $3, $4::bytea) "
    "ON CONFLICT (endpoint_id, environment) DO NOTHING";

/* The owner's key per environment and the webhook rows holding the signing
 * secrets (docs/GATEWAY.md, "Secrets at rest"). */
static enum tm_error create_secrets(struct tool_ctx *ctx, const char *id)
{
    const struct keybox *kb = gateway_keybox(ctx->cfg);
    if (!kb)
        return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    static const char *const envs[] = {"sandbox", "production"};
    for (size_t i = 0; i < TM_ARRAY_LEN(envs); i++) {
        char key[GATEWAY_KEY_LEN + 1], secret[WEBHOOK_SECRET_LEN + 1];
        gateway_key_generate(i == 1, key);
        webhook_secret_generate(secret);
        uint8_t hash[32];
        sha256(key, strlen(key), hash);
        char hash_hex[2 + 64 + 1] = "\\x";
        hex_encode(hash, sizeof hash, hash_hex + 2);
        size_t klen, slen;
        uint8_t *kbox = keybox_seal(kb, key, strlen(key), &klen);
        uint8_t *sbox = keybox_seal(kb, secret, strlen(secret), &slen);
        char *kenc = keybox_bytea_hex(kbox, klen), *senc = keybox_bytea_hex(sbox, slen);
        const char *pk[6] = {ctx->who->account_id, id, envs[i], hash_hex, kenc, key + strlen(key) - 4};
        PGresult *res = tool_query(ctx, SQL_INSERT_KEY, 6, pk);
        if (res) {
            PQclear(res);
            const char *pw[4] = {id, ctx->who->account_id, envs[i], senc};
            res = tool_query(ctx, SQL_INSERT_WEBHOOK, 4, pw);
        }
        free(kbox);
        free(sbox);
        free(kenc);
        free(senc);
        memset(key, 0, sizeof key);
        memset(secret, 0, sizeof secret);
        if (!res)
            return ctx->code;
        PQclear(res);
    }
    return TM_OK;
}

static const char SQL_INSERT_CONFIGS[] =
    "INSERT INTO endpoint_configs (endpoint_id, account_id, environment, version, fields) VALUES "
    "($1::uuid, $2::uuid, 'sandbox', 1, $3::jsonb), ($1::uuid, $2::uuid, 'production', 0, '[]'::jsonb)";

/* Lower-case ASCII letter/digit runs of name joined by '-', at most max chars. */
static void slug_from_name(const char *name, char *out, size_t max)
{
    size_t n = 0;
    bool gap = false;
    for (const unsigned char *s = (const unsigned char *)name; *s && n < max; s++) {
        if (*s < 0x80 && isalnum(*s)) {
            if (gap && n > 0) {
                if (n + 1 >= max)
                    break;
                out[n++] = '-';
            }
            out[n++] = (char)tolower(*s);
            gap = false;
        } else {
            gap = true;
        }
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    if (n == 0)
        snprintf(out, max + 1, "endpoint");
}

/* A name must show something: 1-64 characters, not blank, no control characters. */
static bool name_ok(const char *name)
{
    bool visible = false;
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        if (*s < 0x20 || *s == 0x7f)
            return false;
        if (*s != ' ')
            visible = true;
    }
    return visible && utf8_count(name, strlen(name)) <= 64;
}

static bool description_ok(const char *d)
{
    return utf8_count(d, strlen(d)) <= 500;
}

static enum tm_error check_name_free(struct tool_ctx *ctx, const char *name, const char *except_id)
{
    const char *p[3] = {ctx->who->account_id, name, except_id};
    PGresult *res = tool_query(ctx, SQL_NAME_TAKEN, 3, p);
    if (!res)
        return ctx->code;
    int taken = PQntuples(res);
    PQclear(res);
    if (taken)
        return tool_fail(ctx, TM_ERR_CONFLICT, NULL, "an endpoint named \"%s\" already exists in this account",
                         name);
    return TM_OK;
}

/* Inserts the endpoint row with a free slug; id[40] receives its id. */
static enum tm_error insert_endpoint(struct tool_ctx *ctx, const char *name, const char *description, char id[40])
{
    char base[SLUG_MAX + 1], slug[SLUG_MAX + 1];
    slug_from_name(name, base, SLUG_MAX);
    snprintf(slug, sizeof slug, "%s", base);

    for (int attempt = 0; attempt < 8; attempt++) {
        if (attempt > 0) {
            /* Slugs are global: add a random suffix and keep within SLUG_MAX. */
            static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
            uint8_t rnd[SLUG_SUFFIX];
            random_bytes(rnd, sizeof rnd);
            char suffix[SLUG_SUFFIX + 1];
            for (int i = 0; i < SLUG_SUFFIX; i++)
                suffix[i] = b32[rnd[i] & 31];
            suffix[SLUG_SUFFIX] = '\0';
            size_t keep = strlen(base);
            if (keep > SLUG_MAX - SLUG_SUFFIX - 1)
                keep = SLUG_MAX - SLUG_SUFFIX - 1;
            while (keep > 0 && base[keep - 1] == '-')
                keep--;
            snprintf(slug, sizeof slug, "%.*s-%s", (int)keep, base, suffix);
        }
        const char *ps[1] = {slug};
        PGresult *res = tool_query(ctx, SQL_SLUG_TAKEN, 1, ps);
        if (!res)
            return ctx->code;
        bool taken = pg_bool(res, 0, 0);
        PQclear(res);
        if (taken)
            continue;

        const char *p[4] = {ctx->who->account_id, name, slug, description};
        res = db_query(ctx->db, SQL_INSERT_ENDPOINT, 4, p);
        if (is_name_conflict(res)) {
            PQclear(res);
            return tool_fail(ctx, TM_ERR_CONFLICT, NULL, "an endpoint named \"%s\" already exists in this account",
                             name);
        }
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
            return tool_db_fail(ctx, res);
        int got = PQntuples(res);
        if (got == 1)
            snprintf(id, 40, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        if (got == 1)
            return TM_OK;
        /* Another account took the slug between the check and the insert: try a new suffix. */
    }
    log_error("endpoints_create: no free slug after 8 attempts");
    return tool_fail(ctx, TM_ERR_UNAVAILABLE, NULL, "could not pick a unique slug, retry");
}

enum tm_error tool_endpoints_create(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    if (!name || !name_ok(name))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "name must be 1-64 characters, not blank, without control characters");
    const json_t *jd = json_object_get(args, "description");
    if (jd && !json_is_string(jd))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "description must be a string");
    const char *description = jd ? json_string_value(jd) : "";
    if (!description_ok(description))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "description must be at most 500 characters");

    json_t *in_fields = json_object_get(args, "fields");
    json_t *empty = json_array();
    char err[512];
    json_t *fields = fields_normalize(in_fields ? in_fields : empty, err, sizeof err);
    json_decref(empty);
    if (!fields)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "%s", err);

    char id[40];
    char *ftext = NULL;
    if (check_name_free(ctx, name, NULL) != TM_OK || insert_endpoint(ctx, name, description, id) != TM_OK)
        goto fail;
    ftext = json_dumps(fields, JSON_COMPACT);
    const char *p[3] = {id, ctx->who->account_id, ftext};
    PGresult *res = tool_query(ctx, SQL_INSERT_CONFIGS, 3, p);
    if (!res)
        goto fail;
    PQclear(res);
    if (create_secrets(ctx, id) != TM_OK)
        goto fail;

    json_t *detail;
    if (load_detail(ctx, id, &detail) != TM_OK)
        goto fail;
    const char *url = json_string_value(json_object_get(json_object_get(detail, "urls"), "gateway"));
    json_t *steps = json_array();
    if (json_array_size(fields) == 0)
        json_array_append_new(steps, json_string("Add field definitions with endpoints_update if records should "
                                                 "be validated (any JSON object is accepted until then)"));
    char *s = xasprintf("Call it in the sandbox with api_call, or POST JSON to %s with the sandbox key (tm_test_)",
                        url);
    json_array_append_new(steps, json_string(s));
    free(s);
    json_array_append_new(steps, json_string("Deploy with endpoints_deploy when ready; production calls (tm_live_ "
                                             "key) work only after the first deploy"));
    *result = json_pack("{s:o, s:o}", "endpoint", detail, "next_steps", steps);
    free(ftext);
    json_decref(fields);
    return TM_OK;

fail:
    free(ftext);
    json_decref(fields);
    return ctx->code;
}

/* ---- state used by update and deploy ----------------------------------- */

static const char SQL_STATE[] =
    "SELECT e.name, e.description, e.slug, e.prod_version, s.version, s.fields::text, p.fields::text, "
    "(e.sandbox_test_calls + (SELECT coalesce(sum(c.calls), 0) FROM endpoint_sandbox_calls c "
    "WHERE c.endpoint_id = e.id)) FROM endpoints e "
    "JOIN endpoint_configs s ON s.endpoint_id = e.id AND s.environment = 'sandbox' "
    "JOIN endpoint_configs p ON p.endpoint_id = e.id AND p.environment = 'production' "
    "WHERE e.id = $1::uuid AND e.account_id = $2::uuid";

struct ep_state {
    char *name, *description, *slug;
    long long prod_version, sandbox_version, sandbox_test_calls;
    json_t *sandbox_fields, *prod_fields;
};

static void state_free(struct ep_state *st)
{
    free(st->name);
    free(st->description);
    free(st->slug);
    json_decref(st->sandbox_fields);
    json_decref(st->prod_fields);
    memset(st, 0, sizeof *st);
}

static enum tm_error load_state(struct tool_ctx *ctx, const char *id, struct ep_state *st)
{
    memset(st, 0, sizeof *st);
    const char *p[2] = {id, ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_STATE, 2, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "the endpoint no longer exists");
    }
    st->name = xstrdup(PQgetvalue(res, 0, 0));
    st->description = xstrdup(PQgetvalue(res, 0, 1));
    st->slug = xstrdup(PQgetvalue(res, 0, 2));
    st->prod_version = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    st->sandbox_version = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    st->sandbox_fields = pg_json_array(res, 0, 5);
    st->prod_fields = pg_json_array(res, 0, 6);
    st->sandbox_test_calls = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
    PQclear(res);
    return TM_OK;
}

/* ---- endpoints_update --------------------------------------------------- */

static const char SQL_UPDATE_SANDBOX[] =
    "UPDATE endpoint_configs SET fields = $3::jsonb, version = version + 1, updated_at = now() "
    "WHERE endpoint_id = $1::uuid AND account_id = $2::uuid AND environment = 'sandbox'";
static const char SQL_UPDATE_ENDPOINT[] =
    "UPDATE endpoints SET name = $3, description = $4, updated_at = now() "
    "WHERE id = $1::uuid AND account_id = $2::uuid";

/* ---- an environment's webhook (endpoints_update) ----------------------- */

static const char SQL_WEBHOOK_STATE[] =
    "SELECT url, auth_header_name, auth_value_enc IS NOT NULL, enabled FROM webhooks "
    "WHERE endpoint_id = $1::uuid AND account_id = $2::uuid AND environment = $3";
/* $9: whether the auth value changes; the secret ($7) is used only when the row is new. */
static const char SQL_WEBHOOK_SET[] =
    "INSERT INTO webhooks (endpoint_id, account_id, environment, url, auth_header_name, auth_value_enc, secret_enc, "
    "enabled) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6::bytea, $7::bytea, $8::boolean) "
    "ON CONFLICT (endpoint_id, environment) DO UPDATE SET url = excluded.url, "
    "auth_header_name = excluded.auth_header_name, "
    "auth_value_enc = CASE WHEN $9::boolean THEN excluded.auth_value_enc ELSE webhooks.auth_value_enc END, "
    "enabled = excluded.enabled, updated_at = now()";

struct webhook_state {
    char *url, *header;   /* NULL = none */
    bool has_auth, enabled;
};

static json_t *webhook_view(const struct webhook_state *w)
{
    return json_pack("{s:o, s:o, s:b, s:b}", "url", w->url ? json_string(w->url) : json_null(), "auth_header_name",
                     w->header ? json_string(w->header) : json_null(), "has_auth_value", w->has_auth, "enabled",
                     w->enabled);
}

static bool http_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

static bool webhook_url_ok(const char *u)
{
    if (strlen(u) > 2000 || (strncmp(u, "https://", 8) && strncmp(u, "http://", 7)))
        return false;
    const char *host = strstr(u, "://") + 3;
    if (!*host || *host == '/')
        return false;
    for (; *u; u++)
        if ((unsigned char)*u <= 0x20 || *u == 0x7f)
            return false;
    return true;
}

/* Applies args.webhook to the environment's webhook: appends a "(webhook)"
 * diff entry when something changes and, unless dry_run, writes it. */
static enum tm_error update_webhook(struct tool_ctx *ctx, const char *id, const char *env, const json_t *in,
                                    bool dry_run, json_t *diff)
{
    const json_t *ju = json_object_get(in, "url"), *jh = json_object_get(in, "auth_header_name"),
                 *jv = json_object_get(in, "auth_value"), *je = json_object_get(in, "enabled");
    if (ju && !json_is_null(ju) && (!json_is_string(ju) || !webhook_url_ok(json_string_value(ju))))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "webhook.url must be an http(s) URL of at most 2000 characters");
    if (jh && !json_is_null(jh) && (!json_is_string(jh) || strlen(json_string_value(jh)) > 100 ||
                                    !http_token(json_string_value(jh))))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "webhook.auth_header_name must be an HTTP header name");
    if (jv && !json_is_null(jv) && (!json_is_string(jv) || json_string_length(jv) > 1024))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "webhook.auth_value must be a string of at most 1024 characters");
    if (je && !json_is_boolean(je))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "webhook.enabled must be true or false");

    const char *p[3] = {id, ctx->who->account_id, env};
    PGresult *res = tool_query(ctx, SQL_WEBHOOK_STATE, 3, p);
    if (!res)
        return ctx->code;
    struct webhook_state before = {0}, after;
    if (PQntuples(res) == 1) {
        before.url = PQgetisnull(res, 0, 0) ? NULL : xstrdup(PQgetvalue(res, 0, 0));
        before.header = PQgetisnull(res, 0, 1) ? NULL : xstrdup(PQgetvalue(res, 0, 1));
        before.has_auth = pg_bool(res, 0, 2);
        before.enabled = pg_bool(res, 0, 3);
    }
    PQclear(res);

    after = before;
    after.url = before.url ? xstrdup(before.url) : NULL;
    after.header = before.header ? xstrdup(before.header) : NULL;
    bool auth_changes = false;
    const char *auth_value = NULL;
    if (ju) {
        free(after.url);
        after.url = json_is_null(ju) ? NULL : xstrdup(json_string_value(ju));
        if (!after.url) {
            /* Removing the URL removes the webhook, auth included. */
            free(after.header);
            after.header = NULL;
            auth_changes = after.has_auth;
            after.has_auth = false;
        } else if (!before.url) {
            after.enabled = true;   /* a new webhook is on unless enabled says otherwise */
        }
    }
    if (jv && after.url) {
        auth_value = json_is_null(jv) || !*json_string_value(jv) ? NULL : json_string_value(jv);
        auth_changes = true;
        after.has_auth = auth_value != NULL;
        if (!auth_value) {
            free(after.header);
            after.header = NULL;
        } else if (!after.header && !(jh && json_is_string(jh))) {
            after.header = xstrdup("Authorization");
        }
    }
    if (jh && after.url && after.has_auth) {
        free(after.header);
        after.header = json_is_null(jh) ? xstrdup("Authorization") : xstrdup(json_string_value(jh));
    }
    if (je)
        after.enabled = json_is_true(je) && after.url != NULL;
    if (!after.url)
        after.enabled = false;

    enum tm_error rc = TM_OK;
    bool same = ((!before.url && !after.url) || (before.url && after.url && !strcmp(before.url, after.url))) &&
                ((!before.header && !after.header) ||
                 (before.header && after.header && !strcmp(before.header, after.header))) &&
                before.enabled == after.enabled && !auth_changes;
    if (!same) {
        json_t *b = webhook_view(&before), *a = webhook_view(&after);
        json_array_append_new(diff, json_pack("{s:s, s:s, s:o, s:o}", "field", "(webhook)", "change", "changed",
                                              "before", b, "after", a));
        if (!dry_run) {
            const struct keybox *kb = gateway_keybox(ctx->cfg);
            if (!kb) {
                rc = tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
                goto out;
            }
            char secret[WEBHOOK_SECRET_LEN + 1];
            webhook_secret_generate(secret);
            size_t slen, vlen = 0;
            uint8_t *sbox = keybox_seal(kb, secret, strlen(secret), &slen);
            uint8_t *vbox = auth_value ? keybox_seal(kb, auth_value, strlen(auth_value), &vlen) : NULL;
            char *senc = keybox_bytea_hex(sbox, slen), *venc = vbox ? keybox_bytea_hex(vbox, vlen) : NULL;
            const char *pw[9] = {id, ctx->who->account_id, env, after.url, after.header, venc, senc,
                                 after.enabled ? "true" : "false", auth_changes ? "true" : "false"};
            res = tool_query(ctx, SQL_WEBHOOK_SET, 9, pw);
            free(sbox);
            free(vbox);
            free(senc);
            free(venc);
            memset(secret, 0, sizeof secret);
            if (!res)
                rc = ctx->code;
            else
                PQclear(res);
        }
    }
out:
    free(before.url);
    free(before.header);
    free(after.url);
    free(after.header);
    return rc;
}

/* ---- the endpoint's notification rules (endpoints_update) -------------- */

/* args.notifications: an object of event -> boolean, events of notify.h only. */
static enum tm_error check_notifications(struct tool_ctx *ctx, const json_t *jr)
{
    if (!json_is_object(jr) || json_object_size(jr) == 0)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "notifications must be an object {call_failed, webhook_failed, deployed} of booleans");
    const char *event;
    const json_t *v;
    json_object_foreach((json_t *)jr, event, v) {
        if (notify_event_index(event) < 0)
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                             "notifications.%.40s is not an event; use call_failed, webhook_failed or deployed",
                             event);
        if (!json_is_boolean(v))
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "notifications.%s must be true or false", event);
    }
    return TM_OK;
}

/* Applies args.notifications: each given event becomes the endpoint's own
 * rule (so it wins over an account-wide one). A "(notifications.<event>)"
 * diff entry is appended when the effective value changes. Rules act at
 * once: they are not part of the deployed configuration. */
static enum tm_error update_notifications(struct tool_ctx *ctx, const char *id, const json_t *jr, bool dry_run,
                                          json_t *diff)
{
    bool on[NOTIFY_ENDPOINT_EVENTS];
    if (notify_effective(ctx, ctx->who->account_id, id, on) != TM_OK)
        return ctx->code;
    for (int i = 0; i < NOTIFY_ENDPOINT_EVENTS; i++) {
        const json_t *v = json_object_get(jr, notify_endpoint_events[i]);
        if (!v)
            continue;
        bool want = json_is_true(v);
        if (want != on[i]) {
            char field[64];
            snprintf(field, sizeof field, "(notifications.%s)", notify_endpoint_events[i]);
            json_array_append_new(diff, json_pack("{s:s, s:s, s:{s:b}, s:{s:b}}", "field", field, "change",
                                                  "changed", "before", "value", on[i], "after", "value", want));
        }
        if (!dry_run && notify_rule_set(ctx, ctx->who->account_id, id, notify_endpoint_events[i], want) != TM_OK)
            return ctx->code;
    }
    return TM_OK;
}

enum tm_error tool_endpoints_update(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *env = json_string_value(json_object_get(args, "environment"));
    if (!env)
        env = "sandbox";
    if (strcmp(env, "sandbox") && strcmp(env, "production"))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "environment must be sandbox or production");
    json_t *in_fields = json_object_get(args, "fields");
    const json_t *jn = json_object_get(args, "name"), *jd = json_object_get(args, "description");
    if (in_fields && !strcmp(env, "production"))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "fields can only be changed in the sandbox; change them there and publish them to "
                         "production with endpoints_deploy");
    const json_t *jw = json_object_get(args, "webhook");
    if (jw && !json_is_object(jw))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "webhook must be an object {url, auth_header_name, "
                                                             "auth_value, enabled}");
    const json_t *jr = json_object_get(args, "notifications");
    if (jr && check_notifications(ctx, jr) != TM_OK)
        return ctx->code;
    if (!in_fields && !jn && !jd && !jw && !jr)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "nothing to change: pass name, description, fields, webhook or notifications");
    if ((jn && !json_is_string(jn)) || (jd && !json_is_string(jd)))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "name and description must be strings");
    const char *new_name = json_string_value(jn), *new_desc = json_string_value(jd);
    if (new_desc && !description_ok(new_desc))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "description must be at most 500 characters");
    if (new_name && !name_ok(new_name))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "name must be 1-64 characters, not blank, without control characters");
    bool dry_run = json_is_true(json_object_get(args, "dry_run"));

    json_t *fields = NULL;
    if (in_fields) {
        char err[512];
        fields = fields_normalize(in_fields, err, sizeof err);
        if (!fields)
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "%s", err);
    }

    char id[40];
    struct ep_state st = {0};
    json_t *diff = NULL, *detail = NULL;
    char *ftext = NULL;
    if (resolve(ctx, args, true, id) != TM_OK || load_state(ctx, id, &st) != TM_OK)
        goto fail;

    diff = fields ? fields_diff(st.sandbox_fields, fields) : json_array();
    bool fields_changed = json_array_size(diff) > 0;
    bool name_changed = new_name && strcmp(new_name, st.name) != 0;
    bool desc_changed = new_desc && strcmp(new_desc, st.description) != 0;
    if (name_changed) {
        json_array_append_new(diff, json_pack("{s:s, s:s, s:o, s:o}", "field", "(name)", "change", "changed",
                                              "before", value_obj(st.name), "after", value_obj(new_name)));
        /* Only another endpoint's name conflicts: a change of case is fine. */
        if (check_name_free(ctx, new_name, id) != TM_OK)
            goto fail;
    }
    if (desc_changed)
        json_array_append_new(diff, json_pack("{s:s, s:s, s:o, s:o}", "field", "(description)", "change",
                                              "changed", "before", value_obj(st.description), "after",
                                              value_obj(new_desc)));
    if (jw && update_webhook(ctx, id, env, jw, dry_run, diff) != TM_OK)
        goto fail;
    if (jr && update_notifications(ctx, id, jr, dry_run, diff) != TM_OK)
        goto fail;
    bool changed = json_array_size(diff) > 0;
    const json_t *sandbox_after = fields_changed ? fields : st.sandbox_fields;
    bool deploy_required = fields_differ(st.prod_fields, sandbox_after);

    if (changed && !dry_run) {
        if (fields_changed) {
            ftext = json_dumps(fields, JSON_COMPACT);
            const char *p[3] = {id, ctx->who->account_id, ftext};
            PGresult *res = tool_query(ctx, SQL_UPDATE_SANDBOX, 3, p);
            if (!res)
                goto fail;
            PQclear(res);
        }
        /* updated_at moves with any change, fields included. */
        const char *p[4] = {id, ctx->who->account_id, name_changed ? new_name : st.name,
                            desc_changed ? new_desc : st.description};
        PGresult *res = db_query(ctx->db, SQL_UPDATE_ENDPOINT, 4, p);
        if (is_name_conflict(res)) {
            PQclear(res);
            tool_fail(ctx, TM_ERR_CONFLICT, NULL, "an endpoint named \"%s\" already exists in this account",
                      new_name ? new_name : st.name);
            goto fail;
        }
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
            tool_db_fail(ctx, res);
            goto fail;
        }
        PQclear(res);
    }

    if (load_detail(ctx, id, &detail) != TM_OK)
        goto fail;
    *result = json_pack("{s:o, s:o, s:b, s:b, s:b}", "endpoint", detail, "diff", diff, "changed", changed,
                        "dry_run", dry_run, "deploy_required", deploy_required);
    free(ftext);
    json_decref(fields);
    state_free(&st);
    return TM_OK;

fail:
    free(ftext);
    json_decref(diff);
    json_decref(fields);
    state_free(&st);
    return ctx->code;
}

/* ---- endpoints_deploy --------------------------------------------------- */

static const char SQL_DEPLOY_CONFIG[] =
    "UPDATE endpoint_configs SET fields = $3::jsonb, version = $4::int, updated_at = now() "
    "WHERE endpoint_id = $1::uuid AND account_id = $2::uuid AND environment = 'production'";
static const char SQL_DEPLOY_ENDPOINT[] =
    "UPDATE endpoints SET prod_version = $3::int, updated_at = now() WHERE id = $1::uuid AND account_id = $2::uuid";
static const char SQL_DEPLOY_RECORD[] =
    "INSERT INTO endpoint_deployments (account_id, endpoint_id, version, snapshot, diff, note, via) "
    "VALUES ($1::uuid, $2::uuid, $3::int, jsonb_build_object('fields', $4::jsonb), $5::jsonb, $6, 'mcp') "
    "RETURNING " TS("created_at");

/* The `deployed` e-mail, queued if the endpoint's rule asks for one and its
 * cool-down has passed (notify.h). The body names the version, the changes
 * (one line per field of the diff) and who deployed. */
static enum tm_error notify_deployed(struct tool_ctx *ctx, const char *id, const struct ep_state *st,
                                     long long version, const json_t *diff, const char *note, const char *at,
                                     const char *url)
{
    struct strbuf sb;
    sb_init(&sb, 512);
    char *head = xasprintf("Your endpoint \"%s\" was deployed to production as version %lld.\n\n"
                           "Version: %lld\nDeployed by: via MCP\nTime: %s\nProduction URL: %s\n",
                           st->name, version, version, at, url);
    sb_append_str(&sb, head);
    free(head);
    if (*note) {
        sb_append_str(&sb, "Note: ");
        sb_append_str(&sb, note);
        sb_append_str(&sb, "\n");
    }
    if (json_array_size(diff) == 0) {
        sb_append_str(&sb, "\nChanges: none to the fields (the first deploy puts production live).\n");
    } else {
        char *count = xasprintf("\nChanges (%zu):\n", json_array_size(diff));
        sb_append_str(&sb, count);
        free(count);
        size_t i;
        const json_t *e;
        json_array_foreach(diff, i, e) {
            char *line = xasprintf("- %s: %s\n", json_string_value(json_object_get(e, "field")),
                                   json_string_value(json_object_get(e, "change")));
            sb_append_str(&sb, line);
            free(line);
        }
    }
    char *body = sb_take(&sb, NULL);
    char *subject = xasprintf("[3Min API] %s deployed to production: version %lld", st->name, version);
    bool queued = false;
    enum tm_error rc = notify_queue(ctx, ctx->who->account_id, id, "deployed", subject, body, &queued);
    if (rc == TM_OK && queued)
        log_info("endpoint %s: queued a deployed notification", id);
    free(subject);
    free(body);
    return rc;
}

enum tm_error tool_endpoints_deploy(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const json_t *jnote = json_object_get(args, "note");
    if (jnote && !json_is_string(jnote))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "note must be a string");
    const char *note = jnote ? json_string_value(jnote) : "";
    bool dry_run = json_is_true(json_object_get(args, "dry_run"));

    char id[40];
    struct ep_state st = {0};
    json_t *diff = NULL;
    char *ftext = NULL, *dtext = NULL, *url = NULL;
    if (resolve(ctx, args, true, id) != TM_OK || load_state(ctx, id, &st) != TM_OK)
        goto fail;

    if (st.sandbox_test_calls == 0) {
        tool_fail(ctx, TM_ERR_PRECONDITION_FAILED, NULL,
                  "deploy needs at least one sandbox test call first: send a test call with api_call "
                  "(environment sandbox), or call %s/api/v1/data/%s with the sandbox key (tm_test_)",
                  ctx->cfg->public_url, st.slug);
        goto fail;
    }
    diff = fields_diff(st.prod_fields, st.sandbox_fields);
    /* The first deploy always has something to publish: production goes live. */
    if (json_array_size(diff) == 0 && st.prod_version > 0) {
        tool_fail(ctx, TM_ERR_PRECONDITION_FAILED, NULL,
                  "production already matches the sandbox (version %lld); nothing to deploy", st.prod_version);
        goto fail;
    }
    long long version = st.prod_version + 1;
    url = gateway_url(ctx->cfg, st.slug);
    json_t *deployed_at = json_null();

    if (!dry_run) {
        char vtext[24];
        snprintf(vtext, sizeof vtext, "%lld", version);
        ftext = json_dumps(st.sandbox_fields, JSON_COMPACT);
        dtext = json_dumps(diff, JSON_COMPACT);
        const char *pc[4] = {id, ctx->who->account_id, ftext, vtext};
        PGresult *res = tool_query(ctx, SQL_DEPLOY_CONFIG, 4, pc);
        if (!res)
            goto fail;
        PQclear(res);
        const char *pe[3] = {id, ctx->who->account_id, vtext};
        if (!(res = tool_query(ctx, SQL_DEPLOY_ENDPOINT, 3, pe)))
            goto fail;
        PQclear(res);
        const char *pr[6] = {ctx->who->account_id, id, vtext, ftext, dtext, note};
        if (!(res = tool_query(ctx, SQL_DEPLOY_RECORD, 6, pr)))
            goto fail;
        deployed_at = json_string(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (notify_deployed(ctx, id, &st, version, diff, note, json_string_value(deployed_at), url) != TM_OK) {
            json_decref(deployed_at);
            goto fail;
        }
        log_info("endpoint %s deployed as version %lld", id, version);
    }

    *result = json_pack("{s:I, s:o, s:o, s:s, s:b}", "version", (json_int_t)version, "deployed_at", deployed_at,
                        "diff", diff, "production_url", url, "dry_run", dry_run);
    free(url);
    free(ftext);
    free(dtext);
    state_free(&st);
    return TM_OK;

fail:
    free(url);
    free(ftext);
    free(dtext);
    json_decref(diff);
    state_free(&st);
    return ctx->code;
}
