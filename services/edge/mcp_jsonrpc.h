/*
 * mcp_jsonrpc — the pure part of the MCP transport: classifying one POSTed
 * JSON-RPC message, deciding its protocol era, checking the era's headers,
 * and building JSON-RPC responses. No I/O here, so every rule of MCP.md §2–3
 * is unit-tested directly (tests/unit/test_mcp_jsonrpc.c).
 *
 * Eras (MCP.md §2.4): a request whose params._meta carries
 * "io.modelcontextprotocol/protocolVersion" is modern (2026-07-28); anything
 * else is legacy (2025-03-26, 2025-06-18, 2025-11-25), served statelessly.
 */
#ifndef TM_MCP_JSONRPC_H
#define TM_MCP_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define MCP_MODERN_VERSION "2026-07-28"
#define MCP_LATEST_LEGACY "2025-11-25"

/* JSON-RPC and MCP error codes (MCP.md §3.5). */
#define JSONRPC_PARSE_ERROR -32700
#define JSONRPC_INVALID_REQUEST -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS -32602
#define JSONRPC_INTERNAL_ERROR -32603
#define MCP_HEADER_MISMATCH -32020
#define MCP_MISSING_CAPABILITY -32021
#define MCP_UNSUPPORTED_VERSION -32022

enum mcp_era { MCP_ERA_LEGACY, MCP_ERA_MODERN };
enum mcp_kind { MCP_REQUEST, MCP_NOTIFICATION, MCP_RESPONSE };

/* The request headers that matter to the protocol (NULL when absent). */
struct mcp_headers {
    const char *protocol_version;   /* MCP-Protocol-Version */
    const char *method;             /* Mcp-Method */
    const char *name;               /* Mcp-Name */
};

/* A classified message. `msg` is borrowed from the caller; id/params point into it. */
struct mcp_message {
    enum mcp_kind kind;
    enum mcp_era era;
    const char *method;             /* NULL for responses */
    json_t *id;                     /* borrowed; NULL for notifications */
    json_t *params;                 /* borrowed; may be NULL */
    const char *version;            /* modern: the _meta version; legacy: header or NULL */
};

/* A protocol error decided before dispatch: HTTP status, JSON-RPC code,
 * message, optional data (owned), and the id to answer with (borrowed, may be NULL). */
struct mcp_error {
    int http_status;
    int code;
    char message[256];
    json_t *data;
    json_t *id;
};

/* Parses the body. On failure fills err (-32700 / 400) and returns NULL. */
json_t *mcp_parse_body(const char *body, size_t len, struct mcp_error *err);

/* Classifies msg and checks it against the headers. Returns true and fills m,
 * or false and fills err (whose data the caller must json_decref). */
bool mcp_classify(json_t *msg, const struct mcp_headers *h, struct mcp_message *m, struct mcp_error *err);

/* The protocol version initialize answers for a requested one (§1.3). */
const char *mcp_negotiate_version(const char *requested);

/* True for the legacy versions this server speaks. */
bool mcp_legacy_version_supported(const char *v);

/* Decodes an Mcp-Name style header value: plain visible ASCII, or
 * "=?base64?<b64>?=". Returns a malloc'd string or NULL if invalid. */
char *mcp_header_value_decode(const char *v);

/* {"jsonrpc":"2.0","id":id,"result":result}; takes result. id may be NULL (-> null). */
json_t *mcp_result(json_t *id, json_t *result);
/* {"jsonrpc":"2.0","id":id,"error":{code,message[,data]}}; takes data. */
json_t *mcp_error_response(json_t *id, int code, const char *message, json_t *data);

/* True if the JSON-RPC id is valid (string or integer). */
bool mcp_id_valid(const json_t *id);

/* HTTP status for a JSON-RPC error code in the given era (legacy: 200 for method-level errors). */
int mcp_error_status(enum mcp_era era, int code);

#endif
