/*
 * plans — quota and alert arithmetic (see plans.h). Integers only where a
 * boundary is decided, so 80% of a limit is exact.
 */
#include "services/worker/plans.h"

#include <math.h>

bool plans_quota_blocks(bool hard_limit, long long limit, long long used)
{
    return hard_limit && limit > 0 && used >= limit;
}

enum plans_alert plans_alert_due(long long calls, long long limit, bool alert80_pending, bool alert100_pending)
{
    if (limit <= 0)
        return PLANS_ALERT_NONE;
    if (alert100_pending && calls >= limit)
        return PLANS_ALERT_100;
    /* calls >= 80% of limit, without rounding: 5 * calls >= 4 * limit. */
    if (alert80_pending && calls * 5 >= limit * 4)
        return PLANS_ALERT_80;
    return PLANS_ALERT_NONE;
}

long long plans_remaining(long long limit, long long used)
{
    return used >= limit ? 0 : limit - used;
}

double plans_percent(long long limit, long long used)
{
    if (limit <= 0)
        return 0;
    return round((double)used * 1000.0 / (double)limit) / 10.0;
}
