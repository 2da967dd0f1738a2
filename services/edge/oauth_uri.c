/*
 * oauth_uri — string rules of the OAuth endpoints. See oauth_uri.h.
 */
#include "services/edge/oauth_uri.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>
#include "common/util.h"

/* Splits an absolute URI into the length of "scheme://authority" and the
 * rest. False if there is no "://" or no authority. */
static bool split_origin(const char *uri, size_t *origin_len)
{
    const char *sep = strstr(uri, "://");
    if (!sep || sep == uri)
        return false;
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    if (alen == 0)
        return false;
    *origin_len = (size_t)(auth - uri) + alen;
    return true;
}

bool oauth_resource_ok(const char *public_url, const char *resource)
{
    if (!public_url || !resource)
        return false;
    size_t pol, rol;
    if (!split_origin(public_url, &pol) || !split_origin(resource, &rol))
        return false;
    if (strpbrk(resource, "?#") || memchr(resource, '@', rol))
        return false;
    if (pol != rol || strncasecmp(public_url, resource, pol) != 0)
        return false;
    const char *base_path = public_url + pol;   /* "" or "/prefix" */
    const char *path = resource + rol;
    size_t bl = strlen(base_path);
    if (strncmp(path, base_path, bl) != 0)
        return false;
    const char *rest = path + bl;
    return !strcmp(rest, "") || !strcmp(rest, "/") || !strcmp(rest, "/api/mcp") || !strcmp(rest, "/api/mcp/");
}

/* Decodes one form component; NULL on a bad escape, an embedded NUL or
 * a result longer than OAUTH_MAX_PARAM_LEN. */
static char *form_decode(const char *s, size_t n)
{
    if (n > 3 * OAUTH_MAX_PARAM_LEN)
        return NULL;
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int h = hex_value(s[i + 1]), l = hex_value(s[i + 2]);
            if (h < 0 || l < 0) {
                free(out);
                return NULL;
            }
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (c == '\0') {
            free(out);
            return NULL;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    if (o > OAUTH_MAX_PARAM_LEN) {
        free(out);
        return NULL;
    }
    return out;
}

void oauth_params_free(struct oauth_params *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->key[i]);
        free(p->val[i]);
    }
    p->n = 0;
}

static bool in_list(const char *name, const char *const *list)
{
    for (; list && *list; list++)
        if (!strcmp(name, *list))
            return true;
    return false;
}

enum oauth_parse oauth_params_parse(const char *text, size_t len, const char *const *multi, struct oauth_params *p,
                                    char *dup, size_t dupcap)
{
    memset(p, 0, sizeof *p);
    if (dup && dupcap)
        dup[0] = '\0';
    size_t i = 0;
    while (i < len) {
        const char *seg = text + i;
        const char *amp = memchr(seg, '&', len - i);
        size_t sl = amp ? (size_t)(amp - seg) : len - i;
        i += sl + 1;
        if (sl == 0)
            continue;
        const char *eq = memchr(seg, '=', sl);
        size_t kl = eq ? (size_t)(eq - seg) : sl;
        char *k = form_decode(seg, kl);
        char *v = eq ? form_decode(eq + 1, sl - kl - 1) : xstrdup("");
        if (!k || !v || !*k) {
            free(k);
            free(v);
            oauth_params_free(p);
            return OAUTH_PARSE_MALFORMED;
        }
        if (!in_list(k, multi) && oauth_params_get(p, k)) {
            if (dup && dupcap) {
                strncpy(dup, k, dupcap - 1);
                dup[dupcap - 1] = '\0';
            }
            free(k);
            free(v);
            oauth_params_free(p);
            return OAUTH_PARSE_DUPLICATE;
        }
        if (p->n == OAUTH_MAX_PARAMS) {
            free(k);
            free(v);
            oauth_params_free(p);
            return OAUTH_PARSE_TOO_MANY;
        }
        p->key[p->n] = k;
        p->val[p->n] = v;
        p->n++;
    }
    return OAUTH_PARSE_OK;
}

const char *oauth_params_get(const struct oauth_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->key[i], name))
            return p->val[i];
    return NULL;
}

int oauth_params_count(const struct oauth_params *p, const char *name)
{
    int c = 0;
    for (int i = 0; i < p->n; i++)
        c += !strcmp(p->key[i], name);
    return c;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

char *oauth_pct_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = xmalloc(3 * n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

char *oauth_url_with_params(const char *base, const char *const *pairs)
{
    size_t cap = strlen(base) + 2;
    for (const char *const *kv = pairs; kv[0]; kv += 2)
        if (kv[1])
            cap += 3 * (strlen(kv[0]) + strlen(kv[1])) + 2;
    char *out = xmalloc(cap);
    strcpy(out, base);
    char sep = strchr(base, '?') ? '&' : '?';
    /* A query ending in '?' or '&' needs no further separator. */
    size_t bl = strlen(base);
    bool bare = bl > 0 && (base[bl - 1] == '?' || base[bl - 1] == '&');
    for (const char *const *kv = pairs; kv[0]; kv += 2) {
        if (!kv[1])
            continue;
        char *k = oauth_pct_encode(kv[0]), *v = oauth_pct_encode(kv[1]);
        size_t l = strlen(out);
        if (!bare)
            out[l++] = sep;
        bare = false;
        sep = '&';
        strcpy(out + l, k);
        strcat(out, "=");
        strcat(out, v);
        free(k);
        free(v);
    }
    return out;
}

bool oauth_basic_credentials(const char *header, bool *is_basic, char **id, char **secret)
{
    *is_basic = false;
    *id = *secret = NULL;
    if (!header || strncasecmp(header, "Basic ", 6) != 0)
        return false;
    *is_basic = true;
    const char *b = header + 6;
    while (*b == ' ')
        b++;
    size_t bl = strlen(b);
    while (bl > 0 && b[bl - 1] == ' ')
        bl--;
    if (bl == 0 || bl > 4 * OAUTH_MAX_PARAM_LEN)
        return false;
    unsigned char *raw = xmalloc(bl + 1);
    size_t rl;
    if (sodium_base642bin(raw, bl, b, bl, NULL, &rl, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(raw);
        return false;
    }
    raw[rl] = '\0';
    char *colon = memchr(raw, ':', rl);
    if (!colon || memchr(raw, '\0', rl)) {
        free(raw);
        return false;
    }
    /* RFC 6749 §2.3.1: both halves are form-urlencoded before joining. */
    *id = form_decode((const char *)raw, (size_t)(colon - (char *)raw));
    *secret = form_decode(colon + 1, rl - (size_t)(colon + 1 - (char *)raw));
    free(raw);
    if (!*id || !*secret || !**id) {
        free(*id);
        free(*secret);
        *id = *secret = NULL;
        return false;
    }
    return true;
}

char *oauth_cookie_get(const char *h, const char *name)
{
    if (!h)
        return NULL;
    size_t nl = strlen(name);
    while (*h) {
        h += strspn(h, " \t;");
        size_t pl = strcspn(h, ";");
        const char *eq = memchr(h, '=', pl);
        if (eq && (size_t)(eq - h) == nl && !strncmp(h, name, nl)) {
            const char *v = eq + 1;
            size_t vl = pl - nl - 1;
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
                v++, vl -= 2;
            return vl ? xstrndup(v, vl) : NULL;
        }
        h += pl;
    }
    return NULL;
}

char *html_escape(const char *s)
{
    if (!s)
        return xstrdup("");
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += (*p == '&' || *p == '<' || *p == '>' || *p == '"' || *p == '\'') ? 6 : 1;
    char *out = xmalloc(n + 1), *o = out;
    for (const char *p = s; *p; p++) {
        const char *r = NULL;
        switch (*p) {
        case '&': r = "&amp;"; break;
        case '<': r = "&lt;"; break;
        case '>': r = "&gt;"; break;
        case '"': r = "&quot;"; break;
        case '\'': r = "&#39;"; break;
        }
        if (r) {
            strcpy(o, r);
            o += strlen(r);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

char *oauth_uri_host(const char *uri)
{
    const char *sep = uri ? strstr(uri, "://") : NULL;
    if (!sep)
        return NULL;
    const char *a = sep + 3;
    size_t al = strcspn(a, "/?#");
    const char *at = memchr(a, '@', al);
    if (at) {
        al -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    return al ? xstrndup(a, al) : NULL;
}
