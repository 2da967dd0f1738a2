/*
 * dash_accounts — the dashboard's account pages (docs/DASHBOARD.md,
 * "Accounts"): sign-in, sign-up, e-mail verification, password reset, sign
 * out, the password on the profile page, and the audit log.
 *
 * Before sign-in the forms carry the double-submit CSRF cookie of the OAuth
 * sign-in page (web_csrf_token); after it, the session's own token. Every
 * successful POST redirects (303) to a GET with a flash message.
 *
 * Verification is a GET showing a button that POSTs the token: mail
 * scanners follow links but do not submit forms, so a link meant for a
 * person is not used up (or an account activated) by a machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "services/edge/dash.h"
#include "services/edge/edge_http.h"
#include "services/edge/web_session.h"

#define EMAIL_MAX 254
#define PASSWORD_MAX 1024
#define TOKEN_MAX 100

/* <form> of a page before sign-in, with the double-submit CSRF token. */
static void anon_form_open(struct strbuf *b, struct dash_req *d, const char *action)
{
    char *csrf = web_csrf_token(d->e, d->req);
    dash_put(b, "<form method=\"post\" action=\"");
    dash_esc(b, action);
    dash_put(b, "\"><input type=\"hidden\" name=\"csrf_token\" value=\"");
    dash_esc(b, csrf);
    dash_put(b, "\">\n");
    free(csrf);
}

static void email_field(struct strbuf *b, const char *value, const char *autocomplete)
{
    dash_put(b, "<label for=\"email\">E-mail</label>\n<input type=\"email\" id=\"email\" name=\"email\" "
                "maxlength=\"254\" required autofocus autocomplete=\"");
    dash_put(b, autocomplete);
    dash_put(b, "\" value=\"");
    dash_esc(b, value ? value : "");
    dash_put(b, "\">\n");
}

static void password_field(struct strbuf *b, const char *id, const char *label, const char *autocomplete,
                           bool is_new)
{
    dash_put(b, "<label for=\"");
    dash_put(b, id);
    dash_put(b, "\">");
    dash_put(b, label);
    dash_put(b, "</label>\n<input type=\"password\" id=\"");
    dash_put(b, id);
    dash_put(b, "\" name=\"");
    dash_put(b, id);
    dash_put(b, "\" required maxlength=\"1024\" autocomplete=\"");
    dash_put(b, autocomplete);
    dash_put(b, is_new ? "\" minlength=\"10\" aria-describedby=\"pwhelp\">\n"
                         "<p class=\"muted\" id=\"pwhelp\">At least 10 characters.</p>\n"
                       : "\">\n");
}

/* Where to go after signing in: the form's or query's `next` if local. */
static const char *next_path(const struct dash_req *d)
{
    const char *n = d->method == EVHTTP_REQ_POST ? dash_form(d, "next") : dash_query(d, "next");
    return dash_local_path(n) ? n : "/dashboard";
}

/* ---- sign in ----------------------------------------------------------------- */

static void login_form(struct dash_req *d, int status, const char *message)
{
    struct strbuf b;
    sb_init(&b, 2048);
    if (message)
        dash_notice(&b, "msg", message);
    anon_form_open(&b, d, "/login");
    dash_hidden(&b, "next", next_path(d));
    email_field(&b, d->method == EVHTTP_REQ_POST ? dash_form(d, "email") : NULL, "username");
    password_field(&b, "password", "Password", "current-password", false);
    dash_put(&b, "<button type=\"submit\">Sign in</button>\n</form>\n"
                 "<p><a href=\"/password/forgot\">Forgot your password?</a></p>\n"
                 "<p>New here? <a href=\"/signup\">Create an account</a></p>\n");
    dash_render_sb(d, status, "Sign in to 3Min API", &b);
}

static void on_login(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        if (a->code == TM_ERR_RATE_LIMITED || a->code == TM_ERR_PERMISSION_DENIED)
            login_form(d, a->code == TM_ERR_RATE_LIMITED ? 429 : 401, a->message);
        else if (a->code == TM_ERR_INVALID_ARGUMENT || a->code == TM_ERR_NOT_FOUND)
            login_form(d, 401, "The e-mail or password is not correct.");
        else
            login_form(d, 503, "Sign-in is not available right now. Try again in a minute.");
        return;
    }
    const char *session = json_string_value(json_object_get(a->result, "session"));
    if (!session || strlen(session) > WEB_COOKIE_VALUE_MAX) {
        login_form(d, 503, "Sign-in is not available right now. Try again in a minute.");
        return;
    }
    dash_set_session_cookie(d, session);
    dash_redirect(d, next_path(d), NULL);
}

void dash_page_login(struct dash_req *d)
{
    if (d->method == EVHTTP_REQ_GET) {
        login_form(d, 200, NULL);
        return;
    }
    const char *email = dash_form(d, "email");
    const char *password = dash_form(d, "password");
    if (!email || !*email || !password || !*password) {
        login_form(d, 400, "Enter your e-mail and password.");
        return;
    }
    dash_call_auth(d, "web.login", json_pack("{s:s, s:s}", "email", email, "password", password), on_login);
}

/* ---- sign up ------------------------------------------------------------------ */

/* Where a sign-up started from another page (an invitation link: invitations.c) goes back to: `next` (a
 * local path) rides through the form, then, since the verification link opens without it, waits in a
 * cookie of this browser until the address is verified; sign-in then returns to it. Base64url, as a path
 * may hold characters a cookie may not. */
#define SIGNUP_NEXT_COOKIE "tm_signup_next"
#define SIGNUP_NEXT_MAX_AGE 86400   /* the verification link's lifetime */

static const char *signup_next(const struct dash_req *d)
{
    const char *n = d->method == EVHTTP_REQ_POST ? dash_form(d, "next") : dash_query(d, "next");
    return dash_local_path(n) ? n : NULL;
}

static void signup_next_cookie(struct dash_req *d, const char *value, int max_age)
{
    bool secure = !strncmp(d->e->cfg->public_url, "https://", 8);
    char *c = xasprintf(SIGNUP_NEXT_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s", value, max_age,
                        secure ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(d->req), "Set-Cookie", c);
    free(c);
}

/* /login?next=<path>, or NULL. */
static char *login_then(const char *path)
{
    const char *pairs[] = {"next", path, NULL};
    return path ? oauth_url_with_params("/login", pairs) : NULL;
}

static void signup_form(struct dash_req *d, int status, const char *message)
{
    struct strbuf b;
    sb_init(&b, 2048);
    if (message)
        dash_notice(&b, "msg", message);
    anon_form_open(&b, d, "/signup");
    if (signup_next(d))
        dash_hidden(&b, "next", signup_next(d));
    const char *prefill = d->method == EVHTTP_REQ_POST ? dash_form(d, "email") : dash_query(d, "email");
    email_field(&b, prefill && strlen(prefill) <= EMAIL_MAX ? prefill : NULL, "email");
    password_field(&b, "password", "Password", "new-password", true);
    dash_put(&b, "<button type=\"submit\">Create account</button>\n</form>\n"
                 "<p class=\"muted\">We send a link to this address; the account works once you open it.</p>\n"
                 "<p>Already have an account? <a href=\"/login\">Sign in</a></p>\n");
    dash_render_sb(d, status, "Create your 3Min API account", &b);
}

static void on_signup(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        if (a->code == TM_ERR_INVALID_ARGUMENT || a->code == TM_ERR_RATE_LIMITED)
            signup_form(d, dash_status_of(a->code), a->message);
        else
            signup_form(d, 503, "Sign-up is not available right now. Try again in a minute.");
        return;
    }
    const char *next = signup_next(d);
    char *login = login_then(next);
    if (next) {
        char *v = b64url_encode(next, strlen(next));
        signup_next_cookie(d, v, SIGNUP_NEXT_MAX_AGE);
        free(v);
    }
    dash_redirect(d, login ? login : "/login",
                  "Check your e-mail: we sent a link to confirm your address. Open it within 24 hours, then sign in.");
    free(login);
}

void dash_page_signup(struct dash_req *d)
{
    if (d->method == EVHTTP_REQ_GET) {
        signup_form(d, 200, NULL);
        return;
    }
    const char *email = dash_form(d, "email");
    const char *password = dash_form(d, "password");
    if (!email || !*email || strlen(email) > EMAIL_MAX) {
        signup_form(d, 400, "Enter a valid e-mail address.");
        return;
    }
    if (!password || !*password || strlen(password) > PASSWORD_MAX) {
        signup_form(d, 400, "Choose a password of at least 10 characters.");
        return;
    }
    dash_call_auth(d, "web.signup", json_pack("{s:s, s:s}", "email", email, "password", password), on_signup);
}

/* ---- e-mail verification ----------------------------------------------------------- */

static const char *token_of(const struct dash_req *d)
{
    const char *t = d->method == EVHTTP_REQ_POST ? dash_form(d, "token") : dash_query(d, "token");
    return t && *t && strlen(t) <= TOKEN_MAX ? t : NULL;
}

static void on_verify(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        if (a->code == TM_ERR_NOT_FOUND)
            dash_error(d, 404, "This link is not valid: it was already used, has expired, or was replaced by a "
                               "newer one. Sign up again to get a new link.");
        else
            dash_fail(d, a);
        return;
    }
    /* A sign-up that began elsewhere (signup_next) continues there after sign-in. */
    char *v = oauth_cookie_get(http_header(d->req, "Cookie"), SIGNUP_NEXT_COOKIE);
    char next[DASH_PATH_MAX * 2 + 1] = "";
    if (v) {
        long n = strlen(v) <= 2 * DASH_PATH_MAX ? b64url_decode(v, strlen(v), next, sizeof next - 1) : -1;
        next[n > 0 ? n : 0] = '\0';
        signup_next_cookie(d, "", 0);
        free(v);
    }
    char *login = dash_local_path(next) ? login_then(next) : NULL;
    dash_redirect(d, login ? login : "/login", "Your e-mail address is confirmed. Sign in to continue.");
    free(login);
}

void dash_page_verify(struct dash_req *d)
{
    const char *token = token_of(d);
    if (!token) {
        dash_error(d, 404, "This link is not valid. Open the link from the e-mail.");
        return;
    }
    if (d->method == EVHTTP_REQ_POST) {
        dash_call_auth(d, "web.verify", json_pack("{s:s}", "token", token), on_verify);
        return;
    }
    struct strbuf b;
    sb_init(&b, 1024);
    dash_put(&b, "<p>Confirm that this e-mail address is yours to activate your account.</p>\n");
    anon_form_open(&b, d, "/verify");
    dash_hidden(&b, "token", token);
    dash_put(&b, "<button type=\"submit\">Confirm my address</button>\n</form>\n");
    dash_render_sb(d, 200, "Confirm your e-mail address", &b);
}

/* ---- password reset ------------------------------------------------------------------ */

static void forgot_form(struct dash_req *d, int status, const char *message)
{
    struct strbuf b;
    sb_init(&b, 1024);
    if (message)
        dash_notice(&b, "msg", message);
    dash_put(&b, "<p>Enter your account's e-mail address. We send it a link to choose a new password.</p>\n");
    anon_form_open(&b, d, "/password/forgot");
    email_field(&b, d->method == EVHTTP_REQ_POST ? dash_form(d, "email") : NULL, "email");
    dash_put(&b, "<button type=\"submit\">Send the link</button>\n</form>\n<p><a href=\"/login\">Back to sign-in</a></p>\n");
    dash_render_sb(d, status, "Reset your password", &b);
}

static void on_forgot(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        if (a->code == TM_ERR_INVALID_ARGUMENT || a->code == TM_ERR_RATE_LIMITED)
            forgot_form(d, dash_status_of(a->code), a->message);
        else
            forgot_form(d, 503, "This is not available right now. Try again in a minute.");
        return;
    }
    dash_redirect(d, "/login",
                  "If an account uses that address, we sent it a link to choose a new password. The link works "
                  "once, for one hour.");
}

void dash_page_forgot(struct dash_req *d)
{
    if (d->method == EVHTTP_REQ_GET) {
        forgot_form(d, 200, NULL);
        return;
    }
    const char *email = dash_form(d, "email");
    if (!email || !*email || strlen(email) > EMAIL_MAX) {
        forgot_form(d, 400, "Enter a valid e-mail address.");
        return;
    }
    dash_call_auth(d, "web.password_forgot", json_pack("{s:s}", "email", email), on_forgot);
}

static void reset_form(struct dash_req *d, int status, const char *message, const char *token)
{
    struct strbuf b;
    sb_init(&b, 1024);
    if (message)
        dash_notice(&b, "msg", message);
    anon_form_open(&b, d, "/password/reset");
    dash_hidden(&b, "token", token);
    password_field(&b, "password", "New password", "new-password", true);
    dash_put(&b, "<button type=\"submit\">Set the new password</button>\n</form>\n");
    dash_render_sb(d, status, "Choose a new password", &b);
}

static void on_reset(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        if (a->code == TM_ERR_INVALID_ARGUMENT)
            reset_form(d, 400, a->message, token_of(d));
        else if (a->code == TM_ERR_NOT_FOUND)
            dash_error(d, 404, "This link is not valid: it was already used, has expired, or was replaced by a "
                               "newer one. Ask for a new one at /password/forgot.");
        else
            dash_fail(d, a);
        return;
    }
    dash_clear_session_cookie(d);
    dash_redirect(d, "/login", "Your password was changed and every session signed out. Sign in with the new "
                               "password.");
}

void dash_page_reset(struct dash_req *d)
{
    const char *token = token_of(d);
    if (!token) {
        dash_error(d, 404, "This link is not valid. Open the link from the e-mail.");
        return;
    }
    if (d->method == EVHTTP_REQ_GET) {
        reset_form(d, 200, NULL, token);
        return;
    }
    const char *password = dash_form(d, "password");
    if (!password || !*password || strlen(password) > PASSWORD_MAX) {
        reset_form(d, 400, "Choose a password of at least 10 characters.", token);
        return;
    }
    dash_call_auth(d, "web.password_reset", json_pack("{s:s, s:s}", "token", token, "password", password),
                   on_reset);
}

/* ---- sign out ------------------------------------------------------------------------- */

static void on_logout(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok && a->code != TM_ERR_PERMISSION_DENIED) {
        dash_fail(d, a);   /* the session may still be live: say so rather than pretend */
        return;
    }
    dash_clear_session_cookie(d);
    dash_redirect(d, "/login", "You are signed out.");
}

void dash_page_logout(struct dash_req *d)
{
    if (d->method == EVHTTP_REQ_POST) {
        dash_call(d, "session.logout", NULL, on_logout);
        return;
    }
    struct strbuf b;
    sb_init(&b, 512);
    dash_form_open(&b, d, "/logout");
    dash_put(&b, "<button type=\"submit\">Sign out</button>\n</form>\n");
    dash_render_sb(d, 200, "Sign out", &b);
}

/* ---- profile: password ---------------------------------------------------------------------- */

static void profile_render(struct dash_req *d, int status, const char *message)
{
    struct strbuf b;
    sb_init(&b, 2048);
    dash_put(&b, "<p>Signed in as <strong>");
    dash_esc(&b, d->email);
    dash_put(&b, "</strong>.</p>\n<h2 id=\"password-heading\">Password</h2>\n");
    if (message)
        dash_notice(&b, "msg", message);
    dash_form_open(&b, d, "/settings/profile/password");
    password_field(&b, "password", "Current password", "current-password", false);
    password_field(&b, "new_password", "New password", "new-password", true);
    dash_put(&b, "<button type=\"submit\">Change password</button>\n</form>\n"
                 "<p class=\"muted\">Changing the password signs out your other sessions.</p>\n");
    dash_profile_sections(d, &b);   /* time zone, notifications, delete account (dash_profile.c) */
    dash_render_sb(d, status, "Profile", &b);
}

static void profile_loaded(struct dash_req *d)
{
    profile_render(d, 200, NULL);
}

void dash_page_profile(struct dash_req *d)
{
    dash_profile_load(d, profile_loaded);
}

static void on_password(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        int st = dash_status_of(a->code);
        profile_render(d, st, st == 503 ? "This is not available right now. Try again in a minute." : a->message);
        return;
    }
    dash_redirect(d, "/settings/profile", "Password changed. Your other sessions were signed out.");
}

void dash_page_profile_password(struct dash_req *d)
{
    const char *pw = dash_form(d, "password");
    const char *np = dash_form(d, "new_password");
    if (!pw || !np || strlen(pw) > PASSWORD_MAX || strlen(np) > PASSWORD_MAX) {
        profile_render(d, 400, "Enter your current password and the new one.");
        return;
    }
    dash_call(d, "profile.password", json_pack("{s:s, s:s}", "password", pw, "new_password", np), on_password);
}

/* ---- audit log --------------------------------------------------------------------------------- */

static void on_audit(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    json_t *items = json_object_get(a->result, "items");
    struct strbuf b;
    sb_init(&b, 4096);
    dash_put(&b, "<p class=\"muted\">Every change made in the dashboard, newest first. Times are UTC.</p>\n");
    if (!json_array_size(items)) {
        dash_put(&b, "<p>Nothing recorded yet.</p>\n");
    } else {
        dash_put(&b, "<div class=\"table\"><table>\n<thead><tr><th scope=\"col\">When</th><th scope=\"col\">Action</th>"
                     "<th scope=\"col\">Target</th><th scope=\"col\">Details</th><th scope=\"col\">From</th></tr>"
                     "</thead>\n<tbody>\n");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            dash_put(&b, "<tr><td>");
            dash_esc(&b, json_string_value(json_object_get(it, "at")));
            dash_put(&b, "</td><td>");
            dash_esc(&b, json_string_value(json_object_get(it, "action")));
            dash_put(&b, "</td><td>");
            dash_esc(&b, json_string_value(json_object_get(it, "target_type")));
            const char *tid = json_string_value(json_object_get(it, "target_id"));
            if (tid) {
                dash_put(&b, " <code>");
                dash_esc(&b, tid);
                dash_put(&b, "</code>");
            }
            dash_put(&b, "</td><td>");
            json_t *det = json_object_get(it, "details");
            if (json_object_size(det)) {
                char *t = json_dumps(det, JSON_COMPACT | JSON_SORT_KEYS);
                dash_put(&b, "<code>");
                dash_esc(&b, t);
                dash_put(&b, "</code>");
                free(t);
            }
            dash_put(&b, "</td><td>");
            dash_esc(&b, json_string_value(json_object_get(it, "ip")));
            dash_put(&b, "</td></tr>\n");
        }
        dash_put(&b, "</tbody></table></div>\n");
    }
    json_t *next = json_object_get(a->result, "next_before");
    if (json_is_integer(next)) {
        char href[64];
        snprintf(href, sizeof href, "/audit?before=%lld", (long long)json_integer_value(next));
        dash_put(&b, "<p><a href=\"");
        dash_esc(&b, href);
        dash_put(&b, "\" rel=\"next\">Older entries</a></p>\n");
    }
    dash_render_sb(d, 200, "Audit log", &b);
}

void dash_page_audit(struct dash_req *d)
{
    const char *before = dash_query(d, "before");
    long long v = 0;
    if (before && !parse_int(before, 1, INT64_MAX, &v)) {
        dash_error(d, 400, "This address is malformed.");
        return;
    }
    json_t *args = json_object();
    if (v)
        json_object_set_new(args, "before", json_integer(v));
    dash_call(d, "audit.list", args, on_audit);
}
