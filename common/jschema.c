/*
 * jschema — validation of JSON values against the JSON Schema subset listed in
 * jschema.h, with messages written for the person or model that sent the
 * value ("arguments.limit: must be at most 100 (got 500)").
 *
 * Interface routines:
 *   jschema_check_schema   a schema uses only supported keywords, well typed
 *   jschema_validate       first problem of a value, with its path
 *
 * Two rules keep a schema from promising more than is checked: an unknown
 * keyword fails jschema_check_schema, and jschema_validate re-checks the
 * keywords of every schema node it visits, so even an unchecked schema never
 * validates silently less than it says.
 *
 * Nothing is cached: patterns are compiled per use with POSIX regcomp, so the
 * module has no global state and is safe from any thread.
 */
#include "common/jschema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/util.h"

#define PATH_CAP 256     /* longer paths are cut with "..." */
#define NAME_SHOWN 64    /* bytes of a property name quoted in a message */
#define ENUM_SHOWN 300   /* bytes of enum values listed in a message */

struct ctx {
    char *err;
    size_t errcap;
    char path[PATH_CAP];
    size_t plen;
};

/* ---- messages and paths ------------------------------------------------------ */

/* Drops an incomplete UTF-8 sequence at the end of s. Messages end up inside
 * JSON documents, so a cut (by a buffer size) must not leave half a character. */
static void utf8_trim(char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80 && n - i < 3)
        i--;
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (want > 1 && n - (i - 1) < want)
        s[i - 1] = '\0';
}


static bool fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct ctx *c, const char *fmt, ...)
{
    if (c->err == NULL || c->errcap == 0)
        return false;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_trim(msg);
    snprintf(c->err, c->errcap, "%s: %s", c->path, msg);
    utf8_trim(c->err);
    return false;
}

static void path_init(struct ctx *c, const char *root)
{
    c->plen = 0;
    c->path[0] = '\0';
    snprintf(c->path, sizeof c->path, "%s", root ? root : "value");
    c->plen = strlen(c->path);
}

/* Appends to the path; a path that no longer fits ends in "..." (which is
 * still useful, and cannot be mistaken for a real name). */
static void path_add(struct ctx *c, const char *s, size_t n)
{
    if (c->plen + n + 4 > sizeof c->path) {
        if (c->plen + 4 <= sizeof c->path && (c->plen < 3 || strcmp(c->path + c->plen - 3, "...") != 0)) {
            memcpy(c->path + c->plen, "...", 4);
            c->plen += 3;
        }
        return;
    }
    memcpy(c->path + c->plen, s, n);
    c->plen += n;
    c->path[c->plen] = '\0';
}

/*
 * Writes s (n bytes) as the inside of a double-quoted string: quotes,
 * backslashes and control bytes escaped, cut at max bytes with "...".
 * Property names come from the caller, so they are escaped before they can
 * reach a log line or a model's context.
 */
static void quote_into(char *out, size_t cap, const char *s, size_t n, size_t max)
{
    size_t o = 0;
    bool cut = n > max;
    if (cut)
        n = max;
    for (size_t i = 0; i < n; i++) {
        if (o + 8 >= cap) {
            cut = true;
            break;
        }
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
    utf8_trim(out);
    if (cut && strlen(out) + 4 <= cap)
        strcat(out, "...");
}

static bool is_ident(const char *s, size_t n)
{
    if (n == 0 || n > NAME_SHOWN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '$' ||
                  (i > 0 && ((ch >= '0' && ch <= '9') || ch == '-'));
        if (!ok)
            return false;
    }
    return true;
}

/* ".name" for plain names, ["odd name"] otherwise. */
static size_t path_push_key(struct ctx *c, const char *name, size_t n)
{
    size_t saved = c->plen;
    if (is_ident(name, n)) {
        path_add(c, ".", 1);
        path_add(c, name, n);
    } else {
        char q[NAME_SHOWN * 6 + 8];
        quote_into(q, sizeof q, name, n, NAME_SHOWN);
        path_add(c, "[\"", 2);
        path_add(c, q, strlen(q));
        path_add(c, "\"]", 2);
    }
    return saved;
}

static size_t path_push_index(struct ctx *c, size_t i)
{
    size_t saved = c->plen;
    char b[32];
    int n = snprintf(b, sizeof b, "[%zu]", i);
    path_add(c, b, (size_t)n);
    return saved;
}

static void path_pop(struct ctx *c, size_t saved)
{
    c->plen = saved;
    c->path[saved] = '\0';
}

/* Compact JSON of a value for a message, cut at max bytes. Caller frees. */
static char *dump(const json_t *v, size_t max)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL)
        return xstrdup("?");
    if (strlen(s) > max) {
        s[max] = '\0';
        utf8_trim(s);
        char *t = xasprintf("%s...", s);
        free(s);
        return t;
    }
    return s;
}

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static const char *plural(long long n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* ---- the keyword table --------------------------------------------------------- */

enum kw_kind {
    KW_TYPE,        /* "string" or an array of type names */
    KW_PROPERTIES,  /* object of schemas */
    KW_NAMES,       /* array of strings */
    KW_BOOL,
    KW_ARRAY,       /* any array */
    KW_NONEMPTY,    /* non-empty array */
    KW_ANY,
    KW_NUMBER,
    KW_COUNT,       /* non-negative integer */
    KW_PATTERN,
    KW_FORMAT,
    KW_SCHEMA,
    KW_STRING,
};

static const struct {
    const char *name;
    enum kw_kind kind;
} keywords[] = {
    {"type", KW_TYPE},
    {"properties", KW_PROPERTIES},
    {"required", KW_NAMES},
    {"additionalProperties", KW_BOOL},
    {"enum", KW_NONEMPTY},
    {"const", KW_ANY},
    {"minimum", KW_NUMBER},
    {"maximum", KW_NUMBER},
    {"minLength", KW_COUNT},
    {"maxLength", KW_COUNT},
    {"pattern", KW_PATTERN},
    {"format", KW_FORMAT},
    {"items", KW_SCHEMA},
    {"minItems", KW_COUNT},
    {"maxItems", KW_COUNT},
    {"uniqueItems", KW_BOOL},
    {"minProperties", KW_COUNT},
    {"maxProperties", KW_COUNT},
    /* annotations: they describe and never constrain */
    {"title", KW_STRING},
    {"description", KW_STRING},
    {"default", KW_ANY},
    {"examples", KW_ARRAY},
    {"$schema", KW_STRING},
};

static const char *const type_names[] = {"string", "number", "integer", "boolean", "object", "array", "null"};
static const char *const format_names[] = {"email", "uri", "date-time", "date"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, list[i]) == 0)
            return true;
    }
    return false;
}

static bool pattern_compiles(const char *p, char *why, size_t cap)
{
    regex_t re;
    int rc = regcomp(&re, p, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, &re, why, cap);
        return false;
    }
    regfree(&re);
    return true;
}

static bool check_node(const json_t *s, struct ctx *c, bool deep);

/* Checks one keyword's value; c->path already names the keyword. */
static bool check_keyword(enum kw_kind kind, const json_t *v, struct ctx *c, bool deep)
{
    switch (kind) {
    case KW_TYPE:
        if (json_is_string(v)) {
            if (!in_list(json_string_value(v), type_names, TM_ARRAY_LEN(type_names)))
                return fail(c, "unknown type \"%s\"", json_string_value(v));
            return true;
        }
        if (!json_is_array(v) || json_array_size(v) == 0)
            return fail(c, "must be a type name or a non-empty array of type names");
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *t = json_array_get(v, i);
            if (!json_is_string(t) || !in_list(json_string_value(t), type_names, TM_ARRAY_LEN(type_names)))
                return fail(c, "item %zu is not a known type name", i);
            for (size_t j = 0; j < i; j++) {
                if (json_equal(json_array_get(v, j), t))
                    return fail(c, "type \"%s\" is listed twice", json_string_value(t));
            }
        }
        return true;
    case KW_PROPERTIES: {
        if (!json_is_object(v))
            return fail(c, "must be an object of schemas");
        if (!deep)
            return true;
        const char *k;
        const json_t *sub;
        json_object_foreach((json_t *)v, k, sub) {
            size_t saved = path_push_key(c, k, strlen(k));
            bool ok = check_node(sub, c, deep);
            path_pop(c, saved);
            if (!ok)
                return false;
        }
        return true;
    }
    case KW_NAMES:
        if (!json_is_array(v))
            return fail(c, "must be an array of property names");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (!json_is_string(json_array_get(v, i)))
                return fail(c, "item %zu must be a string", i);
        }
        return true;
    case KW_BOOL:
        return json_is_boolean(v) ? true : fail(c, "must be true or false");
    case KW_ARRAY:
        return json_is_array(v) ? true : fail(c, "must be an array");
    case KW_NONEMPTY:
        return json_is_array(v) && json_array_size(v) > 0 ? true : fail(c, "must be a non-empty array");
    case KW_ANY:
        return true;
    case KW_NUMBER:
        return json_is_number(v) ? true : fail(c, "must be a number");
    case KW_COUNT:
        return json_is_integer(v) && json_integer_value(v) >= 0 ? true
                                                                : fail(c, "must be a non-negative integer");
    case KW_PATTERN: {
        if (!json_is_string(v))
            return fail(c, "must be a string");
        char why[128];
        if (deep && !pattern_compiles(json_string_value(v), why, sizeof why))
            return fail(c, "invalid regular expression: %s", why);
        return true;
    }
    case KW_FORMAT:
        if (!json_is_string(v))
            return fail(c, "must be a string");
        if (!in_list(json_string_value(v), format_names, TM_ARRAY_LEN(format_names)))
            return fail(c, "unsupported format \"%s\" (supported: email, uri, date-time, date)",
                        json_string_value(v));
        return true;
    case KW_SCHEMA:
        if (!json_is_object(v))
            return fail(c, "must be a schema object");
        return deep ? check_node(v, c, deep) : true;
    case KW_STRING:
        return json_is_string(v) ? true : fail(c, "must be a string");
    }
    return fail(c, "unsupported keyword");
}

/*
 * Checks the keywords of one schema object; deep also descends into
 * properties and items and compiles patterns. jschema_validate runs the
 * shallow form on each node it visits.
 */
static bool check_node(const json_t *s, struct ctx *c, bool deep)
{
    if (!json_is_object(s))
        return fail(c, "must be a schema object");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)s, k, v) {
        size_t i = 0;
        while (i < TM_ARRAY_LEN(keywords) && strcmp(keywords[i].name, k) != 0)
            i++;
        if (i == TM_ARRAY_LEN(keywords)) {
            char q[NAME_SHOWN * 6 + 8];
            quote_into(q, sizeof q, k, strlen(k), NAME_SHOWN);
            return fail(c, "unsupported keyword \"%s\"", q);
        }
        size_t saved = path_push_key(c, k, strlen(k));
        bool ok = check_keyword(keywords[i].kind, v, c, deep);
        path_pop(c, saved);
        if (!ok)
            return false;
    }
    return true;
}

bool jschema_check_schema(const json_t *schema, char *err, size_t errcap)
{
    struct ctx c = {.err = err, .errcap = errcap};
    if (err && errcap)
        err[0] = '\0';
    path_init(&c, "schema");
    return check_node(schema, &c, true);
}

/* ---- JSON equality (numbers by value, as JSON Schema defines it) -------------- */

static bool value_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        if (json_is_real(a) && json_is_real(b))
            return json_real_value(a) == json_real_value(b);
        const json_t *i = json_is_integer(a) ? a : b, *r = json_is_integer(a) ? b : a;
        double d = json_real_value(r);
        /* exact: the real must be integral and in range, and equal as integers */
        if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return false;
        return (json_int_t)d == json_integer_value(i);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++) {
            if (!value_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        }
        return true;
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            const json_t *w = json_object_get(b, k);
            if (w == NULL || !value_equal(v, w))
                return false;
        }
        return true;
    }
    default:
        return true; /* true, false, null: same type is same value */
    }
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* A hash consistent with value_equal: equal values hash equal (numbers hash
 * through their double value, objects independently of key order). */
static uint64_t value_hash(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL: {
        double d = json_number_value(v);
        if (d == 0)
            d = 0; /* -0.0 and 0 are the same number */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return mix(bits ^ 4);
    }
    case JSON_STRING:
        return mix(hash_bytes(json_string_value(v), json_string_length(v)) ^ 5);
    case JSON_ARRAY: {
        uint64_t h = 6;
        for (size_t i = 0; i < json_array_size(v); i++)
            h = mix(h * 31 + value_hash(json_array_get(v, i)));
        return h;
    }
    case JSON_OBJECT: {
        uint64_t h = 7;
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)v, k, x) h += mix(hash_bytes(k, strlen(k)) ^ value_hash(x));
        return mix(h);
    }
    case JSON_TRUE: return 1;
    case JSON_FALSE: return 2;
    default: return 3;
    }
}

struct hitem {
    uint64_t h;
    size_t i;
};

static int hitem_cmp(const void *a, const void *b)
{
    const struct hitem *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

/* Finds two equal items in O(n log n) (sorted by hash; only equal hashes are
 * compared), so a long hostile array cannot cost n^2 comparisons. */
static bool find_duplicate(const json_t *arr, size_t *first, size_t *second)
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return false;
    struct hitem *h = xmalloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++)
        h[i] = (struct hitem){value_hash(json_array_get(arr, i)), i};
    qsort(h, n, sizeof *h, hitem_cmp);
    bool found = false;
    for (size_t a = 0; a < n && !found; a++) {
        for (size_t b = a + 1; b < n && h[b].h == h[a].h; b++) {
            if (value_equal(json_array_get(arr, h[a].i), json_array_get(arr, h[b].i))) {
                *first = h[a].i;
                *second = h[b].i;
                found = true;
                break;
            }
        }
    }
    free(h);
    return found;
}

/* ---- formats -------------------------------------------------------------- */

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* YYYY-MM-DD at s (at least 10 bytes available). */
static bool is_date_at(const char *s)
{
    int y, m, d;
    return digits(s, 4, &y) && s[4] == '-' && digits(s + 5, 2, &m) && s[7] == '-' && digits(s + 8, 2, &d) &&
           m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

static bool is_date(const char *s, size_t n)
{
    return n == 10 && is_date_at(s);
}

/* RFC 3339 date-time: date "T" HH:MM:SS[.frac] (Z | +HH:MM | -HH:MM). */
static bool is_date_time(const char *s, size_t n)
{
    int hh, mm, ss;
    if (n < 20 || !is_date_at(s) || (s[10] != 'T' && s[10] != 't'))
        return false;
    if (!digits(s + 11, 2, &hh) || s[13] != ':' || !digits(s + 14, 2, &mm) || s[16] != ':' ||
        !digits(s + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 60)
        return false;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == n;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        return n - i == 6 && digits(s + i + 1, 2, &oh) && s[i + 3] == ':' && digits(s + i + 4, 2, &om) &&
               oh <= 23 && om <= 59;
    }
    return false;
}

static bool has_space_or_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch == 0x7f)
            return true;
    }
    return false;
}

/* One "@", a non-empty local part, and a domain of at least two non-empty
 * dot-separated labels. Deliberately not RFC 5322: quoted local parts and
 * address literals are not addresses anyone types into a tool. */
static bool is_email(const char *s, size_t n)
{
    if (n > 254 || has_space_or_control(s, n))
        return false;
    const char *at = memchr(s, '@', n);
    if (at == NULL || at == s || memchr(at + 1, '@', n - (size_t)(at + 1 - s)))
        return false;
    const char *d = at + 1;
    size_t dn = n - (size_t)(d - s);
    if (dn == 0 || d[0] == '.' || d[dn - 1] == '.' || memchr(d, '.', dn) == NULL)
        return false;
    for (size_t i = 1; i < dn; i++) {
        if (d[i] == '.' && d[i - 1] == '.')
            return false;
    }
    return true;
}

/* An absolute http or https URL with a host: the only kind a tool fetches
 * or links to. */
static bool is_uri(const char *s, size_t n)
{
    size_t i;
    if (has_space_or_control(s, n))
        return false;
    if (n >= 7 && strncasecmp(s, "http://", 7) == 0)
        i = 7;
    else if (n >= 8 && strncasecmp(s, "https://", 8) == 0)
        i = 8;
    else
        return false;
    size_t end = i;
    while (end < n && s[end] != '/' && s[end] != '?' && s[end] != '#')
        end++;
    /* host[:port] after any userinfo */
    size_t h = i;
    for (size_t k = i; k < end; k++) {
        if (s[k] == '@')
            h = k + 1;
    }
    if (h >= end)
        return false;
    size_t port = end;
    if (s[h] == '[') {
        const char *close = memchr(s + h, ']', end - h);
        if (close == NULL || close == s + h + 1)
            return false;
        port = (size_t)(close - s) + 1;
        if (port < end && s[port] != ':')
            return false;
    } else {
        const char *colon = memchr(s + h, ':', end - h);
        if (colon == s + h)
            return false;
        if (colon)
            port = (size_t)(colon - s);
    }
    if (port < end) {
        size_t nd = end - port - 1;
        if (nd > 5)
            return false;
        for (size_t k = port + 1; k < end; k++) {
            if (s[k] < '0' || s[k] > '9')
                return false;
        }
    }
    return true;
}

/* ---- validation --------------------------------------------------------------- */

static bool type_matches(const char *t, const json_t *v)
{
    if (strcmp(t, "string") == 0)
        return json_is_string(v);
    if (strcmp(t, "number") == 0)
        return json_is_number(v);
    /* Stricter than JSON Schema, which also calls 3.0 an integer: jansson
     * keeps 3.0 as a real, and code reading json_integer_value() would see 0. */
    if (strcmp(t, "integer") == 0)
        return json_is_integer(v);
    if (strcmp(t, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(t, "object") == 0)
        return json_is_object(v);
    if (strcmp(t, "array") == 0)
        return json_is_array(v);
    return json_is_null(v);
}

static const char *type_phrase(const char *t)
{
    if (strcmp(t, "integer") == 0)
        return "an integer";
    if (strcmp(t, "object") == 0)
        return "an object";
    if (strcmp(t, "array") == 0)
        return "an array";
    if (strcmp(t, "null") == 0)
        return "null";
    if (strcmp(t, "string") == 0)
        return "a string";
    if (strcmp(t, "number") == 0)
        return "a number";
    return "a boolean";
}

static bool v_type(const json_t *type, const json_t *v, struct ctx *c)
{
    if (json_is_string(type)) {
        if (type_matches(json_string_value(type), v))
            return true;
        return fail(c, "must be %s (got %s)", type_phrase(json_string_value(type)), type_of(v));
    }
    size_t n = json_array_size(type);
    for (size_t i = 0; i < n; i++) {
        if (type_matches(json_string_value(json_array_get(type, i)), v))
            return true;
    }
    char list[256] = "";
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof list; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == n ? " or " : ", ");
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", sep,
                              type_phrase(json_string_value(json_array_get(type, i))));
    }
    return fail(c, "must be %s (got %s)", list, type_of(v));
}

static bool v_enum(const json_t *e, const json_t *v, struct ctx *c)
{
    for (size_t i = 0; i < json_array_size(e); i++) {
        if (value_equal(json_array_get(e, i), v))
            return true;
    }
    char list[ENUM_SHOWN + 8] = "";
    size_t o = 0;
    for (size_t i = 0; i < json_array_size(e); i++) {
        char *d = dump(json_array_get(e, i), 80);
        size_t dl = strlen(d);
        if (o + dl + 2 > ENUM_SHOWN) {
            snprintf(list + o, sizeof list - o, "%s...", i ? ", " : "");
            free(d);
            break;
        }
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", d);
        free(d);
    }
    return fail(c, "must be one of %s", list);
}

/* Compares a number with a limit exactly when both are integers. */
static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = json_number_value(a), y = json_number_value(b);
    return (x > y) - (x < y);
}

static bool v_string(const json_t *s, const json_t *v, struct ctx *c)
{
    const char *str = json_string_value(v);
    size_t n = json_string_length(v);
    bool has_nul = strlen(str) != n;
    const json_t *k;
    long long cp = (long long)utf8_count(str, n);

    if ((k = json_object_get(s, "minLength")) && cp < json_integer_value(k))
        return fail(c, "must be at least %lld %s long (got %lld)", (long long)json_integer_value(k),
                    plural(json_integer_value(k), "character", "characters"), cp);
    if ((k = json_object_get(s, "maxLength")) && cp > json_integer_value(k))
        return fail(c, "must be at most %lld %s long (got %lld)", (long long)json_integer_value(k),
                    plural(json_integer_value(k), "character", "characters"), cp);
    if ((k = json_object_get(s, "pattern"))) {
        regex_t re;
        const char *p = json_string_value(k);
        if (regcomp(&re, p, REG_EXTENDED | REG_NOSUB) != 0)
            return fail(c, "invalid schema: pattern does not compile");
        bool ok = !has_nul && regexec(&re, str, 0, NULL, 0) == 0;
        regfree(&re);
        if (!ok) {
            char q[200];
            quote_into(q, sizeof q, p, strlen(p), 120);
            return fail(c, "must match the pattern \"%s\"", q);
        }
    }
    if ((k = json_object_get(s, "format"))) {
        const char *f = json_string_value(k);
        if (strcmp(f, "email") == 0 && (has_nul || !is_email(str, n)))
            return fail(c, "must be an email address (like name@example.com)");
        if (strcmp(f, "uri") == 0 && (has_nul || !is_uri(str, n)))
            return fail(c, "must be an absolute http or https URL");
        if (strcmp(f, "date-time") == 0 && (has_nul || !is_date_time(str, n)))
            return fail(c, "must be an RFC 3339 date-time (like 2025-01-31T13:45:00Z)");
        if (strcmp(f, "date") == 0 && (has_nul || !is_date(str, n)))
            return fail(c, "must be a date YYYY-MM-DD");
    }
    return true;
}

static bool v_node(const json_t *s, const json_t *v, struct ctx *c);

static bool v_array(const json_t *s, const json_t *v, struct ctx *c)
{
    const json_t *k;
    long long n = (long long)json_array_size(v);

    if ((k = json_object_get(s, "minItems")) && n < json_integer_value(k))
        return fail(c, "must have at least %lld %s (got %lld)", (long long)json_integer_value(k),
                    plural(json_integer_value(k), "item", "items"), n);
    if ((k = json_object_get(s, "maxItems")) && n > json_integer_value(k))
        return fail(c, "must have at most %lld %s (got %lld)", (long long)json_integer_value(k),
                    plural(json_integer_value(k), "item", "items"), n);
    if ((k = json_object_get(s, "uniqueItems")) && json_is_true(k)) {
        size_t a, b;
        if (find_duplicate(v, &a, &b))
            return fail(c, "items must be unique (items %zu and %zu are equal)", a, b);
    }
    if ((k = json_object_get(s, "items"))) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t saved = path_push_index(c, i);
            bool ok = v_node(k, json_array_get(v, i), c);
            path_pop(c, saved);
            if (!ok)
                return false;
        }
    }
    return true;
}

static bool v_object(const json_t *s, const json_t *v, struct ctx *c)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    const json_t *k, *x;
    const char *name;

    /* An unknown name first: it is usually a misspelling of a required one. */
    if (addl && json_is_false(addl)) {
        json_object_foreach((json_t *)v, name, x) {
            if (props == NULL || json_object_get(props, name) == NULL) {
                char q[NAME_SHOWN * 6 + 8];
                quote_into(q, sizeof q, name, strlen(name), NAME_SHOWN);
                return fail(c, "unknown property \"%s\"", q);
            }
        }
    }
    if ((k = json_object_get(s, "required"))) {
        for (size_t i = 0; i < json_array_size(k); i++) {
            const char *r = json_string_value(json_array_get(k, i));
            if (json_object_get(v, r) == NULL) {
                char q[NAME_SHOWN * 6 + 8];
                quote_into(q, sizeof q, r, strlen(r), NAME_SHOWN);
                return fail(c, "missing required property \"%s\"", q);
            }
        }
    }
    if (props) {
        json_object_foreach((json_t *)v, name, x) {
            const json_t *sub = json_object_get(props, name);
            if (sub == NULL)
                continue;
            size_t saved = path_push_key(c, name, strlen(name));
            bool ok = v_node(sub, x, c);
            path_pop(c, saved);
            if (!ok)
                return false;
        }
    }
    long long n = (long long)json_object_size(v);
    if ((k = json_object_get(s, "minProperties")) && n < json_integer_value(k))
        return fail(c, "must have at least %lld %s (got %lld)", (long long)json_integer_value(k),
                    plural(json_integer_value(k), "property", "properties"), n);
    if ((k = json_object_get(s, "maxProperties")) && n > json_integer_value(k))
        return fail(c, "must have at most %lld %s (got %lld)", (long long)json_integer_value(k),
                    plural(json_integer_value(k), "property", "properties"), n);
    return true;
}

static bool v_node(const json_t *s, const json_t *v, struct ctx *c)
{
    /* Re-check this node's keywords, so an unchecked schema with an unknown or
     * mistyped keyword fails instead of being partly ignored. */
    char why[256];
    struct ctx sc = {.err = why, .errcap = sizeof why};
    path_init(&sc, "schema");
    if (!check_node(s, &sc, false))
        return fail(c, "invalid schema (%s)", why);

    const json_t *k;
    if ((k = json_object_get(s, "type")) && !v_type(k, v, c))
        return false;
    if ((k = json_object_get(s, "const")) && !value_equal(k, v)) {
        char *d = dump(k, 120);
        fail(c, "must be %s", d);
        free(d);
        return false;
    }
    if ((k = json_object_get(s, "enum")) && !v_enum(k, v, c))
        return false;
    if (json_is_number(v)) {
        if ((k = json_object_get(s, "minimum")) && num_cmp(v, k) < 0) {
            char *lim = dump(k, 40), *got = dump(v, 40);
            fail(c, "must be at least %s (got %s)", lim, got);
            free(lim);
            free(got);
            return false;
        }
        if ((k = json_object_get(s, "maximum")) && num_cmp(v, k) > 0) {
            char *lim = dump(k, 40), *got = dump(v, 40);
            fail(c, "must be at most %s (got %s)", lim, got);
            free(lim);
            free(got);
            return false;
        }
    }
    if (json_is_string(v))
        return v_string(s, v, c);
    if (json_is_array(v))
        return v_array(s, v, c);
    if (json_is_object(v))
        return v_object(s, v, c);
    return true;
}

bool jschema_validate(const json_t *schema, const json_t *value, const char *root_name, char *err,
                      size_t errcap)
{
    struct ctx c = {.err = err, .errcap = errcap};
    if (err && errcap)
        err[0] = '\0';
    path_init(&c, root_name);
    if (value == NULL)
        return fail(&c, "is missing");
    return v_node(schema, value, &c);
}
