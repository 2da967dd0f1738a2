/*
 * cursor — the keyset cursors of the worker's paged lists (endpoints_list,
 * logs_search, the gateway's record lists): base64url of
 * "<created_at epoch microseconds>:<id>" of the last item of a page. The
 * next page asks for rows strictly before that (created_at, id) pair.
 * A cursor comes back from the caller, so decoding is strict: canonical
 * base64url, no embedded NUL, decimal digits only for the time, within
 * 0..CURSOR_MICROS_MAX, and a non-empty id that fits CURSOR_ID_MAX. What an
 * id must look like (uuid, rec_ id) is the caller's rule, checked on top.
 */
#ifndef TM_WORKER_CURSOR_H
#define TM_WORKER_CURSOR_H

#include <stdbool.h>

#define CURSOR_ID_MAX 47                               /* bytes of the id part */
#define CURSOR_MICROS_MAX 4000000000000000000LL        /* year ~128,700: any real timestamp */

/* micros is the decimal text of the time as PostgreSQL returns it. malloc'd. */
char *cursor_encode(const char *micros, const char *id);

/* Splits a cursor into its canonical decimal time and its id. False (outputs
 * untouched) for anything cursor_encode would not have produced from a valid
 * time; NULL is false. */
bool cursor_decode(const char *cursor, char micros[24], char id[CURSOR_ID_MAX + 1]);

#endif
