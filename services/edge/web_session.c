/*
 * web_session — cookies of the sign-in pages. See web_session.h.
 */
#include "services/edge/web_session.h"

#include <stdlib.h>
#include <string.h>
#include <event2/keyvalq_struct.h>
#include "common/util.h"
#include "services/edge/edge_http.h"
#include "services/edge/oauth_uri.h"

static bool https(const struct edge *e)
{
    return !strncmp(e->cfg->public_url, "https://", 8);
}

const char *web_session_cookie(const struct edge *e)
{
    return https(e) ? "__Host-tm_session" : "tm_session";
}

const char *web_csrf_cookie(const struct edge *e)
{
    return https(e) ? "__Host-tm_csrf" : "tm_csrf";
}

void web_set_cookie(const struct edge *e, struct evhttp_request *req, const char *name, const char *value)
{
    char *c = xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Lax%s", name, value, https(e) ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", c);
    free(c);
}

char *web_cookie_get(struct evhttp_request *req, const char *name)
{
    char *v = oauth_cookie_get(http_header(req, "Cookie"), name);
    if (v && (strlen(v) > WEB_COOKIE_VALUE_MAX ||
              strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(v))) {
        free(v);
        v = NULL;
    }
    return v;
}

char *web_csrf_token(const struct edge *e, struct evhttp_request *req)
{
    char *csrf = web_cookie_get(req, web_csrf_cookie(e));
    if (!csrf || strlen(csrf) != 43) {
        free(csrf);
        uint8_t raw[32];
        random_bytes(raw, sizeof raw);
        csrf = b64url_encode(raw, sizeof raw);
        web_set_cookie(e, req, web_csrf_cookie(e), csrf);
    }
    return csrf;
}

bool web_csrf_valid(const struct edge *e, struct evhttp_request *req, const char *form_token)
{
    char *expected = web_cookie_get(req, web_csrf_cookie(e));
    bool ok = form_token && expected && ct_equal(form_token, strlen(form_token), expected, strlen(expected));
    free(expected);
    return ok;
}
