/*
 * mcp_methods — initialize, ping, server/discover, tools/list, tools/call.
 */
#include "services/edge/mcp_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/jschema.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "common/version.h"
#include "proto/catalog.h"
#include "services/edge/edge_dispatch.h"
#include "services/edge/edge_metrics.h"

#define ERAS 2
#define SCOPE_SETS 8

static const char instructions[] =
    "3Min API hosts no-code HTTP endpoints. Use endpoints_list to see the account's endpoints, "
    "endpoints_get for one endpoint's fields, URLs and undeployed changes, endpoints_create to make one, "
    "endpoints_update to change its sandbox configuration (dry_run previews the diff), and endpoints_deploy "
    "to copy the sandbox to production. Deleting endpoints, keys or the account, and plan changes, are "
    "only possible in the web dashboard; help with topic \"safety\" explains where.";

struct page {
    char *json;
    size_t len;
};

struct mcp_cache {
    const struct config *cfg;
    struct page *pages[SCOPE_SETS][ERAS];
    int npages[SCOPE_SETS];
};

char *mcp_cursor_encode(int page)
{
    char raw[16];
    int n = snprintf(raw, sizeof raw, "page:%d", page);
    return b64url_encode(raw, (size_t)n);
}

int mcp_cursor_decode(const char *cursor)
{
    char raw[32];
    size_t len = strlen(cursor);
    if (len == 0 || len > 40)
        return -1;
    long n = b64url_decode(cursor, len, raw, sizeof raw - 1);
    if (n < 6)
        return -1;
    raw[n] = '\0';
    long long page;
    if (strncmp(raw, "page:", 5) || !parse_int(raw + 5, 1, 100000, &page))
        return -1;
    return (int)page;
}

static json_t *server_info(void)
{
    return json_pack("{s:s,s:s,s:s}", "name", TM_SERVER_NAME, "title", TM_SERVER_TITLE, "version", TM_VERSION);
}

static void render_pages(struct mcp_cache *m, uint32_t scopes)
{
    size_t page_size = (size_t)m->cfg->tools_page_size;
    json_t *visible = json_array();
    for (size_t i = 0; i < catalog_tool_count; i++)
        if (scopes & catalog_tools[i].scope)
            json_array_append(visible, catalog_tools[i].listing);
    size_t total = json_array_size(visible);
    int npages = total == 0 ? 1 : (int)((total + page_size - 1) / page_size);
    m->npages[scopes] = npages;
    for (int era = 0; era < ERAS; era++) {
        m->pages[scopes][era] = xcalloc((size_t)npages, sizeof(struct page));
        for (int p = 0; p < npages; p++) {
            json_t *tools = json_array();
            for (size_t i = (size_t)p * page_size; i < total && i < (size_t)(p + 1) * page_size; i++)
                json_array_append(tools, json_array_get(visible, i));
            json_t *result = json_pack("{s:o}", "tools", tools);
            if (p + 1 < npages) {
                char *cur = mcp_cursor_encode(p + 1);
                json_object_set_new(result, "nextCursor", json_string(cur));
                free(cur);
            }
            if (era == MCP_ERA_MODERN) {
                json_object_set_new(result, "resultType", json_string("complete"));
                json_object_set_new(result, "ttlMs", json_integer(3600000));
                /* The list depends on the credential's scopes. */
                json_object_set_new(result, "cacheScope", json_string("private"));
                json_object_set_new(result, "_meta", json_pack("{s:o}", "io.modelcontextprotocol/serverInfo",
                                                               server_info()));
            }
            struct page *pg = &m->pages[scopes][era][p];
            pg->json = json_dumps(result, JSON_COMPACT);
            pg->len = strlen(pg->json);
            json_decref(result);
        }
    }
    json_decref(visible);
}

struct mcp_cache *mcp_cache_new(const struct config *cfg)
{
    struct mcp_cache *m = xcalloc(1, sizeof *m);
    m->cfg = cfg;
    for (uint32_t s = 0; s < SCOPE_SETS; s++)
        render_pages(m, s);
    return m;
}

void mcp_cache_free(struct mcp_cache *m)
{
    if (!m)
        return;
    for (int s = 0; s < SCOPE_SETS; s++)
        for (int era = 0; era < ERAS; era++) {
            for (int p = 0; p < m->npages[s]; p++)
                free(m->pages[s][era][p].json);
            free(m->pages[s][era]);
        }
    free(m);
}

static void do_initialize(struct mcp_call *c)
{
    const char *requested = json_string_value(json_object_get(c->m.params, "protocolVersion"));
    json_t *r = json_pack("{s:s,s:{s:{s:b}},s:o,s:s}", "protocolVersion", mcp_negotiate_version(requested),
                          "capabilities", "tools", "listChanged", 0, "serverInfo", server_info(), "instructions",
                          instructions);
    mcp_call_reply_result(c, r);
}

static void do_discover(struct mcp_call *c)
{
    json_t *r = json_pack("{s:[s,s,s,s],s:{s:{s:b}},s:s,s:{s:o},s:i,s:s}", "supportedVersions", MCP_MODERN_VERSION,
                          "2025-11-25", "2025-06-18", "2025-03-26", "capabilities", "tools", "listChanged", 0,
                          "instructions", instructions, "_meta", "io.modelcontextprotocol/serverInfo", server_info(),
                          "ttlMs", 3600000, "cacheScope", "public");
    json_object_set_new(r, "resultType", json_string("complete"));
    mcp_call_reply_result(c, r);
}

static void do_tools_list(struct mcp_call *c)
{
    struct mcp_cache *m = c->e->mcp;
    uint32_t scopes = c->who.scopes & SCOPE_ALL;
    int page = 0;
    json_t *cursor = json_object_get(c->m.params, "cursor");
    if (cursor && !json_is_null(cursor)) {
        page = json_is_string(cursor) ? mcp_cursor_decode(json_string_value(cursor)) : -1;
        if (page < 0 || page >= m->npages[scopes]) {
            mcp_call_reply_error(c, JSONRPC_INVALID_PARAMS, "Invalid params: cursor is not valid", NULL);
            return;
        }
    }
    const struct page *pg = &m->pages[scopes][c->m.era][page];
    mcp_call_reply_raw_result(c, pg->json, pg->len);
}

/* A tool result carrying an error the model can act on. */
static json_t *tool_error_result(const char *code, const char *message, const char *details_json)
{
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", message);
    if (details_json) {
        json_t *d = json_loads(details_json, 0, NULL);
        if (d)
            json_object_set_new(err, "details", d);
    }
    json_t *wrapped = json_pack("{s:o}", "error", err);
    char *text = json_dumps(wrapped, JSON_COMPACT);
    json_decref(wrapped);
    json_t *r = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 1);
    free(text);
    return r;
}

static void log_call(struct mcp_call *c, const char *outcome)
{
    edge_metrics_tool(c->tool, outcome, mono_ms() - c->started_mono);
    log_info("tools/call %s account=%.8s key=%.8s %s %lld ms", c->tool, c->who.account_id, c->who.key_id, outcome,
             (long long)(mono_ms() - c->started_mono));
}

static void on_tool_reply(void *arg, enum dispatch_status status, const struct env_response *resp)
{
    struct mcp_call *c = arg;
    json_t *r;
    if (status != DISPATCH_OK) {
        log_call(c, dispatch_status_text(status));
        r = tool_error_result("unavailable",
                              status == DISPATCH_OVERLOAD
                                  ? "The server is busy; retry in a moment."
                                  : "The call could not be completed in time; retry in a moment.",
                              NULL);
    } else if (!resp->ok) {
        log_call(c, tm_error_name(resp->code));
        r = tool_error_result(tm_error_name(resp->code), resp->message, resp->details);
    } else if (resp->result_len < 2 || resp->result[0] != '{' || resp->result[resp->result_len - 1] != '}') {
        log_call(c, "bad result");
        r = tool_error_result("internal", "The tool returned an unreadable result.", NULL);
    } else {
        /* The worker's result is compact JSON text already: splice it in as
         * structuredContent and as the escaped text block, without parsing
         * and re-serialising it (that was most of the edge's time per call). */
        log_call(c, "ok");
        struct strbuf b;
        sb_init(&b, 2 * resp->result_len + 128);
        sb_append_str(&b, "{\"content\":[{\"type\":\"text\",\"text\":");
        sb_append_json_string(&b, resp->result, resp->result_len);
        sb_append_str(&b, "}],\"structuredContent\":");
        sb_append(&b, resp->result, resp->result_len);
        sb_append_str(&b, c->m.era == MCP_ERA_MODERN ? ",\"isError\":false,\"resultType\":\"complete\"}"
                                                     : ",\"isError\":false}");
        size_t len;
        char *text = sb_take(&b, &len);
        mcp_call_reply_raw_result(c, text, len);
        free(text);
        return;
    }
    mcp_call_reply_result(c, r);
}

static void do_tools_call(struct mcp_call *c)
{
    json_t *name = json_object_get(c->m.params, "name");
    if (!json_is_string(name)) {
        mcp_call_reply_error(c, JSONRPC_INVALID_PARAMS, "Invalid params: name must be a string", NULL);
        return;
    }
    const struct tool_def *t = catalog_find(json_string_value(name));
    if (!t) {
        char msg[256];
        snprintf(msg, sizeof msg, "Unknown tool: %.128s", json_string_value(name));
        mcp_call_reply_error(c, JSONRPC_INVALID_PARAMS, msg, NULL);
        return;
    }
    c->tool = t->name;
    json_t *args = json_object_get(c->m.params, "arguments");
    if (args && !json_is_null(args) && !json_is_object(args)) {
        mcp_call_reply_error(c, JSONRPC_INVALID_PARAMS, "Invalid params: arguments must be an object", NULL);
        return;
    }
    if (!(c->who.scopes & t->scope)) {
        log_call(c, "insufficient_scope");
        mcp_call_reply_insufficient_scope(c, t->scope);
        return;
    }
    json_t *empty = NULL;
    if (!args || json_is_null(args))
        args = empty = json_object();
    char err[512];
    if (!jschema_validate(t->input, args, "arguments", err, sizeof err)) {
        json_decref(empty);
        log_call(c, "invalid_argument");
        mcp_call_reply_result(c, tool_error_result("invalid_argument", err, NULL));
        return;
    }
    struct env_request req = {.op = t->op, .who = c->who};
    snprintf(req.name, sizeof req.name, "%s", t->name);
    req.args = json_dumps(args, JSON_COMPACT);
    req.args_len = strlen(req.args);
    json_decref(empty);
    dispatch_submit(c->e->dispatch, &req, on_tool_reply, c);
    free(req.args);
}

void mcp_methods_dispatch(struct mcp_call *c)
{
    const char *method = c->m.method;
    bool modern = c->m.era == MCP_ERA_MODERN;
    if (!strcmp(method, "tools/list"))
        do_tools_list(c);
    else if (!strcmp(method, "tools/call"))
        do_tools_call(c);
    else if (!strcmp(method, "server/discover"))
        do_discover(c);
    else if (!modern && !strcmp(method, "initialize"))
        do_initialize(c);
    else if (!modern && !strcmp(method, "ping"))
        mcp_call_reply_result(c, json_object());
    else {
        char msg[200];
        snprintf(msg, sizeof msg, "Method not found: %.128s", method);
        mcp_call_reply_error(c, JSONRPC_METHOD_NOT_FOUND, msg, NULL);
    }
}
