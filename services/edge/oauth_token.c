/*
 * oauth_token — /oauth/token (MCP.md §5.6) and /oauth/revoke (RFC 7009).
 *
 * Both take form-encoded bodies only (RFC 6749 defines no other; a JSON body
 * is invalid_request), reject repeated parameters, and authenticate the
 * client by one of none / client_secret_post / client_secret_basic. The
 * decisions that need storage (code, verifier, secret, rotation) are the
 * worker's; the edge checks the request's shape, normalises `resource`,
 * and signs the access token itself with the current ES256 key.
 *
 * Every answer carries Cache-Control: no-store and Pragma: no-cache.
 * invalid_client is 401, with WWW-Authenticate: Basic when the client used
 * the Authorization header (RFC 6749 §5.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/keyvalq_struct.h>
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/oauth_rules.h"
#include "services/edge/edge_http.h"
#include "services/edge/oauth_http.h"
#include "services/edge/oauth_jwt.h"
#include "services/edge/oauth_uri.h"

struct tokreq {
    struct edge *e;
    struct evhttp_request *req;
    struct oauth_params p;
    bool used_basic;
    char *client_id;
    char *client_secret;
};

static void tok_free(struct tokreq *t)
{
    oauth_params_free(&t->p);
    free(t->client_id);
    free(t->client_secret);
    free(t);
}

static void tok_error(struct tokreq *t, int status, const char *error, const char *description)
{
    if (!strcmp(error, "invalid_client")) {
        status = 401;
        if (t->used_basic)
            evhttp_add_header(evhttp_request_get_output_headers(t->req), "WWW-Authenticate",
                              "Basic realm=\"3Min API\"");
    }
    oauth_reply_error(t->e, t->req, status, error, description);
    tok_free(t);
}

/* A failed worker answer as an OAuth error. */
static void tok_worker_error(struct tokreq *t, enum dispatch_status st, const struct env_response *resp,
                             const char *fallback)
{
    char buf[64];
    const char *err = st == DISPATCH_OK ? oauth_worker_error(resp, buf, sizeof buf) : NULL;
    if (err) {
        tok_error(t, 400, err, resp->message && *resp->message ? resp->message : err);
    } else if (st != DISPATCH_OK || resp->code == TM_ERR_UNAVAILABLE) {
        tok_error(t, 503, "temporarily_unavailable", "the authorization service is busy; retry in a few seconds");
    } else if (resp->code == TM_ERR_RATE_LIMITED) {
        tok_error(t, 429, "rate_limited", "too many requests; retry later");
    } else if (resp->code == TM_ERR_INVALID_ARGUMENT) {
        tok_error(t, 400, "invalid_request", resp->message ? resp->message : "invalid request");
    } else if (resp->code == TM_ERR_NOT_FOUND || resp->code == TM_ERR_PERMISSION_DENIED) {
        tok_error(t, 400, fallback, resp->message ? resp->message : fallback);
    } else {
        log_warn("token endpoint: worker failed: %s", resp->message ? resp->message : "?");
        tok_error(t, 500, "server_error", "the request could not be completed");
    }
}

/* Reads the form and the client credentials. On failure the request is
 * answered and NULL returned. */
static struct tokreq *tok_start(struct edge *e, struct evhttp_request *req)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m == EVHTTP_REQ_OPTIONS) {
        oauth_preflight_public(e, req, "POST, OPTIONS");
        return NULL;
    }
    struct tokreq *t = xcalloc(1, sizeof *t);
    t->e = e;
    t->req = req;
    if (m != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST, OPTIONS");
        tok_error(t, 405, "invalid_request", "use POST");
        return NULL;
    }
    size_t len;
    bool too_big;
    const char *body = oauth_body(req, OAUTH_MAX_BODY, &len, &too_big);
    if (!body) {
        tok_error(t, 413, "invalid_request", "the request body is larger than 16 KiB");
        return NULL;
    }
    if (!oauth_content_type_is(http_header(req, "Content-Type"), "application/x-www-form-urlencoded")) {
        tok_error(t, 400, "invalid_request", "the body must be application/x-www-form-urlencoded");
        return NULL;
    }
    char dup[64];
    switch (oauth_params_parse(body, len, NULL, &t->p, dup, sizeof dup)) {
    case OAUTH_PARSE_OK:
        break;
    case OAUTH_PARSE_DUPLICATE: {
        char d[128];
        snprintf(d, sizeof d, "the %s parameter is repeated", dup);
        tok_error(t, 400, "invalid_request", d);
        return NULL;
    }
    default:
        tok_error(t, 400, "invalid_request", "the form body is malformed");
        return NULL;
    }
    const char *authz = http_header(req, "Authorization");
    const char *body_id = oauth_params_get(&t->p, "client_id");
    const char *body_secret = oauth_params_get(&t->p, "client_secret");
    if (authz) {
        if (!oauth_basic_credentials(authz, &t->used_basic, &t->client_id, &t->client_secret)) {
            if (t->used_basic)
                tok_error(t, 401, "invalid_client", "the Basic credentials are malformed");
            else
                tok_error(t, 400, "invalid_request", "unsupported Authorization scheme (use Basic or the body)");
            return NULL;
        }
        /* One authentication method per request (RFC 6749 §2.3). */
        if (body_secret) {
            tok_error(t, 400, "invalid_request", "client credentials were sent both in the header and the body");
            return NULL;
        }
        if (body_id && strcmp(body_id, t->client_id) != 0) {
            tok_error(t, 401, "invalid_client", "client_id differs from the authenticated client");
            return NULL;
        }
    } else {
        t->client_id = body_id ? xstrdup(body_id) : NULL;
        t->client_secret = body_secret ? xstrdup(body_secret) : NULL;
    }
    if (!t->client_id || !*t->client_id || strlen(t->client_id) > OAUTH_CLIENT_ID_MAX) {
        tok_error(t, 401, "invalid_client", "client_id is missing");
        return NULL;
    }
    return t;
}

/* ---- /oauth/token ---- */

static void on_grant(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct tokreq *t = arg;
    if (st != DISPATCH_OK || !resp->ok) {
        tok_worker_error(t, st, resp, "invalid_grant");
        return;
    }
    json_t *r = oauth_worker_result(resp);
    const char *account = json_string_value(json_object_get(r, "account_id"));
    const char *client = json_string_value(json_object_get(r, "client_id"));
    const char *gid = json_string_value(json_object_get(r, "grant_id"));
    const char *refresh = json_string_value(json_object_get(r, "refresh_token"));
    json_t *sj = json_object_get(r, "scope");
    char scope[64] = "";
    if (json_is_string(sj)) {
        uint32_t bits;
        if (oauth_scope_parse(json_string_value(sj), &bits) == 0)
            scopes_format(bits, scope, sizeof scope);
    } else if (json_is_array(sj)) {
        size_t i;
        json_t *s;
        uint32_t all = 0, bits;
        json_array_foreach(sj, i, s)
        {
            if (json_is_string(s) && oauth_scope_parse(json_string_value(s), &bits) == 0)
                all |= bits;
        }
        scopes_format(all, scope, sizeof scope);
    }
    char *aud = xasprintf("%s/api/mcp", t->e->cfg->public_url);
    struct oauth_claims c = {
        .iss = t->e->cfg->public_url,
        .sub = account,
        .aud = aud,
        .client_id = client ? client : t->client_id,
        .scope = scope,
        .gid = gid,
        .iat = now_ms() / 1000,
    };
    char *jwt = account && gid && refresh && *scope && t->e->keys_oauth ? oauth_jwt_sign(t->e->keys_oauth, &c) : NULL;
    free(aud);
    if (!jwt) {
        log_error("token endpoint: cannot issue an access token (%s)",
                  t->e->keys_oauth ? "malformed worker answer or signing failure" : "no signing key");
        json_decref(r);
        tok_error(t, 500, "server_error", "the access token could not be issued");
        return;
    }
    json_t *out = json_pack("{s:s,s:s,s:i,s:s,s:s}", "access_token", jwt, "token_type", "Bearer", "expires_in",
                            OAUTH_JWT_TTL, "refresh_token", refresh, "scope", scope);
    free(jwt);
    json_decref(r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(t->req);
    evhttp_add_header(h, "Pragma", "no-cache");
    oauth_cors_public(t->req);
    http_reply_json(t->e, t->req, 200, out);
    json_decref(out);
    tok_free(t);
}

/* The secret (if any) and how the client presented it: the worker refuses a
 * method other than the one the client registered (RFC 7591 §2). */
static void add_secret(json_t *args, const struct tokreq *t)
{
    if (t->client_secret)
        json_object_set_new(args, "client_secret", json_string(t->client_secret));
    const char *method = !t->client_secret ? "none" : t->used_basic ? "client_secret_basic" : "client_secret_post";
    json_object_set_new(args, "auth_method", json_string(method));
}

void oauth_route_token(struct edge *e, struct evhttp_request *req)
{
    struct tokreq *t = tok_start(e, req);
    if (!t)
        return;
    const char *grant = oauth_params_get(&t->p, "grant_type");
    const char *resource = oauth_params_get(&t->p, "resource");
    if (!grant) {
        tok_error(t, 400, "invalid_request", "grant_type is missing");
        return;
    }
    bool is_code = !strcmp(grant, "authorization_code"), is_refresh = !strcmp(grant, "refresh_token");
    if (!is_code && !is_refresh) {
        tok_error(t, 400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token");
        return;
    }
    /* Every accepted form names our one resource; aud is always canonical. */
    if (resource && !oauth_resource_ok(e->cfg->public_url, resource)) {
        tok_error(t, 400, "invalid_target", "resource is not this server's MCP endpoint");
        return;
    }
    json_t *args;
    if (is_code) {
        const char *code = oauth_params_get(&t->p, "code");
        const char *redirect = oauth_params_get(&t->p, "redirect_uri");
        const char *verifier = oauth_params_get(&t->p, "code_verifier");
        if (!code || !*code) {
            tok_error(t, 400, "invalid_request", "code is missing");
            return;
        }
        if (!redirect || !*redirect) {
            tok_error(t, 400, "invalid_request", "redirect_uri is missing");
            return;
        }
        if (!verifier || !*verifier) {
            tok_error(t, 400, "invalid_request", "code_verifier is missing (PKCE is required)");
            return;
        }
        args = json_pack("{s:s,s:s,s:s,s:s}", "code", code, "client_id", t->client_id, "redirect_uri", redirect,
                         "code_verifier", verifier);
    } else {
        const char *refresh = oauth_params_get(&t->p, "refresh_token");
        const char *scope = oauth_params_get(&t->p, "scope");
        if (!refresh || !*refresh) {
            tok_error(t, 400, "invalid_request", "refresh_token is missing");
            return;
        }
        uint32_t bits;
        if (scope && oauth_scope_parse(scope, &bits) != 0) {
            tok_error(t, 400, "invalid_scope", "scope may contain read, write and execute");
            return;
        }
        args = json_pack("{s:s,s:s}", "refresh_token", refresh, "client_id", t->client_id);
        if (scope && bits) {
            char s[64];
            scopes_format(bits, s, sizeof s);
            json_object_set_new(args, "scope", json_string(s));
        }
    }
    add_secret(args, t);
    oauth_worker_call(e, is_code ? "oauth.redeem_code" : "oauth.refresh", args, on_grant, t);
}

/* ---- /oauth/revoke ---- */

static void on_revoked(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct tokreq *t = arg;
    if (st != DISPATCH_OK || !resp->ok) {
        char buf[64];
        const char *err = st == DISPATCH_OK ? oauth_worker_error(resp, buf, sizeof buf) : NULL;
        /* RFC 7009 §2.2: an unknown or already invalid token is not an error. */
        if (st == DISPATCH_OK && !err && (resp->code == TM_ERR_NOT_FOUND)) {
            on_revoked(arg, DISPATCH_OK, &(struct env_response){.ok = true});
            return;
        }
        tok_worker_error(t, st, resp, "invalid_request");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(t->req), "Pragma", "no-cache");
    oauth_cors_public(t->req);
    http_reply(t->e, t->req, 200, "application/json", "{}", 2);
    tok_free(t);
}

void oauth_route_revoke(struct edge *e, struct evhttp_request *req)
{
    struct tokreq *t = tok_start(e, req);
    if (!t)
        return;
    const char *token = oauth_params_get(&t->p, "token");
    if (!token || !*token) {
        tok_error(t, 400, "invalid_request", "token is missing");
        return;
    }
    json_t *args = json_pack("{s:s,s:s}", "token", token, "client_id", t->client_id);
    add_secret(args, t);
    oauth_worker_call(e, "oauth.revoke", args, on_revoked, t);
}
