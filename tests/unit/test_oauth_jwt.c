/*
 * Unit tests of the edge's OAuth access tokens: signing (libjwt), local
 * verification (oauth_jwt_verify with the parsed keys), every forged or
 * mis-addressed token the resource server must refuse, key rotation and
 * the key files, the JWKS, the verified-token cache, the revocation set and
 * the bearer path of edge_auth. Keys are generated here with OpenSSL, and
 * forged tokens are built by hand so that no check depends on the code
 * under test to produce its own counter-examples. The last test prints the
 * cost of one verification (not asserted).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "common/config.h"
#include "common/util.h"
#include "services/edge/edge_auth.h"
#include "services/edge/oauth_jwt.h"
#include "common/oauth_keys.h"
#include "services/edge/oauth_revocations.h"

#define ISS "https://mcp.example.com"
#define AUD ISS "/api/mcp"
#define SUB "6f1c2a9e-0b7d-4c1e-9a53-2d8e7f4b1c60"
#define GID "0d9f4c3b-5a1e-4f7a-8b2c-1e3d5f7a9b0c"
#define CLIENT "https://claude.ai/oauth/mcp-oauth-client-metadata"

/* ---- helpers: keys and hand-made tokens ---- */

static EVP_PKEY *gen_key(void)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(pk);
    return pk;
}

static char *pem_of(EVP_PKEY *pk)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
    char *d;
    long n = BIO_get_mem_data(b, &d);
    char *s = xstrndup(d, (size_t)n);
    BIO_free(b);
    return s;
}

static char *pub_pem_of(EVP_PKEY *pk)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, pk), 1);
    char *d;
    long n = BIO_get_mem_data(b, &d);
    char *s = xstrndup(d, (size_t)n);
    BIO_free(b);
    return s;
}

static struct oauth_keys *keys_of(EVP_PKEY *cur, EVP_PKEY *prev)
{
    char *a = pem_of(cur), *b = prev ? pem_of(prev) : NULL;
    char err[256];
    struct oauth_keys *k = oauth_keys_from_pem(a, b, err, sizeof err);
    assert_non_null(k);
    free(a);
    free(b);
    return k;
}

static char *b64(const void *d, size_t n)
{
    return b64url_encode(d, n);
}

/* ES256 signature in JWS form (raw R||S) by the test's own OpenSSL calls. */
static void es256_sign(EVP_PKEY *pk, const char *msg, uint8_t rs[64])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t dlen = 0;
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk), 1);
    assert_int_equal(EVP_DigestSign(ctx, NULL, &dlen, (const unsigned char *)msg, strlen(msg)), 1);
    unsigned char *der = malloc(dlen);
    assert_int_equal(EVP_DigestSign(ctx, der, &dlen, (const unsigned char *)msg, strlen(msg)), 1);
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    assert_non_null(sig);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32), 32);
    ECDSA_SIG_free(sig);
    free(der);
    EVP_MD_CTX_free(ctx);
}

enum forge_sig { SIG_ES256, SIG_HS256_PUBPEM, SIG_NONE_EMPTY, SIG_JUNK64 };

/* header and payload are JSON texts, taken as they are. */
static char *forge(const char *header, const char *payload, enum forge_sig how, EVP_PKEY *pk)
{
    char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload));
    char *signing_input = xasprintf("%s.%s", h, p);
    char *sig = NULL;
    if (how == SIG_ES256) {
        uint8_t rs[64];
        es256_sign(pk, signing_input, rs);
        sig = b64(rs, 64);
    } else if (how == SIG_HS256_PUBPEM) {
        char *pub = pub_pem_of(pk);
        unsigned char mac[32];
        unsigned int mlen = 0;
        HMAC(EVP_sha256(), pub, (int)strlen(pub), (const unsigned char *)signing_input, strlen(signing_input), mac,
             &mlen);
        sig = b64(mac, mlen);
        free(pub);
    } else if (how == SIG_NONE_EMPTY) {
        sig = xstrdup("");
    } else {
        uint8_t junk[64];
        memset(junk, 0x41, sizeof junk);
        sig = b64(junk, 64);
    }
    char *tok = xasprintf("%s.%s", signing_input, sig);
    free(h);
    free(p);
    free(signing_input);
    free(sig);
    return tok;
}

static char *kid_of(EVP_PKEY *pk)
{
    static char kid[OAUTH_KID_LEN + 1];
    assert_int_equal(oauth_key_thumbprint(pk, kid, NULL, NULL), 0);
    return kid;
}

static char *header_for(EVP_PKEY *pk, const char *alg)
{
    return xasprintf("{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid_of(pk));
}

static char *payload_with(const char *aud_json, int64_t exp, const char *extra)
{
    char expbuf[64] = "";
    if (exp)
        snprintf(expbuf, sizeof expbuf, ",\"exp\":%lld", (long long)exp);
    return xasprintf("{\"iss\":\"" ISS "\",\"sub\":\"" SUB "\",\"aud\":%s,\"client_id\":\"" CLIENT
                     "\",\"scope\":\"read write\",\"gid\":\"" GID "\"%s%s}",
                     aud_json, expbuf, extra ? extra : "");
}

static int64_t now_s(void)
{
    return now_ms() / 1000;
}

static char *sign_at(const struct oauth_keys *k, int64_t iat, const char *aud)
{
    struct oauth_claims c = {.iss = ISS, .sub = SUB, .aud = aud, .client_id = CLIENT,
                             .scope = "read write", .gid = GID, .iat = iat};
    char *t = oauth_jwt_sign(k, &c);
    assert_non_null(t);
    return t;
}

static enum oauth_jwt_status verify_at(const struct oauth_keys *k, const char *tok, int64_t now)
{
    struct principal who;
    return oauth_jwt_verify(k, tok, strlen(tok), ISS, AUD, now, &who, NULL, NULL);
}

/* ---- round trip ---- */

static void test_signed_token_verifies_into_an_oauth_principal(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *tok = sign_at(k, now, AUD);
    assert_true(oauth_jwt_looks_like(tok, strlen(tok)));

    struct principal who;
    char gid[OAUTH_GID_MAX];
    int64_t exp = 0;
    assert_int_equal(oauth_jwt_verify(k, tok, strlen(tok), ISS, AUD, now, &who, gid, &exp), OAUTH_JWT_OK);
    assert_int_equal(who.kind, PRINCIPAL_OAUTH);
    assert_string_equal(who.account_id, SUB);
    assert_string_equal(who.client_id, CLIENT);
    assert_string_equal(who.key_id, GID);
    assert_string_equal(gid, GID);
    assert_int_equal(who.scopes, SCOPE_READ | SCOPE_WRITE);
    assert_int_equal(exp, now + OAUTH_JWT_TTL);

    /* The header and claims are what the design says. */
    size_t d1 = strcspn(tok, ".");
    char hdr[256];
    long n = b64url_decode(tok, d1, hdr, sizeof hdr - 1);
    assert_true(n > 0);
    hdr[n] = '\0';
    json_t *h = json_loads(hdr, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), oauth_keys_current_kid(k));
    json_decref(h);
    const char *p0 = tok + d1 + 1;
    size_t plen = strcspn(p0, ".");
    char pay[1024];
    n = b64url_decode(p0, plen, pay, sizeof pay - 1);
    assert_true(n > 0);
    pay[n] = '\0';
    json_t *p = json_loads(pay, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(p, "iat")), now);
    assert_string_equal(json_string_value(json_object_get(p, "aud")), AUD);
    const char *jti = json_string_value(json_object_get(p, "jti"));
    assert_non_null(jti);
    assert_true(strlen(jti) >= 22);
    json_decref(p);

    /* Two tokens for the same grant differ (jti). */
    char *tok2 = sign_at(k, now, AUD);
    assert_string_not_equal(tok, tok2);
    free(tok2);
    free(tok);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

static void test_sign_refuses_missing_or_oversized_claims(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    struct oauth_claims c = {.iss = ISS, .sub = SUB, .aud = AUD, .client_id = CLIENT,
                             .scope = "read", .gid = GID, .iat = now_s()};
    struct oauth_claims bad = c;
    bad.gid = NULL;
    assert_null(oauth_jwt_sign(k, &bad));
    bad = c;
    bad.sub = "";
    assert_null(oauth_jwt_sign(k, &bad));
    bad = c;
    char longid[300];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    bad.client_id = longid;
    assert_null(oauth_jwt_sign(k, &bad));
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

static void test_unknown_scopes_are_ignored_and_known_ones_kept(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *h = header_for(pk, "ES256");
    char *p = xasprintf("{\"iss\":\"" ISS "\",\"sub\":\"" SUB "\",\"aud\":\"" AUD "\",\"client_id\":\"c\","
                        "\"scope\":\"offline_access execute  admin read\",\"gid\":\"g1\",\"exp\":%lld}",
                        (long long)(now + 100));
    char *tok = forge(h, p, SIG_ES256, pk);
    struct principal who;
    assert_int_equal(oauth_jwt_verify(k, tok, strlen(tok), ISS, AUD, now, &who, NULL, NULL), OAUTH_JWT_OK);
    assert_int_equal(who.scopes, SCOPE_EXECUTE | SCOPE_READ);
    free(tok);
    free(p);
    free(h);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

/* ---- algorithm and key attacks ---- */

static void test_alg_none_is_rejected_in_any_case(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *aud = xasprintf("\"%s\"", AUD);
    char *p = payload_with(aud, now + 600, NULL);
    const char *algs[] = {"none", "NoNe", "NONE"};
    for (size_t i = 0; i < TM_ARRAY_LEN(algs); i++) {
        char *h = header_for(pk, algs[i]);
        char *t1 = forge(h, p, SIG_NONE_EMPTY, pk);   /* "h.p." */
        char *t2 = forge(h, p, SIG_JUNK64, pk);
        assert_int_not_equal(verify_at(k, t1, now), OAUTH_JWT_OK);
        assert_int_equal(verify_at(k, t2, now), OAUTH_JWT_BAD_ALG);
        free(t1);
        free(t2);
        free(h);
    }
    /* A header without alg at all. */
    char *h = xasprintf("{\"typ\":\"JWT\",\"kid\":\"%s\"}", kid_of(pk));
    char *t = forge(h, p, SIG_ES256, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_ALG);
    free(t);
    free(h);
    free(p);
    free(aud);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

static void test_hs256_token_macd_with_the_public_pem_is_rejected(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *aud = xasprintf("\"%s\"", AUD);
    char *p = payload_with(aud, now + 600, NULL);
    char *h = header_for(pk, "HS256");
    char *t = forge(h, p, SIG_HS256_PUBPEM, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_ALG);
    free(t);
    free(h);
    /* Other spellings and neighbours of ES256 are not ES256. */
    const char *algs[] = {"es256", "ES256K", "ES384", "RS256", "ES256 "};
    for (size_t i = 0; i < TM_ARRAY_LEN(algs); i++) {
        h = header_for(pk, algs[i]);
        t = forge(h, p, SIG_ES256, pk);
        assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_ALG);
        free(t);
        free(h);
    }
    /* The correctly signed control passes, so the rejections above are the alg's. */
    h = header_for(pk, "ES256");
    t = forge(h, p, SIG_ES256, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_OK);
    free(t);
    free(h);
    free(p);
    free(aud);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

static void test_foreign_key_and_unknown_kid_are_rejected(void **state)
{
    (void)state;
    EVP_PKEY *ours = gen_key(), *theirs = gen_key();
    struct oauth_keys *k = keys_of(ours, NULL);
    int64_t now = now_s();
    char *aud = xasprintf("\"%s\"", AUD);
    char *p = payload_with(aud, now + 600, NULL);
    /* Their key, their kid: we do not know it. */
    char *h = header_for(theirs, "ES256");
    char *t = forge(h, p, SIG_ES256, theirs);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_UNKNOWN_KEY);
    free(t);
    free(h);
    /* Their key, our kid: the signature does not check. */
    h = header_for(ours, "ES256");
    t = forge(h, p, SIG_ES256, theirs);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_SIGNATURE);
    free(t);
    free(h);
    /* No kid. */
    t = forge("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", p, SIG_ES256, ours);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_UNKNOWN_KEY);
    free(t);
    /* A critical extension we do not understand. */
    h = xasprintf("{\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"exp\"]}", kid_of(ours));
    t = forge(h, p, SIG_ES256, ours);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_ALG);
    free(t);
    free(h);
    free(p);
    free(aud);
    oauth_keys_free(k);
    EVP_PKEY_free(ours);
    EVP_PKEY_free(theirs);
}

static void test_tampered_payload_or_signature_is_rejected(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *tok = sign_at(k, now, AUD);
    assert_int_equal(verify_at(k, tok, now), OAUTH_JWT_OK);

    /* Payload swapped for one naming another account, signature kept. */
    size_t d1 = strcspn(tok, "."), d2 = d1 + 1 + strcspn(tok + d1 + 1, ".");
    char *aud = xasprintf("\"%s\"", AUD);
    char *other = payload_with(aud, now + 3600, NULL);
    char *op = b64(other, strlen(other));
    char *t = xasprintf("%.*s.%s%s", (int)d1, tok, op, tok + d2);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_SIGNATURE);
    free(t);
    free(op);
    free(other);
    free(aud);

    /* One bit of the signature flipped (re-encoded canonically). */
    uint8_t rs[64];
    assert_int_equal(b64url_decode(tok + d2 + 1, strlen(tok + d2 + 1), rs, sizeof rs), 64);
    rs[10] ^= 0x01;
    char *s = b64(rs, 64);
    t = xasprintf("%.*s.%s", (int)d2, tok, s);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_SIGNATURE);
    free(t);
    free(s);
    /* A signature of the wrong length (DER instead of R||S, truncated). */
    rs[10] ^= 0x01;
    s = b64(rs, 63);
    t = xasprintf("%.*s.%s", (int)d2, tok, s);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_MALFORMED);
    free(t);
    free(s);
    free(tok);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

/* ---- claims ---- */

static void test_expired_token_is_rejected_after_the_skew(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *tok = sign_at(k, now - OAUTH_JWT_TTL - 59, AUD);   /* exp = now - 59: within the skew */
    assert_int_equal(verify_at(k, tok, now), OAUTH_JWT_OK);
    assert_int_equal(verify_at(k, tok, now + 1), OAUTH_JWT_EXPIRED);
    free(tok);
    tok = sign_at(k, now - 2 * OAUTH_JWT_TTL, AUD);
    assert_int_equal(verify_at(k, tok, now), OAUTH_JWT_EXPIRED);
    free(tok);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

static void test_nbf_in_the_future_is_rejected(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *aud = xasprintf("\"%s\"", AUD);
    char *h = header_for(pk, "ES256");
    char extra[64];
    snprintf(extra, sizeof extra, ",\"nbf\":%lld", (long long)(now + 120));
    char *p = payload_with(aud, now + 600, extra);
    char *t = forge(h, p, SIG_ES256, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_NOT_YET_VALID);
    assert_int_equal(verify_at(k, t, now + 60), OAUTH_JWT_OK);   /* within the skew */
    free(t);
    free(p);
    /* nbf that is not a number is not ignored. */
    p = payload_with(aud, now + 600, ",\"nbf\":\"0\"");
    t = forge(h, p, SIG_ES256, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_CLAIMS);
    free(t);
    free(p);
    free(h);
    free(aud);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

static void test_wrong_issuer_is_rejected(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *tok = sign_at(k, now, AUD);
    struct principal who;
    assert_int_equal(oauth_jwt_verify(k, tok, strlen(tok), "https://evil.example.com", AUD, now, &who, NULL, NULL),
                     OAUTH_JWT_WRONG_ISSUER);
    /* Byte for byte: a trailing slash or another case is another issuer. */
    assert_int_equal(oauth_jwt_verify(k, tok, strlen(tok), ISS "/", AUD, now, &who, NULL, NULL),
                     OAUTH_JWT_WRONG_ISSUER);
    assert_int_equal(oauth_jwt_verify(k, tok, strlen(tok), "https://MCP.example.com", AUD, now, &who, NULL, NULL),
                     OAUTH_JWT_WRONG_ISSUER);
    free(tok);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

static void test_foreign_audience_is_rejected(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *tok = sign_at(k, now, "https://other.example.com/api/mcp");
    assert_int_equal(verify_at(k, tok, now), OAUTH_JWT_WRONG_AUDIENCE);
    free(tok);
    /* Only the canonical form is ours: the issuer never mints the others. */
    tok = sign_at(k, now, ISS);
    assert_int_equal(verify_at(k, tok, now), OAUTH_JWT_WRONG_AUDIENCE);
    free(tok);

    char *h = header_for(pk, "ES256");
    char *p = payload_with("[\"https://a.example\",\"https://b.example/api/mcp\"]", now + 600, NULL);
    char *t = forge(h, p, SIG_ES256, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_WRONG_AUDIENCE);
    free(t);
    free(p);
    p = payload_with("[\"https://a.example\",\"" AUD "\"]", now + 600, NULL);
    t = forge(h, p, SIG_ES256, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_OK);
    free(t);
    free(p);
    /* aud missing, or not a string. */
    p = payload_with("null", now + 600, NULL);
    t = forge(h, p, SIG_ES256, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_WRONG_AUDIENCE);
    free(t);
    free(p);
    free(h);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

static void test_missing_exp_or_identity_claims_are_rejected(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *h = header_for(pk, "ES256");
    char *aud = xasprintf("\"%s\"", AUD);
    char *p = payload_with(aud, 0, NULL);   /* no exp */
    char *t = forge(h, p, SIG_ES256, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_CLAIMS);
    free(t);
    free(p);
    p = payload_with(aud, 0, ",\"exp\":9999999999.0");   /* a real, not an integer */
    t = forge(h, p, SIG_ES256, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_CLAIMS);
    free(t);
    free(p);
    /* Duplicate claim names would let two readers disagree: refused. */
    p = payload_with(aud, now + 600, ",\"aud\":\"https://other.example\"");
    t = forge(h, p, SIG_ES256, pk);
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_MALFORMED);
    free(t);
    free(p);
    const char *bodies[] = {
        /* no sub */
        "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"client_id\":\"c\",\"scope\":\"read\",\"gid\":\"g\",\"exp\":%lld}",
        /* sub not an account id */
        "{\"iss\":\"" ISS "\",\"sub\":\"admin\",\"aud\":\"" AUD "\",\"client_id\":\"c\",\"scope\":\"read\","
        "\"gid\":\"g\",\"exp\":%lld}",
        /* no gid: could not be revoked */
        "{\"iss\":\"" ISS "\",\"sub\":\"" SUB "\",\"aud\":\"" AUD "\",\"client_id\":\"c\",\"scope\":\"read\","
        "\"exp\":%lld}",
        /* no client_id */
        "{\"iss\":\"" ISS "\",\"sub\":\"" SUB "\",\"aud\":\"" AUD "\",\"scope\":\"read\",\"gid\":\"g\",\"exp\":%lld}",
        /* no scope */
        "{\"iss\":\"" ISS "\",\"sub\":\"" SUB "\",\"aud\":\"" AUD "\",\"client_id\":\"c\",\"gid\":\"g\",\"exp\":%lld}",
    };
    for (size_t i = 0; i < TM_ARRAY_LEN(bodies); i++) {
        char buf[512];
        snprintf(buf, sizeof buf, bodies[i], (long long)(now + 600));
        t = forge(h, buf, SIG_ES256, pk);
        assert_int_equal(verify_at(k, t, now), OAUTH_JWT_BAD_CLAIMS);
        free(t);
    }
    free(aud);
    free(h);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

static void test_garbage_and_oversize_tokens_are_rejected(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    const char *garbage[] = {"", "abc", "a.b", "a.b.c", "..", "a..c", ".b.c", "a.b.c.d", "e30.e30.e30",
                             "eyJhbGciOiJFUzI1NiJ9.e30.!!!", "eyJhbGciOiJFUzI1NiJ9=.e30.AAAA",
                             "W10.e30.AAAA" /* header is an array */};
    for (size_t i = 0; i < TM_ARRAY_LEN(garbage); i++)
        assert_int_not_equal(verify_at(k, garbage[i], now), OAUTH_JWT_OK);
    assert_false(oauth_jwt_looks_like("a.b", 3));
    assert_false(oauth_jwt_looks_like("a.b.c.d", 7));
    assert_false(oauth_jwt_looks_like("a.b.c=", 6));
    assert_false(oauth_jwt_looks_like("tm_mcp_abc", 10));

    /* A valid token padded past 4096 bytes by a long claim. */
    char *pad = xmalloc(4200);
    memset(pad, 'x', 4199);
    pad[4199] = '\0';
    char *extra = xasprintf(",\"pad\":\"%s\"", pad);
    char *aud = xasprintf("\"%s\"", AUD);
    char *p = payload_with(aud, now + 600, extra);
    char *h = header_for(pk, "ES256");
    char *t = forge(h, p, SIG_ES256, pk);
    assert_true(strlen(t) > OAUTH_JWT_MAX);
    assert_false(oauth_jwt_looks_like(t, strlen(t)));
    assert_int_equal(verify_at(k, t, now), OAUTH_JWT_MALFORMED);
    free(t);
    free(h);
    free(p);
    free(aud);
    free(extra);
    free(pad);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

/* ---- rotation, key files, JWKS ---- */

static void test_token_of_previous_key_verifies_after_rotation_until_dropped(void **state)
{
    (void)state;
    EVP_PKEY *a = gen_key(), *b = gen_key(), *c = gen_key();
    struct oauth_keys *ka = keys_of(a, NULL);
    int64_t now = now_s();
    char *old = sign_at(ka, now, AUD);

    struct oauth_keys *kb = keys_of(b, a);   /* rotated: b signs, a kept */
    assert_int_equal(verify_at(kb, old, now), OAUTH_JWT_OK);
    char *fresh = sign_at(kb, now, AUD);
    assert_int_equal(verify_at(kb, fresh, now), OAUTH_JWT_OK);
    assert_int_equal(verify_at(ka, fresh, now), OAUTH_JWT_UNKNOWN_KEY);
    assert_string_equal(oauth_keys_current_kid(kb), kid_of(b));

    struct oauth_keys *kc = keys_of(c, b);   /* rotated again: a is gone */
    assert_int_equal(verify_at(kc, old, now), OAUTH_JWT_UNKNOWN_KEY);
    assert_int_equal(verify_at(kc, fresh, now), OAUTH_JWT_OK);
    free(old);
    free(fresh);
    oauth_keys_free(ka);
    oauth_keys_free(kb);
    oauth_keys_free(kc);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_free(c);
}

static char *tmpdir(void)
{
    char *d = xstrdup("/tmp/test_oauth_jwt.XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_dir(const char *dir)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static void test_key_file_is_created_rotated_and_reloaded(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char *path = xasprintf("%s/signing-key.pem", dir);
    char *prev = xasprintf("%s.previous", path);
    char err[256];
    struct oauth_keys *k = oauth_keys_open(path, false, err, sizeof err);
    assert_null(k);   /* no file, no create: an error, not a new key */

    k = oauth_keys_open(path, true, err, sizeof err);
    assert_non_null(k);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    size_t len;
    char *pem = oauth_key_read_file(path, &len);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));   /* PKCS#8 */
    free(pem);
    char kid1[OAUTH_KID_LEN + 1];
    strcpy(kid1, oauth_keys_current_kid(k));

    /* init on an existing key changes nothing. */
    bool created = true;
    char kid[OAUTH_KID_LEN + 1];
    assert_int_equal(oauth_key_rotate(path, true, &created, kid, err, sizeof err), 0);
    assert_false(created);
    assert_string_equal(kid, kid1);

    int64_t now = now_s();
    char *old = sign_at(k, now, AUD);
    struct jwt_cache *cache = jwt_cache_new();
    struct principal who;
    assert_int_equal(oauth_jwt_check(k, cache, old, strlen(old), ISS, AUD, now, &who), OAUTH_JWT_OK);

    assert_int_equal(oauth_key_rotate(path, false, &created, kid, err, sizeof err), 0);
    assert_true(created);
    assert_string_not_equal(kid, kid1);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(prev, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Nothing changes until the reload. */
    assert_string_equal(oauth_keys_current_kid(k), kid1);
    assert_int_equal(oauth_keys_reload(k), 0);
    assert_string_equal(oauth_keys_current_kid(k), kid);
    assert_int_equal(oauth_jwt_check(k, cache, old, strlen(old), ISS, AUD, now, &who), OAUTH_JWT_OK);
    size_t jlen;
    json_t *jwks = json_loads(oauth_keys_jwks(k, &jlen), 0, NULL);
    assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 2);
    json_decref(jwks);

    /* A second rotation drops the first key: its token fails, cached or not. */
    assert_int_equal(oauth_key_rotate(path, false, &created, kid, err, sizeof err), 0);
    assert_int_equal(oauth_keys_reload(k), 0);
    assert_int_equal(oauth_jwt_check(k, cache, old, strlen(old), ISS, AUD, now, &who), OAUTH_JWT_UNKNOWN_KEY);

    /* A broken key file is not loaded: the keys in use stay. */
    FILE *f = fopen(path, "w");
    fputs("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", f);
    fclose(f);
    assert_int_equal(oauth_keys_reload(k), -1);
    assert_string_equal(oauth_keys_current_kid(k), kid);
    /* ... and rotation refuses to move it to .previous. */
    assert_int_equal(oauth_key_rotate(path, false, &created, kid, err, sizeof err), -1);
    /* An RSA key is not an ES256 key. */
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char *rpem = pem_of(rsa);
    assert_null(oauth_keys_from_pem(rpem, NULL, err, sizeof err));
    free(rpem);
    EVP_PKEY_free(rsa);

    free(old);
    jwt_cache_free(cache);
    oauth_keys_free(k);
    rm_dir(dir);
    free(prev);
    free(path);
    free(dir);
}

/* base64url by OpenSSL's encoder, not the one under test. */
static void b64url_independent(const unsigned char *d, int n, char *out)
{
    int m = EVP_EncodeBlock((unsigned char *)out, d, n);
    while (m > 0 && out[m - 1] == '=')
        m--;
    out[m] = '\0';
    for (int i = 0; i < m; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
}

static void test_jwks_coordinates_are_padded_and_kid_is_the_rfc7638_thumbprint(void **state)
{
    (void)state;
    /* Find keys whose x or y has a leading zero byte (1 in ~64 keys), where
     * unpadded encodings would be 42 characters. */
    int checked_short = 0;
    for (int attempt = 0; attempt < 4000 && checked_short < 2; attempt++) {
        EVP_PKEY *pk = gen_key();
        BIGNUM *x = NULL, *y = NULL;
        assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
        bool short_coord = BN_num_bytes(x) < 32 || BN_num_bytes(y) < 32;
        if (attempt > 0 && !short_coord) {
            BN_free(x);
            BN_free(y);
            EVP_PKEY_free(pk);
            continue;
        }
        checked_short += short_coord;
        unsigned char xb[32], yb[32];
        BN_bn2binpad(x, xb, 32);
        BN_bn2binpad(y, yb, 32);
        char xs[64], ys[64];
        b64url_independent(xb, 32, xs);
        b64url_independent(yb, 32, ys);

        struct oauth_keys *k = keys_of(pk, NULL);
        size_t len;
        json_error_t jerr;
        json_t *jwks = json_loads(oauth_keys_jwks(k, &len), JSON_REJECT_DUPLICATES, &jerr);
        assert_non_null(jwks);
        json_t *keys = json_object_get(jwks, "keys");
        assert_int_equal(json_array_size(keys), 1);
        json_t *jwk = json_array_get(keys, 0);
        assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "EC");
        assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "P-256");
        assert_string_equal(json_string_value(json_object_get(jwk, "alg")), "ES256");
        assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
        assert_null(json_object_get(jwk, "d"));   /* never the private part */
        assert_string_equal(json_string_value(json_object_get(jwk, "x")), xs);
        assert_string_equal(json_string_value(json_object_get(jwk, "y")), ys);
        assert_int_equal(strlen(xs), 43);
        assert_int_equal(strlen(ys), 43);

        char *canon = xasprintf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", xs, ys);
        unsigned char h[32];
        unsigned int hl = 0;
        assert_int_equal(EVP_Digest(canon, strlen(canon), h, &hl, EVP_sha256(), NULL), 1);
        char want[64];
        b64url_independent(h, 32, want);
        assert_string_equal(json_string_value(json_object_get(jwk, "kid")), want);
        assert_string_equal(oauth_keys_current_kid(k), want);

        free(canon);
        json_decref(jwks);
        oauth_keys_free(k);
        BN_free(x);
        BN_free(y);
        EVP_PKEY_free(pk);
    }
    assert_true(checked_short >= 1);
}

/* ---- cache, revocations, edge_auth ---- */

static void test_cache_serves_a_token_only_until_it_expires(void **state)
{
    (void)state;
    struct jwt_cache *c = jwt_cache_new();
    uint8_t h[32];
    sha256("token", 5, h);
    struct principal who = {.kind = PRINCIPAL_OAUTH}, out;
    strcpy(who.key_id, GID);
    int64_t now = 1000000;
    jwt_cache_put(c, h, now + 10, now, &who);
    assert_true(jwt_cache_get(c, h, now, &out));
    assert_string_equal(out.key_id, GID);
    assert_true(jwt_cache_get(c, h, now + 10 + OAUTH_JWT_SKEW - 1, &out));
    assert_false(jwt_cache_get(c, h, now + 10 + OAUTH_JWT_SKEW, &out));
    /* Already past exp + skew: not even stored. */
    uint8_t h2[32];
    sha256("token2", 6, h2);
    jwt_cache_put(c, h2, now - 100, now, &who);
    assert_false(jwt_cache_get(c, h2, now, &out));
    /* Bounded: far more tokens than fit leave it at most full. */
    for (int i = 0; i < JWT_CACHE_MAX * 3; i++) {
        uint8_t hi[32];
        sha256(&i, sizeof i, hi);
        jwt_cache_put(c, hi, now + 3600, now, &who);
        assert_true(jwt_cache_count(c) <= JWT_CACHE_MAX);
    }

    /* Through oauth_jwt_check: a cached token still expires. */
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t t0 = now_s();
    char *tok = sign_at(k, t0, AUD);
    struct principal p;
    assert_int_equal(oauth_jwt_check(k, c, tok, strlen(tok), ISS, AUD, t0, &p), OAUTH_JWT_OK);
    uint8_t th[32];
    sha256(tok, strlen(tok), th);
    assert_true(jwt_cache_get(c, th, t0, &p));
    assert_int_equal(oauth_jwt_check(k, c, tok, strlen(tok), ISS, AUD, t0 + OAUTH_JWT_TTL + OAUTH_JWT_SKEW, &p),
                     OAUTH_JWT_EXPIRED);
    /* Failures are not cached as successes. */
    tok[strlen(tok) - 5] = tok[strlen(tok) - 5] == 'A' ? 'B' : 'A';
    assert_int_not_equal(oauth_jwt_check(k, c, tok, strlen(tok), ISS, AUD, t0, &p), OAUTH_JWT_OK);
    assert_int_not_equal(oauth_jwt_check(k, c, tok, strlen(tok), ISS, AUD, t0, &p), OAUTH_JWT_OK);
    free(tok);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
    jwt_cache_free(c);
}

static void test_revocation_set_adds_finds_and_expires(void **state)
{
    (void)state;
    struct oauth_revocations *r = oauth_revocations_new();
    assert_false(oauth_revocations_contains(r, GID));
    assert_true(oauth_revocations_add(r, GID, 5000));
    assert_true(oauth_revocations_contains(r, GID));
    assert_false(oauth_revocations_contains(r, "another"));
    assert_false(oauth_revocations_add(r, "", 5000));
    char longgid[64];
    memset(longgid, 'g', 63);
    longgid[63] = '\0';
    assert_false(oauth_revocations_add(r, longgid, 5000));
    /* Re-adding keeps the later time. */
    assert_true(oauth_revocations_add(r, GID, 9000));
    assert_true(oauth_revocations_add(r, GID, 1000));
    assert_int_equal(oauth_revocations_count(r), 1);
    assert_int_equal(oauth_revocations_expire(r, 8999), 1);
    assert_true(oauth_revocations_contains(r, GID));
    /* Many grants: the set grows and keeps every one. */
    for (int i = 0; i < 5000; i++) {
        char g[40];
        snprintf(g, sizeof g, "grant-%d", i);
        assert_true(oauth_revocations_add(r, g, i < 2500 ? 100 : 20000));
    }
    for (int i = 0; i < 5000; i++) {
        char g[40];
        snprintf(g, sizeof g, "grant-%d", i);
        assert_true(oauth_revocations_contains(r, g));
    }
    assert_int_equal(oauth_revocations_expire(r, 10000), 2500);
    assert_false(oauth_revocations_contains(r, "grant-0"));
    assert_false(oauth_revocations_contains(r, GID));
    assert_true(oauth_revocations_contains(r, "grant-4999"));
    oauth_revocations_free(r);
}

struct auth_outcome {
    int calls;
    enum auth_result result;
    struct principal who;
};

static void on_auth(void *arg, enum auth_result result, const struct principal *who)
{
    struct auth_outcome *o = arg;
    o->calls++;
    o->result = result;
    if (who)
        o->who = *who;
}

static void test_edge_auth_accepts_our_jwt_and_refuses_revoked_or_foreign_ones(void **state)
{
    (void)state;
    static struct config cfg;
    config_defaults(&cfg);
    strcpy(cfg.public_url, ISS);
    EVP_PKEY *pk = gen_key(), *other = gen_key();
    struct edge e = {.cfg = &cfg};
    e.keys_oauth = keys_of(pk, NULL);
    e.revoked = oauth_revocations_new();
    e.jwt_cache = jwt_cache_new();

    char *tok = sign_at(e.keys_oauth, now_s(), AUD);
    char *hdr = xasprintf("Bearer %s", tok);
    struct auth_outcome o = {0};
    auth_resolve(&e, hdr, on_auth, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.result, AUTH_OK);
    assert_int_equal(o.who.kind, PRINCIPAL_OAUTH);
    assert_string_equal(o.who.account_id, SUB);
    assert_string_equal(o.who.key_id, GID);
    assert_string_equal(o.who.client_id, CLIENT);

    /* Revoked: refused, although the token is in the verified cache. */
    oauth_revocations_add(e.revoked, GID, now_ms() + OAUTH_REVOCATION_KEEP_MS);
    memset(&o, 0, sizeof o);
    auth_resolve(&e, hdr, on_auth, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.result, AUTH_INVALID);
    free(hdr);
    free(tok);

    /* Signed by a key we do not have; and a token for another resource. */
    struct oauth_keys *ko = keys_of(other, NULL);
    tok = sign_at(ko, now_s(), AUD);
    hdr = xasprintf("Bearer %s", tok);
    memset(&o, 0, sizeof o);
    auth_resolve(&e, hdr, on_auth, &o);
    assert_int_equal(o.result, AUTH_INVALID);
    free(hdr);
    free(tok);
    oauth_keys_free(ko);
    oauth_revocations_free(e.revoked);
    e.revoked = oauth_revocations_new();
    tok = sign_at(e.keys_oauth, now_s(), "https://other.example.com/api/mcp");
    hdr = xasprintf("Bearer %s", tok);
    memset(&o, 0, sizeof o);
    auth_resolve(&e, hdr, on_auth, &o);
    assert_int_equal(o.result, AUTH_INVALID);
    free(hdr);
    free(tok);

    jwt_cache_free(e.jwt_cache);
    oauth_revocations_free(e.revoked);
    oauth_keys_free(e.keys_oauth);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(other);
}

/* ---- cost (printed, not asserted) ---- */

static double elapsed_us(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
}

static void test_verify_cost_per_token(void **state)
{
    (void)state;
    EVP_PKEY *pk = gen_key();
    struct oauth_keys *k = keys_of(pk, NULL);
    int64_t now = now_s();
    char *tok = sign_at(k, now, AUD);
    const int n = getenv("OAUTH_JWT_BENCH_N") ? atoi(getenv("OAUTH_JWT_BENCH_N")) : 10000;
    struct principal who;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++)
        assert_int_equal(oauth_jwt_verify(k, tok, strlen(tok), ISS, AUD, now, &who, NULL, NULL), OAUTH_JWT_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double verify = elapsed_us(a, b) / n;

    struct jwt_cache *c = jwt_cache_new();
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++)
        assert_int_equal(oauth_jwt_check(k, c, tok, strlen(tok), ISS, AUD, now, &who), OAUTH_JWT_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double cached = elapsed_us(a, b) / n;

    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n / 10; i++) {
        char *t = sign_at(k, now, AUD);
        free(t);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double sign = elapsed_us(a, b) / (n / 10);
    printf("oauth_jwt: %d tokens (%zu bytes): verify %.1f us/token, cached check %.2f us/token, sign (libjwt) %.0f "
           "us/token\n",
           n, strlen(tok), verify, cached, sign);
    jwt_cache_free(c);
    free(tok);
    oauth_keys_free(k);
    EVP_PKEY_free(pk);
}

int main(void)
{
    util_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_token_verifies_into_an_oauth_principal),
        cmocka_unit_test(test_sign_refuses_missing_or_oversized_claims),
        cmocka_unit_test(test_unknown_scopes_are_ignored_and_known_ones_kept),
        cmocka_unit_test(test_alg_none_is_rejected_in_any_case),
        cmocka_unit_test(test_hs256_token_macd_with_the_public_pem_is_rejected),
        cmocka_unit_test(test_foreign_key_and_unknown_kid_are_rejected),
        cmocka_unit_test(test_tampered_payload_or_signature_is_rejected),
        cmocka_unit_test(test_expired_token_is_rejected_after_the_skew),
        cmocka_unit_test(test_nbf_in_the_future_is_rejected),
        cmocka_unit_test(test_wrong_issuer_is_rejected),
        cmocka_unit_test(test_foreign_audience_is_rejected),
        cmocka_unit_test(test_missing_exp_or_identity_claims_are_rejected),
        cmocka_unit_test(test_garbage_and_oversize_tokens_are_rejected),
        cmocka_unit_test(test_token_of_previous_key_verifies_after_rotation_until_dropped),
        cmocka_unit_test(test_key_file_is_created_rotated_and_reloaded),
        cmocka_unit_test(test_jwks_coordinates_are_padded_and_kid_is_the_rfc7638_thumbprint),
        cmocka_unit_test(test_cache_serves_a_token_only_until_it_expires),
        cmocka_unit_test(test_revocation_set_adds_finds_and_expires),
        cmocka_unit_test(test_edge_auth_accepts_our_jwt_and_refuses_revoked_or_foreign_ones),
        cmocka_unit_test(test_verify_cost_per_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
