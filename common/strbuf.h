/*
 * strbuf — a growable byte buffer for building replies as text: append
 * bytes, formatted text, or a JSON string literal (quoted and escaped).
 * Used where rendering through jansson would parse and re-serialise large
 * JSON that is already text (the worker's tool results at the edge).
 * Ownership: the buffer owns `data`; sb_free releases it, sb_take hands it over.
 */
#ifndef TM_STRBUF_H
#define TM_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *data;
    size_t len, cap;
};

void sb_init(struct strbuf *b, size_t hint);
void sb_free(struct strbuf *b);
void sb_append(struct strbuf *b, const void *data, size_t n);
void sb_append_str(struct strbuf *b, const char *s);
/* Appends "..." with JSON escaping of s[0..n) (UTF-8 passes through as is;
 * quote, backslash and control characters are escaped). */
void sb_append_json_string(struct strbuf *b, const char *s, size_t n);
/* Returns the NUL-terminated data and leaves b empty; the caller frees it. */
char *sb_take(struct strbuf *b, size_t *len);

#endif
