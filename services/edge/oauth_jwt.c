/*
 * oauth_jwt — signing with libjwt, verification with OpenSSL and the parsed
 * keys, and the verified-token cache. See oauth_jwt.h.
 */
#include "services/edge/oauth_jwt.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "common/util.h"
#include "proto/catalog.h"

#define HEADER_MAX 512              /* decoded header bytes */
#define AUD_ARRAY_MAX 16

const char *oauth_jwt_status_text(enum oauth_jwt_status s)
{
    switch (s) {
    case OAUTH_JWT_OK: return "valid";
    case OAUTH_JWT_MALFORMED: return "malformed token";
    case OAUTH_JWT_BAD_ALG: return "unsupported token algorithm";
    case OAUTH_JWT_UNKNOWN_KEY: return "token signed by an unknown key";
    case OAUTH_JWT_BAD_SIGNATURE: return "invalid token signature";
    case OAUTH_JWT_EXPIRED: return "token expired";
    case OAUTH_JWT_NOT_YET_VALID: return "token not yet valid";
    case OAUTH_JWT_WRONG_ISSUER: return "token from another issuer";
    case OAUTH_JWT_WRONG_AUDIENCE: return "token for another resource";
    case OAUTH_JWT_BAD_CLAIMS: return "token claims incomplete";
    }
    return "invalid token";
}

/* ---- signing ---- */

static bool claim_ok(const char *s, size_t max)
{
    return s && *s && strlen(s) <= max;
}

char *oauth_jwt_sign(const struct oauth_keys *keys, const struct oauth_claims *c)
{
    if (!keys || !c || !claim_ok(c->iss, 512) || !claim_ok(c->sub, 39) || !claim_ok(c->aud, 600) ||
        !claim_ok(c->client_id, OAUTH_CLIENT_ID_MAX) || !c->scope || strlen(c->scope) > 256 ||
        !claim_ok(c->gid, OAUTH_GID_MAX - 1) || c->iat <= 0)
        return NULL;
    size_t pem_len;
    const char *pem = oauth_keys_signing_pem(keys, &pem_len);
    uint8_t jti_raw[16];
    random_bytes(jti_raw, sizeof jti_raw);
    char *jti = b64url_encode(jti_raw, sizeof jti_raw);
    jwt_t *jwt = NULL;
    char *out = NULL;
    if (jwt_new(&jwt) == 0 && jwt_set_alg(jwt, JWT_ALG_ES256, (const unsigned char *)pem, (int)pem_len) == 0 &&
        jwt_add_header(jwt, "kid", oauth_keys_current_kid(keys)) == 0 && jwt_add_grant(jwt, "iss", c->iss) == 0 &&
        jwt_add_grant(jwt, "sub", c->sub) == 0 && jwt_add_grant(jwt, "aud", c->aud) == 0 &&
        jwt_add_grant(jwt, "client_id", c->client_id) == 0 && jwt_add_grant(jwt, "scope", c->scope) == 0 &&
        jwt_add_grant_int(jwt, "iat", (long)c->iat) == 0 &&
        jwt_add_grant_int(jwt, "exp", (long)(c->iat + OAUTH_JWT_TTL)) == 0 && jwt_add_grant(jwt, "jti", jti) == 0 &&
        jwt_add_grant(jwt, "gid", c->gid) == 0) {
        char *s = jwt_encode_str(jwt);   /* malloc'd by libjwt: copy so callers free() ours */
        if (s) {
            out = xstrdup(s);
            free(s);
        }
    }
    jwt_free(jwt);
    free(jti);
    ERR_clear_error();
    return out;
}

/* ---- verification ---- */

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Splits into three non-empty base64url parts: dots[0], dots[1] are the
 * offsets of the two separators. */
static bool split3(const char *t, size_t len, size_t dots[2])
{
    if (!t || len == 0 || len > OAUTH_JWT_MAX)
        return false;
    int nd = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.') {
            if (nd == 2)
                return false;
            dots[nd++] = i;
        } else if (!b64url_char(t[i])) {
            return false;
        }
    }
    return nd == 2 && dots[0] > 0 && dots[1] > dots[0] + 1 && dots[1] + 1 < len;
}

bool oauth_jwt_looks_like(const char *token, size_t len)
{
    size_t dots[2];
    return split3(token, len, dots);
}

/* Decodes one part as a JSON object (duplicate names rejected: two "aud"
 * members must not let different readers see different audiences). */
static json_t *decode_json_part(const char *s, size_t n, size_t cap)
{
    char buf[OAUTH_JWT_MAX];
    if (cap > sizeof buf)
        cap = sizeof buf;
    long m = b64url_decode(s, n, buf, cap);
    if (m <= 0)
        return NULL;
    json_t *j = json_loadb(buf, (size_t)m, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool es256_verify(EVP_PKEY *pk, const char *signed_part, size_t signed_len, const uint8_t rs[64])
{
    /* JWS carries the raw R||S (RFC 7518 §3.4); OpenSSL wants DER. */
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    bool ok = false;
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        ERR_clear_error();
        return false;
    }
    unsigned char der[80], *p = der;
    int dlen = i2d_ECDSA_SIG(sig, NULL);
    if (dlen > 0 && dlen <= (int)sizeof der && i2d_ECDSA_SIG(sig, &p) == dlen) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestVerify(ctx, der, (size_t)dlen, (const unsigned char *)signed_part, signed_len) == 1;
        EVP_MD_CTX_free(ctx);
    }
    ECDSA_SIG_free(sig);
    ERR_clear_error();
    return ok;
}

static bool is_gid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= OAUTH_GID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!b64url_char(s[i]))
            return false;
    return true;
}

/* Space-separated scope names into bits; names we do not know are ignored
 * (a token may carry scopes of a later version). */
static uint32_t scope_bits(const char *s)
{
    uint32_t bits = 0;
    while (*s) {
        size_t n = strcspn(s, " ");
        char word[32];
        uint32_t b;
        if (n > 0 && n < sizeof word) {
            memcpy(word, s, n);
            word[n] = '\0';
            if (scopes_parse(word, &b) == 0)
                bits |= b;
        }
        s += n;
        s += strspn(s, " ");
    }
    return bits;
}

static bool aud_matches(json_t *aud, const char *expected)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), expected) == 0;
    if (!json_is_array(aud) || json_array_size(aud) > AUD_ARRAY_MAX)
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), expected) == 0)
            return true;
    }
    return false;
}

static enum oauth_jwt_status check_header(json_t *h, const struct oauth_keys *keys, EVP_PKEY **pk)
{
    const char *alg = json_string_value(json_object_get(h, "alg"));
    /* The algorithm is pinned: exactly "ES256". The header never chooses. */
    if (!alg || strcmp(alg, "ES256") != 0)
        return OAUTH_JWT_BAD_ALG;
    /* We understand no critical extension (RFC 7515 §4.1.11). */
    if (json_object_get(h, "crit"))
        return OAUTH_JWT_BAD_ALG;
    json_t *typ = json_object_get(h, "typ");
    if (typ && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        return OAUTH_JWT_BAD_ALG;
    const char *kid = json_string_value(json_object_get(h, "kid"));
    if (!kid || !(*pk = oauth_keys_find(keys, kid)))
        return OAUTH_JWT_UNKNOWN_KEY;
    return OAUTH_JWT_OK;
}

static enum oauth_jwt_status check_claims(json_t *p, const char *expected_iss, const char *expected_aud, int64_t now,
                                          struct principal *out, int64_t *exp_out)
{
    const char *iss = json_string_value(json_object_get(p, "iss"));
    if (!iss || strcmp(iss, expected_iss) != 0)
        return OAUTH_JWT_WRONG_ISSUER;
    if (!aud_matches(json_object_get(p, "aud"), expected_aud))
        return OAUTH_JWT_WRONG_AUDIENCE;
    json_t *exp = json_object_get(p, "exp"), *nbf = json_object_get(p, "nbf"), *iat = json_object_get(p, "iat");
    if (!json_is_integer(exp) || json_integer_value(exp) <= 0 || (nbf && !json_is_integer(nbf)) ||
        (iat && !json_is_integer(iat)))
        return OAUTH_JWT_BAD_CLAIMS;
    json_int_t e = json_integer_value(exp);
    if (e > INT64_MAX - OAUTH_JWT_SKEW || now >= e + OAUTH_JWT_SKEW)
        return OAUTH_JWT_EXPIRED;
    if (nbf && now + OAUTH_JWT_SKEW < json_integer_value(nbf))
        return OAUTH_JWT_NOT_YET_VALID;
    const char *sub = json_string_value(json_object_get(p, "sub"));
    const char *client = json_string_value(json_object_get(p, "client_id"));
    const char *scope = json_string_value(json_object_get(p, "scope"));
    const char *gid = json_string_value(json_object_get(p, "gid"));
    if (!sub || !is_uuid(sub) || !client || !*client || strlen(client) > OAUTH_CLIENT_ID_MAX || !scope || !gid ||
        !is_gid(gid))
        return OAUTH_JWT_BAD_CLAIMS;
    memset(out, 0, sizeof *out);
    out->kind = PRINCIPAL_OAUTH;
    strcpy(out->account_id, sub);
    strcpy(out->client_id, client);
    strcpy(out->key_id, gid);
    out->scopes = scope_bits(scope);
    *exp_out = e;
    return OAUTH_JWT_OK;
}

enum oauth_jwt_status oauth_jwt_verify(const struct oauth_keys *keys, const char *token, size_t len,
                                       const char *expected_iss, const char *expected_aud, int64_t now,
                                       struct principal *out, char *gid_out, int64_t *exp_out)
{
    size_t dots[2];
    if (!keys || !split3(token, len, dots))
        return OAUTH_JWT_MALFORMED;
    json_t *h = decode_json_part(token, dots[0], HEADER_MAX);
    if (!h)
        return OAUTH_JWT_MALFORMED;
    EVP_PKEY *pk = NULL;
    enum oauth_jwt_status st = check_header(h, keys, &pk);
    json_decref(h);
    if (st != OAUTH_JWT_OK)
        return st;

    uint8_t rs[64];
    const char *sig = token + dots[1] + 1;
    if (b64url_decode(sig, len - dots[1] - 1, rs, sizeof rs) != 64)
        return OAUTH_JWT_MALFORMED;
    if (!es256_verify(pk, token, dots[1], rs))
        return OAUTH_JWT_BAD_SIGNATURE;

    /* Only signed bytes reach the JSON parser from here on. */
    json_t *p = decode_json_part(token + dots[0] + 1, dots[1] - dots[0] - 1, OAUTH_JWT_MAX);
    if (!p)
        return OAUTH_JWT_MALFORMED;
    struct principal who;
    int64_t exp = 0;
    st = check_claims(p, expected_iss, expected_aud, now, &who, &exp);
    json_decref(p);
    if (st != OAUTH_JWT_OK)
        return st;
    *out = who;
    if (gid_out)
        strcpy(gid_out, who.key_id);
    if (exp_out)
        *exp_out = exp;
    return OAUTH_JWT_OK;
}

/* ---- verified-token cache: open addressing on SHA-256(token), like
 * edge_keycache (the hash is uniform, so its first bytes are the bucket). */

#define SLOTS (JWT_CACHE_MAX * 2)

struct centry {
    uint8_t hash[32];
    int64_t until;                  /* exp + skew, epoch s; 0 = empty */
    struct principal who;
};

struct jwt_cache {
    struct centry *e;
    size_t count;
    unsigned keys_generation;
};

struct jwt_cache *jwt_cache_new(void)
{
    struct jwt_cache *c = xcalloc(1, sizeof *c);
    c->e = xcalloc(SLOTS, sizeof *c->e);
    return c;
}

void jwt_cache_free(struct jwt_cache *c)
{
    if (!c)
        return;
    free(c->e);
    free(c);
}

void jwt_cache_clear(struct jwt_cache *c)
{
    memset(c->e, 0, SLOTS * sizeof *c->e);
    c->count = 0;
}

size_t jwt_cache_count(const struct jwt_cache *c)
{
    return c->count;
}

static size_t cbucket(const uint8_t hash[32])
{
    uint64_t h;
    memcpy(&h, hash, sizeof h);
    return (size_t)(h % SLOTS);
}

static void crebuild(struct jwt_cache *c, int64_t now)
{
    struct centry *old = c->e;
    c->e = xcalloc(SLOTS, sizeof *c->e);
    c->count = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        if (old[i].until > now) {
            size_t j = cbucket(old[i].hash);
            while (c->e[j].until)
                j = (j + 1) % SLOTS;
            c->e[j] = old[i];
            c->count++;
        }
    }
    free(old);
}

bool jwt_cache_get(struct jwt_cache *c, const uint8_t hash[32], int64_t now, struct principal *who)
{
    for (size_t j = cbucket(hash); c->e[j].until; j = (j + 1) % SLOTS) {
        if (memcmp(c->e[j].hash, hash, 32) == 0) {
            if (now >= c->e[j].until)
                return false;
            *who = c->e[j].who;
            return true;
        }
    }
    return false;
}

void jwt_cache_put(struct jwt_cache *c, const uint8_t hash[32], int64_t exp, int64_t now, const struct principal *who)
{
    int64_t until = exp + OAUTH_JWT_SKEW;
    if (until <= now)
        return;
    if (c->count >= JWT_CACHE_MAX) {
        /* Drop the expired; if that frees less than half, start afresh: a
         * forgotten token costs one more verification, nothing else. */
        crebuild(c, now);
        if (c->count >= JWT_CACHE_MAX / 2)
            jwt_cache_clear(c);
    }
    size_t j = cbucket(hash);
    while (c->e[j].until && memcmp(c->e[j].hash, hash, 32) != 0)
        j = (j + 1) % SLOTS;
    if (!c->e[j].until)
        c->count++;
    memcpy(c->e[j].hash, hash, 32);
    c->e[j].until = until;
    c->e[j].who = *who;
}

enum oauth_jwt_status oauth_jwt_check(const struct oauth_keys *keys, struct jwt_cache *cache, const char *token,
                                      size_t len, const char *expected_iss, const char *expected_aud, int64_t now,
                                      struct principal *out)
{
    if (!keys || len > OAUTH_JWT_MAX)
        return OAUTH_JWT_MALFORMED;
    uint8_t hash[32];
    if (cache) {
        if (cache->keys_generation != oauth_keys_generation(keys)) {
            /* A reload may have dropped the key some cached token was
             * signed with. */
            jwt_cache_clear(cache);
            cache->keys_generation = oauth_keys_generation(keys);
        }
        sha256(token, len, hash);
        if (jwt_cache_get(cache, hash, now, out))
            return OAUTH_JWT_OK;
    }
    int64_t exp = 0;
    enum oauth_jwt_status st = oauth_jwt_verify(keys, token, len, expected_iss, expected_aud, now, out, NULL, &exp);
    if (st == OAUTH_JWT_OK && cache)
        jwt_cache_put(cache, hash, exp, now, out);
    return st;
}
