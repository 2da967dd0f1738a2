/*
 * edge_clientip — the client's address behind trusted reverse proxies.
 *
 * The per-address limits (sign-up and reset e-mails, OAuth client
 * registration, invitation acceptance, failed sign-ins) and the `ip` of the
 * call log need the caller's address. Behind a reverse proxy the TCP peer is
 * the proxy, so TRUSTED_PROXIES names the proxies (addresses and CIDRs, IPv4
 * and IPv6): when the peer is one of them, the client is the right-most
 * X-Forwarded-For entry that is not itself trusted. Everything else about
 * the header is hostile: it is bounded in size and entry count, every entry
 * must be a plain address (no port, brackets or zone), and a header that
 * breaks any of these rules is ignored (the client is the peer). An empty
 * list trusts nobody, and a peer that is not trusted is the client whatever
 * it sends.
 */
#ifndef TM_EDGE_CLIENTIP_H
#define TM_EDGE_CLIENTIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLIENTIP_MAX_NETS 64         /* entries of TRUSTED_PROXIES */
#define CLIENTIP_MAX_HEADER 1024     /* bytes of X-Forwarded-For considered at all */
#define CLIENTIP_MAX_ENTRIES 32      /* addresses in X-Forwarded-For */

struct clientip_net {
    int family;          /* 4 or 6 (IPv4-mapped IPv6 is stored as 4) */
    uint8_t addr[16];
    int prefix;          /* 0..32 or 0..128 */
};

struct clientip_trust {
    struct clientip_net nets[CLIENTIP_MAX_NETS];
    int n;
};

/* Parses TRUSTED_PROXIES ("10.0.0.1, 192.168.0.0/16, fd00::/8"); empty or
 * NULL is no proxy. false with a message in err on a malformed entry. */
bool clientip_parse_list(const char *text, struct clientip_trust *t, char *err, size_t errcap);
/* Parses one address of exactly n bytes strictly (dotted quad or IPv6, no
 * port, no zone); IPv4-mapped IPv6 becomes IPv4. */
bool clientip_parse_addr(const char *s, size_t n, int *family, uint8_t addr[16]);
/* Whether the textual address is in one of the trusted networks. */
bool clientip_trusted(const struct clientip_trust *t, const char *addr);
/* The client's address into out (cap bytes): peer unless peer is trusted and
 * xff (the X-Forwarded-For value, NULL if absent; several headers must be
 * passed as NULL with several = true) names a better one. */
void clientip_resolve(const struct clientip_trust *t, const char *peer, const char *xff, bool several, char *out,
                      size_t cap);

/* The edge's list, set once at start before any request (TRUSTED_PROXIES). */
void clientip_set_trust(const struct clientip_trust *t);
const struct clientip_trust *clientip_get_trust(void);

#endif
