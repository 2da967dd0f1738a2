/*
 * oauth_authorize — /oauth/authorize: validation of the authorization
 * request, the sign-in form and the consent page (MCP.md §5.5).
 *
 * GET shows the login page (no valid session cookie) or the consent page.
 * Both forms POST back to /oauth/authorize carrying the original request
 * parameters in hidden fields, and every POST validates the request again
 * from scratch, exactly like the GET: hidden fields are as hostile as the
 * query string. A POST with `email` is a sign-in, with `decision` a consent.
 *
 * Order of checks (RFC 6749 §4.1.2.1): client, then redirect URI; while
 * either is in doubt we show an error page and never redirect. Every later
 * error redirects with error, error_description, state and iss.
 *
 * A client_id that is an https URL (or http with OAUTH_ALLOW_PRIVATE_CIMD=1)
 * names a Client ID Metadata Document: a worker fetches or reuses it
 * (oauth.resolve_cimd) on the GET and on every POST, and a document that
 * cannot be used is an error page like an unknown client. Its consent page
 * names the document's host as the relying party.
 *
 * CSRF: the consent form carries the session's csrf value (from the worker);
 * the sign-in form, which has no session yet, uses a double-submit cookie.
 * Both are compared in constant time. Cookies are HttpOnly, SameSite=Lax,
 * and under https Secure with the __Host- prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/keyvalq_struct.h>
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "proto/cimd_rules.h"
#include "proto/oauth_rules.h"
#include "services/edge/edge_http.h"
#include "services/edge/oauth_http.h"
#include "services/edge/oauth_uri.h"
#include "services/edge/web_pages.h"
#include "services/edge/web_session.h"

#define AUTHZ_PATH "/oauth/authorize"

/* The parameters of an authorization request we carry through the forms.
 * Anything else in the request is ignored (RFC 6749 §3.1). */
static const char *const CARRIED[] = {"response_type", "client_id", "redirect_uri", "code_challenge",
                                      "code_challenge_method", "state", "scope", "resource", NULL};
/* Names that may legitimately repeat: resource (RFC 8707) and, in a consent
 * POST, the scope checkboxes. Other repeats are detected by count below. */
static const char *const MAY_REPEAT[] = {"response_type", "client_id", "redirect_uri", "code_challenge",
                                         "code_challenge_method", "state", "scope", "resource", "csrf_token",
                                         "email", "password", "decision", NULL};

struct authz {
    struct edge *e;
    struct evhttp_request *req;
    bool post;
    bool consent_post;          /* POST with decision */
    bool login_post;            /* POST with email */
    struct oauth_params p;      /* everything received */
    struct oauth_params carry;  /* the request parameters, for hidden fields and URLs */
    const char *client_id, *redirect_uri, *state;
    char *client_name;
    bool self_registered;
    bool cimd;                  /* client_id is a metadata document URL */
    char *client_host;          /* cimd: the host of client_id */
    bool loopback_only;         /* cimd: every redirect URI is loopback */
    uint32_t requested;         /* scopes asked for */
    char *session;              /* session cookie value */
    char *csrf;                 /* session csrf (consent) */
    char *email;                /* signed-in e-mail */
};

static void authz_free(struct authz *a)
{
    oauth_params_free(&a->p);
    oauth_params_free(&a->carry);
    free(a->client_name);
    free(a->client_host);
    free(a->session);
    free(a->csrf);
    free(a->email);
    free(a);
}

static void error_page(struct authz *a, int status, const char *title, const char *message)
{
    web_reply_error(a->e, a->req, status, title, message);
    authz_free(a);
}

/* 302 to the client's redirect URI (already validated) with the given
 * parameters plus state and iss. */
static void redirect_with(struct authz *a, const char *k1, const char *v1, const char *k2, const char *v2)
{
    /* A pair with a NULL value is skipped; a NULL key would end the list. */
    const char *pairs[] = {k1, v1, k2 ? k2 : "", k2 ? v2 : NULL, "state", a->state, "iss", a->e->cfg->public_url,
                           NULL};
    char *url = oauth_url_with_params(a->redirect_uri, pairs);
    evhttp_add_header(evhttp_request_get_output_headers(a->req), "Location", url);
    evhttp_add_header(evhttp_request_get_output_headers(a->req), "Referrer-Policy", "no-referrer");
    http_reply(a->e, a->req, 302, NULL, NULL, 0);
    free(url);
    authz_free(a);
}

static void redirect_error(struct authz *a, const char *error, const char *description)
{
    redirect_with(a, "error", error, "error_description", description);
}

static void render_login(struct authz *a, int status, const char *message)
{
    char *csrf = web_csrf_token(a->e, a->req);
    const char *email = a->login_post ? oauth_params_get(&a->p, "email") : NULL;
    struct web_login v = {
        .action = AUTHZ_PATH,
        .hidden = &a->carry,
        .csrf = csrf,
        .client_name = a->client_name,
        .email = email,
        .message = message,
    };
    char *html = web_page_login(&v);
    web_reply_html(a->e, a->req, status, html);
    free(html);
    free(csrf);
    authz_free(a);
}

static void render_consent(struct authz *a)
{
    char *host = oauth_uri_host(a->redirect_uri);
    struct web_consent v = {
        .action = AUTHZ_PATH,
        .hidden = &a->carry,
        .csrf = a->csrf,
        .client_name = a->client_name,
        .self_registered = a->self_registered,
        .client_host = a->client_host,
        .loopback_only = a->loopback_only,
        .redirect_host = host,
        .loopback_redirect = oauth_redirect_uri_is_loopback(a->redirect_uri),
        .requested = a->requested,
        .account_email = a->email,
    };
    char *html = web_page_consent(&v);
    web_reply_html_form_to(a->e, a->req, 200, html, a->redirect_uri);
    free(html);
    free(host);
    authz_free(a);
}

/* ---- consent: create the code ---- */

static void on_code(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct authz *a = arg;
    if (st != DISPATCH_OK) {
        redirect_error(a, "temporarily_unavailable", "the authorization service is busy; try again");
        return;
    }
    json_t *r = oauth_worker_result(resp);
    const char *code = json_string_value(json_object_get(r, "code"));
    if (code) {
        redirect_with(a, "code", code, NULL, NULL);
    } else {
        char buf[64];
        const char *err = oauth_worker_error(resp, buf, sizeof buf);
        if (!resp->ok)
            log_warn("oauth.create_code failed: %s", resp->message ? resp->message : "?");
        if (err)
            redirect_error(a, err, resp->message ? resp->message : err);
        else if (!resp->ok && resp->code == TM_ERR_UNAVAILABLE)
            redirect_error(a, "temporarily_unavailable", "the authorization service is busy; try again");
        else
            redirect_error(a, "server_error", "the authorization code could not be issued");
    }
    json_decref(r);
}

static void consent_decided(struct authz *a)
{
    const char *decision = oauth_params_get(&a->p, "decision");
    if (!strcmp(decision, "deny")) {
        redirect_error(a, "access_denied", "the user denied access");
        return;
    }
    if (strcmp(decision, "allow") != 0) {
        error_page(a, 400, "Something went wrong", "The form was not understood. Start the connection again.");
        return;
    }
    uint32_t granted = 0;
    for (int i = 0; i < a->p.n; i++) {
        if (strcmp(a->p.key[i], "scope"))
            continue;
        uint32_t bits;
        if (oauth_scope_parse(a->p.val[i], &bits) != 0) {
            redirect_error(a, "invalid_scope", "unknown scope");
            return;
        }
        granted |= bits;
    }
    if (!granted) {
        redirect_error(a, "access_denied", "no permission was granted");
        return;
    }
    char scope[64];
    scopes_format(granted, scope, sizeof scope);
    json_t *args = json_pack("{s:s,s:s,s:s,s:s,s:s+,s:s}", "session", a->session, "client_id", a->client_id,
                             "redirect_uri", a->redirect_uri, "code_challenge",
                             oauth_params_get(&a->p, "code_challenge"), "resource", a->e->cfg->public_url,
                             "/api/mcp", "scope", scope);
    oauth_worker_call(a->e, "oauth.create_code", args, on_code, a);
}

/* ---- session ---- */

static void on_session(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct authz *a = arg;
    if (st != DISPATCH_OK || (!resp->ok && resp->code != TM_ERR_NOT_FOUND)) {
        error_page(a, 503, "Temporarily unavailable", "Sign-in is not available right now. Try again in a minute.");
        return;
    }
    json_t *r = oauth_worker_result(resp);
    const char *csrf = json_string_value(json_object_get(r, "csrf"));
    const char *email = json_string_value(json_object_get(r, "email"));
    if (!resp->ok || !csrf) {
        json_decref(r);
        render_login(a, a->consent_post ? 401 : 200,
                     a->consent_post ? "Your sign-in has expired. Sign in again to continue." : NULL);
        return;
    }
    a->csrf = xstrdup(csrf);
    a->email = email ? xstrdup(email) : NULL;
    json_decref(r);
    if (!a->consent_post) {
        render_consent(a);
        return;
    }
    const char *token = oauth_params_get(&a->p, "csrf_token");
    if (!token || !ct_equal(token, strlen(token), a->csrf, strlen(a->csrf))) {
        error_page(a, 403, "Request refused",
                   "This form could not be verified (it may have been sent from another site). Start the "
                   "connection again.");
        return;
    }
    consent_decided(a);
}

static void check_session(struct authz *a)
{
    a->session = web_cookie_get(a->req, web_session_cookie(a->e));
    if (!a->session) {
        if (a->consent_post)
            render_login(a, 401, "Your sign-in has expired. Sign in again to continue.");
        else
            render_login(a, 200, NULL);
        return;
    }
    oauth_worker_call(a->e, "web.session", json_pack("{s:s}", "session", a->session), on_session, a);
}

/* ---- sign-in ---- */

/* A locked account: the worker says how long the lock lasts (details.retry_after_s). */
static void login_locked(struct authz *a, const struct env_response *resp)
{
    json_t *d = resp->details ? json_loadb(resp->details, resp->details_len, 0, NULL) : NULL;
    json_int_t secs = json_integer_value(json_object_get(d, "retry_after_s"));
    json_decref(d);
    if (secs <= 0 || secs > 86400)
        secs = 900;
    char ra[24], msg[160];
    snprintf(ra, sizeof ra, "%lld", (long long)secs);
    snprintf(msg, sizeof msg,
             "Too many failed sign-ins for this account. Sign-in is locked; try again in %lld minute%s.",
             (long long)(secs + 59) / 60, (secs + 59) / 60 == 1 ? "" : "s");
    evhttp_add_header(evhttp_request_get_output_headers(a->req), "Retry-After", ra);
    render_login(a, 429, msg);
}

static void on_login(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct authz *a = arg;
    if (st == DISPATCH_OK && !resp->ok && resp->code == TM_ERR_RATE_LIMITED) {
        login_locked(a, resp);
        return;
    }
    /* Signed in: back to the same authorization request as a GET
     * (POST-redirect-GET), which now finds the session and shows the consent page. */
    const char **pairs = xcalloc((size_t)(2 * a->carry.n + 1), sizeof *pairs);
    for (int i = 0; i < a->carry.n; i++) {
        pairs[2 * i] = a->carry.key[i];
        pairs[2 * i + 1] = a->carry.val[i];
    }
    const char *message;
    int status = web_login_answered(a->e, a->req, st, resp, AUTHZ_PATH, pairs, &message);
    free(pairs);
    if (status)
        render_login(a, status, message);
    else
        authz_free(a);
}

static void login(struct authz *a)
{
    int status;
    const char *message;
    if (!web_login_submit(a->e, a->req, &a->p, on_login, a, &status, &message))
        render_login(a, status, message);
}

/* ---- request validation ---- */

static void validated(struct authz *a)
{
    if (a->login_post)
        login(a);
    else
        check_session(a);
}

/* Everything after client and redirect URI are known good: errors redirect. */
static void check_request(struct authz *a)
{
    for (const char *const *n = CARRIED; *n; n++) {
        int max = !strcmp(*n, "resource") || (a->consent_post && !strcmp(*n, "scope")) ? OAUTH_MAX_PARAMS : 1;
        if (oauth_params_count(&a->p, *n) > max) {
            if (!strcmp(*n, "state"))
                a->state = NULL;
            char d[96];
            snprintf(d, sizeof d, "the %s parameter is repeated", *n);
            redirect_error(a, "invalid_request", d);
            return;
        }
    }
    const char *rt = oauth_params_get(&a->p, "response_type");
    if (!rt) {
        redirect_error(a, "invalid_request", "response_type is missing");
        return;
    }
    if (strcmp(rt, "code") != 0) {
        redirect_error(a, "unsupported_response_type", "only response_type=code is supported");
        return;
    }
    const char *cc = oauth_params_get(&a->p, "code_challenge");
    const char *ccm = oauth_params_get(&a->p, "code_challenge_method");
    if (!cc) {
        redirect_error(a, "invalid_request", "code_challenge is required (PKCE with S256)");
        return;
    }
    if (!ccm || strcmp(ccm, "S256") != 0) {
        redirect_error(a, "invalid_request", "code_challenge_method must be S256");
        return;
    }
    if (!oauth_pkce_challenge_valid(cc)) {
        redirect_error(a, "invalid_request", "code_challenge must be 43 characters of base64url");
        return;
    }
    for (int i = 0; i < a->p.n; i++) {
        if (!strcmp(a->p.key[i], "resource") && !oauth_resource_ok(a->e->cfg->public_url, a->p.val[i])) {
            redirect_error(a, "invalid_target", "resource is not this server's MCP endpoint");
            return;
        }
    }
    if (!a->consent_post) {
        const char *scope = oauth_params_get(&a->p, "scope");
        uint32_t bits = 0;
        if (scope && oauth_scope_parse(scope, &bits) != 0) {
            redirect_error(a, "invalid_scope", "scope may contain read, write and execute");
            return;
        }
        /* Missing (or only offline_access): the full default set. */
        a->requested = bits ? bits : SCOPE_ALL;
    }
    validated(a);
}

static void on_client(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct authz *a = arg;
    if (st != DISPATCH_OK || (!resp->ok && resp->code != TM_ERR_NOT_FOUND && resp->code != TM_ERR_INVALID_ARGUMENT)) {
        error_page(a, 503, "Temporarily unavailable", "Sign-in is not available right now. Try again in a minute.");
        return;
    }
    json_t *c = oauth_worker_result(resp);
    json_t *uris = json_object_get(c, "redirect_uris");
    if (a->cimd && (!resp->ok || !json_is_array(uris))) {
        json_decref(c);
        char *msg = xasprintf("The application's metadata document (%s) could not be used: %s. Nothing was sent to "
                              "the application.",
                              a->client_id, resp->message && !resp->ok ? resp->message : "invalid answer");
        error_page(a, 400, "Application not accepted", msg);
        free(msg);
        return;
    }
    if (!resp->ok || !json_is_array(uris)) {
        json_decref(c);
        error_page(a, 400, "Unknown application",
                   "This application is not registered here (its registration may have expired). Remove the "
                   "connection in your application and add it again.");
        return;
    }
    bool match = false, loopback_only = true;
    size_t i;
    json_t *u;
    json_array_foreach(uris, i, u)
    {
        if (json_is_string(u) && oauth_redirect_allowed(json_string_value(u), a->redirect_uri))
            match = true;
        if (!json_is_string(u) || !oauth_redirect_uri_is_loopback(json_string_value(u)))
            loopback_only = false;
    }
    if (!match) {
        json_decref(c);
        error_page(a, 400, "Invalid redirect address",
                   "The application asked to return to an address it did not register. Nothing was sent to it.");
        return;
    }
    const char *name = json_string_value(json_object_get(c, "client_name"));
    const char *reg = json_string_value(json_object_get(c, "reg_type"));
    a->client_name = xstrdup(name && *name ? name : a->client_id);
    /* Only an operator-approved client is shown as verified. */
    a->self_registered = !(reg && !strcmp(reg, "verified"));
    if (a->cimd) {
        a->client_host = oauth_uri_host(a->client_id);
        a->loopback_only = loopback_only;
    }
    json_decref(c);
    check_request(a);
}

void oauth_route_authorize(struct edge *e, struct evhttp_request *req)
{
    size_t len;
    const char *text = web_request_params(e, req, &len);
    if (!text)
        return;
    struct authz *a = xcalloc(1, sizeof *a);
    a->e = e;
    a->req = req;
    a->post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
    char dup[64];
    if (oauth_params_parse(text, len, MAY_REPEAT, &a->p, dup, sizeof dup) != OAUTH_PARSE_OK) {
        error_page(a, 400, "Invalid request", "The authorization request is malformed.");
        return;
    }
    if (a->post) {
        a->consent_post = oauth_params_get(&a->p, "decision") != NULL;
        a->login_post = !a->consent_post && oauth_params_get(&a->p, "email") != NULL;
        if (!a->consent_post && !a->login_post) {
            error_page(a, 400, "Something went wrong", "The form was not understood. Start the connection again.");
            return;
        }
    }
    for (int i = 0; i < a->p.n; i++) {
        bool carried = false;
        for (const char *const *n = CARRIED; *n; n++)
            carried |= !strcmp(a->p.key[i], *n);
        if (carried && !(a->consent_post && !strcmp(a->p.key[i], "scope"))) {
            a->carry.key[a->carry.n] = xstrdup(a->p.key[i]);
            a->carry.val[a->carry.n] = xstrdup(a->p.val[i]);
            a->carry.n++;
        }
    }
    a->client_id = oauth_params_get(&a->p, "client_id");
    a->redirect_uri = oauth_params_get(&a->p, "redirect_uri");
    a->state = oauth_params_get(&a->p, "state");
    if (!a->client_id || !*a->client_id || strlen(a->client_id) > 255 ||
        oauth_params_count(&a->p, "client_id") != 1) {
        error_page(a, 400, "Invalid request", "The request does not name a valid application (client_id).");
        return;
    }
    if (!a->redirect_uri || !*a->redirect_uri || strlen(a->redirect_uri) > OAUTH_REDIRECT_URI_MAX ||
        oauth_params_count(&a->p, "redirect_uri") != 1) {
        error_page(a, 400, "Invalid request", "The request has no valid redirect_uri.");
        return;
    }
    a->cimd = cimd_is_url_client_id(a->client_id, e->cfg->oauth_allow_private_cimd != 0);
    oauth_worker_call(e, a->cimd ? "oauth.resolve_cimd" : "oauth.get_client",
                      json_pack("{s:s}", "client_id", a->client_id), on_client, a);
}
