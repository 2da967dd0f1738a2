/*
 * web_subscription — the worker side of Settings → Subscription
 * (docs/DASHBOARD.md, docs/PLANS.md): the account's plan, status, period and
 * usage (the `subscription` tool's own answer, so the page and the tool
 * cannot disagree), the plans on offer and the plan history; changing and
 * cancelling the plan.
 *
 * With the `manual` provider (self-hosting: nobody is charged) a change
 * takes effect at once: the subscription row gets the new plan and the
 * current period, and the gateway's quota check reads it on the next call.
 * Cancelling means back to the free plan at once (there is no paid period
 * to run out, since nothing was charged). A subscription of another provider
 * is managed by that provider and is refused here. The plan history row is
 * written by the trigger of 015 for every change of plan; the audit row is
 * written here, in the same transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "services/worker/tool_subscription.h"
#include "services/worker/tool_util.h"
#include "services/worker/web.h"

static const char SQL_PLANS[] =
    "SELECT COALESCE(json_agg(json_build_object('code', code, 'limit', monthly_limit, 'price_usd', "
    "price_cents / 100.0, 'hard_limit', hard_limit, 'overage_per_call', CASE WHEN hard_limit THEN NULL "
    "ELSE overage_micro_usd / 1e6 END) ORDER BY price_cents, code), '[]')::text FROM plans";
static const char SQL_HISTORY[] =
    "SELECT COALESCE(json_agg(json_build_object('at', to_char(h.at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'from', h.from_plan, 'to', h.to_plan, 'via', h.via) ORDER BY h.id DESC), "
    "'[]')::text FROM (SELECT * FROM plan_changes WHERE account_id = $1::uuid ORDER BY id DESC LIMIT 20) h";

/* Runs a statement returning one JSON text; the parsed value, or NULL (recorded). */
static json_t *json_query(struct tool_ctx *ctx, const char *sql, int n, const char *const *p)
{
    PGresult *res = tool_query(ctx, sql, n, p);
    if (!res)
        return NULL;
    json_t *v = json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, NULL);
    PQclear(res);
    if (!v)
        tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    return v;
}

/* subscription.get {} -> {subscription: <the subscription tool's result>, plans: [...], history: [...]} */
enum tm_error web_subscription_get(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    (void)args;
    json_t *sub = NULL;
    if (tool_subscription(ctx, NULL, &sub) != TM_OK)
        return ctx->code;
    const char *p[1] = {ctx->who->account_id};
    json_t *plans = json_query(ctx, SQL_PLANS, 0, NULL);
    json_t *history = plans ? json_query(ctx, SQL_HISTORY, 1, p) : NULL;
    if (!plans || !history) {
        json_decref(sub);
        json_decref(plans);
        return ctx->code;
    }
    *result = json_pack("{s:o, s:o, s:o}", "subscription", sub, "plans", plans, "history", history);
    return TM_OK;
}

static const char SQL_LOCK[] =
    "SELECT plan_code, provider FROM subscriptions WHERE account_id = $1::uuid FOR UPDATE";
static const char SQL_PLAN_EXISTS[] = "SELECT 1 FROM plans WHERE code = $1";
static const char SQL_SET_PLAN[] =
    "UPDATE subscriptions s SET plan_code = $2, status = 'active', cancel_at_period_end = false, "
    "period_start = per.period_start, period_end = per.period_end, updated_at = now() "
    "FROM accounts a CROSS JOIN LATERAL usage_period(a.created_at, now()) per "
    "WHERE s.account_id = $1::uuid AND a.id = $1::uuid";

/* Locks the account's subscription; its plan into cur. Refuses a provider other than manual. */
static enum tm_error lock_subscription(struct tool_ctx *ctx, char cur[32])
{
    const char *p[1] = {ctx->who->account_id};
    PGresult *res = tool_query(ctx, SQL_LOCK, 1, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "this account has no subscription; ask the operator");
    }
    snprintf(cur, 32, "%s", PQgetvalue(res, 0, 0));
    bool manual = !strcmp(PQgetvalue(res, 0, 1), "manual");
    PQclear(res);
    if (!manual)
        return tool_fail(ctx, TM_ERR_PRECONDITION_FAILED, NULL,
                         "this subscription is managed by its billing provider; change it there");
    return TM_OK;
}

/* Sets the plan (the caller checked it exists and differs) and writes the audit row. */
static enum tm_error set_plan(struct tool_ctx *ctx, const char *action, const char *from, const char *to,
                              json_t **result)
{
    const char *p[2] = {ctx->who->account_id, to};
    PGresult *res = tool_query(ctx, SQL_SET_PLAN, 2, p);
    if (!res)
        return ctx->code;
    PQclear(res);
    json_t *d = json_pack("{s:s, s:s, s:s}", "from", from, "to", to, "provider", "manual");
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    enum tm_error rc = web_audit(ctx, action, "subscription", ctx->who->account_id, text);
    free(text);
    if (rc != TM_OK)
        return rc;
    *result = json_pack("{s:s, s:s}", "plan", to, "previous", from);
    return TM_OK;
}

/* subscription.change {plan, password} -> {plan, previous} */
enum tm_error web_subscription_change(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *plan = tool_arg_str(args, "plan");
    if (!plan || strlen(plan) > 32)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "choose a plan");
    const char *p[1] = {plan};
    PGresult *res = tool_query(ctx, SQL_PLAN_EXISTS, 1, p);
    if (!res)
        return ctx->code;
    int known = PQntuples(res);
    PQclear(res);
    if (!known)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "there is no such plan");
    char cur[32];
    if (lock_subscription(ctx, cur) != TM_OK)
        return ctx->code;
    if (!strcmp(cur, plan))
        return tool_fail(ctx, TM_ERR_PRECONDITION_FAILED, NULL, "this account is already on the %s plan", cur);
    if (web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    return set_plan(ctx, "subscription.change", cur, plan, result);
}

/* subscription.cancel {password} -> {plan: "free", previous} */
enum tm_error web_subscription_cancel(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    char cur[32];
    if (lock_subscription(ctx, cur) != TM_OK)
        return ctx->code;
    if (!strcmp(cur, "free"))
        return tool_fail(ctx, TM_ERR_PRECONDITION_FAILED, NULL,
                         "this account is on the free plan: there is nothing to cancel");
    if (web_require_password(ctx, args) != TM_OK)
        return ctx->code;
    return set_plan(ctx, "subscription.cancel", cur, "free", result);
}
