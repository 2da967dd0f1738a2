/*
 * db — one PostgreSQL connection owned by one thread (see db.h).
 *
 * The connection parameters are DATABASE_URL with the user and password
 * replaced by the worker role's, so the worker never runs as the owner and
 * row-level security applies to every query. Statements are prepared lazily:
 * the first db_query() of an SQL text prepares it under a generated name and
 * later calls only execute it, which saves the parse and plan per request.
 * The cache is keyed by the string's address (callers pass literals) and is
 * dropped with the connection, because prepared statements live in the
 * server session.
 *
 * db_set_session_account() remembers which account the session's
 * app.account_id holds, so that a run of single-statement reads for one
 * account costs one round trip each; the memory goes with the connection.
 *
 * A lost connection is noticed after a failed call (PQstatus is
 * CONNECTION_BAD) and re-opened by the next db_ensure(). Failed attempts back
 * off (100 ms doubling to 2 s) so that a dead database costs one quick
 * `unavailable` answer per request, not a connect storm; once any connection
 * of the process gets through again, the others stop waiting out theirs.
 */
#include "common/db.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#define DB_BACKOFF_MIN_MS 100
#define DB_BACKOFF_MAX_MS 2000

static _Atomic int64_t last_connect_ok;   /* mono_ms() of the last connection any thread opened */

struct db_prepared {
    const char *sql;   /* key: the caller's string literal */
    char name[24];
};

struct db {
    const struct config *cfg;
    const char *app_name;
    int idle_txn_timeout_ms;
    PGconn *conn;
    bool ever_connected;
    int64_t next_attempt_ms;  /* mono_ms() before which we do not retry */
    int64_t failed_at;        /* mono_ms() of the last failed attempt */
    int backoff_ms;
    struct db_prepared *prep;
    size_t nprep, capprep;
    unsigned long prep_seq;
    char session_account[64];   /* app.account_id set for the session; "" = unknown */
    bool session_dirty;         /* the session may carry an app.account_id */
};

struct db *db_new(const struct config *cfg)
{
    struct db *db = xcalloc(1, sizeof *db);
    db->cfg = cfg;
    db->app_name = "worker";
    db->backoff_ms = DB_BACKOFF_MIN_MS;
    return db;
}

void db_set_application_name(struct db *db, const char *name)
{
    db->app_name = name;
}

void db_set_idle_txn_timeout(struct db *db, int ms)
{
    db->idle_txn_timeout_ms = ms;
}

static void db_drop(struct db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
    db->nprep = 0;   /* the server forgot them with the session */
    db->session_account[0] = '\0';
    db->session_dirty = false;
}

void db_free(struct db *db)
{
    if (!db)
        return;
    db_drop(db);
    free(db->prep);
    free(db);
}

/* Opens a connection as the worker role. Returns NULL (logged) on failure. */
static PGconn *db_connect(const struct config *cfg, const char *app_name, int idle_txn_timeout_ms)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(cfg->database_url, &perr);
    if (!opts) {
        /* The message names the syntax problem, never the URL itself. */
        log_error("DATABASE_URL is not valid: %s", perr ? perr : "out of memory");
        PQfreemem(perr);
        return NULL;
    }

    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        n++;
    const char **keys = xcalloc(n + 8, sizeof *keys);
    const char **vals = xcalloc(n + 8, sizeof *vals);
    size_t k = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        /* These are ours to decide, whatever the URL says. */
        if (!strcmp(o->keyword, "user") || !strcmp(o->keyword, "password") ||
            !strcmp(o->keyword, "application_name") || !strcmp(o->keyword, "connect_timeout") ||
            !strcmp(o->keyword, "options"))
            continue;
        keys[k] = o->keyword;
        vals[k] = o->val;
        k++;
    }
    char options[128];
    int olen = snprintf(options, sizeof options, "-c statement_timeout=%d", cfg->statement_timeout_ms);
    if (idle_txn_timeout_ms > 0)
        snprintf(options + olen, sizeof options - (size_t)olen, " -c idle_in_transaction_session_timeout=%d",
                 idle_txn_timeout_ms);
    keys[k] = "user", vals[k] = cfg->worker_db_user, k++;
    if (cfg->worker_db_password[0])
        keys[k] = "password", vals[k] = cfg->worker_db_password, k++;
    keys[k] = "application_name", vals[k] = app_name, k++;
    keys[k] = "connect_timeout", vals[k] = "5", k++;
    keys[k] = "options", vals[k] = options, k++;
    keys[k] = NULL, vals[k] = NULL;

    PGconn *conn = PQconnectdbParams(keys, vals, 0);
    free(keys);
    free(vals);
    PQconninfoFree(opts);

    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
        size_t len = strlen(msg);
        while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
            len--;
        log_error("database connection failed: %.*s", (int)len, msg);
        if (conn)
            PQfinish(conn);
        return NULL;
    }
    return conn;
}

bool db_ensure(struct db *db)
{
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
        return true;
    if (db->conn) {
        log_warn("database connection lost; reconnecting");
        db_drop(db);
        db->next_attempt_ms = 0;   /* the first reconnect is immediate */
    }
    int64_t now = mono_ms();
    /* Another connection of this process got through since our last failure:
     * the server is back, so waiting out the backoff would only turn
     * requests away. */
    if (now < db->next_attempt_ms && atomic_load(&last_connect_ok) < db->failed_at)
        return false;

    db->conn = db_connect(db->cfg, db->app_name, db->idle_txn_timeout_ms);
    if (!db->conn) {
        db->failed_at = mono_ms();
        db->next_attempt_ms = now + db->backoff_ms;
        db->backoff_ms = db->backoff_ms * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS : db->backoff_ms * 2;
        return false;
    }
    log_info("database %s as %s (server %d)", db->ever_connected ? "reconnected" : "connected",
             db->cfg->worker_db_user, PQserverVersion(db->conn));
    db->ever_connected = true;
    atomic_store(&last_connect_ok, mono_ms());
    db->backoff_ms = DB_BACKOFF_MIN_MS;
    db->next_attempt_ms = 0;
    return true;
}

PGconn *db_conn(struct db *db)
{
    return db->conn;
}

bool db_broken(struct db *db)
{
    return !db->conn || PQstatus(db->conn) != CONNECTION_OK;
}

static const char *db_prepared_name(struct db *db, const char *sql)
{
    for (size_t i = 0; i < db->nprep; i++)
        if (db->prep[i].sql == sql)
            return db->prep[i].name;
    return NULL;
}

PGresult *db_query(struct db *db, const char *sql, int nparams, const char *const *params)
{
    if (db_broken(db))
        return NULL;

    const char *name = db_prepared_name(db, sql);
    if (!name) {
        if (db->nprep == db->capprep) {
            db->capprep = db->capprep ? db->capprep * 2 : 32;
            db->prep = xrealloc(db->prep, db->capprep * sizeof *db->prep);
        }
        struct db_prepared *p = &db->prep[db->nprep];
        snprintf(p->name, sizeof p->name, "s%lu", ++db->prep_seq);
        PGresult *res = PQprepare(db->conn, p->name, sql, nparams, NULL);
        if (!res || db_broken(db)) {
            PQclear(res);
            return NULL;
        }
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            return res;   /* a statement error (or an aborted transaction): not cached */
        PQclear(res);
        p->sql = sql;
        db->nprep++;
        name = p->name;
    }

    PGresult *res = PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
    if (!res || db_broken(db)) {
        PQclear(res);
        return NULL;
    }
    return res;
}

bool db_exec(struct db *db, const char *sql)
{
    if (db_broken(db))
        return false;
    PGresult *res = PQexec(db->conn, sql);
    bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok && res && !db_broken(db))
        log_error("database: %s failed: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

static const char SQL_SET_SESSION_ACCOUNT[] = "SELECT set_config('app.account_id', $1, false)";

bool db_set_session_account(struct db *db, const char *account_id, PGresult **err)
{
    *err = NULL;
    if (db_broken(db))
        return false;
    /* Inside a transaction block a rollback would undo the setting behind our back. */
    if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
        return false;
    if (db->session_account[0] && !strcmp(db->session_account, account_id))
        return true;
    db->session_account[0] = '\0';
    db->session_dirty = true;
    const char *p[1] = {account_id};
    PGresult *res = db_query(db, SQL_SET_SESSION_ACCOUNT, 1, p);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = res;
        return false;
    }
    PQclear(res);
    if (strlen(account_id) < sizeof db->session_account)
        strcpy(db->session_account, account_id);
    return true;
}

bool db_clear_session_account(struct db *db)
{
    if (!db->session_dirty || !db->conn)
        return true;
    if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
        db_exec(db, "ROLLBACK");
    if (!db_exec(db, "SET app.account_id = ''")) {
        db_drop(db);   /* a new session starts without it */
        return false;
    }
    db->session_account[0] = '\0';
    db->session_dirty = false;
    return true;
}
