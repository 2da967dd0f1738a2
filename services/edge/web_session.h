/*
 * web_session — the cookies of the sign-in pages (OAuth consent, invitation
 * acceptance, and later the dashboard): their names (`__Host-` prefixed
 * under https), setting them (HttpOnly, SameSite=Lax, Secure under https),
 * reading them back only when the value has the shape we issue, the
 * double-submit CSRF token of the sign-in form, and the sign-in itself
 * (auth op web.login) shared by the pages that show that form.
 */
#ifndef TM_WEB_SESSION_H
#define TM_WEB_SESSION_H

#include <stdbool.h>
#include <event2/http.h>
#include "services/edge/edge.h"
#include "services/edge/edge_dispatch.h"
#include "services/edge/oauth_uri.h"

#define WEB_COOKIE_VALUE_MAX 128

const char *web_session_cookie(const struct edge *e);
const char *web_csrf_cookie(const struct edge *e);

void web_set_cookie(const struct edge *e, struct evhttp_request *req, const char *name, const char *value);

/* The cookie's value if it is base64url of at most WEB_COOKIE_VALUE_MAX
 * characters, else NULL; malloc'd. */
char *web_cookie_get(struct evhttp_request *req, const char *name);

/* The CSRF token of the sign-in form: the one in the request's cookie, or a
 * new random one that is set as the cookie of the reply. Malloc'd. */
char *web_csrf_token(const struct edge *e, struct evhttp_request *req);

/* True if the form's csrf_token equals the CSRF cookie (constant time). */
bool web_csrf_valid(const struct edge *e, struct evhttp_request *req, const char *form_token);

/* The sign-in form's POST (fields csrf_token, email, password of p): checks
 * the CSRF token and that both fields are filled in, then asks a worker to
 * sign in (auth op web.login, with the client's address) and returns true;
 * cb gets the answer. A form that fails the checks is not sent: false, with
 * the status and message to show the form again with. */
bool web_login_submit(struct edge *e, struct evhttp_request *req, const struct oauth_params *p, dispatch_cb cb,
                      void *arg, int *status, const char **message);

/* The answer to web.login, except a locked account (TM_ERR_RATE_LIMITED),
 * which each page words itself. Signed in: sets the session cookie, redirects
 * (303) to the public URL + path with the query pairs (name, value, ...,
 * NULL) and returns 0. Otherwise nothing is sent: the status to show the form
 * again with (401 wrong e-mail or password, 503 no answer) and *message. */
int web_login_answered(struct edge *e, struct evhttp_request *req, enum dispatch_status st,
                       const struct env_response *resp, const char *path, const char *const *pairs,
                       const char **message);

#endif
