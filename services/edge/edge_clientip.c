/*
 * edge_clientip — the client's address behind trusted reverse proxies.
 * See edge_clientip.h.
 */
#include "services/edge/edge_clientip.h"

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

static struct clientip_trust g_trust;

void clientip_set_trust(const struct clientip_trust *t)
{
    g_trust = *t;
}

const struct clientip_trust *clientip_get_trust(void)
{
    return &g_trust;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

bool clientip_parse_addr(const char *s, size_t n, int *family, uint8_t addr[16])
{
    char text[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof text)
        return false;
    memcpy(text, s, n);
    text[n] = '\0';
    if (memchr(text, '\0', n))   /* an embedded NUL: not an address */
        return false;
    memset(addr, 0, 16);
    if (strchr(text, ':')) {
        /* inet_pton takes no zone ("%eth0"), brackets or port: all refused. */
        if (inet_pton(AF_INET6, text, addr) != 1)
            return false;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(addr, mapped, sizeof mapped)) {
            memmove(addr, addr + 12, 4);
            memset(addr + 4, 0, 12);
            *family = 4;
        } else {
            *family = 6;
        }
        return true;
    }
    /* glibc's inet_pton takes only four decimal parts without leading zeros. */
    if (inet_pton(AF_INET, text, addr) != 1)
        return false;
    *family = 4;
    return true;
}

static bool parse_net(const char *s, size_t n, struct clientip_net *net)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    if (!clientip_parse_addr(s, alen, &net->family, net->addr))
        return false;
    int max = net->family == 4 ? 32 : 128;
    if (!slash) {
        net->prefix = max;
        return true;
    }
    const char *p = slash + 1;
    size_t plen = n - alen - 1;
    if (plen == 0 || plen > 3)
        return false;
    int v = 0;
    for (size_t i = 0; i < plen; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    if (plen > 1 && p[0] == '0')
        return false;
    /* An IPv4-mapped network is written with an IPv6 prefix (::ffff:10.0.0.0/104). */
    bool mapped_v6 = net->family == 4 && memchr(s, ':', alen);
    if (mapped_v6) {
        if (v < 96 || v > 128)
            return false;
        v -= 96;
    }
    if (v > max)
        return false;
    net->prefix = v;
    return true;
}

bool clientip_parse_list(const char *text, struct clientip_trust *t, char *err, size_t errcap)
{
    memset(t, 0, sizeof *t);
    if (!text || !text[strspn(text, " \t")])
        return true;   /* empty: trust nobody */
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        if (a == b) {
            snprintf(err, errcap, "TRUSTED_PROXIES: an empty entry (two commas, or a comma at an end)");
            return false;
        }
        if (t->n == CLIENTIP_MAX_NETS) {
            snprintf(err, errcap, "TRUSTED_PROXIES: more than %d entries", CLIENTIP_MAX_NETS);
            return false;
        }
        if (!parse_net(a, (size_t)(b - a), &t->nets[t->n])) {
            snprintf(err, errcap,
                     "TRUSTED_PROXIES: \"%.*s\" is not an address or CIDR (like 10.0.0.1, 10.0.0.0/8, fd00::/8)",
                     (int)(b - a > 64 ? 64 : b - a), a);
            return false;
        }
        t->n++;
        if (!comma)
            return true;
        p = comma + 1;
    }
}

static bool in_net(const struct clientip_net *net, int family, const uint8_t addr[16])
{
    if (net->family != family)
        return false;
    int full = net->prefix / 8, rest = net->prefix % 8;
    if (memcmp(net->addr, addr, (size_t)full))
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net->addr[full] & mask) == (addr[full] & mask);
}

static bool trusted_bin(const struct clientip_trust *t, int family, const uint8_t addr[16])
{
    for (int i = 0; i < t->n; i++)
        if (in_net(&t->nets[i], family, addr))
            return true;
    return false;
}

bool clientip_trusted(const struct clientip_trust *t, const char *addr)
{
    int family;
    uint8_t bin[16];
    return addr && clientip_parse_addr(addr, strlen(addr), &family, bin) && trusted_bin(t, family, bin);
}

static void put(char *out, size_t cap, const char *s)
{
    if (cap)
        snprintf(out, cap, "%s", s ? s : "");
}

/* The textual form of a parsed address (canonical: inet_ntop). */
static void put_bin(char *out, size_t cap, int family, const uint8_t addr[16])
{
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, text, sizeof text))
        text[0] = '\0';
    put(out, cap, text);
}

void clientip_resolve(const struct clientip_trust *t, const char *peer, const char *xff, bool several, char *out,
                      size_t cap)
{
    put(out, cap, peer);
    if (!t || !t->n || !peer || several || !xff || !clientip_trusted(t, peer))
        return;
    size_t len = strnlen(xff, CLIENTIP_MAX_HEADER + 1);
    if (len == 0 || len > CLIENTIP_MAX_HEADER)
        return;
    /* Check every entry first: one malformed entry makes the whole header
     * untrustworthy, wherever it is. */
    struct {
        int family;
        uint8_t addr[16];
    } e[CLIENTIP_MAX_ENTRIES];
    int n = 0;
    const char *p = xff, *end = xff + len;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *a = p, *b = stop;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        if (n == CLIENTIP_MAX_ENTRIES || !clientip_parse_addr(a, (size_t)(b - a), &e[n].family, e[n].addr))
            return;
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    /* Right to left: each trusted hop vouches for the one before it; the
     * first that is not trusted is the client. All trusted: the left-most. */
    int i = n - 1;
    while (i > 0 && trusted_bin(t, e[i].family, e[i].addr))
        i--;
    put_bin(out, cap, e[i].family, e[i].addr);
}
