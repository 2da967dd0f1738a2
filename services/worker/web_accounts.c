/*
 * web_accounts — accounts before sign-in (docs/DASHBOARD.md, "Accounts"):
 * sign-up with e-mail verification, and password reset by e-mail. Op
 * `auth`, principal anon, run by run_auth in dispatch.c outside a
 * transaction; each handler opens its own (auth_tx_begin/end) and sets
 * app.account_id once the account is known, so the outbox and audit rows are
 * written under row-level security like everything else.
 *
 * web.signup {email, password, ip} -> {queued: true}
 *   The same answer for a new address, an unverified one (a new link, with
 *   this sign-up's password: 011_dashboard_accounts.sql says why) and a
 *   verified one (an e-mail telling the owner the address already has an
 *   account), so the page does not tell which addresses have accounts.
 * web.verify {token} -> {email}
 * web.password_forgot {email, ip} -> {queued: true}, whether or not the
 *   address has an account.
 * web.password_reset {token, password} -> {email}: sets the password, marks
 *   the address verified (the link proves the mailbox), revokes every
 *   session of the account and lifts a sign-in lockout.
 *
 * Rate limit: at most MAILS_PER_HOUR account e-mails (sign-up, reset) to one
 * address per hour, and IP_PER_HOUR requests per client address per hour.
 * Over the address limit a reset request is answered as usual and sends
 * nothing (the answer must not depend on the address); a sign-up is refused.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "services/worker/auth_oauth.h"
#include "services/worker/tool_collaborators.h"
#include "services/worker/tool_util.h"
#include "services/worker/web.h"

#define MAILS_PER_HOUR 3
#define IP_PER_HOUR 20
#define EMAIL_MAX 254

static const char SQL_LOCK_ADDR[] = "SELECT pg_advisory_xact_lock(hashtext('account_mail:' || lower($1)))";
static const char SQL_MAIL_COUNT[] =
    "SELECT (SELECT count(*) FROM account_mail_log WHERE email = lower($1) AND at > now() - interval '1 hour'), "
    "(SELECT count(*) FROM account_mail_log WHERE ip = $2 AND $2 <> '' AND at > now() - interval '1 hour')";
static const char SQL_MAIL_PRUNE[] =
    "DELETE FROM account_mail_log WHERE (email = lower($1) OR ip = $2) AND at <= now() - interval '1 hour'";
static const char SQL_MAIL_LOG[] = "INSERT INTO account_mail_log (email, kind, ip) VALUES (lower($1), $2, $3)";
static const char SQL_SIGNUP[] = "SELECT id::text, verified FROM signup_account($1, $2)";
static const char SQL_RESET_ACCOUNT[] = "SELECT id::text FROM login_account($1)";
static const char SQL_SET_ACCOUNT[] = "SELECT set_config('app.account_id', $1, true)";
/* An account's spent links go when it gets a new one, so the table stays small. */
static const char SQL_TOKEN_PRUNE[] =
    "DELETE FROM account_tokens WHERE account_id = $1::uuid AND (used_at IS NOT NULL OR expires_at <= now())";
static const char SQL_TOKEN_INSERT[] =
    "INSERT INTO account_tokens (token_hash, account_id, purpose, password_hash, expires_at) "
    "VALUES ($1::bytea, $2::uuid, $3, $4, now() + $5::interval)";
static const char SQL_QUEUE_MAIL[] =
    "INSERT INTO notifications (account_id, kind, subject, body) VALUES ($1::uuid, $2, $3, $4)";
static const char SQL_AUDIT[] =
    "INSERT INTO audit_log (account_id, action, target_type, target_id, ip) VALUES ($1::uuid, $2, 'account', $1, "
    "nullif($3, ''))";

/* Runs a statement and discards its rows; false (recorded) on failure. */
static bool run(struct tool_ctx *ctx, const char *sql, int n, const char *const *p)
{
    PGresult *res = tool_query(ctx, sql, n, p);
    if (!res)
        return false;
    PQclear(res);
    return true;
}

static bool set_account(struct tool_ctx *ctx, const char *account_id)
{
    const char *p[1] = {account_id};
    return run(ctx, SQL_SET_ACCOUNT, 1, p);
}

/* Checks and counts one account e-mail to email from ip. *over is set when
 * the address already had its MAILS_PER_HOUR; the IP limit is an error. */
static enum tm_error mail_budget(struct tool_ctx *ctx, const char *email, const char *ip, const char *kind,
                                 bool *over)
{
    const char *p1[1] = {email};
    const char *p2[2] = {email, ip};
    if (!run(ctx, SQL_LOCK_ADDR, 1, p1) || !run(ctx, SQL_MAIL_PRUNE, 2, p2))
        return ctx->code;
    PGresult *res = tool_query(ctx, SQL_MAIL_COUNT, 2, p2);
    if (!res)
        return ctx->code;
    long by_addr = atol(PQgetvalue(res, 0, 0)), by_ip = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
    if (by_ip >= IP_PER_HOUR)
        return tool_fail(ctx, TM_ERR_RATE_LIMITED, json_pack("{s:i}", "retry_after_s", 3600),
                         "too many requests from this network: try again in an hour");
    *over = by_addr >= MAILS_PER_HOUR;
    if (*over)
        return TM_OK;
    const char *p3[3] = {email, kind, ip};
    return run(ctx, SQL_MAIL_LOG, 3, p3) ? TM_OK : ctx->code;
}

/* Queues an e-mail to the account's own address (set_account first). */
static bool queue_mail(struct tool_ctx *ctx, const char *account_id, const char *kind, const char *subject,
                       const char *body)
{
    const char *p[4] = {account_id, kind, subject, body};
    return run(ctx, SQL_QUEUE_MAIL, 4, p);
}

/* A new token of purpose for the account, stored hashed; the raw token (malloc'd) or NULL (recorded). */
static char *new_token(struct tool_ctx *ctx, const char *account_id, const char *purpose, const char *password_hash,
                       const char *lifetime)
{
    const char *a[1] = {account_id};
    if (!run(ctx, SQL_TOKEN_PRUNE, 1, a))
        return NULL;
    char hp[AUTH_HASH_PARAM_LEN];
    char *token = auth_secret_new(hp);
    const char *p[5] = {hp, account_id, purpose, password_hash, lifetime};
    if (!run(ctx, SQL_TOKEN_INSERT, 5, p)) {
        free(token);
        return NULL;
    }
    return token;
}

/* The account an e-mail goes to: the row of sql (id, then verified if asked for), made the transaction's
 * account (set_account). account_id[40] is "" when there is no row. */
static enum tm_error mail_account(struct tool_ctx *ctx, const char *sql, int n, const char *const *p,
                                  char account_id[40], bool *verified)
{
    account_id[0] = '\0';
    PGresult *res = tool_query(ctx, sql, n, p);
    if (!res)
        return ctx->code;
    bool found = PQntuples(res) == 1;
    if (found) {
        snprintf(account_id, 40, "%s", PQgetvalue(res, 0, 0));
        if (verified)
            *verified = PQgetvalue(res, 0, 1)[0] == 't';
    }
    PQclear(res);
    return !found || set_account(ctx, account_id) ? TM_OK : ctx->code;
}

static const char *arg_ip(const json_t *args)
{
    const char *ip = json_string_value(json_object_get(args, "ip"));
    return ip && strlen(ip) < 64 ? ip : "";
}

/* ---- sign-up ----------------------------------------------------------------- */

enum tm_error auth_web_signup(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *email = tool_arg_str(args, "email");
    const char *password = json_string_value(json_object_get(args, "password"));
    const char *ip = arg_ip(args);
    if (!email || !collab_email_valid(email))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "enter a valid e-mail address, like chris@example.com");
    const char *why = web_password_problem(password);
    if (why)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "%s", why);
    char hash[128];
    if (!web_password_hash(password, hash))
        return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");

    enum tm_error code;
    char *token = NULL, *body = NULL;
    if ((code = auth_tx_begin(ctx)) != TM_OK)
        goto out_notx;
    bool over = false;
    if ((code = mail_budget(ctx, email, ip, "signup", &over)) != TM_OK)
        goto out;
    if (over) {
        code = tool_fail(ctx, TM_ERR_RATE_LIMITED, json_pack("{s:i}", "retry_after_s", 3600),
                         "too many sign-up e-mails for this address: try again in an hour");
        goto out;
    }
    const char *sp[2] = {email, hash};
    char account_id[40];
    bool verified = false;
    if ((code = mail_account(ctx, SQL_SIGNUP, 2, sp, account_id, &verified)) != TM_OK)
        goto out;
    if (!account_id[0]) {
        /* A deleted account's address: reserved, nothing to send, the same answer. */
        *result = json_pack("{s:b}", "queued", 1);
        goto out;
    }
    const char *url = ctx->cfg->public_url;
    if (verified) {
        body = xasprintf("Someone, perhaps you, tried to create a 3Min API account with this address.\n\n"
                         "This address already has an account. Sign in at %s/login\n"
                         "or, if you forgot the password, reset it at %s/password/forgot\n\n"
                         "If it was not you, you can ignore this e-mail; nothing was changed.\n",
                         url, url);
        if (!queue_mail(ctx, account_id, "signup_exists", "Your 3Min API account", body))
            code = ctx->code;
    } else {
        token = new_token(ctx, account_id, "verify", hash, "24 hours");
        if (!token) {
            code = ctx->code;
            goto out;
        }
        body = xasprintf("Welcome to 3Min API.\n\nConfirm your e-mail address by opening this link within 24 hours:\n"
                         "%s/verify?token=%s\n\nThen sign in at %s/login\n\n"
                         "If you did not sign up, ignore this e-mail: no account is activated without the link.\n",
                         url, token, url);
        if (!queue_mail(ctx, account_id, "verify_email", "Verify your 3Min API e-mail address", body))
            code = ctx->code;
    }
    if (code == TM_OK)
        *result = json_pack("{s:b}", "queued", 1);
out:
    code = auth_tx_end(ctx, code, code == TM_OK);
out_notx:
    sodium_memzero(hash, sizeof hash);
    secret_free(token);
    secret_free(body);
    return code;
}

/* ---- links ---------------------------------------------------------------------- */

static const char SQL_TOKEN_TAKE[] =
    "SELECT t.account_id::text, t.password_hash, account_email(t.account_id) FROM account_tokens t "
    "WHERE t.token_hash = $1::bytea AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > now() FOR UPDATE";
static const char SQL_TOKENS_USED[] =
    "UPDATE account_tokens SET used_at = now() WHERE account_id = $1::uuid AND purpose = $2 AND used_at IS NULL";
static const char SQL_VERIFY[] =
    "UPDATE accounts SET verified = true, password_hash = COALESCE($2, password_hash) WHERE id = $1::uuid";
static const char SQL_REVOKE_SESSIONS[] =
    "UPDATE web_sessions SET revoked_at = now() WHERE account_id = $1::uuid AND revoked_at IS NULL";
static const char SQL_UNLOCK[] = "DELETE FROM login_lockouts WHERE account_id = $1::uuid";
static const char SQL_UNFAIL[] = "DELETE FROM login_failures WHERE account_id = $1::uuid";

#define LINK_INVALID "this link is not valid: it was already used, has expired, or was replaced by a newer one"

/* Takes the live token of purpose: account id, password hash (malloc'd, may be
 * NULL) and e-mail (malloc'd). TM_ERR_NOT_FOUND when there is none. */
static enum tm_error take_token(struct tool_ctx *ctx, const char *token, const char *purpose, char account_id[40],
                                char **password_hash, char **email)
{
    char hp[AUTH_HASH_PARAM_LEN];
    if (!auth_secret_param(token, hp))
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, LINK_INVALID);
    const char *p[2] = {hp, purpose};
    PGresult *res = tool_query(ctx, SQL_TOKEN_TAKE, 2, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 2)) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, LINK_INVALID);
    }
    snprintf(account_id, 40, "%s", PQgetvalue(res, 0, 0));
    *password_hash = PQgetisnull(res, 0, 1) ? NULL : xstrdup(PQgetvalue(res, 0, 1));
    *email = xstrdup(PQgetvalue(res, 0, 2));
    PQclear(res);
    const char *q[2] = {account_id, purpose};
    if (!set_account(ctx, account_id) || !run(ctx, SQL_TOKENS_USED, 2, q)) {
        free(*password_hash);
        free(*email);
        *password_hash = *email = NULL;
        return ctx->code;
    }
    return TM_OK;
}

static bool audit(struct tool_ctx *ctx, const char *account_id, const char *action, const json_t *args)
{
    const char *p[3] = {account_id, action, arg_ip(args)};
    return run(ctx, SQL_AUDIT, 3, p);
}

/* Follows a link of purpose in its own transaction -> {email}: takes its token, marks the address verified
 * with the password new_hash (NULL: the one stored with the token, if any, else the password stays), runs
 * the statements of then (NULL-terminated, may be NULL; $1 the account) and writes the audit row action. */
static enum tm_error follow_link(struct tool_ctx *ctx, const json_t *args, const char *purpose,
                                 const char *new_hash, const char *const *then, const char *action, json_t **result)
{
    enum tm_error code = auth_tx_begin(ctx);
    if (code != TM_OK)
        return code;
    char account_id[40];
    char *stored = NULL, *email = NULL;
    code = take_token(ctx, tool_arg_str(args, "token"), purpose, account_id, &stored, &email);
    if (code == TM_OK) {
        const char *p[2] = {account_id, new_hash ? new_hash : stored};
        bool ok = run(ctx, SQL_VERIFY, 2, p);
        for (size_t i = 0; ok && then && then[i]; i++)
            ok = run(ctx, then[i], 1, p);
        if (ok && audit(ctx, account_id, action, args))
            *result = json_pack("{s:s}", "email", email);
        else
            code = ctx->code;
    }
    code = auth_tx_end(ctx, code, code == TM_OK);
    secret_free(stored);
    free(email);
    return code;
}

enum tm_error auth_web_verify(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    return follow_link(ctx, args, "verify", NULL, NULL, "account.verify", result);
}

/* ---- password reset --------------------------------------------------------------- */

enum tm_error auth_web_password_forgot(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *email = tool_arg_str(args, "email");
    const char *ip = arg_ip(args);
    if (!email || strlen(email) > EMAIL_MAX || !collab_email_valid(email))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "enter a valid e-mail address, like chris@example.com");
    enum tm_error code = auth_tx_begin(ctx);
    if (code != TM_OK)
        return code;
    char *token = NULL, *body = NULL;
    bool over = false;
    if ((code = mail_budget(ctx, email, ip, "reset", &over)) != TM_OK || over)
        goto out;
    const char *p[1] = {email};
    char account_id[40];
    if ((code = mail_account(ctx, SQL_RESET_ACCOUNT, 1, p, account_id, NULL)) != TM_OK || !account_id[0])
        goto out;
    if (!(token = new_token(ctx, account_id, "reset", NULL, "1 hour"))) {
        code = ctx->code;
        goto out;
    }
    const char *url = ctx->cfg->public_url;
    body = xasprintf("Someone, perhaps you, asked to reset the password of your 3Min API account.\n\n"
                     "Choose a new password within one hour at:\n%s/password/reset?token=%s\n\n"
                     "The link works once. If you did not ask, ignore this e-mail: your password stays as it is.\n",
                     url, token);
    if (!queue_mail(ctx, account_id, "password_reset", "Reset your 3Min API password", body))
        code = ctx->code;
out:
    if (code == TM_OK)
        *result = json_pack("{s:b}", "queued", 1);
    code = auth_tx_end(ctx, code, code == TM_OK);
    secret_free(token);
    secret_free(body);
    return code;
}

enum tm_error auth_web_password_reset(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *password = json_string_value(json_object_get(args, "password"));
    const char *why = web_password_problem(password);
    if (why)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "%s", why);
    char hash[128];
    if (!web_password_hash(password, hash))
        return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    /* A reset also ends every session and lifts a sign-in lockout. */
    static const char *const then[] = {SQL_REVOKE_SESSIONS, SQL_UNLOCK, SQL_UNFAIL, NULL};
    enum tm_error code = follow_link(ctx, args, "reset", hash, then, "password.reset", result);
    sodium_memzero(hash, sizeof hash);
    return code;
}
