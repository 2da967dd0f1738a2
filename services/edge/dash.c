/*
 * dash — the dashboard framework: page table, session, forms, CSRF, worker
 * calls, layout. See dash.h.
 */
#include "services/edge/dash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/keyvalq_struct.h>

#include "common/log.h"
#include "common/util.h"
#include "proto/envelope.h"
#include "services/edge/edge_http.h"
#include "services/edge/oauth_http.h"
#include "services/edge/web_pages.h"
#include "services/edge/web_session.h"

#define M_GET 1
#define M_POST 2
#define FLASH_MAX 240

/* ---- the page table ------------------------------------------------------- */

struct dash_page {
    const char *path;
    bool prefix;          /* path ends with '/': it matches every path below it */
    bool signed_in;       /* needs a live session */
    int methods;          /* M_GET and/or M_POST */
    dash_page_fn fn;
};

static const struct dash_page pages[] = {
    /* accounts, before sign-in (dash_accounts.c) */
    {"/login", false, false, M_GET | M_POST, dash_page_login},
    {"/signup", false, false, M_GET | M_POST, dash_page_signup},
    {"/verify", false, false, M_GET | M_POST, dash_page_verify},
    {"/password/forgot", false, false, M_GET | M_POST, dash_page_forgot},
    {"/password/reset", false, false, M_GET | M_POST, dash_page_reset},

    /* accounts, signed in (dash_accounts.c) */
    {"/logout", false, true, M_GET | M_POST, dash_page_logout},
    {"/audit", false, true, M_GET, dash_page_audit},
    {"/settings/profile", false, true, M_GET, dash_page_profile},
    {"/settings/profile/password", false, true, M_POST, dash_page_profile_password},

    /* APIs: the list, and each endpoint under /dashboard/endpoints/{id} (dash_apis.c). Every path below
     * /dashboard/endpoints/ goes to dash_page_endpoint, which serves {id} and {id}/{reveal,regenerate,delete};
     * a page of another module below /dashboard/endpoints/{id}/ (e.g. {id}/collaborators) adds a line to
     * SUBPAGES in dash_apis.c instead of a row here (a second "/dashboard/endpoints/" row would never match). */
    {"/dashboard", false, true, M_GET, dash_page_dashboard},
    {"/dashboard/endpoints/", true, true, M_GET | M_POST, dash_page_endpoint},

    /* AI integration: /settings/ai (dash_ai.c) */
    {"/settings/ai", false, true, M_GET, dash_page_ai},
    {"/settings/ai/keys", false, true, M_POST, dash_page_ai_key_create},
    {"/settings/ai/new-key", false, true, M_GET, dash_page_ai_new_key},
    {"/settings/ai/keys/", true, true, M_GET | M_POST, dash_page_ai_key},
    {"/settings/ai/apps/", true, true, M_GET | M_POST, dash_page_ai_app},

    /* subscription: /settings/subscription (dash_subscription.c) */
    {"/settings/subscription", false, true, M_GET, dash_page_subscription},
    {"/settings/subscription/change", false, true, M_POST, dash_page_subscription_change},
    {"/settings/subscription/cancel", false, true, M_POST, dash_page_subscription_cancel},

    /* archives: /archives (dash_archives.c; exact paths: /archives/{id}/download is archives_http.c's) */
    {"/archives", false, true, M_GET, dash_page_archives},
    {"/archives/download", false, true, M_GET, dash_page_archives_download},
    {"/archives/delete", false, true, M_GET | M_POST, dash_page_archives_delete},

    /* profile's own sections (dash_profile.c) */
    {"/settings/profile/timezone", false, true, M_POST, dash_page_profile_timezone},
    {"/settings/profile/notifications", false, true, M_POST, dash_page_profile_notifications},
    {"/settings/profile/delete", false, true, M_POST, dash_page_profile_delete},
};

/* Form fields that may repeat (checkbox groups); any other repeat is a 400. */
static const char *const multi_fields[] = {"scope", NULL};

static const struct dash_page *find_page(const char *path, const char **rest)
{
    for (size_t i = 0; i < TM_ARRAY_LEN(pages); i++) {
        size_t n = strlen(pages[i].path);
        if (pages[i].prefix ? !strncmp(path, pages[i].path, n) : !strcmp(path, pages[i].path)) {
            *rest = path + (pages[i].prefix ? n : strlen(path));
            return &pages[i];
        }
    }
    return NULL;
}

/* ---- the request ------------------------------------------------------------ */

struct dash_private {
    struct dash_req d;
    dash_cb cb;
};

static void dash_free(struct dash_req *d)
{
    if (d->state_free)
        d->state_free(d->state);
    oauth_params_free(&d->query);
    oauth_params_free(&d->form);
    free(d->session);
    free(d->email);
    free(d->csrf);
    free(d->flash);
    free((struct dash_private *)d);
}

const char *dash_form(const struct dash_req *d, const char *name)
{
    return oauth_params_get(&d->form, name);
}

const char *dash_form_or_empty(const struct dash_req *d, const char *name, size_t max)
{
    const char *v = dash_form(d, name);
    return v && strlen(v) <= max ? v : "";
}

const char *dash_query(const struct dash_req *d, const char *name)
{
    return oauth_params_get(&d->query, name);
}

bool dash_local_path(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 512 || s[0] != '/' || s[1] == '/' || s[1] == '\\')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '\\')
            return false;
    return true;
}

/* ---- cookies ------------------------------------------------------------------ */

static bool https(const struct edge *e)
{
    return !strncmp(e->cfg->public_url, "https://", 8);
}

static const char *flash_cookie(const struct edge *e)
{
    return https(e) ? "__Host-tm_flash" : "tm_flash";
}

static void set_cookie(struct dash_req *d, const char *name, const char *value, int max_age)
{
    char *c = xasprintf("%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s", name, value, max_age,
                        https(d->e) ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(d->req), "Set-Cookie", c);
    free(c);
}

void dash_set_session_cookie(struct dash_req *d, const char *session)
{
    web_set_cookie(d->e, d->req, web_session_cookie(d->e), session);
}

void dash_clear_session_cookie(struct dash_req *d)
{
    set_cookie(d, web_session_cookie(d->e), "", 0);
}

/* The flash message of the previous redirect: decoded, controls dropped. */
static char *flash_read(struct dash_req *d)
{
    /* Longer than the session cookies web_cookie_get accepts: read here. */
    char *v = oauth_cookie_get(http_header(d->req, "Cookie"), flash_cookie(d->e));
    if (!v || strlen(v) > 4 * FLASH_MAX / 3 + 4 ||
        strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(v)) {
        free(v);
        return NULL;
    }
    char buf[FLASH_MAX + 4];
    long n = b64url_decode(v, strlen(v), buf, FLASH_MAX);
    free(v);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    for (long i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = ' ';
    return xstrdup(buf);
}

/* ---- replies ------------------------------------------------------------------- */

static const char STYLE[] =
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1b1f24;"
    "line-height:1.5}"
    "a{color:#1d4ed8}"
    "header{background:#fff;border-bottom:1px solid #d0d5db}"
    "header .bar{max-width:60rem;margin:0 auto;padding:.5rem 1rem;display:flex;flex-wrap:wrap;align-items:center;"
    "gap:.25rem 1rem}"
    ".brand{font-weight:700;color:#1b1f24;text-decoration:none;margin-right:auto}"
    "nav{flex-basis:100%}nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem .9rem}"
    ".acct{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem .75rem}"
    "nav a{text-decoration:none;padding:.2rem 0;display:inline-block}"
    "nav a[aria-current=page]{font-weight:700;border-bottom:2px solid #1d4ed8}"
    "header form{margin:0}"
    ".who{color:#555d66;font-size:.9rem}"
    "main{max-width:60rem;margin:1.5rem auto;padding:1.25rem;background:#fff;border-radius:.75rem;"
    "box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    "main.narrow{max-width:28rem}"
    "h1{font-size:1.35rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}"
    "label{display:block;margin:.75rem 0 .25rem;font-weight:600}"
    "input[type=email],input[type=password],input[type=text],select{width:100%;max-width:26rem;padding:.6rem;"
    "font-size:1rem;border:1px solid #8a929c;border-radius:.4rem}"
    "button{font-size:1rem;padding:.6rem 1.1rem;border-radius:.4rem;border:1px solid #1d4ed8;margin:.75rem .5rem 0 0;"
    "cursor:pointer;background:#1d4ed8;color:#fff}"
    "button.link{background:none;border:none;color:#1d4ed8;padding:0;margin:0;text-decoration:underline;font-size:1rem}"
    "button.danger{background:#b91c1c;border-color:#b91c1c}"
    ".msg{background:#fdecec;border:1px solid #e5a3a3;color:#7a1212;padding:.6rem .8rem;border-radius:.4rem}"
    ".ok{background:#e8f6ec;border:1px solid #9bd3ac;color:#14532d;padding:.6rem .8rem;border-radius:.4rem}"
    ".muted{color:#555d66;font-size:.92rem}"
    ".table{overflow-x:auto}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid "
    "#e3e6ea;vertical-align:top}th{font-size:.9rem;color:#555d66}"
    "code{word-break:break-all}"
    ".skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;padding:.4rem}"
    ":focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}";

struct navitem {
    const char *href, *label;
};
static const struct navitem NAV[] = {
    {"/dashboard", "APIs"},
    {"/settings/ai", "AI Integration"},
    {"/settings/subscription", "Subscription"},
    {"/archives", "Archives"},
    {"/audit", "Audit"},
    {"/settings/profile", "Profile"},
};

void dash_put(struct strbuf *b, const char *html)
{
    sb_append_str(b, html);
}

void dash_put_int(struct strbuf *b, long long v)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", v);
    dash_put(b, n);
}

void dash_render_sb(struct dash_req *d, int status, const char *title, struct strbuf *b)
{
    char *body = sb_take(b, NULL);
    dash_render(d, status, title, body);
    free(body);
}

const char *dash_jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

void dash_esc(struct strbuf *b, const char *text)
{
    if (!text)
        return;
    char *x = html_escape(text);
    sb_append_str(b, x);
    free(x);
}

void dash_form_open(struct strbuf *b, const struct dash_req *d, const char *action)
{
    dash_put(b, "<form method=\"post\" action=\"");
    dash_esc(b, action);
    dash_put(b, "\"><input type=\"hidden\" name=\"csrf_token\" value=\"");
    dash_esc(b, d->csrf);
    dash_put(b, "\">\n");
}

void dash_notice(struct strbuf *b, const char *cls, const char *text)
{
    if (!text || !*text)
        text = DASH_MSG_UNAVAILABLE;
    dash_put(b, "<p class=\"");
    dash_esc(b, cls);
    dash_put(b, "\" role=\"alert\">");
    dash_esc(b, text);
    dash_put(b, "</p>\n");
}

void dash_hidden(struct strbuf *b, const char *name, const char *value)
{
    dash_put(b, "<input type=\"hidden\" name=\"");
    dash_esc(b, name);
    dash_put(b, "\" value=\"");
    dash_esc(b, value);
    dash_put(b, "\">\n");
}

void dash_password_input(struct strbuf *b, const char *id)
{
    dash_put(b, "<label for=\"");
    dash_esc(b, id);
    dash_put(b, "\">Your password</label>\n<input type=\"password\" id=\"");
    dash_esc(b, id);
    dash_put(b, "\" name=\"password\" required maxlength=\"1024\" autocomplete=\"current-password\">\n");
}

void dash_confirm_form(struct strbuf *b, const struct dash_req *d, const struct dash_confirm *f)
{
    dash_put(b, "<details><summary>");
    dash_esc(b, f->summary);
    dash_put(b, "</summary>\n");
    if (f->note) {
        dash_put(b, "<p class=\"muted\">");
        dash_put(b, f->note);
        dash_put(b, "</p>\n");
    }
    dash_form_open(b, d, f->action);
    for (const char *const *h = f->hidden; h && *h; h += 2)
        dash_hidden(b, h[0], h[1]);
    dash_password_input(b, f->password_id);
    dash_put(b, f->danger ? "<button type=\"submit\" class=\"danger\">" : "<button type=\"submit\">");
    dash_esc(b, f->button);
    dash_put(b, "</button>\n</form></details>\n");
}

void dash_shown_secret(struct strbuf *b, const char *what, const char *secret, const char *advice)
{
    dash_put(b, "<div class=\"ok\" role=\"status\" id=\"shown-secret\"><p><strong>");
    dash_esc(b, what);
    dash_put(b, "</strong></p><p><code>");
    dash_esc(b, secret);
    dash_put(b, "</code></p><p>");
    dash_put(b, advice);
    dash_put(b, "</p></div>\n");
}

/* The section of the navigation a path belongs to. */
static bool nav_current(const char *path, const char *href)
{
    size_t n = strlen(href);
    return !strncmp(path, href, n) && (path[n] == '\0' || path[n] == '/');
}

void dash_render(struct dash_req *d, int status, const char *title, const char *body_html)
{
    struct strbuf b;
    sb_init(&b, 4096);
    dash_put(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                 "<meta name=\"referrer\" content=\"no-referrer\"><title>");
    dash_esc(&b, title);
    dash_put(&b, " · 3Min API</title><style>");
    dash_put(&b, STYLE);
    dash_put(&b, "</style></head><body>\n<a class=\"skip\" href=\"#main\">Skip to content</a>\n");
    bool signed_in = d->csrf && d->email;
    if (signed_in) {
        dash_put(&b, "<header><div class=\"bar\"><a class=\"brand\" href=\"/dashboard\">3Min API</a>\n"
                     "<div class=\"acct\"><span class=\"who\">");
        dash_esc(&b, d->email);
        dash_put(&b, "</span>\n");
        dash_form_open(&b, d, "/logout");
        dash_put(&b, "<button type=\"submit\" class=\"link\">Sign out</button></form></div>\n"
                     "<nav aria-label=\"Main\"><ul>\n");
        for (size_t i = 0; i < TM_ARRAY_LEN(NAV); i++) {
            dash_put(&b, "<li><a href=\"");
            dash_put(&b, NAV[i].href);
            dash_put(&b, nav_current(d->path, NAV[i].href) ? "\" aria-current=\"page\">" : "\">");
            dash_put(&b, NAV[i].label);
            dash_put(&b, "</a></li>\n");
        }
        dash_put(&b, "</ul></nav>\n</div></header>\n<main id=\"main\">\n");
    } else {
        dash_put(&b, "<main id=\"main\" class=\"narrow\">\n");
    }
    dash_put(&b, "<h1>");
    dash_esc(&b, title);
    dash_put(&b, "</h1>\n");
    if (d->flash)
        dash_notice(&b, "ok", d->flash);
    dash_put(&b, body_html ? body_html : "");
    dash_put(&b, "</main></body></html>\n");
    if (d->flash)
        set_cookie(d, flash_cookie(d->e), "", 0);
    char *html = sb_take(&b, NULL);
    web_reply_html(d->e, d->req, status, html);
    free(html);
    dash_free(d);
}

void dash_redirect(struct dash_req *d, const char *local_path, const char *flash)
{
    if (!dash_local_path(local_path))
        local_path = "/dashboard";
    if (flash && *flash) {
        char *v = b64url_encode(flash, strnlen(flash, FLASH_MAX));
        set_cookie(d, flash_cookie(d->e), v, 60);
        free(v);
    }
    char *url = xasprintf("%s%s", d->e->cfg->public_url, local_path);
    struct evkeyvalq *h = evhttp_request_get_output_headers(d->req);
    evhttp_add_header(h, "Location", url);
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    free(url);
    http_reply(d->e, d->req, 303, NULL, NULL, 0);
    dash_free(d);
}

void dash_error(struct dash_req *d, int status, const char *message)
{
    struct strbuf b;
    sb_init(&b, 256);
    dash_notice(&b, "msg", message);
    if (!d->csrf)
        dash_put(&b, "<p><a href=\"/login\">Sign in</a></p>\n");
    char *body = sb_take(&b, NULL);
    const char *title = status == 404 ? "Not found"
                        : status == 403 ? "Not allowed"
                        : status >= 500 ? "Temporarily unavailable"
                                        : "Something went wrong";
    free(d->flash);
    d->flash = NULL;
    dash_render(d, status, title, body);
    free(body);
}

int dash_status_of(enum tm_error code)
{
    switch (code) {
    case TM_ERR_INVALID_ARGUMENT: return 400;
    case TM_ERR_PERMISSION_DENIED: return 403;
    case TM_ERR_NOT_FOUND: return 404;
    case TM_ERR_CONFLICT: return 409;
    case TM_ERR_PRECONDITION_FAILED: return 409;
    case TM_ERR_QUOTA_EXCEEDED: return 402;
    case TM_ERR_RATE_LIMITED: return 429;
    default: return 503;
    }
}

const char *dash_message_of(enum tm_error code, const char *message)
{
    /* Internal and unavailable errors never carry the worker's text: it may
     * name things the user should not see, and the user can only retry. */
    if (dash_status_of(code) == 503)
        return DASH_MSG_UNAVAILABLE;
    if (message && *message)
        return message;
    switch (code) {
    case TM_ERR_PERMISSION_DENIED: return "This is not allowed. Nothing was changed.";
    case TM_ERR_NOT_FOUND: return "This was not found.";
    case TM_ERR_RATE_LIMITED: return "Too many attempts. Wait a few minutes and try again.";
    default: return "That did not work. Nothing was changed.";
    }
}

void dash_fail(struct dash_req *d, const struct dash_answer *a)
{
    dash_error(d, dash_status_of(a->code), dash_message_of(a->code, a->message));
}

bool dash_fail_or_keep(struct dash_req *d, const struct dash_answer *a, int *status, char **message)
{
    int st = dash_status_of(a->code);
    if (st == 404 || st == 503) {
        dash_fail(d, a);
        return true;
    }
    *status = st;
    *message = xstrdup(a->message ? a->message : "That did not work.");
    return false;
}

/* ---- workers ---------------------------------------------------------------------- */

static void on_answer(void *arg, enum dispatch_status st, const struct env_response *resp)
{
    struct dash_private *p = arg;
    struct dash_answer a = {.ok = false, .code = TM_ERR_UNAVAILABLE, .message = NULL};
    if (st == DISPATCH_OK && resp->ok) {
        a.result = oauth_worker_result(resp);
        a.ok = a.result != NULL;
        if (!a.ok)
            a.code = TM_ERR_INTERNAL;
    } else if (st == DISPATCH_OK) {
        a.code = resp->code;
        a.message = resp->message;
    } else {
        log_warn("dashboard %s: %s", p->d.path, dispatch_status_text(st));
    }
    if (!a.ok)   /* every page shows a message for a failure, never an empty one */
        a.message = dash_message_of(a.code, a.message);
    dash_cb cb = p->cb;
    cb(&p->d, &a);
    json_decref(a.result);
}

static json_t *with_ip(struct dash_req *d, json_t *args)
{
    if (!args)
        args = json_object();
    char ip[64];
    http_client_ip(d->req, ip, sizeof ip);
    json_object_set_new(args, "ip", json_string(ip));
    return args;
}

void dash_call(struct dash_req *d, const char *name, json_t *args, dash_cb cb)
{
    struct dash_private *p = (struct dash_private *)d;
    p->cb = cb;
    args = with_ip(d, args);
    json_object_set_new(args, "session", json_string(d->session ? d->session : ""));
    struct env_request r = {.op = ENV_OP_WEB};
    snprintf(r.name, sizeof r.name, "%s", name);
    r.who.kind = PRINCIPAL_WEB;
    snprintf(r.who.account_id, sizeof r.who.account_id, "%s", d->account_id);
    r.args = json_dumps(args, JSON_COMPACT);
    r.args_len = strlen(r.args);
    json_decref(args);
    dispatch_submit(d->e->dispatch, &r, on_answer, p);
    free(r.args);
}

void dash_call_auth(struct dash_req *d, const char *name, json_t *args, dash_cb cb)
{
    struct dash_private *p = (struct dash_private *)d;
    p->cb = cb;
    oauth_worker_call(d->e, name, with_ip(d, args), on_answer, p);
}

/* ---- routing ----------------------------------------------------------------------- */

static void run_page(struct dash_req *d, const struct dash_page *page)
{
    page->fn(d);
}

/* To the sign-in page, coming back here afterwards: a GET with its query; a
 * POST is not repeated, it comes back to the page's GET if it has one. */
static void to_login(struct dash_req *d, const struct dash_page *page)
{
    const char *uri = evhttp_request_get_uri(d->req);
    const char *q = strchr(uri, '?');
    char *back = d->method == EVHTTP_REQ_GET && q ? xasprintf("%s%s", d->path, q)
                 : page->methods & M_GET        ? xstrdup(d->path)
                                                : xstrdup("/dashboard");
    const char *pairs[] = {"next", dash_local_path(back) ? back : "/dashboard", NULL};
    char *loc = oauth_url_with_params("/login", pairs);
    free(back);
    dash_redirect(d, loc, NULL);
    free(loc);
}

static const struct dash_page *pending_page(struct dash_req *d)
{
    return (const struct dash_page *)d->state;
}

static void on_session(struct dash_req *d, const struct dash_answer *a)
{
    const struct dash_page *page = pending_page(d);
    d->state = NULL;
    if (!a->ok) {
        if (a->code == TM_ERR_NOT_FOUND) {
            dash_clear_session_cookie(d);
            to_login(d, page);
        } else {
            dash_fail(d, a);
        }
        return;
    }
    const char *acct = json_string_value(json_object_get(a->result, "account_id"));
    const char *email = json_string_value(json_object_get(a->result, "email"));
    const char *csrf = json_string_value(json_object_get(a->result, "csrf"));
    if (!acct || !is_uuid(acct) || !email || !csrf) {
        dash_error(d, 503, "This is not available right now. Try again in a minute.");
        return;
    }
    snprintf(d->account_id, sizeof d->account_id, "%s", acct);
    d->email = xstrdup(email);
    d->csrf = xstrdup(csrf);
    if (d->method == EVHTTP_REQ_POST) {
        const char *t = dash_form(d, "csrf_token");
        if (!t || !ct_equal(t, strlen(t), d->csrf, strlen(d->csrf))) {
            log_warn("dashboard %s: POST refused, CSRF token missing or wrong", d->path);
            dash_error(d, 403, "This form had expired or did not come from this site. Nothing was changed; "
                               "open the page again and retry.");
            return;
        }
    }
    run_page(d, page);
}

bool dash_route(struct edge *e, struct evhttp_request *req, const char *path)
{
    const char *rest;
    const struct dash_page *page = find_page(path, &rest);
    if (!page)
        return false;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    bool get = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
    if (!((get && (page->methods & M_GET)) || (m == EVHTTP_REQ_POST && (page->methods & M_POST)))) {
        oauth_reply_method_not_allowed(e, req, page->methods == (M_GET | M_POST) ? "GET, POST"
                                               : page->methods == M_POST        ? "POST"
                                                                                : "GET");
        return true;
    }
    struct dash_private *p = xcalloc(1, sizeof *p);
    struct dash_req *d = &p->d;
    d->e = e;
    d->req = req;
    d->method = get ? EVHTTP_REQ_GET : EVHTTP_REQ_POST;
    snprintf(d->path, sizeof d->path, "%s", path);
    d->rest = d->path + (rest - path);
    d->flash = flash_read(d);

    const char *uri = evhttp_request_get_uri(req);
    const char *q = strchr(uri, '?');
    const char *qs = q ? q + 1 : "";
    if (strlen(path) >= DASH_PATH_MAX ||
        oauth_params_parse(qs, strcspn(qs, "#"), multi_fields, &d->query, NULL, 0) != OAUTH_PARSE_OK) {
        dash_error(d, 400, "This address is malformed.");
        return true;
    }
    if (d->method == EVHTTP_REQ_POST) {
        size_t len;
        bool too_big;
        const char *body = oauth_body(req, DASH_MAX_BODY, &len, &too_big);
        if (!body) {
            dash_error(d, 413, "The form was too large.");
            return true;
        }
        if (!oauth_content_type_is(http_header(req, "Content-Type"), "application/x-www-form-urlencoded")) {
            dash_error(d, 415, "The form was not understood.");
            return true;
        }
        if (oauth_params_parse(body, len, multi_fields, &d->form, NULL, 0) != OAUTH_PARSE_OK) {
            dash_error(d, 400, "The form was not understood.");
            return true;
        }
    }
    if (!page->signed_in) {
        if (d->method == EVHTTP_REQ_POST && !web_csrf_valid(e, req, dash_form(d, "csrf_token"))) {
            log_warn("dashboard %s: POST refused, CSRF token missing or wrong", d->path);
            dash_error(d, 403, "This form had expired or did not come from this site. Nothing was changed; "
                               "open the page again and retry.");
            return true;
        }
        run_page(d, page);
        return true;
    }
    d->session = web_cookie_get(req, web_session_cookie(e));
    if (!d->session || !*d->session) {
        to_login(d, page);
        return true;
    }
    d->state = (void *)page;
    dash_call_auth(d, "web.session", json_pack("{s:s}", "session", d->session), on_session);
    return true;
}
