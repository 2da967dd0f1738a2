/*
 * tool_util — what every tool handler needs and used to write again: a
 * statement that must succeed, a non-empty string argument, and finding the
 * principal's endpoint from an `endpoint` argument (an id, a slug or a name,
 * case-insensitive; an id wins over a slug, a slug over a name). Another
 * account's endpoint is not_found, exactly like a missing one.
 */
#ifndef TM_TOOL_UTIL_H
#define TM_TOOL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "services/worker/tool.h"

/* Runs a statement that must succeed; on failure records the error on ctx
 * (tool_db_fail) and returns NULL. The caller PQclear()s a result. */
PGresult *tool_query(struct tool_ctx *ctx, const char *sql, int n, const char *const *p);

/* The string argument `name`, or NULL when absent, not a string or empty. */
const char *tool_arg_str(const json_t *args, const char *name);

/* Finds the principal's endpoint named by ref into id[40]; also its slug and
 * name when slug/name are not NULL (cap bytes each). lock takes the row FOR
 * UPDATE. Missing ref: invalid_argument; no such endpoint: not_found. */
enum tm_error tool_find_endpoint(struct tool_ctx *ctx, const char *ref, bool lock, char id[40], char *slug,
                                 size_t slug_cap, char *name, size_t name_cap);

#endif
