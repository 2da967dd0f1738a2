/*
 * archive_link — signing and checking archive download links (see the header).
 */
#include "common/archive_link.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char KDF_CONTEXT[] = "3min archive download links v1";

static void link_mac(const struct keybox *kb, const char *id, const char *format, long long expires,
                     uint8_t mac[crypto_auth_hmacsha256_BYTES])
{
    uint8_t key[32];
    /* A key of its own, HMAC(server key, context): a MAC under the keybox key never doubles as anything else. */
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, kb->key, KEYBOX_KEY_LEN);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)KDF_CONTEXT, sizeof KDF_CONTEXT - 1);
    crypto_auth_hmacsha256_final(&st, key);
    char msg[256];
    int n = snprintf(msg, sizeof msg, "%s\n%s\n%lld", id, format, expires);
    if (n < 0 || (size_t)n >= sizeof msg)
        n = 0;   /* callers pass bounded values; an oversized one signs the empty message and never verifies */
    crypto_auth_hmacsha256(mac, (const uint8_t *)msg, (size_t)n, key);
    sodium_memzero(key, sizeof key);
}

void archive_link_sign(const struct keybox *kb, const char *id, const char *format, long long expires,
                       char sig[ARCHIVE_LINK_SIG_LEN + 1])
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    link_mac(kb, id, format, expires, mac);
    sodium_bin2hex(sig, ARCHIVE_LINK_SIG_LEN + 1, mac, sizeof mac);
}

bool archive_link_verify(const struct keybox *kb, const char *id, const char *format, long long expires,
                         const char *sig, long long now)
{
    if (!id || !format || !sig || strlen(sig) != ARCHIVE_LINK_SIG_LEN || strlen(id) > 64 || strlen(format) > 16)
        return false;
    char want[ARCHIVE_LINK_SIG_LEN + 1];
    archive_link_sign(kb, id, format, expires, want);
    bool ok = sodium_memcmp(want, sig, ARCHIVE_LINK_SIG_LEN) == 0;
    return ok && expires > now && expires <= now + ARCHIVE_LINK_MAX_TTL_S + 60;
}

const char *archive_format_suffix(const char *format)
{
    if (format && !strcmp(format, "jsonl"))
        return ".jsonl.gz";
    if (format && !strcmp(format, "csv"))
        return ".csv";
    return NULL;
}
