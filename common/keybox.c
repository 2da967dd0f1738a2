/*
 * keybox — the server key file and secretbox encryption of stored secrets,
 * and the generation of gateway keys and webhook secrets. See keybox.h.
 */
#include "common/keybox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/oauth_keys.h"
#include "common/util.h"

void keybox_path(const char *state_dir, char *out, size_t cap)
{
    const char *env = getenv("KEYS_SECRET_FILE");
    if (env && *env)
        snprintf(out, cap, "%s", env);
    else
        snprintf(out, cap, "%s/keys-secret", state_dir && *state_dir ? state_dir : ".run");
}

static int parse_key(struct keybox *kb, const char *text, size_t len)
{
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    uint8_t raw[KEYBOX_KEY_LEN + 1];
    long n = b64url_decode(text, len, raw, sizeof raw);
    if (n != KEYBOX_KEY_LEN)
        return -1;
    memcpy(kb->key, raw, KEYBOX_KEY_LEN);
    sodium_memzero(raw, sizeof raw);
    return 0;
}

int keybox_load(struct keybox *kb, const char *path, bool create, char *err, size_t errcap)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t len = 0;
        char *text = oauth_key_read_file(path, &len);
        if (text) {
            int rc = parse_key(kb, text, len);
            sodium_memzero(text, len);
            free(text);
            if (rc != 0)
                snprintf(err, errcap, "%s does not hold a key (43 base64url characters)", path);
            return rc;
        }
        if (errno != ENOENT || !create || attempt > 0) {
            snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
            return -1;
        }
        uint8_t raw[KEYBOX_KEY_LEN];
        random_bytes(raw, sizeof raw);
        char *enc = b64url_encode(raw, sizeof raw);
        char *line = xasprintf("%s\n", enc);
        /* Exclusive: a second process starting at the same moment reads the first one's key. */
        int rc = oauth_key_write_file(path, line, strlen(line), true);
        int e = errno;
        sodium_memzero(raw, sizeof raw);
        sodium_memzero(enc, strlen(enc));
        sodium_memzero(line, strlen(line));
        free(enc);
        free(line);
        if (rc != 0 && e != EEXIST) {
            snprintf(err, errcap, "cannot create %s: %s", path, strerror(e));
            return -1;
        }
    }
    snprintf(err, errcap, "cannot load %s", path);
    return -1;
}

void keybox_from_bytes(struct keybox *kb, const uint8_t key[KEYBOX_KEY_LEN])
{
    memcpy(kb->key, key, KEYBOX_KEY_LEN);
}

uint8_t *keybox_seal(const struct keybox *kb, const void *plain, size_t n, size_t *out_len)
{
    uint8_t *box = xmalloc(n + KEYBOX_OVERHEAD);
    random_bytes(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, plain, n, box, kb->key);
    *out_len = n + KEYBOX_OVERHEAD;
    return box;
}

char *keybox_open(const struct keybox *kb, const uint8_t *box, size_t n)
{
    if (n < KEYBOX_OVERHEAD)
        return NULL;
    size_t plen = n - KEYBOX_OVERHEAD;
    char *out = xmalloc(plen + 1);
    if (crypto_secretbox_open_easy((unsigned char *)out, box + crypto_secretbox_NONCEBYTES,
                                   n - crypto_secretbox_NONCEBYTES, box, kb->key) != 0) {
        free(out);
        return NULL;
    }
    out[plen] = '\0';
    if (strlen(out) != plen) {   /* a secret is text: an embedded NUL is not one of ours */
        free(out);
        return NULL;
    }
    return out;
}

char *keybox_bytea_hex(const uint8_t *box, size_t n)
{
    char *out = xmalloc(2 * n + 3);
    out[0] = '\\';
    out[1] = 'x';
    hex_encode(box, n, out + 2);
    return out;
}

uint8_t *keybox_bytea_parse(const char *text, size_t *out_len)
{
    size_t len = strlen(text);
    if (len < 2 || text[0] != '\\' || text[1] != 'x' || (len - 2) % 2)
        return NULL;
    size_t n = (len - 2) / 2;
    uint8_t *out = xmalloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(text[2 + 2 * i]), lo = hex_value(text[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = n;
    return out;
}

static void random_token(const char *prefix, char *out, size_t cap)
{
    uint8_t raw[32];
    random_bytes(raw, sizeof raw);
    char *enc = b64url_encode(raw, sizeof raw);
    snprintf(out, cap, "%s%s", prefix, enc);
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(enc, strlen(enc));
    free(enc);
}

void gateway_key_generate(bool production, char out[GATEWAY_KEY_LEN + 1])
{
    random_token(production ? "tm_live_" : "tm_test_", out, GATEWAY_KEY_LEN + 1);
}

void webhook_secret_generate(char out[WEBHOOK_SECRET_LEN + 1])
{
    random_token("whsec_", out, WEBHOOK_SECRET_LEN + 1);
}

void gateway_key_mask(const char *prefix, const char *last4, char *out, size_t cap)
{
    snprintf(out, cap, "%s\xe2\x80\xa6%s", prefix, last4);   /* U+2026 HORIZONTAL ELLIPSIS */
}
