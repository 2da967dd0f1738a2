/*
 * log — timestamped lines on stderr. One write() per line so lines from
 * several threads and processes sharing a terminal do not interleave.
 * Text by default (people read it); LOG_FORMAT=json for log collectors.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "common/utf8.h"

#define LINE_MAX_BYTES 2048

static char log_name[64] = "3min";
static enum log_level log_threshold = LOG_INFO;
static int log_json;
static _Thread_local char request_id[LOG_REQUEST_ID_LEN + 1];

void log_init(const char *name)
{
    snprintf(log_name, sizeof log_name, "%s", name);
    const char *fmt = getenv("LOG_FORMAT");
    log_json = fmt && !strcasecmp(fmt, "json");
    const char *lvl = getenv("LOG_LEVEL");
    if (!lvl)
        return;
    if (!strcasecmp(lvl, "debug"))
        log_threshold = LOG_DEBUG;
    else if (!strcasecmp(lvl, "warn"))
        log_threshold = LOG_WARN;
    else if (!strcasecmp(lvl, "error"))
        log_threshold = LOG_ERROR;
}

int log_is_json(void)
{
    return log_json;
}

void log_set_request_id(const uint8_t *id)
{
    static const char hex[] = "0123456789abcdef";
    if (!id) {
        request_id[0] = '\0';
        return;
    }
    for (int i = 0; i < LOG_REQUEST_ID_BYTES; i++) {
        request_id[2 * i] = hex[id[i] >> 4];
        request_id[2 * i + 1] = hex[id[i] & 15];
    }
    request_id[LOG_REQUEST_ID_LEN] = '\0';
}

const char *log_request_id(void)
{
    return request_id;
}

/* Appends s as the body of a JSON string (no quotes) to out[*n..cap-1];
 * stops, whole characters only, when out is full. */
static void json_escape(char *out, size_t cap, size_t *n, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t left = strlen(s);
    while (left) {
        unsigned char c = (unsigned char)*s;
        char esc[7];
        size_t k = 0, used = 1;
        if (c >= 0x80) {
            /* Whole UTF-8 sequences pass; a stray byte becomes U+FFFD so the line stays JSON. */
            used = utf8_seq_len((const unsigned char *)s, left);
            if (used) {
                memcpy(esc, s, used);
                k = used;
            } else {
                memcpy(esc, "\xef\xbf\xbd", 3);
                k = 3;
                used = 1;
            }
        } else if (c == '"' || c == '\\') {
            esc[k++] = '\\';
            esc[k++] = (char)c;
        } else if (c == '\n') {
            esc[k++] = '\\';
            esc[k++] = 'n';
        } else if (c == '\t') {
            esc[k++] = '\\';
            esc[k++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        } else {
            esc[k++] = (char)c;
        }
        if (*n + k >= cap)
            return;
        memcpy(out + *n, esc, k);
        *n += k;
        s += used;
        left -= used;
    }
}

static void log_v(enum log_level lvl, const char *fmt, va_list ap)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    static const char *json_names[] = {"debug", "info", "warn", "error"};
    char line[LINE_MAX_BYTES];
    char ts_text[80];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(ts_text, sizeof ts_text, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    size_t len;
    if (log_json) {
        /* The message is formatted first, then escaped into the object. */
        char msg[LINE_MAX_BYTES];
        if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
            msg[0] = '\0';
        int n = snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"proc\":\"", ts_text,
                         json_names[lvl]);
        if (n < 0)
            return;
        len = (size_t)n;
        const size_t room = sizeof line - 4;   /* keeps space for "}\n */
        json_escape(line, room, &len, log_name);
        n = snprintf(line + len, room - len, "\",\"pid\":%ld", (long)getpid());
        len += n > 0 ? (size_t)n : 0;
        if (request_id[0] && len < room) {
            n = snprintf(line + len, room - len, ",\"request_id\":\"%s\"", request_id);
            len += n > 0 ? (size_t)n : 0;
        }
        if (len + 9 < room) {
            memcpy(line + len, ",\"msg\":\"", 8);
            len += 8;
            json_escape(line, room, &len, msg);
        }
        if (len > room)
            len = room;
        line[len++] = '"';
        line[len++] = '}';
    } else {
        int n = request_id[0] ? snprintf(line, sizeof line, "%s %-5s %s: rid=%s ", ts_text, names[lvl], log_name,
                                         request_id)
                              : snprintf(line, sizeof line, "%s %-5s %s: ", ts_text, names[lvl], log_name);
        if (n < 0)
            return;
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
        len = (size_t)n + (m < 0 ? 0 : (size_t)m);
        if (len > sizeof line - 2)
            len = sizeof line - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    if (lvl < log_threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_v(lvl, fmt, ap);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v(LOG_ERROR, fmt, ap);
    va_end(ap);
    exit(1);
}
