/*
 * admin — the operator's command `3min`: schema migrations, accounts and MCP
 * API keys, run against PostgreSQL as the owner role (the user of
 * DATABASE_URL, which owns the tables and so is not subject to their
 * row-level security policies).
 *
 * Interface:
 *   admin_valid.c   pure checks of what the operator typed (e-mail, password,
 *                   plan, key name, scopes, uuid); unit-tested
 *   admin_db.c      connecting and small libpq helpers
 *   admin_migrate.c `3min migrate`
 *   admin_account.c `3min account create`
 *   admin_plan.c    `3min account plan` (the subscription's plan)
 *   admin_mcpkey.c  `3min mcp-key create|list|revoke`
 *   admin_keys.c    `3min keys init|rotate` (OAuth signing key; no database)
 *   admin_endpoint.c `3min endpoint keys` (an endpoint's full keys and webhook secrets)
 *   main.c          argument parsing and dispatch
 *
 * Every command returns an exit status: ADMIN_OK, ADMIN_FAIL (the operation
 * failed: database error, duplicate, unknown id) or ADMIN_USAGE (the command
 * line itself is wrong). Messages for the operator go to stderr; stdout
 * carries only the result (an id, a key, a table), so scripts can capture it.
 */
#ifndef TM_ADMIN_H
#define TM_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

enum { ADMIN_OK = 0, ADMIN_FAIL = 1, ADMIN_USAGE = 2 };

/* ---- admin_valid.c: each returns NULL if valid, else why not (static text). */
#define ADMIN_EMAIL_MAX 254
#define ADMIN_PASSWORD_MIN 10      /* characters (UTF-8 code points) */
#define ADMIN_PASSWORD_MAX 1024    /* bytes: bounds the hashing work */
#define ADMIN_KEY_NAME_MAX 64      /* characters */

const char *admin_check_email(const char *email);
const char *admin_check_password(const char *password);
const char *admin_check_plan(const char *plan);
const char *admin_check_key_name(const char *name);
const char *admin_check_uuid(const char *s);

/* Parses "read,write,execute" (commas and/or spaces, any order) into
 * SCOPE_* bits (proto/envelope.h); fails on an unknown scope or an empty
 * list. */
const char *admin_parse_scopes(const char *s, uint32_t *bits);
/* Writes the PostgreSQL array literal for the bits, e.g. "{read,write}". */
void admin_scopes_literal(uint32_t bits, char *out, size_t cap);

/* MCP key material (tag, length, hash, prefix): common/mcpkey.h. */

/* ---- admin_db.c */
/* Connects to DATABASE_URL; on failure prints why and returns NULL. */
PGconn *admin_connect(void);
/* Runs a parameterised statement (text parameters, text results). Returns the
 * result if its status is `want`; otherwise prints `what` and the server's
 * message, frees the result and returns NULL. */
PGresult *admin_exec(PGconn *c, ExecStatusType want, const char *what, const char *sql,
                     int nparams, const char *const *params);
/* The SQLSTATE of a failed result, or "" (never NULL). */
const char *admin_sqlstate(const PGresult *r);

/* ---- the commands, with arguments already checked for presence by main.c. */
int admin_migrate(PGconn *c);
int admin_account_create(PGconn *c, const char *email, const char *password, const char *plan);
/* `3min account plan`: sets the account's plan (admin_plan.c); prints it. */
int admin_account_plan(PGconn *c, const char *email, const char *plan);
int admin_mcpkey_create(PGconn *c, const char *email, const char *name, const char *scopes);
int admin_mcpkey_list(PGconn *c, const char *email);
int admin_mcpkey_revoke(PGconn *c, const char *id);

/* `3min endpoint keys`: prints the endpoint's full owner keys and webhook
 * signing secrets, decrypted with KEYS_SECRET_FILE. */
int admin_endpoint_keys(PGconn *c, const char *email, const char *slug);

/* `3min keys rotate` (rotate) or `3min keys init`: prints the kid of the key
 * now in SIGNING_KEY_FILE. */
int admin_keys(bool rotate);

#endif
