/*
 * Tests of common/jschema: every supported keyword accepts what it should and
 * rejects what it should with a message naming the path; the schema checker
 * refuses keywords outside the subset, so a schema never promises more than
 * is validated.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jschema.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (j == NULL)
        fail_msg("bad JSON in test: %s (%s)", text, e.text);
    return j;
}

static char last_err[512];

/* Validates value against schema (which must pass the checker) as "arguments". */
static bool valid(const char *schema, const char *value)
{
    json_t *s = parse(schema), *v = parse(value);
    char why[256];
    if (!jschema_check_schema(s, why, sizeof why))
        fail_msg("schema rejected: %s", why);
    last_err[0] = 'x';
    bool ok = jschema_validate(s, v, "arguments", last_err, sizeof last_err);
    if (ok)
        assert_string_equal(last_err, ""); /* no stale message on success */
    else
        assert_true(strlen(last_err) > 0);
    json_decref(s);
    json_decref(v);
    return ok;
}

static bool schema_ok(const char *schema)
{
    json_t *s = parse(schema);
    bool ok = jschema_check_schema(s, last_err, sizeof last_err);
    json_decref(s);
    return ok;
}

/* ---- jschema_check_schema ------------------------------------------------------- */

static void test_check_schema_accepts_every_supported_keyword(void **state)
{
    (void)state;
    assert_true(schema_ok("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
                          "\"title\":\"t\",\"description\":\"d\",\"type\":\"object\","
                          "\"additionalProperties\":false,\"required\":[\"a\"],"
                          "\"minProperties\":1,\"maxProperties\":5,"
                          "\"properties\":{"
                          " \"a\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":9,"
                          "      \"pattern\":\"^[a-z]+$\",\"format\":\"email\",\"default\":\"x\",\"examples\":[\"y\"]},"
                          " \"b\":{\"type\":[\"integer\",\"null\"],\"minimum\":0,\"maximum\":10.5},"
                          " \"c\":{\"type\":\"array\",\"items\":{\"enum\":[1,\"two\",null]},"
                          "      \"minItems\":0,\"maxItems\":3,\"uniqueItems\":true},"
                          " \"d\":{\"const\":{\"k\":[1]}},"
                          " \"e\":{\"type\":\"string\",\"format\":\"uri\"},"
                          " \"f\":{\"type\":\"string\",\"format\":\"date-time\"},"
                          " \"g\":{\"type\":\"string\",\"format\":\"date\"},"
                          " \"h\":{\"type\":\"boolean\"}, \"i\":{\"type\":\"number\"}, \"j\":{}}}"));
}

static void test_check_schema_rejects_unknown_keywords_anywhere(void **state)
{
    (void)state;
    assert_false(schema_ok("{\"type\":\"integer\",\"multipleOf\":5}"));
    assert_non_null(strstr(last_err, "multipleOf"));
    assert_false(schema_ok("{\"oneOf\":[{\"type\":\"string\"}]}"));
    assert_false(schema_ok("{\"$ref\":\"#/defs/x\"}"));
    assert_false(schema_ok("{\"type\":\"object\",\"properties\":{\"limit\":{\"exclusiveMaximum\":3}}}"));
    assert_string_equal(last_err, "schema.properties.limit: unsupported keyword \"exclusiveMaximum\"");
    assert_false(schema_ok("{\"type\":\"array\",\"items\":{\"contains\":{}}}"));
    assert_string_equal(last_err, "schema.items: unsupported keyword \"contains\"");
    /* a keyword with a typo is unknown, not ignored */
    assert_false(schema_ok("{\"type\":\"string\",\"maxlength\":3}"));
}

static void test_check_schema_rejects_mistyped_keyword_values(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"type\":\"int\"}",
        "{\"type\":[]}",
        "{\"type\":[\"string\",\"string\"]}",
        "{\"type\":5}",
        "{\"minimum\":\"1\"}",
        "{\"maxLength\":-1}",
        "{\"minItems\":1.5}",
        "{\"required\":[1]}",
        "{\"required\":\"a\"}",
        "{\"additionalProperties\":{}}",
        "{\"uniqueItems\":1}",
        "{\"enum\":[]}",
        "{\"enum\":{}}",
        "{\"pattern\":\"(\"}",
        "{\"pattern\":3}",
        "{\"format\":\"ipv4\"}",
        "{\"items\":true}",
        "{\"properties\":{\"a\":5}}",
        "{\"properties\":[]}",
        "{\"title\":3}",
        "[]",
        "true",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (schema_ok(bad[i]))
            fail_msg("accepted %s", bad[i]);
        assert_true(strncmp(last_err, "schema", 6) == 0);
    }
    assert_false(schema_ok("{\"format\":\"ipv4\"}"));
    assert_non_null(strstr(last_err, "schema.format"));
    assert_non_null(strstr(last_err, "ipv4"));
}

static void test_validate_refuses_unchecked_schema_with_unknown_keyword(void **state)
{
    (void)state;
    json_t *s = parse("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"multipleOf\":2}}}");
    json_t *v = parse("{\"n\":3}");
    char err[256];
    assert_false(jschema_validate(s, v, "arguments", err, sizeof err));
    assert_non_null(strstr(err, "multipleOf"));
    json_decref(s);
    json_decref(v);
}

/* ---- type ------------------------------------------------------------------------ */

static void test_type_each_name_accepts_and_rejects(void **state)
{
    (void)state;
    assert_true(valid("{\"type\":\"string\"}", "\"x\""));
    assert_false(valid("{\"type\":\"string\"}", "1"));
    assert_string_equal(last_err, "arguments: must be a string (got integer)");
    assert_true(valid("{\"type\":\"boolean\"}", "false"));
    assert_false(valid("{\"type\":\"boolean\"}", "0"));
    assert_true(valid("{\"type\":\"null\"}", "null"));
    assert_false(valid("{\"type\":\"null\"}", "\"\""));
    assert_true(valid("{\"type\":\"object\"}", "{}"));
    assert_false(valid("{\"type\":\"object\"}", "[]"));
    assert_string_equal(last_err, "arguments: must be an object (got array)");
    assert_true(valid("{\"type\":\"array\"}", "[]"));
    assert_false(valid("{\"type\":\"array\"}", "{}"));
}

static void test_type_integer_accepts_integer_literals_only(void **state)
{
    (void)state;
    assert_true(valid("{\"type\":\"integer\"}", "42"));
    assert_true(valid("{\"type\":\"integer\"}", "-7"));
    assert_false(valid("{\"type\":\"integer\"}", "3.0"));
    assert_false(valid("{\"type\":\"integer\"}", "1e3"));
    assert_false(valid("{\"type\":\"integer\"}", "3.5"));
    assert_string_equal(last_err, "arguments: must be an integer (got number)");
    assert_false(valid("{\"type\":\"integer\"}", "\"3\""));
    assert_string_equal(last_err, "arguments: must be an integer (got string)");
}

static void test_type_number_accepts_integers_and_reals(void **state)
{
    (void)state;
    assert_true(valid("{\"type\":\"number\"}", "1"));
    assert_true(valid("{\"type\":\"number\"}", "1.25"));
    assert_false(valid("{\"type\":\"number\"}", "true"));
    assert_string_equal(last_err, "arguments: must be a number (got boolean)");
}

static void test_type_list_accepts_any_listed_type(void **state)
{
    (void)state;
    const char *s = "{\"type\":[\"string\",\"integer\",\"null\"]}";
    assert_true(valid(s, "\"a\""));
    assert_true(valid(s, "null"));
    assert_true(valid(s, "5"));
    assert_false(valid(s, "[]"));
    assert_string_equal(last_err, "arguments: must be a string, an integer or null (got array)");
}

/* ---- objects ---------------------------------------------------------------------- */

static const char *obj_schema = "{\"type\":\"object\",\"additionalProperties\":false,"
                                "\"required\":[\"table\",\"limit\"],"
                                "\"properties\":{\"table\":{\"type\":\"string\"},"
                                "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
                                "\"color\":{\"type\":\"string\"}}}";

static void test_properties_are_validated_with_their_path(void **state)
{
    (void)state;
    assert_true(valid(obj_schema, "{\"table\":\"t\",\"limit\":100}"));
    assert_false(valid(obj_schema, "{\"table\":\"t\",\"limit\":500}"));
    assert_string_equal(last_err, "arguments.limit: must be at most 100 (got 500)");
    assert_false(valid(obj_schema, "{\"table\":7,\"limit\":5}"));
    assert_string_equal(last_err, "arguments.table: must be a string (got integer)");
}

static void test_required_property_missing_is_named(void **state)
{
    (void)state;
    assert_false(valid(obj_schema, "{\"table\":\"t\"}"));
    assert_string_equal(last_err, "arguments: missing required property \"limit\"");
}

static void test_additional_properties_false_rejects_unknown_property(void **state)
{
    (void)state;
    assert_false(valid(obj_schema, "{\"table\":\"t\",\"limit\":1,\"colour\":\"red\"}"));
    assert_string_equal(last_err, "arguments: unknown property \"colour\"");
    /* without additionalProperties:false extra properties pass */
    assert_true(valid("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}",
                      "{\"a\":\"x\",\"b\":1}"));
    assert_true(valid("{\"type\":\"object\",\"additionalProperties\":true}", "{\"b\":1}"));
    /* with no properties at all, every property is unknown */
    assert_false(valid("{\"type\":\"object\",\"additionalProperties\":false}", "{\"b\":1}"));
}

static void test_unknown_property_name_is_escaped_in_message(void **state)
{
    (void)state;
    assert_false(valid("{\"additionalProperties\":false}", "{\"a\\\"b\\n\":1}"));
    assert_string_equal(last_err, "arguments: unknown property \"a\\\"b\\u000a\"");
}

static void test_odd_property_names_are_quoted_in_the_path(void **state)
{
    (void)state;
    assert_false(valid("{\"properties\":{\"first name\":{\"type\":\"string\"}}}", "{\"first name\":1}"));
    assert_string_equal(last_err, "arguments[\"first name\"]: must be a string (got integer)");
}

static void test_min_and_max_properties(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"object\",\"minProperties\":1,\"maxProperties\":2}";
    assert_true(valid(s, "{\"a\":1}"));
    assert_true(valid(s, "{\"a\":1,\"b\":2}"));
    assert_false(valid(s, "{}"));
    assert_string_equal(last_err, "arguments: must have at least 1 property (got 0)");
    assert_false(valid(s, "{\"a\":1,\"b\":2,\"c\":3}"));
    assert_string_equal(last_err, "arguments: must have at most 2 properties (got 3)");
}

/* ---- enum / const ----------------------------------------------------------------- */

static void test_enum_accepts_members_and_lists_them_when_rejecting(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"object\",\"properties\":{\"fields\":{\"type\":\"array\",\"items\":"
                    "{\"type\":\"object\",\"properties\":{\"type\":{\"enum\":[\"string\",\"number\",\"boolean\"]}}}}}}";
    assert_true(valid(s, "{\"fields\":[{\"type\":\"string\"},{\"type\":\"number\"}]}"));
    assert_false(valid(s, "{\"fields\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":\"text\"}]}"));
    assert_string_equal(last_err, "arguments.fields[2].type: must be one of \"string\", \"number\", \"boolean\"");
}

static void test_enum_compares_numbers_by_value(void **state)
{
    (void)state;
    assert_true(valid("{\"enum\":[1,2]}", "1.0"));
    assert_true(valid("{\"enum\":[1.0]}", "1"));
    assert_false(valid("{\"enum\":[1,2]}", "1.5"));
    assert_true(valid("{\"enum\":[{\"a\":[1,\"x\"]}]}", "{\"a\":[1.0,\"x\"]}"));
    assert_false(valid("{\"enum\":[{\"a\":[1,\"x\"]}]}", "{\"a\":[1,\"y\"]}"));
    assert_false(valid("{\"enum\":[null]}", "false"));
}

static void test_const_requires_the_exact_value(void **state)
{
    (void)state;
    assert_true(valid("{\"const\":\"v1\"}", "\"v1\""));
    assert_false(valid("{\"const\":\"v1\"}", "\"v2\""));
    assert_string_equal(last_err, "arguments: must be \"v1\"");
    assert_true(valid("{\"const\":{\"a\":1,\"b\":[true]}}", "{\"b\":[true],\"a\":1}"));
    assert_false(valid("{\"const\":{\"a\":1}}", "{\"a\":1,\"b\":2}"));
}

/* ---- numbers ------------------------------------------------------------------------ */

static void test_minimum_and_maximum_are_inclusive(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"number\",\"minimum\":1,\"maximum\":2.5}";
    assert_true(valid(s, "1"));
    assert_true(valid(s, "2.5"));
    assert_true(valid(s, "1.0"));
    assert_false(valid(s, "0.999"));
    assert_string_equal(last_err, "arguments: must be at least 1 (got 0.999)");
    assert_false(valid(s, "3"));
    assert_string_equal(last_err, "arguments: must be at most 2.5 (got 3)");
    /* large integers compare exactly */
    assert_false(valid("{\"maximum\":9007199254740992}", "9007199254740993"));
    /* non-numbers are not constrained by numeric keywords */
    assert_true(valid("{\"minimum\":5}", "\"abc\""));
}

/* ---- strings ------------------------------------------------------------------------ */

static void test_string_lengths_count_code_points(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}";
    assert_true(valid(s, "\"ab\""));
    assert_true(valid(s, "\"\\u00e9\\u00e9\\u00e9\"")); /* 3 code points, 6 bytes */
    assert_true(valid(s, "\"\\ud83d\\ude00\\ud83d\\ude00\"")); /* 2 emoji, 8 bytes */
    assert_false(valid(s, "\"a\""));
    assert_string_equal(last_err, "arguments: must be at least 2 characters long (got 1)");
    assert_false(valid(s, "\"abcd\""));
    assert_string_equal(last_err, "arguments: must be at most 3 characters long (got 4)");
    assert_false(valid("{\"maxLength\":1}", "\"ab\""));
    assert_string_equal(last_err, "arguments: must be at most 1 character long (got 2)");
}

static void test_pattern_is_an_unanchored_extended_regex(void **state)
{
    (void)state;
    assert_true(valid("{\"pattern\":\"^[a-z_][a-z0-9_]{0,62}$\"}", "\"orders_2024\""));
    assert_false(valid("{\"pattern\":\"^[a-z_][a-z0-9_]{0,62}$\"}", "\"Orders\""));
    assert_string_equal(last_err, "arguments: must match the pattern \"^[a-z_][a-z0-9_]{0,62}$\"");
    assert_true(valid("{\"pattern\":\"b+\"}", "\"abbbc\""));  /* search, not full match */
    assert_false(valid("{\"pattern\":\"(x|y)z\"}", "\"xy\""));
    assert_false(valid("{\"pattern\":\"^a$\"}", "\"a\\u0000b\"")); /* embedded NUL never matches */
}

static void test_format_email(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"string\",\"format\":\"email\"}";
    assert_true(valid(s, "\"ann@example.com\""));
    assert_true(valid(s, "\"a.b+tag@mail.example.co.uk\""));
    const char *bad[] = {"\"annexample.com\"", "\"@example.com\"", "\"a@b@example.com\"", "\"ann@localhost\"",
                         "\"ann@.example.com\"", "\"ann@example.com.\"", "\"ann@example..com\"",
                         "\"an n@example.com\"", "\"ann@\"", "\"\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (valid(s, bad[i]))
            fail_msg("accepted %s", bad[i]);
    }
    assert_string_equal(last_err, "arguments: must be an email address (like name@example.com)");
}

static void test_format_uri_requires_absolute_http_url(void **state)
{
    (void)state;
    const char *s = "{\"format\":\"uri\"}";
    const char *good[] = {"\"https://example.com\"", "\"http://example.com/a/b?c=d#e\"",
                          "\"HTTPS://Example.com:8443/x\"", "\"http://user@host/\"", "\"http://[::1]:80/\""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!valid(s, good[i]))
            fail_msg("rejected %s: %s", good[i], last_err);
    }
    const char *bad[] = {"\"example.com\"",        "\"/relative/path\"", "\"ftp://example.com\"",
                         "\"javascript:alert(1)\"", "\"http://\"",        "\"http:///x\"",
                         "\"https://exa mple.com\"", "\"http://host:port/\"", "\"http://:80/\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (valid(s, bad[i]))
            fail_msg("accepted %s", bad[i]);
    }
    assert_string_equal(last_err, "arguments: must be an absolute http or https URL");
}

static void test_format_date_time_is_rfc3339(void **state)
{
    (void)state;
    const char *s = "{\"format\":\"date-time\"}";
    const char *good[] = {"\"2025-01-31T13:45:00Z\"", "\"2025-01-31t13:45:00.123456z\"",
                          "\"2024-02-29T00:00:00+05:30\"", "\"2016-12-31T23:59:60-00:00\""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!valid(s, good[i]))
            fail_msg("rejected %s: %s", good[i], last_err);
    }
    const char *bad[] = {"\"2025-01-31\"", "\"2025-01-31 13:45:00Z\"", "\"2025-01-31T13:45:00\"",
                         "\"2025-02-30T00:00:00Z\"", "\"2023-02-29T00:00:00Z\"", "\"2025-01-31T24:00:00Z\"",
                         "\"2025-01-31T13:45:00.Z\"", "\"2025-01-31T13:45:00+0530\"", "\"2025-13-01T00:00:00Z\"",
                         "\"2025-01-31T13:45:00Zjunk\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (valid(s, bad[i]))
            fail_msg("accepted %s", bad[i]);
    }
    assert_non_null(strstr(last_err, "RFC 3339"));
}

static void test_format_date(void **state)
{
    (void)state;
    const char *s = "{\"format\":\"date\"}";
    assert_true(valid(s, "\"2024-02-29\""));
    assert_true(valid(s, "\"2000-02-29\""));
    assert_false(valid(s, "\"1900-02-29\""));
    assert_false(valid(s, "\"2024-04-31\""));
    assert_false(valid(s, "\"2024-1-01\""));
    assert_false(valid(s, "\"2024-01-01T00:00:00Z\""));
    assert_string_equal(last_err, "arguments: must be a date YYYY-MM-DD");
    /* formats only constrain strings */
    assert_true(valid(s, "5"));
}

/* ---- arrays ---------------------------------------------------------------------- */

static void test_items_are_validated_with_their_index(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"maximum\":9}}";
    assert_true(valid(s, "[1,2,9]"));
    assert_false(valid(s, "[1,2,10]"));
    assert_string_equal(last_err, "arguments[2]: must be at most 9 (got 10)");
}

static void test_min_and_max_items(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"array\",\"minItems\":1,\"maxItems\":2}";
    assert_true(valid(s, "[1]"));
    assert_true(valid(s, "[1,2]"));
    assert_false(valid(s, "[]"));
    assert_string_equal(last_err, "arguments: must have at least 1 item (got 0)");
    assert_false(valid(s, "[1,2,3]"));
    assert_string_equal(last_err, "arguments: must have at most 2 items (got 3)");
}

static void test_unique_items_finds_equal_values(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"array\",\"uniqueItems\":true}";
    assert_true(valid(s, "[1,2,\"1\",[1],{\"a\":1},null,false]"));
    assert_false(valid(s, "[\"a\",\"b\",\"a\"]"));
    assert_string_equal(last_err, "arguments: items must be unique (items 0 and 2 are equal)");
    assert_false(valid(s, "[1,1.0]"));
    assert_false(valid(s, "[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1}]"));
    assert_true(valid("{\"uniqueItems\":false}", "[1,1]"));
}

static void test_unique_items_is_fast_on_long_arrays(void **state)
{
    (void)state;
    json_t *arr = json_array();
    for (int i = 0; i < 200000; i++)
        json_array_append_new(arr, json_integer(i));
    json_t *s = parse("{\"uniqueItems\":true}");
    char err[256];
    clock_t t0 = clock();
    assert_true(jschema_validate(s, arr, "arguments", err, sizeof err));
    json_array_append_new(arr, json_integer(199999));
    assert_false(jschema_validate(s, arr, "arguments", err, sizeof err));
    assert_string_equal(err, "arguments: items must be unique (items 199999 and 200000 are equal)");
    /* a quadratic scan would take minutes here */
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 10.0);
    json_decref(s);
    json_decref(arr);
}

/* ---- messages ---------------------------------------------------------------------- */

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0)
            return false;
        p++;
        for (int i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return false;
        }
    }
    return true;
}

static void test_messages_stay_valid_utf8_when_cut(void **state)
{
    (void)state;
    json_t *s = parse("{\"enum\":[\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"]}");
    json_t *v = parse("\"x\"");
    for (size_t cap = 1; cap < 60; cap++) {
        char err[64];
        memset(err, 'Z', sizeof err);
        assert_false(jschema_validate(s, v, "arguments", err, cap));
        assert_true(strlen(err) < cap);
        assert_true(utf8_valid(err));
    }
    json_decref(s);
    json_decref(v);
}

static void test_root_name_prefixes_paths_and_null_err_is_allowed(void **state)
{
    (void)state;
    json_t *s = parse("{\"properties\":{\"a\":{\"type\":\"string\"}}}");
    json_t *v = parse("{\"a\":1}");
    char err[128];
    assert_false(jschema_validate(s, v, "params", err, sizeof err));
    assert_string_equal(err, "params.a: must be a string (got integer)");
    assert_false(jschema_validate(s, v, "params", NULL, 0));
    json_decref(s);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_schema_accepts_every_supported_keyword),
        cmocka_unit_test(test_check_schema_rejects_unknown_keywords_anywhere),
        cmocka_unit_test(test_check_schema_rejects_mistyped_keyword_values),
        cmocka_unit_test(test_validate_refuses_unchecked_schema_with_unknown_keyword),
        cmocka_unit_test(test_type_each_name_accepts_and_rejects),
        cmocka_unit_test(test_type_integer_accepts_integer_literals_only),
        cmocka_unit_test(test_type_number_accepts_integers_and_reals),
        cmocka_unit_test(test_type_list_accepts_any_listed_type),
        cmocka_unit_test(test_properties_are_validated_with_their_path),
        cmocka_unit_test(test_required_property_missing_is_named),
        cmocka_unit_test(test_additional_properties_false_rejects_unknown_property),
        cmocka_unit_test(test_unknown_property_name_is_escaped_in_message),
        cmocka_unit_test(test_odd_property_names_are_quoted_in_the_path),
        cmocka_unit_test(test_min_and_max_properties),
        cmocka_unit_test(test_enum_accepts_members_and_lists_them_when_rejecting),
        cmocka_unit_test(test_enum_compares_numbers_by_value),
        cmocka_unit_test(test_const_requires_the_exact_value),
        cmocka_unit_test(test_minimum_and_maximum_are_inclusive),
        cmocka_unit_test(test_string_lengths_count_code_points),
        cmocka_unit_test(test_pattern_is_an_unanchored_extended_regex),
        cmocka_unit_test(test_format_email),
        cmocka_unit_test(test_format_uri_requires_absolute_http_url),
        cmocka_unit_test(test_format_date_time_is_rfc3339),
        cmocka_unit_test(test_format_date),
        cmocka_unit_test(test_items_are_validated_with_their_index),
        cmocka_unit_test(test_min_and_max_items),
        cmocka_unit_test(test_unique_items_finds_equal_values),
        cmocka_unit_test(test_unique_items_is_fast_on_long_arrays),
        cmocka_unit_test(test_messages_stay_valid_utf8_when_cut),
        cmocka_unit_test(test_root_name_prefixes_paths_and_null_err_is_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
