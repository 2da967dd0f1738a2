/*
 * gateway — the worker side of the public gateway (docs/GATEWAY.md): the
 * pipeline of DOMAIN.md §3 from key resolution to the record write, the call
 * log, usage, daily statistics, the webhook outbox and failure
 * notifications, all in the caller's transaction. The HTTP gateway reaches it
 * as op `gateway`, name `gateway.call` (gateway_handle); the api_call tool
 * calls gateway_run in-process as the owner.
 *
 * Also the pure pieces (record ids, body clipping, search text, cursors) and
 * the worker's keybox (encrypted keys and webhook secrets).
 */
#ifndef TM_GATEWAY_H
#define TM_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/keybox.h"
#include "services/worker/tool.h"

#define GW_BODY_LOG_MAX 16384        /* bytes of a request/response body kept in call_logs */
#define GW_SEARCH_TEXT_MAX 4096      /* bytes of text a record's search vector is built from */
#define GW_REQUEST_BODY_MAX 102400   /* 100 KB (the edge checks first; api_call relies on this) */
#define GW_LIST_DEFAULT 10
#define GW_LIST_MAX 30
#define GW_RECORD_ID_LEN 30          /* "rec_" + 26 */

struct gateway_call {            /* inputs */
    const char *method;          /* GET POST PUT DELETE */
    const char *slug;            /* HTTP path; api_call: NULL (endpoint_id instead) */
    const char *endpoint_id;     /* api_call: the endpoint (owner already checked) */
    const char *record_id;       /* or NULL */
    const char *key_hash_hex;    /* HTTP: the bearer key's hash; api_call: NULL */
    const char *environment;     /* "sandbox" | "production" */
    const json_t *query;         /* q, from, to, cursor, limit (may be NULL) */
    bool search;                 /* GET /{slug}/search */
    const char *body; size_t body_len;   /* request body text or NULL */
    const json_t *reject;        /* an early edge rejection to log and answer, or NULL */
    bool throttled;
    const char *ip;
    const json_t *webhook;       /* per-request override {url, auth, auth_header} or NULL */
    const char *caller_account;  /* api_call: the principal's account; HTTP: NULL */
    const uint8_t *request_id;   /* HTTP: the envelope id (idempotency, applied_requests);
                                    api_call: NULL, the tool's own request id covers it */
};

/* Runs the pipeline in the caller's open transaction; fills *status, *headers (object)
 * and *body (object). Returns TM_OK, or unavailable/internal on a database failure
 * (then the caller rolls back). log_id is the call log's id, "" if not logged. */
enum tm_error gateway_run(struct tool_ctx *ctx, const struct gateway_call *in, int *status, json_t **headers,
                          json_t **body, char log_id[40]);

/* Op gateway, name gateway.call: parses args, runs gateway_run in its own
 * transaction (idempotent by request id) and returns the result
 * {"status","headers","body","log_id"} as compact JSON text (*out, malloc'd).
 * On failure returns the code with ctx's message set. */
enum tm_error gateway_handle(struct tool_ctx *ctx, const json_t *args, char **out);

/* The worker's server key for secrets at rest, loaded (and created if
 * missing) on first use; NULL if the key file cannot be read or made. */
const struct keybox *gateway_keybox(const struct config *cfg);

/* ---- pure pieces (unit-tested) ---- */

/* "rec_" + 10 Crockford base32 characters of ms + 16 of the 10 random bytes. */
void gateway_record_id(int64_t ms, const uint8_t rnd[10], char out[GW_RECORD_ID_LEN + 1]);

/* At most max bytes of s[0..n) as valid UTF-8 text without NUL (invalid bytes
 * and NUL become '?'), cut at a character boundary; *truncated tells whether
 * anything was left out. Returns a malloc'd string. */
char *gateway_clip_text(const char *s, size_t n, size_t max, bool *truncated);

/* The text a record's search vector is made of: the string values of the
 * fields marked searchable, or of every top-level string when none is, joined
 * by spaces, at most GW_SEARCH_TEXT_MAX bytes. Returns a malloc'd string. */
char *gateway_search_text(const json_t *fields, const json_t *payload);

/* Record list cursors: base64url of "<created_at epoch µs>:<record id>". */
char *gateway_cursor_encode(const char *micros, const char *record_id);
bool gateway_cursor_decode(const char *cursor, char micros[24], char record_id[48]);

/* True for a record id of the shape this gateway issues: "rec_" and 1-40
 * lower-case letters or digits. */
bool gateway_is_record_id(const char *s);

#endif
