/*
 * mcp_methods — the MCP methods this server implements: initialize, ping,
 * server/discover, tools/list and tools/call. tools/list pages are rendered
 * once per (scope set, era, page) and reused, since the catalog never
 * changes while the process runs; tools/call validates the arguments against
 * the catalog and sends the call to a worker.
 */
#ifndef TM_MCP_METHODS_H
#define TM_MCP_METHODS_H

#include "services/edge/mcp_transport.h"

struct mcp_cache *mcp_cache_new(const struct config *cfg);
void mcp_cache_free(struct mcp_cache *m);

/* Answers c (a classified request); always ends with one mcp_call_reply_*. */
void mcp_methods_dispatch(struct mcp_call *c);

/* Cursor helpers (exposed for tests): encodes page n; decodes, returning -1 if invalid. */
char *mcp_cursor_encode(int page);
int mcp_cursor_decode(const char *cursor);

#endif
