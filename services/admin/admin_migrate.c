/*
 * admin_migrate — `3min migrate`: applies the SQL files of deploy/sql
 * (NNN_name.sql) that schema_migrations does not list yet, in numeric order,
 * each in its own transaction together with the row that records it. A
 * session advisory lock serialises concurrent runs (two replicas starting at
 * once), so each file is applied exactly once. Afterwards, if
 * DATABASE_WORKER_PASSWORD (DATABASE_JOBS_PASSWORD) is set, the worker
 * (jobs) role gets that password.
 *
 * Migration files must not contain BEGIN/COMMIT or statements that cannot run
 * inside a transaction (CREATE INDEX CONCURRENTLY).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "services/admin/admin.h"

/* "3min" in ASCII: any fixed number works, as long as only migrate uses it. */
#define MIGRATE_LOCK_KEY "862218606"
#define MIGRATE_FILE_MAX (8u << 20)   /* a migration larger than 8 MiB is a mistake */
#define MIGRATE_MAX_FILES 10000

struct migration {
    char *file;      /* "001_foundation.sql" */
    char *version;   /* "001": the digits before the first '_' */
    long number;
};

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* SQL_DIR, else deploy/sql next to the executable (bin/3min and
 * bin/asan/3min both live in the source tree), else the packaged location. */
static char *find_sql_dir(void)
{
    const char *env = getenv("SQL_DIR");
    if (env != NULL && env[0] != '\0')
        return xstrdup(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *dir = dirname(exe);
        static const char *const rel[] = {"../deploy/sql", "../../deploy/sql"};
        for (size_t i = 0; i < TM_ARRAY_LEN(rel); i++) {
            char *cand = xasprintf("%s/%s", dir, rel[i]);
            if (is_dir(cand))
                return cand;
            free(cand);
        }
    }
    if (is_dir("/usr/share/3min/sql"))
        return xstrdup("/usr/share/3min/sql");
    return NULL;
}

/* NNN_name.sql with NNN decimal digits and a name of [A-Za-z0-9_-]. */
static bool parse_name(const char *name, struct migration *m)
{
    size_t len = strlen(name), digits = 0;
    while (isdigit((unsigned char)name[digits]))
        digits++;
    if (digits == 0 || digits > 9 || name[digits] != '_' || len < digits + 6 ||
        strcmp(name + len - 4, ".sql") != 0)
        return false;
    for (size_t i = digits + 1; i < len - 4; i++) {
        char c = name[i];
        if (!isalnum((unsigned char)c) && c != '_' && c != '-')
            return false;
    }
    m->file = xstrdup(name);
    m->version = xstrndup(name, digits);
    m->number = strtol(m->version, NULL, 10);
    return true;
}

static int by_number(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

static void free_list(struct migration *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].file);
        free(list[i].version);
    }
    free(list);
}

/* Lists the migrations of dir in order; returns the count or -1 (printed). */
static long list_migrations(const char *dir, struct migration **out)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "3min: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct migration *list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct migration m;
        if (!parse_name(e->d_name, &m))
            continue;
        if (n == MIGRATE_MAX_FILES) {
            free(m.file);
            free(m.version);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc(list, cap * sizeof *list);
        }
        list[n++] = m;
    }
    closedir(d);
    qsort(list, n, sizeof *list, by_number);
    /* Two files with the same number would make the order ambiguous and the
     * recorded version name two files: refuse rather than guess. */
    for (size_t i = 1; i < n; i++) {
        if (list[i].number == list[i - 1].number) {
            fprintf(stderr, "3min: %s and %s have the same migration number\n",
                    list[i - 1].file, list[i].file);
            free_list(list, n);
            return -1;
        }
    }
    *out = list;
    return (long)n;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "3min: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = xmalloc(MIGRATE_FILE_MAX + 1);
    size_t n = fread(buf, 1, MIGRATE_FILE_MAX + 1, f);
    bool err = ferror(f);
    fclose(f);
    if (err || n > MIGRATE_FILE_MAX || memchr(buf, '\0', n) != NULL) {
        fprintf(stderr, "3min: %s is unreadable, larger than 8 MiB or contains NUL bytes\n",
                path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static bool simple(PGconn *c, const char *what, const char *sql)
{
    PGresult *r = admin_exec(c, PGRES_COMMAND_OK, what, sql, 0, NULL);
    PQclear(r);
    return r != NULL;
}

/* Applies one file in one transaction with its version row. */
static bool apply_one(PGconn *c, const char *dir, const struct migration *m)
{
    char *path = xasprintf("%s/%s", dir, m->file);
    char *sql = read_file(path);
    free(path);
    if (sql == NULL)
        return false;
    bool ok = simple(c, "BEGIN", "BEGIN");
    if (ok) {
        /* Several statements in one string: PQexec's simple-query protocol
         * allows that (PQexecParams does not). The text is our own file. */
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
            /* libpq's message already names the line of the statement. */
            fprintf(stderr, "3min: %s failed: %s", m->file, PQresultErrorMessage(r));
            ok = false;
        }
        PQclear(r);
    }
    if (ok) {
        const char *params[] = {m->version};
        PGresult *r = admin_exec(c, PGRES_COMMAND_OK, "recording the migration",
                                 "INSERT INTO schema_migrations (version, applied_at) "
                                 "VALUES ($1, now())",
                                 1, params);
        ok = r != NULL;
        PQclear(r);
    }
    if (ok)
        ok = simple(c, "COMMIT", "COMMIT");
    if (!ok)
        PQclear(PQexec(c, "ROLLBACK"));
    free(sql);
    return ok;
}

/* Sets a service role's password (tm_worker, tm_jobs). The role name and
 * password cannot be bind parameters in ALTER ROLE, so the password is
 * hashed here (SCRAM, so the server and its logs never see it in clear) and
 * both are escaped. user_var names the variable that may rename the role. */
static bool set_role_password(PGconn *c, const char *user_var, const char *default_user, const char *password)
{
    const char *user = getenv(user_var);
    if (user == NULL || user[0] == '\0')
        user = default_user;
    char *hashed = PQencryptPasswordConn(c, password, user, NULL);
    if (hashed == NULL) {
        fprintf(stderr, "3min: cannot hash the password of %s: %s", user, PQerrorMessage(c));
        return false;
    }
    char *ident = PQescapeIdentifier(c, user, strlen(user));
    char *lit = PQescapeLiteral(c, hashed, strlen(hashed));
    PQfreemem(hashed);
    bool ok = false;
    if (ident != NULL && lit != NULL) {
        char *sql = xasprintf("ALTER ROLE %s PASSWORD %s", ident, lit);
        ok = simple(c, "setting a service role's password", sql);
        free(sql);
    } else {
        fprintf(stderr, "3min: cannot escape the role %s: %s", user, PQerrorMessage(c));
    }
    PQfreemem(ident);
    PQfreemem(lit);
    if (ok)
        fprintf(stderr, "set the password of role %s\n", user);
    return ok;
}

int admin_migrate(PGconn *c)
{
    char *dir = find_sql_dir();
    if (dir == NULL) {
        fprintf(stderr, "3min: no migration directory found; set SQL_DIR\n");
        return ADMIN_FAIL;
    }
    struct migration *list = NULL;
    long n = list_migrations(dir, &list);
    if (n < 0) {
        free(dir);
        return ADMIN_FAIL;
    }
    int rc = ADMIN_FAIL;
    size_t applied = 0;
    PGresult *done = NULL;
    /* The lock comes before CREATE TABLE IF NOT EXISTS: two sessions creating
     * the same table at once can still collide on the catalog. */
    PGresult *r = admin_exec(c, PGRES_TUPLES_OK, "taking the migration lock",
                             "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL);
    if (r == NULL)
        goto out;
    PQclear(r);
    if (!simple(c, "creating schema_migrations",
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"))
        goto out;
    done = admin_exec(c, PGRES_TUPLES_OK, "reading schema_migrations",
                      "SELECT version FROM schema_migrations", 0, NULL);
    if (done == NULL)
        goto out;
    for (long i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < PQntuples(done) && !seen; j++)
            seen = strcmp(PQgetvalue(done, j, 0), list[i].version) == 0;
        if (seen)
            continue;
        if (!apply_one(c, dir, &list[i]))
            goto out;
        printf("applied %s\n", list[i].file);
        fflush(stdout);
        applied++;
    }
    if (applied == 0)
        printf("schema is up to date (%ld migrations)\n", n);
    const char *pw = getenv("DATABASE_WORKER_PASSWORD");
    if (pw != NULL && pw[0] != '\0' && !set_role_password(c, "DATABASE_WORKER_USER", "tm_worker", pw))
        goto out;
    pw = getenv("DATABASE_JOBS_PASSWORD");
    if (pw != NULL && pw[0] != '\0' && !set_role_password(c, "DATABASE_JOBS_USER", "tm_jobs", pw))
        goto out;
    rc = ADMIN_OK;
out:
    /* Closing the session would release the lock too; unlocking says so. */
    PQclear(PQexec(c, "SELECT pg_advisory_unlock_all()"));
    PQclear(done);
    free_list(list, (size_t)n);
    free(dir);
    return rc;
}
