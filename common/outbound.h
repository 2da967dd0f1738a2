/*
 * outbound — one TCP connection, optionally TLS, to a host outside the
 * platform, with a single deadline over resolution, connect, handshake and
 * every read and write, and an SSRF guard on the resolved addresses. Used
 * by the Client ID Metadata Document fetch (services/worker/cimd_fetch.c),
 * webhook deliveries and the SMTP relay (services/jobs/).
 *
 * The connection goes to the very address that was checked: there is no
 * second lookup that a rebinding name could answer differently.
 */
#ifndef TM_OUTBOUND_H
#define TM_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ssl_st;

struct outbound_target {
    const char *host;          /* a name or an IP literal (IPv6 without brackets) */
    bool host_is_ip;           /* no SNI then; the certificate must name the IP */
    const char *port;          /* decimal */
    bool tls;                  /* TLS 1.2+, verified against the system CA store */
    bool allow_private;        /* also connect to non-public addresses (cimd_addr_forbidden) */
    bool plain_loopback_only;  /* without TLS, every address must be loopback */
    const char *label;         /* names the peer in messages: "the client_id host" */
};

struct outbound_conn {
    int fd;               /* -1 when closed */
    struct ssl_st *ssl;   /* NULL for plain TCP */
};

/* Milliseconds left until a mono_ms() deadline (0 when past). */
int outbound_remaining(int64_t deadline);

/* Resolves, checks every address (any forbidden one refuses the whole
 * name), connects and, for tls, completes the handshake. On false, why says
 * what went wrong and c holds nothing to close. */
bool outbound_open(struct outbound_conn *c, const struct outbound_target *t, int64_t deadline, char *why,
                   size_t cap);

/* Writes all n bytes: 0, or -1 on error or timeout. */
int outbound_write(struct outbound_conn *c, const char *buf, size_t n, int64_t deadline);

/* Reads up to n bytes: > 0 read, 0 end of stream, -1 error or timeout. */
ssize_t outbound_read(struct outbound_conn *c, char *buf, size_t n, int64_t deadline);

void outbound_close(struct outbound_conn *c);

#endif
