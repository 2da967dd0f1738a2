/*
 * oauth_register — Dynamic Client Registration, POST /oauth/register
 * (RFC 7591, MCP.md §5.4).
 *
 * The edge validates the metadata (types, sizes, the redirect URI rules of
 * oauth_rules) so that bad requests get the precise RFC 7591 error, then
 * forwards only the fields it understood to the worker, which stores the
 * client (and enforces the per-address registration limit). Unknown fields
 * are dropped, as RFC 7591 §2 allows.
 */
#include <stdio.h>
#include <string.h>
#include "common/log.h"
#include "common/util.h"
#include "proto/oauth_rules.h"
#include "services/edge/edge_http.h"
#include "services/edge/oauth_http.h"

#define REG_MAX_REDIRECTS 10
#define REG_MAX_TEXT 500

struct regreq {
    struct edge *e;
    struct evhttp_request *req;
};

static void reg_error(struct edge *e, struct evhttp_request *req, const char *error, const char *description)
{
    oauth_reply_error(e, req, 400, error, description);
}

static void on_registered(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct regreq *r = arg;
    struct edge *e = r->e;
    struct evhttp_request *req = r->req;
    free(r);
    if (st != DISPATCH_OK) {
        oauth_reply_error(e, req, 503, "temporarily_unavailable", "registration is busy; retry in a few seconds");
        return;
    }
    if (!resp->ok) {
        char buf[64];
        const char *err = oauth_worker_error(resp, buf, sizeof buf);
        const char *msg = resp->message && *resp->message ? resp->message : "registration failed";
        if (resp->code == TM_ERR_RATE_LIMITED) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "60");
            oauth_reply_error(e, req, 429, "rate_limited", "too many registrations from this address; retry later");
        } else if (err) {
            reg_error(e, req, err, msg);
        } else if (resp->code == TM_ERR_INVALID_ARGUMENT) {
            reg_error(e, req, "invalid_client_metadata", msg);
        } else if (resp->code == TM_ERR_UNAVAILABLE) {
            oauth_reply_error(e, req, 503, "temporarily_unavailable", "registration is busy; retry in a few seconds");
        } else {
            log_warn("oauth.register_client failed: %s", msg);
            oauth_reply_error(e, req, 500, "server_error", "the client could not be registered");
        }
        return;
    }
    json_t *out = oauth_worker_result(resp);
    if (!out || !json_is_string(json_object_get(out, "client_id"))) {
        json_decref(out);
        oauth_reply_error(e, req, 500, "server_error", "the client could not be registered");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Pragma", "no-cache");
    oauth_cors_public(req);
    http_reply_json(e, req, 201, out);
    json_decref(out);
}

/* Copies an optional bounded string field; false (answered) if it has the
 * wrong type or size. */
static bool copy_text(struct edge *e, struct evhttp_request *req, const json_t *in, json_t *out, const char *name)
{
    json_t *v = json_object_get(in, name);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v) || json_string_length(v) > REG_MAX_TEXT || memchr(json_string_value(v), 0, json_string_length(v))) {
        char d[128];
        snprintf(d, sizeof d, "%s must be a string of at most %d bytes", name, REG_MAX_TEXT);
        reg_error(e, req, "invalid_client_metadata", d);
        return false;
    }
    json_object_set(out, name, v);
    return true;
}

/* A string array field whose members are all in allowed; default used when absent. */
static bool copy_enum_array(struct edge *e, struct evhttp_request *req, const json_t *in, json_t *out,
                            const char *name, const char *const *allowed, const char *dflt)
{
    json_t *v = json_object_get(in, name);
    if (!v || json_is_null(v)) {
        json_object_set_new(out, name, json_pack("[s]", dflt));
        return true;
    }
    bool ok = json_is_array(v) && json_array_size(v) > 0 && json_array_size(v) <= 4;
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        bool known = false;
        for (const char *const *a = allowed; json_is_string(s) && *a; a++)
            known |= !strcmp(json_string_value(s), *a);
        ok &= known;
    }
    if (!ok) {
        char d[160];
        snprintf(d, sizeof d, "%s may contain only: %s%s%s", name, allowed[0], allowed[1] ? ", " : "",
                 allowed[1] ? allowed[1] : "");
        reg_error(e, req, "invalid_client_metadata", d);
        return false;
    }
    json_object_set(out, name, v);
    return true;
}

void oauth_route_register(struct edge *e, struct evhttp_request *req)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m == EVHTTP_REQ_OPTIONS) {
        oauth_preflight_public(e, req, "POST, OPTIONS");
        return;
    }
    if (m != EVHTTP_REQ_POST) {
        oauth_cors_public(req);
        oauth_reply_method_not_allowed(e, req, "POST, OPTIONS");
        return;
    }
    size_t len;
    bool too_big;
    const char *body = oauth_body(req, OAUTH_MAX_BODY, &len, &too_big);
    if (!body) {
        oauth_reply_error(e, req, 413, "invalid_client_metadata", "the registration is larger than 16 KiB");
        return;
    }
    json_error_t jerr;
    json_t *in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(in)) {
        json_decref(in);
        reg_error(e, req, "invalid_client_metadata", "the body must be a JSON object (RFC 7591)");
        return;
    }
    json_t *uris = json_object_get(in, "redirect_uris");
    if (!json_is_array(uris) || json_array_size(uris) == 0) {
        json_decref(in);
        reg_error(e, req, "invalid_client_metadata", "redirect_uris must be a non-empty array");
        return;
    }
    if (json_array_size(uris) > REG_MAX_REDIRECTS) {
        json_decref(in);
        reg_error(e, req, "invalid_redirect_uri", "at most 10 redirect_uris");
        return;
    }
    size_t i;
    json_t *u;
    json_array_foreach(uris, i, u)
    {
        char why[160] = "";
        if (!json_is_string(u)) {
            json_decref(in);
            reg_error(e, req, "invalid_redirect_uri", "redirect_uris must be strings");
            return;
        }
        if (!oauth_redirect_uri_valid_for_registration(json_string_value(u), e->cfg->oauth_redirect_origins, why,
                                                      sizeof why)) {
            char d[256];
            snprintf(d, sizeof d, "redirect URI not allowed: %s", why[0] ? why : "invalid");
            json_decref(in);
            reg_error(e, req, "invalid_redirect_uri", d);
            return;
        }
    }
    json_t *md = json_object();
    json_object_set(md, "redirect_uris", uris);
    json_t *method = json_object_get(in, "token_endpoint_auth_method");
    const char *am = json_is_string(method) ? json_string_value(method) : NULL;
    if (method && !json_is_null(method) &&
        (!am || (strcmp(am, "none") && strcmp(am, "client_secret_post") && strcmp(am, "client_secret_basic")))) {
        json_decref(in);
        json_decref(md);
        reg_error(e, req, "invalid_client_metadata",
                  "token_endpoint_auth_method must be none, client_secret_post or client_secret_basic");
        return;
    }
    /* RFC 7591 §2: the default is client_secret_basic. */
    json_object_set_new(md, "token_endpoint_auth_method", json_string(am ? am : "client_secret_basic"));
    static const char *const GRANTS[] = {"authorization_code", "refresh_token", NULL};
    static const char *const RESPONSES[] = {"code", NULL};
    static const char *const TEXT[] = {"client_name", "client_uri", "logo_uri", "tos_uri", "policy_uri",
                                       "software_id", "software_version", "application_type", NULL};
    bool ok = copy_enum_array(e, req, in, md, "grant_types", GRANTS, "authorization_code") &&
              copy_enum_array(e, req, in, md, "response_types", RESPONSES, "code");
    for (const char *const *t = TEXT; ok && *t; t++)
        ok = copy_text(e, req, in, md, *t);
    if (ok) {
        json_t *scope = json_object_get(in, "scope");
        uint32_t bits;
        if (scope && !json_is_null(scope)) {
            if (!json_is_string(scope) || oauth_scope_parse(json_string_value(scope), &bits) != 0) {
                reg_error(e, req, "invalid_client_metadata", "scope may contain read, write and execute");
                ok = false;
            } else {
                json_object_set(md, "scope", scope);
            }
        }
    }
    json_decref(in);
    if (!ok) {
        json_decref(md);
        return;
    }
    char ip[64];
    http_client_ip(req, ip, sizeof ip);
    struct regreq *r = xcalloc(1, sizeof *r);
    r->e = e;
    r->req = req;
    oauth_worker_call(e, "oauth.register_client", json_pack("{s:o,s:s}", "metadata", md, "ip", ip), on_registered, r);
}
