/*
 * web_session — cookies of the sign-in pages. See web_session.h.
 */
#include "services/edge/web_session.h"

#include <stdlib.h>
#include <string.h>
#include <event2/keyvalq_struct.h>
#include "common/log.h"
#include "common/util.h"
#include "services/edge/edge_http.h"
#include "services/edge/oauth_http.h"
#include "services/edge/oauth_uri.h"

#define LOGIN_UNAVAILABLE "Sign-in is not available right now. Try again in a minute."

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

bool web_login_submit(struct edge *e, struct evhttp_request *req, const struct oauth_params *p, dispatch_cb cb,
                      void *arg, int *status, const char **message)
{
    if (!web_csrf_valid(e, req, oauth_params_get(p, "csrf_token"))) {
        *status = 403;
        *message = "This sign-in form had expired. Please sign in again.";
        return false;
    }
    const char *email = oauth_params_get(p, "email");
    const char *password = oauth_params_get(p, "password");
    if (!email || !*email || !password || !*password) {
        *status = 400;
        *message = "Enter your e-mail and password.";
        return false;
    }
    char ip[64];
    http_client_ip(req, ip, sizeof ip);
    json_t *args = json_pack("{s:s,s:s,s:s}", "email", email, "password", password, "ip", ip);
    oauth_worker_call(e, "web.login", args, cb, arg);
    return true;
}

/* The refusal of a failed web.login: wrong e-mail or password, or unavailable. */
static int login_refused(const struct env_response *resp, const char **message)
{
    if (resp->code == TM_ERR_PERMISSION_DENIED || resp->code == TM_ERR_NOT_FOUND ||
        resp->code == TM_ERR_INVALID_ARGUMENT) {
        *message = "The e-mail or password is not correct.";
        return 401;
    }
    log_warn("web.login failed: %s", resp->message ? resp->message : "?");
    *message = LOGIN_UNAVAILABLE;
    return 503;
}

int web_login_answered(struct edge *e, struct evhttp_request *req, enum dispatch_status st,
                       const struct env_response *resp, const char *path, const char *const *pairs,
                       const char **message)
{
    *message = LOGIN_UNAVAILABLE;
    if (st != DISPATCH_OK)
        return 503;
    if (!resp->ok)
        return login_refused(resp, message);
    json_t *r = oauth_worker_result(resp);
    const char *session = json_string_value(json_object_get(r, "session"));
    if (!session || strlen(session) > WEB_COOKIE_VALUE_MAX) {
        json_decref(r);
        return 503;
    }
    web_set_cookie(e, req, web_session_cookie(e), session);
    json_decref(r);
    char *base = xasprintf("%s%s", e->cfg->public_url, path);
    char *url = oauth_url_with_params(base, pairs);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", url);
    http_reply(e, req, 303, NULL, NULL, 0);
    free(url);
    free(base);
    return 0;
}
