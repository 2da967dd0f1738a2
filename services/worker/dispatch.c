/*
 * dispatch — one request message in, one response message out (dispatch.h).
 *
 * Tools that run a single read statement (single_statement_tools) run it
 * outside a transaction block, with app.account_id set for the session
 * (db_set_session_account, skipped while the connection serves the same
 * account): one round trip instead of four. All other tool calls run in one
 * transaction:
 *
 *   BEGIN
 *   set_config('app.account_id', <principal>, true)     -- row-level security
 *   [not read-only] INSERT INTO applied_requests ... ON CONFLICT DO NOTHING
 *                   -> nothing inserted: this request already ran; answer
 *                      with the stored result and stop
 *   SAVEPOINT tool
 *   handler
 *   ok     -> store the result, COMMIT
 *   failed -> ROLLBACK TO SAVEPOINT tool (the tool's writes go), store the
 *             error, COMMIT (the request id stays recorded with its error)
 *
 * nng REQ delivers at least once, so the stored answer is what makes a resent
 * write harmless; the insert waits on the unique index while another copy of
 * the same request is in flight, so two copies also resolve to one run.
 * Transient failures (unavailable, internal) are not stored: the whole
 * transaction is rolled back so that a retry runs the tool again.
 *
 * Work outside the database that must follow the commit (removing archive
 * files) is registered by the handler with tool_after_commit and run here
 * only after COMMIT succeeded, so a failed commit never leaves rows that
 * point at files already gone.
 *
 * tool_fail(), tool_db_fail() and tool_after_commit() of tool.h are implemented here.
 */
#include "services/worker/dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "proto/catalog.h"
#include "services/worker/auth_oauth.h"
#include "services/worker/cimd_fetch.h"
#include "services/worker/gateway.h"
#include "services/worker/tool_collaborators.h"
#include "services/worker/tool_archives.h"
#include "services/worker/tool_logs.h"
#include "services/worker/tool_subscription.h"
#include "services/worker/worker_metrics.h"
#include "services/worker/tool_util.h"
#include "services/worker/web.h"

static const struct tool_handler handlers[] = {
    {"help", tool_help},
    {"endpoints_list", tool_endpoints_list},
    {"endpoints_get", tool_endpoints_get},
    {"endpoints_create", tool_endpoints_create},
    {"endpoints_update", tool_endpoints_update},
    {"endpoints_deploy", tool_endpoints_deploy},
    {"logs_lookup", tool_logs_lookup},
    {"logs_search", tool_logs_search},
    {"logs_fetch_archived", tool_logs_fetch_archived},
    {"archives_list", tool_archives_list},
    {"archives_download", tool_archives_download},
    {"stats", tool_stats},
    {"api_call", tool_api_call},
    {"collaborators_list_keys", tool_collaborators_list_keys},
    {"collaborators_list_invitations", tool_collaborators_list_invitations},
    {"collaborators_create_key", tool_collaborators_create_key},
    {"collaborators_update_permissions", tool_collaborators_update_permissions},
    {"collaborators_invite", tool_collaborators_invite},
    {"subscription", tool_subscription},
};

tool_fn dispatch_handler(const char *tool_name)
{
    for (size_t i = 0; i < TM_ARRAY_LEN(handlers); i++)
        if (!strcmp(handlers[i].name, tool_name))
            return handlers[i].fn;
    return NULL;
}

enum tm_error tool_fail(struct tool_ctx *ctx, enum tm_error code, json_t *details, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    va_end(ap);
    ctx->code = code;
    json_decref(ctx->details);
    ctx->details = details;
    return code;
}

/* Takes over res. The server's message is logged, never sent to the caller:
 * it may name tables, constraints or values of other rows. */
enum tm_error tool_db_fail(struct tool_ctx *ctx, PGresult *res)
{
    if (!res || db_broken(ctx->db)) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_UNAVAILABLE, NULL, "database unavailable, retry");
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    enum tm_error code = TM_ERR_INTERNAL;
    const char *msg = "internal error";
    /* A statement timeout, a deadlock or a serialization failure goes away on retry. */
    if (state && (!strcmp(state, "57014") || !strcmp(state, "40001") || !strcmp(state, "40P01"))) {
        code = TM_ERR_UNAVAILABLE;
        msg = "the database is busy, retry";
    }
    const char *em = PQresultErrorMessage(res);
    size_t len = strlen(em);
    while (len && (em[len - 1] == '\n' || em[len - 1] == ' '))
        len--;
    log_error("database error (%s): %.*s", state ? state : "?", (int)len, em);
    PQclear(res);
    return tool_fail(ctx, code, NULL, "%s", msg);
}

/* ---- responses ---------------------------------------------------------- */

/* The handler's answer as text: its raw_result if it wrote one, else result serialised. */
static char *dump(const json_t *v);
static char *take_result(struct tool_ctx *ctx, json_t *result)
{
    if (ctx->raw_result) {
        char *t = ctx->raw_result;
        ctx->raw_result = NULL;
        return t;
    }
    return dump(result);
}

static void resp_ok(struct env_response *r, char *json)
{
    r->ok = true;
    r->result = json;
    r->result_len = strlen(json);
}

/* details (may be NULL) stays with the caller. */
static void resp_err(struct env_response *r, enum tm_error code, const char *message, const json_t *details)
{
    r->ok = false;
    r->code = code;
    r->message = xstrdup(message);
    if (details) {
        r->details = json_dumps(details, JSON_COMPACT);
        if (!r->details)
            fatal("out of memory");
        r->details_len = strlen(r->details);
    }
}

static char *dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        fatal("out of memory");
    return s;
}

/* ---- idempotency record ------------------------------------------------- */

static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT tool";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO SAVEPOINT tool";
/* The request id (edge_metrics.h) rides along: pg_stat_activity and log_line_prefix %a show it. */
static const char SQL_SET_ACCOUNT[] = "SELECT set_config('app.account_id', $1, true), "
                                      "set_config('app.request_id', $2, true), "
                                      "set_config('application_name', 'worker ' || $2, true)";
static const char SQL_APPLY_INSERT[] =
    "INSERT INTO applied_requests (request_id, account_id, name) VALUES ($1::bytea, $2::uuid, $3) "
    "ON CONFLICT DO NOTHING RETURNING 1";
static const char SQL_APPLY_READ[] =
    "SELECT ok, result::text FROM applied_requests WHERE request_id = $1::bytea";
static const char SQL_APPLY_STORE[] =
    "UPDATE applied_requests SET ok = $2::boolean, result = $3::jsonb WHERE request_id = $1::bytea";

/* Rebuilds the response of a request that already ran from its stored row. */
static void replay_stored(PGresult *res, struct env_response *r)
{
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1)) {
        resp_err(r, TM_ERR_INTERNAL, "internal error", NULL);
        return;
    }
    const char *okv = PQgetvalue(res, 0, 0);
    const char *text = PQgetvalue(res, 0, 1);
    json_error_t jerr;
    json_t *stored = json_loads(text, 0, &jerr);
    if (okv[0] == 't' && stored) {
        /* Re-encoded, so the answer is as compact as the first one was. */
        resp_ok(r, dump(stored));
        json_decref(stored);
        return;
    }
    json_t *e = json_object_get(stored, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    int c = code ? tm_error_from_name(code, strlen(code)) : -1;
    if (c <= 0 || !msg) {
        resp_err(r, TM_ERR_INTERNAL, "internal error", NULL);
    } else {
        json_t *details = json_object_get(e, "details");
        resp_err(r, (enum tm_error)c, msg, json_is_null(details) ? NULL : details);
    }
    json_decref(stored);
}

static bool store_result(struct tool_ctx *ctx, const char *idhex, bool ok, const char *json)
{
    const char *p[3] = {idhex, ok ? "true" : "false", json};
    PGresult *res = db_query(ctx->db, SQL_APPLY_STORE, 3, p);
    bool done = res && PQresultStatus(res) == PGRES_COMMAND_OK && !strcmp(PQcmdTuples(res), "1");
    if (!done)
        tool_db_fail(ctx, res);
    else
        PQclear(res);
    return done;
}

/* The content stored for a failed call: {"error":{code,message,details}}. */
static char *error_json(const struct tool_ctx *ctx)
{
    json_t *e = json_pack("{s:s, s:s}", "code", tm_error_name(ctx->code), "message", ctx->message);
    if (ctx->details)
        json_object_set(e, "details", ctx->details);
    json_t *w = json_pack("{s:o}", "error", e);
    char *s = dump(w);
    json_decref(w);
    return s;
}

static bool transient(enum tm_error code)
{
    return code == TM_ERR_UNAVAILABLE || code == TM_ERR_INTERNAL;
}

/* ---- tool calls --------------------------------------------------------- */

static void unavailable(struct env_response *r)
{
    resp_err(r, TM_ERR_UNAVAILABLE, "database unavailable, retry", NULL);
}

/* Read-only tools whose handler runs exactly one statement: a statement is
 * atomic and sees one snapshot by itself, so BEGIN, set_config and COMMIT
 * around it were three round trips buying nothing, and with them most of the
 * cost of endpoints_list in the database and in context switches
 * (docs/BENCHMARKS.md). A tool that reads with several statements keeps its
 * transaction, so that they see one snapshot. */
static const char *const single_statement_tools[] = {"endpoints_list"};

static bool is_single_statement(const struct tool_def *def)
{
    if (!def->read_only)
        return false;
    for (size_t i = 0; i < TM_ARRAY_LEN(single_statement_tools); i++)
        if (!strcmp(single_statement_tools[i], def->name))
            return true;
    return false;
}

/* Runs a single-statement read (see above) with the account set for the session. */
static void run_single(struct tool_ctx *ctx, tool_fn fn, const json_t *args, struct env_response *r)
{
    struct db *db = ctx->db;
    if (!db_ensure(db)) {
        unavailable(r);
        return;
    }
    /* Never expected: a transaction left open by an earlier call would hold the setting hostage. */
    if (PQtransactionStatus(db_conn(db)) == PQTRANS_INTRANS || PQtransactionStatus(db_conn(db)) == PQTRANS_INERROR)
        db_exec(db, SQL_ROLLBACK);
    PGresult *err = NULL;
    bool set = db_set_session_account(db, ctx->who->account_id, &err);
    /* As in run_tool: a connection that died while idle gets one fresh attempt. */
    if (!set && !err && db_broken(db) && db_ensure(db))
        set = db_set_session_account(db, ctx->who->account_id, &err);
    if (!set) {
        tool_db_fail(ctx, err);
        resp_err(r, ctx->code, ctx->message, ctx->details);
        return;
    }
    json_t *result = NULL;
    enum tm_error code = fn(ctx, args, &result);
    if (code == TM_OK && !result && !ctx->raw_result)
        code = tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    if (code == TM_OK)
        resp_ok(r, take_result(ctx, result));
    else
        resp_err(r, ctx->code, ctx->message, ctx->details);
    json_decref(result);
}

/* Runs fn in a transaction as described at the top. */
static void run_tool(struct tool_ctx *ctx, const struct tool_def *def, tool_fn fn, const json_t *args,
                     struct env_response *r)
{
    struct db *db = ctx->db;
    if (!db_ensure(db)) {
        unavailable(r);
        return;
    }
    /* A connection that died while idle (a database restart) is only noticed
     * now; nothing has run yet, so one fresh attempt is safe. */
    bool begun = db_exec(db, SQL_BEGIN);
    if (!begun && db_broken(db) && db_ensure(db))
        begun = db_exec(db, SQL_BEGIN);
    if (!begun) {
        if (db_broken(db))
            unavailable(r);
        else
            resp_err(r, TM_ERR_INTERNAL, "internal error", NULL);
        return;
    }

    char idhex[2 + 2 * ENV_ID_LEN + 1] = "\\x";
    hex_encode(ctx->request_id, ENV_ID_LEN, idhex + 2);
    json_t *result = NULL;
    enum tm_error code;

    const char *acct[2] = {ctx->who->account_id, log_request_id()};
    PGresult *res = db_query(db, SQL_SET_ACCOUNT, 2, acct);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        code = tool_db_fail(ctx, res);
        goto fail_all;
    }
    PQclear(res);

    /* Op web: the session must be live and the account's (web.h) before anything runs. */
    if (ctx->who->kind == PRINCIPAL_WEB && web_session_check(ctx, args) != TM_OK) {
        code = ctx->code;
        goto fail_all;
    }

    if (!def->read_only) {
        const char *p[3] = {idhex, ctx->who->account_id, def->name};
        res = db_query(db, SQL_APPLY_INSERT, 3, p);
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
            code = tool_db_fail(ctx, res);
            goto fail_all;
        }
        int inserted = PQntuples(res);
        PQclear(res);
        if (!inserted) {
            res = db_query(db, SQL_APPLY_READ, 1, p);
            if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
                code = tool_db_fail(ctx, res);
                goto fail_all;
            }
            log_info("tool %s: request already applied; answering with the stored result", def->name);
            replay_stored(res, r);
            PQclear(res);
            db_exec(db, SQL_ROLLBACK);
            return;
        }
        if (!db_exec(db, SQL_SAVEPOINT)) {
            code = tool_db_fail(ctx, NULL);
            goto fail_all;
        }
    }

    code = fn(ctx, args, &result);
    if (code == TM_OK && !result && !ctx->raw_result)
        code = tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    if (code == TM_OK && PQtransactionStatus(db_conn(db)) != PQTRANS_INTRANS) {
        /* The handler ignored a failed statement: COMMIT would silently roll back. */
        log_error("tool %s returned success inside a failed transaction", def->name);
        code = db_broken(db) ? tool_fail(ctx, TM_ERR_UNAVAILABLE, NULL, "database unavailable, retry")
                             : tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    }

    if (code == TM_OK) {
        char *json = take_result(ctx, result);
        json_decref(result);
        result = NULL;
        if (!def->read_only && !store_result(ctx, idhex, true, json)) {
            free(json);
            code = ctx->code;
            goto fail_all;
        }
        if (!db_exec(db, SQL_COMMIT)) {
            free(json);
            code = tool_db_fail(ctx, NULL);
            goto fail_all;
        }
        tool_after_commit_finish(ctx, true);
        resp_ok(r, json);
        return;
    }
    json_decref(result);
    result = NULL;

    if (def->read_only || transient(code))
        goto fail_all;
    /* A rejected call changes nothing but is remembered, so a resend gets the same answer. */
    if (!db_exec(db, SQL_ROLLBACK_TO)) {
        tool_db_fail(ctx, NULL);
        goto fail_all;
    }
    if (ctx->who->kind == PRINCIPAL_WEB && !web_after_rollback(ctx))
        goto fail_all;
    char *ej = error_json(ctx);
    bool stored = store_result(ctx, idhex, false, ej);
    free(ej);
    if (!stored || !db_exec(db, SQL_COMMIT)) {
        if (stored)
            tool_db_fail(ctx, NULL);
        goto fail_all;
    }
    resp_err(r, ctx->code, ctx->message, ctx->details);
    return;

fail_all:
    (void)code;
    if (!db_broken(db))
        db_exec(db, SQL_ROLLBACK);
    resp_err(r, ctx->code, ctx->message, ctx->details);
}

/* Auth operations run before any account is known, outside a transaction:
 * they only call SECURITY DEFINER functions. */
static void run_auth(struct tool_ctx *ctx, tool_fn fn, const json_t *args, struct env_response *r)
{
    if (!db_ensure(ctx->db) || !db_clear_session_account(ctx->db)) {
        unavailable(r);
        return;
    }
    json_t *result = NULL;
    enum tm_error code = fn(ctx, args, &result);
    if (code == TM_ERR_UNAVAILABLE && db_broken(ctx->db) && db_ensure(ctx->db)) {
        /* Same reason as in run_tool: the connection may have died while idle.
         * Auth operations are single statements and safe to repeat. */
        json_decref(result);
        result = NULL;
        code = fn(ctx, args, &result);
    }
    if (code == TM_OK && result) {
        resp_ok(r, dump(result));
    } else {
        if (code == TM_OK)
            tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
        resp_err(r, ctx->code, ctx->message, ctx->details);
    }
    json_decref(result);
}

/* OAuth and sign-in operations (docs/OAUTH.md), all principal `anon`. */
static const struct tool_handler auth_handlers[] = {
    {"oauth.register_client", auth_oauth_register_client},
    {"oauth.get_client", auth_oauth_get_client},
    {"oauth.resolve_cimd", auth_oauth_resolve_cimd},
    {"oauth.create_code", auth_oauth_create_code},
    {"oauth.redeem_code", auth_oauth_redeem_code},
    {"oauth.refresh", auth_oauth_refresh},
    {"oauth.revoke", auth_oauth_revoke},
    {"oauth.revocations", auth_oauth_revocations},
    {"web.login", auth_web_login},
    {"web.session", auth_web_session},
    {"web.accept_invitation", auth_web_accept_invitation},
    {"web.invitation_peek", auth_web_invitation_peek},
    {"web.signup", auth_web_signup},
    {"web.verify", auth_web_verify},
    {"web.password_forgot", auth_web_password_forgot},
    {"web.password_reset", auth_web_password_reset},
};

static tool_fn auth_handler(const char *name)
{
    for (size_t i = 0; i < TM_ARRAY_LEN(auth_handlers); i++)
        if (!strcmp(auth_handlers[i].name, name))
            return auth_handlers[i].fn;
    return NULL;
}

static bool principal_may_call(const struct principal *who, const struct tool_def *def)
{
    if (who->kind != PRINCIPAL_APIKEY && who->kind != PRINCIPAL_OAUTH)
        return false;
    if (!who->account_id[0])
        return false;
    return (who->scopes & def->scope) != 0;
}

static void handle(struct db *db, const struct config *cfg, const struct env_request *req, struct env_response *r)
{
    if (now_ms() > req->deadline_ms) {
        resp_err(r, TM_ERR_UNAVAILABLE, "deadline passed", NULL);
        return;
    }

    json_t *args;
    if (req->args_len == 0) {
        args = json_object();
    } else {
        json_error_t jerr;
        args = json_loadb(req->args, req->args_len, JSON_REJECT_DUPLICATES, &jerr);
    }
    if (!json_is_object(args)) {
        json_decref(args);
        resp_err(r, TM_ERR_INVALID_ARGUMENT, "arguments must be a JSON object", NULL);
        return;
    }

    struct tool_ctx ctx = {.db = db, .cfg = cfg, .who = &req->who, .request_id = req->id};
    int64_t t0 = mono_ms();

    switch (req->op) {
    case ENV_OP_AUTH:
        if (!strcmp(req->name, "auth.resolve_mcp_key"))
            run_auth(&ctx, auth_resolve_mcp_key, args, r);
        else if (auth_handler(req->name))
            run_auth(&ctx, auth_handler(req->name), args, r);
        else if (!strcmp(req->name, "health.ping"))
            resp_ok(r, xstrdup("{\"pong\":true}"));   /* the edge's heartbeat: this worker answers */
        else if (!strcmp(req->name, "health.metrics"))
            resp_ok(r, worker_metrics_json(cfg));   /* served by the edge's /metrics */
        else
            resp_err(r, TM_ERR_NOT_FOUND, "unknown operation", NULL);
        break;
    case ENV_OP_TOOL: {
        const struct tool_def *def = catalog_find(req->name);
        tool_fn fn = def && def->op == ENV_OP_TOOL ? dispatch_handler(def->name) : NULL;
        if (!fn) {
            resp_err(r, TM_ERR_NOT_FOUND, "unknown tool", NULL);
            break;
        }
        if (!principal_may_call(&req->who, def)) {
            log_warn("tool %s refused: principal kind %s lacks scope %s", def->name,
                     principal_kind_name(req->who.kind), scope_name(def->scope));
            resp_err(r, TM_ERR_PERMISSION_DENIED,
                     "this credential may not call this tool", NULL);
            break;
        }
        if (is_single_statement(def))
            run_single(&ctx, fn, args, r);
        else
            run_tool(&ctx, def, fn, args, r);
        break;
    }
    case ENV_OP_GATEWAY: {
        /* The public gateway (gateway.c): principal anon, the key travels in args. */
        char *json = NULL;
        if (strcmp(req->name, "gateway.call"))
            resp_err(r, TM_ERR_NOT_FOUND, "unknown operation", NULL);
        else if (gateway_handle(&ctx, args, &json) == TM_OK)
            resp_ok(r, json);
        else
            resp_err(r, ctx.code, ctx.message, ctx.details);
        break;
    }
    case ENV_OP_WEB: {
        /* Dashboard operations (web.h): only a signed-in dashboard session;
         * run_tool re-checks the session inside the transaction. */
        const struct web_handler *wh = web_handler_find(req->name);
        if (req->who.kind != PRINCIPAL_WEB || !is_uuid(req->who.account_id) || !tool_arg_str(args, "session")) {
            log_warn("web %s refused: principal kind %s", req->name, principal_kind_name(req->who.kind));
            resp_err(r, TM_ERR_PERMISSION_DENIED, "a dashboard session is required", NULL);
        } else if (!wh) {
            resp_err(r, TM_ERR_NOT_FOUND, "unknown operation", NULL);
        } else {
            struct tool_def def = {.name = wh->name, .read_only = wh->read_only, .op = ENV_OP_WEB};
            run_tool(&ctx, &def, wh->fn, args, r);
        }
        break;
    }
    default:
        resp_err(r, TM_ERR_NOT_FOUND, "unknown operation", NULL);
        break;
    }

    int64_t took = mono_ms() - t0;
    worker_metrics_done(cfg, req, r, took);
    if (!r->ok && (r->code == TM_ERR_INTERNAL || r->code == TM_ERR_UNAVAILABLE))
        log_warn("%s %s failed: %s (%lld ms)", env_op_name(req->op), req->name, tm_error_name(r->code),
                 (long long)took);
    else
        log_debug("%s %s: %s (%lld ms)", env_op_name(req->op), req->name,
                  r->ok ? "ok" : tm_error_name(r->code), (long long)took);
    tool_after_commit_finish(&ctx, false);   /* not committed (or already run): released unrun */
    json_decref(ctx.details);
    free(ctx.raw_result);   /* set by a handler that then failed */
    json_decref(args);
}

void tool_after_commit(struct tool_ctx *ctx, void (*fn)(struct tool_ctx *ctx, void *arg), void (*free_fn)(void *arg),
                       void *arg)
{
    tool_after_commit_finish(ctx, false);
    ctx->after_commit = fn;
    ctx->after_commit_free = free_fn;
    ctx->after_commit_arg = arg;
}

void tool_after_commit_finish(struct tool_ctx *ctx, bool committed)
{
    if (committed && ctx->after_commit)
        ctx->after_commit(ctx, ctx->after_commit_arg);
    if (ctx->after_commit_free)
        ctx->after_commit_free(ctx->after_commit_arg);
    ctx->after_commit = NULL;
    ctx->after_commit_free = NULL;
    ctx->after_commit_arg = NULL;
}

void dispatch_message(struct db *db, const struct config *cfg, const uint8_t *msg, size_t len,
                      uint8_t **out, size_t *out_len)
{
    struct env_request req;
    struct env_response resp;
    memset(&resp, 0, sizeof resp);
    const char *why = NULL;

    if (env_request_decode(msg, len, &req, &why) != 0) {
        log_warn("a request does not decode: %s", why ? why : "?");
        resp_err(&resp, TM_ERR_INVALID_ARGUMENT, "malformed request", NULL);
    } else {
        memcpy(resp.id, req.id, ENV_ID_LEN);
        log_set_request_id(req.id);   /* its first 8 bytes are the edge's request id */
        handle(db, cfg, &req, &resp);
        log_set_request_id(NULL);
        env_request_free(&req);
    }
    env_response_encode(&resp, out, out_len);
    env_response_free(&resp);
}
