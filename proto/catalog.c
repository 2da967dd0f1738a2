/*
 * catalog — the MCP tool catalog (see catalog.h): one row per tool with its
 * title, a description written for the model that chooses tools, explicit
 * annotations, the scope it needs, and JSON schemas for arguments and result.
 *
 * The input schemas are what the edge validates arguments with, so they say
 * "additionalProperties": false everywhere: an argument the tool does not
 * know is an error, never silently ignored. The output schemas describe
 * exactly what the worker returns (required lists included), so a client can
 * rely on every key being present. Schemas use only the keywords that
 * common/jschema supports; catalog_init() checks this and aborts otherwise.
 *
 * Interface routines: catalog_init, catalog_find, scope_name, scopes_parse,
 * scopes_format.
 */
#include "proto/catalog.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>

#include "common/jschema.h"
#include "common/log.h"
#include "common/util.h"

/* ---- shared schema fragments (JSON text, pasted by the preprocessor) ---- */

/* The help topics; the unit tests check this list against docs/help. */
#define HELP_TOPIC_ENUM                                                                                   \
    "[\"overview\",\"getting_started\",\"endpoints\",\"fields\",\"environments\",\"deploy\",\"gateway\"," \
    "\"api_call\",\"webhooks\",\"notifications\",\"logs\",\"archives\",\"stats\",\"subscription\","       \
    "\"collaborators\",\"mcp\",\"safety\",\"errors\"]"

#define ENDPOINT_REF_SCHEMA "{\"type\":\"string\",\"minLength\":1,\"maxLength\":100}"

#define FIELD_VALIDATION_SCHEMA                                                   \
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"        \
    "\"min_length\":{\"type\":\"integer\",\"minimum\":0},"                        \
    "\"max_length\":{\"type\":\"integer\",\"minimum\":0},"                        \
    "\"pattern\":{\"type\":\"string\",\"maxLength\":200},"                        \
    "\"enum\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":50},"               \
    "\"minimum\":{\"type\":\"number\"},"                                          \
    "\"maximum\":{\"type\":\"number\"},"                                          \
    "\"format\":{\"type\":\"string\",\"enum\":[\"email\",\"url\",\"date-time\"]}}}"

#define FIELD_PROPERTIES                                                                                \
    "\"properties\":{"                                                                                  \
    "\"name\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z_][A-Za-z0-9_]{0,63}$\"},"                   \
    "\"type\":{\"type\":\"string\",\"enum\":[\"string\",\"number\",\"boolean\",\"array\",\"object\"]}," \
    "\"required\":{\"type\":\"boolean\"},"                                                              \
    "\"searchable\":{\"type\":\"boolean\"},"                                                            \
    "\"validation\":" FIELD_VALIDATION_SCHEMA "}"

/* A FieldDef as a caller writes it: only name and type are needed. */
#define FIELD_DEF_IN \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"type\"]," FIELD_PROPERTIES "}"

/* A FieldDef as the worker returns it: canonical, defaults filled in. */
#define FIELD_DEF_OUT                                                                                        \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"type\",\"required\","     \
    "\"searchable\"]," FIELD_PROPERTIES "}"

#define FIELDS_IN "{\"type\":\"array\",\"maxItems\":100,\"items\":" FIELD_DEF_IN "}"
#define FIELDS_OUT "{\"type\":\"array\",\"items\":" FIELD_DEF_OUT "}"

/* What fields_diff returns; "(name)"/"(description)" and "(notifications.<event>)"
 * entries carry {"value": ...}. */
#define DIFF_SCHEMA                                                                                        \
    "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"additionalProperties\":false,"                   \
    "\"required\":[\"field\",\"change\"],\"properties\":{"                                                 \
    "\"field\":{\"type\":\"string\"},"                                                                     \
    "\"change\":{\"type\":\"string\",\"enum\":[\"added\",\"removed\",\"changed\"]},"                       \
    "\"before\":{\"type\":\"object\"},"                                                                    \
    "\"after\":{\"type\":\"object\"}}}}"

#define DEPLOYMENT_SCHEMA                                                                                 \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"version\",\"deployed_at\",\"note\",\"via\",\"changes\"],\"properties\":{"            \
    "\"version\":{\"type\":\"integer\",\"minimum\":1},"                                                   \
    "\"deployed_at\":{\"type\":\"string\"},"                                                              \
    "\"note\":{\"type\":\"string\"},"                                                                     \
    "\"via\":{\"type\":\"string\",\"enum\":[\"mcp\",\"dashboard\",\"cli\"]},"                             \
    "\"changes\":{\"type\":\"integer\",\"minimum\":0}}}"

/* An owner key as tools show it: never the secret, e.g. {"masked": "tm_live_…abcd"}. */
#define MASKED_KEY_SCHEMA                                                                                 \
    "{\"type\":[\"object\",\"null\"],\"additionalProperties\":false,\"required\":[\"masked\"],"             \
    "\"properties\":{\"masked\":{\"type\":\"string\"}}}"

/* An environment's webhook; the auth value is never shown, only whether there is one. */
#define WEBHOOK_OUT                                                                                       \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"url\",\"auth_header_name\",\"has_auth_value\",\"enabled\"],\"properties\":{"         \
    "\"url\":{\"type\":[\"string\",\"null\"]},"                                                           \
    "\"auth_header_name\":{\"type\":[\"string\",\"null\"]},"                                              \
    "\"has_auth_value\":{\"type\":\"boolean\"},"                                                          \
    "\"enabled\":{\"type\":\"boolean\"}}}"

#define WEBHOOK_IN                                                                                        \
    "{\"type\":\"object\",\"additionalProperties\":false,\"minProperties\":1,\"properties\":{"             \
    "\"url\":{\"type\":[\"string\",\"null\"],\"maxLength\":2000},"                                        \
    "\"auth_header_name\":{\"type\":[\"string\",\"null\"],\"minLength\":1,\"maxLength\":100},"             \
    "\"auth_value\":{\"type\":[\"string\",\"null\"],\"maxLength\":1024},"                                 \
    "\"enabled\":{\"type\":\"boolean\"}}}"

/* An endpoint's e-mail notification rules: as set (in) and as in effect (out:
 * the endpoint's own rule, else the account-wide one, else off). */
#define NOTIFICATIONS_IN                                                                                  \
    "{\"type\":\"object\",\"additionalProperties\":false,\"minProperties\":1,\"properties\":{"             \
    "\"call_failed\":{\"type\":\"boolean\"},"                                                              \
    "\"webhook_failed\":{\"type\":\"boolean\"},"                                                           \
    "\"deployed\":{\"type\":\"boolean\"}}}"

#define NOTIFICATIONS_OUT                                                                                 \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"call_failed\",\"webhook_failed\",\"deployed\"],\"properties\":{"                    \
    "\"call_failed\":{\"type\":\"boolean\"},"                                                              \
    "\"webhook_failed\":{\"type\":\"boolean\"},"                                                           \
    "\"deployed\":{\"type\":\"boolean\"}}}"

#define ENDPOINT_DETAIL_SCHEMA                                                                            \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"id\",\"name\",\"slug\",\"description\",\"active\",\"created_at\",\"updated_at\","    \
    "\"urls\",\"sandbox\",\"production\",\"has_undeployed_changes\",\"pending_changes\",\"deployments\"," \
    "\"keys\",\"webhooks\",\"notifications\"],"                                                                          \
    "\"properties\":{"                                                                                    \
    "\"id\":{\"type\":\"string\"},"                                                                       \
    "\"name\":{\"type\":\"string\"},"                                                                     \
    "\"slug\":{\"type\":\"string\"},"                                                                     \
    "\"description\":{\"type\":\"string\"},"                                                              \
    "\"active\":{\"type\":\"boolean\"},"                                                                  \
    "\"created_at\":{\"type\":\"string\"},"                                                               \
    "\"updated_at\":{\"type\":\"string\"},"                                                               \
    "\"urls\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"gateway\"],"            \
    "\"properties\":{\"gateway\":{\"type\":\"string\"}}},"                                                \
    "\"sandbox\":{\"type\":\"object\",\"additionalProperties\":false,"                                    \
    "\"required\":[\"version\",\"fields\",\"updated_at\",\"test_calls\"],\"properties\":{"              \
    "\"version\":{\"type\":\"integer\",\"minimum\":0},"                                                   \
    "\"fields\":" FIELDS_OUT ","                                                                          \
    "\"updated_at\":{\"type\":\"string\"},"                                                               \
    "\"test_calls\":{\"type\":\"integer\",\"minimum\":0}}},"                                              \
    "\"production\":{\"type\":\"object\",\"additionalProperties\":false,"                                 \
    "\"required\":[\"version\",\"fields\",\"deployed_at\"],\"properties\":{"                              \
    "\"version\":{\"type\":\"integer\",\"minimum\":0},"                                                   \
    "\"fields\":" FIELDS_OUT ","                                                                          \
    "\"deployed_at\":{\"type\":[\"string\",\"null\"]}}},"                                                 \
    "\"has_undeployed_changes\":{\"type\":\"boolean\"},"                                                  \
    "\"pending_changes\":" DIFF_SCHEMA ","                                                                \
    "\"deployments\":{\"type\":\"array\",\"maxItems\":5,\"items\":" DEPLOYMENT_SCHEMA "},"              \
    "\"keys\":{\"type\":\"object\",\"additionalProperties\":false,"                                        \
    "\"required\":[\"sandbox\",\"production\"],\"properties\":{"                                          \
    "\"sandbox\":" MASKED_KEY_SCHEMA ",\"production\":" MASKED_KEY_SCHEMA "}},"                           \
    "\"webhooks\":{\"type\":\"object\",\"additionalProperties\":false,"                                    \
    "\"required\":[\"sandbox\",\"production\"],\"properties\":{"                                          \
    "\"sandbox\":" WEBHOOK_OUT ",\"production\":" WEBHOOK_OUT "}},"                                     \
    "\"notifications\":" NOTIFICATIONS_OUT "}}"

#define ENDPOINT_SUMMARY_SCHEMA                                                                            \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                 \
    "\"required\":[\"id\",\"name\",\"slug\",\"description\",\"active\",\"deployed\",\"prod_version\","     \
    "\"has_undeployed_changes\",\"field_count\",\"created_at\",\"updated_at\"],\"properties\":{"           \
    "\"id\":{\"type\":\"string\"},"                                                                        \
    "\"name\":{\"type\":\"string\"},"                                                                      \
    "\"slug\":{\"type\":\"string\"},"                                                                      \
    "\"description\":{\"type\":\"string\"},"                                                               \
    "\"active\":{\"type\":\"boolean\"},"                                                                   \
    "\"deployed\":{\"type\":\"boolean\"},"                                                                 \
    "\"prod_version\":{\"type\":\"integer\",\"minimum\":0},"                                               \
    "\"has_undeployed_changes\":{\"type\":\"boolean\"},"                                                   \
    "\"field_count\":{\"type\":\"integer\",\"minimum\":0},"                                                \
    "\"created_at\":{\"type\":\"string\"},"                                                                \
    "\"updated_at\":{\"type\":\"string\"}}}"

/* ---- the tools ---- */

#define HELP_IN                                                                      \
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"           \
    "\"topic\":{\"type\":\"string\",\"enum\":" HELP_TOPIC_ENUM "}}}"

#define HELP_OUT                                                                                      \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                            \
    "\"required\":[\"topic\",\"title\",\"content_md\",\"related\"],\"properties\":{"                  \
    "\"topic\":{\"type\":\"string\"},"                                                                \
    "\"title\":{\"type\":\"string\"},"                                                                \
    "\"content_md\":{\"type\":\"string\"},"                                                           \
    "\"related\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}"

#define LIST_IN                                                                           \
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"                \
    "\"cursor\":{\"type\":\"string\",\"maxLength\":200},"                                 \
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"                     \
    "\"status\":{\"type\":\"string\",\"enum\":[\"active\",\"inactive\",\"all\"]},"        \
    "\"query\":{\"type\":\"string\",\"maxLength\":64}}}"

#define LIST_OUT                                                                          \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                \
    "\"required\":[\"items\",\"next_cursor\"],\"properties\":{"                           \
    "\"items\":{\"type\":\"array\",\"items\":" ENDPOINT_SUMMARY_SCHEMA "},"               \
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}"

#define GET_IN                                                                                   \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\"],"           \
    "\"properties\":{\"endpoint\":" ENDPOINT_REF_SCHEMA "}}"

#define CREATE_IN                                                                               \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\"],"              \
    "\"properties\":{"                                                                          \
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"                          \
    "\"description\":{\"type\":\"string\",\"maxLength\":500},"                                  \
    "\"fields\":" FIELDS_IN "}}"

#define CREATE_OUT                                                                              \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                      \
    "\"required\":[\"endpoint\",\"next_steps\"],\"properties\":{"                               \
    "\"endpoint\":" ENDPOINT_DETAIL_SCHEMA ","                                                  \
    "\"next_steps\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}"

#define UPDATE_IN                                                                               \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\"],"          \
    "\"properties\":{"                                                                          \
    "\"endpoint\":" ENDPOINT_REF_SCHEMA ","                                                     \
    "\"environment\":{\"type\":\"string\",\"enum\":[\"sandbox\",\"production\"]},"              \
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"                          \
    "\"description\":{\"type\":\"string\",\"maxLength\":500},"                                  \
    "\"fields\":" FIELDS_IN ","                                                                 \
    "\"webhook\":" WEBHOOK_IN ","                                                               \
    "\"notifications\":" NOTIFICATIONS_IN ","                                                   \
    "\"dry_run\":{\"type\":\"boolean\"}}}"

#define UPDATE_OUT                                                                              \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                      \
    "\"required\":[\"endpoint\",\"diff\",\"changed\",\"dry_run\",\"deploy_required\"],"         \
    "\"properties\":{"                                                                          \
    "\"endpoint\":" ENDPOINT_DETAIL_SCHEMA ","                                                  \
    "\"diff\":" DIFF_SCHEMA ","                                                                 \
    "\"changed\":{\"type\":\"boolean\"},"                                                       \
    "\"dry_run\":{\"type\":\"boolean\"},"                                                       \
    "\"deploy_required\":{\"type\":\"boolean\"}}}"

#define DEPLOY_IN                                                                               \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\"],"          \
    "\"properties\":{"                                                                          \
    "\"endpoint\":" ENDPOINT_REF_SCHEMA ","                                                     \
    "\"note\":{\"type\":\"string\",\"maxLength\":500},"                                         \
    "\"dry_run\":{\"type\":\"boolean\"}}}"

#define DEPLOY_OUT                                                                              \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                      \
    "\"required\":[\"version\",\"deployed_at\",\"diff\",\"production_url\",\"dry_run\"],"       \
    "\"properties\":{"                                                                          \
    "\"version\":{\"type\":\"integer\",\"minimum\":1},"                                         \
    "\"deployed_at\":{\"type\":[\"string\",\"null\"]},"                                         \
    "\"diff\":" DIFF_SCHEMA ","                                                                 \
    "\"production_url\":{\"type\":\"string\"},"                                                 \
    "\"dry_run\":{\"type\":\"boolean\"}}}"

/* ---- the gateway's tools: logs, stats, api_call ---- */

#define ENDPOINT_REF_OUT                                                                                  \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"id\",\"slug\",\"name\"],"         \
    "\"properties\":{\"id\":{\"type\":\"string\"},\"slug\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"}}}"

#define LOG_ERROR_OUT                                                                                     \
    "{\"type\":[\"object\",\"null\"],\"additionalProperties\":false,\"required\":[\"code\",\"message\"],"  \
    "\"properties\":{\"code\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}}}"

/* A date or date-time; the worker checks the calendar and the time zone rules. */
#define TIME_IN                                                                                           \
    "{\"type\":\"string\",\"minLength\":10,\"maxLength\":40,"                                             \
    "\"pattern\":\"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9:.,]+([Zz]|[+-][0-9:]+)?)?$\"}"

#define DATE_IN "{\"type\":\"string\",\"pattern\":\"^[0-9]{4}-[0-9]{2}-[0-9]{2}$\"}"

#define RECORD_ID_IN "{\"type\":\"string\",\"pattern\":\"^rec_[0-9a-z]{1,40}$\"}"

#define LOGS_LOOKUP_IN                                                                                    \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\"],\"properties\":{"     \
    "\"endpoint\":" ENDPOINT_REF_SCHEMA ","                                                               \
    "\"log_id\":{\"type\":\"string\",\"pattern\":\"^[0-9a-fA-F-]{36}$\"},"                                \
    "\"record_id\":" RECORD_ID_IN ","                                                                     \
    "\"environment\":{\"type\":\"string\",\"enum\":[\"sandbox\",\"production\"]}}}"

#define LOGS_LOOKUP_OUT                                                                                   \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"log_id\",\"endpoint\",\"environment\",\"method\",\"record_id\",\"status_code\","     \
    "\"outcome\",\"error\",\"latency_ms\",\"caller\",\"collaboration_key_id\",\"ip\",\"created_at\","     \
    "\"processed_at\",\"archived\",\"payload\",\"request_body\",\"request_truncated\",\"response_body\","  \
    "\"response_truncated\",\"webhook\",\"record_history\"],\"properties\":{"                             \
    "\"log_id\":{\"type\":\"string\"},"                                                                   \
    "\"endpoint\":" ENDPOINT_REF_OUT ","                                                                  \
    "\"environment\":{\"type\":\"string\",\"enum\":[\"sandbox\",\"production\"]},"                        \
    "\"method\":{\"type\":\"string\"},"                                                                   \
    "\"record_id\":{\"type\":[\"string\",\"null\"]},"                                                     \
    "\"status_code\":{\"type\":\"integer\"},"                                                             \
    "\"outcome\":{\"type\":\"string\",\"enum\":[\"success\",\"failed\"]},"                                \
    "\"error\":" LOG_ERROR_OUT ","                                                                        \
    "\"latency_ms\":{\"type\":\"integer\"},"                                                              \
    "\"caller\":{\"type\":\"string\",\"enum\":[\"owner\",\"collaboration\",\"mcp\"]},"                    \
    "\"collaboration_key_id\":{\"type\":[\"string\",\"null\"]},"                                          \
    "\"ip\":{\"type\":[\"string\",\"null\"]},"                                                            \
    "\"created_at\":{\"type\":\"string\"},"                                                               \
    "\"processed_at\":{\"type\":[\"string\",\"null\"]},"                                                  \
    "\"archived\":{\"type\":\"boolean\"},"                                                                \
    "\"payload\":{\"type\":[\"object\",\"null\"]},"                                                       \
    "\"request_body\":{\"description\":\"the JSON sent, or its text when it was not JSON or was cut\"},"  \
    "\"request_truncated\":{\"type\":\"boolean\"},"                                                       \
    "\"response_body\":{\"description\":\"the JSON answered, or its text when it was cut\"},"             \
    "\"response_truncated\":{\"type\":\"boolean\"},"                                                      \
    "\"webhook\":{\"type\":[\"object\",\"null\"],\"additionalProperties\":false,"                         \
    "\"required\":[\"status\",\"attempts\",\"last_response_status\"],\"properties\":{"                    \
    "\"status\":{\"type\":\"string\",\"enum\":[\"pending\",\"delivered\",\"failed\"]},"                   \
    "\"attempts\":{\"type\":\"integer\"},"                                                                \
    "\"last_response_status\":{\"type\":[\"integer\",\"null\"]}}},"                                       \
    "\"record_history\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"additionalProperties\":false," \
    "\"required\":[\"log_id\",\"method\",\"status_code\",\"outcome\",\"created_at\"],\"properties\":{"    \
    "\"log_id\":{\"type\":\"string\"},\"method\":{\"type\":\"string\"},"                                  \
    "\"status_code\":{\"type\":\"integer\"},\"outcome\":{\"type\":\"string\"},"                           \
    "\"created_at\":{\"type\":\"string\"}}}}}}"

#define LOGS_SEARCH_IN                                                                                    \
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"                                \
    "\"endpoint\":" ENDPOINT_REF_SCHEMA ","                                                               \
    "\"environment\":{\"type\":\"string\",\"enum\":[\"sandbox\",\"production\",\"all\"]},"                \
    "\"query\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":500},"                                  \
    "\"status\":{\"type\":\"string\",\"enum\":[\"success\",\"failed\",\"all\"]},"                         \
    "\"status_code\":{\"type\":\"integer\",\"minimum\":100,\"maximum\":599},"                             \
    "\"method\":{\"type\":\"string\",\"enum\":[\"GET\",\"POST\",\"PUT\",\"DELETE\"]},"                    \
    "\"from\":" TIME_IN ","                                                                               \
    "\"to\":" TIME_IN ","                                                                                 \
    "\"date_basis\":{\"type\":\"string\",\"enum\":[\"created_at\",\"processed_at\"]},"                    \
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"                                     \
    "\"cursor\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200}}}"

#define LOGS_SEARCH_OUT                                                                                   \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"items\",\"next_cursor\",\"window\"]," \
    "\"properties\":{"                                                                                    \
    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"additionalProperties\":false,"        \
    "\"required\":[\"log_id\",\"record_id\",\"endpoint\",\"environment\",\"method\",\"status_code\","     \
    "\"outcome\",\"error\",\"latency_ms\",\"caller\",\"created_at\",\"payload_preview\"],\"properties\":{" \
    "\"log_id\":{\"type\":\"string\"},"                                                                   \
    "\"record_id\":{\"type\":[\"string\",\"null\"]},"                                                     \
    "\"endpoint\":" ENDPOINT_REF_OUT ","                                                                  \
    "\"environment\":{\"type\":\"string\",\"enum\":[\"sandbox\",\"production\"]},"                        \
    "\"method\":{\"type\":\"string\"},"                                                                   \
    "\"status_code\":{\"type\":\"integer\"},"                                                             \
    "\"outcome\":{\"type\":\"string\",\"enum\":[\"success\",\"failed\"]},"                                \
    "\"error\":" LOG_ERROR_OUT ","                                                                        \
    "\"latency_ms\":{\"type\":\"integer\"},"                                                              \
    "\"caller\":{\"type\":\"string\",\"enum\":[\"owner\",\"collaboration\",\"mcp\"]},"                    \
    "\"created_at\":{\"type\":\"string\"},"                                                               \
    "\"payload_preview\":{\"type\":[\"string\",\"null\"],\"maxLength\":300}}}},"                          \
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]},"                                                   \
    "\"window\":{\"type\":\"object\",\"additionalProperties\":false,"                                     \
    "\"required\":[\"from\",\"to\",\"tz\",\"date_basis\"],\"properties\":{"                               \
    "\"from\":{\"type\":\"string\"},\"to\":{\"type\":\"string\"},\"tz\":{\"type\":\"string\"},"           \
    "\"date_basis\":{\"type\":\"string\",\"enum\":[\"created_at\",\"processed_at\"]}}}}}"

#define STATS_COUNTS_PROPS                                                                                \
    "\"calls\":{\"type\":\"integer\",\"minimum\":0},"                                                     \
    "\"success\":{\"type\":\"integer\",\"minimum\":0},"                                                   \
    "\"failed\":{\"type\":\"integer\",\"minimum\":0},"                                                    \
    "\"avg_latency_ms\":{\"type\":[\"number\",\"null\"]}"

#define STATS_IN                                                                                          \
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"                                \
    "\"endpoint\":" ENDPOINT_REF_SCHEMA ","                                                               \
    "\"environment\":{\"type\":\"string\",\"enum\":[\"sandbox\",\"production\",\"all\"]},"                \
    "\"month\":{\"type\":\"string\",\"pattern\":\"^[0-9]{4}-[0-9]{2}$\"},"                                \
    "\"from\":" DATE_IN ","                                                                               \
    "\"to\":" DATE_IN ","                                                                                 \
    "\"granularity\":{\"type\":\"string\",\"enum\":[\"day\",\"month\"]}}}"

#define STATS_OUT                                                                                         \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"period\",\"totals\",\"daily\",\"by_endpoint\",\"by_collaboration_key\"],"            \
    "\"properties\":{"                                                                                    \
    "\"period\":{\"type\":\"object\",\"additionalProperties\":false,"                                     \
    "\"required\":[\"from\",\"to\",\"tz\",\"granularity\",\"environment\"],\"properties\":{"              \
    "\"from\":{\"type\":\"string\"},\"to\":{\"type\":\"string\"},\"tz\":{\"type\":\"string\"},"           \
    "\"granularity\":{\"type\":\"string\",\"enum\":[\"day\",\"month\"]},"                                 \
    "\"environment\":{\"type\":\"string\",\"enum\":[\"sandbox\",\"production\",\"all\"]}}},"              \
    "\"totals\":{\"type\":\"object\",\"additionalProperties\":false,"                                     \
    "\"required\":[\"calls\",\"success\",\"failed\",\"avg_latency_ms\"],\"properties\":{" STATS_COUNTS_PROPS "}}," \
    "\"daily\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"additionalProperties\":false,"        \
    "\"required\":[\"day\",\"calls\",\"success\",\"failed\",\"avg_latency_ms\"],\"properties\":{"         \
    "\"day\":{\"type\":\"string\"}," STATS_COUNTS_PROPS "}}},"                                            \
    "\"by_endpoint\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"additionalProperties\":false,"  \
    "\"required\":[\"endpoint\",\"calls\",\"success\",\"failed\",\"avg_latency_ms\"],\"properties\":{"    \
    "\"endpoint\":" ENDPOINT_REF_OUT "," STATS_COUNTS_PROPS "}}},"                                        \
    "\"by_collaboration_key\":{\"type\":\"array\",\"items\":{\"type\":\"object\","                        \
    "\"additionalProperties\":false,"                                                                     \
    "\"required\":[\"collaboration_key_id\",\"name\",\"calls\",\"success\",\"failed\",\"avg_latency_ms\"]," \
    "\"properties\":{\"collaboration_key_id\":{\"type\":[\"string\",\"null\"]},"                          \
    "\"name\":{\"type\":[\"string\",\"null\"]}," STATS_COUNTS_PROPS "}}}}}"

#define API_CALL_IN                                                                                       \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\",\"method\"],"         \
    "\"properties\":{"                                                                                    \
    "\"endpoint\":" ENDPOINT_REF_SCHEMA ","                                                               \
    "\"method\":{\"type\":\"string\",\"enum\":[\"GET\",\"POST\",\"PUT\",\"DELETE\"]},"                    \
    "\"environment\":{\"type\":\"string\",\"enum\":[\"sandbox\",\"production\"]},"                        \
    "\"record_id\":" RECORD_ID_IN ","                                                                     \
    "\"body\":{\"type\":\"object\",\"additionalProperties\":true,"                                       \
    "\"description\":\"the record: any JSON object; the gateway checks it against the fields\"},"             \
    "\"search\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"q\"],\"properties\":{" \
    "\"q\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":500},"                                      \
    "\"from\":{\"type\":\"string\",\"maxLength\":40},"                                                    \
    "\"to\":{\"type\":\"string\",\"maxLength\":40}}},"                                                    \
    "\"cursor\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},"                                 \
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":30}}}"

#define API_CALL_OUT                                                                                      \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"request\",\"response\",\"log_id\",\"latency_ms\"],\"properties\":{"                  \
    "\"request\":{\"type\":\"object\",\"additionalProperties\":false,"                                    \
    "\"required\":[\"method\",\"url\",\"environment\"],\"properties\":{"                                  \
    "\"method\":{\"type\":\"string\"},\"url\":{\"type\":\"string\"},"                                     \
    "\"environment\":{\"type\":\"string\",\"enum\":[\"sandbox\",\"production\"]}}},"                      \
    "\"response\":{\"type\":\"object\",\"additionalProperties\":false,"                                   \
    "\"required\":[\"status\",\"headers\",\"body\"],\"properties\":{"                                     \
    "\"status\":{\"type\":\"integer\"},\"headers\":{\"type\":\"object\"},\"body\":{\"type\":\"object\"}}}," \
    "\"log_id\":{\"type\":[\"string\",\"null\"]},"                                                        \
    "\"latency_ms\":{\"type\":\"integer\",\"minimum\":0}}}"

/* ---- subscription ---- */

#define SUBSCRIPTION_IN "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{}}"

#define SUBSCRIPTION_OUT                                                                                  \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"plan\",\"status\",\"period\",\"usage\",\"billing\",\"manage_url\"],\"properties\":{" \
    "\"plan\":{\"type\":\"object\",\"additionalProperties\":false,"                                       \
    "\"required\":[\"code\",\"limit\",\"price_usd\",\"overage_per_call\"],\"properties\":{"               \
    "\"code\":{\"type\":\"string\",\"enum\":[\"free\",\"basic\",\"pro\",\"enterprise\"]},"                \
    "\"limit\":{\"type\":\"integer\",\"minimum\":1},\"price_usd\":{\"type\":\"number\",\"minimum\":0},"     \
    "\"overage_per_call\":{\"type\":[\"number\",\"null\"]}}},"                                              \
    "\"status\":{\"type\":\"string\",\"enum\":[\"active\",\"canceled\",\"past_due\"]},"                   \
    "\"period\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"start\",\"end\"],"        \
    "\"properties\":{\"start\":{\"type\":\"string\"},\"end\":{\"type\":\"string\"}}},"                      \
    "\"usage\":{\"type\":\"object\",\"additionalProperties\":false,"                                      \
    "\"required\":[\"used\",\"limit\",\"remaining\",\"percent\",\"overage_calls\"],\"properties\":{"         \
    "\"used\":{\"type\":\"integer\",\"minimum\":0},\"limit\":{\"type\":\"integer\",\"minimum\":1},"         \
    "\"remaining\":{\"type\":\"integer\",\"minimum\":0},\"percent\":{\"type\":\"number\",\"minimum\":0},"   \
    "\"overage_calls\":{\"type\":\"integer\",\"minimum\":0}}},"                                            \
    "\"billing\":{\"type\":\"object\",\"additionalProperties\":false,"                                    \
    "\"required\":[\"provider\",\"next_billing_at\",\"cancel_at_period_end\"],\"properties\":{"            \
    "\"provider\":{\"type\":\"string\",\"enum\":[\"manual\",\"paddle\"]},"                                  \
    "\"next_billing_at\":{\"type\":[\"string\",\"null\"]},"                                                 \
    "\"cancel_at_period_end\":{\"type\":\"boolean\"}}},"                                                     \
    "\"manage_url\":{\"type\":\"string\"}}}"

/* ---- collaborators ---- */

#define PERMISSIONS_PROPS                                                                                  \
    "\"create\":{\"type\":\"boolean\"},\"read\":{\"type\":\"boolean\"},\"update\":{\"type\":\"boolean\"}," \
    "\"delete\":{\"type\":\"boolean\"}"
#define PERMISSIONS_IN "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{" PERMISSIONS_PROPS "}}"
#define KEY_ID_SCHEMA "{\"type\":\"string\",\"minLength\":1,\"maxLength\":40}"

#define COLLAB_ENV_KEY                                                                       \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"active\",\"masked\"]," \
    "\"properties\":{\"active\":{\"type\":\"boolean\"},\"masked\":{\"type\":[\"string\",\"null\"]}}}"

#define COLLAB_KEY_OUT                                                                                            \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                        \
    "\"required\":[\"id\",\"name\",\"description\",\"permissions\",\"sandbox\",\"production\",\"invitations\"],"  \
    "\"properties\":{\"id\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"                                \
    "\"description\":{\"type\":\"string\"},"                                                                     \
    "\"permissions\":{\"type\":\"object\",\"additionalProperties\":false,"                                        \
    "\"required\":[\"create\",\"read\",\"update\",\"delete\"],\"properties\":{" PERMISSIONS_PROPS "}},"           \
    "\"sandbox\":" COLLAB_ENV_KEY ",\"production\":" COLLAB_ENV_KEY ","                                           \
    "\"invitations\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"accepted\",\"pending\"]," \
    "\"properties\":{\"accepted\":{\"type\":\"integer\",\"minimum\":0},"                                         \
    "\"pending\":{\"type\":\"integer\",\"minimum\":0}}}}}"

#define COLLAB_LIST_KEYS_IN                                                                    \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\"],"        \
    "\"properties\":{\"endpoint\":" ENDPOINT_REF_SCHEMA "}}"
#define COLLAB_LIST_KEYS_OUT                                                                   \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint_id\",\"keys\"]," \
    "\"properties\":{\"endpoint_id\":{\"type\":\"string\"},"                                  \
    "\"keys\":{\"type\":\"array\",\"items\":" COLLAB_KEY_OUT "}}}"

#define COLLAB_KEY_REF_OUT                                                                     \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"id\",\"name\"],"      \
    "\"properties\":{\"id\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"}}}"

#define COLLAB_LIST_INVITES_IN                                                                         \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\"],"                \
    "\"properties\":{\"endpoint\":" ENDPOINT_REF_SCHEMA ",\"key_id\":" KEY_ID_SCHEMA ","              \
    "\"status\":{\"type\":\"string\",\"enum\":[\"pending\",\"accepted\",\"expired\",\"revoked\",\"all\"]}}}"
#define COLLAB_LIST_INVITES_OUT                                                                                 \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint_id\",\"items\"],"              \
    "\"properties\":{\"endpoint_id\":{\"type\":\"string\"},\"items\":{\"type\":\"array\",\"items\":"             \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                      \
    "\"required\":[\"id\",\"email\",\"key\",\"status\",\"invited_at\",\"expires_at\",\"accepted_at\"],"         \
    "\"properties\":{\"id\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"},\"key\":" COLLAB_KEY_REF_OUT "," \
    "\"status\":{\"type\":\"string\",\"enum\":[\"pending\",\"accepted\",\"expired\",\"revoked\"]},"              \
    "\"invited_at\":{\"type\":\"string\"},\"expires_at\":{\"type\":\"string\"},"                                \
    "\"accepted_at\":{\"type\":[\"string\",\"null\"]}}}}}}"

#define COLLAB_CREATE_KEY_IN                                                                        \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\",\"name\"],"    \
    "\"properties\":{\"endpoint\":" ENDPOINT_REF_SCHEMA ","                                         \
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"                              \
    "\"description\":{\"type\":\"string\",\"maxLength\":500},\"permissions\":" PERMISSIONS_IN "}}"
#define COLLAB_CREATE_KEY_OUT                                                                               \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint_id\",\"key\",\"secrets\"]," \
    "\"properties\":{\"endpoint_id\":{\"type\":\"string\"},\"key\":" COLLAB_KEY_OUT ","                     \
    "\"secrets\":{\"type\":\"string\"}}}"

#define COLLAB_UPDATE_PERMS_IN                                                                                    \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\",\"key_id\",\"permissions\"]," \
    "\"properties\":{\"endpoint\":" ENDPOINT_REF_SCHEMA ",\"key_id\":" KEY_ID_SCHEMA ","                          \
    "\"permissions\":" PERMISSIONS_IN "}}"
#define COLLAB_UPDATE_PERMS_OUT                                                                    \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint_id\",\"key\"]," \
    "\"properties\":{\"endpoint_id\":{\"type\":\"string\"},\"key\":" COLLAB_KEY_OUT "}}"

#define COLLAB_INVITE_IN                                                                             \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\",\"email\"],"    \
    "\"properties\":{\"endpoint\":" ENDPOINT_REF_SCHEMA ","                                          \
    "\"email\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":254},\"key_id\":" KEY_ID_SCHEMA "," \
    "\"message\":{\"type\":\"string\",\"maxLength\":1000}}}"
#define COLLAB_INVITE_OUT                                                                                       \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"invitation\",\"already_pending\"],"     \
    "\"properties\":{\"invitation\":{\"type\":\"object\",\"additionalProperties\":false,"                       \
    "\"required\":[\"id\",\"email\",\"status\",\"expires_at\",\"key\"],"                                       \
    "\"properties\":{\"id\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"},"                             \
    "\"status\":{\"type\":\"string\",\"enum\":[\"pending\"]},\"expires_at\":{\"type\":\"string\"},"             \
    "\"key\":" COLLAB_KEY_REF_OUT "}},\"already_pending\":{\"type\":\"boolean\"}}}"

#define ARCHIVE_FORMATS_OUT                                                                               \
    "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"additionalProperties\":false,"                  \
    "\"required\":[\"format\",\"size_bytes\",\"sha256\"],\"properties\":{"                                \
    "\"format\":{\"type\":\"string\",\"enum\":[\"jsonl\",\"csv\"]},\"size_bytes\":{\"type\":\"integer\"}," \
    "\"sha256\":{\"type\":\"string\"}}}}"

#define ARCHIVES_LIST_IN                                                                                  \
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"                                \
    "\"endpoint\":" ENDPOINT_REF_SCHEMA ","                                                               \
    "\"from\":{\"type\":\"string\",\"pattern\":\"^[0-9]{4}-[0-9]{2}-[0-9]{2}$\"},"                        \
    "\"to\":{\"type\":\"string\",\"pattern\":\"^[0-9]{4}-[0-9]{2}-[0-9]{2}$\"},"                          \
    "\"cursor\":{\"type\":\"string\",\"maxLength\":200},"                                                 \
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100}}}"

#define ARCHIVES_LIST_OUT                                                                                 \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"items\",\"next_cursor\"],"       \
    "\"properties\":{\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\","                       \
    "\"additionalProperties\":false,"                                                                     \
    "\"required\":[\"id\",\"endpoint\",\"day\",\"record_count\",\"size_bytes\",\"formats\"],"             \
    "\"properties\":{\"id\":{\"type\":\"string\"},\"endpoint\":" ENDPOINT_REF_OUT ","                     \
    "\"day\":{\"type\":\"string\"},\"record_count\":{\"type\":\"integer\"},"                              \
    "\"size_bytes\":{\"type\":\"integer\"},\"formats\":" ARCHIVE_FORMATS_OUT "}}},"                       \
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]},"                                                     \
    "\"summary\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"additionalProperties\":false,"       \
    "\"required\":[\"endpoint\",\"files\",\"record_count\",\"size_bytes\",\"oldest_day\",\"newest_day\"],"   \
    "\"properties\":{\"endpoint\":" ENDPOINT_REF_OUT ",\"files\":{\"type\":\"integer\"},"                  \
    "\"record_count\":{\"type\":\"integer\"},\"size_bytes\":{\"type\":\"integer\"},"                     \
    "\"oldest_day\":{\"type\":\"string\"},\"newest_day\":{\"type\":\"string\"}}}}}}"

#define ARCHIVES_DOWNLOAD_IN                                                                              \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"archive_id\"],\"properties\":{"  \
    "\"archive_id\":{\"type\":\"string\",\"pattern\":\"^[0-9a-fA-F-]{36}$\"},"                            \
    "\"format\":{\"type\":\"string\",\"enum\":[\"jsonl\",\"csv\"]}}}"

#define ARCHIVES_DOWNLOAD_OUT                                                                             \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"url\",\"expires_at\",\"filename\",\"format\",\"size_bytes\",\"sha256\"],"            \
    "\"properties\":{\"url\":{\"type\":\"string\"},\"expires_at\":{\"type\":\"string\"},"                 \
    "\"filename\":{\"type\":\"string\"},\"format\":{\"type\":\"string\",\"enum\":[\"jsonl\",\"csv\"]},"   \
    "\"size_bytes\":{\"type\":\"integer\"},\"sha256\":{\"type\":\"string\"}}}"

#define LOGS_FETCH_ARCHIVED_IN                                                                            \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"endpoint\"],\"properties\":{"     \
    "\"endpoint\":" ENDPOINT_REF_SCHEMA ","                                                               \
    "\"log_id\":{\"type\":\"string\",\"pattern\":\"^[0-9a-fA-F-]{36}$\"},"                                \
    "\"record_id\":" RECORD_ID_IN "}}"

#define LOGS_FETCH_ARCHIVED_OUT                                                                           \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"log_id\",\"record_id\",\"created_at\",\"payload\",\"response\",\"archive\"],"        \
    "\"properties\":{\"log_id\":{\"type\":\"string\"},\"record_id\":{\"type\":[\"string\",\"null\"]},"    \
    "\"created_at\":{\"type\":\"string\"},\"payload\":{},\"response\":{},"                                \
    "\"archive\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"id\",\"day\",\"line\"]," \
    "\"properties\":{\"id\":{\"type\":\"string\"},\"day\":{\"type\":\"string\"},"                         \
    "\"line\":{\"type\":\"integer\"}}}}}"

struct tool_def catalog_tools[] = {
    {
        .name = "help",
        .title = "3Min API help",
        .description =
            "Explains how 3Min API works: endpoints and their fields, sandbox and production, deploys, the "
            "gateway URL and keys, webhooks, logs, archives, stats, plans, collaborators, MCP access, and which "
            "actions are only possible in the web dashboard. Call it without a topic to get the index of topics, "
            "or with a topic when the user asks how something works, when you need the exact field-definition "
            "format before creating an endpoint, or when the user asks for something no tool offers (topic "
            "\"safety\"). Returns {topic, title, content_md (Markdown), related (topic names)}. Reads no "
            "account data.",
        .input_schema = HELP_IN,
        .output_schema = HELP_OUT,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "endpoints_list",
        .title = "List API endpoints",
        .description =
            "Lists the user's 3Min API endpoints, newest first. Each item has id, name, slug, description, "
            "whether it is active, whether it has been deployed and its production version, whether the sandbox "
            "has changes not yet deployed, and the number of fields. Use it to answer \"what endpoints do I "
            "have\" or to find the endpoint the user means. Optional: status (active, inactive or all; default "
            "all), query (text matched against name and slug), limit (1-100, default 20) and cursor (the "
            "next_cursor of the previous page). Returns {items, next_cursor}; next_cursor is null on the last "
            "page.",
        .input_schema = LIST_IN,
        .output_schema = LIST_OUT,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "endpoints_get",
        .title = "Get an API endpoint",
        .description =
            "Returns one endpoint in full: its gateway URL, the sandbox and production field definitions with "
            "their versions, whether the sandbox has undeployed changes and the pending diff (pending_changes), "
            "and the last 5 deploys. endpoint is the endpoint's id, slug or name (case-insensitive). Use it to "
            "show an endpoint's configuration, and before endpoints_update or endpoints_deploy to show the user "
            "what exists and what a deploy would change. An endpoint that does not exist is not_found.",
        .input_schema = GET_IN,
        .output_schema = ENDPOINT_DETAIL_SCHEMA,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "endpoints_create",
        .title = "Create an API endpoint",
        .description =
            "Creates a new 3Min API endpoint: a hosted REST URL that stores, logs and returns the JSON records "
            "sent to it. Give a name (1-64 characters, unique in the account), an optional description and "
            "optional field definitions; each field is {name, type: string|number|boolean|array|object, "
            "required?, searchable? (strings only), validation? {min_length, max_length, pattern, enum, minimum, "
            "maximum, format: email|url|date-time}}. Keys that are not defined fields are still accepted in "
            "records. The endpoint starts in the sandbox (keys tm_test_); production is live only after "
            "endpoints_deploy. Confirm the name and fields with the user before calling. Returns {endpoint, "
            "next_steps}. A name already in use is conflict.",
        .input_schema = CREATE_IN,
        .output_schema = CREATE_OUT,
        .read_only = false, .destructive = false, .idempotent = false, .open_world = false,
        .scope = SCOPE_WRITE,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "endpoints_update",
        .title = "Update an API endpoint",
        .description =
            "Changes an endpoint's name or description, or replaces its sandbox field definitions. fields is a "
            "full replacement: send every field that should remain, since a field left out is removed. Field "
            "changes apply to the sandbox only (environment defaults to sandbox; fields with environment "
            "\"production\" are refused) and reach production through endpoints_deploy. Use dry_run: true to "
            "get the diff without changing anything, show it to the user, then call again without dry_run. "
            "webhook sets the environment's webhook, fired after each successful write: {url (null removes it), "
            "auth_header_name, auth_value (sent as that header), enabled}; with environment \"production\" it sets "
            "production's. "
            "notifications turns this endpoint's e-mails to the account's address on or off: {call_failed, "
            "webhook_failed, deployed} (booleans; keys left out are unchanged); they take effect at once, for "
            "both environments, without a deploy, and win over account-wide rules. "
            "endpoint is the id, slug or name. Returns {endpoint, diff, changed, dry_run, deploy_required}; "
            "deploy_required tells whether the sandbox now differs from production.",
        .input_schema = UPDATE_IN,
        .output_schema = UPDATE_OUT,
        .read_only = false, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_WRITE,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "endpoints_deploy",
        .title = "Deploy an API endpoint to production",
        .description =
            "Publishes the endpoint's sandbox field definitions to production as the next version, so calls "
            "with the production key (tm_live_) are validated with them. Stored records are kept and nothing is "
            "deleted. Before deploying, show the user the pending changes (endpoints_get, or this tool with "
            "dry_run: true, which changes nothing) and get their confirmation. note is an optional message kept "
            "in the deploy history. When the endpoint's deployed notification is on (endpoints_update), an "
            "e-mail goes to the account's address. endpoint is the id, slug or name. Returns {version, "
            "deployed_at, diff, "
            "production_url, dry_run}. Fails with precondition_failed when there is nothing to deploy, or when "
            "the sandbox has had no test call yet (send one with api_call first).",
        .input_schema = DEPLOY_IN,
        .output_schema = DEPLOY_OUT,
        .read_only = false, .destructive = false, .idempotent = false, .open_world = false,
        .scope = SCOPE_WRITE,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "logs_lookup",
        .title = "Look up a call log entry",
        .description =
            "Returns one gateway call log entry in full: method, record id, status code, outcome, error {code, "
            "message}, latency, caller (owner key, collaboration key or mcp), IP, received and processed times, "
            "the request and response bodies (up to 16 KB each), the webhook delivery {status, attempts, "
            "last_response_status}, and the other calls of the same record (record_history). endpoint is the "
            "endpoint's id, slug or name. Give exactly one of log_id (from logs_search or api_call) or record_id "
            "(rec_...: the record's latest call). environment narrows a record_id lookup to sandbox or production. "
            "Archived entries have archived: true and null bodies. Missing entries are not_found.",
        .input_schema = LOGS_LOOKUP_IN,
        .output_schema = LOGS_LOOKUP_OUT,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "logs_search",
        .title = "Search call logs",
        .description =
            "Searches the gateway call logs of the user's endpoints, newest first. All filters are optional: "
            "endpoint (id, slug or name; omit for every endpoint), environment (sandbox, production or all; "
            "default all), query (words in web-search syntax: \"exact phrase\", -word, or; matched against record "
            "ids, error codes and messages and the body's text), status (success, failed or all), status_code, "
            "method, from and to (ISO dates or date-times; a date or a time without offset is in the account's "
            "time zone, and a date `to` includes that whole day), date_basis (created_at or processed_at). The "
            "window defaults to the last 7 days and may be at most 93 days. limit 1-100 (default 20); cursor is "
            "the next_cursor of the previous page. Returns {items [{log_id, record_id, endpoint, method, "
            "status_code, outcome, error, latency_ms, caller, created_at, payload_preview}], next_cursor, window}. "
            "Use logs_lookup for one entry in full.",
        .input_schema = LOGS_SEARCH_IN,
        .output_schema = LOGS_SEARCH_OUT,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "logs_fetch_archived",
        .title = "Fetch an archived log entry",
        .description =
            "Returns the request body (payload) and response of a production call log entry that has been "
            "archived (logs_lookup shows archived: true and null bodies for it), read back from the daily "
            "archive file. endpoint is the endpoint's id, slug or name; give exactly one of log_id or record_id "
            "(rec_...: the record's latest archived entry). Returns {log_id, record_id, created_at, payload, "
            "response, archive {id, day, line}}. Entries that are not archived are not_found here; so are entries "
            "whose archive file was deleted in the dashboard, with details {reason: archive_deleted, day, deleted_at}.",
        .input_schema = LOGS_FETCH_ARCHIVED_IN,
        .output_schema = LOGS_FETCH_ARCHIVED_OUT,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "stats",
        .title = "Call statistics",
        .description =
            "Counts gateway calls: totals {calls, success, failed, avg_latency_ms}, a series per day (or per "
            "month with granularity: month; every day of the period is listed), and the split by endpoint and by "
            "collaboration key (the owner's row covers the owner key and api_call). Optional: endpoint (id, slug "
            "or name), environment (production by default; sandbox or all), and either month (YYYY-MM) or from/to "
            "(dates, inclusive; to defaults to today, from to 30 days before to); with neither, the current "
            "month. Days are UTC days (period.tz). The 30-day billing period is not the calendar month.",
        .input_schema = STATS_IN,
        .output_schema = STATS_OUT,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "archives_list",
        .title = "List log archives",
        .description =
            "Lists the daily archives of the user's production call logs, newest day first: production logs "
            "older than the retention period (30 days) are moved into one file per endpoint and UTC day, in "
            "gzipped JSON Lines and CSV. Optional: endpoint (id, slug or name), from and to (UTC days, "
            "YYYY-MM-DD, inclusive), limit 1-100 (default 30), cursor (next_cursor of the previous page). "
            "Returns {items [{id, endpoint {id, slug, name}, day, record_count, size_bytes, formats [{format, "
            "size_bytes, sha256}]}], next_cursor}; with no endpoint also summary [{endpoint, files, "
            "record_count, size_bytes, oldest_day, newest_day}], one row per endpoint within from/to, not "
            "paged. Use archives_download for a download link.",
        .input_schema = ARCHIVES_LIST_IN,
        .output_schema = ARCHIVES_LIST_OUT,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "archives_download",
        .title = "Download link for a log archive",
        .description =
            "Returns a signed download link for one archive from archives_list: format jsonl (gzipped JSON "
            "Lines, the default) or csv. The link works without credentials until expires_at (15 minutes), so "
            "hand it only to the user. Returns {url, expires_at, filename, format, size_bytes, sha256}; the "
            "SHA-256 is of the file as downloaded. Unknown archives are not_found.",
        .input_schema = ARCHIVES_DOWNLOAD_IN,
        .output_schema = ARCHIVES_DOWNLOAD_OUT,
        .read_only = true, .destructive = false, .idempotent = false, .open_world = true,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "api_call",
        .title = "Call an API endpoint",
        .description =
            "Sends a request to one of the user's endpoints through the real gateway, as the owner (no key "
            "needed), and returns what an app would get. method: POST creates a record from body (a JSON object), "
            "GET lists records (cursor, limit 1-30), reads one (record_id) or searches (search {q, from?, to?}), "
            "PUT replaces a record (record_id and body), DELETE deletes a record (record_id; never the endpoint). "
            "environment defaults to sandbox; a sandbox call is the test a first deploy needs. Write to "
            "production only when the user asks. The call is logged (caller mcp) and counted like any call. "
            "Returns {request {method, url, environment}, response {status, headers, body}, log_id, latency_ms}: "
            "gateway errors such as 400 missing_required_fields are in response, not tool errors.",
        .input_schema = API_CALL_IN,
        .output_schema = API_CALL_OUT,
        .read_only = false, .destructive = true, .idempotent = false, .open_world = true,
        .scope = SCOPE_EXECUTE,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "subscription",
        .title = "Plan and usage",
        .description =
            "Shows the account's plan and how much of it is used in the current 30-day billing period (periods "
            "run from the account's creation, not calendar months). Takes no arguments. Returns {plan {code, "
            "limit, price_usd, overage_per_call}, status, period {start, end}, usage {used, limit, remaining, "
            "percent, overage_calls}, billing {provider, next_billing_at, cancel_at_period_end}, manage_url}. "
            "free, basic and pro refuse gateway calls with 402 quota_exceeded once the limit is used; enterprise "
            "continues and counts overage_calls. Sandbox and production calls both count. Changing or cancelling "
            "the plan is not possible over MCP: send the user to manage_url.",
        .input_schema = SUBSCRIPTION_IN,
        .output_schema = SUBSCRIPTION_OUT,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "collaborators_list_keys",
        .title = "List collaboration keys",
        .description =
            "Lists an endpoint's collaboration keys: keys the owner gives to other people or apps, each with a "
            "name, a description, CRUD permissions {create, read, update, delete} (POST, GET, PUT, DELETE on the "
            "gateway), a key per environment {active, masked} and how many invitations were accepted and are "
            "pending. Secrets are masked; the full keys are only in the dashboard. endpoint is the id, slug or "
            "name. Returns {endpoint_id, keys}.",
        .input_schema = COLLAB_LIST_KEYS_IN,
        .output_schema = COLLAB_LIST_KEYS_OUT,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "collaborators_list_invitations",
        .title = "List collaborator invitations",
        .description =
            "Lists the invitations sent for an endpoint's collaboration keys, newest first: {id, email, key {id, "
            "name}, status (pending, accepted, expired or revoked), invited_at, expires_at, accepted_at}. "
            "Optional: key_id (one key) and status (default all). endpoint is the id, slug or name. Returns "
            "{endpoint_id, items}.",
        .input_schema = COLLAB_LIST_INVITES_IN,
        .output_schema = COLLAB_LIST_INVITES_OUT,
        .read_only = true, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_READ,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "collaborators_create_key",
        .title = "Create a collaboration key",
        .description =
            "Creates a collaboration key on an endpoint: a sandbox key (tm_test_) and a production key (tm_live_) "
            "that work on the gateway with the given permissions {create, read, update, delete} (booleans; "
            "default create and read only). name (1-64 characters) must be unique on the endpoint; description "
            "is optional. The answer shows the keys masked: the full secrets are shown only in the dashboard, "
            "never here. Invite people to the key with collaborators_invite. Returns {endpoint_id, key, secrets}. "
            "A name already used on the endpoint is conflict.",
        .input_schema = COLLAB_CREATE_KEY_IN,
        .output_schema = COLLAB_CREATE_KEY_OUT,
        .read_only = false, .destructive = false, .idempotent = false, .open_world = false,
        .scope = SCOPE_WRITE,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "collaborators_update_permissions",
        .title = "Change a collaboration key's permissions",
        .description =
            "Changes the CRUD permissions of one collaboration key (key_id from collaborators_list_keys): "
            "permissions {create?, read?, update?, delete?} as booleans; bits left out stay as they are, and at "
            "least one must be given. They apply to both environments at once. Confirm with the user before "
            "granting update or delete. endpoint is the id, slug or name. Returns {endpoint_id, key}. An unknown "
            "key is not_found.",
        .input_schema = COLLAB_UPDATE_PERMS_IN,
        .output_schema = COLLAB_UPDATE_PERMS_OUT,
        .read_only = false, .destructive = false, .idempotent = true, .open_world = false,
        .scope = SCOPE_WRITE,
        .op = ENV_OP_TOOL,
    },
    {
        .name = "collaborators_invite",
        .title = "Invite a collaborator",
        .description =
            "Invites someone by e-mail to use an endpoint's collaboration key. key_id may be left out when the "
            "endpoint has exactly one key; with none the call fails with precondition_failed (create one with "
            "collaborators_create_key first), with several it fails with a validation error listing them. The "
            "invitation e-mail (with an optional message, up to 1000 characters) carries a link that the person "
            "opens and accepts after signing in with that address; it works once and expires after 7 days. "
            "Inviting an address that already has a pending invitation to the key returns that invitation "
            "(already_pending: true) and sends nothing. Invalid addresses, the account's own address and more "
            "than 20 invitations per day are refused. Returns {invitation {id, email, status, expires_at, key}, "
            "already_pending}.",
        .input_schema = COLLAB_INVITE_IN,
        .output_schema = COLLAB_INVITE_OUT,
        .read_only = false, .destructive = false, .idempotent = false, .open_world = false,
        .scope = SCOPE_WRITE,
        .op = ENV_OP_TOOL,
    },
};
const size_t catalog_tool_count = TM_ARRAY_LEN(catalog_tools);

/* ---- initialisation ---- */

static bool valid_tool_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 128) return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-') ||
            (unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

static json_t *load_schema(const struct tool_def *t, const char *which, const char *text)
{
    json_error_t jerr;
    json_t *s = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!s) fatal("catalog: %s %s schema is not JSON: %s (column %d)", t->name, which, jerr.text, jerr.column);
    char err[256];
    if (!jschema_check_schema(s, err, sizeof err)) fatal("catalog: %s %s schema: %s", t->name, which, err);
    if (!json_is_object(s) || !json_is_string(json_object_get(s, "type")) ||
        strcmp(json_string_value(json_object_get(s, "type")), "object") != 0)
        fatal("catalog: %s %s schema: root must be type object", t->name, which);
    return s;
}

static void build_listing(struct tool_def *t)
{
    json_t *ann = json_object();
    json_object_set_new(ann, "title", json_string(t->title));
    json_object_set_new(ann, "readOnlyHint", json_boolean(t->read_only));
    json_object_set_new(ann, "destructiveHint", json_boolean(t->destructive));
    json_object_set_new(ann, "idempotentHint", json_boolean(t->idempotent));
    json_object_set_new(ann, "openWorldHint", json_boolean(t->open_world));

    json_t *l = json_object();
    json_object_set_new(l, "name", json_string(t->name));
    json_object_set_new(l, "title", json_string(t->title));
    json_object_set_new(l, "description", json_string(t->description));
    /* Copies, so a caller that edits a listing can never change validation. */
    json_object_set_new(l, "inputSchema", json_deep_copy(t->input));
    json_object_set_new(l, "outputSchema", json_deep_copy(t->output));
    json_object_set_new(l, "annotations", ann);
    t->listing = l;
}

static void init_once(void)
{
    for (size_t i = 0; i < catalog_tool_count; i++) {
        struct tool_def *t = &catalog_tools[i];
        if (!valid_tool_name(t->name)) fatal("catalog: tool %zu has an invalid name", i);
        if (!t->title || !*t->title || !t->description || !*t->description)
            fatal("catalog: %s needs a title and a description", t->name);
        if (t->scope != SCOPE_READ && t->scope != SCOPE_WRITE && t->scope != SCOPE_EXECUTE)
            fatal("catalog: %s must need exactly one scope", t->name);
        /* A tool that changes something must never be reachable with a read-only credential. */
        if (!t->read_only && t->scope == SCOPE_READ) fatal("catalog: %s writes but needs only read", t->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(catalog_tools[j].name, t->name) == 0) fatal("catalog: duplicate tool %s", t->name);
        t->input = load_schema(t, "input", t->input_schema);
        t->output = load_schema(t, "output", t->output_schema);
        build_listing(t);
    }
}

void catalog_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
}

const struct tool_def *catalog_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < catalog_tool_count; i++)
        if (strcmp(catalog_tools[i].name, name) == 0) return &catalog_tools[i];
    return NULL;
}

/* ---- scopes ---- */

static const struct {
    uint32_t bit;
    const char *name;
} scope_table[] = {
    {SCOPE_READ, "read"},
    {SCOPE_WRITE, "write"},
    {SCOPE_EXECUTE, "execute"},
};

const char *scope_name(uint32_t scope_bit)
{
    for (size_t i = 0; i < TM_ARRAY_LEN(scope_table); i++)
        if (scope_table[i].bit == scope_bit) return scope_table[i].name;
    return NULL;
}

/* Scopes are separated by commas and/or whitespace ("read,write", "read write",
 * "read, write"). At least one scope is needed; any unknown word fails. */
int scopes_parse(const char *s, uint32_t *out)
{
    if (!s || !out) return -1;
    uint32_t bits = 0;
    const char *p = s;
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t') p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t') p++;
        size_t n = (size_t)(p - start);
        uint32_t bit = 0;
        for (size_t i = 0; i < TM_ARRAY_LEN(scope_table); i++)
            if (strlen(scope_table[i].name) == n && memcmp(scope_table[i].name, start, n) == 0)
                bit = scope_table[i].bit;
        if (!bit) return -1;
        bits |= bit;
    }
    if (!bits) return -1;
    *out = bits;
    return 0;
}

void scopes_format(uint32_t bits, char *out, size_t cap)
{
    if (!out || cap == 0) return;
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < TM_ARRAY_LEN(scope_table); i++) {
        if (!(bits & scope_table[i].bit)) continue;
        size_t n = strlen(scope_table[i].name) + (len ? 1 : 0);
        if (len + n + 1 > cap) break; /* never write a partial word */
        if (len) out[len++] = ' ';
        memcpy(out + len, scope_table[i].name, strlen(scope_table[i].name) + 1);
        len += strlen(scope_table[i].name);
    }
}
