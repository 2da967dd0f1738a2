/*
 * log — one line per event on stderr: time, level, process name, message.
 * Secrets never go through here (callers mask keys before logging).
 */
#ifndef TM_LOG_H
#define TM_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* name: the process name printed on each line ("edge", "worker 12345").
 * LOG_LEVEL (debug|info|warn|error) in the environment sets the threshold. */
void log_init(const char *name);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Logs and exits(1): for the impossible and for bad start-up configuration. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
