/*
 * oauth_rules — redirect URI, PKCE and scope checks (oauth_rules.h).
 *
 * URIs are taken apart only as far as these rules need: scheme, authority
 * (userinfo, host, port) and the rest (path, query, fragment) compared as
 * bytes. No percent-decoding or case folding happens anywhere: registered and
 * requested URIs must agree byte for byte, except for a loopback port.
 */
#include "proto/oauth_rules.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "proto/envelope.h"

struct uri_parts {
    const char *scheme;
    size_t scheme_len;
    const char *host;
    size_t host_len;
    bool has_userinfo;
    bool port_ok;          /* absent, or 1..5 digits <= 65535 */
    const char *rest;      /* from the first '/', '?' or '#' after the authority */
};

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool uri_split(const char *uri, struct uri_parts *p)
{
    memset(p, 0, sizeof *p);
    const char *sep = strstr(uri, "://");
    if (!sep || sep == uri || !is_alpha(uri[0]))
        return false;
    for (const char *c = uri; c < sep; c++)
        if (!is_alpha(*c) && !is_digit(*c) && *c != '+' && *c != '-' && *c != '.')
            return false;
    p->scheme = uri;
    p->scheme_len = (size_t)(sep - uri);
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    p->rest = auth + alen;
    if (memchr(auth, '@', alen))
        p->has_userinfo = true;
    const char *port = NULL;
    if (alen && auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (!close)
            return false;
        p->host = auth;
        p->host_len = (size_t)(close - auth) + 1;
        if (close + 1 < auth + alen) {
            if (close[1] != ':')
                return false;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        p->host = auth;
        p->host_len = colon ? (size_t)(colon - auth) : alen;
        if (colon)
            port = colon + 1;
    }
    p->port_ok = true;
    if (port) {
        size_t plen = (size_t)(auth + alen - port);
        long v = 0;
        if (plen < 1 || plen > 5)
            p->port_ok = false;
        for (size_t i = 0; p->port_ok && i < plen; i++) {
            if (!is_digit(port[i]))
                p->port_ok = false;
            else
                v = v * 10 + (port[i] - '0');
        }
        if (p->port_ok && (v < 1 || v > 65535))
            p->port_ok = false;
    }
    return true;
}

static bool host_is_loopback(const struct uri_parts *p)
{
    return (p->host_len == 9 && !strncasecmp(p->host, "localhost", 9)) ||
           (p->host_len == 9 && !memcmp(p->host, "127.0.0.1", 9)) ||
           (p->host_len == 5 && !memcmp(p->host, "[::1]", 5));
}

static bool scheme_is(const struct uri_parts *p, const char *s)
{
    return p->scheme_len == strlen(s) && !memcmp(p->scheme, s, p->scheme_len);
}

bool oauth_redirect_allowed(const char *registered, const char *requested)
{
    if (!registered || !requested)
        return false;
    if (strlen(requested) > OAUTH_REDIRECT_URI_MAX)
        return false;
    if (!strcmp(registered, requested))
        return true;
    struct uri_parts a, b;
    if (!uri_split(registered, &a) || !uri_split(requested, &b))
        return false;
    if (a.has_userinfo || b.has_userinfo || !a.port_ok || !b.port_ok)
        return false;
    if (!host_is_loopback(&a))
        return false;
    return a.scheme_len == b.scheme_len && !memcmp(a.scheme, b.scheme, a.scheme_len) &&
           a.host_len == b.host_len && !memcmp(a.host, b.host, a.host_len) && !strcmp(a.rest, b.rest);
}

static bool fail_why(char *why, size_t cap, const char *msg)
{
    if (why && cap) {
        strncpy(why, msg, cap - 1);
        why[cap - 1] = '\0';
    }
    return false;
}

/* The exact callbacks of the connectors we know, and ChatGPT's per-connector shape. */
static bool known_connector_callback(const char *uri)
{
    static const char *const exact[] = {
        "https://claude.ai/api/mcp/auth_callback",
        "https://claude.com/api/mcp/auth_callback",
        "https://chatgpt.com/connector_platform_oauth_redirect",
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (!strcmp(uri, exact[i]))
            return true;
    static const char chatgpt[] = "https://chatgpt.com/connector/oauth/";
    if (strncmp(uri, chatgpt, sizeof chatgpt - 1))
        return false;
    const char *id = uri + sizeof chatgpt - 1;
    if (!*id || strlen(id) > 128)
        return false;
    for (; *id; id++)
        if (!is_alpha(*id) && !is_digit(*id) && *id != '-' && *id != '_')
            return false;
    return true;
}

/* True if the scheme://authority of uri equals one entry of the comma-separated list. */
static bool origin_listed(const char *uri, const struct uri_parts *p, const char *list)
{
    size_t olen = (size_t)(p->rest - uri);
    while (list && *list) {
        list += strspn(list, ", ");
        size_t n = strcspn(list, ", ");
        size_t m = n;
        while (m > 0 && list[m - 1] == '/')
            m--;
        if (m == olen && m > 0 && !strncasecmp(list, uri, m))
            return true;
        list += n;
    }
    return false;
}

bool oauth_redirect_uri_valid_for_registration(const char *uri, const char *extra_origins, char *why, size_t cap)
{
    if (why && cap)
        why[0] = '\0';
    if (!uri || !uri[0])
        return fail_why(why, cap, "redirect URI is empty");
    size_t n = strlen(uri);
    if (n > OAUTH_REDIRECT_URI_MAX)
        return fail_why(why, cap, "redirect URI is too long");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= 0x20 || c >= 0x7f)
            return fail_why(why, cap, "redirect URI contains spaces, control or non-ASCII characters");
    }
    if (strchr(uri, '#'))
        return fail_why(why, cap, "redirect URI must not contain a fragment");
    struct uri_parts p;
    if (!uri_split(uri, &p))
        return fail_why(why, cap, "redirect URI is not an absolute URI");
    if (p.has_userinfo)
        return fail_why(why, cap, "redirect URI must not contain user information");
    if (!p.port_ok)
        return fail_why(why, cap, "redirect URI has an invalid port");
    if (p.host_len == 0)
        return fail_why(why, cap, "redirect URI has no host");
    if (p.host[0] != '[') {
        for (size_t i = 0; i < p.host_len; i++) {
            char c = p.host[i];
            if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-')
                return fail_why(why, cap, "redirect URI has an invalid host");
        }
    }
    if (scheme_is(&p, "http")) {
        if (host_is_loopback(&p))
            return true;
        return fail_why(why, cap, "http redirect URIs are allowed only on loopback hosts (localhost, 127.0.0.1, [::1])");
    }
    if (!scheme_is(&p, "https"))
        return fail_why(why, cap, "redirect URI must use https (or http on a loopback host)");
    if (host_is_loopback(&p) || known_connector_callback(uri) || origin_listed(uri, &p, extra_origins))
        return true;
    return fail_why(why, cap,
                    "redirect URI is not an allowed callback (Claude, ChatGPT, loopback, or an origin in "
                    "OAUTH_REDIRECT_ORIGINS)");
}

bool oauth_redirect_uri_is_loopback(const char *uri)
{
    struct uri_parts p;
    return uri && uri_split(uri, &p) && host_is_loopback(&p);
}

static bool is_unreserved(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

bool oauth_pkce_verifier_valid(const char *v)
{
    if (!v)
        return false;
    size_t n = strnlen(v, OAUTH_VERIFIER_MAX + 1);
    if (n < OAUTH_VERIFIER_MIN || n > OAUTH_VERIFIER_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_unreserved(v[i]))
            return false;
    return true;
}

bool oauth_pkce_challenge_valid(const char *c)
{
    if (!c || strnlen(c, OAUTH_CHALLENGE_LEN + 1) != OAUTH_CHALLENGE_LEN)
        return false;
    for (size_t i = 0; i < OAUTH_CHALLENGE_LEN; i++)
        if (!is_alpha(c[i]) && !is_digit(c[i]) && c[i] != '-' && c[i] != '_')
            return false;
    /* 43 characters carry 258 bits: the last one holds 4 bits of the hash
     * and 2 zero bits, so only every fourth letter can end a real digest. */
    return strchr("AEIMQUYcgkosw048", c[OAUTH_CHALLENGE_LEN - 1]) != NULL;
}

bool oauth_pkce_matches(const char *verifier, const char *challenge)
{
    if (!oauth_pkce_verifier_valid(verifier) || !oauth_pkce_challenge_valid(challenge))
        return false;
    uint8_t digest[32];
    sha256(verifier, strlen(verifier), digest);
    char *enc = b64url_encode(digest, sizeof digest);
    bool ok = ct_equal(enc, strlen(enc), challenge, OAUTH_CHALLENGE_LEN);
    free(enc);
    return ok;
}

int oauth_scope_parse(const char *s, uint32_t *out)
{
    if (!s || !out || strnlen(s, 201) > 200)
        return -1;
    uint32_t bits = 0;
    const char *p = s;
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        size_t n = (size_t)(p - start);
        if (n == 4 && !memcmp(start, "read", 4))
            bits |= SCOPE_READ;
        else if (n == 5 && !memcmp(start, "write", 5))
            bits |= SCOPE_WRITE;
        else if (n == 7 && !memcmp(start, "execute", 7))
            bits |= SCOPE_EXECUTE;
        else if (n == 14 && !memcmp(start, "offline_access", 14))
            continue;
        else
            return -1;
    }
    *out = bits;
    return 0;
}
