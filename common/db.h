/*
 * db — one PostgreSQL connection owned by one thread (of a worker or of
 * bin/jobs). Connects as the worker role (DATABASE_URL with the user replaced by DATABASE_WORKER_USER),
 * so row-level security applies. Every statement is parameterised; each SQL
 * text is prepared once per connection on first use (keyed by the string's
 * address, so pass string literals) and re-prepared after a reconnect.
 * A lost connection is re-established on the next call (db_ensure).
 */
#ifndef TM_DB_H
#define TM_DB_H

#include <stdbool.h>
/* Spelled with its directory so that every library can include this header
 * without libpq's pkg-config include flags (libpq-fe.h finds its own
 * neighbours by quoted includes). */
#include <postgresql/libpq-fe.h>
#include "common/config.h"

struct db;

struct db *db_new(const struct config *cfg);   /* does not connect yet */

/* The application_name the connection shows in pg_stat_activity ("worker"
 * unless set); call before the first db_ensure. name must outlive db. */
void db_set_application_name(struct db *db, const char *name);

/* idle_in_transaction_session_timeout of the connection (0 = the server's
 * default), set before the first db_ensure. The worker sets it so that a
 * worker frozen inside a transaction (SIGSTOP, a frozen host) loses its
 * session and its row locks, and the request sent again to another worker
 * is not blocked behind them. */
void db_set_idle_txn_timeout(struct db *db, int ms);
void db_free(struct db *db);

/* Connects if needed; returns false (and logs) when PostgreSQL is unreachable. */
bool db_ensure(struct db *db);
PGconn *db_conn(struct db *db);

/* Runs a parameterised statement (text params, NULL = SQL NULL, text results).
 * Returns the result (caller PQclear()s it) or NULL on a connection failure.
 * A statement error returns its PGresult with a non-OK status. */
PGresult *db_query(struct db *db, const char *sql, int nparams, const char *const *params);

/* Simple statements without parameters (BEGIN, COMMIT, ROLLBACK). Returns true if OK. */
bool db_exec(struct db *db, const char *sql);

/* Sets app.account_id (row-level security) for the session rather than a
 * transaction, for statements that run outside a transaction block. The
 * round trip is skipped while the connection already carries this account.
 * Must be called outside a transaction block (returns false otherwise). On a
 * statement error returns false with the result in *err (caller PQclear()s
 * it); on a lost connection returns false with *err NULL. */
bool db_set_session_account(struct db *db, const char *account_id, PGresult **err);

/* Clears a session-level app.account_id left by db_set_session_account, so
 * that work for no account (auth operations) can never see a previous
 * caller's rows. No round trip when none was set. Returns false if the
 * statement failed (the connection is then dropped, which clears it too). */
bool db_clear_session_account(struct db *db);

/* True if the last failure lost the connection (the caller answers `unavailable`). */
bool db_broken(struct db *db);

#endif
