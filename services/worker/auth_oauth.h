/*
 * auth_oauth — the worker side of OAuth 2.1 and of the sign-in page
 * (docs/OAUTH.md, "Worker operations"): clients, sign-in with lockout,
 * sessions, codes, grants, refresh-token families, revocation.
 *
 * These run under op `auth` with principal `anon`, through run_auth in
 * dispatch.c: outside a transaction, so each handler opens and ends its own
 * when it needs one (auth_tx below). Failures that the edge renders as
 * RFC 6749 errors carry details {"oauth_error": "..."}.
 *
 * Secrets (client secrets, session tokens, codes, refresh tokens) are 32
 * random bytes in base64url, returned once and stored as SHA-256; they are
 * found by hash lookup, so no stored secret is ever compared byte by byte.
 */
#ifndef TM_AUTH_OAUTH_H
#define TM_AUTH_OAUTH_H

#include <stdbool.h>
#include <stdint.h>
#include "services/worker/tool.h"

/* A bytea parameter in text form: "\x" + 64 hex digits. */
#define AUTH_HASH_PARAM_LEN (2 + 64 + 1)

/* New secret (malloc'd base64url string) and its bytea hash parameter. */
char *auth_secret_new(char hash_param[AUTH_HASH_PARAM_LEN]);
/* Hash parameter of a presented secret; false if it cannot be one of ours
 * (absent, empty or longer than 100 bytes), so it is not looked up at all. */
bool auth_secret_param(const char *secret, char hash_param[AUTH_HASH_PARAM_LEN]);

/* Transactions of auth handlers: begin returns TM_OK or the failure (already
 * recorded with tool_fail); end commits when commit is true (success, or a
 * failure whose writes must stay, like revoking a family on token reuse)
 * and rolls back otherwise. end returns code unchanged, or the failure of
 * COMMIT. */
enum tm_error auth_tx_begin(struct tool_ctx *ctx);
enum tm_error auth_tx_end(struct tool_ctx *ctx, enum tm_error code, bool commit);

/* The live session for a presented session token: account id (37 bytes),
 * e-mail (malloc'd, optional) and CSRF secret (malloc'd, optional).
 * Returns TM_OK, TM_ERR_NOT_FOUND (recorded) or a database failure. */
enum tm_error auth_web_session_lookup(struct tool_ctx *ctx, const char *session, char account_id[37],
                                      char **email, char **csrf);

/* Counts a failed sign-in of account_id (a wrong password at sign-in, or
 * given again for a dashboard action): failures older than 15 minutes are
 * pruned, and at the tenth within 15 minutes the account's sign-in is locked
 * for 15 minutes and its count starts again; *locked says whether it was.
 * Runs in the caller's transaction, if any. False on a database failure
 * (recorded on ctx). */
bool auth_login_failure(struct tool_ctx *ctx, const char *account_id, bool *locked);

enum tm_error auth_oauth_register_client(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_oauth_get_client(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_oauth_create_code(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_oauth_redeem_code(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_oauth_refresh(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_oauth_revoke(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_oauth_revocations(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_web_login(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_web_session(struct tool_ctx *ctx, const json_t *args, json_t **result);

#endif
