/*
 * gateway — the gateway pipeline on the worker (gateway.h, docs/GATEWAY.md,
 * DOMAIN.md §3). Steps, in this order:
 *
 *   1 key hash unknown                       401 invalid_api_key      not logged
 *   2 slug is not the key's endpoint         404 not_found            not logged
 *   3 endpoint inactive                      403 endpoint_inactive    logged
 *   4 production never deployed              403 endpoint_not_deployed not logged
 *   5 key inactive / CRUD bit off            403 key_inactive / permission_denied
 *   6 quota of a hard-limit plan used up     402 quota_exceeded (plans.h)
 *     throttled by the edge                  429 rate_limited + Retry-After
 *   7 the edge's early reject (415/413/400), body and query checks
 *   8 validation against this environment's fields   400
 *   9 the operation: POST/PUT/DELETE 202, GET 200
 *
 * Everything a logged call writes — the record, the call log, the usage
 * counter (steps 5-9, not 402/429/5xx), the daily statistics, the sandbox
 * call count, the webhook delivery and a call_failed notification — goes into
 * the caller's transaction, so it commits together and before the answer.
 *
 * Round trips (docs/GATEWAY.md, "One call, two statements"). A keyed call
 * reads everything with one statement (gateway_target, migration 014: the
 * key, its endpoint, the fields and webhook, the plan and usage) and writes
 * everything with one more (finish: gateway_finish — the idempotency record
 * with the answer, a POST's record, the call log, the webhook delivery, the
 * counters), so the pipeline between them only decides and builds. The call
 * log's id is chosen here (a random uuid) and its time is the transaction's
 * now(), read with the key, so the answer and the webhook body are complete
 * before the write. The idempotency record is written last with the answer:
 * a resent request finds it there, and its own writes are rolled back. The
 * rows every call of an account or endpoint touches (usage, daily stats, the
 * endpoint's call count) are updated at the end of that statement, right
 * before COMMIT: every call of an endpoint waits for these row locks.
 */
#include "services/worker/gateway.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "common/utf8.h"
#include "proto/fields.h"
#include "services/worker/cursor.h"
#include "services/worker/notify.h"
#include "services/worker/plans.h"
#include "services/worker/tool_util.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define LIST_BYTES_MAX (1u << 20)   /* a list answer stops growing past 1 MiB (the envelope holds 2) */

/* ---- the keybox --------------------------------------------------------- */

static pthread_mutex_t keybox_lock = PTHREAD_MUTEX_INITIALIZER;
static struct keybox keybox_value;
static bool keybox_ready;

const struct keybox *gateway_keybox(const struct config *cfg)
{
    pthread_mutex_lock(&keybox_lock);
    if (!keybox_ready) {
        char path[1024], err[256];
        keybox_path(cfg->state_dir, path, sizeof path);
        if (keybox_load(&keybox_value, path, true, err, sizeof err) == 0)
            keybox_ready = true;
        else
            log_error("secrets key: %s", err);
    }
    pthread_mutex_unlock(&keybox_lock);
    return keybox_ready ? &keybox_value : NULL;
}

/* ---- pure pieces -------------------------------------------------------- */

static const char crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

void gateway_record_id(int64_t ms, const uint8_t rnd[10], char out[GW_RECORD_ID_LEN + 1])
{
    memcpy(out, "rec_", 4);
    uint64_t t = (uint64_t)ms & ((1ull << 48) - 1);
    for (int i = 9; i >= 0; i--) {   /* 10 characters = 50 bits, the top two are zero */
        out[4 + i] = crockford[t & 31];
        t >>= 5;
    }
    /* 80 random bits = 16 characters of 5 bits. */
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 5; i++)
        hi = hi << 8 | rnd[i];
    for (int i = 5; i < 10; i++)
        lo = lo << 8 | rnd[i];
    for (int i = 7; i >= 0; i--) {
        out[14 + i] = crockford[hi & 31];
        hi >>= 5;
        out[22 + i] = crockford[lo & 31];
        lo >>= 5;
    }
    out[GW_RECORD_ID_LEN] = '\0';
}

char *gateway_clip_text(const char *s, size_t n, size_t max, bool *truncated)
{
    size_t cap = n < max ? n : max;
    char *out = xmalloc(cap + 1);
    size_t o = 0, i = 0;
    const unsigned char *u = (const unsigned char *)s;
    while (i < n) {
        size_t len = utf8_seq_len(u + i, n - i);
        if (len == 0 || u[i] == 0) {
            if (o + 1 > cap)
                break;
            out[o++] = '?';
            i++;
            continue;
        }
        if (o + len > cap)
            break;
        memcpy(out + o, s + i, len);
        o += len;
        i += len;
    }
    out[o] = '\0';
    if (truncated)
        *truncated = i < n;
    return out;
}

/* Appends s to b with a separating space, as long as b stays within GW_SEARCH_TEXT_MAX. */
static bool search_append(struct strbuf *b, const char *s, size_t n)
{
    size_t room = GW_SEARCH_TEXT_MAX - b->len;
    if (b->len && room > 0) {
        sb_append(b, " ", 1);
        room--;
    }
    bool cut = false;
    char *c = gateway_clip_text(s, n, room, &cut);
    sb_append_str(b, c);
    free(c);
    return !cut && b->len < GW_SEARCH_TEXT_MAX;
}

char *gateway_search_text(const json_t *fields, const json_t *payload)
{
    struct strbuf b;
    sb_init(&b, 256);
    bool marked = false;
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f)
    {
        if (!json_is_true(json_object_get(f, "searchable")))
            continue;
        marked = true;
        const json_t *v = json_object_get(payload, json_string_value(json_object_get(f, "name")));
        if (json_is_string(v) && !search_append(&b, json_string_value(v), json_string_length(v)))
            break;
    }
    if (!marked && json_is_object(payload)) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)payload, k, v)
        {
            if (json_is_string(v) && !search_append(&b, json_string_value(v), json_string_length(v)))
                break;
        }
    }
    char *out = sb_take(&b, NULL);
    return out ? out : xstrdup("");
}

char *gateway_cursor_encode(const char *micros, const char *record_id)
{
    return cursor_encode(micros, record_id);
}

bool gateway_is_record_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 5 || n > 44 || strncmp(s, "rec_", 4))
        return false;
    for (size_t i = 4; i < n; i++)
        if (!(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    return true;
}

_Static_assert(CURSOR_ID_MAX + 1 <= 48, "a record id from a cursor fits record_id[48]");

bool gateway_cursor_decode(const char *cursor, char micros[24], char record_id[48])
{
    char m[24], id[CURSOR_ID_MAX + 1];
    if (!cursor_decode(cursor, m, id) || !gateway_is_record_id(id))
        return false;
    memcpy(micros, m, sizeof m);
    memcpy(record_id, id, strlen(id) + 1);
    return true;
}

/* ---- the pipeline's state ---------------------------------------------- */

struct target {
    char api_key_id[40];
    char endpoint_id[40];
    char account_id[40];
    char slug[80];
    char environment[16];
    const char *caller_kind;     /* owner | collaboration | mcp */
    char collab_id[40];          /* "" for owner and mcp */
    bool endpoint_active;
    long long prod_version;
    bool key_active, collab_active;
    bool can_create, can_read, can_update, can_delete;
    char now_ts[40];             /* the transaction's now(), as call_logs.created_at is shown */
};

/* gateway_finish's parameters, in its order (migration 014). */
enum fin_param {
    FIN_REQUEST_ID, FIN_RESULT, FIN_RECORD_ID, FIN_RECORD_PAYLOAD, FIN_RECORD_SEARCH, FIN_CREATED_BY,
    FIN_LOG_ID, FIN_ACCOUNT, FIN_ENDPOINT, FIN_ENVIRONMENT, FIN_METHOD, FIN_PATH_KIND, FIN_LOG_RECORD_ID,
    FIN_CALLER_KIND, FIN_API_KEY, FIN_COLLAB, FIN_STATUS, FIN_OUTCOME, FIN_ERROR_CODE, FIN_ERROR_MESSAGE,
    FIN_LATENCY, FIN_REQUEST_BODY, FIN_REQUEST_BYTES, FIN_REQUEST_CUT, FIN_RESPONSE_BODY, FIN_RESPONSE_BYTES,
    FIN_RESPONSE_CUT, FIN_IP, FIN_WEBHOOK_STATUS, FIN_SEARCH, FIN_WEBHOOK_URL, FIN_WEBHOOK_AUTH_HEADER,
    FIN_WEBHOOK_AUTH_VALUE, FIN_WEBHOOK_SECRET, FIN_WEBHOOK_BODY, FIN_SUCCESS, FIN_COUNTED, FIN_WRITE, FIN_HARD,
    FIN_LIMIT,
    FIN_N
};

struct outcome {
    int status;
    json_t *headers;
    json_t *body;
    const char *error_code;      /* NULL on success */
    char error_message[300];
    bool logged;
    bool counted;                /* adds to the owner's usage */
    bool replayed;               /* answered from applied_requests: *replay_text */
    char *replay_text;
    char record_id[48];
    char log_id[40];
    /* gateway_target's row (a keyed call): the fields, webhook and plan, read
     * with the key; NULL for api_call, which reads them when needed. */
    PGresult *prefetch;
    /* finish's parameters, set by the pipeline (a POST's record) and log_call
     * (malloc'd; NULL = SQL NULL); the caller runs finish last. */
    char *fin[FIN_N];
    bool count_success, count_write;
    long long latency_ms;
    struct target who;
    /* The plan, read at step 6 for finish (overage and alerts). */
    bool plan_known, plan_hard;
    long long plan_limit;
};

static void set_answer(struct outcome *o, int status, json_t *body)
{
    o->status = status;
    json_decref(o->body);
    o->body = body;
}

static void set_error(struct outcome *o, int status, const char *code, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void set_error(struct outcome *o, int status, const char *code, json_t *details, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->error_message, sizeof o->error_message, fmt, ap);
    va_end(ap);
    o->error_code = code;
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", o->error_message);
    if (details)
        json_object_set_new(e, "details", details);
    set_answer(o, status, json_pack("{s:o}", "error", e));
}

static bool pg_bool(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

static void copy_col(char *dst, size_t cap, const PGresult *res, int row, int col)
{
    snprintf(dst, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* ---- steps 1-4: whose call is it --------------------------------------- */

/* The key and everything the pipeline reads (gateway_target, migration 014).
 * Columns 16-22 are SQL_CONFIG's 0-6 and 23-26 SQL_QUOTA's 0-3, so steps 6
 * and 8 read either result the same way (TARGET_CONFIG, TARGET_QUOTA). */
static const char SQL_TARGET[] =
    "SELECT r.api_key_id::text, r.endpoint_id::text, r.account_id::text, r.slug, r.environment, r.kind, "
    "r.collaboration_key_id::text, r.endpoint_active, r.prod_version, r.key_active, r.collab_active, "
    "r.can_create, r.can_read, r.can_update, r.can_delete, set_config('app.account_id', r.account_id::text, true), "
    "r.fields, r.endpoint_name, r.webhook_url, r.webhook_auth_header_name, r.webhook_auth_value_enc, "
    "r.webhook_secret_enc, r.webhook_enabled, r.plan_limit, r.plan_hard, r.period_calls, " TS("r.period_end") ", "
    TS("now()") " FROM gateway_target($1::bytea) r";
#define TARGET_CONFIG 16
#define TARGET_QUOTA 23
#define TARGET_NOW 27

static const char SQL_ENDPOINT_BY_ID[] =
    "SELECT id::text, account_id::text, slug, active, prod_version, " TS("now()") " FROM endpoints "
    "WHERE id = $1::uuid AND account_id = $2::uuid AND deleted_at IS NULL";

static bool is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Fills t (and *prefetch with gateway_target's row, for a key); returns 1
 * if found, 0 if not, -1 on a database failure. */
static int find_target(struct tool_ctx *ctx, const struct gateway_call *in, struct target *t, PGresult **prefetch)
{
    memset(t, 0, sizeof *t);
    if (in->key_hash_hex) {
        if (!is_hex64(in->key_hash_hex))
            return 0;
        char param[2 + 64 + 1];
        snprintf(param, sizeof param, "\\x%s", in->key_hash_hex);
        const char *p[1] = {param};
        PGresult *res = tool_query(ctx, SQL_TARGET, 1, p);
        if (!res)
            return -1;
        int found = PQntuples(res) == 1;
        if (found) {
            copy_col(t->now_ts, sizeof t->now_ts, res, 0, TARGET_NOW);
            copy_col(t->api_key_id, sizeof t->api_key_id, res, 0, 0);
            copy_col(t->endpoint_id, sizeof t->endpoint_id, res, 0, 1);
            copy_col(t->account_id, sizeof t->account_id, res, 0, 2);
            copy_col(t->slug, sizeof t->slug, res, 0, 3);
            copy_col(t->environment, sizeof t->environment, res, 0, 4);
            t->caller_kind = !strcmp(PQgetvalue(res, 0, 5), "collaboration") ? "collaboration" : "owner";
            copy_col(t->collab_id, sizeof t->collab_id, res, 0, 6);
            t->endpoint_active = pg_bool(res, 0, 7);
            t->prod_version = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
            t->key_active = pg_bool(res, 0, 9);
            t->collab_active = pg_bool(res, 0, 10);
            t->can_create = pg_bool(res, 0, 11);
            t->can_read = pg_bool(res, 0, 12);
            t->can_update = pg_bool(res, 0, 13);
            t->can_delete = pg_bool(res, 0, 14);
            *prefetch = res;
            return 1;
        }
        PQclear(res);
        return 0;
    }
    /* api_call: the owner through MCP, no key. */
    if (!in->endpoint_id || !in->caller_account || !in->environment)
        return 0;
    const char *p[2] = {in->endpoint_id, in->caller_account};
    PGresult *res = tool_query(ctx, SQL_ENDPOINT_BY_ID, 2, p);
    if (!res)
        return -1;
    int found = PQntuples(res) == 1;
    if (found) {
        copy_col(t->endpoint_id, sizeof t->endpoint_id, res, 0, 0);
        copy_col(t->account_id, sizeof t->account_id, res, 0, 1);
        copy_col(t->slug, sizeof t->slug, res, 0, 2);
        snprintf(t->environment, sizeof t->environment, "%s",
                 !strcmp(in->environment, "production") ? "production" : "sandbox");
        t->caller_kind = "mcp";
        t->endpoint_active = pg_bool(res, 0, 3);
        t->prod_version = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
        copy_col(t->now_ts, sizeof t->now_ts, res, 0, 5);
        t->key_active = t->collab_active = true;
        t->can_create = t->can_read = t->can_update = t->can_delete = true;
    }
    PQclear(res);
    return found;
}

/* ---- idempotency -------------------------------------------------------- */

/* The envelope's id as a bytea parameter. finish claims it together with the
 * answer (gateway_finish). */
static void request_id_param(const uint8_t *id, char out[2 + 2 * ENV_ID_LEN + 1])
{
    out[0] = '\\';
    out[1] = 'x';
    hex_encode(id, ENV_ID_LEN, out + 2);
}

/* ---- step 9: the operations -------------------------------------------- */

static const char SQL_CONFIG[] =
    "SELECT c.fields::text, e.name, w.url, w.auth_header_name, w.auth_value_enc, w.secret_enc, w.enabled "
    "FROM endpoint_configs c JOIN endpoints e ON e.id = c.endpoint_id "
    "LEFT JOIN webhooks w ON w.endpoint_id = c.endpoint_id AND w.environment = c.environment "
    "WHERE c.endpoint_id = $1::uuid AND c.environment = $2 AND c.account_id = $3::uuid";

static const char SQL_RECORD_REPLACE[] =
    "UPDATE records SET payload = $5::jsonb, search = to_tsvector('simple', $6), updated_at = now() "
    "WHERE id = $1 AND account_id = $2::uuid AND endpoint_id = $3::uuid AND environment = $4 "
    "AND deleted_at IS NULL RETURNING 1";

static const char SQL_RECORD_DELETE[] =
    "UPDATE records SET deleted_at = now(), updated_at = now() "
    "WHERE id = $1 AND account_id = $2::uuid AND endpoint_id = $3::uuid AND environment = $4 "
    "AND deleted_at IS NULL RETURNING payload::text";

#define RECORD_COLS "id, payload::text, " TS("created_at") ", " TS("updated_at") ", " \
    "(extract(epoch FROM created_at) * 1000000)::bigint"

static const char SQL_RECORD_GET[] =
    "SELECT " RECORD_COLS " FROM records "
    "WHERE id = $1 AND account_id = $2::uuid AND endpoint_id = $3::uuid AND environment = $4 AND deleted_at IS NULL";

static const char SQL_RECORD_LIST[] =
    "SELECT " RECORD_COLS " FROM records "
    "WHERE endpoint_id = $1::uuid AND environment = $2 AND account_id = $3::uuid AND deleted_at IS NULL "
    "AND ($4::bigint IS NULL OR (created_at, id) < ('epoch'::timestamptz + $4::bigint * interval '1 microsecond', $5)) "
    "ORDER BY created_at DESC, id DESC LIMIT $6::int";

static const char SQL_RECORD_SEARCH[] =
    "SELECT " RECORD_COLS " FROM records "
    "WHERE endpoint_id = $1::uuid AND environment = $2 AND account_id = $3::uuid AND deleted_at IS NULL "
    "AND ($4::bigint IS NULL OR (created_at, id) < ('epoch'::timestamptz + $4::bigint * interval '1 microsecond', $5)) "
    "AND search @@ websearch_to_tsquery('simple', $7) "
    "AND created_at >= $8::timestamptz AND created_at < $9::timestamptz "
    "ORDER BY created_at DESC, id DESC LIMIT $6::int";

/* from/to of a search: NULL if a given value does not parse. A date-only `to` means the end of that day. */
static const char SQL_WINDOW[] =
    "SELECT coalesce(CASE WHEN $2::text IS NULL THEN now() WHEN length($2) = 10 "
    "THEN try_timestamptz($2) + interval '1 day' ELSE try_timestamptz($2) END, 'infinity')::text, "
    "($2::text IS NULL OR try_timestamptz($2) IS NOT NULL) AND ($1::text IS NULL OR try_timestamptz($1) IS NOT NULL), "
    "coalesce(try_timestamptz($1), coalesce(CASE WHEN $2::text IS NULL THEN now() ELSE try_timestamptz($2) END, now())"
    " - interval '30 days')::text";

static json_t *record_json(const PGresult *res, int row)
{
    json_error_t jerr;
    json_t *payload = json_loads(PQgetvalue(res, row, 1), 0, &jerr);
    if (!payload)
        payload = json_object();
    return json_pack("{s:s, s:o, s:s, s:s}", "id", PQgetvalue(res, row, 0), "payload", payload, "created_at",
                     PQgetvalue(res, row, 2), "updated_at", PQgetvalue(res, row, 3));
}

/* A query value as a string, or NULL (absent, null, not a string). */
static const char *qstr(const json_t *query, const char *name)
{
    const char *s = json_string_value(json_object_get(query, name));
    return s && *s ? s : NULL;
}

/* GET list or search. Returns TM_OK with the answer in o, or the database failure. */
static enum tm_error op_list(struct tool_ctx *ctx, const struct gateway_call *in, const struct target *t,
                             struct outcome *o)
{
    const json_t *jl = json_object_get(in->query, "limit");
    long long limit = GW_LIST_DEFAULT;
    if (jl && !json_is_null(jl)) {
        bool ok = false;
        if (json_is_integer(jl)) {
            limit = json_integer_value(jl);
            ok = limit >= 1 && limit <= GW_LIST_MAX;
        } else if (json_is_string(jl)) {
            ok = parse_int(json_string_value(jl), 1, GW_LIST_MAX, &limit);
        }
        if (!ok) {
            set_error(o, 400, "invalid_query", NULL, "limit must be an integer from 1 to %d", GW_LIST_MAX);
            return TM_OK;
        }
    }
    char micros[24], cid[48];
    const char *cursor = qstr(in->query, "cursor");
    if (cursor && !gateway_cursor_decode(cursor, micros, cid)) {
        set_error(o, 400, "invalid_query", NULL, "cursor is not valid; pass the next_cursor of a previous page");
        return TM_OK;
    }
    const char *q = qstr(in->query, "q");
    char from[64] = "", to[64] = "";
    if (in->search) {
        if (!q) {
            set_error(o, 400, "invalid_query", NULL, "q is required: the words to search for");
            return TM_OK;
        }
        const char *pw[2] = {qstr(in->query, "from"), qstr(in->query, "to")};
        PGresult *res = tool_query(ctx, SQL_WINDOW, 2, pw);
        if (!res)
            return ctx->code;
        bool valid = pg_bool(res, 0, 1);
        copy_col(to, sizeof to, res, 0, 0);
        copy_col(from, sizeof from, res, 0, 2);
        PQclear(res);
        if (!valid) {
            set_error(o, 400, "invalid_query", NULL,
                      "from and to must be dates or timestamps, e.g. 2025-01-31 or 2025-01-31T12:00:00Z");
            return TM_OK;
        }
    }
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", limit + 1);   /* one more tells whether there is a next page */
    const char *p[9] = {t->endpoint_id, t->environment, t->account_id, cursor ? micros : NULL, cursor ? cid : NULL,
                        lim, q, from, to};
    PGresult *res = tool_query(ctx, in->search ? SQL_RECORD_SEARCH : SQL_RECORD_LIST, in->search ? 9 : 6, p);
    if (!res)
        return ctx->code;
    int rows = PQntuples(res);
    json_t *items = json_array();
    size_t bytes = 0;
    int shown = 0;
    bool more = rows > limit;
    for (int i = 0; i < rows && i < limit; i++) {
        size_t len = (size_t)PQgetlength(res, i, 1);
        if (shown > 0 && bytes + len > LIST_BYTES_MAX) {
            more = true;   /* the rest comes with the next page */
            break;
        }
        bytes += len;
        json_array_append_new(items, record_json(res, i));
        shown++;
    }
    json_t *next = json_null();
    if (more && shown > 0) {
        char *c = gateway_cursor_encode(PQgetvalue(res, shown - 1, 4), PQgetvalue(res, shown - 1, 0));
        next = json_string(c);
        free(c);
    }
    PQclear(res);
    set_answer(o, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
    return TM_OK;
}

/* ---- logging and bookkeeping ------------------------------------------- */

/* Everything a logged call writes, in one statement (migration 014; the
 * parameters in enum fin_param's order). */
static const char SQL_FINISH[] =
    "SELECT r_replayed, r_stored, r_calls, r_alert80_due, r_alert100_due, r_period_start, r_period_end "
    "FROM gateway_finish($1::bytea, $2::jsonb, $3, $4::jsonb, $5, $6::uuid, $7::uuid, $8::uuid, $9::uuid, $10, $11, "
    "$12, $13, $14, $15::uuid, $16::uuid, $17::smallint, $18, $19, $20, $21::int, $22, $23::int, $24::boolean, $25, "
    "$26::int, $27::boolean, $28, $29, $30, $31, $32, $33::bytea, $34::bytea, $35, $36::int, $37::boolean, $38::int, "
    "$39::boolean, $40::bigint)";

/* A usage alert, once per period: the statement marks the period's stripe 0
 * of the counter (alert80_at / alert100_at; migration 020 keeps the marks
 * there only), creating that row if the calls went to other stripes, and
 * queues the e-mail only if it was unmarked. The insert-or-update locks that
 * one row and re-checks the mark, so two calls can never both send it. An
 * account-wide rule for the event set to off (notification_rules, endpoint
 * NULL) silences it; no rule means on. Reaching 100% also marks 80%, so one
 * jump past both sends only the 100% alert. */
#define SQL_ALERT(col, cols, vals, also)                                                                  \
    "WITH f AS (INSERT INTO usage_counters AS uc (account_id, period_start, period_end, stripe, " cols ") " \
    "  VALUES ($1::uuid, $2::timestamptz, $2::timestamptz + interval '30 days', 0, " vals ") "            \
    "  ON CONFLICT (account_id, period_start, stripe) DO UPDATE SET " col " = now()" also " "             \
    "  WHERE uc." col " IS NULL RETURNING 1) "                                                            \
    "INSERT INTO notifications (account_id, kind, subject, body) SELECT $1::uuid, $3, $4, $5 FROM f "     \
    "WHERE coalesce((SELECT nr.enabled FROM notification_rules nr WHERE nr.account_id = $1::uuid "        \
    "  AND nr.endpoint_id IS NULL AND nr.event = $3), true)"
static const char SQL_ALERT80[] = SQL_ALERT("alert80_at", "alert80_at", "now()", "");
static const char SQL_ALERT100[] =
    SQL_ALERT("alert100_at", "alert100_at, alert80_at", "now(), now()", ", alert80_at = coalesce(uc.alert80_at, now())");

struct webhook_target {
    bool on;
    char *url;
    char *auth_header_name;   /* or NULL */
    char *auth_value_enc;     /* bytea text or NULL */
    char *secret_enc;         /* bytea text */
};

static void webhook_free(struct webhook_target *w)
{
    free(w->url);
    free(w->auth_header_name);
    free(w->auth_value_enc);
    free(w->secret_enc);
    memset(w, 0, sizeof *w);
}

static const char *path_kind(const struct gateway_call *in)
{
    if (!strcmp(in->method, "POST"))
        return "create";
    if (in->search)
        return "search";
    return in->record_id ? "record" : "list";
}

static bool is_write(const char *method)
{
    return !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "DELETE");
}

/* Sets finish's parameter i to a copy of v (NULL = SQL NULL). */
static void fin_set(struct outcome *o, enum fin_param i, const char *v)
{
    free(o->fin[i]);
    o->fin[i] = v ? xstrdup(v) : NULL;
}

/* Sets finish's parameter i to v, which it takes over. */
static void fin_take(struct outcome *o, enum fin_param i, char *v)
{
    free(o->fin[i]);
    o->fin[i] = v;
}

/* A random (version 4) uuid: the call log's id, chosen before the log is
 * written so that the answer, the webhook body and the e-mail can carry it. */
static void log_id_new(char out[37])
{
    uint8_t b[16];
    random_bytes(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char hex[33];
    hex_encode(b, sizeof b, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* Prepares the call log and everything that goes with it as finish's
 * parameters, and queues a call_failed e-mail (its own statements, failures
 * only). payload: the parsed request body (may be NULL); record_payload:
 * what the webhook reports. Sets o->logged and o->log_id. */
static enum tm_error log_call(struct tool_ctx *ctx, const struct gateway_call *in, const struct target *t,
                              struct outcome *o, int64_t t0, const json_t *payload, const json_t *record_payload,
                              struct webhook_target *wh, const char *endpoint_name)
{
    bool success = o->status < 400;
    bool webhook = success && is_write(in->method) && wh->on && record_payload;
    long long latency = mono_ms() - t0;

    bool req_cut = false, resp_cut = false;
    char *resp_full = json_dumps(o->body, JSON_COMPACT);
    if (!resp_full)
        fatal("out of memory");
    size_t resp_len = strlen(resp_full);
    fin_take(o, FIN_REQUEST_BODY,
             in->body ? gateway_clip_text(in->body, in->body_len, GW_BODY_LOG_MAX, &req_cut) : NULL);
    fin_take(o, FIN_RESPONSE_BODY, gateway_clip_text(resp_full, resp_len, GW_BODY_LOG_MAX, &resp_cut));
    free(resp_full);

    /* What logs_search finds: the record id, the error and the body's text. */
    struct strbuf sb;
    sb_init(&sb, 256);
    if (o->record_id[0]) {
        sb_append_str(&sb, o->record_id);
        sb_append_str(&sb, " ");
    }
    if (o->error_code) {
        sb_append_str(&sb, o->error_code);
        sb_append_str(&sb, " ");
        sb_append_str(&sb, o->error_message);
        sb_append_str(&sb, " ");
    }
    char *body_search = payload ? gateway_search_text(NULL, payload)
                                : (in->body ? gateway_clip_text(in->body, in->body_len, GW_SEARCH_TEXT_MAX, NULL)
                                            : xstrdup(""));
    sb_append_str(&sb, body_search);
    free(body_search);
    char *search = sb_take(&sb, NULL);
    fin_take(o, FIN_SEARCH, search ? search : xstrdup(""));

    log_id_new(o->log_id);
    fin_set(o, FIN_LOG_ID, o->log_id);
    fin_set(o, FIN_ACCOUNT, t->account_id);
    fin_set(o, FIN_ENDPOINT, t->endpoint_id);
    fin_set(o, FIN_ENVIRONMENT, t->environment);
    fin_set(o, FIN_METHOD, in->method);
    fin_set(o, FIN_PATH_KIND, path_kind(in));
    fin_set(o, FIN_LOG_RECORD_ID, o->record_id[0] ? o->record_id : NULL);
    fin_set(o, FIN_CALLER_KIND, t->caller_kind);
    fin_set(o, FIN_API_KEY, t->api_key_id[0] ? t->api_key_id : NULL);
    fin_set(o, FIN_COLLAB, t->collab_id[0] ? t->collab_id : NULL);
    fin_take(o, FIN_STATUS, xasprintf("%d", o->status));
    fin_set(o, FIN_OUTCOME, success ? "success" : "failed");
    fin_set(o, FIN_ERROR_CODE, o->error_code);
    fin_set(o, FIN_ERROR_MESSAGE, o->error_code ? o->error_message : NULL);
    fin_take(o, FIN_LATENCY, xasprintf("%lld", latency));
    fin_take(o, FIN_REQUEST_BYTES, xasprintf("%zu", in->body ? in->body_len : 0));
    fin_set(o, FIN_REQUEST_CUT, req_cut ? "true" : "false");
    fin_take(o, FIN_RESPONSE_BYTES, xasprintf("%zu", resp_len));
    fin_set(o, FIN_RESPONSE_CUT, resp_cut ? "true" : "false");
    fin_take(o, FIN_IP, in->ip ? gateway_clip_text(in->ip, strlen(in->ip), 64, NULL) : NULL);
    fin_set(o, FIN_WEBHOOK_STATUS, webhook ? "pending" : NULL);
    o->logged = true;

    /* The log's created_at is the transaction's now(), read with the key. */
    const char *occurred_at = t->now_ts;
    enum tm_error rc = TM_OK;
    if (webhook) {
        const char *event = !strcmp(in->method, "POST") ? "record.created"
                            : !strcmp(in->method, "PUT") ? "record.updated"
                                                         : "record.deleted";
        json_t *wb = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:{s:s, s:O}, s:s, s:s, s:s}", "event", event,
                               "endpoint", "id", t->endpoint_id, "slug", t->slug, "name", endpoint_name,
                               "environment", t->environment, "record", "id", o->record_id, "payload",
                               record_payload, "log_id", o->log_id, "caller", t->caller_kind, "occurred_at",
                               occurred_at);
        char *wtext = json_dumps(wb, JSON_COMPACT);
        json_decref(wb);
        if (!wtext)
            fatal("out of memory");
        fin_set(o, FIN_WEBHOOK_URL, wh->url);
        fin_set(o, FIN_WEBHOOK_AUTH_HEADER, wh->auth_header_name);
        fin_set(o, FIN_WEBHOOK_AUTH_VALUE, wh->auth_value_enc);
        fin_set(o, FIN_WEBHOOK_SECRET, wh->secret_enc);
        fin_take(o, FIN_WEBHOOK_BODY, wtext);
    }
    if (!success) {
        /* A call_failed e-mail if the endpoint's rule asks for one and its
         * cool-down has passed (notify.h, docs/GATEWAY.md). */
        char *subject = xasprintf("[3Min API] Failed call to %s (%s): %d %s", endpoint_name, t->environment,
                                  o->status, o->error_code ? o->error_code : "error");
        char *text = xasprintf("A call to your endpoint \"%s\" (%s) failed.\n\n"
                               "Method: %s\nStatus: %d\nError: %s: %s\nTime: %s\nLog id: %s\n\n"
                               "Further failures of this endpoint within %d minutes are not e-mailed; "
                               "find them with logs_search.\n",
                               endpoint_name, t->environment, in->method, o->status,
                               o->error_code ? o->error_code : "error", o->error_message, occurred_at, o->log_id,
                               ctx->cfg->notify_cooldown_s / 60);
        rc = notify_queue(ctx, t->account_id, t->endpoint_id, "call_failed", subject, text, NULL);
        free(subject);
        free(text);
    }
    o->count_success = success;
    o->count_write = is_write(in->method);
    o->latency_ms = latency;
    o->who = *t;
    return rc;
}

/* Writes what a logged call writes (gateway_finish): the idempotency record
 * with the answer (request_id, result: the answer's text; both NULL for
 * api_call), a POST's record, the call log, the webhook delivery and, last,
 * the counters; then a usage alert if one is due (twice a period at most).
 * If the request id was already applied, nothing is written and
 * o->replayed/o->replay_text hold the stored answer: the caller rolls back. */
static enum tm_error finish(struct tool_ctx *ctx, struct outcome *o, const uint8_t *request_id, const char *result)
{
    if (!o->logged)
        return TM_OK;
    if (request_id && result) {
        char idp[2 + 2 * ENV_ID_LEN + 1];
        request_id_param(request_id, idp);
        fin_set(o, FIN_REQUEST_ID, idp);
        fin_set(o, FIN_RESULT, result);
    } else {
        fin_set(o, FIN_REQUEST_ID, NULL);
        fin_set(o, FIN_RESULT, NULL);
    }
    /* Without a known plan (no step 6 reached) nothing is overage. */
    fin_set(o, FIN_SUCCESS, o->count_success ? "1" : "0");
    fin_set(o, FIN_COUNTED, o->counted ? "true" : "false");
    fin_set(o, FIN_WRITE, o->count_write ? "1" : "0");
    fin_set(o, FIN_HARD, !o->plan_known || o->plan_hard ? "true" : "false");
    fin_take(o, FIN_LIMIT, xasprintf("%lld", o->plan_known ? o->plan_limit : 0));
    PGresult *res = tool_query(ctx, SQL_FINISH, FIN_N, (const char *const *)o->fin);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
    }
    if (pg_bool(res, 0, 0)) {
        if (PQgetisnull(res, 0, 1)) {
            PQclear(res);
            return tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
        }
        o->replay_text = xstrdup(PQgetvalue(res, 0, 1));
        o->replayed = true;
        PQclear(res);
        log_info("gateway.call: request already applied; answering with the stored result");
        return TM_OK;
    }
    const struct target *t = &o->who;
    enum plans_alert due = PLANS_ALERT_NONE;
    if (o->counted && o->plan_known && !PQgetisnull(res, 0, 2))
        due = plans_alert_due(strtoll(PQgetvalue(res, 0, 2), NULL, 10), o->plan_limit, pg_bool(res, 0, 3),
                              pg_bool(res, 0, 4));
    if (due == PLANS_ALERT_NONE) {
        PQclear(res);
        return TM_OK;
    }
    /* Rare (twice a period at most): one more statement. */
    const char *calls = PQgetvalue(res, 0, 2);
    int pct = due == PLANS_ALERT_100 ? 100 : 80;
    char *subject = xasprintf("[3Min API] You have used %d%% of your monthly API calls", pct);
    char *text = xasprintf("Your account has made %s of its %lld API calls for the current 30-day period "
                           "(%d%%).\n\nThe period ends at %s.\n\n%s\n\nSee your plan and usage: %s/settings/subscription\n",
                           calls, o->plan_limit, pct, PQgetvalue(res, 0, 6),
                           o->plan_hard ? (due == PLANS_ALERT_100
                                               ? "Further calls are refused with 402 quota_exceeded until the "
                                                 "period ends or the plan is upgraded."
                                               : "At 100% further calls are refused with 402 quota_exceeded "
                                                 "until the period ends or the plan is upgraded.")
                                        : "Calls past the limit are allowed and billed as overage.",
                           ctx->cfg->public_url);
    const char *pa[5] = {t->account_id, PQgetvalue(res, 0, 5), due == PLANS_ALERT_100 ? "usage_100" : "usage_80",
                         subject, text};
    PGresult *ra = tool_query(ctx, due == PLANS_ALERT_100 ? SQL_ALERT100 : SQL_ALERT80, 5, pa);
    free(subject);
    free(text);
    PQclear(res);
    if (!ra)
        return ctx->code;
    PQclear(ra);
    return TM_OK;
}

/* ---- quota -------------------------------------------------------------- */

/* The account's plan and this period's usage (docs/PLANS.md): the
 * subscription is the source of truth; an account without one counts as
 * free. The count is the sum of the period's stripes (migration 020), read
 * without locking them: calls of one account running at the same moment may
 * each see the count below the limit, so a burst can pass the limit by at
 * most the number of calls in flight (as when the count was one row). */
static const char SQL_QUOTA[] =
    "SELECT p.monthly_limit, p.hard_limit, (SELECT coalesce(sum(u.calls), 0) FROM usage_counters u "
    "  WHERE u.account_id = a.id AND u.period_start = per.period_start), " TS("per.period_end") " "
    "FROM accounts a CROSS JOIN LATERAL usage_period(a.created_at, now()) per "
    "LEFT JOIN subscriptions s ON s.account_id = a.id "
    "JOIN plans p ON p.code = coalesce(s.plan_code, 'free') "
    "WHERE a.id = $1::uuid";

/* Step 6's quota check: reads the plan into o (for finish) and returns 1
 * with the 402 answer set on o when a hard limit is used up, 0 to go on, -1
 * on a database failure (recorded on ctx). A keyed call read the plan with
 * its key (o->prefetch, columns TARGET_QUOTA on, in SQL_QUOTA's order). */
static int gateway_quota_exhausted(struct tool_ctx *ctx, const struct target *t, struct outcome *o)
{
    PGresult *res = o->prefetch;
    int c = TARGET_QUOTA;
    if (!res) {
        const char *p[1] = {t->account_id};
        if (!(res = tool_query(ctx, SQL_QUOTA, 1, p)))
            return -1;
        c = 0;
    }
    int rc = 0;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, c))
        goto out;
    o->plan_known = true;
    o->plan_limit = strtoll(PQgetvalue(res, 0, c), NULL, 10);
    o->plan_hard = PQgetvalue(res, 0, c + 1)[0] == 't';
    long long used = strtoll(PQgetvalue(res, 0, c + 2), NULL, 10);
    if (!plans_quota_blocks(o->plan_hard, o->plan_limit, used))
        goto out;
    char *upgrade = xasprintf("%s/settings/subscription", ctx->cfg->public_url);
    json_t *details = json_pack("{s:I, s:I, s:s, s:s}", "limit", (json_int_t)o->plan_limit, "used",
                                (json_int_t)used, "period_end", PQgetvalue(res, 0, c + 3), "upgrade_url", upgrade);
    set_error(o, 402, "quota_exceeded", details,
              "the plan's %lld calls for this 30-day period are used up; upgrade the plan or wait for the "
              "period to end", o->plan_limit);
    free(upgrade);
    rc = 1;
out:
    if (res != o->prefetch)
        PQclear(res);
    return rc;
}

/* ---- the pipeline ------------------------------------------------------- */

static bool method_ok(const char *m)
{
    return m && (!strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "DELETE"));
}

/* The per-request webhook override, checked; false if malformed. */
static bool override_ok(const json_t *w)
{
    const char *url = json_string_value(json_object_get(w, "url"));
    if (!url || strlen(url) > 2000 || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)))
        return false;
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return false;
    const json_t *a = json_object_get(w, "auth"), *h = json_object_get(w, "auth_header");
    if (a && !json_is_null(a) && (!json_is_string(a) || json_string_length(a) > 1024))
        return false;
    if (h && !json_is_null(h)) {
        const char *hs = json_string_value(h);
        if (!hs || !*hs || strlen(hs) > 100)
            return false;
        for (const char *c = hs; *c; c++)
            if (!(isalnum((unsigned char)*c) || strchr("!#$%&'*+-.^_`|~", *c)))
                return false;
    }
    return true;
}

static enum tm_error pipeline(struct tool_ctx *ctx, const struct gateway_call *in, struct outcome *o)
{
    int64_t t0 = mono_ms();
    o->headers = json_object();
    if (!method_ok(in->method)) {
        set_error(o, 405, "method_not_allowed", NULL, "method must be GET, POST, PUT or DELETE");
        return TM_OK;
    }

    /* Steps 1-2. */
    struct target t;
    int found = find_target(ctx, in, &t, &o->prefetch);
    if (found < 0)
        return ctx->code;
    if (!found) {
        if (in->key_hash_hex)
            set_error(o, 401, "invalid_api_key", NULL, "the API key is not valid");
        else
            set_error(o, 404, "not_found", NULL, "no such endpoint");
        return TM_OK;
    }
    if (in->slug && strcmp(in->slug, t.slug)) {
        set_error(o, 404, "not_found", NULL, "no endpoint at this URL for this key");
        return TM_OK;
    }
    /* Step 4 is checked before anything is written, since it is not logged;
     * step 3 (logged) still wins when both apply. */
    if (t.endpoint_active && !strcmp(t.environment, "production") && t.prod_version == 0) {
        set_error(o, 403, "endpoint_not_deployed", NULL,
                  "this endpoint has not been deployed to production yet; deploy it first, or use the sandbox key");
        return TM_OK;
    }

    /* From here on the call is logged; finish claims the request id. */
    if (in->record_id && gateway_is_record_id(in->record_id))
        snprintf(o->record_id, sizeof o->record_id, "%s", in->record_id);

    json_t *payload = NULL, *record_payload = NULL, *fields = NULL;
    struct webhook_target wh = {0};
    char *endpoint_name = NULL;
    enum tm_error rc = TM_OK;
    bool write = is_write(in->method);

    /* Step 3. */
    if (!t.endpoint_active) {
        set_error(o, 403, "endpoint_inactive", NULL, "this endpoint is paused; its owner can reactivate it");
        goto log;
    }
    o->counted = true;   /* steps 5-9 count, except 402/429 below */

    /* Step 5. */
    if (!t.key_active || !t.collab_active) {
        set_error(o, 403, "key_inactive", NULL, "this key is not active for the %s environment", t.environment);
        goto log;
    }
    bool allowed = !strcmp(in->method, "POST") ? t.can_create
                   : !strcmp(in->method, "GET") ? t.can_read
                   : !strcmp(in->method, "PUT") ? t.can_update
                                                : t.can_delete;
    if (!allowed) {
        set_error(o, 403, "permission_denied", NULL, "this key may not make %s requests", in->method);
        goto log;
    }

    /* Step 6. */
    int exhausted = gateway_quota_exhausted(ctx, &t, o);
    if (exhausted < 0) {
        rc = ctx->code;
        goto out;
    }
    if (exhausted) {
        o->counted = false;
        goto log;
    }
    if (in->throttled) {
        o->counted = false;
        json_object_set_new(o->headers, "Retry-After", json_string("1"));
        set_error(o, 429, "rate_limited", NULL, "too many requests with this key; retry after a second");
        goto log;
    }

    /* Step 7. */
    if (in->reject) {
        json_int_t st = json_integer_value(json_object_get(in->reject, "status"));
        const char *code = json_string_value(json_object_get(in->reject, "code"));
        const char *msg = json_string_value(json_object_get(in->reject, "message"));
        static const char *const known[] = {"unsupported_media_type", "payload_too_large", "invalid_json",
                                            "invalid_body", "invalid_query", "invalid_webhook"};
        const char *kc = "invalid_request";
        for (size_t i = 0; code && i < TM_ARRAY_LEN(known); i++)
            if (!strcmp(code, known[i]))
                kc = known[i];
        set_error(o, st >= 400 && st <= 499 ? (int)st : 400, kc, NULL, "%.200s", msg ? msg : "the request was refused");
        goto log;
    }
    if ((!strcmp(in->method, "POST") && in->record_id) || (!strcmp(in->method, "GET") && in->search && in->record_id) ||
        ((!strcmp(in->method, "PUT") || !strcmp(in->method, "DELETE")) && !in->record_id) ||
        (in->search && strcmp(in->method, "GET"))) {
        set_error(o, 405, "method_not_allowed", NULL, "%s is not allowed here", in->method);
        goto log;
    }
    if (in->record_id && !o->record_id[0]) {
        set_error(o, 404, "record_not_found", NULL, "no record with this id");
        goto log;
    }
    if (in->webhook && !json_is_null(in->webhook) && !override_ok(in->webhook)) {
        set_error(o, 400, "invalid_webhook", NULL,
                  "X-Webhook-Callback must be an http(s) URL; X-Webhook-Auth-Header a header name");
        goto log;
    }
    bool has_body = !strcmp(in->method, "POST") || !strcmp(in->method, "PUT");
    if (has_body) {
        if (!in->body) {
            set_error(o, 400, "invalid_body", NULL, "the body must be a JSON object");
            goto log;
        }
        if (in->body_len > GW_REQUEST_BODY_MAX) {
            set_error(o, 413, "payload_too_large", NULL, "the body must be at most 100 KB");
            goto log;
        }
        json_error_t jerr;
        payload = json_loadb(in->body, in->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!payload) {
            set_error(o, 400, "invalid_json", NULL, "the body is not valid JSON: %.100s", jerr.text);
            goto log;
        }
        if (!json_is_object(payload)) {
            set_error(o, 400, "invalid_body", NULL, "the body must be a JSON object");
            goto log;
        }
    }

    /* Step 8: this environment's fields (and its webhook, for step 9); a
     * keyed call read them with its key (o->prefetch, columns TARGET_CONFIG
     * on, in SQL_CONFIG's order). */
    {
        PGresult *res = o->prefetch;
        int c = TARGET_CONFIG;
        if (!res) {
            const char *p[3] = {t.endpoint_id, t.environment, t.account_id};
            if (!(res = tool_query(ctx, SQL_CONFIG, 3, p))) {
                rc = ctx->code;
                goto out;
            }
            c = 0;
        }
        if (PQntuples(res) != 1 || PQgetisnull(res, 0, c)) {
            if (res != o->prefetch)
                PQclear(res);
            rc = tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
            goto out;
        }
        json_error_t jerr;
        fields = json_loads(PQgetvalue(res, 0, c), 0, &jerr);
        if (!json_is_array(fields)) {
            json_decref(fields);
            fields = json_array();
        }
        endpoint_name = xstrdup(PQgetvalue(res, 0, c + 1));
        bool stored_on = !PQgetisnull(res, 0, c + 2) && !PQgetisnull(res, 0, c + 5) && pg_bool(res, 0, c + 6);
        bool has_secret = !PQgetisnull(res, 0, c + 5);
        const json_t *ov = in->webhook && !json_is_null(in->webhook) ? in->webhook : NULL;
        if (write && ov && has_secret) {
            wh.on = true;
            wh.url = xstrdup(json_string_value(json_object_get(ov, "url")));
            const char *auth = json_string_value(json_object_get(ov, "auth"));
            const char *hdr = json_string_value(json_object_get(ov, "auth_header"));
            if (auth && *auth) {
                const struct keybox *kb = gateway_keybox(ctx->cfg);
                if (!kb) {
                    if (res != o->prefetch)
                        PQclear(res);
                    rc = tool_fail(ctx, TM_ERR_INTERNAL, NULL, "internal error");
                    goto out;
                }
                size_t blen;
                uint8_t *box = keybox_seal(kb, auth, strlen(auth), &blen);
                wh.auth_value_enc = keybox_bytea_hex(box, blen);
                free(box);
                wh.auth_header_name = xstrdup(hdr && *hdr ? hdr : "Authorization");
            }
            wh.secret_enc = xstrdup(PQgetvalue(res, 0, c + 5));
        } else if (write && stored_on) {
            wh.on = true;
            wh.url = xstrdup(PQgetvalue(res, 0, c + 2));
            if (!PQgetisnull(res, 0, c + 3) && !PQgetisnull(res, 0, c + 4)) {
                wh.auth_header_name = xstrdup(PQgetvalue(res, 0, c + 3));
                wh.auth_value_enc = xstrdup(PQgetvalue(res, 0, c + 4));
            }
            wh.secret_enc = xstrdup(PQgetvalue(res, 0, c + 5));
        }
        if (res != o->prefetch)
            PQclear(res);
    }
    if (has_body) {
        json_t *problems = NULL;
        if (!fields_validate_record(fields, payload, &problems)) {
            static const char *const order[][2] = {{"missing_required_field", "missing_required_fields"},
                                                   {"invalid_field_type", "invalid_field_type"},
                                                   {"validation_failed", "validation_failed"}};
            const char *code = "validation_failed", *pcode = NULL;
            for (size_t k = 0; k < TM_ARRAY_LEN(order) && !pcode; k++) {
                size_t i;
                json_t *pr;
                json_array_foreach(problems, i, pr)
                {
                    if (!strcmp(json_string_value(json_object_get(pr, "code")) ?: "", order[k][0])) {
                        pcode = order[k][0];
                        code = order[k][1];
                        break;
                    }
                }
            }
            json_t *names = json_array();
            size_t i;
            json_t *pr;
            json_array_foreach(problems, i, pr)
            {
                const char *pc = json_string_value(json_object_get(pr, "code"));
                if (pcode && pc && !strcmp(pc, pcode))
                    json_array_append(names, json_object_get(pr, "field"));
            }
            char list[200] = "";
            size_t n = 0;
            json_array_foreach(names, i, pr)
            {
                n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s", i ? ", " : "",
                                      json_string_value(pr) ?: "?");
                if (n >= sizeof list)
                    break;
            }
            const char *what = !strcmp(code, "missing_required_fields") ? "missing required fields"
                               : !strcmp(code, "invalid_field_type")    ? "fields of the wrong type"
                                                                        : "fields that fail validation";
            set_error(o, 400, code, json_pack("{s:o, s:o}", "fields", names, "problems", problems), "%s: %s", what,
                      list);
            goto log;
        }
        json_decref(problems);
    }

    /* Step 9. */
    if (!strcmp(in->method, "POST") || !strcmp(in->method, "PUT")) {
        char *text = json_dumps(payload, JSON_COMPACT);
        char *search = gateway_search_text(fields, payload);
        if (!text)
            fatal("out of memory");
        if (!strcmp(in->method, "POST")) {
            /* finish inserts the record (gateway_finish), after the request
             * id's claim: a resent POST writes nothing. */
            uint8_t rnd[10];
            random_bytes(rnd, sizeof rnd);
            gateway_record_id(now_ms(), rnd, o->record_id);
            fin_set(o, FIN_RECORD_ID, o->record_id);
            fin_take(o, FIN_RECORD_PAYLOAD, text);
            fin_take(o, FIN_RECORD_SEARCH, search);
            fin_set(o, FIN_CREATED_BY, t.api_key_id[0] ? t.api_key_id : NULL);
        } else {
            const char *p[6] = {o->record_id, t.account_id, t.endpoint_id, t.environment, text, search};
            PGresult *res = tool_query(ctx, SQL_RECORD_REPLACE, 6, p);
            free(text);
            free(search);
            if (!res) {
                rc = ctx->code;
                goto out;
            }
            int n = PQntuples(res);
            PQclear(res);
            if (n != 1) {
                set_error(o, 404, "record_not_found", NULL, "no record with this id");
                goto log;
            }
        }
        record_payload = json_incref(payload);
        set_answer(o, 202, json_pack("{s:s, s:s, s:s}", "id", o->record_id, "status", "queued", "environment",
                                     t.environment));
    } else if (!strcmp(in->method, "DELETE")) {
        const char *p[4] = {o->record_id, t.account_id, t.endpoint_id, t.environment};
        PGresult *res = tool_query(ctx, SQL_RECORD_DELETE, 4, p);
        if (!res) {
            rc = ctx->code;
            goto out;
        }
        if (PQntuples(res) != 1) {
            PQclear(res);
            set_error(o, 404, "record_not_found", NULL, "no record with this id");
            goto log;
        }
        json_error_t jerr;
        record_payload = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
        if (!record_payload)
            record_payload = json_object();
        PQclear(res);
        set_answer(o, 202, json_pack("{s:s, s:s, s:s}", "id", o->record_id, "status", "queued", "environment",
                                     t.environment));
    } else if (in->record_id) {
        const char *p[4] = {o->record_id, t.account_id, t.endpoint_id, t.environment};
        PGresult *res = tool_query(ctx, SQL_RECORD_GET, 4, p);
        if (!res) {
            rc = ctx->code;
            goto out;
        }
        if (PQntuples(res) != 1)
            set_error(o, 404, "record_not_found", NULL, "no record with this id");
        else
            set_answer(o, 200, record_json(res, 0));
        PQclear(res);
    } else {
        rc = op_list(ctx, in, &t, o);
        if (rc != TM_OK)
            goto out;
    }

log:
    rc = log_call(ctx, in, &t, o, t0, payload, record_payload, &wh, endpoint_name ? endpoint_name : t.slug);
out:
    json_decref(payload);
    json_decref(record_payload);
    json_decref(fields);
    webhook_free(&wh);
    free(endpoint_name);
    return rc;
}

static void outcome_free(struct outcome *o)
{
    json_decref(o->headers);
    json_decref(o->body);
    free(o->replay_text);
    PQclear(o->prefetch);
    for (int i = 0; i < FIN_N; i++)
        free(o->fin[i]);
}

enum tm_error gateway_run(struct tool_ctx *ctx, const struct gateway_call *in, int *status, json_t **headers,
                          json_t **body, char log_id[40])
{
    struct outcome o;
    memset(&o, 0, sizeof o);
    enum tm_error rc = pipeline(ctx, in, &o);
    if (rc == TM_OK)
        rc = finish(ctx, &o, NULL, NULL);   /* the tool's own request id covers api_call */
    log_id[0] = '\0';
    if (rc != TM_OK) {
        outcome_free(&o);
        return rc;
    }
    if (o.replayed) {
        json_error_t jerr;
        json_t *stored = json_loads(o.replay_text, 0, &jerr);
        *status = (int)json_integer_value(json_object_get(stored, "status"));
        *headers = json_incref(json_object_get(stored, "headers"));
        *body = json_incref(json_object_get(stored, "body"));
        snprintf(log_id, 40, "%s", json_string_value(json_object_get(stored, "log_id")) ?: "");
        json_decref(stored);
        if (!*headers)
            *headers = json_object();
        if (!*body)
            *body = json_object();
        outcome_free(&o);
        return TM_OK;
    }
    *status = o.status;
    *headers = o.headers;
    *body = o.body;
    o.headers = o.body = NULL;
    snprintf(log_id, 40, "%s", o.log_id);
    outcome_free(&o);
    return TM_OK;
}

/* ---- op gateway --------------------------------------------------------- */

static const char *opt_str(const json_t *args, const char *name)
{
    const json_t *v = json_object_get(args, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const json_t *opt_obj(const json_t *args, const char *name)
{
    const json_t *v = json_object_get(args, name);
    return json_is_object(v) ? v : NULL;
}

enum tm_error gateway_handle(struct tool_ctx *ctx, const json_t *args, char **out)
{
    struct gateway_call in = {
        .method = opt_str(args, "method"),
        .slug = opt_str(args, "slug"),
        .record_id = opt_str(args, "record_id"),
        .key_hash_hex = opt_str(args, "key_hash"),
        .environment = opt_str(args, "environment"),
        .query = opt_obj(args, "query"),
        .search = json_is_true(json_object_get(args, "search")),
        .reject = opt_obj(args, "reject"),
        .throttled = json_is_true(json_object_get(args, "throttled")),
        .ip = opt_str(args, "ip"),
        .webhook = opt_obj(args, "webhook"),
        .request_id = ctx->request_id,
    };
    const json_t *jb = json_object_get(args, "body");
    if (json_is_string(jb)) {
        in.body = json_string_value(jb);
        in.body_len = json_string_length(jb);
    }
    if (!in.key_hash_hex || !in.slug || !in.method)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "gateway.call needs method, slug and key_hash");
    /* The edge's path rule; "search" as a record id is the search route. */
    if (in.record_id && !strcmp(in.record_id, "search")) {
        in.record_id = NULL;
        in.search = true;
    }

    struct db *db = ctx->db;
    if (!db_ensure(db) || !db_clear_session_account(db))
        return tool_fail(ctx, TM_ERR_UNAVAILABLE, NULL, "database unavailable, retry");
    bool begun = db_exec(db, "BEGIN");
    if (!begun && db_broken(db) && db_ensure(db))
        begun = db_exec(db, "BEGIN");
    if (!begun)
        return tool_fail(ctx, db_broken(db) ? TM_ERR_UNAVAILABLE : TM_ERR_INTERNAL, NULL, "database unavailable, retry");

    struct outcome o;
    memset(&o, 0, sizeof o);
    enum tm_error rc = pipeline(ctx, &in, &o);
    if (rc == TM_OK && PQtransactionStatus(db_conn(db)) != PQTRANS_INTRANS)
        rc = tool_fail(ctx, db_broken(db) ? TM_ERR_UNAVAILABLE : TM_ERR_INTERNAL, NULL, "internal error");
    if (rc != TM_OK) {
        if (!db_broken(db))
            db_exec(db, "ROLLBACK");
        outcome_free(&o);
        return rc;
    }
    json_t *result = json_pack("{s:i, s:O, s:O, s:s?}", "status", o.status, "headers", o.headers, "body", o.body,
                               "log_id", o.logged ? o.log_id : NULL);
    char *text = json_dumps(result, JSON_COMPACT);
    json_decref(result);
    if (!text)
        fatal("out of memory");
    enum tm_error crc = finish(ctx, &o, in.request_id, text);
    if (crc != TM_OK) {
        free(text);
        if (!db_broken(db))
            db_exec(db, "ROLLBACK");
        outcome_free(&o);
        return crc;
    }
    if (o.replayed) {
        /* An earlier copy of this request committed: its answer, and none of this run's writes. */
        free(text);
        db_exec(db, "ROLLBACK");
        *out = o.replay_text;
        o.replay_text = NULL;
        outcome_free(&o);
        return TM_OK;
    }
    if (!db_exec(db, "COMMIT")) {
        free(text);
        outcome_free(&o);
        return tool_fail(ctx, db_broken(db) ? TM_ERR_UNAVAILABLE : TM_ERR_INTERNAL, NULL,
                         "database unavailable, retry");
    }
    outcome_free(&o);
    *out = text;
    return TM_OK;
}
