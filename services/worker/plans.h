/*
 * plans — the arithmetic of plans and quotas (docs/PLANS.md), kept apart
 * from SQL so it can be unit-tested: whether a call is refused with 402,
 * which usage alert a counted call triggers, and the usage figures the
 * subscription tool shows.
 */
#ifndef TM_PLANS_H
#define TM_PLANS_H

#include <stdbool.h>

enum plans_alert { PLANS_ALERT_NONE = 0, PLANS_ALERT_80, PLANS_ALERT_100 };

/* Step 6 of the gateway: a hard-limit plan refuses a call once the calls
 * already counted this period reached the limit (so the call that reaches
 * the limit still succeeds and the one after it is refused). Plans without
 * a hard limit are never refused. */
bool plans_quota_blocks(bool hard_limit, long long limit, long long used);

/* The alert a counted call is due, given the count after it and whether each
 * alert is still unsent this period. 100% wins over 80% (the 80% alert is
 * then marked sent without a message, so a jump past both sends one). */
enum plans_alert plans_alert_due(long long calls, long long limit, bool alert80_pending, bool alert100_pending);

/* What the subscription tool shows: remaining (never negative) and percent
 * of the limit used (one decimal, may exceed 100 on enterprise). */
long long plans_remaining(long long limit, long long used);
double plans_percent(long long limit, long long used);

#endif
