/*
 * invitations — /invitations/accept?token=…: accepting a collaborator
 * invitation (docs/DOMAIN.md §2) in the browser.
 *
 * GET with a valid sign-in session (the cookie of the OAuth sign-in,
 * oauth_authorize.c) asks a worker to accept (web.accept_invitation); the
 * worker checks that the session's address is the invited one, that the
 * link is unused and not expired, and records the collaborator. Without a
 * session, or signed in with another address, the sign-in form is shown; it
 * POSTs back here with the token in a hidden field, and a successful sign-in
 * sets the session cookie and redirects (303) to the GET. The sign-in form
 * uses the same double-submit CSRF cookie as /oauth/authorize.
 *
 * Accepting on a GET is safe against link scanners because it needs the
 * invited person's session, and against cross-site requests because the
 * token itself is the secret.
 *
 * Someone invited who has no account yet: before the sign-in form, the link
 * is looked up (auth op web.invitation_peek, by the token's hash only) for
 * the invited address, which the form is prefilled with, and a "Create an
 * account" link goes to /signup with that address and next= this link. The
 * sign-up page keeps next through the verification e-mail (dash_accounts.c),
 * so after verifying and signing in the browser comes back here and the
 * invitation is accepted. A revoked, used or unknown link is refused before
 * any form (404), an expired one with 410.
 */
#include "services/edge/invitations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "services/edge/dash.h"
#include "services/edge/edge_http.h"
#include "services/edge/oauth_http.h"
#include "services/edge/oauth_uri.h"
#include "services/edge/web_pages.h"
#include "services/edge/web_session.h"

#define ACCEPT_PATH "/invitations/accept"
#define TOKEN_MAX 100

struct inv {
    struct edge *e;
    struct evhttp_request *req;
    struct oauth_params p;
    struct oauth_params carry;    /* token, as a hidden field of the sign-in form */
    const char *token;
    char *session;
    char *invited;                /* the invited address (web.invitation_peek), or NULL */
    bool login_post;
};

static void inv_free(struct inv *a)
{
    oauth_params_free(&a->p);
    oauth_params_free(&a->carry);
    free(a->session);
    free(a->invited);
    free(a);
}

static void page(struct inv *a, int status, const char *title, const char *message)
{
    web_reply_error(a->e, a->req, status, title, message);
    inv_free(a);
}

static void render_login(struct inv *a, int status, const char *message)
{
    char *csrf = web_csrf_token(a->e, a->req);
    /* No account with the invited address yet: create one, and come back here. */
    char *back = xasprintf(ACCEPT_PATH "?token=%s", a->token);
    const char *pairs[] = {"email", a->invited, "next", back, NULL};
    char *signup = oauth_url_with_params("/signup", pairs);
    struct strbuf after;
    sb_init(&after, 512);
    dash_put(&after, "<p>No account with ");
    dash_esc(&after, a->invited ? a->invited : "the invited address");
    dash_put(&after, " yet? <a id=\"create-account\" href=\"");
    dash_esc(&after, signup);
    dash_put(&after, "\">Create an account</a>; you come back to this invitation after confirming your address "
                     "and signing in.</p>\n");
    char *after_html = sb_take(&after, NULL);
    free(signup);
    free(back);
    struct web_login v = {
        .action = ACCEPT_PATH,
        .hidden = &a->carry,
        .csrf = csrf,
        .client_name = NULL,
        .email = a->login_post ? oauth_params_get(&a->p, "email") : a->invited,
        .message = message ? message : "Sign in with the address the invitation was sent to, to accept it.",
        .after_html = after_html,
    };
    char *html = web_page_login(&v);
    web_reply_html(a->e, a->req, status, html);
    free(html);
    free(csrf);
    free(after_html);
    inv_free(a);
}

/* ---- before sign-in: what the link is for ---- */

static void on_peek(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct inv *a = arg;
    if (st != DISPATCH_OK || (!resp->ok && resp->code != TM_ERR_NOT_FOUND)) {
        render_login(a, 200, NULL);   /* the form still works without the prefill */
        return;
    }
    if (!resp->ok) {
        page(a, 404, "Invitation not valid",
             "This invitation link is not valid or has already been used. Ask the endpoint's owner for a new one.");
        return;
    }
    json_t *r = oauth_worker_result(resp);
    const char *status = json_string_value(json_object_get(r, "status"));
    const char *email = json_string_value(json_object_get(r, "email"));
    if (status && !strcmp(status, "expired")) {
        json_decref(r);
        page(a, 410, "Invitation expired", "This invitation has expired. Ask the endpoint's owner for a new one.");
        return;
    }
    if (!status || strcmp(status, "pending")) {
        json_decref(r);
        page(a, 404, "Invitation not valid",
             "This invitation link is not valid or has already been used. Ask the endpoint's owner for a new one.");
        return;
    }
    a->invited = email ? xstrdup(email) : NULL;
    json_decref(r);
    render_login(a, 200, NULL);
}

/* The sign-in form of a GET without a (live) session, prefilled with the invited address. */
static void before_sign_in(struct inv *a)
{
    oauth_worker_call(a->e, "web.invitation_peek", json_pack("{s:s}", "token", a->token), on_peek, a);
}

/* ---- accepting ---- */

static void on_accept(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct inv *a = arg;
    if (st != DISPATCH_OK) {
        page(a, 503, "Temporarily unavailable", "The invitation cannot be accepted right now. Try again in a minute.");
        return;
    }
    if (resp->ok) {
        json_t *r = oauth_worker_result(resp);
        char *msg = xasprintf("You are now a collaborator on the endpoint \"%s\" with the key \"%s\". The "
                              "endpoint's owner shares the key with you in the dashboard.",
                              json_string_value(json_object_get(r, "endpoint")) ?: "?",
                              json_string_value(json_object_get(r, "key")) ?: "?");
        json_decref(r);
        page(a, 200, "Invitation accepted", msg);
        free(msg);
        return;
    }
    switch (resp->code) {
    case TM_ERR_PERMISSION_DENIED:
        render_login(a, 403, "This invitation was sent to another address. Sign in with that address to accept it.");
        break;
    case TM_ERR_PRECONDITION_FAILED:
        page(a, 410, "Invitation expired", "This invitation has expired. Ask the endpoint's owner for a new one.");
        break;
    case TM_ERR_NOT_FOUND:
        page(a, 404, "Invitation not valid",
             "This invitation link is not valid or has already been used. Ask the endpoint's owner for a new one.");
        break;
    default:
        log_warn("web.accept_invitation failed: %s", resp->message ? resp->message : "?");
        page(a, 503, "Temporarily unavailable", "The invitation cannot be accepted right now. Try again in a minute.");
        break;
    }
}

static void on_session(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct inv *a = arg;
    if (st != DISPATCH_OK || (!resp->ok && resp->code != TM_ERR_NOT_FOUND)) {
        page(a, 503, "Temporarily unavailable", "Sign-in is not available right now. Try again in a minute.");
        return;
    }
    if (!resp->ok) {
        before_sign_in(a);
        return;
    }
    oauth_worker_call(a->e, "web.accept_invitation", json_pack("{s:s, s:s}", "session", a->session, "token", a->token),
                      on_accept, a);
}

/* ---- sign-in ---- */

static void on_login(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct inv *a = arg;
    if (st == DISPATCH_OK && !resp->ok && resp->code == TM_ERR_RATE_LIMITED) {
        render_login(a, 429, "Too many failed sign-ins for this account. Sign-in is locked; try again later.");
        return;
    }
    /* Signed in: back to the invitation as a GET, which now finds the session. */
    const char *pairs[] = {"token", a->token, NULL};
    const char *message;
    int status = web_login_answered(a->e, a->req, st, resp, ACCEPT_PATH, pairs, &message);
    if (status)
        render_login(a, status, message);
    else
        inv_free(a);
}

static void login(struct inv *a)
{
    int status;
    const char *message;
    if (!web_login_submit(a->e, a->req, &a->p, on_login, a, &status, &message))
        render_login(a, status, message);
}

void invitations_route_accept(struct edge *e, struct evhttp_request *req)
{
    size_t len;
    const char *text = web_request_params(e, req, &len);
    if (!text)
        return;
    struct inv *a = xcalloc(1, sizeof *a);
    a->e = e;
    a->req = req;
    if (oauth_params_parse(text, len, NULL, &a->p, NULL, 0) != OAUTH_PARSE_OK) {
        page(a, 400, "Invalid request", "The invitation link is malformed.");
        return;
    }
    a->token = oauth_params_get(&a->p, "token");
    if (!a->token || !*a->token || strlen(a->token) > TOKEN_MAX) {
        page(a, 404, "Invitation not valid", "This invitation link is not valid. Open the link from the e-mail.");
        return;
    }
    a->carry.key[0] = xstrdup("token");
    a->carry.val[0] = xstrdup(a->token);
    a->carry.n = 1;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
        a->login_post = true;
        login(a);
        return;
    }
    a->session = web_cookie_get(a->req, web_session_cookie(e));
    if (!a->session) {
        before_sign_in(a);
        return;
    }
    oauth_worker_call(e, "web.session", json_pack("{s:s}", "session", a->session), on_session, a);
}
