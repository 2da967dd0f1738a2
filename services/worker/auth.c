/*
 * auth — operations the edge needs before it knows the account (op `auth`).
 *
 * auth.resolve_mcp_key {key_hash: 64 hex} -> {account_id, key_id, name, scopes}
 * The edge hashes the presented tm_mcp_ key; only the hash travels and is
 * looked up, through the SECURITY DEFINER function resolve_mcp_key (the worker
 * role cannot read other accounts' keys). A revoked, unknown or orphaned key
 * is not_found: the edge answers 401 without saying which.
 */
#include <ctype.h>
#include <string.h>

#include "services/worker/dispatch.h"

static const char SQL_RESOLVE[] =
    "SELECT key_id::text, account_id::text, name, array_to_json(scopes)::text "
    "FROM resolve_mcp_key($1::bytea)";

enum tm_error auth_resolve_mcp_key(struct tool_ctx *ctx, const json_t *args, json_t **result)
{
    const char *hash = json_string_value(json_object_get(args, "key_hash"));
    if (!hash || strlen(hash) != 64)
        return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "key_hash must be 64 hex characters");
    char param[2 + 64 + 1] = "\\x";
    for (size_t i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)hash[i]))
            return tool_fail(ctx, TM_ERR_INVALID_ARGUMENT, NULL, "key_hash must be 64 hex characters");
        param[2 + i] = (char)tolower((unsigned char)hash[i]);
    }
    param[66] = '\0';

    const char *p[1] = {param};
    PGresult *res = db_query(ctx->db, SQL_RESOLVE, 1, p);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return tool_db_fail(ctx, res);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return tool_fail(ctx, TM_ERR_NOT_FOUND, NULL, "no such key");
    }
    json_error_t jerr;
    json_t *scopes = json_loads(PQgetvalue(res, 0, 3), 0, &jerr);
    if (!json_is_array(scopes)) {
        json_decref(scopes);
        scopes = json_array();
    }
    *result = json_pack("{s:s, s:s, s:s, s:o}", "account_id", PQgetvalue(res, 0, 1), "key_id",
                        PQgetvalue(res, 0, 0), "name", PQgetvalue(res, 0, 2), "scopes", scopes);
    PQclear(res);
    return TM_OK;
}
