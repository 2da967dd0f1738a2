/*
 * oauth_keys — loading, generating and rotating the ES256 signing keys, and
 * the JWKS document derived from them. See oauth_keys.h.
 */
#include "common/oauth_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include "common/log.h"
#include "common/util.h"

struct key {
    EVP_PKEY *pk;
    char kid[OAUTH_KID_LEN + 1];
};

struct oauth_keys {
    char *path;                 /* NULL for a set built from memory */
    struct key cur, prev;       /* prev.pk NULL when there is none */
    char *pem;                  /* the current key's PEM, for libjwt */
    size_t pem_len;
    char *jwks;
    size_t jwks_len;
    unsigned generation;
};

static void set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

char *oauth_key_generate_pem(size_t *len)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!pk)
        return NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;
    /* PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"). */
    if (bio && PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) == 1) {
        char *data;
        long n = BIO_get_mem_data(bio, &data);
        if (n > 0) {
            out = xstrndup(data, (size_t)n);
            *len = (size_t)n;
        }
    }
    BIO_free(bio);
    EVP_PKEY_free(pk);
    return out;
}

static bool is_p256(EVP_PKEY *pk)
{
    char group[64];
    size_t glen = 0;
    return EVP_PKEY_is_a(pk, "EC") &&
           EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

EVP_PKEY *oauth_key_parse_pem(const char *pem, size_t len, char *err, size_t errcap)
{
    if (len == 0 || len > OAUTH_KEY_FILE_MAX) {
        set_err(err, errcap, "not a PEM private key (size %zu)", len);
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (!pk) {
        set_err(err, errcap, "not a PEM private key");
        return NULL;
    }
    if (!is_p256(pk)) {
        EVP_PKEY_free(pk);
        set_err(err, errcap, "not an EC P-256 key (ES256 needs P-256)");
        return NULL;
    }
    return pk;
}

int oauth_key_thumbprint(EVP_PKEY *pk, char kid[OAUTH_KID_LEN + 1], char x[44], char y[44])
{
    if (!pk || !is_p256(pk))
        return -1;
    BIGNUM *bx = NULL, *by = NULL;
    int rc = -1;
    unsigned char xb[32], yb[32];
    if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
        BN_bn2binpad(bx, xb, 32) == 32 && BN_bn2binpad(by, yb, 32) == 32) {
        /* Coordinates are left-padded to 32 bytes: a JWK with a shorter x or
         * y is rejected by strict clients (and changes the thumbprint). */
        char *xs = b64url_encode(xb, 32), *ys = b64url_encode(yb, 32);
        /* RFC 7638: required members only, lexicographic order, no spaces. */
        char *canon = xasprintf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", xs, ys);
        uint8_t h[32];
        sha256(canon, strlen(canon), h);
        char *k = b64url_encode(h, 32);
        if (strlen(k) == OAUTH_KID_LEN && strlen(xs) == 43 && strlen(ys) == 43) {
            memcpy(kid, k, OAUTH_KID_LEN + 1);
            if (x)
                memcpy(x, xs, 44);
            if (y)
                memcpy(y, ys, 44);
            rc = 0;
        }
        free(k);
        free(canon);
        free(xs);
        free(ys);
    }
    ERR_clear_error();
    BN_free(bx);
    BN_free(by);
    return rc;
}

char *oauth_key_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    int e = 0;
    if (fstat(fd, &st) != 0)
        e = errno;
    else if (!S_ISREG(st.st_mode))
        e = EINVAL;
    else if (st.st_size > (off_t)OAUTH_KEY_FILE_MAX)
        e = EFBIG;
    if (e) {
        close(fd);
        errno = e;
        return NULL;
    }
    char *buf = xmalloc(OAUTH_KEY_FILE_MAX + 1);
    size_t n = 0;
    while (n < OAUTH_KEY_FILE_MAX) {
        ssize_t r = read(fd, buf + n, OAUTH_KEY_FILE_MAX - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

int oauth_key_write_file(const char *path, const char *data, size_t len, bool exclusive)
{
    char *tmp = xasprintf("%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);   /* mode 0600 */
    if (fd < 0) {
        int e = errno;
        free(tmp);
        errno = e;
        return -1;
    }
    size_t off = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = -1;
        else
            off += (size_t)w;
    }
    if (rc == 0 && (fchmod(fd, 0600) != 0 || fsync(fd) != 0))
        rc = -1;
    int e = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0) {
        /* link() refuses to replace an existing file: two edges starting at
         * once on a fresh state directory end up sharing one key. */
        if (exclusive ? link(tmp, path) != 0 : rename(tmp, path) != 0) {
            rc = -1;
            e = errno;
        }
    }
    if (exclusive || rc != 0)
        unlink(tmp);
    free(tmp);
    errno = e;
    return rc;
}

static int kid_of_pem(const char *pem, size_t len, char kid[OAUTH_KID_LEN + 1], char *err, size_t errcap)
{
    EVP_PKEY *pk = oauth_key_parse_pem(pem, len, err, errcap);
    if (!pk)
        return -1;
    int rc = oauth_key_thumbprint(pk, kid, NULL, NULL);
    if (rc != 0)
        set_err(err, errcap, "cannot compute the key's thumbprint");
    EVP_PKEY_free(pk);
    return rc;
}

int oauth_key_rotate(const char *path, bool init_only, bool *created, char kid_out[OAUTH_KID_LEN + 1], char *err,
                     size_t errcap)
{
    *created = false;
    size_t cur_len = 0;
    char *cur = oauth_key_read_file(path, &cur_len);
    if (!cur && errno != ENOENT) {
        set_err(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    char *fresh = NULL;
    char perr[128];
    if (cur && kid_of_pem(cur, cur_len, kid_out, perr, sizeof perr) != 0) {
        /* Never move an unreadable key to .previous: the operator should see
         * what is in the file first. */
        set_err(err, errcap, "%s: %s", path, perr);
        goto out;
    }
    if (cur && init_only) {
        rc = 0;
        goto out;
    }
    size_t fresh_len = 0;
    fresh = oauth_key_generate_pem(&fresh_len);
    if (!fresh || kid_of_pem(fresh, fresh_len, kid_out, perr, sizeof perr) != 0) {
        set_err(err, errcap, "cannot generate a P-256 key");
        goto out;
    }
    if (cur) {
        char *prev_path = xasprintf("%s.previous", path);
        int w = oauth_key_write_file(prev_path, cur, cur_len, false);
        if (w != 0)
            set_err(err, errcap, "%s: %s", prev_path, strerror(errno));
        free(prev_path);
        if (w != 0)
            goto out;
    }
    if (oauth_key_write_file(path, fresh, fresh_len, cur == NULL) != 0) {
        if (errno == EEXIST && init_only) {
            /* Another process created it meanwhile: use theirs. */
            free(fresh);
            fresh = NULL;
            rc = oauth_key_rotate(path, true, created, kid_out, err, errcap);
            goto out;
        }
        set_err(err, errcap, "%s: %s", path, strerror(errno));
        goto out;
    }
    *created = true;
    rc = 0;
out:
    if (cur) {
        explicit_bzero(cur, cur_len);
        free(cur);
    }
    if (fresh) {
        explicit_bzero(fresh, strlen(fresh));
        free(fresh);
    }
    return rc;
}

/* ---- the in-memory set ---- */

static char *jwk_json(EVP_PKEY *pk, const char *kid)
{
    char k[OAUTH_KID_LEN + 1], x[44], y[44];
    if (oauth_key_thumbprint(pk, k, x, y) != 0)
        return NULL;
    return xasprintf("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"use\":\"sig\","
                     "\"alg\":\"ES256\",\"kid\":\"%s\"}",
                     x, y, kid);
}

static void keys_clear(struct oauth_keys *k)
{
    EVP_PKEY_free(k->cur.pk);
    EVP_PKEY_free(k->prev.pk);
    if (k->pem) {
        explicit_bzero(k->pem, k->pem_len);
        free(k->pem);
    }
    free(k->jwks);
    k->cur.pk = k->prev.pk = NULL;
    k->pem = k->jwks = NULL;
}

/* Fills the key fields of out (all or nothing) from PEM texts. */
static int keys_build(struct oauth_keys *out, const char *cur_pem, size_t cur_len, const char *prev_pem,
                      size_t prev_len, char *err, size_t errcap)
{
    struct oauth_keys k = {0};
    char perr[128];
    k.cur.pk = oauth_key_parse_pem(cur_pem, cur_len, perr, sizeof perr);
    if (!k.cur.pk) {
        set_err(err, errcap, "signing key: %s", perr);
        return -1;
    }
    if (prev_pem) {
        k.prev.pk = oauth_key_parse_pem(prev_pem, prev_len, perr, sizeof perr);
        if (!k.prev.pk) {
            set_err(err, errcap, "previous key: %s", perr);
            keys_clear(&k);
            return -1;
        }
    }
    if (oauth_key_thumbprint(k.cur.pk, k.cur.kid, NULL, NULL) != 0 ||
        (k.prev.pk && oauth_key_thumbprint(k.prev.pk, k.prev.kid, NULL, NULL) != 0)) {
        set_err(err, errcap, "cannot compute a key thumbprint");
        keys_clear(&k);
        return -1;
    }
    if (k.prev.pk && strcmp(k.prev.kid, k.cur.kid) == 0) {
        /* The same key twice: publish it once. */
        EVP_PKEY_free(k.prev.pk);
        k.prev.pk = NULL;
    }
    char *jc = jwk_json(k.cur.pk, k.cur.kid);
    char *jp = k.prev.pk ? jwk_json(k.prev.pk, k.prev.kid) : NULL;
    if (!jc || (k.prev.pk && !jp)) {
        free(jc);
        free(jp);
        set_err(err, errcap, "cannot build the JWKS");
        keys_clear(&k);
        return -1;
    }
    k.jwks = jp ? xasprintf("{\"keys\":[%s,%s]}", jc, jp) : xasprintf("{\"keys\":[%s]}", jc);
    k.jwks_len = strlen(k.jwks);
    free(jc);
    free(jp);
    k.pem = xstrndup(cur_pem, cur_len);
    k.pem_len = cur_len;

    keys_clear(out);
    out->cur = k.cur;
    out->prev = k.prev;
    out->pem = k.pem;
    out->pem_len = k.pem_len;
    out->jwks = k.jwks;
    out->jwks_len = k.jwks_len;
    out->generation++;
    return 0;
}

static int keys_load_files(struct oauth_keys *k, char *err, size_t errcap)
{
    size_t cur_len = 0, prev_len = 0;
    char *cur = oauth_key_read_file(k->path, &cur_len);
    if (!cur) {
        set_err(err, errcap, "%s: %s", k->path, strerror(errno));
        return -1;
    }
    char *prev_path = xasprintf("%s.previous", k->path);
    char *prev = oauth_key_read_file(prev_path, &prev_len);
    int rc;
    if (!prev && errno != ENOENT) {
        set_err(err, errcap, "%s: %s", prev_path, strerror(errno));
        rc = -1;
    } else {
        rc = keys_build(k, cur, cur_len, prev, prev_len, err, errcap);
    }
    explicit_bzero(cur, cur_len);
    free(cur);
    if (prev) {
        explicit_bzero(prev, prev_len);
        free(prev);
    }
    free(prev_path);
    return rc;
}

struct oauth_keys *oauth_keys_open(const char *path, bool create, char *err, size_t errcap)
{
    if (create) {
        bool created = false;
        char kid[OAUTH_KID_LEN + 1];
        if (oauth_key_rotate(path, true, &created, kid, err, errcap) != 0)
            return NULL;
        if (created)
            log_info("generated a new ES256 signing key in %s (kid %s)", path, kid);
    }
    struct oauth_keys *k = xcalloc(1, sizeof *k);
    k->path = xstrdup(path);
    if (keys_load_files(k, err, errcap) != 0) {
        oauth_keys_free(k);
        return NULL;
    }
    return k;
}

struct oauth_keys *oauth_keys_from_pem(const char *current_pem, const char *previous_pem, char *err, size_t errcap)
{
    struct oauth_keys *k = xcalloc(1, sizeof *k);
    if (keys_build(k, current_pem, strlen(current_pem), previous_pem, previous_pem ? strlen(previous_pem) : 0, err,
                   errcap) != 0) {
        free(k);
        return NULL;
    }
    return k;
}

void oauth_keys_free(struct oauth_keys *k)
{
    if (!k)
        return;
    keys_clear(k);
    free(k->path);
    free(k);
}

int oauth_keys_reload(struct oauth_keys *k)
{
    char err[256];
    if (!k->path) {
        log_warn("signing keys: nothing to reload (keys were not loaded from a file)");
        return -1;
    }
    if (keys_load_files(k, err, sizeof err) != 0) {
        log_error("signing keys not reloaded, keeping kid %s: %s", k->cur.kid, err);
        return -1;
    }
    log_info("signing keys reloaded: current kid %s%s%s", k->cur.kid, k->prev.pk ? ", previous kid " : "",
             k->prev.pk ? k->prev.kid : "");
    return 0;
}

const char *oauth_keys_current_kid(const struct oauth_keys *k)
{
    return k->cur.kid;
}

const char *oauth_keys_signing_pem(const struct oauth_keys *k, size_t *len)
{
    *len = k->pem_len;
    return k->pem;
}

EVP_PKEY *oauth_keys_find(const struct oauth_keys *k, const char *kid)
{
    /* kids are public (they are in the JWKS): no constant-time need. */
    if (strcmp(kid, k->cur.kid) == 0)
        return k->cur.pk;
    if (k->prev.pk && strcmp(kid, k->prev.kid) == 0)
        return k->prev.pk;
    return NULL;
}

const char *oauth_keys_jwks(const struct oauth_keys *k, size_t *len)
{
    *len = k->jwks_len;
    return k->jwks;
}

unsigned oauth_keys_generation(const struct oauth_keys *k)
{
    return k->generation;
}
