/*
 * outbound — connections to hosts outside the platform (outbound.h).
 *
 * Choices:
 * - Resolution runs getaddrinfo in a helper thread that the caller waits for
 *   until the deadline, because getaddrinfo itself has no timeout. The job is
 *   reference-counted: whichever of the two finishes last frees it, so a
 *   resolver that answers after we gave up frees its own result.
 * - If any resolved address is not public the connection is refused, not
 *   just that address: a name that mixes public and private answers is
 *   either misconfigured or an attack on us. We then connect to the checked
 *   sockaddr itself, so a second lookup cannot rebind the name.
 * - TLS: OpenSSL with the system CA store, TLS 1.2 minimum, SNI for names,
 *   hostname (or IP) verification. A peer that closes without close_notify
 *   is accepted as end of stream: callers delimit bodies themselves
 *   (Content-Length, chunking, SMTP replies).
 */
#include "common/outbound.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/util.h"
#include "proto/cimd_rules.h"

#define MAX_ADDRS 8

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t cap, const char *fmt, ...)
{
    if (!why || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

int outbound_remaining(int64_t deadline)
{
    int64_t r = deadline - mono_ms();
    return r > 0 ? (int)r : 0;
}

/* ---- resolution with a deadline ------------------------------------------ */

struct dns_job {
    char host[256], port[6];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int rc;
    struct addrinfo *res;
    atomic_int refs;
};

static void dns_release(struct dns_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1) {
        if (j->res)
            freeaddrinfo(j->res);
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
}

static void *dns_thread(void *arg)
{
    struct dns_job *j = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(j->host, j->port, &hints, &res);
    pthread_mutex_lock(&j->mu);
    j->rc = rc;
    j->res = rc == 0 ? res : NULL;
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    dns_release(j);
    return NULL;
}

/* Resolves host:port into addrs (copied); returns the count, 0 with why. */
static int resolve(const struct outbound_target *t, int64_t deadline, struct sockaddr_storage *addrs,
                   socklen_t *lens, char *why, size_t cap)
{
    struct dns_job *j = xcalloc(1, sizeof *j);
    snprintf(j->host, sizeof j->host, "%s", t->host);
    snprintf(j->port, sizeof j->port, "%s", t->port);
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&j->refs, 2);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int prc = pthread_create(&th, &attr, dns_thread, j);
    pthread_attr_destroy(&attr);
    if (prc != 0) {
        atomic_fetch_sub(&j->refs, 1);
        dns_release(j);
        say(why, cap, "%s could not be resolved (no thread)", t->label);
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int ms = outbound_remaining(deadline);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int n = 0;
    pthread_mutex_lock(&j->mu);
    while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, &ts) != ETIMEDOUT)
        ;
    if (!j->done) {
        say(why, cap, "resolving %s timed out", t->label);
    } else if (j->rc != 0) {
        say(why, cap, "%s could not be resolved (%s)", t->label, gai_strerror(j->rc));
    } else {
        for (struct addrinfo *ai = j->res; ai && n < MAX_ADDRS; ai = ai->ai_next) {
            if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof addrs[0])
                continue;
            memcpy(&addrs[n], ai->ai_addr, ai->ai_addrlen);
            lens[n++] = ai->ai_addrlen;
        }
        if (n == 0)
            say(why, cap, "%s has no address", t->label);
    }
    pthread_mutex_unlock(&j->mu);
    dns_release(j);
    return n;
}

/* ---- connection ----------------------------------------------------------- */

/* Waits for fd to become ready for events; false on timeout or error. */
static bool wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int ms = outbound_remaining(deadline);
        if (ms <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, ms);
        if (r > 0)
            return true;
        if (r == 0 || errno != EINTR)
            return false;
    }
}

static int connect_to(const struct sockaddr_storage *a, socklen_t len, int64_t deadline)
{
    int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)a, len) == 0)
        return fd;
    if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline)) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
            return fd;
    }
    close(fd);
    return -1;
}

/* ---- TLS ------------------------------------------------------------------ */

static SSL_CTX *tls_ctx;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_init(void)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c)
        return;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_default_verify_paths(c) != 1)
        log_warn("outbound: the system CA store could not be loaded; https connections will fail");
    tls_ctx = c;
}

/* Runs an SSL operation to completion within the deadline. Returns its
 * result (> 0), 0 for a clean end of stream, -1 on error or timeout. */
static int ssl_io(struct outbound_conn *c, int64_t deadline, int (*op)(SSL *, void *, int), void *buf, int n)
{
    for (;;) {
        ERR_clear_error();
        int r = op(c->ssl, buf, n);
        if (r > 0)
            return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        if (e == SSL_ERROR_WANT_READ) {
            if (!wait_fd(c->fd, POLLIN, deadline))
                return -1;
        } else if (e == SSL_ERROR_WANT_WRITE) {
            if (!wait_fd(c->fd, POLLOUT, deadline))
                return -1;
        } else {
            return -1;
        }
    }
}

static int op_connect(SSL *s, void *b, int n)
{
    (void)b, (void)n;
    return SSL_connect(s);
}

static int op_read(SSL *s, void *b, int n)
{
    return SSL_read(s, b, n);
}

static int op_write(SSL *s, void *b, int n)
{
    return SSL_write(s, b, n);
}

static bool tls_start(struct outbound_conn *c, const struct outbound_target *t, int64_t deadline, char *why,
                      size_t cap)
{
    pthread_once(&tls_once, tls_init);
    if (!tls_ctx) {
        say(why, cap, "TLS is not available");
        return false;
    }
    c->ssl = SSL_new(tls_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        say(why, cap, "TLS is not available");
        return false;
    }
    if (t->host_is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), t->host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, t->host);
        SSL_set1_host(c->ssl, t->host);
    }
    if (ssl_io(c, deadline, op_connect, NULL, 0) <= 0) {
        long v = SSL_get_verify_result(c->ssl);
        if (v != X509_V_OK)
            say(why, cap, "%s's certificate was not accepted (%s)", t->label, X509_verify_cert_error_string(v));
        else
            say(why, cap, "the TLS handshake with %s failed or timed out", t->label);
        return false;
    }
    return true;
}

/* ---- the connection ------------------------------------------------------- */

bool outbound_open(struct outbound_conn *c, const struct outbound_target *t, int64_t deadline, char *why,
                   size_t cap)
{
    c->fd = -1;
    c->ssl = NULL;
    struct sockaddr_storage addrs[MAX_ADDRS];
    socklen_t lens[MAX_ADDRS];
    int n = resolve(t, deadline, addrs, lens, why, cap);
    if (n == 0)
        return false;
    for (int i = 0; i < n; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&addrs[i];
        const char *bad = cimd_addr_forbidden(sa);
        if (bad && !t->allow_private) {
            say(why, cap, "%s resolves to %s, which is not fetched", t->label, bad);
            return false;
        }
        if (!t->tls && t->plain_loopback_only && !cimd_addr_is_loopback(sa)) {
            say(why, cap, "plain http is allowed only to a loopback address");
            return false;
        }
    }
    for (int i = 0; i < n && c->fd < 0 && outbound_remaining(deadline) > 0; i++)
        c->fd = connect_to(&addrs[i], lens[i], deadline);
    if (c->fd < 0) {
        if (outbound_remaining(deadline) > 0)
            say(why, cap, "%s refused the connection", t->label);
        else
            say(why, cap, "connecting to %s timed out", t->label);
        return false;
    }
    if (t->tls && !tls_start(c, t, deadline, why, cap)) {
        outbound_close(c);
        return false;
    }
    return true;
}

int outbound_write(struct outbound_conn *c, const char *buf, size_t n, int64_t deadline)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w;
        if (c->ssl) {
            size_t chunk = n - off > (1u << 30) ? (1u << 30) : n - off;
            w = ssl_io(c, deadline, op_write, (void *)(buf + off), (int)chunk);
            if (w <= 0)
                return -1;
        } else {
            w = send(c->fd, buf + off, n - off, MSG_NOSIGNAL);
            if (w < 0) {
                if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(c->fd, POLLOUT, deadline))
                    continue;
                if (errno == EINTR)
                    continue;
                return -1;
            }
        }
        off += (size_t)w;
    }
    return 0;
}

ssize_t outbound_read(struct outbound_conn *c, char *buf, size_t n, int64_t deadline)
{
    if (n == 0)
        return -1;
    if (c->ssl)
        return ssl_io(c, deadline, op_read, buf, n > (1u << 30) ? (1 << 30) : (int)n);
    for (;;) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait_fd(c->fd, POLLIN, deadline))
            return -1;
    }
}

void outbound_close(struct outbound_conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
