/*
 * fields — semantic checks, canonical form and diff of endpoint field
 * definitions, and validation of a record against them (see fields.h).
 *
 * The JSON schema of the tool arguments already bounds sizes and types; this
 * module adds what a schema cannot say: names unique regardless of case,
 * rules that fit the field's type, patterns that compile, min <= max. It is
 * written defensively anyway (it re-checks shapes), because fields also come
 * back from the database and from other callers.
 *
 * Interface routines:
 *   fields_normalize        FieldDef[] -> canonical FieldDef[] or an error
 *   fields_diff             two canonical arrays -> Diff[]
 *   fields_validate_record  canonical FieldDef[] + record -> problems
 */
#include "proto/fields.h"
#include "common/util.h"
#include "common/utf8.h"

#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define FIELD_NAME_MAX 64
#define PATTERN_MAX 200
#define ENUM_MAX 50

static const char *const field_types[] = {"string", "number", "boolean", "array", "object"};
static const char *const field_formats[] = {"email", "url", "date-time"};

/* Validation keys in their canonical order. */
static const char *const rule_keys[] = {"min_length", "max_length", "pattern", "enum",
                                        "minimum",    "maximum",    "format"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return true;
    return false;
}

static void seterr(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ^[A-Za-z_][A-Za-z0-9_]{0,63}$, checked by hand: cheaper than a regex and
 * the same rule the input schema states. */
static bool valid_field_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > FIELD_NAME_MAX) return false;
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return false;
    /* isalpha is locale-dependent; reject anything outside ASCII outright. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

/* True if value has the JSON type that a field of `type` stores. */
static bool value_has_type(const json_t *v, const char *type)
{
    if (strcmp(type, "string") == 0) return json_is_string(v);
    if (strcmp(type, "number") == 0) return json_is_number(v);
    if (strcmp(type, "boolean") == 0) return json_is_boolean(v);
    if (strcmp(type, "array") == 0) return json_is_array(v);
    if (strcmp(type, "object") == 0) return json_is_object(v);
    return false;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

/* POSIX ERE as glibc compiles it. Back-references are refused: they are not
 * part of ERE and are what makes matching expensive on hostile input. */
static bool pattern_compiles(const char *p, char *why, size_t whycap)
{
    for (const char *c = p; *c; c++) {
        if (*c == '\\' && c[1]) {
            if (c[1] >= '1' && c[1] <= '9') {
                snprintf(why, whycap, "back-references are not supported");
                return false;
            }
            c++;
        }
    }
    regex_t re;
    int rc = regcomp(&re, p, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &re, msg, sizeof msg);
        snprintf(why, whycap, "%s", msg);
        return false;
    }
    regfree(&re);
    return true;
}

/* Checks one validation object for a field of `type` and returns its
 * canonical copy (keys in rule_keys order), or NULL with err set. */
static json_t *normalize_rules(const json_t *rules, const char *type, const char *where,
                               char *err, size_t errcap)
{
    bool is_string = strcmp(type, "string") == 0;
    bool is_number = strcmp(type, "number") == 0;

    if (!json_is_object(rules)) {
        seterr(err, errcap, "%s.validation: must be an object", where);
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)rules, key, v) {
        if (!in_list(key, rule_keys, TM_ARRAY_LEN(rule_keys))) {
            seterr(err, errcap, "%s.validation: unknown rule \"%.64s\"", where, key);
            return NULL;
        }
    }

    json_t *minl = json_object_get(rules, "min_length");
    json_t *maxl = json_object_get(rules, "max_length");
    json_t *pat = json_object_get(rules, "pattern");
    json_t *en = json_object_get(rules, "enum");
    json_t *mini = json_object_get(rules, "minimum");
    json_t *maxi = json_object_get(rules, "maximum");
    json_t *fmt = json_object_get(rules, "format");

    const struct { const char *name; json_t *v; } lens[] = {{"min_length", minl}, {"max_length", maxl}};
    for (size_t i = 0; i < 2; i++) {
        if (!lens[i].v) continue;
        if (!is_string) {
            seterr(err, errcap, "%s.validation.%s: only allowed for string fields (this field is %s)",
                   where, lens[i].name, type);
            return NULL;
        }
        if (!json_is_integer(lens[i].v) || json_integer_value(lens[i].v) < 0) {
            seterr(err, errcap, "%s.validation.%s: must be an integer >= 0", where, lens[i].name);
            return NULL;
        }
    }
    if (minl && maxl && json_integer_value(minl) > json_integer_value(maxl)) {
        seterr(err, errcap, "%s.validation: min_length (%lld) must not exceed max_length (%lld)", where,
               (long long)json_integer_value(minl), (long long)json_integer_value(maxl));
        return NULL;
    }

    if (pat) {
        if (!is_string) {
            seterr(err, errcap, "%s.validation.pattern: only allowed for string fields (this field is %s)",
                   where, type);
            return NULL;
        }
        if (!json_is_string(pat) || json_string_length(pat) > PATTERN_MAX ||
            strlen(json_string_value(pat)) != json_string_length(pat)) {
            seterr(err, errcap, "%s.validation.pattern: must be a string of at most %d characters", where,
                   PATTERN_MAX);
            return NULL;
        }
        char why[160] = "";
        if (!pattern_compiles(json_string_value(pat), why, sizeof why)) {
            seterr(err, errcap, "%s.validation.pattern: not a valid POSIX extended regular expression (%s)",
                   where, why);
            return NULL;
        }
    }

    if (en) {
        if (!json_is_array(en) || json_array_size(en) < 1 || json_array_size(en) > ENUM_MAX) {
            seterr(err, errcap, "%s.validation.enum: must be an array of 1 to %d values", where, ENUM_MAX);
            return NULL;
        }
        size_t i;
        json_t *item;
        json_array_foreach(en, i, item) {
            if (!value_has_type(item, type)) {
                seterr(err, errcap, "%s.validation.enum[%zu]: must be a %s like the field (got %s)", where, i,
                       type, json_type_name(item));
                return NULL;
            }
        }
    }

    const struct { const char *name; json_t *v; } nums[] = {{"minimum", mini}, {"maximum", maxi}};
    for (size_t i = 0; i < 2; i++) {
        if (!nums[i].v) continue;
        if (!is_number) {
            seterr(err, errcap, "%s.validation.%s: only allowed for number fields (this field is %s)", where,
                   nums[i].name, type);
            return NULL;
        }
        if (!json_is_number(nums[i].v)) {
            seterr(err, errcap, "%s.validation.%s: must be a number", where, nums[i].name);
            return NULL;
        }
    }
    if (mini && maxi && json_number_value(mini) > json_number_value(maxi)) {
        seterr(err, errcap, "%s.validation: minimum (%g) must not exceed maximum (%g)", where,
               json_number_value(mini), json_number_value(maxi));
        return NULL;
    }

    if (fmt) {
        if (!is_string) {
            seterr(err, errcap, "%s.validation.format: only allowed for string fields (this field is %s)",
                   where, type);
            return NULL;
        }
        if (!json_is_string(fmt) ||
            !in_list(json_string_value(fmt), field_formats, TM_ARRAY_LEN(field_formats))) {
            seterr(err, errcap, "%s.validation.format: must be one of \"email\", \"url\", \"date-time\"", where);
            return NULL;
        }
    }

    json_t *out = json_object();
    for (size_t i = 0; i < TM_ARRAY_LEN(rule_keys); i++) {
        json_t *r = json_object_get(rules, rule_keys[i]);
        if (r) json_object_set_new(out, rule_keys[i], json_deep_copy(r));
    }
    return out;
}

static json_t *normalize_one(const json_t *f, size_t idx, char *err, size_t errcap)
{
    static const char *const keys[] = {"name", "type", "required", "searchable", "validation"};
    char where[96];

    if (!json_is_object(f)) {
        seterr(err, errcap, "fields[%zu]: must be an object with at least name and type", idx);
        return NULL;
    }
    json_t *name = json_object_get(f, "name");
    if (!json_is_string(name) || strlen(json_string_value(name)) != json_string_length(name) ||
        !valid_field_name(json_string_value(name))) {
        seterr(err, errcap,
               "fields[%zu].name: must be 1-64 letters, digits or underscores, not starting with a digit", idx);
        return NULL;
    }
    snprintf(where, sizeof where, "fields[%zu] (\"%s\")", idx, json_string_value(name));

    const char *key;
    json_t *v;
    json_object_foreach((json_t *)f, key, v) {
        if (!in_list(key, keys, TM_ARRAY_LEN(keys))) {
            seterr(err, errcap, "%s: unknown property \"%.64s\"", where, key);
            return NULL;
        }
    }

    json_t *type = json_object_get(f, "type");
    if (!json_is_string(type) || !in_list(json_string_value(type), field_types, TM_ARRAY_LEN(field_types))) {
        seterr(err, errcap, "%s.type: must be one of \"string\", \"number\", \"boolean\", \"array\", \"object\"",
               where);
        return NULL;
    }
    const char *t = json_string_value(type);

    json_t *req = json_object_get(f, "required");
    json_t *srch = json_object_get(f, "searchable");
    if (req && !json_is_boolean(req)) {
        seterr(err, errcap, "%s.required: must be true or false", where);
        return NULL;
    }
    if (srch && !json_is_boolean(srch)) {
        seterr(err, errcap, "%s.searchable: must be true or false", where);
        return NULL;
    }
    if (json_is_true(srch) && strcmp(t, "string") != 0) {
        seterr(err, errcap, "%s.searchable: only string fields can be searchable (this field is %s)", where, t);
        return NULL;
    }

    json_t *rules = NULL;
    json_t *val = json_object_get(f, "validation");
    if (val) {
        rules = normalize_rules(val, t, where, err, errcap);
        if (!rules) return NULL;
    }

    json_t *out = json_object();
    json_object_set_new(out, "name", json_string(json_string_value(name)));
    json_object_set_new(out, "type", json_string(t));
    json_object_set_new(out, "required", json_boolean(json_is_true(req)));
    json_object_set_new(out, "searchable", json_boolean(json_is_true(srch)));
    if (rules && json_object_size(rules) > 0)
        json_object_set_new(out, "validation", rules);
    else
        json_decref(rules);
    return out;
}

json_t *fields_normalize(const json_t *fields, char *err, size_t errcap)
{
    if (!json_is_array(fields)) {
        seterr(err, errcap, "fields: must be an array of field definitions");
        return NULL;
    }
    if (json_array_size(fields) > FIELDS_MAX) {
        seterr(err, errcap, "fields: at most %d fields are allowed (got %zu)", FIELDS_MAX, json_array_size(fields));
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        json_t *c = normalize_one(f, i, err, errcap);
        if (!c) {
            json_decref(out);
            return NULL;
        }
        const char *name = json_string_value(json_object_get(c, "name"));
        /* Names are matched case-insensitively by people and by search, so
         * "Email" and "email" side by side would only confuse. */
        for (size_t j = 0; j < i; j++) {
            const char *prev = json_string_value(json_object_get(json_array_get(out, j), "name"));
            if (strcasecmp(prev, name) == 0) {
                seterr(err, errcap, "fields[%zu] (\"%s\"): duplicate name (same as fields[%zu] \"%s\"; names are "
                       "compared case-insensitively)", i, name, j, prev);
                json_decref(c);
                json_decref(out);
                return NULL;
            }
        }
        json_array_append_new(out, c);
    }
    return out;
}

static const json_t *find_field(const json_t *fields, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strcmp(n, name) == 0) return f;
    }
    return NULL;
}

static void diff_add(json_t *diff, const char *name, const char *change, const json_t *before, const json_t *after)
{
    json_t *d = json_object();
    json_object_set_new(d, "field", json_string(name));
    json_object_set_new(d, "change", json_string(change));
    if (before) json_object_set_new(d, "before", json_deep_copy(before));
    if (after) json_object_set_new(d, "after", json_deep_copy(after));
    json_array_append_new(diff, d);
}

json_t *fields_diff(const json_t *before, const json_t *after)
{
    json_t *diff = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(after, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!name) continue;
        const json_t *old = json_is_array(before) ? find_field(before, name) : NULL;
        if (!old)
            diff_add(diff, name, "added", NULL, f);
        else if (!json_equal((json_t *)old, f))
            diff_add(diff, name, "changed", old, f);
    }
    json_array_foreach(before, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!name) continue;
        if (!json_is_array(after) || !find_field(after, name)) diff_add(diff, name, "removed", f, NULL);
    }
    return diff;
}

/* ---- record validation ---- */

static bool is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

/* RFC 3339 date-time: 2024-05-01T10:20:30(.123)?(Z|+09:00). */
static bool is_date_time(const char *s, size_t n)
{
    if (n < 20) return false;
    if (!is_digits(s, 4) || s[4] != '-' || !is_digits(s + 5, 2) || s[7] != '-' || !is_digits(s + 8, 2)) return false;
    if (s[10] != 'T' && s[10] != 't') return false;
    if (!is_digits(s + 11, 2) || s[13] != ':' || !is_digits(s + 14, 2) || s[16] != ':' || !is_digits(s + 17, 2))
        return false;
    int mon = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    int hh = (s[11] - '0') * 10 + (s[12] - '0');
    int mm = (s[14] - '0') * 10 + (s[15] - '0');
    int ss = (s[17] - '0') * 10 + (s[18] - '0');
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && isdigit((unsigned char)s[i])) i++;
        if (i == start) return false;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == n;
    if (i + 6 == n && (s[i] == '+' || s[i] == '-') && is_digits(s + i + 1, 2) && s[i + 3] == ':' &&
        is_digits(s + i + 4, 2))
        return true;
    return false;
}

/* Deliberately simple: one '@', something before it, a dotted domain after
 * it, no spaces. Real deliverability is the receiver's business. */
static bool is_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (!at || at == s || memchr(at + 1, '@', n - (size_t)(at - s) - 1)) return false;
    const char *dom = at + 1;
    size_t dn = n - (size_t)(dom - s);
    if (dn < 3 || dom[0] == '.' || dom[dn - 1] == '.' || !memchr(dom, '.', dn)) return false;
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)s[i]) || s[i] == '\0') return false;
    return true;
}

/* http(s)://host... with no whitespace. */
static bool is_url(const char *s, size_t n)
{
    size_t p;
    if (n > 7 && strncasecmp(s, "http://", 7) == 0)
        p = 7;
    else if (n > 8 && strncasecmp(s, "https://", 8) == 0)
        p = 8;
    else
        return false;
    if (s[p] == '/' || s[p] == '?' || s[p] == '#') return false;
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)s[i]) || s[i] == '\0') return false;
    return true;
}

static void problem(json_t *problems, const char *field, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(json_t *problems, const char *field, const char *code, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *p = json_object();
    json_object_set_new(p, "field", json_string(field));
    json_object_set_new(p, "code", json_string(code));
    json_object_set_new(p, "message", json_string(msg));
    json_array_append_new(problems, p);
}

/* Applies the rules of one field to a value of the right type; records at
 * most one problem (the first rule that fails) so messages stay short. */
static void check_rules(json_t *problems, const char *name, const char *type, const json_t *rules, const json_t *v)
{
    if (!json_is_object(rules)) return;
    json_t *en = json_object_get(rules, "enum");
    if (json_is_array(en)) {
        bool found = false;
        size_t i;
        json_t *item;
        json_array_foreach(en, i, item) {
            if (json_equal(item, (json_t *)v)) {
                found = true;
                break;
            }
        }
        if (!found) {
            problem(problems, name, "validation_failed", "field \"%s\" must be one of the allowed values", name);
            return;
        }
    }
    if (strcmp(type, "string") == 0) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        size_t cps = utf8_count(s, n);
        json_t *minl = json_object_get(rules, "min_length");
        json_t *maxl = json_object_get(rules, "max_length");
        if (json_is_integer(minl) && (json_int_t)cps < json_integer_value(minl)) {
            problem(problems, name, "validation_failed", "field \"%s\" must be at least %lld characters long (got %zu)",
                    name, (long long)json_integer_value(minl), cps);
            return;
        }
        if (json_is_integer(maxl) && (json_int_t)cps > json_integer_value(maxl)) {
            problem(problems, name, "validation_failed", "field \"%s\" must be at most %lld characters long (got %zu)",
                    name, (long long)json_integer_value(maxl), cps);
            return;
        }
        json_t *pat = json_object_get(rules, "pattern");
        if (json_is_string(pat)) {
            regex_t re;
            if (regcomp(&re, json_string_value(pat), REG_EXTENDED | REG_NOSUB) == 0) {
                /* An embedded NUL would hide the rest of the value from regexec. */
                bool ok = strlen(s) == n && regexec(&re, s, 0, NULL, 0) == 0;
                regfree(&re);
                if (!ok) {
                    problem(problems, name, "validation_failed", "field \"%s\" must match the pattern %.200s", name,
                            json_string_value(pat));
                    return;
                }
            }
        }
        json_t *fmt = json_object_get(rules, "format");
        if (json_is_string(fmt)) {
            const char *f = json_string_value(fmt);
            bool ok = true;
            const char *what = "";
            if (strcmp(f, "email") == 0) {
                ok = is_email(s, n);
                what = "an email address";
            } else if (strcmp(f, "url") == 0) {
                ok = is_url(s, n);
                what = "an http or https URL";
            } else if (strcmp(f, "date-time") == 0) {
                ok = is_date_time(s, n);
                what = "an RFC 3339 date-time such as 2024-05-01T09:30:00Z";
            }
            if (!ok) {
                problem(problems, name, "validation_failed", "field \"%s\" must be %s", name, what);
                return;
            }
        }
    } else if (strcmp(type, "number") == 0) {
        double d = json_number_value(v);
        json_t *mini = json_object_get(rules, "minimum");
        json_t *maxi = json_object_get(rules, "maximum");
        if (json_is_number(mini) && d < json_number_value(mini)) {
            problem(problems, name, "validation_failed", "field \"%s\" must be at least %g (got %g)", name,
                    json_number_value(mini), d);
            return;
        }
        if (json_is_number(maxi) && d > json_number_value(maxi)) {
            problem(problems, name, "validation_failed", "field \"%s\" must be at most %g (got %g)", name,
                    json_number_value(maxi), d);
            return;
        }
    }
}

bool fields_validate_record(const json_t *fields, const json_t *record, json_t **problems)
{
    json_t *probs = json_array();
    if (!json_is_object(record)) {
        problem(probs, "(record)", "invalid_field_type", "the record must be a JSON object (got %s)",
                record ? json_type_name(record) : "nothing");
    } else {
        size_t i;
        json_t *f;
        json_array_foreach(fields, i, f) {
            const char *name = json_string_value(json_object_get(f, "name"));
            const char *type = json_string_value(json_object_get(f, "type"));
            if (!name || !type) continue;
            json_t *v = json_object_get(record, name);
            if (!v || json_is_null(v)) {
                if (json_is_true(json_object_get(f, "required")))
                    problem(probs, name, "missing_required_field", "field \"%s\" is required (a %s)", name, type);
                continue;
            }
            if (!value_has_type(v, type)) {
                problem(probs, name, "invalid_field_type", "field \"%s\" must be a%s %s (got %s)", name,
                        (type[0] == 'a' || type[0] == 'o') ? "n" : "", type, json_type_name(v));
                continue;
            }
            check_rules(probs, name, type, json_object_get(f, "validation"), v);
        }
    }
    /* problems is filled only on failure, so a valid record leaves nothing to free. */
    bool ok = json_array_size(probs) == 0;
    if (problems) *problems = ok ? NULL : json_incref(probs);
    json_decref(probs);
    return ok;
}
