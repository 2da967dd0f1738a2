/*
 * mail — notification e-mails (docs/GATEWAY.md "Outboxes"): each due row of
 * notifications is sent to its account's address through the SMTP relay
 * SMTP_URL, with retries and backoff on failure. The cool-down that keeps a
 * burst of failures to one message is applied when a notification is
 * queued (by the worker, or by webhook.c), through notify_cooldowns.
 *
 * The message text and the URL parsing are pure functions for unit tests.
 */
#ifndef TM_JOBS_MAIL_H
#define TM_JOBS_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/db.h"
#include "services/jobs/jobs.h"

#define MAIL_TIMEOUT_MS 30000
#define MAIL_MAX_ATTEMPTS 8
#define MAIL_LEASE_S 120

struct smtp_url {
    char host[256];
    char port[6];
    char user[256];       /* "" = no AUTH */
    char password[256];
};

/* Parses smtp://[user[:password]@]host[:port] (port 25 by default; user and
 * password may be percent-encoded; IPv6 in brackets). */
bool smtp_url_parse(const char *url, struct smtp_url *out, char *why, size_t cap);

/* The address inside a From value: "Name <a@b>" → "a@b", "a@b" → "a@b".
 * False if there is no plausible address. */
bool mail_address_of(const char *from, char *out, size_t cap);

/* True if s is an address we put in RCPT TO and To: printable ASCII without
 * spaces, <, >, quotes or backslashes, one @ with text on both sides, at
 * most 254 bytes. */
bool mail_address_ok(const char *s);

/* Seconds before retry n (1-based) of a failed e-mail: 30 s doubling, at
 * most one hour. */
int mail_backoff_s(int attempts);

/* Appends body to *out with CRLF line ends (a lone LF or CR becomes CRLF)
 * and SMTP dot-stuffing (a line starting with "." gets another one), ending
 * with CRLF. Returns the new text (malloc'd); the terminating "." line is
 * not included. */
char *mail_dot_stuff(const char *body);

/* An RFC 5322 header value: ASCII text as is, anything else as an RFC 2047
 * encoded-word (UTF-8, base64); CR and LF become spaces. malloc'd. */
char *mail_header_text(const char *s);

/* The whole DATA payload, headers and dot-stuffed body, each line CRLF,
 * without the final "." line. date_unix and msg_id_token make it
 * reproducible in tests. */
char *mail_build_message(const char *from, const char *to, const char *subject, const char *body,
                         int64_t date_unix, const char *msg_id_token);

/* Sends one message through the relay. False with why on any failure. */
bool smtp_send(const struct smtp_url *relay, const char *from, const char *to, const char *subject,
               const char *body, int timeout_ms, char *why, size_t cap);

/* Without a relay (make run, MAIL_DIR): writes the message (RFC 5322,
 * CRLF, not dot-stuffed) to <dir>/<id>.eml, mode 0600, through a temporary
 * file and rename so a reader never sees half a message. id must be
 * [A-Za-z0-9-]. False with why on any failure. */
bool mail_write_file(const char *dir, const char *id, const char *from, const char *to, const char *subject,
                     const char *body, char *why, size_t cap);

/* Claims one due notification, sends it through relay (or, when relay is
 * NULL, writes it into MAIL_DIR) and records the outcome. 1 if one was
 * handled, 0 if none was due, -1 on a database failure. */
int mail_run_one(struct db *db, const struct jobs_ctx *jc, const struct smtp_url *relay);

#endif
