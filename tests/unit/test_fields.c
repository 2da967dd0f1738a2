/*
 * Unit tests of proto/fields: semantic checks and canonical form of field
 * definitions, the diff between two configurations, and record validation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "proto/fields.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) fail_msg("bad test JSON: %s: %s", text, e.text);
    return v;
}

/* Normalizes text and returns the result (NULL on rejection, message in err). */
static json_t *norm(const char *text, char *err, size_t cap)
{
    json_t *in = J(text);
    err[0] = '\0';
    json_t *out = fields_normalize(in, err, cap);
    json_decref(in);
    return out;
}

static void assert_rejected(const char *text, const char *expect_in_message)
{
    char err[512];
    json_t *out = norm(text, err, sizeof err);
    if (out) {
        json_decref(out);
        fail_msg("accepted %s", text);
    }
    if (!strstr(err, expect_in_message)) fail_msg("message \"%s\" lacks \"%s\"", err, expect_in_message);
}

static void assert_dump(const json_t *v, const char *expected)
{
    char *s = json_dumps(v, JSON_COMPACT);
    assert_string_equal(s, expected);
    free(s);
}

/* ---- normalize ---- */

static void test_normalize_fills_defaults_in_fixed_key_order(void **state)
{
    (void)state;
    char err[256];
    json_t *out = norm("[{\"validation\":{\"format\":\"email\",\"max_length\":10},\"type\":\"string\","
                       "\"name\":\"email\",\"searchable\":true}, {\"type\":\"number\",\"name\":\"age\"}]",
                       err, sizeof err);
    assert_non_null(out);
    assert_dump(out, "[{\"name\":\"email\",\"type\":\"string\",\"required\":false,\"searchable\":true,"
                     "\"validation\":{\"max_length\":10,\"format\":\"email\"}},"
                     "{\"name\":\"age\",\"type\":\"number\",\"required\":false,\"searchable\":false}]");
    json_decref(out);
}

static void test_normalize_omits_empty_validation(void **state)
{
    (void)state;
    char err[256];
    json_t *out = norm("[{\"name\":\"a\",\"type\":\"boolean\",\"required\":true,\"validation\":{}}]", err, sizeof err);
    assert_non_null(out);
    assert_dump(out, "[{\"name\":\"a\",\"type\":\"boolean\",\"required\":true,\"searchable\":false}]");
    json_decref(out);
}

static void test_normalize_accepts_empty_list(void **state)
{
    (void)state;
    char err[64];
    json_t *out = norm("[]", err, sizeof err);
    assert_non_null(out);
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);
}

static void test_normalize_rejects_duplicate_names_ignoring_case(void **state)
{
    (void)state;
    assert_rejected("[{\"name\":\"Email\",\"type\":\"string\"},{\"name\":\"email\",\"type\":\"string\"}]",
                    "duplicate");
    assert_rejected("[{\"name\":\"Email\",\"type\":\"string\"},{\"name\":\"email\",\"type\":\"string\"}]",
                    "fields[1]");
}

static void test_normalize_rejects_bad_names(void **state)
{
    (void)state;
    assert_rejected("[{\"name\":\"1abc\",\"type\":\"string\"}]", "fields[0].name");
    assert_rejected("[{\"name\":\"a-b\",\"type\":\"string\"}]", "fields[0].name");
    assert_rejected("[{\"name\":\"\",\"type\":\"string\"}]", "fields[0].name");
    assert_rejected("[{\"name\":\"a2345678901234567890123456789012345678901234567890123456789012345\","
                    "\"type\":\"string\"}]",
                    "fields[0].name");
    assert_rejected("[{\"type\":\"string\"}]", "fields[0].name");
}

static void test_normalize_accepts_64_character_name(void **state)
{
    (void)state;
    char err[256];
    json_t *out = norm("[{\"name\":\"_234567890123456789012345678901234567890123456789012345678901234\","
                       "\"type\":\"string\"}]",
                       err, sizeof err);
    assert_non_null(out);
    json_decref(out);
}

static void test_normalize_rejects_unknown_type_and_keys(void **state)
{
    (void)state;
    assert_rejected("[{\"name\":\"a\",\"type\":\"date\"}]", "type");
    assert_rejected("[{\"name\":\"a\",\"type\":\"string\",\"colour\":1}]", "unknown property \"colour\"");
    assert_rejected("[{\"name\":\"a\",\"type\":\"string\",\"validation\":{\"regex\":\"x\"}}]",
                    "unknown rule \"regex\"");
    assert_rejected("[{\"name\":\"a\",\"type\":\"string\",\"required\":\"yes\"}]", "required");
    assert_rejected("{\"name\":\"a\"}", "array");
    assert_rejected("[\"a\"]", "fields[0]");
}

static void test_normalize_allows_searchable_only_for_strings(void **state)
{
    (void)state;
    assert_rejected("[{\"name\":\"n\",\"type\":\"number\",\"searchable\":true}]", "searchable");
    char err[256];
    json_t *out = norm("[{\"name\":\"n\",\"type\":\"number\",\"searchable\":false}]", err, sizeof err);
    assert_non_null(out);
    json_decref(out);
}

static void test_normalize_allows_length_rules_only_for_strings(void **state)
{
    (void)state;
    assert_rejected("[{\"name\":\"n\",\"type\":\"number\",\"validation\":{\"min_length\":1}}]", "min_length");
    assert_rejected("[{\"name\":\"n\",\"type\":\"array\",\"validation\":{\"max_length\":1}}]", "max_length");
    assert_rejected("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"min_length\":-1}}]", "min_length");
    assert_rejected("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"min_length\":1.5}}]", "min_length");
}

static void test_normalize_allows_range_rules_only_for_numbers(void **state)
{
    (void)state;
    assert_rejected("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"minimum\":1}}]", "minimum");
    assert_rejected("[{\"name\":\"s\",\"type\":\"boolean\",\"validation\":{\"maximum\":1}}]", "maximum");
    assert_rejected("[{\"name\":\"n\",\"type\":\"number\",\"validation\":{\"minimum\":\"1\"}}]", "minimum");
}

static void test_normalize_rejects_min_above_max(void **state)
{
    (void)state;
    assert_rejected("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"min_length\":5,\"max_length\":4}}]",
                    "min_length");
    assert_rejected("[{\"name\":\"n\",\"type\":\"number\",\"validation\":{\"minimum\":2.5,\"maximum\":1}}]",
                    "minimum");
    char err[256];
    json_t *out = norm("[{\"name\":\"n\",\"type\":\"number\",\"validation\":{\"minimum\":1,\"maximum\":1}}]", err,
                       sizeof err);
    assert_non_null(out);
    json_decref(out);
}

static void test_normalize_requires_pattern_to_compile_on_strings(void **state)
{
    (void)state;
    assert_rejected("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"pattern\":\"([a-z\"}}]", "pattern");
    assert_rejected("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"pattern\":\"(a)\\\\1\"}}]",
                    "back-references");
    assert_rejected("[{\"name\":\"n\",\"type\":\"number\",\"validation\":{\"pattern\":\"^[0-9]+$\"}}]", "pattern");
    char err[256];
    json_t *out = norm("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"pattern\":\"^[A-Z]{2}-[0-9]+$\"}}]",
                       err, sizeof err);
    assert_non_null(out);
    json_decref(out);
}

static void test_normalize_requires_enum_values_of_the_field_type(void **state)
{
    (void)state;
    assert_rejected("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"enum\":[\"a\",1]}}]", "enum[1]");
    assert_rejected("[{\"name\":\"n\",\"type\":\"number\",\"validation\":{\"enum\":[\"1\"]}}]", "enum[0]");
    assert_rejected("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"enum\":[]}}]", "enum");
    char err[256];
    json_t *out = norm("[{\"name\":\"n\",\"type\":\"number\",\"validation\":{\"enum\":[1,2.5]}},"
                       "{\"name\":\"b\",\"type\":\"boolean\",\"validation\":{\"enum\":[true]}}]",
                       err, sizeof err);
    assert_non_null(out);
    json_decref(out);
}

static void test_normalize_allows_format_only_for_strings(void **state)
{
    (void)state;
    assert_rejected("[{\"name\":\"n\",\"type\":\"number\",\"validation\":{\"format\":\"email\"}}]", "format");
    assert_rejected("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"format\":\"phone\"}}]", "format");
}

static void test_normalize_rejects_more_than_100_fields(void **state)
{
    (void)state;
    json_t *arr = json_array();
    for (int i = 0; i <= FIELDS_MAX; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        json_array_append_new(arr, json_pack("{s:s,s:s}", "name", name, "type", "string"));
    }
    char err[256];
    assert_null(fields_normalize(arr, err, sizeof err));
    assert_non_null(strstr(err, "100"));
    json_array_remove(arr, 0);
    json_t *out = fields_normalize(arr, err, sizeof err);
    assert_non_null(out);
    json_decref(out);
    json_decref(arr);
}

/* ---- diff ---- */

static void test_diff_of_equal_configs_is_empty(void **state)
{
    (void)state;
    json_t *a = J("[{\"name\":\"x\",\"type\":\"string\",\"required\":false,\"searchable\":false}]");
    json_t *d = fields_diff(a, a);
    assert_int_equal(json_array_size(d), 0);
    json_decref(d);
    json_decref(a);
}

static void test_diff_reports_added_changed_then_removed_in_order(void **state)
{
    (void)state;
    json_t *before = J("[{\"name\":\"age\",\"type\":\"number\",\"required\":false,\"searchable\":false},"
                       "{\"name\":\"name\",\"type\":\"string\",\"required\":false,\"searchable\":false},"
                       "{\"name\":\"keep\",\"type\":\"string\",\"required\":false,\"searchable\":false}]");
    json_t *after = J("[{\"name\":\"email\",\"type\":\"string\",\"required\":true,\"searchable\":false},"
                      "{\"name\":\"keep\",\"type\":\"string\",\"required\":false,\"searchable\":false},"
                      "{\"name\":\"name\",\"type\":\"string\",\"required\":true,\"searchable\":false}]");
    json_t *d = fields_diff(before, after);
    assert_dump(d, "[{\"field\":\"email\",\"change\":\"added\","
                   "\"after\":{\"name\":\"email\",\"type\":\"string\",\"required\":true,\"searchable\":false}},"
                   "{\"field\":\"name\",\"change\":\"changed\","
                   "\"before\":{\"name\":\"name\",\"type\":\"string\",\"required\":false,\"searchable\":false},"
                   "\"after\":{\"name\":\"name\",\"type\":\"string\",\"required\":true,\"searchable\":false}},"
                   "{\"field\":\"age\",\"change\":\"removed\","
                   "\"before\":{\"name\":\"age\",\"type\":\"number\",\"required\":false,\"searchable\":false}}]");
    json_decref(d);
    json_decref(before);
    json_decref(after);
}

static void test_diff_does_not_alias_its_inputs(void **state)
{
    (void)state;
    json_t *before = J("[]");
    json_t *after = J("[{\"name\":\"x\",\"type\":\"string\",\"required\":false,\"searchable\":false}]");
    json_t *d = fields_diff(before, after);
    json_object_set_new(json_array_get(after, 0), "type", json_string("number"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(d, 0), "after"), "type")),
                        "string");
    json_decref(d);
    json_decref(before);
    json_decref(after);
}

/* ---- record validation ---- */

static json_t *canon(const char *text)
{
    char err[256];
    json_t *f = norm(text, err, sizeof err);
    if (!f) fail_msg("fields rejected: %s", err);
    return f;
}

/* Validates and returns the problems array (NULL when valid). */
static json_t *check(const json_t *fields, const char *record)
{
    json_t *r = J(record);
    json_t *p = NULL;
    bool ok = fields_validate_record(fields, r, &p);
    json_decref(r);
    if (ok) assert_null(p);
    else assert_non_null(p);
    return p;
}

static void assert_one_problem(json_t *p, const char *field, const char *code, const char *in_message)
{
    assert_non_null(p);
    assert_int_equal(json_array_size(p), 1);
    json_t *e = json_array_get(p, 0);
    assert_string_equal(json_string_value(json_object_get(e, "field")), field);
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (!strstr(msg, in_message)) fail_msg("message \"%s\" lacks \"%s\"", msg, in_message);
    json_decref(p);
}

static void test_record_valid_with_unknown_keys_allowed(void **state)
{
    (void)state;
    json_t *f = canon("[{\"name\":\"email\",\"type\":\"string\",\"required\":true}]");
    assert_null(check(f, "{\"email\":\"a@b.co\",\"extra\":[1,2]}"));
    json_decref(f);
}

static void test_record_must_be_an_object(void **state)
{
    (void)state;
    json_t *f = canon("[]");
    assert_one_problem(check(f, "[1]"), "(record)", "invalid_field_type", "object");
    json_decref(f);
}

static void test_record_missing_or_null_required_field(void **state)
{
    (void)state;
    json_t *f = canon("[{\"name\":\"email\",\"type\":\"string\",\"required\":true},"
                      "{\"name\":\"note\",\"type\":\"string\"}]");
    assert_one_problem(check(f, "{}"), "email", "missing_required_field", "email");
    assert_one_problem(check(f, "{\"email\":null}"), "email", "missing_required_field", "required");
    /* An optional field may be absent or null. */
    assert_null(check(f, "{\"email\":\"x@y.io\",\"note\":null}"));
    json_decref(f);
}

static void test_record_reports_every_failing_field(void **state)
{
    (void)state;
    json_t *f = canon("[{\"name\":\"a\",\"type\":\"string\",\"required\":true},"
                      "{\"name\":\"b\",\"type\":\"number\",\"required\":true}]");
    json_t *p = check(f, "{\"b\":\"7\"}");
    assert_int_equal(json_array_size(p), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "code")), "missing_required_field");
    assert_string_equal(json_string_value(json_object_get(json_array_get(p, 1), "code")), "invalid_field_type");
    json_decref(p);
    json_decref(f);
}

static void test_record_checks_types(void **state)
{
    (void)state;
    json_t *f = canon("[{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"n\",\"type\":\"number\"},"
                      "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"a\",\"type\":\"array\"},"
                      "{\"name\":\"o\",\"type\":\"object\"}]");
    assert_null(check(f, "{\"s\":\"x\",\"n\":1.5,\"b\":false,\"a\":[],\"o\":{}}"));
    assert_null(check(f, "{\"n\":3}"));
    assert_one_problem(check(f, "{\"s\":1}"), "s", "invalid_field_type", "must be a string (got number)");
    assert_one_problem(check(f, "{\"n\":\"1\"}"), "n", "invalid_field_type", "must be a number (got string)");
    assert_one_problem(check(f, "{\"b\":0}"), "b", "invalid_field_type", "boolean");
    assert_one_problem(check(f, "{\"a\":{}}"), "a", "invalid_field_type", "must be an array (got object)");
    assert_one_problem(check(f, "{\"o\":[]}"), "o", "invalid_field_type", "must be an object (got array)");
    json_decref(f);
}

static void test_record_string_length_counts_characters(void **state)
{
    (void)state;
    json_t *f = canon("[{\"name\":\"s\",\"type\":\"string\",\"validation\":{\"min_length\":2,\"max_length\":3}}]");
    assert_null(check(f, "{\"s\":\"\xed\x95\x9c\xea\xb8\x80\"}")); /* two Hangul syllables, 6 bytes */
    assert_one_problem(check(f, "{\"s\":\"a\"}"), "s", "validation_failed", "at least 2");
    assert_one_problem(check(f, "{\"s\":\"abcd\"}"), "s", "validation_failed", "at most 3");
    json_decref(f);
}

static void test_record_pattern_enum_and_range(void **state)
{
    (void)state;
    json_t *f = canon("[{\"name\":\"code\",\"type\":\"string\",\"validation\":{\"pattern\":\"^[A-Z]{2}[0-9]+$\"}},"
                      "{\"name\":\"size\",\"type\":\"string\",\"validation\":{\"enum\":[\"S\",\"M\"]}},"
                      "{\"name\":\"qty\",\"type\":\"number\",\"validation\":{\"minimum\":1,\"maximum\":10}}]");
    assert_null(check(f, "{\"code\":\"KR42\",\"size\":\"M\",\"qty\":10}"));
    assert_one_problem(check(f, "{\"code\":\"kr42\"}"), "code", "validation_failed", "pattern");
    assert_one_problem(check(f, "{\"size\":\"XL\"}"), "size", "validation_failed", "allowed values");
    assert_one_problem(check(f, "{\"qty\":0.5}"), "qty", "validation_failed", "at least 1");
    assert_one_problem(check(f, "{\"qty\":11}"), "qty", "validation_failed", "at most 10");
    json_decref(f);
}

static void test_record_formats(void **state)
{
    (void)state;
    json_t *f = canon("[{\"name\":\"e\",\"type\":\"string\",\"validation\":{\"format\":\"email\"}},"
                      "{\"name\":\"u\",\"type\":\"string\",\"validation\":{\"format\":\"url\"}},"
                      "{\"name\":\"t\",\"type\":\"string\",\"validation\":{\"format\":\"date-time\"}}]");
    assert_null(check(f, "{\"e\":\"ann@example.com\",\"u\":\"https://example.com/x?y=1\","
                         "\"t\":\"2024-05-01T09:30:00.25+09:00\"}"));
    assert_null(check(f, "{\"t\":\"2024-05-01T09:30:00Z\"}"));
    assert_one_problem(check(f, "{\"e\":\"ann@\"}"), "e", "validation_failed", "email");
    assert_one_problem(check(f, "{\"e\":\"a b@example.com\"}"), "e", "validation_failed", "email");
    assert_one_problem(check(f, "{\"u\":\"ftp://example.com\"}"), "u", "validation_failed", "URL");
    assert_one_problem(check(f, "{\"u\":\"https://\"}"), "u", "validation_failed", "URL");
    assert_one_problem(check(f, "{\"t\":\"2024-05-01\"}"), "t", "validation_failed", "date-time");
    assert_one_problem(check(f, "{\"t\":\"2024-13-01T00:00:00Z\"}"), "t", "validation_failed", "date-time");
    json_decref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_fills_defaults_in_fixed_key_order),
        cmocka_unit_test(test_normalize_omits_empty_validation),
        cmocka_unit_test(test_normalize_accepts_empty_list),
        cmocka_unit_test(test_normalize_rejects_duplicate_names_ignoring_case),
        cmocka_unit_test(test_normalize_rejects_bad_names),
        cmocka_unit_test(test_normalize_accepts_64_character_name),
        cmocka_unit_test(test_normalize_rejects_unknown_type_and_keys),
        cmocka_unit_test(test_normalize_allows_searchable_only_for_strings),
        cmocka_unit_test(test_normalize_allows_length_rules_only_for_strings),
        cmocka_unit_test(test_normalize_allows_range_rules_only_for_numbers),
        cmocka_unit_test(test_normalize_rejects_min_above_max),
        cmocka_unit_test(test_normalize_requires_pattern_to_compile_on_strings),
        cmocka_unit_test(test_normalize_requires_enum_values_of_the_field_type),
        cmocka_unit_test(test_normalize_allows_format_only_for_strings),
        cmocka_unit_test(test_normalize_rejects_more_than_100_fields),
        cmocka_unit_test(test_diff_of_equal_configs_is_empty),
        cmocka_unit_test(test_diff_reports_added_changed_then_removed_in_order),
        cmocka_unit_test(test_diff_does_not_alias_its_inputs),
        cmocka_unit_test(test_record_valid_with_unknown_keys_allowed),
        cmocka_unit_test(test_record_must_be_an_object),
        cmocka_unit_test(test_record_missing_or_null_required_field),
        cmocka_unit_test(test_record_reports_every_failing_field),
        cmocka_unit_test(test_record_checks_types),
        cmocka_unit_test(test_record_string_length_counts_characters),
        cmocka_unit_test(test_record_pattern_enum_and_range),
        cmocka_unit_test(test_record_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
