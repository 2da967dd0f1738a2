/*
 * util — the small pieces every process uses: allocation that aborts on
 * out-of-memory (so callers never check), clocks, randomness, SHA-256,
 * base64url and hex, and constant-time comparison of secrets.
 */
#ifndef TM_UTIL_H
#define TM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define TM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Wipes a secret string (sodium_memzero: not optimised away) and frees it;
 * NULL is fine. For secrets and the texts that carry one. */
void secret_free(char *secret);
/* Formats into a new malloc'd string (printf rules). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall-clock milliseconds since the epoch, and a monotonic millisecond clock. */
int64_t now_ms(void);
int64_t mono_ms(void);

/* Cryptographically random bytes (libsodium; util_init() must have run). */
void util_init(void);
void random_bytes(void *buf, size_t n);

/* SHA-256 of n bytes into out[32]. */
void sha256(const void *data, size_t n, uint8_t out[32]);

/* Constant-time equality of two byte strings (length is not secret). */
bool ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* base64url without padding. b64url_encode returns a malloc'd NUL-terminated
 * string. b64url_decode writes at most cap bytes and returns the length, or
 * -1 if the input is not strictly valid base64url or does not fit. */
char *b64url_encode(const void *data, size_t n);
long b64url_decode(const char *s, size_t slen, void *out, size_t cap);

/* Lower-case hex: out must hold 2*n+1 bytes. */
void hex_encode(const void *data, size_t n, char *out);

/* The value of one hex digit (either case), or -1. */
int hex_value(char c);

/* True for a uuid in text form: 8-4-4-4-12 hex digits (either case); NULL is not. */
bool is_uuid(const char *s);

/* Parses a decimal integer in [min, max]; returns false on any junk. */
bool parse_int(const char *s, long long min, long long max, long long *out);

#endif
