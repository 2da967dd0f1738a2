/*
 * web_session — the cookies of the sign-in pages (OAuth consent, invitation
 * acceptance, and later the dashboard): their names (`__Host-` prefixed
 * under https), setting them (HttpOnly, SameSite=Lax, Secure under https),
 * reading them back only when the value has the shape we issue, and the
 * double-submit CSRF token of the sign-in form.
 */
#ifndef TM_WEB_SESSION_H
#define TM_WEB_SESSION_H

#include <stdbool.h>
#include <event2/http.h>
#include "services/edge/edge.h"

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

#endif
