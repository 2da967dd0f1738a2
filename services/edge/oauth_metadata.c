/*
 * oauth_metadata — the public discovery documents: RFC 9728 protected
 * resource metadata (at the path-inserted URL and the root one, same JSON),
 * RFC 8414 authorization server metadata and the JWKS. All are built from
 * PUBLIC_URL, never from the Host header, so the issuer is byte-identical
 * everywhere (PRM, AS metadata, the `iss` response parameter, the JWT).
 *
 * Not served: /.well-known/openid-configuration (404). A partial OIDC
 * document is worse than none: clients that find one expect id_tokens.
 * Not advertised: offline_access (refresh tokens are always issued, and
 * listing it makes clients request it). Advertised:
 * client_id_metadata_document_supported (a URL client_id is fetched and
 * validated by a worker, oauth.resolve_cimd); with "none" among the token
 * endpoint methods, this is what makes Claude use CIMD instead of DCR.
 */
#include <string.h>
#include "common/util.h"
#include "services/edge/edge_http.h"
#include "services/edge/oauth_http.h"
#include "common/oauth_keys.h"

static bool public_get(struct edge *e, struct evhttp_request *req)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m == EVHTTP_REQ_OPTIONS) {
        oauth_preflight_public(e, req, "GET, OPTIONS");
        return false;
    }
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        oauth_cors_public(req);
        oauth_reply_method_not_allowed(e, req, "GET, HEAD, OPTIONS");
        return false;
    }
    return true;
}

static void reply_public_json(struct edge *e, struct evhttp_request *req, json_t *doc)
{
    oauth_cors_public(req);
    http_reply_json(e, req, 200, doc);
    json_decref(doc);
}

static json_t *scopes_supported(void)
{
    return json_pack("[sss]", "read", "write", "execute");
}

void oauth_route_prm(struct edge *e, struct evhttp_request *req)
{
    if (!public_get(e, req))
        return;
    const char *pu = e->cfg->public_url;
    json_t *doc = json_object();
    json_object_set_new(doc, "resource", json_sprintf("%s/api/mcp", pu));
    json_object_set_new(doc, "authorization_servers", json_pack("[s]", pu));
    json_object_set_new(doc, "scopes_supported", scopes_supported());
    json_object_set_new(doc, "bearer_methods_supported", json_pack("[s]", "header"));
    json_object_set_new(doc, "resource_name", json_string("3Min API"));
    json_object_set_new(doc, "resource_documentation", json_sprintf("%s/docs/mcp", pu));
    json_object_set_new(doc, "jwks_uri", json_sprintf("%s/.well-known/jwks.json", pu));
    json_object_set_new(doc, "resource_signing_alg_values_supported", json_pack("[s]", "ES256"));
    reply_public_json(e, req, doc);
}

void oauth_route_as_metadata(struct edge *e, struct evhttp_request *req)
{
    if (!public_get(e, req))
        return;
    const char *pu = e->cfg->public_url;
    json_t *auth_methods = json_pack("[sss]", "none", "client_secret_post", "client_secret_basic");
    json_t *doc = json_object();
    json_object_set_new(doc, "issuer", json_string(pu));
    json_object_set_new(doc, "authorization_endpoint", json_sprintf("%s/oauth/authorize", pu));
    json_object_set_new(doc, "token_endpoint", json_sprintf("%s/oauth/token", pu));
    json_object_set_new(doc, "registration_endpoint", json_sprintf("%s/oauth/register", pu));
    json_object_set_new(doc, "revocation_endpoint", json_sprintf("%s/oauth/revoke", pu));
    json_object_set_new(doc, "jwks_uri", json_sprintf("%s/.well-known/jwks.json", pu));
    json_object_set_new(doc, "scopes_supported", scopes_supported());
    json_object_set_new(doc, "response_types_supported", json_pack("[s]", "code"));
    json_object_set_new(doc, "response_modes_supported", json_pack("[s]", "query"));
    json_object_set_new(doc, "grant_types_supported", json_pack("[ss]", "authorization_code", "refresh_token"));
    json_object_set_new(doc, "token_endpoint_auth_methods_supported", json_deep_copy(auth_methods));
    json_object_set_new(doc, "revocation_endpoint_auth_methods_supported", auth_methods);
    json_object_set_new(doc, "code_challenge_methods_supported", json_pack("[s]", "S256"));
    json_object_set_new(doc, "client_id_metadata_document_supported", json_true());
    /* Every authorization response, errors included, carries iss (RFC 9207). */
    json_object_set_new(doc, "authorization_response_iss_parameter_supported", json_true());
    json_object_set_new(doc, "service_documentation", json_sprintf("%s/docs/mcp", pu));
    reply_public_json(e, req, doc);
}

void oauth_route_jwks(struct edge *e, struct evhttp_request *req)
{
    if (!public_get(e, req))
        return;
    size_t len = 0;
    const char *jwks = e->keys_oauth ? oauth_keys_jwks(e->keys_oauth, &len) : NULL;
    oauth_cors_public(req);
    if (!jwks) {
        http_reply_error(e, req, 503, "temporarily_unavailable", "no signing key is loaded");
        return;
    }
    http_reply(e, req, 200, "application/json", jwks, len);
}
