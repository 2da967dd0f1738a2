/*
 * tool_util — shared helpers of the tool handlers. See tool_util.h.
 */
#include "services/worker/tool_util.h"

#include <stdio.h>
#include "common/util.h"

PGresult *tool_query(struct tool_ctx *ctx, const char *sql, int n, const char *const *p)
{
    PGresult *res = db_query(ctx->db, sql, n, p);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        tool_db_fail(ctx, res);
        return NULL;
    }
    return res;
}

const char *tool_arg_str(const json_t *args, const char *name)
{
    const char *s = json_string_value(json_object_get(args, name));
    return s && *s ? s : NULL;
}

#define FIND_SQL                                                                                      \
    "SELECT id::text, slug, name FROM endpoints WHERE account_id = $1::uuid AND deleted_at IS NULL "  \
    "AND (id = $2::uuid OR slug = $3 OR lower(name) = lower($3)) "                                    \
    "ORDER BY (id = $2::uuid) IS TRUE DESC, (slug = $3) DESC LIMIT 1"
static const char SQL_FIND[] = FIND_SQL;
static const char SQL_FIND_LOCK[] = FIND_SQL " FOR UPDATE";

enum tm_error tool_find_endpoint(struct tool_ctx *ctx, const char *ref, bool lock, char id[40], char *slug,
                                 size_t slug_cap, char *name, size_t name_cap)
{
    if (!ref || !*ref)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "endpoint is required: an id, slug or name");
    const char *p[3] = {ctx->who->account_id, is_uuid(ref) ? ref : NULL, ref};
    PGresult *res = tool_query(ctx, lock ? SQL_FIND_LOCK : SQL_FIND, 3, p);
    if (!res)
        return ctx->code;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no endpoint \"%.100s\" in this account; endpoints_list shows them",
                         ref);
    }
    snprintf(id, 40, "%s", PQgetvalue(res, 0, 0));
    if (slug)
        snprintf(slug, slug_cap, "%s", PQgetvalue(res, 0, 1));
    if (name)
        snprintf(name, name_cap, "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    return TM_OK;
}
