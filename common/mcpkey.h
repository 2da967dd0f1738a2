/*
 * mcpkey — the material of an MCP API key, shared by `3min mcp-key create`
 * and the dashboard (Settings → AI Integration): "tm_mcp_" + base64url of 32
 * random bytes. The database keeps only SHA-256 of the whole key text (what
 * the edge computes from the Bearer header) and its first MCPKEY_PREFIX_LEN
 * characters, which are safe to show.
 */
#ifndef TM_MCPKEY_H
#define TM_MCPKEY_H

#include <stdbool.h>
#include <stdint.h>

#define MCPKEY_TAG "tm_mcp_"
#define MCPKEY_LEN (7 + 43)            /* the tag + base64url of 32 bytes */
#define MCPKEY_PREFIX_LEN 11           /* the tag + 4 characters */

struct mcpkey {
    char key[MCPKEY_LEN + 1];          /* the secret: shown once, then wiped */
    uint8_t hash[32];                  /* SHA-256 of key */
    char hash_hex[65];                 /* the same in lower-case hex */
    char prefix[MCPKEY_PREFIX_LEN + 1];
};

/* A new random key (util_init() must have run). */
void mcpkey_new(struct mcpkey *k);
/* Overwrites the secret (and everything else) with zeros. */
void mcpkey_wipe(struct mcpkey *k);
/* True if s has exactly the shape of a key. */
bool mcpkey_shape_ok(const char *s);
/* True if s has the shape of a stored prefix ("tm_mcp_" + 4 base64url characters). */
bool mcpkey_prefix_ok(const char *s);

#endif
