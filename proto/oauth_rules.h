/*
 * oauth_rules — pure OAuth 2.1 checks shared by the edge (which checks first,
 * to answer with the right HTTP error) and the worker (which checks again
 * before storing or issuing anything): redirect URI rules (MCP.md §5.4–5.5),
 * PKCE S256 (RFC 7636), and scope strings.
 *
 * Nothing here touches the network or the database.
 */
#ifndef TM_OAUTH_RULES_H
#define TM_OAUTH_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OAUTH_REDIRECT_URI_MAX 2000
#define OAUTH_VERIFIER_MIN 43
#define OAUTH_VERIFIER_MAX 128
#define OAUTH_CHALLENGE_LEN 43   /* base64url of 32 bytes, no padding */

/* True if requested may be used with a client that registered `registered`:
 * byte-for-byte equality, except that for a loopback host (localhost,
 * 127.0.0.1, [::1]) the port is ignored (RFC 8252 §7.3: native clients pick
 * an ephemeral port). Scheme, host, path and query must still be identical. */
bool oauth_redirect_allowed(const char *registered, const char *requested);

/* True if uri may be registered as a redirect URI; no fragment, no userinfo,
 * no whitespace or control characters, at most OAUTH_REDIRECT_URI_MAX bytes,
 * and one of:
 *   - http or https on a loopback host (native clients such as Claude Code);
 *   - the callbacks of the known connectors: https://claude.ai/api/mcp/auth_callback,
 *     https://claude.com/api/mcp/auth_callback,
 *     https://chatgpt.com/connector_platform_oauth_redirect and
 *     https://chatgpt.com/connector/oauth/<id> (one segment, no query);
 *   - any https URI whose origin is listed in extra_origins (comma-separated,
 *     from OAUTH_REDIRECT_ORIGINS; may be NULL) for the operator's own clients.
 * Anything else could be a phishing target for codes, so it is refused.
 * On false, why (if not NULL) gets a short reason for error_description. */
bool oauth_redirect_uri_valid_for_registration(const char *uri, const char *extra_origins, char *why, size_t cap);

/* True if the URI's host is a loopback host (used for the consent warning). */
bool oauth_redirect_uri_is_loopback(const char *uri);

/* code_verifier: 43..128 characters of [A-Za-z0-9-._~]. */
bool oauth_pkce_verifier_valid(const char *v);

/* code_challenge (S256): exactly 43 characters of base64url, no padding. */
bool oauth_pkce_challenge_valid(const char *c);

/* BASE64URL(SHA256(verifier)) == challenge, both shapes valid; the final
 * comparison is constant-time. */
bool oauth_pkce_matches(const char *verifier, const char *challenge);

/* Parses a space-separated OAuth scope string into SCOPE_* bits. Known
 * scopes are read, write, execute; offline_access is accepted and ignored
 * (Claude appends it when listed; refresh tokens are always issued).
 * Returns 0 and the bits (possibly 0 for an empty string), or -1 on an
 * unknown scope or a string longer than 200 bytes. */
int oauth_scope_parse(const char *s, uint32_t *out);

#endif
