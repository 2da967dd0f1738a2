/*
 * tool — the contract between the worker's dispatcher and one tool handler.
 *
 * The dispatcher (dispatch.c) decodes the envelope, checks the deadline and
 * the principal, opens a transaction, sets app.account_id for row-level
 * security, makes writes idempotent by request id, and then calls the
 * handler. A handler runs its queries on ctx->db inside that transaction and
 * either fills *result (a new JSON object: the tool's structuredContent) or
 * ctx->raw_result (the same as compact text) and returns TM_OK, or calls tool_fail() and returns its code. On failure the
 * transaction is rolled back, so a rejected call changes nothing.
 */
#ifndef TM_TOOL_H
#define TM_TOOL_H

#include <jansson.h>
#include "common/config.h"
#include "proto/envelope.h"
#include "proto/errors.h"
#include "services/worker/db.h"

struct tool_ctx {
    struct db *db;
    const struct config *cfg;
    const struct principal *who;
    const uint8_t *request_id;   /* ENV_ID_LEN bytes */
    /* set by tool_fail(): */
    enum tm_error code;
    char message[512];
    json_t *details;             /* optional, owned by ctx */
    /* A handler may answer with ready JSON text (a compact object, malloc'd,
     * taken over by the dispatcher) instead of *result, where building the
     * answer as jansson objects would cost more than the query (endpoints_list). */
    char *raw_result;
    /* Work outside the database (removing files) that must happen only once
     * the transaction has committed: the dispatcher calls after_commit after
     * a successful COMMIT and never otherwise (a failed handler, a failed
     * COMMIT, a replayed request); after_commit_free then releases the
     * argument either way. Set with tool_after_commit (dispatch.c). */
    void (*after_commit)(struct tool_ctx *ctx, void *arg);
    void (*after_commit_free)(void *arg);
    void *after_commit_arg;
};

typedef enum tm_error (*tool_fn)(struct tool_ctx *ctx, const json_t *args, json_t **result);

struct tool_handler {
    const char *name;
    tool_fn fn;
};

/* Records an error for the caller; returns code so handlers can `return tool_fail(...)`.
 * details (may be NULL) is taken over. */
enum tm_error tool_fail(struct tool_ctx *ctx, enum tm_error code, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A database failure: unavailable if the connection is gone, internal otherwise (logged, not leaked). */
enum tm_error tool_db_fail(struct tool_ctx *ctx, PGresult *res);

/* Registers fn(ctx, arg) to run after the transaction commits (see
 * after_commit above); free_fn (may be NULL) releases arg in any case. One
 * registration per call: a second replaces (and releases) the first. */
void tool_after_commit(struct tool_ctx *ctx, void (*fn)(struct tool_ctx *ctx, void *arg), void (*free_fn)(void *arg),
                       void *arg);
/* Runs the registered work if committed, then releases it (dispatch.c). */
void tool_after_commit_finish(struct tool_ctx *ctx, bool committed);

#endif
