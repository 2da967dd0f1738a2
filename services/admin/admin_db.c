/*
 * admin_db — the connection of `3min` to PostgreSQL and the one helper every
 * command uses to run a parameterised statement and report failures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/admin/admin.h"

PGconn *admin_connect(void)
{
    const char *url = getenv("DATABASE_URL");
    if (url == NULL || url[0] == '\0') {
        fprintf(stderr, "3min: DATABASE_URL is not set; it must name the database and its "
                        "owner role, e.g. postgresql://tm_owner@localhost/threemin\n");
        return NULL;
    }
    /* expand_dbname makes libpq read the URL (or key=value string) given as
     * dbname; application_name lets the operator tell us apart in
     * pg_stat_activity. */
    const char *const keys[] = {"dbname", "application_name", NULL};
    const char *const vals[] = {url, "3min", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "3min: cannot connect to DATABASE_URL: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    /* Idempotent DDL (CREATE ... IF NOT EXISTS) talks in NOTICEs; the
     * operator only needs warnings and errors. */
    PGresult *r = PQexec(c, "SET client_min_messages = warning");
    PQclear(r);
    return c;
}

PGresult *admin_exec(PGconn *c, ExecStatusType want, const char *what, const char *sql,
                     int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == want)
        return r;
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    fprintf(stderr, "3min: %s failed: %s\n", what,
            msg != NULL ? msg : PQerrorMessage(c));
    PQclear(r);
    return NULL;
}

const char *admin_sqlstate(const PGresult *r)
{
    const char *s = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s != NULL ? s : "";
}
