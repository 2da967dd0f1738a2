/*
 * notify — notification rules and queueing of notification e-mails (see
 * notify.h). Everything runs in the caller's transaction, so a rolled-back
 * call or deploy queues nothing.
 */
#include "services/worker/notify.h"

#include <stdio.h>
#include <string.h>

const char *const notify_endpoint_events[NOTIFY_ENDPOINT_EVENTS] = {"call_failed", "webhook_failed", "deployed"};

/* r: the rule is on and the key is not cooling down; c: takes the cool-down
 * (the conditional upsert makes a concurrent second taker get no row);
 * then the e-mail, only if c took it. */
static const char SQL_NOTIFY[] =
    "WITH r AS (SELECT 1 WHERE " NOTIFY_RULE_ENABLED("$1::uuid", "$2::uuid", "$3::text") " "
    "  AND NOT EXISTS (SELECT 1 FROM notify_cooldowns WHERE account_id = $1::uuid AND key = $4 AND until > now())), "
    "c AS (INSERT INTO notify_cooldowns (account_id, key, until) SELECT $1::uuid, $4, now() + $5::int * interval '1 second' "
    "  FROM r ON CONFLICT (account_id, key) DO UPDATE SET until = excluded.until "
    "  WHERE notify_cooldowns.until <= now() RETURNING 1) "
    "INSERT INTO notifications (account_id, endpoint_id, kind, subject, body) "
    "SELECT $1::uuid, $2::uuid, $3::text, $6, $7 FROM c";

static const char SQL_EFFECTIVE[] =
    "SELECT " NOTIFY_RULE_ENABLED("$1::uuid", "$2::uuid", "'call_failed'") ", "
    NOTIFY_RULE_ENABLED("$1::uuid", "$2::uuid", "'webhook_failed'") ", "
    NOTIFY_RULE_ENABLED("$1::uuid", "$2::uuid", "'deployed'");

static const char SQL_RULE_SET[] =
    "INSERT INTO notification_rules (account_id, endpoint_id, event, enabled) "
    "VALUES ($1::uuid, $2::uuid, $3, $4::boolean) "
    "ON CONFLICT (account_id, endpoint_id, event) DO UPDATE SET enabled = excluded.enabled";

static PGresult *run(struct tool_ctx *ctx, const char *sql, int n, const char *const *p)
{
    PGresult *res = db_query(ctx->db, sql, n, p);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        tool_db_fail(ctx, res);
        return NULL;
    }
    return res;
}

int notify_event_index(const char *event)
{
    for (int i = 0; i < NOTIFY_ENDPOINT_EVENTS; i++)
        if (!strcmp(event, notify_endpoint_events[i]))
            return i;
    return -1;
}

enum tm_error notify_queue(struct tool_ctx *ctx, const char *account_id, const char *endpoint_id,
                           const char *event, const char *subject, const char *body, bool *queued)
{
    char key[128], cool[24];
    snprintf(key, sizeof key, "%s:%s", event, endpoint_id);
    snprintf(cool, sizeof cool, "%d", ctx->cfg->notify_cooldown_s);
    const char *p[7] = {account_id, endpoint_id, event, key, cool, subject, body};
    PGresult *res = run(ctx, SQL_NOTIFY, 7, p);
    if (!res)
        return ctx->code;
    if (queued)
        *queued = !strcmp(PQcmdTuples(res), "1");
    PQclear(res);
    return TM_OK;
}

enum tm_error notify_effective(struct tool_ctx *ctx, const char *account_id, const char *endpoint_id,
                               bool on[NOTIFY_ENDPOINT_EVENTS])
{
    const char *p[2] = {account_id, endpoint_id};
    PGresult *res = run(ctx, SQL_EFFECTIVE, 2, p);
    if (!res)
        return ctx->code;
    for (int i = 0; i < NOTIFY_ENDPOINT_EVENTS; i++)
        on[i] = PQntuples(res) == 1 && PQgetvalue(res, 0, i)[0] == 't';
    PQclear(res);
    return TM_OK;
}

enum tm_error notify_rule_set(struct tool_ctx *ctx, const char *account_id, const char *endpoint_id,
                              const char *event, bool enabled)
{
    const char *p[4] = {account_id, endpoint_id, event, enabled ? "true" : "false"};
    PGresult *res = run(ctx, SQL_RULE_SET, 4, p);
    if (!res)
        return ctx->code;
    PQclear(res);
    return TM_OK;
}
