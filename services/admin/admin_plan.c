/*
 * admin_plan — `3min account plan --email E --plan P`: the operator's way to
 * change an account's plan (changing plans is never an MCP action). Writes
 * the subscription, the plan's source of truth (docs/PLANS.md); a trigger
 * copies it to accounts.plan. The usage counted in the current period is
 * kept, so the new limit applies to it at once.
 */
#include <stdio.h>
#include <string.h>

#include "services/admin/admin.h"

int admin_account_plan(PGconn *c, const char *email, const char *plan)
{
    const char *params[] = {email, plan};
    PGresult *r = admin_exec(
        c, PGRES_TUPLES_OK, "changing the plan",
        "INSERT INTO subscriptions (account_id, plan_code, period_start, period_end) "
        "SELECT a.id, $2, p.period_start, p.period_end FROM accounts a "
        "CROSS JOIN LATERAL usage_period(a.created_at, now()) p "
        "WHERE lower(a.email) = lower($1) AND a.deleted_at IS NULL "
        "ON CONFLICT (account_id) DO UPDATE SET plan_code = excluded.plan_code, "
        "period_start = excluded.period_start, period_end = excluded.period_end, updated_at = now() "
        "RETURNING plan_code",
        2, params);
    if (r == NULL)
        return ADMIN_FAIL;
    if (PQntuples(r) != 1) {
        fprintf(stderr, "3min: no account with the e-mail %s\n", email);
        PQclear(r);
        return ADMIN_FAIL;
    }
    printf("%s\n", PQgetvalue(r, 0, 0));
    PQclear(r);
    return ADMIN_OK;
}
