/*
 * Unit tests of proto/catalog: every tool is well formed (name, title,
 * description, schemas jschema accepts, annotations, scopes), the help enum
 * matches the embedded help topics, the argument schemas accept and reject
 * what the tools promise, and scope parsing/formatting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <string.h>

#include "common/jschema.h"
#include "proto/catalog.h"
#include "proto/help.h"

static int setup(void **state)
{
    (void)state;
    catalog_init();
    return 0;
}

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) fail_msg("bad test JSON: %s: %s", text, e.text);
    return v;
}

static const struct tool_def *tool(const char *name)
{
    const struct tool_def *t = catalog_find(name);
    if (!t) fail_msg("tool %s missing", name);
    return t;
}

static void test_catalog_has_the_foundation_tools(void **state)
{
    (void)state;
    static const char *const names[] = {"help",          "endpoints_list",   "endpoints_get",
                                        "endpoints_create", "endpoints_update", "endpoints_deploy",
                                        "logs_lookup",   "logs_search",      "stats",
                                        "api_call",      "subscription",
                                        "logs_fetch_archived", "archives_list", "archives_download",
                                        "collaborators_list_keys", "collaborators_list_invitations",
                                        "collaborators_create_key", "collaborators_update_permissions",
                                        "collaborators_invite"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) tool(names[i]);
    /* Every tool is listed above: a tool added without its test row fails here. */
    assert_int_equal(catalog_tool_count, sizeof names / sizeof names[0]);
    assert_null(catalog_find("endpoints_delete"));
    assert_null(catalog_find(""));
    assert_null(catalog_find(NULL));
}

static void test_every_tool_name_matches_the_mcp_pattern(void **state)
{
    (void)state;
    regex_t re;
    assert_int_equal(regcomp(&re, "^[A-Za-z0-9_.-]{1,128}$", REG_EXTENDED | REG_NOSUB), 0);
    for (size_t i = 0; i < catalog_tool_count; i++)
        if (regexec(&re, catalog_tools[i].name, 0, NULL, 0) != 0) fail_msg("bad name %s", catalog_tools[i].name);
    regfree(&re);
}

static void test_every_tool_has_title_and_description(void **state)
{
    (void)state;
    for (size_t i = 0; i < catalog_tool_count; i++) {
        const struct tool_def *t = &catalog_tools[i];
        assert_non_null(t->title);
        assert_true(strlen(t->title) > 0);
        assert_non_null(t->description);
        /* A description a model can choose by: more than a label. */
        assert_true(strlen(t->description) > 80);
    }
}

static void assert_object_schema(const struct tool_def *t, const json_t *s, const char *which)
{
    char err[256] = "";
    if (!json_is_object(s)) fail_msg("%s %s schema missing", t->name, which);
    assert_string_equal(json_string_value(json_object_get(s, "type")), "object");
    if (!jschema_check_schema(s, err, sizeof err)) fail_msg("%s %s schema: %s", t->name, which, err);
}

static void test_every_schema_is_an_object_schema_jschema_accepts(void **state)
{
    (void)state;
    for (size_t i = 0; i < catalog_tool_count; i++) {
        const struct tool_def *t = &catalog_tools[i];
        assert_object_schema(t, t->input, "input");
        assert_object_schema(t, t->output, "output");
    }
}

/* Every object in an input schema closes its properties, so an argument a
 * tool does not know is rejected instead of silently ignored. The one
 * exception must say so explicitly (additionalProperties: true): data passed
 * through rather than arguments, like api_call's record body. */
static void assert_closed_objects(const char *tool, const json_t *s)
{
    if (json_is_object(s)) {
        json_t *type = json_object_get(s, "type");
        if (json_is_string(type) && strcmp(json_string_value(type), "object") == 0 &&
            !json_is_boolean(json_object_get(s, "additionalProperties")))
            fail_msg("%s: an object schema lacks additionalProperties:false", tool);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)s, k, v) assert_closed_objects(tool, v);
    } else if (json_is_array(s)) {
        size_t i;
        json_t *v;
        json_array_foreach(s, i, v) assert_closed_objects(tool, v);
    }
}

static void test_input_schemas_reject_unknown_properties_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < catalog_tool_count; i++) assert_closed_objects(catalog_tools[i].name, catalog_tools[i].input);
}

static void test_every_write_tool_needs_write_scope(void **state)
{
    (void)state;
    for (size_t i = 0; i < catalog_tool_count; i++) {
        const struct tool_def *t = &catalog_tools[i];
        /* Calls to the user's own endpoints (api_call) need execute; other writes need write. */
        if (!t->read_only) assert_int_equal(t->scope, strcmp(t->name, "api_call") ? SCOPE_WRITE : SCOPE_EXECUTE);
        else assert_int_equal(t->scope, SCOPE_READ);
    }
    assert_int_equal(tool("endpoints_create")->scope, SCOPE_WRITE);
    assert_int_equal(tool("endpoints_update")->scope, SCOPE_WRITE);
    assert_int_equal(tool("endpoints_deploy")->scope, SCOPE_WRITE);
    assert_int_equal(tool("help")->scope, SCOPE_READ);
}

static void test_annotations_match_what_each_tool_does(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bool ro, de, id, ow;
    } want[] = {
        {"help", true, false, true, false},
        {"endpoints_list", true, false, true, false},
        {"endpoints_get", true, false, true, false},
        {"endpoints_create", false, false, false, false},
        {"endpoints_update", false, false, true, false},
        {"endpoints_deploy", false, false, false, false},
        {"logs_lookup", true, false, true, false},
        {"logs_search", true, false, true, false},
        {"stats", true, false, true, false},
        /* api_call writes and deletes records and fires webhooks to the outside. */
        {"api_call", false, true, false, true},
        {"subscription", true, false, true, false},
        {"logs_fetch_archived", true, false, true, false},
        {"archives_list", true, false, true, false},
        /* each call signs a new link, usable from outside the MCP session */
        {"archives_download", true, false, false, true},
        {"collaborators_list_keys", true, false, true, false},
        {"collaborators_list_invitations", true, false, true, false},
        {"collaborators_create_key", false, false, false, false},
        /* setting the same bits twice leaves the same key */
        {"collaborators_update_permissions", false, false, true, false},
        /* each call may send an e-mail (re-inviting a pending address does not) */
        {"collaborators_invite", false, false, false, false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct tool_def *t = tool(want[i].name);
        assert_int_equal(t->read_only, want[i].ro);
        assert_int_equal(t->destructive, want[i].de);
        assert_int_equal(t->idempotent, want[i].id);
        assert_int_equal(t->open_world, want[i].ow);
    }
}

static void test_listing_has_schemas_and_all_four_annotation_booleans(void **state)
{
    (void)state;
    static const char *const hints[] = {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"};
    for (size_t i = 0; i < catalog_tool_count; i++) {
        const struct tool_def *t = &catalog_tools[i];
        json_t *l = t->listing;
        assert_non_null(l);
        assert_string_equal(json_string_value(json_object_get(l, "name")), t->name);
        assert_string_equal(json_string_value(json_object_get(l, "title")), t->title);
        assert_string_equal(json_string_value(json_object_get(l, "description")), t->description);
        assert_true(json_equal(json_object_get(l, "inputSchema"), t->input));
        assert_true(json_equal(json_object_get(l, "outputSchema"), t->output));
        json_t *ann = json_object_get(l, "annotations");
        assert_true(json_is_object(ann));
        assert_string_equal(json_string_value(json_object_get(ann, "title")), t->title);
        for (size_t h = 0; h < 4; h++)
            if (!json_is_boolean(json_object_get(ann, hints[h]))) fail_msg("%s: %s missing", t->name, hints[h]);
        assert_int_equal(json_is_true(json_object_get(ann, "readOnlyHint")), t->read_only);
        assert_int_equal(json_is_true(json_object_get(ann, "destructiveHint")), t->destructive);
        assert_int_equal(json_is_true(json_object_get(ann, "idempotentHint")), t->idempotent);
        assert_int_equal(json_is_true(json_object_get(ann, "openWorldHint")), t->open_world);
    }
}

static bool help_topic_exists(const char *name)
{
    for (size_t i = 0; i < help_topic_count; i++)
        if (strcmp(help_topics[i].name, name) == 0) return true;
    return false;
}

static void test_help_enum_and_help_topics_match(void **state)
{
    (void)state;
    json_t *en = json_object_get(json_object_get(json_object_get(tool("help")->input, "properties"), "topic"), "enum");
    assert_true(json_is_array(en));
    size_t i;
    json_t *v;
    json_array_foreach(en, i, v) {
        if (!help_topic_exists(json_string_value(v))) fail_msg("topic %s has no docs/help file", json_string_value(v));
    }
    for (i = 0; i < help_topic_count; i++) {
        bool listed = false;
        size_t j;
        json_array_foreach(en, j, v) listed |= strcmp(json_string_value(v), help_topics[i].name) == 0;
        if (!listed) fail_msg("docs/help/%s.md is not in the help tool's enum", help_topics[i].name);
    }
    assert_int_equal(json_array_size(en), help_topic_count);
}

static void test_help_topics_have_title_size_limit_and_known_related(void **state)
{
    (void)state;
    for (size_t i = 0; i < help_topic_count; i++) {
        const char *md = help_topics[i].markdown;
        size_t n = strlen(md);
        if (n > 1536) fail_msg("%s is %zu bytes (limit 1536)", help_topics[i].name, n);
        if (strncmp(md, "# ", 2) != 0) fail_msg("%s does not start with a # title", help_topics[i].name);
        /* The last line is "Related: a, b" naming existing topics. */
        while (n > 0 && md[n - 1] == '\n') n--;
        const char *last = md + n;
        while (last > md && last[-1] != '\n') last--;
        if (strncmp(last, "Related: ", 9) != 0) fail_msg("%s does not end with a Related line", help_topics[i].name);
        char buf[256];
        size_t len = (size_t)(md + n - (last + 9));
        assert_true(len < sizeof buf);
        memcpy(buf, last + 9, len);
        buf[len] = '\0';
        char *save = NULL;
        for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
            if (!help_topic_exists(tok)) fail_msg("%s relates to unknown topic %s", help_topics[i].name, tok);
    }
}

static bool args_valid(const char *tool_name, const char *args, char *err, size_t cap)
{
    json_t *v = J(args);
    err[0] = '\0';
    bool ok = jschema_validate(tool(tool_name)->input, v, "arguments", err, cap);
    json_decref(v);
    return ok;
}

static void assert_args_ok(const char *tool_name, const char *args)
{
    char err[256];
    if (!args_valid(tool_name, args, err, sizeof err)) fail_msg("%s rejected %s: %s", tool_name, args, err);
}

static void assert_args_bad(const char *tool_name, const char *args)
{
    char err[256];
    if (args_valid(tool_name, args, err, sizeof err)) fail_msg("%s accepted %s", tool_name, args);
    assert_true(strlen(err) > 0);
}

static void test_create_accepts_valid_arguments(void **state)
{
    (void)state;
    assert_args_ok("endpoints_create", "{\"name\":\"contact-form\"}");
    assert_args_ok("endpoints_create",
                   "{\"name\":\"customer inquiries\",\"description\":\"From the website\",\"fields\":["
                   "{\"name\":\"name\",\"type\":\"string\",\"required\":true},"
                   "{\"name\":\"email\",\"type\":\"string\",\"required\":true,\"searchable\":true,"
                   "\"validation\":{\"format\":\"email\",\"max_length\":200}},"
                   "{\"name\":\"age\",\"type\":\"number\",\"validation\":{\"minimum\":0,\"maximum\":150}},"
                   "{\"name\":\"plan\",\"type\":\"string\",\"validation\":{\"enum\":[\"free\",\"pro\"]}}]}");
    assert_args_ok("endpoints_create", "{\"name\":\"x\",\"fields\":[]}");
}

static void test_create_rejects_invalid_arguments(void **state)
{
    (void)state;
    assert_args_bad("endpoints_create", "{}");                                 /* name missing */
    assert_args_bad("endpoints_create", "{\"name\":\"\"}");                    /* too short */
    assert_args_bad("endpoints_create", "{\"name\":\"x\",\"colour\":\"red\"}"); /* unknown argument */
    assert_args_bad("endpoints_create", "{\"name\":\"x\",\"action\":\"delete\"}");
    assert_args_bad("endpoints_create", "{\"name\":\"x\",\"fields\":[{\"name\":\"a\"}]}"); /* type missing */
    assert_args_bad("endpoints_create", "{\"name\":\"x\",\"fields\":[{\"name\":\"a\",\"type\":\"date\"}]}");
    assert_args_bad("endpoints_create", "{\"name\":\"x\",\"fields\":[{\"name\":\"1a\",\"type\":\"string\"}]}");
    assert_args_bad("endpoints_create",
                    "{\"name\":\"x\",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"extra\":true}]}");
    assert_args_bad("endpoints_create",
                    "{\"name\":\"x\",\"fields\":[{\"name\":\"a\",\"type\":\"string\","
                    "\"validation\":{\"format\":\"phone\"}}]}");
    assert_args_bad("endpoints_create",
                    "{\"name\":\"x\",\"fields\":[{\"name\":\"a\",\"type\":\"string\","
                    "\"validation\":{\"min_length\":-1}}]}");
    assert_args_bad("endpoints_create",
                    "{\"name\":\"x\",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"validation\":{\"enum\":[]}}]}");
    assert_args_bad("endpoints_create",
                    "{\"name\":\"12345678901234567890123456789012345678901234567890123456789012345\"}"); /* 65 */
}

static void test_list_and_update_arguments_are_bounded(void **state)
{
    (void)state;
    assert_args_ok("endpoints_list", "{}");
    assert_args_ok("endpoints_list", "{\"limit\":100,\"status\":\"inactive\",\"query\":\"form\"}");
    assert_args_bad("endpoints_list", "{\"limit\":0}");
    assert_args_bad("endpoints_list", "{\"limit\":101}");
    assert_args_bad("endpoints_list", "{\"status\":\"deleted\"}");
    assert_args_ok("endpoints_update", "{\"endpoint\":\"contact-form\",\"dry_run\":true,\"fields\":[]}");
    assert_args_bad("endpoints_update", "{\"endpoint\":\"contact-form\",\"active\":false}");
    assert_args_bad("endpoints_update", "{\"endpoint\":\"contact-form\",\"environment\":\"staging\"}");
    assert_args_bad("endpoints_get", "{}");
    assert_args_bad("endpoints_deploy", "{\"endpoint\":\"\"}");
    assert_args_ok("help", "{}");
    assert_args_ok("help", "{\"topic\":\"safety\"}");
    assert_args_bad("help", "{\"topic\":\"secrets\"}");
}

static void test_output_schema_accepts_a_deploy_result(void **state)
{
    (void)state;
    json_t *r = J("{\"version\":2,\"deployed_at\":null,\"dry_run\":true,"
                  "\"production_url\":\"https://api.example.com/api/v1/data/contact-form\","
                  "\"diff\":[{\"field\":\"email\",\"change\":\"added\",\"after\":{\"name\":\"email\","
                  "\"type\":\"string\",\"required\":true,\"searchable\":false}},"
                  "{\"field\":\"(name)\",\"change\":\"changed\",\"before\":{\"value\":\"a\"},"
                  "\"after\":{\"value\":\"b\"}}]}");
    char err[256];
    if (!jschema_validate(tool("endpoints_deploy")->output, r, "result", err, sizeof err)) fail_msg("%s", err);
    json_object_del(r, "production_url");
    assert_false(jschema_validate(tool("endpoints_deploy")->output, r, "result", err, sizeof err));
    json_decref(r);
}

static void test_output_schema_accepts_an_endpoint_detail(void **state)
{
    (void)state;
    json_t *r = J("{\"id\":\"6f1c\",\"name\":\"Contact form\",\"slug\":\"contact-form\",\"description\":\"\","
                  "\"active\":true,\"created_at\":\"2024-05-01T09:00:00Z\",\"updated_at\":\"2024-05-01T09:00:00Z\","
                  "\"urls\":{\"gateway\":\"https://api.example.com/api/v1/data/contact-form\"},"
                  "\"sandbox\":{\"version\":1,\"updated_at\":\"2024-05-01T09:00:00Z\",\"test_calls\":0,\"fields\":["
                  "{\"name\":\"email\",\"type\":\"string\",\"required\":true,\"searchable\":true,"
                  "\"validation\":{\"format\":\"email\"}}]},"
                  "\"production\":{\"version\":0,\"fields\":[],\"deployed_at\":null},"
                  "\"has_undeployed_changes\":true,"
                  "\"pending_changes\":[{\"field\":\"email\",\"change\":\"added\",\"after\":{}}],"
                  "\"deployments\":[{\"version\":1,\"deployed_at\":\"2024-05-01T09:00:00Z\",\"note\":\"\","
                  "\"via\":\"mcp\",\"changes\":1}],"
                  "\"keys\":{\"sandbox\":{\"masked\":\"tm_test_\u2026abcd\"},\"production\":null},"
                  "\"webhooks\":{\"sandbox\":{\"url\":\"https://hooks.example.com/x\",\"auth_header_name\":null,"
                  "\"has_auth_value\":false,\"enabled\":true},\"production\":{\"url\":null,"
                  "\"auth_header_name\":null,\"has_auth_value\":false,\"enabled\":false}},"
                  "\"notifications\":{\"call_failed\":true,\"webhook_failed\":false,\"deployed\":false}}");
    char err[256];
    const json_t *out = tool("endpoints_get")->output;
    if (!jschema_validate(out, r, "result", err, sizeof err)) fail_msg("%s", err);
    /* The create result wraps the same detail. */
    json_t *c = json_pack("{s:O,s:[s]}", "endpoint", r, "next_steps", "Send a test record to the sandbox");
    if (!jschema_validate(tool("endpoints_create")->output, c, "result", err, sizeof err)) fail_msg("%s", err);
    json_decref(c);
    /* The effective rules are booleans, all three always present. */
    json_t *rules = json_object_get(r, "notifications");
    json_object_set_new(rules, "deployed", json_string("yes"));
    assert_false(jschema_validate(out, r, "result", err, sizeof err));
    json_object_del(rules, "deployed");
    assert_false(jschema_validate(out, r, "result", err, sizeof err));
    json_object_set_new(rules, "deployed", json_true());
    if (!jschema_validate(out, r, "result", err, sizeof err)) fail_msg("%s", err);
    /* A client relies on every documented key: dropping one must fail. */
    json_object_del(json_object_get(r, "production"), "deployed_at");
    assert_false(jschema_validate(out, r, "result", err, sizeof err));
    json_decref(r);
}

static void test_update_input_takes_notification_booleans_only(void **state)
{
    (void)state;
    const json_t *in = tool("endpoints_update")->input;
    char err[256];
    json_t *a = J("{\"endpoint\":\"contact-form\",\"notifications\":{\"call_failed\":true,\"deployed\":false}}");
    if (!jschema_validate(in, a, "arguments", err, sizeof err)) fail_msg("%s", err);
    json_decref(a);
    a = J("{\"endpoint\":\"contact-form\",\"notifications\":{\"usage_80\":true}}");
    assert_false(jschema_validate(in, a, "arguments", err, sizeof err));
    json_decref(a);
    a = J("{\"endpoint\":\"contact-form\",\"notifications\":{\"call_failed\":\"on\"}}");
    assert_false(jschema_validate(in, a, "arguments", err, sizeof err));
    json_decref(a);
    a = J("{\"endpoint\":\"contact-form\",\"notifications\":{}}");
    assert_false(jschema_validate(in, a, "arguments", err, sizeof err));
    json_decref(a);
}

static void test_scopes_parse_accepts_commas_and_spaces(void **state)
{
    (void)state;
    uint32_t bits = 0;
    assert_int_equal(scopes_parse("read,write", &bits), 0);
    assert_int_equal(bits, SCOPE_READ | SCOPE_WRITE);
    assert_int_equal(scopes_parse("read write execute", &bits), 0);
    assert_int_equal(bits, SCOPE_ALL);
    assert_int_equal(scopes_parse(" execute, read ", &bits), 0);
    assert_int_equal(bits, SCOPE_READ | SCOPE_EXECUTE);
}

static void test_scopes_parse_rejects_unknown_and_empty(void **state)
{
    (void)state;
    uint32_t bits = 12345;
    assert_int_equal(scopes_parse("read,admin", &bits), -1);
    assert_int_equal(scopes_parse("", &bits), -1);
    assert_int_equal(scopes_parse(" , ", &bits), -1);
    assert_int_equal(scopes_parse("Read", &bits), -1);
    assert_int_equal(scopes_parse("readwrite", &bits), -1);
    assert_int_equal(scopes_parse(NULL, &bits), -1);
    assert_int_equal(bits, 12345); /* untouched on failure */
}

static void test_scopes_format_and_names(void **state)
{
    (void)state;
    char buf[64];
    scopes_format(SCOPE_ALL, buf, sizeof buf);
    assert_string_equal(buf, "read write execute");
    scopes_format(SCOPE_EXECUTE | SCOPE_READ, buf, sizeof buf);
    assert_string_equal(buf, "read execute");
    scopes_format(0, buf, sizeof buf);
    assert_string_equal(buf, "");
    char small[11];
    scopes_format(SCOPE_ALL, small, sizeof small);
    assert_string_equal(small, "read write"); /* whole words only */
    uint32_t bits;
    scopes_format(SCOPE_WRITE | SCOPE_EXECUTE, buf, sizeof buf);
    assert_int_equal(scopes_parse(buf, &bits), 0);
    assert_int_equal(bits, SCOPE_WRITE | SCOPE_EXECUTE);
    assert_string_equal(scope_name(SCOPE_READ), "read");
    assert_string_equal(scope_name(SCOPE_WRITE), "write");
    assert_string_equal(scope_name(SCOPE_EXECUTE), "execute");
    assert_null(scope_name(SCOPE_READ | SCOPE_WRITE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_has_the_foundation_tools),
        cmocka_unit_test(test_every_tool_name_matches_the_mcp_pattern),
        cmocka_unit_test(test_every_tool_has_title_and_description),
        cmocka_unit_test(test_every_schema_is_an_object_schema_jschema_accepts),
        cmocka_unit_test(test_input_schemas_reject_unknown_properties_everywhere),
        cmocka_unit_test(test_every_write_tool_needs_write_scope),
        cmocka_unit_test(test_annotations_match_what_each_tool_does),
        cmocka_unit_test(test_listing_has_schemas_and_all_four_annotation_booleans),
        cmocka_unit_test(test_help_enum_and_help_topics_match),
        cmocka_unit_test(test_help_topics_have_title_size_limit_and_known_related),
        cmocka_unit_test(test_create_accepts_valid_arguments),
        cmocka_unit_test(test_create_rejects_invalid_arguments),
        cmocka_unit_test(test_list_and_update_arguments_are_bounded),
        cmocka_unit_test(test_output_schema_accepts_a_deploy_result),
        cmocka_unit_test(test_output_schema_accepts_an_endpoint_detail),
        cmocka_unit_test(test_update_input_takes_notification_booleans_only),
        cmocka_unit_test(test_scopes_parse_accepts_commas_and_spaces),
        cmocka_unit_test(test_scopes_parse_rejects_unknown_and_empty),
        cmocka_unit_test(test_scopes_format_and_names),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
