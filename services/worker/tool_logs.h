/*
 * tool_logs — the gateway's MCP tools: logs_lookup, logs_search and stats
 * (tool_logs.c) and api_call (tool_api_call.c). Output shapes are in
 * proto/catalog.c; the choices (time zones, windows, cursors) in
 * docs/GATEWAY.md, "Tools".
 *
 * Also the pure pieces those tools rest on, unit-tested on their own:
 * parsing of from/to values, months and day counts, the logs_search cursor
 * and the payload preview.
 */
#ifndef TM_TOOL_LOGS_H
#define TM_TOOL_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "services/worker/tool.h"

#define LOGS_SEARCH_DEFAULT 20
#define LOGS_SEARCH_MAX 100
#define LOGS_WINDOW_DEFAULT_DAYS 7
#define LOGS_WINDOW_MAX_DAYS 93
#define LOGS_PREVIEW_CHARS 300
#define STATS_MAX_DAYS 366

enum tm_error tool_logs_lookup(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_logs_search(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_stats(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_api_call(struct tool_ctx *ctx, const json_t *args, json_t **result);

/* Finds the principal's endpoint by id, slug or name (case-insensitive),
 * like the endpoint tools do: fills id[40] and slug[80] (slug may be NULL).
 * Another account's endpoint is not_found, exactly like a missing one. */
enum tm_error logs_resolve_endpoint(struct tool_ctx *ctx, const char *ref, char id[40], char *slug);

/* ---- pure pieces (unit-tested) ---- */

enum logs_time_kind {
    LOGS_TIME_INVALID = 0,
    LOGS_TIME_DATE,      /* 2025-01-31: a whole day in the account's time zone */
    LOGS_TIME_LOCAL,     /* 2025-01-31T12:00[:00[.123]]: a wall-clock time in the account's time zone */
    LOGS_TIME_INSTANT,   /* the same with Z or ±HH:MM: an absolute instant */
};

/* Classifies an ISO 8601 date or date-time and writes a canonical form that
 * PostgreSQL parses (date: "YYYY-MM-DD"; otherwise "YYYY-MM-DD HH:MM:SS[.f]"
 * and, for an instant, "+HH:MM"). Calendar dates are checked (no 2025-02-30),
 * years 1970-9999. */
enum logs_time_kind logs_time_parse(const char *s, char *out, size_t cap);

/* "YYYY-MM" → the first day of that month and of the next ("YYYY-MM-DD"). */
bool logs_month_range(const char *month, char first[11], char next[11]);

/* Days from a to b (both "YYYY-MM-DD", valid dates): b - a. */
bool logs_days_between(const char *a, const char *b, long *days);

/* The logs_search cursor: base64url of "<created_at epoch µs>:<log uuid>". */
char *logs_cursor_encode(const char *micros, const char *log_id);
bool logs_cursor_decode(const char *cursor, char micros[24], char log_id[40]);

/* At most max_chars characters of the UTF-8 text s[0..n); when anything is
 * cut, the last of them is "…". Invalid bytes become '?'. malloc'd. */
char *logs_preview(const char *s, size_t n, size_t max_chars);

#endif
