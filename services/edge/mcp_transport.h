/*
 * mcp_transport — the /api/mcp route: Streamable HTTP for both protocol eras,
 * statelessly (MCP.md §2.4). Order of checks: CORS preflight, Origin (403),
 * credential (401, before the body is read), rate limit (429), method (405),
 * content type (415), Accept (406), JSON-RPC shape and era headers (400),
 * then the method itself (mcp_methods.c).
 */
#ifndef TM_MCP_TRANSPORT_H
#define TM_MCP_TRANSPORT_H

#include <event2/http.h>
#include <jansson.h>
#include "proto/envelope.h"
#include "services/edge/edge.h"
#include "services/edge/mcp_jsonrpc.h"

/* One MCP HTTP request in progress; freed by mcp_call_reply*. */
struct mcp_call {
    struct edge *e;
    struct evhttp_request *req;
    int64_t started_mono;
    struct principal who;
    json_t *body;                 /* the parsed message (owns what m points into) */
    struct mcp_message m;
    const char *tool;             /* tools/call: the tool name, for the log */
};

void mcp_transport_handle(struct edge *e, struct evhttp_request *req);

/* Replies with a JSON-RPC result for the call's id and frees the call; takes result. */
void mcp_call_reply_result(struct mcp_call *c, json_t *result);
/* Replies with the pre-rendered result text (a JSON object) and frees the call. */
void mcp_call_reply_raw_result(struct mcp_call *c, const char *result_json, size_t len);
/* Replies with a JSON-RPC error (status from the era) and frees the call; takes data. */
void mcp_call_reply_error(struct mcp_call *c, int code, const char *message, json_t *data);
/* 403 insufficient_scope for the scope bits needed; frees the call. */
void mcp_call_reply_insufficient_scope(struct mcp_call *c, uint32_t needed);

#endif
