/*
 * utf8 — validation of UTF-8 text, one sequence at a time, and code point
 * counting. Shared by every place that cuts or checks text from outside
 * (gateway search text, log previews, schema and name length rules), so the
 * rules for what counts as a valid character live in one place.
 * Valid means RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF. NUL is a valid one-byte sequence here; callers that refuse it
 * say so (utf8_valid's allow_nul).
 */
#ifndef TM_UTF8_H
#define TM_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence at s, which has n >= 1 bytes
 * left, or 0 if the bytes there are not a valid sequence. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

/* Whether s[0..n) is valid UTF-8 throughout; a NUL byte counts as invalid
 * unless allow_nul. */
bool utf8_valid(const char *s, size_t n, bool allow_nul);

/* Code points in s[0..n): bytes that are not continuation bytes (10xxxxxx).
 * No validation: a stray byte counts as one. */
size_t utf8_count(const char *s, size_t n);

#endif
