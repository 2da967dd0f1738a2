/*
 * fields — endpoint field definitions: semantic validation beyond the JSON
 * schema (unique names, rules that fit the type, patterns that compile,
 * searchable only on strings), normalisation to a canonical form, and the
 * diff between two configurations that update and deploy report.
 *
 * A field definition (FieldDef):
 *   {"name": "email", "type": "string"|"number"|"boolean"|"array"|"object",
 *    "required": false, "searchable": false,
 *    "validation": {"min_length", "max_length", "pattern", "enum",
 *                   "minimum", "maximum", "format": "email"|"url"|"date-time"}}
 */
#ifndef TM_FIELDS_H
#define TM_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define FIELDS_MAX 100

/* Validates a FieldDef array and returns a new canonical array (defaults
 * filled in: required=false, searchable=false, validation={} omitted when
 * empty; key order fixed) or NULL with a message in err naming the field. */
json_t *fields_normalize(const json_t *fields, char *err, size_t errcap);

/* Diff of two canonical field arrays, matched by name:
 *   [{"field":"email","change":"added","after":{...}},
 *    {"field":"age","change":"removed","before":{...}},
 *    {"field":"name","change":"changed","before":{...},"after":{...}}]
 * Order: the order of `after`, then removed fields in the order of `before`.
 * Returns a new array (empty if equal). */
json_t *fields_diff(const json_t *before, const json_t *after);

/* Validates a record (JSON object) against canonical fields; returns true if valid,
 * else false and fills `problems` (new array of {field, code, message}). Unknown
 * keys are allowed. codes: missing_required_field, invalid_field_type, validation_failed */
bool fields_validate_record(const json_t *fields, const json_t *record, json_t **problems);

#endif
