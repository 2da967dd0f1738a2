/*
 * keybox — secrets at rest: gateway keys and webhook secrets are stored
 * encrypted with one server key so that operators (`3min endpoint keys`),
 * the dashboard and bin/jobs (signing webhooks) can use them again, while a
 * database dump alone reveals nothing usable (docs/GATEWAY.md, "Secrets at
 * rest").
 *
 * The server key is 32 random bytes, written as 43 base64url characters and
 * a newline to KEYS_SECRET_FILE (default <STATE_DIR>/keys-secret, mode 0600).
 * Whoever starts first (worker, 3min) creates it; creation never replaces a
 * file another process wrote meanwhile. A box is libsodium secretbox
 * (XSalsa20-Poly1305): 24-byte random nonce || MAC || ciphertext.
 *
 * Also the shapes of gateway secrets: keys tm_test_/tm_live_ + 43 base64url
 * characters (32 random bytes), webhook secrets whsec_ + 43.
 */
#ifndef TM_KEYBOX_H
#define TM_KEYBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYBOX_KEY_LEN 32
#define KEYBOX_OVERHEAD 40          /* nonce 24 + MAC 16 */
#define GATEWAY_KEY_LEN 51          /* "tm_test_" + 43 */
#define WEBHOOK_SECRET_LEN 49       /* "whsec_" + 43 */

struct keybox {
    uint8_t key[KEYBOX_KEY_LEN];
};

/* The key file's path: KEYS_SECRET_FILE, else <state_dir>/keys-secret. */
void keybox_path(const char *state_dir, char *out, size_t cap);

/* Loads the key from path; when the file does not exist and create is true,
 * generates it first. Returns 0, or -1 with the reason in err. */
int keybox_load(struct keybox *kb, const char *path, bool create, char *err, size_t errcap);

/* Builds a keybox from raw key bytes (tests). */
void keybox_from_bytes(struct keybox *kb, const uint8_t key[KEYBOX_KEY_LEN]);

/* Encrypts n bytes; returns a malloc'd box of n + KEYBOX_OVERHEAD bytes. */
uint8_t *keybox_seal(const struct keybox *kb, const void *plain, size_t n, size_t *out_len);

/* Decrypts a box into a malloc'd NUL-terminated string (the secrets are text);
 * NULL if the box was not made with this key or was altered. */
char *keybox_open(const struct keybox *kb, const uint8_t *box, size_t n);

/* A box as the text form of a bytea parameter ("\x" + hex), malloc'd. */
char *keybox_bytea_hex(const uint8_t *box, size_t n);

/* Parses bytea text output ("\x" + hex) into a malloc'd buffer; NULL if malformed. */
uint8_t *keybox_bytea_parse(const char *text, size_t *out_len);

/* A new gateway key, "tm_test_…" (sandbox) or "tm_live_…" (production),
 * into out[GATEWAY_KEY_LEN + 1]. */
void gateway_key_generate(bool production, char out[GATEWAY_KEY_LEN + 1]);

/* A new webhook signing secret "whsec_…" into out[WEBHOOK_SECRET_LEN + 1]. */
void webhook_secret_generate(char out[WEBHOOK_SECRET_LEN + 1]);

/* "tm_live_…abcd": the prefix and the last four characters of a key. */
void gateway_key_mask(const char *prefix, const char *last4, char *out, size_t cap);

#endif
