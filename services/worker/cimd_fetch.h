/*
 * cimd_fetch — fetches a Client ID Metadata Document over the network with
 * SSRF guards (MCP.md §5.4), and the worker operation oauth.resolve_cimd
 * that caches the result in oauth_clients (docs/OAUTH.md).
 *
 * The fetch blocks its worker thread for at most CIMD_FETCH_TIMEOUT_MS
 * (resolution, connect, TLS and the response together); the edge loop never
 * waits on it.
 */
#ifndef TM_CIMD_FETCH_H
#define TM_CIMD_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include "proto/cimd_rules.h"
#include "services/worker/tool.h"

#define CIMD_FETCH_TIMEOUT_MS 5000

/* GETs url (already shaped like a client_id URL or refused here) and returns
 * the document body in out->body. Refuses: a host that resolves to any
 * non-public address (unless allow_private; plain http additionally needs
 * every address to be loopback), a certificate that does not verify against
 * the system CA store for the host, any status but 200 (redirects are not
 * followed), a Content-Type other than application/json, a body over
 * CIMD_BODY_MAX, a malformed response and the time cap. The connection goes
 * to the very address that was checked (no second lookup). On false, why
 * says what went wrong; out holds nothing to free. */
bool cimd_fetch(const char *url, bool allow_private, int timeout_ms, struct cimd_http *out, char *why, size_t cap);

/* oauth.resolve_cimd {client_id} → the client like oauth.get_client
 * (reg_type "cimd", token_endpoint_auth_method "none"), from the cached row
 * while it is fresh, else fetched and validated again; a stale row is used
 * when the fetch fails. Failures: details {"oauth_error":"invalid_client"}
 * with a message saying what was wrong. */
enum tm_error auth_oauth_resolve_cimd(struct tool_ctx *ctx, const json_t *args, json_t **result);

#endif
