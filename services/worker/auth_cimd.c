/*
 * auth_cimd — the worker operation oauth.resolve_cimd (cimd_fetch.h): a
 * client whose client_id is the URL of its metadata document.
 *
 * The document is cached in oauth_clients (reg_type 'cimd') until
 * cimd_expires_at (its Cache-Control max-age clamped to 5 min..24 h). After
 * that it is fetched again; if the fetch fails (the network, a 403 from a
 * bot filter, HTML instead of JSON) the stale row is used and its expiry
 * pushed by STALE_RETRY_S, so an origin that is down costs one blocked
 * worker thread per minute rather than one per request. A document that is
 * fetched but no longer valid is refused: its owner changed it.
 *
 * The row is what the token endpoint finds later: a public client
 * (token_endpoint_auth_method none, no secret), so PKCE is its proof.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/oauth_rules.h"
#include "services/worker/cimd_fetch.h"

#define STALE_RETRY_S 60

static const char SQL_CIMD_GET[] =
    "SELECT client_id, client_name, array_to_json(redirect_uris)::text, scope, "
    "coalesce(cimd_expires_at > now(), false), coalesce(cimd_fetched_at::text, '') "
    "FROM oauth_clients WHERE client_id = $1 AND reg_type = 'cimd'";
static const char SQL_CIMD_STALE[] =
    "UPDATE oauth_clients SET cimd_expires_at = now() + make_interval(secs => $2::int) "
    "WHERE client_id = $1 AND reg_type = 'cimd'";
static const char SQL_CIMD_UPSERT[] =
    "INSERT INTO oauth_clients (client_id, client_name, redirect_uris, token_endpoint_auth_method, grant_types, "
    "response_types, scope, reg_type, metadata, cimd_fetched_at, cimd_expires_at) "
    "VALUES ($1, $2, ARRAY(SELECT json_array_elements_text($3::json)), 'none', "
    "ARRAY['authorization_code', 'refresh_token'], ARRAY['code'], $4, 'cimd', $5::jsonb, now(), "
    "now() + make_interval(secs => $6::int)) "
    "ON CONFLICT (client_id) DO UPDATE SET client_name = EXCLUDED.client_name, "
    "redirect_uris = EXCLUDED.redirect_uris, scope = EXCLUDED.scope, metadata = EXCLUDED.metadata, "
    "cimd_fetched_at = EXCLUDED.cimd_fetched_at, cimd_expires_at = EXCLUDED.cimd_expires_at "
    "WHERE oauth_clients.reg_type = 'cimd' RETURNING client_id";

static enum tm_error refuse(struct tool_ctx *ctx, const char *why)
{
    return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, json_pack("{s:s}", "oauth_error", "invalid_client"),
                     "client metadata document refused: %s", why);
}

static json_t *client_json(const char *client_id, const char *name, json_t *uris, const char *scope)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:[ss]}", "client_id", client_id, "client_name", name,
                     "redirect_uris", uris, "token_endpoint_auth_method", "none", "scope", scope, "reg_type",
                     "cimd", "grant_types", "authorization_code", "refresh_token");
}

static json_t *row_json(PGresult *r)
{
    json_t *uris = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
    if (!json_is_array(uris)) {
        json_decref(uris);
        uris = json_array();
    }
    return client_json(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), uris, PQgetvalue(r, 0, 3));
}

/* The scopes a document names that we know; none known means all (as DCR). */
static void doc_scope(const json_t *doc, char *out, size_t cap)
{
    uint32_t bits = 0;
    const char *s = json_string_value(json_object_get(doc, "scope"));
    if (s && strlen(s) <= 1000) {
        char *copy = xstrdup(s);
        for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            uint32_t b;
            if (oauth_scope_parse(w, &b) == 0)
                bits |= b;
        }
        free(copy);
    }
    scopes_format(bits ? bits : SCOPE_ALL, out, cap);
}

enum tm_error auth_oauth_resolve_cimd(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *url = json_string_value(json_object_get(args, "client_id"));
    bool allow_private = ctx->cfg->oauth_allow_private_cimd != 0;
    char why[256];
    if (!cimd_url_check(url, allow_private, NULL, why, sizeof why))
        return refuse(ctx, why);

    const char *p1[1] = {url};
    PGresult *cached = db_query(ctx->db, SQL_CIMD_GET, 1, p1);
    if (!cached || PQresultStatus(cached) != PGRES_TUPLES_OK)
        return tool_db_fail(ctx, cached);
    bool have = PQntuples(cached) == 1;
    if (have && !strcmp(PQgetvalue(cached, 0, 4), "t")) {
        *result = row_json(cached);
        PQclear(cached);
        return TM_OK;
    }

    struct cimd_http resp;
    int64_t t0 = mono_ms();
    if (!cimd_fetch(url, allow_private, CIMD_FETCH_TIMEOUT_MS, &resp, why, sizeof why)) {
        if (!have) {
            PQclear(cached);
            log_info("cimd: %s: %s (%lld ms)", url, why, (long long)(mono_ms() - t0));
            return refuse(ctx, why);
        }
        log_warn("cimd: %s: %s; using the copy fetched at %s", url, why, PQgetvalue(cached, 0, 5));
        char secs[16];
        snprintf(secs, sizeof secs, "%d", STALE_RETRY_S);
        const char *p2[2] = {url, secs};
        PGresult *u = db_query(ctx->db, SQL_CIMD_STALE, 2, p2);
        if (!u || PQresultStatus(u) != PGRES_COMMAND_OK) {
            PQclear(cached);
            return tool_db_fail(ctx, u);
        }
        PQclear(u);
        *result = row_json(cached);
        PQclear(cached);
        return TM_OK;
    }
    PQclear(cached);

    json_t *doc = cimd_document_check(resp.body, resp.body_len, url, why, sizeof why);
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", cimd_cache_ttl(resp.cache_control));
    cimd_http_free(&resp);
    if (!doc) {
        log_info("cimd: %s: %s", url, why);
        return refuse(ctx, why);
    }
    char scope[64];
    doc_scope(doc, scope, sizeof scope);
    const char *name = json_string_value(json_object_get(doc, "client_name"));
    json_t *uris = json_object_get(doc, "redirect_uris");
    char *uris_text = json_dumps(uris, JSON_COMPACT);
    char *doc_text = json_dumps(doc, JSON_COMPACT);
    const char *p6[6] = {url, name, uris_text, scope, doc_text, ttl};
    PGresult *r = db_query(ctx->db, SQL_CIMD_UPSERT, 6, p6);
    free(uris_text);
    free(doc_text);
    enum tm_error code = TM_OK;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        code = tool_db_fail(ctx, r);
        r = NULL;
    } else if (PQntuples(r) != 1) {
        code = refuse(ctx, "this client_id is registered otherwise");
    } else {
        log_info("cimd: %s fetched (%lld ms, cached %s s)", url, (long long)(mono_ms() - t0), ttl);
        *result = client_json(url, name, json_deep_copy(uris), scope);
    }
    PQclear(r);
    json_decref(doc);
    return code;
}
