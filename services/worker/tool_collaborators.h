/*
 * tool_collaborators — collaboration keys and invitations (docs/DOMAIN.md §2
 * and §4): the collaborators_* tools, and accepting an invitation from the
 * web (auth op web.accept_invitation).
 */
#ifndef TM_TOOL_COLLABORATORS_H
#define TM_TOOL_COLLABORATORS_H

#include "common/config.h"
#include "common/keybox.h"
#include "services/worker/tool.h"

/* At most this many invitations per account in any 24 hours. */
#define INVITES_PER_DAY 20

enum tm_error tool_collaborators_list_keys(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_collaborators_list_invitations(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_collaborators_create_key(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_collaborators_update_permissions(struct tool_ctx *ctx, const json_t *args, json_t **result);
enum tm_error tool_collaborators_invite(struct tool_ctx *ctx, const json_t *args, json_t **result);

/* web.accept_invitation {session, token} -> {outcome, endpoint, key}: outcome
 * accepted; refusals are errors (not_found for an unknown or used link,
 * precondition_failed for an expired one, permission_denied for a session
 * of another address). Principal anon; the session is the credential. */
enum tm_error auth_web_accept_invitation(struct tool_ctx *ctx, const json_t *args, json_t **result);

/* A new gateway key for a collaboration key (also for the dashboard's
 * regenerate of owner and collaboration keys, web_key_regenerate): a random
 * tm_test_ (live: tm_live_) key into key, its SHA-256 as a bytea literal
 * ("\\x" and 64 hex digits) into hash_hex, and the key sealed with the
 * workers' key box as a bytea literal into *enc (to free). False when the
 * key box is not available. */
#define COLLAB_HASH_HEX_LEN (2 + 64 + 1)
bool collab_key_new(const struct config *cfg, bool live, char key[GATEWAY_KEY_LEN + 1],
                    char hash_hex[COLLAB_HASH_HEX_LEN], char **enc);

/* A plausible e-mail address (one @, a dotted domain, no spaces or controls,
 * at most 254 bytes). */
bool collab_email_valid(const char *s);

#endif
