/*
 * web — the worker side of the web dashboard (docs/DASHBOARD.md, "Web
 * operations"): the handlers of op `web`, and what they share.
 *
 * Op `web` is the only way to the actions kept out of MCP (deleting,
 * revoking, plans, the account's own keys). The dispatcher (dispatch.c)
 * accepts it only with principal kind `web`, a non-empty account id and
 * args.session; inside the handler's transaction, right after app.account_id
 * is set, web_session_check() verifies that the session is live (not revoked,
 * not expired, account not deleted) and belongs to that account, else the
 * request is refused with permission_denied and nothing runs. An API key,
 * OAuth token, collaboration key or anonymous caller therefore never reaches
 * a web handler.
 *
 * A handler has the tool_fn signature of tool.h and runs like a tool: in one
 * transaction with row-level security for the account, idempotent by request
 * id unless read_only, rolled back on failure. Arguments come from the edge's
 * dashboard forms (services/edge/dash.h); args.session and args.ip are added
 * by the edge and are not for handlers to trust beyond what is said here.
 */
#ifndef TM_WEB_H
#define TM_WEB_H

#include <stdbool.h>
#include <jansson.h>
#include "services/worker/tool.h"

struct web_handler {
    const char *name;     /* e.g. "endpoints.list" */
    tool_fn fn;
    bool read_only;       /* true: no idempotency row, no writes */
};

/* The handler of web operation name, or NULL. */
const struct web_handler *web_handler_find(const char *name);

/* Inside the transaction, app.account_id already set: refuses (TM_ERR_PERMISSION_DENIED,
 * recorded) unless args.session is a live session of ctx->who->account_id.
 * Also records args.ip for web_audit. */
enum tm_error web_session_check(struct tool_ctx *ctx, const json_t *args);

/* After the dispatcher rolled a failed non-read-only web operation back to its
 * savepoint: records a wrong password given to web_require_password as a
 * failed sign-in (it must outlive the rollback). Returns false on a database
 * failure (recorded on ctx). */
bool web_after_rollback(struct tool_ctx *ctx);

/* Writes an audit row for the account in the current transaction.
 * target_type, target_id and details_json (a JSON object's text) may be NULL.
 * Returns TM_OK or the recorded failure. */
enum tm_error web_audit(struct tool_ctx *ctx, const char *action, const char *target_type, const char *target_id,
                        const char *details_json);
/* web_audit with the details as a JSON object, which it takes (NULL for none). */
enum tm_error web_audit_json(struct tool_ctx *ctx, const char *action, const char *target_type, const char *target_id,
                             json_t *details);

/* Arguments of the pages' actions, checked before the password or any query:
 * args.<name> as a UUID, else not_found with message (an id of the wrong
 * shape is as unknown as a missing one); args.environment, "sandbox" or
 * "production", else invalid_argument. NULL on failure (recorded). */
const char *web_uuid_arg(struct tool_ctx *ctx, const json_t *args, const char *name, const char *message);
const char *web_environment_arg(struct tool_ctx *ctx, const json_t *args);

/* For destructive actions: args.password must be the account's password
 * (argon2id). Wrong or missing -> permission_denied "wrong password", counted
 * like a failed sign-in (ten within 15 minutes lock the account's sign-in and
 * these checks for 15 minutes: rate_limited). Returns TM_OK or the failure.
 * Only from operations that are not read_only: the count is written after
 * the rollback to the savepoint, which read-only operations do not have. */
enum tm_error web_require_password(struct tool_ctx *ctx, const json_t *args);

/* Password hashing shared with sign-up and reset: argon2id with the
 * parameters of `3min account create`. hash has crypto_pwhash_STRBYTES (128)
 * bytes. False only when out of memory. */
bool web_password_hash(const char *password, char hash[128]);
/* Rules of a new password: valid UTF-8 of at least WEB_PASSWORD_MIN
 * characters (code points) and at most WEB_PASSWORD_MAX bytes. NULL if
 * acceptable, else why. */
const char *web_password_problem(const char *password);

#define WEB_PASSWORD_MIN 10
#define WEB_PASSWORD_MAX 1024

/* ---- handlers (web_ops.c and the page modules) ---- */
enum tm_error web_audit_list(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_session_logout(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_profile_password(struct tool_ctx *ctx, const json_t *args, json_t **result);

/* ---- AI integration: MCP API keys and connected apps (web_ai.c) ---- */
enum tm_error web_mcpkeys_list(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_mcpkeys_get(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_mcpkeys_create(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_mcpkeys_rename(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_mcpkeys_regenerate(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_mcpkeys_delete(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_apps_list(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_apps_get(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_apps_revoke(struct tool_ctx *ctx, const json_t *args, json_t **result);

/* ---- subscription (web_subscription.c) ---- */
enum tm_error web_subscription_get(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_subscription_change(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_subscription_cancel(struct tool_ctx *ctx, const json_t *args, json_t **result);

/* APIs (web_apis.c) */
enum tm_error web_endpoints_list(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_endpoint_detail(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_endpoint_reveal(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_endpoint_regenerate_key(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_endpoint_delete(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_endpoint_set_active(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_endpoint_clear_sandbox(struct tool_ctx *ctx, const json_t *args, json_t **result);

/* Secrets answered to the edge (web_apis.c): secret sealed with args.reply_key (32 bytes, base64url, derived by
 * the edge from the session token) into *out (base64url, to free), so no usable secret is stored with the
 * answer in applied_requests; and a stored keybox-sealed secret (bytea text) opened (NULL if it does not open,
 * recorded on ctx). */
enum tm_error web_seal_for_edge(struct tool_ctx *ctx, const json_t *args, const char *secret, char **out);
char *web_open_stored(struct tool_ctx *ctx, const char *bytea_text);
/* A stored keybox-sealed secret (bytea text) sealed for the edge instead into *sealed (to free); the clear
 * text is wiped before it returns. */
enum tm_error web_reseal_stored(struct tool_ctx *ctx, const json_t *args, const char *bytea_text, char **sealed);
/* Regenerates a gateway key in place: a new key for env (production: tm_live_, else tm_test_) is written by
 * sql, whose parameters are the n (at most 5) of p followed by the new key's hash, sealed form and last four
 * characters (collab_key_new). When sql updated a row, the key is answered sealed for the edge into *sealed
 * (to free) and masked into masked[64]; when it updated none, *sealed stays NULL (the caller says what is
 * missing). */
enum tm_error web_key_regenerate(struct tool_ctx *ctx, const json_t *args, const char *sql, int n,
                                 const char *const *p, const char *env, char **sealed, char masked[64]);

/* ---- collaboration keys and invitations (web_collab.c) ---- */
enum tm_error web_collab_list(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_collab_create_key(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_collab_permissions(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_collab_reveal(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_collab_set_active(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_collab_regenerate(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_collab_delete(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_collab_invite(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_collab_revoke(struct tool_ctx *ctx, const json_t *args, json_t **result);
/* auth op web.invitation_peek {token} -> {email, status, endpoint, key} (principal anon; the link is the
 * credential): what an invitation link is for, shown before sign-in. */
enum tm_error auth_web_invitation_peek(struct tool_ctx *ctx, const json_t *args, json_t **result);

/* ---- archives (web_archives.c) and profile (web_profile.c) ---- */
enum tm_error web_archives_list(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_archives_download(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_archives_delete(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_profile_get(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_profile_timezone(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_profile_notifications(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error web_account_delete(struct tool_ctx *ctx, const json_t *args, json_t **result);
/* Removes an archive's two files and their by-id links from ARCHIVE_DIR (a
 * file already gone counts as removed); false if one could not be removed. */
bool web_archive_files_remove(const struct config *cfg, const char *id, const char *jsonl_path,
                              const char *csv_path);
/* Files to remove once the operation's transaction has committed (never
 * before: a failed commit keeps the rows, so it must keep their files):
 * archives (web_archive_files_remove) and, optionally, one directory tree
 * under ARCHIVE_DIR. web_removal_schedule hands the list to the dispatcher
 * (tool_after_commit), which runs and frees it. */
struct web_removal;
struct web_removal *web_removal_new(void);
void web_removal_add_archive(struct web_removal *rm, const char *id, const char *jsonl_path, const char *csv_path);
void web_removal_set_tree(struct web_removal *rm, const char *dir);
size_t web_removal_count(const struct web_removal *rm);   /* archives listed */
void web_removal_schedule(struct tool_ctx *ctx, struct web_removal *rm);

/* ---- accounts before sign-in: op `auth`, principal anon (web_accounts.c) ---- */
enum tm_error auth_web_signup(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_web_verify(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_web_password_forgot(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error auth_web_password_reset(struct tool_ctx *ctx, const json_t *args, json_t **result);

#endif
