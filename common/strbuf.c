/*
 * strbuf — growable text buffer. See strbuf.h.
 */
#include "common/strbuf.h"

#include <stdlib.h>
#include <string.h>
#include "common/util.h"

void sb_init(struct strbuf *b, size_t hint)
{
    b->cap = hint ? hint : 64;
    b->data = xmalloc(b->cap);
    b->len = 0;
}

void sb_free(struct strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void reserve(struct strbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void sb_append(struct strbuf *b, const void *data, size_t n)
{
    reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

void sb_append_str(struct strbuf *b, const char *s)
{
    sb_append(b, s, strlen(s));
}

void sb_append_json_string(struct strbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    reserve(b, n + 2);
    b->data[b->len++] = '"';
    size_t run = 0;   /* bytes copied as they are, flushed in one memcpy */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        sb_append(b, s + i - run, run);
        run = 0;
        char esc[6] = {'\\', 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        sb_append(b, esc, elen);
    }
    sb_append(b, s + n - run, run);
    sb_append(b, "\"", 1);
}

char *sb_take(struct strbuf *b, size_t *len)
{
    reserve(b, 0);
    b->data[b->len] = '\0';
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
