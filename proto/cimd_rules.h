/*
 * cimd_rules — the pure checks of Client ID Metadata Documents
 * (draft-ietf-oauth-client-id-metadata-document; MCP.md §5.4): the shape of
 * a URL client_id, the classification of the addresses it resolves to
 * (SSRF guard), the HTTP response of the fetch (status line, headers,
 * Content-Length or chunked body), the cache lifetime, and the document.
 *
 * Nothing here touches the network or the database, so every rule has a
 * unit test (tests/unit/test_cimd.c); services/worker/cimd_fetch.c does the
 * I/O and calls these.
 */
#ifndef TM_CIMD_RULES_H
#define TM_CIMD_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <jansson.h>

#define CIMD_URL_MAX 512
#define CIMD_BODY_MAX 5120            /* the draft suggests 5 KB */
#define CIMD_NAME_MAX 100
#define CIMD_REDIRECT_URIS_MAX 10     /* what oauth_clients stores */
#define CIMD_TTL_MIN_S 300
#define CIMD_TTL_MAX_S 86400
#define CIMD_TTL_DEFAULT_S 3600

/* The parts of a checked client_id URL. */
struct cimd_url {
    bool https;
    char host[256];       /* as written, without brackets for IPv6 literals, lower-cased */
    bool host_is_ip;      /* an IPv4 or IPv6 literal (no SNI then) */
    char port[6];         /* "443"/"80" when absent */
    const char *target;   /* points into the URL: path and query, sent in the request line */
};

/* Checks a URL client_id: at most CIMD_URL_MAX bytes of printable ASCII;
 * https://host[:port]/path with a path other than "/", no fragment, no
 * userinfo, no "." or ".." segments (also percent-encoded); plain http only
 * when allow_http_loopback and the host is loopback (localhost, 127.0.0.0/8,
 * [::1]). On false, why gets a short reason. */
bool cimd_url_check(const char *url, bool allow_http_loopback, struct cimd_url *out, char *why, size_t cap);

/* Splits an http(s) URL by the same narrow grammar (printable ASCII, no
 * fragment, no userinfo, valid host and port) without the client_id rules:
 * either scheme, any path (target "" when there is none). Webhook
 * deliveries use it with their own scheme policy. */
bool cimd_url_split(const char *url, struct cimd_url *out, char *why, size_t cap);

/* True if a client_id has the form of a metadata document URL (the edge and
 * the worker route it to the fetch instead of the registered clients). */
bool cimd_is_url_client_id(const char *client_id, bool allow_http);

/* Why an address may not be fetched, or NULL if it is a public unicast
 * address: unspecified, loopback, private (RFC 1918), CGNAT (100.64/10),
 * link-local, unique-local (fc00::/7), site-local, multicast, reserved,
 * documentation and benchmark ranges, and IPv6 forms that embed an IPv4
 * address (mapped, compatible, NAT64, 6to4, Teredo) when that address is
 * not public. */
const char *cimd_addr_forbidden(const struct sockaddr *sa);

/* True if the address is a loopback address (127/8, ::1, mapped 127/8). */
bool cimd_addr_is_loopback(const struct sockaddr *sa);

/* A parsed HTTP/1.x response. */
struct cimd_http {
    int status;
    char content_type[128];
    char cache_control[256];
    char *body;           /* malloc'd, NUL-terminated (dechunked) */
    size_t body_len;
};

enum cimd_http_result {
    CIMD_HTTP_OK,
    CIMD_HTTP_INCOMPLETE,   /* more bytes needed (only when !eof) */
    CIMD_HTTP_BAD,          /* malformed or unsupported: refuse */
    CIMD_HTTP_TOO_BIG,      /* body over body_max */
};

/* Parses buf[0..n) as one HTTP/1.0 or 1.1 response. eof says the peer has
 * closed (a body without Content-Length or chunking ends there; otherwise a
 * short body is truncated = bad). Headers must end within 8 KiB; folded
 * lines, a repeated Content-Length or Content-Type, Transfer-Encoding other
 * than "chunked" alone, and Transfer-Encoding together with Content-Length
 * are refused. On OK, out->body is allocated (free with cimd_http_free). */
enum cimd_http_result cimd_http_parse(const char *buf, size_t n, bool eof, size_t body_max, struct cimd_http *out,
                                      char *why, size_t cap);
void cimd_http_free(struct cimd_http *h);

/* True if a Content-Type is application/json (case-insensitive, parameters allowed). */
bool cimd_content_type_json(const char *ct);

/* Cache lifetime in seconds from a Cache-Control value (may be NULL): its
 * max-age clamped to [CIMD_TTL_MIN_S, CIMD_TTL_MAX_S]; CIMD_TTL_DEFAULT_S
 * without one; no-store and no-cache count as the minimum. */
int cimd_cache_ttl(const char *cache_control);

/* True if uri may be a redirect URI of a metadata document client: at most
 * 2000 bytes of printable ASCII, no fragment, no userinfo, and https, or
 * http on a loopback host. The operator's allowlist of DCR does not apply:
 * the document's own origin vouches for its redirect URIs, and the consent
 * page names that origin. */
bool cimd_redirect_uri_valid(const char *uri);

/* Validates a fetched document for the URL it came from: a JSON object whose
 * client_id equals url (simple string comparison), client_name a string of
 * 1..CIMD_NAME_MAX bytes, redirect_uris 1..CIMD_REDIRECT_URIS_MAX valid
 * redirect URIs, no client_secret* member, token_endpoint_auth_method absent
 * or "none", grant_types (if present) with authorization_code and
 * response_types (if present) with code. Returns the parsed document (new
 * reference) or NULL with why set. */
json_t *cimd_document_check(const char *body, size_t len, const char *url, char *why, size_t cap);

#endif
