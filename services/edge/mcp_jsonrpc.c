/*
 * mcp_jsonrpc — message classification, era detection, header checks and
 * response building for the MCP endpoint. See mcp_jsonrpc.h.
 */
#include "services/edge/mcp_jsonrpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "common/util.h"

static const char *const legacy_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

static bool fail(struct mcp_error *err, int status, int code, json_t *id, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static bool fail(struct mcp_error *err, int status, int code, json_t *id, json_t *data, const char *fmt, ...)
{
    va_list ap;
    err->http_status = status;
    err->code = code;
    err->id = id;
    err->data = data;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

json_t *mcp_parse_body(const char *body, size_t len, struct mcp_error *err)
{
    json_error_t jerr;
    json_t *msg = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!msg)
        fail(err, 400, JSONRPC_PARSE_ERROR, NULL, NULL, "Parse error: %s", jerr.text);
    return msg;
}

bool mcp_id_valid(const json_t *id)
{
    return id && (json_is_string(id) || json_is_integer(id));
}

bool mcp_legacy_version_supported(const char *v)
{
    for (size_t i = 0; i < TM_ARRAY_LEN(legacy_versions); i++)
        if (!strcmp(v, legacy_versions[i]))
            return true;
    return false;
}

const char *mcp_negotiate_version(const char *requested)
{
    for (size_t i = 0; requested && i < TM_ARRAY_LEN(legacy_versions); i++)
        if (!strcmp(requested, legacy_versions[i]))
            return legacy_versions[i];
    return MCP_LATEST_LEGACY;
}

static bool visible_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

char *mcp_header_value_decode(const char *v)
{
    size_t n = strlen(v);
    if (n >= 12 && !strncmp(v, "=?base64?", 9) && !strcmp(v + n - 2, "?=")) {
        const char *b = v + 9;
        size_t blen = n - 11;
        char *out = xmalloc(blen + 1);
        /* Standard base64 with padding, as the spec's sentinel form uses. */
        size_t got = 0;
        const char *end = NULL;
        if (sodium_base642bin((unsigned char *)out, blen, b, blen, NULL, &got, &end,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            end != b + blen || memchr(out, '\0', got)) {
            free(out);
            return NULL;
        }
        out[got] = '\0';
        return out;
    }
    if (!visible_ascii(v))
        return NULL;
    return xstrdup(v);
}

/* Header value h must equal want (after decoding). */
static bool header_matches(const char *h, const char *want)
{
    if (!h || !want)
        return false;
    char *d = mcp_header_value_decode(h);
    bool ok = d && !strcmp(d, want);
    free(d);
    return ok;
}

int mcp_error_status(enum mcp_era era, int code)
{
    if (code == JSONRPC_PARSE_ERROR || code == JSONRPC_INVALID_REQUEST)
        return 400;
    if (era == MCP_ERA_LEGACY)
        return 200;
    switch (code) {
    case JSONRPC_METHOD_NOT_FOUND:
        return 404;
    case JSONRPC_INTERNAL_ERROR:
        return 500;
    default:
        return 400;
    }
}

static bool classify_modern(json_t *msg, const struct mcp_headers *h, struct mcp_message *m, json_t *meta,
                            struct mcp_error *err)
{
    json_t *id = m->id;
    const char *version = json_string_value(json_object_get(meta, "io.modelcontextprotocol/protocolVersion"));
    if (!version)
        return fail(err, 400, JSONRPC_INVALID_PARAMS, id, NULL,
                    "_meta[\"io.modelcontextprotocol/protocolVersion\"] must be a string");
    m->era = MCP_ERA_MODERN;
    m->version = version;
    if (!h->protocol_version)
        return fail(err, 400, MCP_HEADER_MISMATCH, id, NULL,
                    "Header mismatch: MCP-Protocol-Version header is required");
    if (strcmp(h->protocol_version, version))
        return fail(err, 400, MCP_HEADER_MISMATCH, id, NULL,
                    "Header mismatch: MCP-Protocol-Version \"%.40s\" differs from _meta version \"%.40s\"",
                    h->protocol_version, version);
    if (strcmp(version, MCP_MODERN_VERSION)) {
        json_t *supported = json_pack("[s,s,s,s]", MCP_MODERN_VERSION, "2025-11-25", "2025-06-18", "2025-03-26");
        return fail(err, 400, MCP_UNSUPPORTED_VERSION, id, json_pack("{s:o,s:s}", "supported", supported,
                                                                     "requested", version),
                    "Unsupported protocol version \"%.40s\"", version);
    }
    if (m->kind == MCP_RESPONSE)
        return fail(err, 400, JSONRPC_INVALID_REQUEST, id, NULL, "Clients must not send responses in %s",
                    MCP_MODERN_VERSION);
    if (!h->method)
        return fail(err, 400, MCP_HEADER_MISMATCH, id, NULL, "Header mismatch: Mcp-Method header is required");
    if (!header_matches(h->method, m->method))
        return fail(err, 400, MCP_HEADER_MISMATCH, id, NULL,
                    "Header mismatch: Mcp-Method does not match the body's method \"%.64s\"", m->method);
    if (!json_is_object(json_object_get(meta, "io.modelcontextprotocol/clientCapabilities")))
        return fail(err, 400, JSONRPC_INVALID_PARAMS, id, NULL,
                    "_meta[\"io.modelcontextprotocol/clientCapabilities\"] must be an object");
    if (!strcmp(m->method, "tools/call") || !strcmp(m->method, "prompts/get")) {
        const char *name = json_string_value(json_object_get(m->params, "name"));
        if (!h->name)
            return fail(err, 400, MCP_HEADER_MISMATCH, id, NULL, "Header mismatch: Mcp-Name header is required");
        if (!name || !header_matches(h->name, name))
            return fail(err, 400, MCP_HEADER_MISMATCH, id, NULL,
                        "Header mismatch: Mcp-Name does not match params.name");
    } else if (!strcmp(m->method, "resources/read")) {
        const char *uri = json_string_value(json_object_get(m->params, "uri"));
        if (!h->name || !uri || !header_matches(h->name, uri))
            return fail(err, 400, MCP_HEADER_MISMATCH, id, NULL,
                        "Header mismatch: Mcp-Name does not match params.uri");
    }
    (void)msg;
    return true;
}

bool mcp_classify(json_t *msg, const struct mcp_headers *h, struct mcp_message *m, struct mcp_error *err)
{
    memset(m, 0, sizeof *m);
    memset(err, 0, sizeof *err);
    if (json_is_array(msg))
        return fail(err, 400, JSONRPC_INVALID_REQUEST, NULL, NULL,
                    "Invalid Request: batches are not supported; send one JSON-RPC message per request");
    if (!json_is_object(msg))
        return fail(err, 400, JSONRPC_INVALID_REQUEST, NULL, NULL, "Invalid Request: expected a JSON-RPC object");

    json_t *id = json_object_get(msg, "id");
    json_t *usable_id = mcp_id_valid(id) ? id : NULL;
    const char *jsonrpc = json_string_value(json_object_get(msg, "jsonrpc"));
    if (!jsonrpc || strcmp(jsonrpc, "2.0"))
        return fail(err, 400, JSONRPC_INVALID_REQUEST, usable_id, NULL, "Invalid Request: jsonrpc must be \"2.0\"");

    json_t *method = json_object_get(msg, "method");
    if (method) {
        if (!json_is_string(method) || json_string_length(method) == 0 || json_string_length(method) > 128)
            return fail(err, 400, JSONRPC_INVALID_REQUEST, usable_id, NULL,
                        "Invalid Request: method must be a non-empty string");
        m->method = json_string_value(method);
        if (id) {
            if (!usable_id)
                return fail(err, 400, JSONRPC_INVALID_REQUEST, NULL, NULL,
                            "Invalid Request: id must be a string or an integer (not null)");
            m->kind = MCP_REQUEST;
            m->id = id;
        } else {
            m->kind = MCP_NOTIFICATION;
        }
        json_t *params = json_object_get(msg, "params");
        if (params && !json_is_object(params))
            return fail(err, 400, JSONRPC_INVALID_REQUEST, usable_id, NULL,
                        "Invalid Request: params must be an object");
        m->params = params;
    } else {
        bool has_result = json_object_get(msg, "result") != NULL;
        bool has_error = json_is_object(json_object_get(msg, "error"));
        if (!usable_id || has_result == has_error)
            return fail(err, 400, JSONRPC_INVALID_REQUEST, usable_id, NULL,
                        "Invalid Request: a message needs a method, or an id with a result or an error");
        m->kind = MCP_RESPONSE;
        m->id = id;
    }

    json_t *meta = m->params ? json_object_get(m->params, "_meta") : NULL;
    if (meta && !json_is_object(meta))
        return fail(err, 400, JSONRPC_INVALID_PARAMS, usable_id, NULL, "params._meta must be an object");
    if (meta && json_object_get(meta, "io.modelcontextprotocol/protocolVersion"))
        return classify_modern(msg, h, m, meta, err);

    /* Legacy era. A missing MCP-Protocol-Version header is fine (claude.ai
     * omits it); a present one must name a version we speak. */
    m->era = MCP_ERA_LEGACY;
    if (h->protocol_version && m->kind == MCP_REQUEST && strcmp(m->method, "initialize")) {
        if (!strcmp(h->protocol_version, MCP_MODERN_VERSION))
            return fail(err, 400, JSONRPC_INVALID_PARAMS, usable_id, NULL,
                        "%s requests must carry params._meta with io.modelcontextprotocol/protocolVersion "
                        "and clientCapabilities",
                        MCP_MODERN_VERSION);
        if (!mcp_legacy_version_supported(h->protocol_version))
            return fail(err, 400, JSONRPC_INVALID_REQUEST, usable_id, NULL,
                        "Bad Request: unsupported MCP-Protocol-Version \"%.40s\"", h->protocol_version);
    }
    m->version = h->protocol_version;
    return true;
}

json_t *mcp_result(json_t *id, json_t *result)
{
    return json_pack("{s:s,s:O?,s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

json_t *mcp_error_response(json_t *id, int code, const char *message, json_t *data)
{
    json_t *e = json_pack("{s:i,s:s}", "code", code, "message", message);
    if (data)
        json_object_set_new(e, "data", data);
    return json_pack("{s:s,s:O?,s:o}", "jsonrpc", "2.0", "id", id, "error", e);
}
