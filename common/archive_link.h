/*
 * archive_link — signed download links of daily archives (archives_download
 * issues them in a worker, the edge checks them in /archives/{id}/download).
 *
 * The signature is HMAC-SHA256 over "<id>\n<format>\n<expires>" with the
 * key HMAC-SHA256(keybox server key, "3min archive download links v1"): the
 * edge and the workers share it through KEYS_SECRET_FILE without one more
 * secret file. A link never outlives its
 * expires (unix seconds) and cannot be bent to another archive or format.
 */
#ifndef TM_ARCHIVE_LINK_H
#define TM_ARCHIVE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/keybox.h"

#define ARCHIVE_LINK_SIG_LEN 64      /* hex of 32 bytes */
#define ARCHIVE_LINK_MAX_TTL_S 900   /* links live at most 15 minutes */

/* The signature of (id, format, expires) as 64 hex characters into sig. */
void archive_link_sign(const struct keybox *kb, const char *id, const char *format, long long expires,
                       char sig[ARCHIVE_LINK_SIG_LEN + 1]);

/* true when sig is the signature of (id, format, expires) (constant time)
 * and now < expires <= now + ARCHIVE_LINK_MAX_TTL_S (+ a minute of clock skew). */
bool archive_link_verify(const struct keybox *kb, const char *id, const char *format, long long expires,
                         const char *sig, long long now);

/* "jsonl" or "csv" → the file suffix (".jsonl.gz" / ".csv"); NULL for anything else. */
const char *archive_format_suffix(const char *format);

#endif
