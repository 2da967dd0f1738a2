/*
 * auth_web — sign-in of the OAuth authorization page (auth_oauth.h).
 *
 * web.login {email, password, ip} -> {session, account_id, email, csrf}
 *   argon2id verification (libsodium) runs here, in a worker thread, never on
 *   the edge's event loop. Unknown e-mail and wrong password give the same
 *   message, and an unknown e-mail still pays for one verification (against
 *   a dummy hash) so timing does not tell them apart either. Only after the
 *   right password does an unverified account learn it must verify first.
 *   Lockout: 10 failures for an account within 15 minutes lock its sign-in
 *   for 15 minutes, whatever the address (connectors share one network); a
 *   locked account is refused before any hash is computed. A success clears
 *   the account's failures.
 *   Per address: LOGIN_ADDRESS_LIMIT (default 30) failed sign-ins from one
 *   client address (`ip`, from the edge) within 15 minutes refuse that
 *   address before any lookup or hash (019_login_address_failures.sql). A
 *   success does not clear them, or signing in to one's own account would
 *   reset the count between guesses at others.
 * web.session {session} -> {account_id, email, csrf}
 *   Sessions last 12 hours from sign-in (fixed, see 002_oauth.sql).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "services/worker/auth_oauth.h"

#define EMAIL_MAX 320
#define PASSWORD_MAX 1024
#define BAD_CREDENTIALS "wrong e-mail or password"

static const char SQL_LOGIN_ACCOUNT[] =
    "SELECT id::text, email, password_hash, verified FROM login_account($1)";
static const char SQL_LOCKED[] =
    "SELECT to_char(locked_until AT TIME ZONE 'UTC', 'HH24:MI'), "
    "greatest(1, ceil(extract(epoch FROM locked_until - now()) / 60))::int "
    "FROM login_lockouts WHERE account_id = $1::uuid AND locked_until > now()";
static const char SQL_FAIL_INSERT[] = "INSERT INTO login_failures (account_id) VALUES ($1::uuid)";
/* Runs after the failure above has committed, so the count includes it. */
static const char SQL_FAIL_LOCK[] =
    "INSERT INTO login_lockouts (account_id, locked_until) "
    "SELECT $1::uuid, now() + interval '15 minutes' "
    "WHERE (SELECT count(*) FROM login_failures WHERE account_id = $1::uuid "
    "       AND at > now() - interval '15 minutes') >= 10 "
    "ON CONFLICT (account_id) DO UPDATE SET locked_until = EXCLUDED.locked_until RETURNING 1";
static const char SQL_FAIL_CLEAR[] = "DELETE FROM login_failures WHERE account_id = $1::uuid";
static const char SQL_FAIL_PRUNE[] =
    "DELETE FROM login_failures WHERE account_id = $1::uuid AND at <= now() - interval '15 minutes'";
static const char SQL_ADDR_BLOCKED[] =
    "SELECT count(*) >= $2::int FROM login_address_failures "
    "WHERE ip = $1::inet AND at > now() - interval '15 minutes'";
static const char SQL_ADDR_PRUNE[] = "DELETE FROM login_address_failures WHERE at <= now() - interval '15 minutes'";
static const char SQL_ADDR_FAIL[] = "INSERT INTO login_address_failures (ip) VALUES ($1::inet)";
static const char SQL_SESSION_PRUNE[] =
    "DELETE FROM web_sessions WHERE account_id = $1::uuid AND expires_at < now()";
static const char SQL_SESSION_INSERT[] =
    "INSERT INTO web_sessions (token_hash, account_id, csrf) VALUES ($1::bytea, $2::uuid, $3)";
static const char SQL_SESSION_LOOKUP[] =
    "SELECT s.account_id::text, account_email(s.account_id), s.csrf FROM web_sessions s "
    "WHERE s.token_hash = $1::bytea AND s.revoked_at IS NULL AND s.expires_at > now()";

/* ---- the dummy hash for unknown e-mails ---------------------------------- */

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

/* Same parameters as account hashes (services/admin/admin_account.c), so a
 * verification against it takes as long as against a real one. */
static void dummy_init(void)
{
    uint8_t pw[32];
    random_bytes(pw, sizeof pw);
    if (crypto_pwhash_str(dummy_hash, (const char *)pw, sizeof pw, 2, 19u << 20) != 0)
        fatal("out of memory computing a password hash");
}

/* Runs one statement and returns whether it succeeded; failures are recorded. */
static bool exec1(struct tool_ctx *ctx, const char *sql, const char *param, PGresult **keep)
{
    const char *p[1] = {param};
    PGresult *res = db_query(ctx->db, sql, 1, p);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        tool_db_fail(ctx, res);
        return false;
    }
    if (keep)
        *keep = res;
    else
        PQclear(res);
    return true;
}

/* ---- failed sign-ins per client address ----------------------------------- */

/* The address the limit counts, or NULL when there is none to count (no
 * limit, or not an address: the edge always sends one, so this is defence). */
static const char *limited_address(const struct tool_ctx *ctx, const json_t *args)
{
    const char *ip = json_string_value(json_object_get(args, "ip"));
    uint8_t bin[16];
    if (!ctx->cfg || ctx->cfg->login_address_limit <= 0 || !ip || strlen(ip) >= INET6_ADDRSTRLEN)
        return NULL;
    if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
        return NULL;
    return ip;
}

/* Refuses an address that reached the limit (rate_limited); TM_OK otherwise. */
static enum tm_error address_check(struct tool_ctx *ctx, const char *ip)
{
    if (!ip)
        return TM_OK;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", ctx->cfg->login_address_limit);
    const char *p[2] = {ip, limit};
    PGresult *res = db_query(ctx->db, SQL_ADDR_BLOCKED, 2, p);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return tool_db_fail(ctx, res);
    bool blocked = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!blocked)
        return TM_OK;
    log_warn("sign-in refused: %d failed sign-ins from one address within 15 minutes", ctx->cfg->login_address_limit);
    return tool_fail(ctx, TM_ERR_RATE_LIMITED, json_pack("{s:i}", "retry_after_s", 900),
                     "too many failed sign-ins from your network address: try again in 15 minutes");
}

/* Counts a failed sign-in against the address; false (recorded in ctx) on a database error. */
static bool address_failed(struct tool_ctx *ctx, const char *ip)
{
    if (!ip)
        return true;
    PGresult *res = db_query(ctx->db, SQL_ADDR_PRUNE, 0, NULL);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        tool_db_fail(ctx, res);
        return false;
    }
    PQclear(res);
    return exec1(ctx, SQL_ADDR_FAIL, ip, NULL);
}

bool auth_login_failure(struct tool_ctx *ctx, const char *account_id, bool *locked)
{
    PGresult *res = NULL;
    if (!exec1(ctx, SQL_FAIL_PRUNE, account_id, NULL) || !exec1(ctx, SQL_FAIL_INSERT, account_id, NULL) ||
        !exec1(ctx, SQL_FAIL_LOCK, account_id, &res))
        return false;
    *locked = PQntuples(res) == 1;
    PQclear(res);
    if (!*locked)
        return true;
    log_warn("sign-in of account %s locked for 15 minutes after 10 failures", account_id);
    return exec1(ctx, SQL_FAIL_CLEAR, account_id, NULL);
}

/* A failed sign-in of a known account: counted against the address and the
 * account, which is locked at the tenth within 15 minutes. */
static enum tm_error record_failure(struct tool_ctx *ctx, const char *account_id, const char *ip)
{
    bool locked;
    if (!address_failed(ctx, ip) || !auth_login_failure(ctx, account_id, &locked))
        return ctx->code;
    if (locked)
        return tool_fail(ctx, TM_ERR_RATE_LIMITED, json_pack("{s:i}", "retry_after_s", 900),
                         "too many failed sign-ins: sign-in to this account is locked for 15 minutes");
    return tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL, BAD_CREDENTIALS);
}

enum tm_error auth_web_login(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *email = json_string_value(json_object_get(args, "email"));
    const char *password = json_string_value(json_object_get(args, "password"));
    if (!email || !password || !email[0] || !password[0])
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "e-mail and password are required");
    if (strlen(email) > EMAIL_MAX || strlen(password) > PASSWORD_MAX)
        return tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL, BAD_CREDENTIALS);
    pthread_once(&dummy_once, dummy_init);
    const char *ip = limited_address(ctx, args);
    if (address_check(ctx, ip) != TM_OK)
        return ctx->code;

    const char *p[1] = {email};
    PGresult *res = db_query(ctx->db, SQL_LOGIN_ACCOUNT, 1, p);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return tool_db_fail(ctx, res);
    if (PQntuples(res) != 1) {
        PQclear(res);
        if (crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0)
            log_warn("a password matched the random dummy hash");   /* never expected */
        if (!address_failed(ctx, ip))
            return ctx->code;
        return tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL, BAD_CREDENTIALS);
    }
    char account_id[37];
    snprintf(account_id, sizeof account_id, "%s", PQgetvalue(res, 0, 0));
    char *acct_email = xstrdup(PQgetvalue(res, 0, 1));
    char *hash = xstrdup(PQgetvalue(res, 0, 2));
    bool verified = PQgetvalue(res, 0, 3)[0] == 't';
    PQclear(res);

    enum tm_error code = TM_OK;
    PGresult *lock = NULL;
    if (!exec1(ctx, SQL_LOCKED, account_id, &lock)) {
        code = ctx->code;
        goto out;
    }
    if (PQntuples(lock) == 1) {
        int minutes = atoi(PQgetvalue(lock, 0, 1));
        code = tool_fail(ctx, TM_ERR_RATE_LIMITED, json_pack("{s:i}", "retry_after_s", minutes * 60),
                         "too many failed sign-ins: sign-in to this account is locked; try again after "
                         "%s UTC (in %d minute%s)",
                         PQgetvalue(lock, 0, 0), minutes, minutes == 1 ? "" : "s");
        PQclear(lock);
        goto out;
    }
    PQclear(lock);

    if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0) {
        code = record_failure(ctx, account_id, ip);
        goto out;
    }
    if (!verified) {
        code = tool_fail(ctx, TM_ERR_PERMISSION_DENIED, NULL,
                         "this account's e-mail address is not verified yet: verify it first, then sign in");
        goto out;
    }
    if (!exec1(ctx, SQL_FAIL_CLEAR, account_id, NULL) || !exec1(ctx, SQL_SESSION_PRUNE, account_id, NULL)) {
        code = ctx->code;
        goto out;
    }

    char hp[AUTH_HASH_PARAM_LEN];
    char *session = auth_secret_new(hp);
    uint8_t csrf_raw[32];
    random_bytes(csrf_raw, sizeof csrf_raw);
    char *csrf = b64url_encode(csrf_raw, sizeof csrf_raw);
    const char *sp[3] = {hp, account_id, csrf};
    res = db_query(ctx->db, SQL_SESSION_INSERT, 3, sp);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        code = tool_db_fail(ctx, res);
    } else {
        PQclear(res);
        *result = json_pack("{s:s, s:s, s:s, s:s}", "session", session, "account_id", account_id, "email",
                            acct_email, "csrf", csrf);
    }
    secret_free(session);
    free(csrf);
out:
    secret_free(hash);
    free(acct_email);
    return code;
}

enum tm_error auth_web_session_lookup(struct tool_ctx *ctx, const char *session, char account_id[37],
                                      char **email, char **csrf)
{
    char hp[AUTH_HASH_PARAM_LEN];
    if (!auth_secret_param(session, hp))
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such session (signed out or expired)");
    const char *p[1] = {hp};
    PGresult *res = db_query(ctx->db, SQL_SESSION_LOOKUP, 1, p);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return tool_db_fail(ctx, res);
    /* A deleted account has no e-mail any more: its sessions are dead. */
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such session (signed out or expired)");
    }
    snprintf(account_id, 37, "%s", PQgetvalue(res, 0, 0));
    if (email)
        *email = xstrdup(PQgetvalue(res, 0, 1));
    if (csrf)
        *csrf = xstrdup(PQgetvalue(res, 0, 2));
    PQclear(res);
    return TM_OK;
}

enum tm_error auth_web_session(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *session = json_string_value(json_object_get(args, "session"));
    char account_id[37];
    char *email = NULL, *csrf = NULL;
    enum tm_error code = auth_web_session_lookup(ctx, session, account_id, &email, &csrf);
    if (code == TM_OK)
        *result = json_pack("{s:s, s:s, s:s}", "account_id", account_id, "email", email, "csrf", csrf);
    free(email);
    free(csrf);
    return code;
}
