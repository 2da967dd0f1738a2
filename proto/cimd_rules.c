/*
 * cimd_rules — pure checks of Client ID Metadata Documents (cimd_rules.h).
 *
 * The URL rules are deliberately narrower than RFC 3986: printable ASCII
 * only, no backslash, no percent-encoded dots, lower-case scheme. A client_id
 * is compared byte for byte with the document's own client_id, so anything a
 * URL parser could read two ways is refused rather than normalised.
 */
#include "proto/cimd_rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

#define HEADERS_MAX 8192
#define REDIRECT_URI_MAX 2000

static void say(char *why, size_t cap, const char *msg)
{
    if (why && cap)
        snprintf(why, cap, "%s", msg);
}

static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '\\')
            return false;
    return true;
}

/* ---- URLs ----------------------------------------------------------------- */

static bool ipv4_literal(const char *h, struct in_addr *a)
{
    return inet_pton(AF_INET, h, a) == 1;
}

static bool host_is_loopback_name(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!strcmp(host, "localhost"))
        return true;
    if (ipv4_literal(host, &a4))
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* A "." or ".." segment, also written with %2e. */
static bool dot_segment(const char *seg, size_t n)
{
    size_t dots = 0;
    for (size_t i = 0; i < n;) {
        if (seg[i] == '.') {
            dots++;
            i++;
        } else if (i + 3 <= n && seg[i] == '%' && seg[i + 1] == '2' && (seg[i + 2] == 'e' || seg[i + 2] == 'E')) {
            dots++;
            i += 3;
        } else {
            return false;
        }
    }
    return dots == 1 || dots == 2;
}

/* Splits scheme://authority/rest shared by client_id URLs and redirect URIs.
 * Fills host (lower-cased, brackets removed), port and the target (path and
 * query). False with why on anything outside the narrow grammar. */
static bool split_url(const char *url, bool *https, char *host, size_t host_cap, char port[6], const char **target,
                      char *why, size_t cap)
{
    const char *p;
    if (!strncmp(url, "https://", 8)) {
        *https = true;
        p = url + 8;
    } else if (!strncmp(url, "http://", 7)) {
        *https = false;
        p = url + 7;
    } else {
        say(why, cap, "the URL must start with https://");
        return false;
    }
    if (!printable_ascii(url)) {
        say(why, cap, "the URL contains spaces, control or non-ASCII characters");
        return false;
    }
    if (strchr(url, '#')) {
        say(why, cap, "the URL must not have a fragment");
        return false;
    }
    size_t alen = strcspn(p, "/?");
    if (memchr(p, '@', alen)) {
        say(why, cap, "the URL must not contain user information");
        return false;
    }
    const char *hend;
    const char *a = p;
    if (*a == '[') {
        hend = memchr(a, ']', alen);
        if (!hend || (size_t)(hend - a - 1) >= host_cap) {
            say(why, cap, "the URL's host is not valid");
            return false;
        }
        memcpy(host, a + 1, (size_t)(hend - a - 1));
        host[hend - a - 1] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1) {
            say(why, cap, "the URL's host is not valid");
            return false;
        }
        hend++;
    } else {
        hend = a + strcspn(a, ":/?");
        size_t hl = (size_t)(hend - a);
        if (hl == 0 || hl >= host_cap || hl > 253) {
            say(why, cap, "the URL's host is not valid");
            return false;
        }
        for (size_t i = 0; i < hl; i++) {
            if (!isalnum((unsigned char)a[i]) && a[i] != '.' && a[i] != '-') {
                say(why, cap, "the URL's host is not valid");
                return false;
            }
            host[i] = (char)tolower((unsigned char)a[i]);
        }
        host[hl] = '\0';
    }
    strcpy(port, *https ? "443" : "80");
    if (*hend == ':') {
        const char *d = hend + 1;
        size_t dl = strspn(d, "0123456789");
        long v = dl >= 1 && dl <= 5 ? strtol(d, NULL, 10) : 0;
        if (v < 1 || v > 65535 || (d[dl] != '/' && d[dl] != '?' && d[dl] != '\0')) {
            say(why, cap, "the URL's port is not valid");
            return false;
        }
        snprintf(port, 6, "%ld", v);
        hend = d + dl;
    } else if (*hend != '/' && *hend != '?' && *hend != '\0') {
        say(why, cap, "the URL's host is not valid");
        return false;
    }
    *target = hend;
    return true;
}

bool cimd_url_check(const char *url, bool allow_http_loopback, struct cimd_url *out, char *why, size_t cap)
{
    if (!url || !*url || strnlen(url, CIMD_URL_MAX + 1) > CIMD_URL_MAX) {
        say(why, cap, "the client_id URL is empty or longer than 512 bytes");
        return false;
    }
    struct cimd_url u = {0};
    if (!split_url(url, &u.https, u.host, sizeof u.host, u.port, &u.target, why, cap))
        return false;
    struct in_addr a4;
    struct in6_addr a6;
    u.host_is_ip = ipv4_literal(u.host, &a4) || inet_pton(AF_INET6, u.host, &a6) == 1;
    if (!u.https && !(allow_http_loopback && host_is_loopback_name(u.host))) {
        say(why, cap, "the client_id URL must use https");
        return false;
    }
    if (*u.target != '/' || u.target[1] == '\0' || u.target[1] == '?') {
        say(why, cap, "the client_id URL must have a path");
        return false;
    }
    size_t plen = strcspn(u.target, "?");
    for (const char *s = u.target + 1; s <= u.target + plen;) {
        size_t n = strcspn(s, "/?");
        if (s + n > u.target + plen)
            n = (size_t)(u.target + plen - s);
        if (dot_segment(s, n)) {
            say(why, cap, "the client_id URL must not contain . or .. segments");
            return false;
        }
        s += n + 1;
    }
    if (out)
        *out = u;
    return true;
}

bool cimd_url_split(const char *url, struct cimd_url *out, char *why, size_t cap)
{
    struct cimd_url u = {0};
    if (!url || !split_url(url, &u.https, u.host, sizeof u.host, u.port, &u.target, why, cap))
        return false;
    struct in_addr a4;
    struct in6_addr a6;
    u.host_is_ip = ipv4_literal(u.host, &a4) || inet_pton(AF_INET6, u.host, &a6) == 1;
    *out = u;
    return true;
}

bool cimd_is_url_client_id(const char *client_id, bool allow_http)
{
    return client_id && (!strncmp(client_id, "https://", 8) || (allow_http && !strncmp(client_id, "http://", 7)));
}

bool cimd_redirect_uri_valid(const char *uri)
{
    if (!uri || !*uri || strnlen(uri, REDIRECT_URI_MAX + 1) > REDIRECT_URI_MAX)
        return false;
    bool https;
    char host[256], port[6];
    const char *target;
    if (!split_url(uri, &https, host, sizeof host, port, &target, NULL, 0))
        return false;
    return https || host_is_loopback_name(host);
}

/* ---- addresses ------------------------------------------------------------ */

static const char *v4_forbidden(uint32_t a)
{
    static const struct {
        uint32_t net, mask;
        const char *why;
    } R[] = {
        {0x00000000, 0xff000000, "an unspecified address"},
        {0x0a000000, 0xff000000, "a private address"},
        {0x64400000, 0xffc00000, "a shared (CGNAT) address"},
        {0x7f000000, 0xff000000, "a loopback address"},
        {0xa9fe0000, 0xffff0000, "a link-local address"},
        {0xac100000, 0xfff00000, "a private address"},
        {0xc0000000, 0xffffff00, "a reserved address"},
        {0xc0000200, 0xffffff00, "a documentation address"},
        {0xc0586300, 0xffffff00, "a reserved address"},
        {0xc0a80000, 0xffff0000, "a private address"},
        {0xc6120000, 0xfffe0000, "a benchmarking address"},
        {0xc6336400, 0xffffff00, "a documentation address"},
        {0xcb007100, 0xffffff00, "a documentation address"},
        {0xe0000000, 0xf0000000, "a multicast address"},
        {0xf0000000, 0xf0000000, "a reserved address"},
    };
    for (size_t i = 0; i < TM_ARRAY_LEN(R); i++)
        if ((a & R[i].mask) == R[i].net)
            return R[i].why;
    return NULL;
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

const char *cimd_addr_forbidden(const struct sockaddr *sa)
{
    if (!sa)
        return "no address";
    if (sa->sa_family == AF_INET)
        return v4_forbidden(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6)
        return "an unsupported address family";
    const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t zero[16];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (!memcmp(b, zero, 16))
        return "an unspecified address";
    if (!memcmp(b, zero, 15) && b[15] == 1)
        return "a loopback address";
    if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12)) {
        return v4_forbidden(be32(b + 12));
    }
    if (!memcmp(b, zero, 12))
        return "an IPv4-compatible address";
    if (b[0] == 0xff)
        return "a multicast address";
    if ((b[0] & 0xfe) == 0xfc)
        return "a unique-local address";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "a link-local address";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return "a site-local address";
    if ((b[0] & 0xe0) != 0x20)
        return "not a global unicast address";
    if (b[0] == 0x20 && b[1] == 0x02)   /* 6to4: the IPv4 address follows */
        return v4_forbidden(be32(b + 2)) ? "a 6to4 address of a non-public IPv4 address" : NULL;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
        return "a Teredo address";
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return "a documentation address";
    return NULL;
}

bool cimd_addr_is_loopback(const struct sockaddr *sa)
{
    if (sa && sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa && sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* ---- HTTP response -------------------------------------------------------- */

static bool tchar(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Finds "\r\n" in [p, end); NULL if absent. */
static const char *crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

static enum cimd_http_result bad(char *why, size_t cap, const char *msg)
{
    say(why, cap, msg);
    return CIMD_HTTP_BAD;
}

static enum cimd_http_result short_body(bool eof, char *why, size_t cap)
{
    if (eof)
        return bad(why, cap, "the response was cut short");
    return CIMD_HTTP_INCOMPLETE;
}

/* Dechunks [p, end) into a new buffer of at most max bytes. */
static enum cimd_http_result dechunk(const char *p, const char *end, bool eof, size_t max, char **out, size_t *out_len,
                                     char *why, size_t cap)
{
    char *body = xmalloc(max + 1);
    size_t len = 0;
    enum cimd_http_result r;
    for (;;) {
        const char *eol = crlf(p, end);
        if (!eol) {
            r = (size_t)(end - p) > 256 ? bad(why, cap, "a chunk header is malformed") : short_body(eof, why, cap);
            goto fail;
        }
        size_t hex = 0;
        while (p + hex < eol && isxdigit((unsigned char)p[hex]))
            hex++;
        if (hex == 0 || hex > 8 || (p + hex < eol && p[hex] != ';' && p[hex] != ' ' && p[hex] != '\t')) {
            r = bad(why, cap, "a chunk header is malformed");
            goto fail;
        }
        char digits[9];
        memcpy(digits, p, hex);
        digits[hex] = '\0';
        size_t size = (size_t)strtoul(digits, NULL, 16);
        p = eol + 2;
        if (size == 0) {
            /* Trailer fields (ignored) up to an empty line. */
            for (;;) {
                const char *t = crlf(p, end);
                if (!t) {
                    r = short_body(eof, why, cap);
                    goto fail;
                }
                if (t == p)
                    break;
                p = t + 2;
            }
            if (p + 2 != end) {
                r = bad(why, cap, "the response has bytes after its body");
                goto fail;
            }
            break;
        }
        if (size > max - len) {
            r = CIMD_HTTP_TOO_BIG;
            say(why, cap, "the document is larger than 5 KiB");
            goto fail;
        }
        if ((size_t)(end - p) < size + 2) {
            r = short_body(eof, why, cap);
            goto fail;
        }
        if (p[size] != '\r' || p[size + 1] != '\n') {
            r = bad(why, cap, "a chunk is malformed");
            goto fail;
        }
        memcpy(body + len, p, size);
        len += size;
        p += size + 2;
    }
    body[len] = '\0';
    *out = body;
    *out_len = len;
    return CIMD_HTTP_OK;
fail:
    free(body);
    return r;
}

enum cimd_http_result cimd_http_parse(const char *buf, size_t n, bool eof, size_t body_max, struct cimd_http *out,
                                      char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *end = buf + n;
    /* End of the header block. */
    const char *hend = NULL;
    size_t scan = n < HEADERS_MAX + 4 ? n : HEADERS_MAX + 4;
    for (size_t i = 0; i + 3 < scan; i++) {
        if (!memcmp(buf + i, "\r\n\r\n", 4)) {
            hend = buf + i + 2;   /* at the empty line */
            break;
        }
    }
    if (!hend) {
        if (n > HEADERS_MAX)
            return bad(why, cap, "the response headers are too long");
        return short_body(eof, why, cap);
    }
    if (memchr(buf, '\0', (size_t)(hend - buf)))
        return bad(why, cap, "the response headers contain a NUL byte");

    /* Status line: HTTP/1.x SSS[ reason] */
    const char *eol = crlf(buf, hend + 2);
    if (eol - buf < 12 || memcmp(buf, "HTTP/1.", 7) || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' ||
        !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]) ||
        (eol - buf > 12 && buf[12] != ' '))
        return bad(why, cap, "the response is not HTTP/1.x");
    out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (out->status < 200)
        return bad(why, cap, "interim (1xx) responses are not supported");

    bool have_cl = false, chunked = false, have_te = false, have_ct = false;
    unsigned long long cl = 0;
    for (const char *line = eol + 2; line < hend;) {
        const char *le = crlf(line, hend + 2);
        if (*line == ' ' || *line == '\t')
            return bad(why, cap, "folded header lines are not supported");
        const char *colon = line;
        while (colon < le && tchar(*colon))
            colon++;
        if (colon == line || colon >= le || *colon != ':')
            return bad(why, cap, "a response header is malformed");
        for (const char *c = colon + 1; c < le; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t')
                return bad(why, cap, "a response header contains a control character");
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t nl = (size_t)(colon - line), vl = (size_t)(ve - v);
#define IS(name) (nl == sizeof(name) - 1 && !strncasecmp(line, name, nl))
        if (IS("content-length")) {
            if (have_cl || vl == 0 || vl > 12 || strspn(v, "0123456789") < vl)
                return bad(why, cap, "the response's Content-Length is malformed or repeated");
            have_cl = true;
            cl = strtoull(v, NULL, 10);
        } else if (IS("transfer-encoding")) {
            if (have_te || vl != 7 || strncasecmp(v, "chunked", 7))
                return bad(why, cap, "the response's Transfer-Encoding is not supported");
            have_te = chunked = true;
        } else if (IS("content-type")) {
            if (have_ct || vl >= sizeof out->content_type)
                return bad(why, cap, "the response's Content-Type is malformed or repeated");
            have_ct = true;
            memcpy(out->content_type, v, vl);
            out->content_type[vl] = '\0';
        } else if (IS("cache-control")) {
            size_t have = strlen(out->cache_control);
            if (have + vl + 2 < sizeof out->cache_control) {
                if (have)
                    strcat(out->cache_control, ", ");
                strncat(out->cache_control, v, vl);
            }
        }
#undef IS
        line = le + 2;
    }
    if (have_cl && have_te)
        return bad(why, cap, "the response has both Content-Length and Transfer-Encoding");

    const char *body = hend + 2;
    size_t avail = (size_t)(end - body);
    if (chunked)
        return dechunk(body, end, eof, body_max, &out->body, &out->body_len, why, cap);
    if (have_cl) {
        if (cl > body_max) {
            say(why, cap, "the document is larger than 5 KiB");
            return CIMD_HTTP_TOO_BIG;
        }
        if (avail < cl)
            return short_body(eof, why, cap);
        if (avail > cl)
            return bad(why, cap, "the response has bytes after its body");
    } else {
        if (avail > body_max) {
            say(why, cap, "the document is larger than 5 KiB");
            return CIMD_HTTP_TOO_BIG;
        }
        if (!eof)
            return CIMD_HTTP_INCOMPLETE;
        cl = avail;
    }
    out->body = xmalloc((size_t)cl + 1);
    memcpy(out->body, body, (size_t)cl);
    out->body[cl] = '\0';
    out->body_len = (size_t)cl;
    return CIMD_HTTP_OK;
}

void cimd_http_free(struct cimd_http *h)
{
    free(h->body);
    h->body = NULL;
}

bool cimd_content_type_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "application/json", 16))
        return false;
    const char *r = ct + 16;
    while (*r == ' ' || *r == '\t')
        r++;
    return *r == '\0' || *r == ';';
}

int cimd_cache_ttl(const char *cc)
{
    long ttl = -1;
    bool no_cache = false;
    if (cc) {
        const char *p = cc;
        while (*p) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            size_t n = strcspn(p, ",");
            size_t t = n;
            while (t > 0 && (p[t - 1] == ' ' || p[t - 1] == '\t'))
                t--;
            if ((t == 8 && !strncasecmp(p, "no-store", 8)) || (t == 8 && !strncasecmp(p, "no-cache", 8))) {
                no_cache = true;
            } else if (t > 8 && !strncasecmp(p, "max-age=", 8)) {
                const char *d = p + 8;
                size_t dl = t - 8;
                if (dl >= 2 && d[0] == '"' && d[dl - 1] == '"')
                    d++, dl -= 2;
                if (dl > 0 && strspn(d, "0123456789") >= dl)
                    ttl = dl > 9 ? CIMD_TTL_MAX_S : strtol(d, NULL, 10);
            }
            p += n;
        }
    }
    if (no_cache)
        return CIMD_TTL_MIN_S;
    if (ttl < 0)
        return CIMD_TTL_DEFAULT_S;
    if (ttl < CIMD_TTL_MIN_S)
        return CIMD_TTL_MIN_S;
    return ttl > CIMD_TTL_MAX_S ? CIMD_TTL_MAX_S : (int)ttl;
}

/* ---- document ------------------------------------------------------------- */

static bool array_has(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v) && !strcmp(json_string_value(v), s))
            return true;
    return false;
}

json_t *cimd_document_check(const char *body, size_t len, const char *url, char *why, size_t cap)
{
    json_error_t e;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(doc)) {
        say(why, cap, "the document is not a JSON object");
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        if (!strncmp(key, "client_secret", 13)) {
            say(why, cap, "the document must not contain a client secret");
            goto fail;
        }
    }
    const char *cid = json_string_value(json_object_get(doc, "client_id"));
    if (!cid || strcmp(cid, url) != 0) {
        say(why, cap, "the document's client_id is not the URL it was fetched from");
        goto fail;
    }
    const char *name = json_string_value(json_object_get(doc, "client_name"));
    if (!name || !*name || strlen(name) > CIMD_NAME_MAX) {
        say(why, cap, "the document must have a client_name of 1 to 100 bytes");
        goto fail;
    }
    for (const char *c = name; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            say(why, cap, "the document's client_name contains control characters");
            goto fail;
        }
    }
    const json_t *uris = json_object_get(doc, "redirect_uris");
    if (!json_is_array(uris) || json_array_size(uris) < 1 || json_array_size(uris) > CIMD_REDIRECT_URIS_MAX) {
        say(why, cap, "the document must list 1 to 10 redirect_uris");
        goto fail;
    }
    size_t i;
    json_array_foreach(uris, i, v) {
        if (!json_is_string(v) || !cimd_redirect_uri_valid(json_string_value(v))) {
            say(why, cap, "the document lists a redirect URI that is not https or loopback http, or has a fragment");
            goto fail;
        }
    }
    const json_t *m = json_object_get(doc, "token_endpoint_auth_method");
    if (m && !(json_is_string(m) && !strcmp(json_string_value(m), "none"))) {
        say(why, cap, "the document's token_endpoint_auth_method must be none");
        goto fail;
    }
    const json_t *g = json_object_get(doc, "grant_types");
    if (g && !(json_is_array(g) && array_has(g, "authorization_code"))) {
        say(why, cap, "the document's grant_types must include authorization_code");
        goto fail;
    }
    const json_t *r = json_object_get(doc, "response_types");
    if (r && !(json_is_array(r) && array_has(r, "code"))) {
        say(why, cap, "the document's response_types must include code");
        goto fail;
    }
    return doc;
fail:
    json_decref(doc);
    return NULL;
}
