/*
 * jschema — validation of JSON values against the subset of JSON Schema
 * (2020-12) that our tool input schemas use:
 *   type (string or array), properties, required, additionalProperties (bool),
 *   enum, const, minimum, maximum, minLength, maxLength (in code points),
 *   pattern (POSIX extended regex), format (email, uri, date-time, date),
 *   items, minItems, maxItems, uniqueItems, minProperties, maxProperties.
 * `integer` means an integer literal: 3.0 is rejected (stricter than JSON
 * Schema, so handlers can read json_integer_value() safely).
 * A keyword outside this subset makes jschema_check_schema() fail, so a
 * schema can never silently validate less than it says.
 *
 * Error messages name the argument and what is expected, e.g.
 *   "arguments.limit: must be at most 100 (got 500)"
 *   "arguments.fields[2].type: must be one of \"string\", \"number\", ..."
 *   "arguments: unknown property \"colour\""
 */
#ifndef TM_JSCHEMA_H
#define TM_JSCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* Returns true if schema only uses supported keywords (and patterns compile);
 * otherwise false with a reason in err. */
bool jschema_check_schema(const json_t *schema, char *err, size_t errcap);

/* Validates value; root_name is the path prefix in messages ("arguments").
 * Returns true if valid; otherwise false with the first problem in err. */
bool jschema_validate(const json_t *schema, const json_t *value, const char *root_name,
                      char *err, size_t errcap);

#endif
