/*
 * archive — the retention pass of bin/jobs (DOMAIN.md §2 "Retention →
 * archives"): production call logs older than RETENTION_DAYS become one
 * gzipped JSONL file and one CSV file per endpoint and UTC day under
 * ARCHIVE_DIR; sandbox call logs and records older than that are deleted.
 */
#ifndef TM_JOBS_ARCHIVE_H
#define TM_JOBS_ARCHIVE_H

#include <stdatomic.h>
#include "common/config.h"
#include "common/db.h"

/* Runs one pass. now_iso (NULL: the database's now()) is the moment the
 * retention is counted from (`bin/jobs --once archive --now …`). Stops
 * between days when *stop turns true. Returns the number of archives
 * written, or -1 on a failure (logged; a rerun picks up where it stopped). */
int archive_pass(struct db *db, const struct config *cfg, const char *now_iso, const atomic_bool *stop);

#endif
