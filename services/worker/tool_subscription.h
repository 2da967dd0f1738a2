/*
 * tool_subscription — the `subscription` tool (read scope): the account's
 * plan, status, current 30-day period, usage and billing (docs/PLANS.md).
 */
#ifndef TM_TOOL_SUBSCRIPTION_H
#define TM_TOOL_SUBSCRIPTION_H

#include "services/worker/tool.h"

enum tm_error tool_subscription(struct tool_ctx *ctx, const json_t *args, json_t **result);

#endif
