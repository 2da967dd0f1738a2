/*
 * tool_api_call — api_call: a request to one of the principal's own
 * endpoints through the gateway pipeline, in-process (gateway_run), as the
 * owner via MCP: caller "mcp", no key. It is logged, counted and fires
 * webhooks like any gateway call, inside the dispatcher's transaction, whose
 * request id makes a resent call harmless (the tool is not read-only, so the
 * dispatcher stores its answer in applied_requests).
 *
 * The gateway's own answers, 4xx included, are the tool's data
 * (response.status, response.body): the user sees exactly what an app would.
 * Tool errors are only what is not a gateway answer: invalid arguments
 * (e.g. PUT without record_id) and an endpoint that is not the principal's
 * (not_found, the same as a missing one).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "services/worker/gateway.h"
#include "services/worker/tool_logs.h"
#include "services/worker/tool_util.h"

/* Appends s percent-encoded as a URL query value. */
static void url_encode(struct strbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            sb_append(b, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            sb_append(b, e, 3);
        }
    }
}

static void query_param(struct strbuf *b, bool *first, const char *name, const char *value)
{
    if (!value)
        return;
    sb_append_str(b, *first ? "?" : "&");
    *first = false;
    sb_append_str(b, name);
    sb_append_str(b, "=");
    url_encode(b, value);
}

/* The URL an app would have called for the same request. */
static char *request_url(const struct config *cfg, const char *slug, const char *record_id, bool search,
                         const json_t *query)
{
    struct strbuf b;
    sb_init(&b, 128);
    sb_append_str(&b, cfg->public_url);
    sb_append_str(&b, "/api/v1/data/");
    sb_append_str(&b, slug);
    if (record_id) {
        sb_append_str(&b, "/");
        sb_append_str(&b, record_id);
    } else if (search) {
        sb_append_str(&b, "/search");
    }
    bool first = true;
    static const char *const names[] = {"q", "from", "to", "cursor", "limit"};
    for (size_t i = 0; i < TM_ARRAY_LEN(names); i++) {
        const json_t *v = json_object_get(query, names[i]);
        char num[24];
        if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            query_param(&b, &first, names[i], num);
        } else {
            query_param(&b, &first, names[i], json_string_value(v));
        }
    }
    return sb_take(&b, NULL);
}

enum tm_error tool_api_call(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *method = tool_arg_str(args, "method");
    const char *env = tool_arg_str(args, "environment");
    const char *record_id = tool_arg_str(args, "record_id");
    const json_t *body = json_object_get(args, "body");
    const json_t *search = json_object_get(args, "search");
    const char *cursor = tool_arg_str(args, "cursor");
    const json_t *limit = json_object_get(args, "limit");
    if (!env)
        env = "sandbox";
    if (!method || (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT") && strcmp(method, "DELETE")))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "method must be GET, POST, PUT or DELETE");
    if (strcmp(env, "sandbox") && strcmp(env, "production"))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "environment must be sandbox or production");
    bool has_body = !strcmp(method, "POST") || !strcmp(method, "PUT");
    if ((!strcmp(method, "PUT") || !strcmp(method, "DELETE")) && !record_id)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "%s needs record_id: the id of the record to %s (rec_...)", method,
                         !strcmp(method, "PUT") ? "replace" : "delete");
    if (!strcmp(method, "POST") && record_id)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL,
                         "POST creates a new record and takes no record_id; use PUT to replace one");
    if (body && !json_is_null(body) && !has_body)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "body is sent with POST and PUT only");
    if (search && !json_is_null(search) && (strcmp(method, "GET") || record_id))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "search is for GET without record_id");
    if ((cursor || limit) && (strcmp(method, "GET") || record_id))
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "cursor and limit page GET lists and searches");
    bool is_search = json_is_object(search);

    char ep[40], slug[80];
    enum tm_error rc = logs_resolve_endpoint(ctx, tool_arg_str(args, "endpoint"), ep, slug);
    if (rc != TM_OK)
        return rc;

    json_t *query = json_object();
    if (is_search) {
        static const char *const names[] = {"q", "from", "to"};
        for (size_t i = 0; i < TM_ARRAY_LEN(names); i++) {
            const char *v = tool_arg_str(search, names[i]);
            if (v)
                json_object_set_new(query, names[i], json_string(v));
        }
    }
    if (cursor)
        json_object_set_new(query, "cursor", json_string(cursor));
    if (json_is_integer(limit))
        json_object_set_new(query, "limit", json_integer(json_integer_value(limit)));

    char *body_text = NULL;
    if (has_body && json_is_object(body)) {
        body_text = json_dumps(body, JSON_COMPACT);
        if (!body_text)
            fatal("out of memory");
    }
    struct gateway_call in = {
        .method = method,
        .endpoint_id = ep,
        .record_id = record_id,
        .environment = env,
        .query = query,
        .search = is_search,
        .body = body_text,
        .body_len = body_text ? strlen(body_text) : 0,
        .caller_account = ctx->who->account_id,
    };
    int status = 0;
    json_t *headers = NULL, *rbody = NULL;
    char log_id[40];
    int64_t t0 = mono_ms();
    rc = gateway_run(ctx, &in, &status, &headers, &rbody, log_id);
    long long latency = mono_ms() - t0;
    free(body_text);
    if (rc != TM_OK) {
        json_decref(query);
        return rc;
    }
    /* The endpoint vanished between resolution and the call: a tool error like any missing endpoint. */
    const char *code = json_string_value(json_object_get(json_object_get(rbody, "error"), "code"));
    if (status == 404 && code && !strcmp(code, "not_found")) {
        json_decref(query);
        json_decref(headers);
        json_decref(rbody);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no endpoint \"%.100s\" in this account",
                         tool_arg_str(args, "endpoint"));
    }
    char *url = request_url(ctx->cfg, slug, record_id, is_search, query);
    json_decref(query);
    json_t *out = json_pack("{s:{s:s, s:s, s:s}, s:{s:i, s:o, s:o}, s:o, s:I}", "request", "method", method, "url",
                            url, "environment", env, "response", "status", status, "headers",
                            headers ? headers : json_object(), "body", rbody ? rbody : json_object(), "log_id",
                            log_id[0] ? json_string(log_id) : json_null(), "latency_ms", (json_int_t)latency);
    free(url);
    *result = out;
    return TM_OK;
}
