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

/* What fields_diff returns; "(name)"/"(description)" entries carry {"value": ...}. */
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

#define ENDPOINT_DETAIL_SCHEMA                                                                            \
    "{\"type\":\"object\",\"additionalProperties\":false,"                                                \
    "\"required\":[\"id\",\"name\",\"slug\",\"description\",\"active\",\"created_at\",\"updated_at\","    \
    "\"urls\",\"sandbox\",\"production\",\"has_undeployed_changes\",\"pending_changes\",\"deployments\"," \
    "\"keys\",\"webhooks\"],"                                                                          \
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
    "\"sandbox\":" WEBHOOK_OUT ",\"production\":" WEBHOOK_OUT "}}}}"

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
            "in the deploy history. endpoint is the id, slug or name. Returns {version, deployed_at, diff, "
            "production_url, dry_run}. Fails with precondition_failed when there is nothing to deploy, or when "
            "the sandbox has had no test call yet (send one with api_call first).",
        .input_schema = DEPLOY_IN,
        .output_schema = DEPLOY_OUT,
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
