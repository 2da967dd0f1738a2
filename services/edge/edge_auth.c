/*
 * edge_auth — bearer extraction and API-key resolution. See edge_auth.h.
 */
#include "services/edge/edge_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "services/edge/oauth_jwt.h"
#include "services/edge/oauth_revocations.h"

struct pending_auth {
    struct edge *e;
    uint8_t hash[32];
    auth_cb cb;
    void *arg;
};

const char *auth_bearer_token(const char *header, size_t *len)
{
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return NULL;
    const char *t = header + 7;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    while (n > 0 && t[n - 1] == ' ')
        n--;
    if (n == 0 || n > 4096)
        return NULL;
    *len = n;
    return t;
}

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool auth_is_mcp_key(const char *token, size_t len)
{
    if (len != MCP_KEY_LEN || strncmp(token, MCP_KEY_PREFIX, 7) != 0)
        return false;
    for (size_t i = 7; i < len; i++)
        if (!b64url_char(token[i]))
            return false;
    return true;
}

static bool principal_from_result(const char *json, size_t len, struct principal *who)
{
    json_t *r = json_loadb(json, len, 0, NULL);
    const char *acct = json_string_value(json_object_get(r, "account_id"));
    const char *key = json_string_value(json_object_get(r, "key_id"));
    json_t *scopes = json_object_get(r, "scopes");
    bool ok = acct && key && json_is_array(scopes) && strlen(acct) < sizeof who->account_id &&
              strlen(key) < sizeof who->key_id;
    if (ok) {
        memset(who, 0, sizeof *who);
        strcpy(who->account_id, acct);
        strcpy(who->key_id, key);
        who->kind = PRINCIPAL_APIKEY;
        size_t i;
        json_t *s;
        json_array_foreach(scopes, i, s)
        {
            uint32_t bit;
            if (json_is_string(s) && scopes_parse(json_string_value(s), &bit) == 0)
                who->scopes |= bit;
        }
    }
    json_decref(r);
    return ok;
}

static void on_resolved(void *arg, enum dispatch_status status, const struct env_response *resp)
{
    struct pending_auth *p = arg;
    struct principal who;
    if (status != DISPATCH_OK) {
        log_warn("API key check failed: %s", dispatch_status_text(status));
        p->cb(p->arg, AUTH_UNAVAILABLE, NULL);
    } else if (resp->ok && principal_from_result(resp->result, resp->result_len, &who)) {
        keycache_put(p->e->keys, p->hash, mono_ms(), &who);
        p->cb(p->arg, AUTH_OK, &who);
    } else if (!resp->ok && resp->code == TM_ERR_NOT_FOUND) {
        keycache_put(p->e->keys, p->hash, mono_ms(), NULL);
        p->cb(p->arg, AUTH_INVALID, NULL);
    } else {
        log_warn("API key check failed: %s", resp->ok ? "malformed answer" : resp->message);
        p->cb(p->arg, AUTH_UNAVAILABLE, NULL);
    }
    free(p);
}

/* An OAuth access token: verified here, on the loop thread (a cache hit
 * costs one SHA-256, a miss one ES256 verification, ~50 µs). */
static void auth_jwt(struct edge *e, const char *token, size_t len, auth_cb cb, void *arg)
{
    if (!e->keys_oauth) {
        cb(arg, AUTH_INVALID, NULL);
        return;
    }
    char aud[sizeof e->cfg->public_url + 16];
    snprintf(aud, sizeof aud, "%s/api/mcp", e->cfg->public_url);
    struct principal who;
    enum oauth_jwt_status st =
        oauth_jwt_check(e->keys_oauth, e->jwt_cache, token, len, e->cfg->public_url, aud, now_ms() / 1000, &who);
    if (st != OAUTH_JWT_OK) {
        log_debug("bearer token refused: %s", oauth_jwt_status_text(st));
        cb(arg, AUTH_INVALID, NULL);
        return;
    }
    if (e->revoked && oauth_revocations_contains(e->revoked, who.key_id)) {
        log_debug("bearer token refused: grant %s is revoked", who.key_id);
        cb(arg, AUTH_INVALID, NULL);
        return;
    }
    cb(arg, AUTH_OK, &who);
}

void auth_resolve(struct edge *e, const char *authorization_header, auth_cb cb, void *arg)
{
    size_t len;
    const char *token = auth_bearer_token(authorization_header, &len);
    if (!token) {
        cb(arg, AUTH_MISSING, NULL);
        return;
    }
    if (!auth_is_mcp_key(token, len)) {
        if (oauth_jwt_looks_like(token, len))
            auth_jwt(e, token, len, cb, arg);
        else
            cb(arg, AUTH_INVALID, NULL);
        return;
    }
    uint8_t hash[32];
    struct principal who;
    sha256(token, len, hash);
    switch (keycache_get(e->keys, hash, mono_ms(), &who)) {
    case KEYCACHE_VALID:
        cb(arg, AUTH_OK, &who);
        return;
    case KEYCACHE_INVALID:
        cb(arg, AUTH_INVALID, NULL);
        return;
    case KEYCACHE_MISS:
        break;
    }
    struct pending_auth *p = xcalloc(1, sizeof *p);
    p->e = e;
    memcpy(p->hash, hash, 32);
    p->cb = cb;
    p->arg = arg;
    char hex[65];
    hex_encode(hash, 32, hex);
    struct env_request req = {.op = ENV_OP_AUTH};
    strcpy(req.name, "auth.resolve_mcp_key");
    req.args = xasprintf("{\"key_hash\":\"%s\"}", hex);
    req.args_len = strlen(req.args);
    dispatch_submit(e->dispatch, &req, on_resolved, p);
    free(req.args);
}
