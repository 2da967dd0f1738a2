/*
 * dispatch — turns one request message from the edge into one response
 * message: decode, refuse work past its deadline, route by op and name,
 * check the principal again (defense in depth behind the edge), run the
 * handler inside a transaction with app.account_id set for row-level
 * security, make writes idempotent by request id, and encode the answer.
 *
 * The handler table lives here; every tool of the catalog must have a row
 * (main checks this at start with dispatch_handler()).
 */
#ifndef TM_DISPATCH_H
#define TM_DISPATCH_H

#include <stddef.h>
#include <stdint.h>
#include "common/config.h"
#include "services/worker/db.h"
#include "services/worker/tool.h"

/* Handles one request (untrusted bytes). Always produces a response in a new
 * malloc'd buffer (*out, *out_len) that the caller frees; a request that does
 * not decode gets an invalid_argument answer with a zero id. */
void dispatch_message(struct db *db, const struct config *cfg, const uint8_t *msg, size_t len,
                      uint8_t **out, size_t *out_len);

/* The handler of a catalog tool, or NULL. */
tool_fn dispatch_handler(const char *tool_name);

/* Handlers (one file per family). tool_db_fail() takes over the PGresult. */
enum tm_error auth_resolve_mcp_key(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_help(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_endpoints_list(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_endpoints_get(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_endpoints_create(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_endpoints_update(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_endpoints_deploy(struct tool_ctx *ctx, const json_t *args, json_t **result);

#endif
