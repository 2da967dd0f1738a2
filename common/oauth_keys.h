/*
 * oauth_keys — the ES256 keys that sign and verify OAuth access tokens.
 *
 * The signing key is a PKCS#8 PEM P-256 private key in SIGNING_KEY_FILE; the
 * key it replaced (after `3min keys rotate`) is in "<file>.previous", so
 * tokens signed before a rotation keep verifying until they expire. Both are
 * parsed once and kept in memory: parsing PEM costs ~0.6 ms, an ES256
 * verification with a parsed key ~50 µs, and verification runs on every MCP
 * request. Each key's `kid` is its RFC 7638 JWK thumbprint, so every edge
 * replica derives the same kid from the same file without coordination.
 *
 * The set is replaced only as a whole: a reload that fails (missing file, bad
 * PEM, wrong curve) keeps the keys in use and says why.
 *
 * Not thread-safe: used from the edge's loop thread (and by `3min keys`).
 */
#ifndef TM_OAUTH_KEYS_H
#define TM_OAUTH_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/evp.h>

#define OAUTH_KID_LEN 43            /* base64url of a SHA-256 thumbprint */
#define OAUTH_KEY_FILE_MAX (16u << 10)

struct oauth_keys;

/* Loads the key in path (and path.previous if present). If the file does not
 * exist and create is true, first generates a new key there (mode 0600;
 * never replaces a file another process created meanwhile). Returns NULL
 * with the reason in err on failure. */
struct oauth_keys *oauth_keys_open(const char *path, bool create, char *err, size_t errcap);

/* Builds a key set from PEM text in memory (tests); previous_pem may be NULL. */
struct oauth_keys *oauth_keys_from_pem(const char *current_pem, const char *previous_pem, char *err, size_t errcap);

void oauth_keys_free(struct oauth_keys *k);

/* Reads the files again (SIGHUP). Returns 0 if the new keys are in use;
 * -1 if not, with the old keys kept and the reason logged. */
int oauth_keys_reload(struct oauth_keys *k);

/* The current signing key: its kid and its private key as PEM (what libjwt
 * takes). */
const char *oauth_keys_current_kid(const struct oauth_keys *k);
const char *oauth_keys_signing_pem(const struct oauth_keys *k, size_t *len);

/* The parsed public key whose kid matches (current or previous), or NULL.
 * The pointer stays valid until the next successful reload. */
EVP_PKEY *oauth_keys_find(const struct oauth_keys *k, const char *kid);

/* {"keys":[current, previous?]}, compact JSON, for /.well-known/jwks.json.
 * Valid until the next successful reload. */
const char *oauth_keys_jwks(const struct oauth_keys *k, size_t *len);

/* Bumped on every successful reload, so holders of derived state (the
 * verified-token cache) can tell that the trusted keys changed. */
unsigned oauth_keys_generation(const struct oauth_keys *k);

/* ---- key files, shared with `3min keys` ---- */

/* A new P-256 private key as PKCS#8 PEM (malloc'd), or NULL. */
char *oauth_key_generate_pem(size_t *len);

/* The RFC 7638 thumbprint of a P-256 key (public or private) into
 * kid[OAUTH_KID_LEN + 1]; the JWK members x and y (base64url of the 32-byte
 * left-padded coordinates) into x and y if not NULL. Returns 0 or -1 if the
 * key is not an EC P-256 key. */
int oauth_key_thumbprint(EVP_PKEY *pk, char kid[OAUTH_KID_LEN + 1], char x[44], char y[44]);

/* Parses PEM text as a P-256 private key; NULL with the reason in err. */
EVP_PKEY *oauth_key_parse_pem(const char *pem, size_t len, char *err, size_t errcap);

/* Writes data to path atomically (a temporary file beside it, mode 0600,
 * fsync, then rename). With exclusive, fails with EEXIST instead of
 * replacing an existing file. Returns 0 or -1 with errno set. */
int oauth_key_write_file(const char *path, const char *data, size_t len, bool exclusive);

/* Reads at most OAUTH_KEY_FILE_MAX bytes of a file (malloc'd,
 * NUL-terminated), or NULL with errno set. */
char *oauth_key_read_file(const char *path, size_t *len);

/* `3min keys rotate`: copies the current key to path.previous and writes a
 * new key to path, each atomically. `3min keys init` (init_only): creates
 * the key only if path does not exist. kid of the key now in path goes to
 * kid_out; *created says whether a key was written. Returns 0 or -1 with the
 * reason in err. */
int oauth_key_rotate(const char *path, bool init_only, bool *created, char kid_out[OAUTH_KID_LEN + 1], char *err,
                     size_t errcap);

#endif
