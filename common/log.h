/*
 * log — one line per event on stderr: time, level, process name, message.
 * Secrets never go through here (callers mask keys before logging).
 *
 * LOG_FORMAT=json writes each line as one JSON object instead of text
 * (docs/OBSERVABILITY.md): {"ts","level","proc","pid","request_id","msg"}.
 * The request id is per thread: the edge sets it while it handles a request,
 * a worker thread while it runs one, so every line about a request names it.
 */
#ifndef TM_LOG_H
#define TM_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

#define LOG_REQUEST_ID_BYTES 8                       /* the request id: 8 bytes, 16 hex digits */
#define LOG_REQUEST_ID_LEN (2 * LOG_REQUEST_ID_BYTES)

/* name: the process name printed on each line ("edge", "worker 12345").
 * LOG_LEVEL (debug|info|warn|error) in the environment sets the threshold,
 * LOG_FORMAT (text|json) the format. */
void log_init(const char *name);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's current request id: the first LOG_REQUEST_ID_BYTES
 * of id, or none when id is NULL. */
void log_set_request_id(const uint8_t *id);
/* The current id as 16 hex digits, or "" when none. */
const char *log_request_id(void);
/* Whether LOG_FORMAT=json. */
int log_is_json(void);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Logs and exits(1): for the impossible and for bad start-up configuration. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
