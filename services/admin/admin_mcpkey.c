/*
 * admin_mcpkey — `3min mcp-key create|list|revoke`: MCP API keys for Claude
 * Code, Cursor and scripts. A key is "tm_mcp_" + base64url(32 random bytes),
 * shown once; the database keeps only SHA-256 of the key text (what the edge
 * computes from the Bearer header) and its first 11 characters for display.
 * The key material is common/mcpkey.c, shared with the dashboard.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mcpkey.h"
#include "common/util.h"
#include "services/admin/admin.h"

/* The account's id for an e-mail (case-insensitive, not deleted), malloc'd;
 * NULL (printed) if there is none. */
static char *account_id(PGconn *c, const char *email)
{
    const char *params[] = {email};
    PGresult *r = admin_exec(c, PGRES_TUPLES_OK, "looking up the account",
                             "SELECT id FROM accounts WHERE lower(email) = lower($1) "
                             "AND deleted_at IS NULL",
                             1, params);
    if (r == NULL)
        return NULL;
    char *id = NULL;
    if (PQntuples(r) == 1)
        id = xstrdup(PQgetvalue(r, 0, 0));
    else
        fprintf(stderr, "3min: no account with the e-mail %s\n", email);
    PQclear(r);
    return id;
}

int admin_mcpkey_create(PGconn *c, const char *email, const char *name, const char *scopes)
{
    uint32_t bits;
    const char *why = admin_parse_scopes(scopes, &bits);
    if (why != NULL) {
        fprintf(stderr, "3min: --scopes: %s\n", why);
        return ADMIN_USAGE;
    }
    char *acct = account_id(c, email);
    if (acct == NULL)
        return ADMIN_FAIL;

    struct mcpkey k;
    mcpkey_new(&k);
    char lit[64];
    admin_scopes_literal(bits, lit, sizeof lit);

    /* The hash travels as a binary parameter: bytea without escaping. */
    const char *params[] = {acct, name, (const char *)k.hash, k.prefix, lit};
    const int lens[] = {0, 0, (int)sizeof k.hash, 0, 0};
    const int fmts[] = {0, 0, 1, 0, 0};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO mcp_api_keys (account_id, name, key_hash, prefix, "
                               "scopes) VALUES ($1, $2, $3, $4, $5::text[]) RETURNING id",
                               5, NULL, params, lens, fmts, 0);
    int rc = ADMIN_FAIL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        fprintf(stderr, "created MCP key %s (%s…) for %s; it is shown only now\n",
                PQgetvalue(r, 0, 0), k.prefix, email);
        printf("%s\n", k.key);
        rc = ADMIN_OK;
    } else {
        fprintf(stderr, "3min: creating the key failed: %s", PQerrorMessage(c));
    }
    PQclear(r);
    mcpkey_wipe(&k);
    free(acct);
    return rc;
}

/* Display width in code points (UTF-8 continuation bytes do not count), so
 * the "…" of the prefixes and non-ASCII names keep the columns aligned. */
static int cell_width(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Names are checked on the way in, but a row written by other means must not
 * be able to drive the operator's terminal: control characters become '?'. */
static void print_cell(const char *s, int width)
{
    int n = cell_width(s);
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7F ? '?' : *s);
    for (; n < width; n++)
        putchar(' ');
}

int admin_mcpkey_list(PGconn *c, const char *email)
{
    char *acct = account_id(c, email);
    if (acct == NULL)
        return ADMIN_FAIL;
    const char *params[] = {acct};
    PGresult *r = admin_exec(
        c, PGRES_TUPLES_OK, "listing the keys",
        "SELECT id::text, name, prefix || '…', array_to_string(scopes, ','),"
        " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || 'Z',"
        " coalesce(to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || 'Z', 'never'),"
        " coalesce(to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || 'Z', 'no')"
        " FROM mcp_api_keys WHERE account_id = $1 ORDER BY created_at, id",
        1, params);
    free(acct);
    if (r == NULL)
        return ADMIN_FAIL;
    static const char *const head[] = {"ID", "NAME", "PREFIX", "SCOPES", "CREATED", "LAST USED",
                                       "REVOKED"};
    enum { NCOL = 7 };
    int width[NCOL];
    for (int k = 0; k < NCOL; k++) {
        width[k] = (int)strlen(head[k]);
        for (int i = 0; i < PQntuples(r); i++)
            if (cell_width(PQgetvalue(r, i, k)) > width[k])
                width[k] = cell_width(PQgetvalue(r, i, k));
    }
    for (int k = 0; k < NCOL; k++)
        print_cell(head[k], k + 1 < NCOL ? width[k] + 2 : 0);
    putchar('\n');
    for (int i = 0; i < PQntuples(r); i++) {
        for (int k = 0; k < NCOL; k++)
            print_cell(PQgetvalue(r, i, k), k + 1 < NCOL ? width[k] + 2 : 0);
        putchar('\n');
    }
    if (PQntuples(r) == 0)
        fprintf(stderr, "%s has no MCP keys\n", email);
    PQclear(r);
    return ADMIN_OK;
}

int admin_mcpkey_revoke(PGconn *c, const char *id)
{
    const char *params[] = {id};
    /* coalesce keeps the first revocation time when revoking twice. */
    PGresult *r = admin_exec(c, PGRES_TUPLES_OK, "revoking the key",
                             "UPDATE mcp_api_keys SET revoked_at = coalesce(revoked_at, now()) "
                             "WHERE id = $1::uuid RETURNING prefix",
                             1, params);
    if (r == NULL)
        return ADMIN_FAIL;
    int rc = ADMIN_OK;
    if (PQntuples(r) == 0) {
        fprintf(stderr, "3min: no MCP key with the id %s\n", id);
        rc = ADMIN_FAIL;
    } else {
        fprintf(stderr, "revoked MCP key %s (%s…)\n", id, PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return rc;
}
