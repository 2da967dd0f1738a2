/*
 * web_pages — the server-rendered HTML of the sign-in flow: the login form,
 * the consent page and error pages. Small, accessible (labels, one column,
 * system fonts), readable on a phone, no scripts. Every value shown is
 * HTML-escaped here; callers pass raw strings.
 *
 * Every page goes out with text/html; charset=utf-8, X-Frame-Options: DENY,
 * a CSP that forbids everything but inline style and same-origin form
 * posts, and Referrer-Policy: no-referrer (the authorize URL carries state).
 */
#ifndef TM_WEB_PAGES_H
#define TM_WEB_PAGES_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/http.h>
#include "services/edge/edge.h"
#include "services/edge/oauth_uri.h"

/* Sends html (not freed) with the security headers above. */
void web_reply_html(struct edge *e, struct evhttp_request *req, int status, const char *html);
/* The same, with redirect_uri's origin added to form-action: browsers apply
 * form-action to the redirects that follow a form submission, so the
 * consent form's 302 to the client would otherwise be blocked. Falls back
 * to 'self' alone when the origin is not plainly scheme://host[:port]. */
void web_reply_html_form_to(struct edge *e, struct evhttp_request *req, int status, const char *html,
                            const char *redirect_uri);

/* A page with a heading and a message (malloc'd). */
char *web_page_error(const char *title, const char *message);
/* web_page_error sent with status. */
void web_reply_error(struct edge *e, struct evhttp_request *req, int status, const char *title, const char *message);

/* The parameters of a sign-in page's request: a POST's form body
 * (application/x-www-form-urlencoded, at most OAUTH_MAX_BODY) or a GET's
 * query string up to any '#', with its length in *len. Another method
 * (405), or a POST too large (413) or not a form (415), is answered here
 * and NULL returned. */
const char *web_request_params(struct edge *e, struct evhttp_request *req, size_t *len);

struct web_login {
    const char *action;                 /* form action, e.g. "/oauth/authorize" */
    const struct oauth_params *hidden;  /* carried through as hidden fields */
    const char *csrf;
    const char *client_name;            /* may be NULL */
    const char *email;                  /* prefill, may be NULL */
    const char *message;                /* error shown above the form, may be NULL */
    const char *after_html;             /* trusted markup after the form (e.g. a sign-up link), may be NULL */
};
char *web_page_login(const struct web_login *v);

struct web_consent {
    const char *action;
    const struct oauth_params *hidden;  /* `scope` is skipped: the checkboxes carry it */
    const char *csrf;
    const char *client_name;
    bool self_registered;
    const char *client_host;            /* metadata-document client: its URL's host (relying party), or NULL */
    bool loopback_only;                 /* metadata-document client whose redirect URIs are all loopback */
    const char *redirect_host;
    bool loopback_redirect;
    uint32_t requested;                 /* SCOPE_* bits checked initially */
    const char *account_email;
};
char *web_page_consent(const struct web_consent *v);

#endif
