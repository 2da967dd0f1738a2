/*
 * mcpkey — MCP API key material (see mcpkey.h).
 */
#include "common/mcpkey.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/util.h"

static bool b64url_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

void mcpkey_new(struct mcpkey *k)
{
    uint8_t raw[32];
    random_bytes(raw, sizeof raw);
    char *enc = b64url_encode(raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    memcpy(k->key, MCPKEY_TAG, 7);
    memcpy(k->key + 7, enc, 43);
    k->key[MCPKEY_LEN] = '\0';
    sodium_memzero(enc, strlen(enc));
    free(enc);
    sha256(k->key, MCPKEY_LEN, k->hash);
    hex_encode(k->hash, sizeof k->hash, k->hash_hex);
    memcpy(k->prefix, k->key, MCPKEY_PREFIX_LEN);
    k->prefix[MCPKEY_PREFIX_LEN] = '\0';
}

void mcpkey_wipe(struct mcpkey *k)
{
    sodium_memzero(k, sizeof *k);
}

bool mcpkey_shape_ok(const char *s)
{
    return s && strlen(s) == MCPKEY_LEN && !strncmp(s, MCPKEY_TAG, 7) && b64url_chars(s + 7, 43);
}

bool mcpkey_prefix_ok(const char *s)
{
    return s && strlen(s) == MCPKEY_PREFIX_LEN && !strncmp(s, MCPKEY_TAG, 7) && b64url_chars(s + 7, 4);
}
