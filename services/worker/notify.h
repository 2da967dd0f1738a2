/*
 * notify — notification rules and the e-mail outbox on the worker's side
 * (docs/GATEWAY.md, "Outboxes for bin/jobs"): which events an endpoint
 * e-mails about, and queueing one such e-mail under the shared cool-down.
 * The gateway (call_failed) and endpoints_deploy (deployed) queue through
 * notify_queue; endpoints_update sets an endpoint's rules.
 */
#ifndef TM_NOTIFY_H
#define TM_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/notify_rules.h"
#include "services/worker/tool.h"

/* The events a rule of one endpoint can be set for by tools (in the order
 * of notify_effective's answer). usage_80/usage_100 are account events. */
#define NOTIFY_ENDPOINT_EVENTS 3
extern const char *const notify_endpoint_events[NOTIFY_ENDPOINT_EVENTS];

/* NOTIFY_RULE_ENABLED (the effective rule as SQL) is in common/notify_rules.h,
 * shared with bin/jobs. */

/* Queues an e-mail of kind event about endpoint_id, in the caller's
 * transaction, when the effective rule is on and the key
 * "<event>:<endpoint_id>" is not cooling down; the cool-down
 * (NOTIFY_COOLDOWN_S) is taken in the same statement, so concurrent
 * callers queue one message. *queued (may be NULL) tells whether it was.
 * On a database failure records it on ctx and returns its code. */
enum tm_error notify_queue(struct tool_ctx *ctx, const char *account_id, const char *endpoint_id,
                           const char *event, const char *subject, const char *body, bool *queued);

/* The effective rules of the endpoint, in notify_endpoint_events' order. */
enum tm_error notify_effective(struct tool_ctx *ctx, const char *account_id, const char *endpoint_id,
                               bool on[NOTIFY_ENDPOINT_EVENTS]);

/* Sets the endpoint's own rule for event (insert or update). */
enum tm_error notify_rule_set(struct tool_ctx *ctx, const char *account_id, const char *endpoint_id,
                              const char *event, bool enabled);

/* The index of event in notify_endpoint_events, or -1. */
int notify_event_index(const char *event);

#endif
