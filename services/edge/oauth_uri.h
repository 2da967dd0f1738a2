/*
 * oauth_uri — the pure string work of the OAuth endpoints: RFC 8707
 * `resource` normalisation against our one protected resource, strict
 * parsing of form bodies and query strings (a repeated parameter is an
 * error, RFC 6749 §3.1), percent-encoding for redirect URLs, HTTP Basic
 * client credentials, cookies and HTML escaping. No I/O, no libevent:
 * unit-tested in tests/unit/test_oauth_uri.c.
 */
#ifndef TM_OAUTH_URI_H
#define TM_OAUTH_URI_H

#include <stdbool.h>
#include <stddef.h>

#define OAUTH_MAX_PARAMS 48
#define OAUTH_MAX_PARAM_LEN 4096

/* True if resource names our MCP endpoint: public_url + "/api/mcp", with or
 * without a trailing slash, or public_url itself with or without one
 * (MCP.md §5.7). Scheme and host compare case-insensitively, the path
 * exactly; a query, fragment or userinfo makes it invalid. public_url has no
 * trailing slash. The canonical audience is always public_url + "/api/mcp". */
bool oauth_resource_ok(const char *public_url, const char *resource);

struct oauth_params {
    int n;
    char *key[OAUTH_MAX_PARAMS];
    char *val[OAUTH_MAX_PARAMS];
};

enum oauth_parse {
    OAUTH_PARSE_OK = 0,
    OAUTH_PARSE_MALFORMED,    /* bad %-escape, NUL byte, key without '=' value too long */
    OAUTH_PARSE_DUPLICATE,    /* a parameter other than those in `multi` appears twice */
    OAUTH_PARSE_TOO_MANY,
};

/* Parses application/x-www-form-urlencoded text (also a URL query): pairs
 * split on '&', '+' is a space, %XX decoded. Empty segments are skipped; a
 * pair without '=' has an empty value. Names listed in multi (NULL-terminated,
 * may be NULL) may repeat; any other repeat is OAUTH_PARSE_DUPLICATE with the
 * name copied into dup (cap bytes; may be NULL). On error p is left empty. */
enum oauth_parse oauth_params_parse(const char *text, size_t len, const char *const *multi, struct oauth_params *p,
                                    char *dup, size_t dupcap);
void oauth_params_free(struct oauth_params *p);
/* The first value of name, or NULL. */
const char *oauth_params_get(const struct oauth_params *p, const char *name);
/* How many times name occurs. */
int oauth_params_count(const struct oauth_params *p, const char *name);

/* Percent-encodes s (everything but A-Z a-z 0-9 - . _ ~) into a new string. */
char *oauth_pct_encode(const char *s);

/* Builds base + ('?' or '&') + k1=v1&k2=v2… with keys and values
 * percent-encoded. pairs is NULL-terminated key/value pointers; a pair whose
 * value is NULL is skipped. '&' is used when base already has a query. */
char *oauth_url_with_params(const char *base, const char *const *pairs);

/* Parses "Basic base64(urlenc(id):urlenc(secret))" (RFC 6749 §2.3.1).
 * Returns true and malloc'd *id and *secret; false if the header is not a
 * well-formed Basic credential (not Basic at all: *is_basic false). */
bool oauth_basic_credentials(const char *header, bool *is_basic, char **id, char **secret);

/* The value of cookie `name` in a Cookie header, malloc'd, or NULL. */
char *oauth_cookie_get(const char *cookie_header, const char *name);

/* HTML-escapes s (& < > " ') into a new string. */
char *html_escape(const char *s);

/* The host (and port, if any) of an absolute URI, malloc'd, or NULL. */
char *oauth_uri_host(const char *uri);

#endif
