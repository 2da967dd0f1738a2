/*
 * tool_subscription — `subscription` (see tool_subscription.h). One
 * statement: the subscription (the source of truth for the plan), the
 * plan's terms, the current period from usage_period() — the same periods
 * the gateway counts in — and that period's usage, the sum of its counter's
 * stripes (migration 020), if any call has been counted yet. Changing the plan is not an MCP action: manage_url
 * points to the dashboard.
 */
#include "services/worker/tool_subscription.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "services/worker/plans.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const char SQL_SUBSCRIPTION[] =
    "SELECT s.plan_code, p.monthly_limit, p.price_cents, p.hard_limit, p.overage_micro_usd, s.status, "
    TS("per.period_start") ", " TS("per.period_end") ", coalesce(u.calls, 0), coalesce(u.overage_calls, 0), "
    "s.provider, s.cancel_at_period_end "
    "FROM accounts a CROSS JOIN LATERAL usage_period(a.created_at, now()) per "
    "JOIN subscriptions s ON s.account_id = a.id JOIN plans p ON p.code = s.plan_code "
    "LEFT JOIN LATERAL (SELECT sum(c.calls) AS calls, sum(c.overage_calls) AS overage_calls FROM usage_counters c "
    "  WHERE c.account_id = a.id AND c.period_start = per.period_start) u ON true "
    "WHERE a.id = $1::uuid";

enum tm_error tool_subscription(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    (void)args;
    const char *p[1] = {ctx->who->account_id};
    PGresult *res = db_query(ctx->db, SQL_SUBSCRIPTION, 1, p);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return tool_db_fail(ctx, res);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this account has no subscription; ask the operator");
    }
    long long limit = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    long long price_cents = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    bool hard = PQgetvalue(res, 0, 3)[0] == 't';
    long long overage_micro = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    const char *status = PQgetvalue(res, 0, 5);
    long long used = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
    long long overage = strtoll(PQgetvalue(res, 0, 9), NULL, 10);
    bool cancel_at_end = PQgetvalue(res, 0, 11)[0] == 't';

    /* Nothing is billed next for a free plan or a subscription that ends. */
    bool bills = price_cents > 0 && !strcmp(status, "active") && !cancel_at_end;
    char *manage = xasprintf("%s/settings/subscription", ctx->cfg->public_url);
    *result = json_pack(
        "{s:{s:s, s:I, s:f, s:o}, s:s, s:{s:s, s:s}, s:{s:I, s:I, s:I, s:f, s:I}, s:{s:s, s:o, s:b}, s:s}",
        "plan", "code", PQgetvalue(res, 0, 0), "limit", (json_int_t)limit, "price_usd", (double)price_cents / 100.0,
        "overage_per_call", hard ? json_null() : json_real((double)overage_micro / 1e6),
        "status", status,
        "period", "start", PQgetvalue(res, 0, 6), "end", PQgetvalue(res, 0, 7),
        "usage", "used", (json_int_t)used, "limit", (json_int_t)limit, "remaining",
        (json_int_t)plans_remaining(limit, used), "percent", plans_percent(limit, used), "overage_calls",
        (json_int_t)overage,
        "billing", "provider", PQgetvalue(res, 0, 10), "next_billing_at",
        bills ? json_string(PQgetvalue(res, 0, 7)) : json_null(), "cancel_at_period_end", cancel_at_end,
        "manage_url", manage);
    free(manage);
    PQclear(res);
    return TM_OK;
}
