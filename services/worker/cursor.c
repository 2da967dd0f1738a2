/*
 * cursor — keyset cursors of the worker's paged lists. See cursor.h.
 */
#include "services/worker/cursor.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

char *cursor_encode(const char *micros, const char *id)
{
    char *raw = xasprintf("%s:%s", micros, id);
    char *enc = b64url_encode(raw, strlen(raw));
    free(raw);
    return enc;
}

bool cursor_decode(const char *cursor, char micros[24], char id[CURSOR_ID_MAX + 1])
{
    char buf[96];
    size_t clen = cursor ? strlen(cursor) : 0;
    /* 120 characters decode to 90 bytes, more than the longest valid text (20 + 1 + 47). */
    if (clen == 0 || clen > 120)
        return false;
    long n = b64url_decode(cursor, clen, buf, sizeof buf - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    if (strlen(buf) != (size_t)n)
        return false;   /* embedded NUL */
    char *colon = strchr(buf, ':');
    if (!colon || colon == buf || colon - buf > 20)
        return false;
    *colon = '\0';
    for (const char *d = buf; *d; d++)
        if (!isdigit((unsigned char)*d))
            return false;
    const char *rest = colon + 1;
    size_t idlen = strlen(rest);
    long long v;
    if (!parse_int(buf, 0, CURSOR_MICROS_MAX, &v) || idlen == 0 || idlen > CURSOR_ID_MAX)
        return false;
    snprintf(micros, 24, "%lld", v);
    memcpy(id, rest, idlen + 1);
    return true;
}
