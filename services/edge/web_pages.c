/*
 * web_pages — HTML of the sign-in and consent pages. See web_pages.h.
 */
#include "services/edge/web_pages.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/keyvalq_struct.h>
#include "common/util.h"
#include "proto/envelope.h"
#include "services/edge/edge_http.h"
#include "services/edge/oauth_http.h"

struct sb {
    char *s;
    size_t len, cap;
};

static void sb_put(struct sb *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

static void sb_esc(struct sb *b, const char *s)
{
    char *x = html_escape(s);
    sb_put(b, x);
    free(x);
}

static const char STYLE[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1b1f24;"
    "line-height:1.5}"
    "main{max-width:26rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.75rem;"
    "box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    "h1{font-size:1.35rem;margin:0 0 1rem}"
    "label{display:block;margin:.75rem 0 .25rem;font-weight:600}"
    "input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.65rem;font-size:1rem;"
    "border:1px solid #8a929c;border-radius:.4rem}"
    "fieldset{border:1px solid #d0d5db;border-radius:.4rem;margin:1rem 0;padding:.5rem .9rem}"
    "fieldset label{font-weight:400;margin:.4rem 0}"
    "button{font-size:1rem;padding:.7rem 1.2rem;border-radius:.4rem;border:1px solid #1d4ed8;margin:.75rem .5rem 0 0;"
    "cursor:pointer}"
    ".primary{background:#1d4ed8;color:#fff}.secondary{background:#fff;color:#1d4ed8}"
    ".msg{background:#fdecec;border:1px solid #e5a3a3;color:#7a1212;padding:.6rem .8rem;border-radius:.4rem}"
    ".warn{background:#fff6e0;border:1px solid #e8c66f;padding:.6rem .8rem;border-radius:.4rem}"
    ".muted{color:#555d66;font-size:.92rem}"
    "code{word-break:break-all}";

static void head(struct sb *b, const char *title)
{
    sb_put(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
              "<meta name=\"referrer\" content=\"no-referrer\"><title>");
    sb_esc(b, title);
    sb_put(b, "</title><style>");
    sb_put(b, STYLE);
    sb_put(b, "</style></head><body><main>\n<h1>");
    sb_esc(b, title);
    sb_put(b, "</h1>\n");
}

static char *finish(struct sb *b)
{
    sb_put(b, "</main></body></html>\n");
    return b->s;
}

static void hidden(struct sb *b, const char *name, const char *value)
{
    sb_put(b, "<input type=\"hidden\" name=\"");
    sb_esc(b, name);
    sb_put(b, "\" value=\"");
    sb_esc(b, value);
    sb_put(b, "\">\n");
}

static void hidden_params(struct sb *b, const struct oauth_params *p, const char *skip)
{
    for (int i = 0; p && i < p->n; i++)
        if (!skip || strcmp(p->key[i], skip))
            hidden(b, p->key[i], p->val[i]);
}

static void reply_html(struct edge *e, struct evhttp_request *req, int status, const char *html,
                       const char *form_origin)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char csp[512];
    snprintf(csp, sizeof csp,
             "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'%s%s; frame-ancestors 'none'; "
             "base-uri 'none'",
             form_origin ? " " : "", form_origin ? form_origin : "");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Content-Security-Policy", csp);
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Pragma", "no-cache");
    http_reply(e, req, status, "text/html; charset=utf-8", html, strlen(html));
}

void web_reply_html(struct edge *e, struct evhttp_request *req, int status, const char *html)
{
    reply_html(e, req, status, html, NULL);
}

void web_reply_html_form_to(struct edge *e, struct evhttp_request *req, int status, const char *html,
                            const char *redirect_uri)
{
    /* Only characters of a plain origin may reach the header: anything else
     * could add CSP directives. */
    const char *sep = redirect_uri ? strstr(redirect_uri, "://") : NULL;
    char origin[300] = "";
    if (sep && (!strncmp(redirect_uri, "https://", 8) || !strncmp(redirect_uri, "http://", 7))) {
        size_t n = (size_t)(sep + 3 - redirect_uri) + strcspn(sep + 3, "/?#");
        bool ok = n < sizeof origin && n > (size_t)(sep + 3 - redirect_uri);
        for (const char *c = sep + 3; ok && c < redirect_uri + n; c++)
            ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]", *c) != NULL;
        if (ok)
            memcpy(origin, redirect_uri, n), origin[n] = '\0';
    }
    reply_html(e, req, status, html, origin[0] ? origin : NULL);
}

char *web_page_error(const char *title, const char *message)
{
    struct sb b = {0};
    head(&b, title);
    sb_put(&b, "<p role=\"alert\">");
    sb_esc(&b, message);
    sb_put(&b, "</p>\n<p class=\"muted\">You can close this window and start the connection again from your "
               "application.</p>\n");
    return finish(&b);
}

void web_reply_error(struct edge *e, struct evhttp_request *req, int status, const char *title, const char *message)
{
    char *html = web_page_error(title, message);
    web_reply_html(e, req, status, html);
    free(html);
}

const char *web_request_params(struct edge *e, struct evhttp_request *req, size_t *len)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST) {
        oauth_reply_method_not_allowed(e, req, "GET, POST");
        return NULL;
    }
    if (m == EVHTTP_REQ_GET) {
        const char *uri = evhttp_request_get_uri(req);
        const char *q = strchr(uri, '?');
        const char *text = q ? q + 1 : "";
        *len = strcspn(text, "#");
        return text;
    }
    bool too_big;
    const char *text = oauth_body(req, OAUTH_MAX_BODY, len, &too_big);
    if (!text) {
        web_reply_error(e, req, 413, "Request too large", "The form was too large.");
        return NULL;
    }
    if (!oauth_content_type_is(http_header(req, "Content-Type"), "application/x-www-form-urlencoded")) {
        web_reply_error(e, req, 415, "Something went wrong", "The form was not understood.");
        return NULL;
    }
    return text;
}

char *web_page_login(const struct web_login *v)
{
    struct sb b = {0};
    head(&b, "Sign in to 3Min API");
    if (v->client_name) {
        sb_put(&b, "<p><strong>");
        sb_esc(&b, v->client_name);
        sb_put(&b, "</strong> wants to connect to your 3Min API account. Sign in to continue.</p>\n");
    }
    if (v->message) {
        sb_put(&b, "<p class=\"msg\" role=\"alert\">");
        sb_esc(&b, v->message);
        sb_put(&b, "</p>\n");
    }
    sb_put(&b, "<form method=\"post\" action=\"");
    sb_esc(&b, v->action);
    sb_put(&b, "\">\n");
    hidden_params(&b, v->hidden, NULL);
    hidden(&b, "csrf_token", v->csrf);
    sb_put(&b, "<label for=\"email\">E-mail</label>\n<input type=\"email\" id=\"email\" name=\"email\" "
               "autocomplete=\"username\" required autofocus value=\"");
    sb_esc(&b, v->email ? v->email : "");
    sb_put(&b, "\">\n<label for=\"password\">Password</label>\n<input type=\"password\" id=\"password\" "
               "name=\"password\" autocomplete=\"current-password\" required>\n"
               "<button type=\"submit\" class=\"primary\">Sign in</button>\n</form>\n");
    if (v->after_html)
        sb_put(&b, v->after_html);
    return finish(&b);
}

static const struct {
    uint32_t bit;
    const char *name, *what;
} SCOPES[] = {
    {SCOPE_READ, "read", "Read your endpoints, their fields and versions"},
    {SCOPE_WRITE, "write", "Create and change endpoints, and deploy them"},
    {SCOPE_EXECUTE, "execute", "Call your endpoints' data API"},
};

char *web_page_consent(const struct web_consent *v)
{
    struct sb b = {0};
    head(&b, "Allow access to 3Min API?");
    sb_put(&b, "<p><strong>");
    sb_esc(&b, v->client_name && *v->client_name ? v->client_name : "An unnamed application");
    sb_put(&b, "</strong>");
    if (v->self_registered)
        sb_put(&b, " <span class=\"muted\">(self-registered, not verified)</span>");
    if (v->client_host) {
        sb_put(&b, ", published by <code>");
        sb_esc(&b, v->client_host);
        sb_put(&b, "</code>,");
    }
    sb_put(&b, " wants to access your 3Min API account");
    if (v->account_email) {
        sb_put(&b, " <strong>");
        sb_esc(&b, v->account_email);
        sb_put(&b, "</strong>");
    }
    sb_put(&b, ".</p>\n<p>After you answer, you will be sent to <code>");
    sb_esc(&b, v->redirect_host ? v->redirect_host : "?");
    sb_put(&b, "</code>.</p>\n");
    if (v->client_host && v->loopback_only)
        sb_put(&b, "<p class=\"warn\">This application's published description sends you back only to your own "
                   "computer (local addresses). Any program on your computer can use that description: allow only "
                   "if you started the connection yourself from an application you trust.</p>\n");
    else if (v->loopback_redirect)
        sb_put(&b, "<p class=\"warn\">This application runs on your own computer (its address is local). Allow "
                   "only if you started the connection yourself.</p>\n");
    sb_put(&b, "<form method=\"post\" action=\"");
    sb_esc(&b, v->action);
    sb_put(&b, "\">\n");
    hidden_params(&b, v->hidden, "scope");
    hidden(&b, "csrf_token", v->csrf);
    sb_put(&b, "<fieldset><legend>Permissions</legend>\n");
    for (size_t i = 0; i < TM_ARRAY_LEN(SCOPES); i++) {
        sb_put(&b, "<label><input type=\"checkbox\" name=\"scope\" value=\"");
        sb_put(&b, SCOPES[i].name);
        sb_put(&b, "\"");
        if (v->requested & SCOPES[i].bit)
            sb_put(&b, " checked");
        sb_put(&b, "> <strong>");
        sb_put(&b, SCOPES[i].name);
        sb_put(&b, "</strong> — ");
        sb_put(&b, SCOPES[i].what);
        sb_put(&b, "</label>\n");
    }
    sb_put(&b, "</fieldset>\n<p class=\"muted\">Untick <strong>write</strong> and <strong>execute</strong> to connect "
               "read-only.</p>\n"
               "<button type=\"submit\" name=\"decision\" value=\"allow\" class=\"primary\">Allow</button>\n"
               "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>\n"
               "</form>\n");
    return finish(&b);
}
