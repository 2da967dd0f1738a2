/*
 * dash — the web dashboard's framework on the edge (docs/DASHBOARD.md):
 * routing of the dashboard's paths, the signed-in session, forms with their
 * CSRF check, calls to the workers' `web` operations, and the page layout.
 *
 * A request to a dashboard path becomes a struct dash_req and goes to the
 * page function of its row in the page table (dash.c). For a signed-in page
 * the session cookie has already been resolved (auth op web.session): no
 * cookie, or a dead session, is a 303 to /login?next=<this path>. For a POST
 * the body has been parsed (application/x-www-form-urlencoded, at most 16 KB,
 * else 413/415) and its csrf_token checked in constant time against the
 * session's own CSRF token (web_sessions.csrf), else 403 and nothing runs;
 * pages before sign-in check the double-submit cookie instead
 * (web_csrf_valid of web_session.h).
 *
 * A page answers exactly once with dash_render, dash_redirect or dash_fail
 * (each frees the dash_req), possibly from a dash_call callback. After every
 * successful POST it redirects (Post/Redirect/Get) with a flash message,
 * which travels in a short-lived cookie and is shown once on the next page.
 *
 * HTML: pages build their body with a strbuf; every value from the user or
 * the database goes through dash_esc. The layout adds the navigation, the
 * flash message and the sign-out button, and goes out through
 * web_reply_html (X-Frame-Options DENY, a CSP without scripts).
 */
#ifndef TM_DASH_H
#define TM_DASH_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/http.h>
#include <jansson.h>
#include "common/strbuf.h"
#include "proto/errors.h"
#include "services/edge/edge.h"
#include "services/edge/oauth_uri.h"

#define DASH_PATH_MAX 256
#define DASH_MAX_BODY (16u << 10)

struct dash_req {
    struct edge *e;
    struct evhttp_request *req;
    enum evhttp_cmd_type method;      /* GET (also for HEAD) or POST */
    char path[DASH_PATH_MAX];         /* the request's path, no query */
    const char *rest;                 /* prefix pages: the path after the prefix ("" if none) */
    struct oauth_params query;        /* the query string */
    struct oauth_params form;         /* a POST's fields (CSRF already checked) */
    /* signed-in pages only: */
    char *session;                    /* the raw session token (sent along by dash_call) */
    char account_id[40];
    char *email;
    char *csrf;                       /* the session's CSRF token (dash_form_open puts it in forms) */
    char *flash;                      /* message carried from the previous redirect, or NULL */
    void *state;                      /* the page's own, released with state_free on reply */
    void (*state_free)(void *);
};

typedef void (*dash_page_fn)(struct dash_req *d);

/* Serves path if it is a dashboard path: true when handled (edge_http.c). */
bool dash_route(struct edge *e, struct evhttp_request *req, const char *path);

/* ---- fields ------------------------------------------------------------ */

/* The form field / query parameter name, or NULL. */
const char *dash_form(const struct dash_req *d, const char *name);
const char *dash_query(const struct dash_req *d, const char *name);
/* True if s is a path on this site that is safe to redirect to: starts with
 * one '/', not "//" or "/\", printable ASCII, at most 512 bytes. */
bool dash_local_path(const char *s);
/* The form field name when present and at most max bytes, else "" (the
 * worker then refuses it like an empty field). */
const char *dash_form_or_empty(const struct dash_req *d, const char *name, size_t max);

/* ---- workers ----------------------------------------------------------- */

struct dash_answer {
    bool ok;
    json_t *result;               /* ok: the result object (borrowed, freed after the callback) */
    enum tm_error code;           /* !ok: TM_ERR_UNAVAILABLE when no worker answered */
    const char *message;          /* !ok: the worker's message, for the user */
};
typedef void (*dash_cb)(struct dash_req *d, const struct dash_answer *a);

/* Sends web operation name (op `web`, principal `web` with the session's
 * account) with args (taken over; session and ip are added). */
void dash_call(struct dash_req *d, const char *name, json_t *args, dash_cb cb);
/* Sends auth operation name (principal anon): the pages before sign-in. */
void dash_call_auth(struct dash_req *d, const char *name, json_t *args, dash_cb cb);

/* ---- replies (each frees d) ------------------------------------------- */

/* The page: layout (navigation when signed in), title as <h1>, body (HTML,
 * not freed), the flash message if any. */
void dash_render(struct dash_req *d, int status, const char *title, const char *body_html);
/* 303 to a local path, with an optional flash message (at most 240 bytes are kept). */
void dash_redirect(struct dash_req *d, const char *local_path, const char *flash);
/* An error page with status and message. */
void dash_error(struct dash_req *d, int status, const char *message);
/* The error page for a failed worker answer: 400 invalid, 403 permission,
 * 404 not found, 409 conflict, 402 quota, 429 rate limit, 503 otherwise. */
void dash_fail(struct dash_req *d, const struct dash_answer *a);
/* The HTTP status dash_fail uses for a code. */
int dash_status_of(enum tm_error code);
/* A refused action on a page that shows it again with why: 404 and 503 go
 * to dash_fail (d is freed, true); otherwise *status and *message (malloc'd,
 * the worker's message or "That did not work.") are set for the page, false. */
bool dash_fail_or_keep(struct dash_req *d, const struct dash_answer *a, int *status, char **message);
/* What a page tells the user about a failed worker answer: the worker's
 * message when it has one, else a fixed sentence for the code (never NULL
 * or empty, so no page shows an empty error box). */
#define DASH_MSG_UNAVAILABLE "The service is unavailable right now. Try again in a minute."
const char *dash_message_of(enum tm_error code, const char *message);

/* ---- HTML -------------------------------------------------------------- */

void dash_put(struct strbuf *b, const char *html);   /* trusted markup */
void dash_put_int(struct strbuf *b, long long v);
/* dash_render with the body built in b (taken over and freed). */
void dash_render_sb(struct dash_req *d, int status, const char *title, struct strbuf *b);
/* The string member k of a worker's result object, or NULL. */
const char *dash_jstr(const json_t *o, const char *k);
void dash_esc(struct strbuf *b, const char *text);   /* text, HTML-escaped (NULL: nothing) */
/* <form method="post" action="action"> with the CSRF field; close with "</form>". */
void dash_form_open(struct strbuf *b, const struct dash_req *d, const char *action);
/* A message box (role=alert) with text; class "msg" (error) or "ok".
 * NULL or empty text shows DASH_MSG_UNAVAILABLE rather than an empty box. */
void dash_notice(struct strbuf *b, const char *cls, const char *text);
/* <input type="hidden"> with name and value (both escaped). */
void dash_hidden(struct strbuf *b, const char *name, const char *value);
/* The "Your password" field (name "password") with the element id id. */
void dash_password_input(struct strbuf *b, const char *id);
/* An action confirmed with the password, folded in <details>: the summary,
 * an optional note, then the form with the hidden fields, the password field
 * and the submit button. */
struct dash_confirm {
    const char *summary;
    const char *note;                 /* trusted markup, shown muted; or NULL */
    const char *action;               /* the form's action path */
    const char *const *hidden;        /* name, value, ..., NULL */
    const char *password_id;
    const char *button;               /* the button's text (escaped) */
    bool danger;                      /* the button in the danger style */
};
void dash_confirm_form(struct strbuf *b, const struct dash_req *d, const struct dash_confirm *f);
/* The secret shown once after a reveal: what it is, the secret, and advice
 * (trusted markup) on keeping it. */
void dash_shown_secret(struct strbuf *b, const char *what, const char *secret, const char *advice);

/* Cookies of the session: set after sign-in, cleared at sign-out. */
void dash_set_session_cookie(struct dash_req *d, const char *session);
void dash_clear_session_cookie(struct dash_req *d);

/* ---- pages ------------------------------------------------------------ */

/* accounts (dash_accounts.c): before sign-in */
void dash_page_login(struct dash_req *d);
void dash_page_signup(struct dash_req *d);
void dash_page_verify(struct dash_req *d);
void dash_page_forgot(struct dash_req *d);
void dash_page_reset(struct dash_req *d);
/* accounts (dash_accounts.c): signed in */
void dash_page_logout(struct dash_req *d);
void dash_page_profile(struct dash_req *d);
void dash_page_profile_password(struct dash_req *d);
void dash_page_audit(struct dash_req *d);
/* APIs (dash_apis.c): /dashboard and /dashboard/endpoints/{id}[/action] */
void dash_page_dashboard(struct dash_req *d);
void dash_page_endpoint(struct dash_req *d);
/* Secrets shown once after Post/Redirect/Get (dash_apis.c; docs/DASHBOARD.md, "APIs"). A page sends
 * dash_reveal_reply_key(d) as args.reply_key of its web operation; the worker answers the secret sealed with it
 * (web_seal_for_edge); before redirecting the page keeps it with dash_reveal_set(d, tag, sealed) (a 60 s
 * cookie; tag says what and whose it is: [A-Za-z0-9._:-], at most 200 bytes); the next GET gets it back once
 * with dash_reveal_take(d, &tag) (malloc'd secret and tag, the cookie cleared; NULL if absent or not openable
 * with this session), and must check the tag. The reply key is SHA-256("tm-dashboard-reveal" NUL session). */
char *dash_reveal_reply_key(const struct dash_req *d);
bool dash_reveal_set(struct dash_req *d, const char *tag, const char *sealed);
char *dash_reveal_take(struct dash_req *d, char **tag);
/* Their pure parts (unit-tested): the key, the cookie value "<tag>.<sealed>" (NULL if either is malformed),
 * and opening a cookie value with a session (the secret and *tag, or NULL). */
void dash_reveal_key(const char *session, uint8_t key[32]);
char *dash_reveal_cookie_value(const char *tag, const char *sealed);
char *dash_reveal_open_value(const char *value, const char *session, char **tag);

/* archives (dash_archives.c) */
void dash_page_archives(struct dash_req *d);
void dash_page_archives_download(struct dash_req *d);
void dash_page_archives_delete(struct dash_req *d);
/* profile's own sections (dash_profile.c): dash_page_profile loads their data
 * with dash_profile_load (then continues with then(d)), and its page calls
 * dash_profile_sections to add them. */
void dash_profile_load(struct dash_req *d, void (*then)(struct dash_req *d));
void dash_profile_sections(struct dash_req *d, struct strbuf *b);
void dash_page_profile_timezone(struct dash_req *d);
void dash_page_profile_notifications(struct dash_req *d);
void dash_page_profile_delete(struct dash_req *d);
/* AI integration (dash_ai.c): MCP API keys and connected apps */
void dash_page_ai(struct dash_req *d);
void dash_page_ai_key_create(struct dash_req *d);
void dash_page_ai_new_key(struct dash_req *d);
void dash_page_ai_key(struct dash_req *d);
void dash_page_ai_app(struct dash_req *d);
/* collaboration keys and invitations (dash_collab.c): /dashboard/endpoints/{id}/collaborators[/action],
 * routed by dash_page_endpoint (d->rest is "{id}/collaborators...") */
void dash_page_collab(struct dash_req *d);
/* subscription (dash_subscription.c) */
void dash_page_subscription(struct dash_req *d);
void dash_page_subscription_change(struct dash_req *d);
void dash_page_subscription_cancel(struct dash_req *d);

#endif
