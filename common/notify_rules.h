/*
 * notify_rules — the one definition of which notification rule is in effect,
 * shared by the worker (queueing call_failed and deployed, the endpoint
 * detail view) and bin/jobs (queueing webhook_failed): the endpoint's own
 * rule wins, else the account-wide one (endpoint_id NULL), else off.
 *
 * NOTIFY_RULE_ENABLED(acct, ep, event) expands to an SQL boolean expression;
 * acct, ep and event are SQL expressions (parameters or columns) given as
 * string literals.
 */
#ifndef TM_NOTIFY_RULES_H
#define TM_NOTIFY_RULES_H

#define NOTIFY_RULE_ENABLED(acct, ep, event)                                                           \
    "coalesce((SELECT nr.enabled FROM notification_rules nr WHERE nr.account_id = " acct                \
    " AND nr.endpoint_id = " ep " AND nr.event = " event "), "                                          \
    "(SELECT nr.enabled FROM notification_rules nr WHERE nr.account_id = " acct                         \
    " AND nr.endpoint_id IS NULL AND nr.event = " event "), false)"

#endif
