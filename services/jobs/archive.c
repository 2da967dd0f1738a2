/*
 * archive — writes the daily archives of production call logs and deletes
 * old sandbox data (see archive.h).
 *
 * Crash safety: the files of a day are written under temporary names,
 * fsynced and renamed into place before the database learns of them; the
 * archives row, the log rows' archive_id/archive_line and the nulling of
 * their bodies are one transaction. A crash before that commit leaves the
 * rows unarchived, so the next pass rewrites the same files (same rows in
 * the same order) and commits; after the commit the day has no unarchived
 * rows left. UNIQUE (endpoint_id, day) keeps a day from ever being recorded
 * twice, and a session advisory lock keeps two jobs processes from
 * archiving at once.
 *
 * The edge finds a file by archive id through <ARCHIVE_DIR>/by-id/<id>.<ext>,
 * a relative symbolic link made before the commit (an id that never got
 * committed is never signed into a link, so a leftover one is harmless).
 *
 * Rows are streamed (libpq single-row mode): a busy endpoint's day never
 * has to fit in memory.
 */
#include "services/jobs/archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/log.h"
#include "common/util.h"

#define GROUPS_PER_QUERY 200

/* Retention cut-off: the start of the UTC day RETENTION_DAYS before now, so
 * that only whole days are archived. */
#define CUTOFF "(date_trunc('day', (coalesce($1::timestamptz, now()) - make_interval(days => $2::int)) " \
               "AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"

static const char SQL_LOCK[] = "SELECT pg_try_advisory_lock(hashtext('tm_archive_pass'))";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock(hashtext('tm_archive_pass'))";
static const char SQL_DELETE_SANDBOX_LOGS[] =
    "DELETE FROM call_logs WHERE environment = 'sandbox' AND created_at < coalesce($1::timestamptz, now()) - "
    "make_interval(days => $2::int)";
static const char SQL_DELETE_SANDBOX_RECORDS[] =
    "DELETE FROM records WHERE environment = 'sandbox' AND created_at < coalesce($1::timestamptz, now()) - "
    "make_interval(days => $2::int)";
static const char SQL_GROUPS[] =
    "SELECT account_id::text, endpoint_id::text, to_char((created_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS d "
    "FROM call_logs WHERE environment = 'production' AND archive_id IS NULL AND created_at < " CUTOFF " "
    "GROUP BY 1, 2, 3 ORDER BY 3, 2 LIMIT 200";

/* One day of one endpoint: $1 endpoint, $2 day. */
#define DAY_ROWS "FROM call_logs WHERE endpoint_id = $1::uuid AND environment = 'production' AND archive_id IS NULL " \
                 "AND created_at >= ($2::date AT TIME ZONE 'UTC') AND created_at < (($2::date + 1) AT TIME ZONE 'UTC') "
static const char SQL_DAY[] =
    "SELECT id::text, record_id, method, status_code, request_body, request_truncated, response_body, "
    "response_truncated, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
    DAY_ROWS "ORDER BY created_at, id";
static const char SQL_INSERT[] =
    "INSERT INTO archives (id, account_id, endpoint_id, day, record_count, jsonl_path, jsonl_bytes, jsonl_sha256, "
    "csv_path, csv_bytes, csv_sha256) VALUES ($3::uuid, $4::uuid, $1::uuid, $2::date, $5::int, $6, $7::bigint, $8, "
    "$9, $10::bigint, $11) ON CONFLICT (endpoint_id, day) DO NOTHING";
static const char SQL_MARK[] =
    "UPDATE call_logs l SET archive_id = $3::uuid, archive_line = n.line, request_body = NULL, response_body = NULL "
    "FROM (SELECT id, created_at, row_number() OVER (ORDER BY created_at, id) AS line " DAY_ROWS ") n "
    "WHERE l.id = n.id AND l.created_at = n.created_at AND l.endpoint_id = $1::uuid "
    "AND l.created_at >= ($2::date AT TIME ZONE 'UTC') AND l.created_at < (($2::date + 1) AT TIME ZONE 'UTC')";

struct out_file {
    char final[1300], tmp[1340];
    long long bytes;
    char sha256[65];
};

static bool mkdirs(const char *path)
{
    char buf[1200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    return mkdir(buf, 0750) == 0 || errno == EEXIST;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Removes the temporary files of day left in dir by a pass that was killed
 * (they carry that pass's pid, so a rerun never overwrites them). Only one
 * pass runs at a time (the advisory lock), so none of them is in use. */
static void remove_stale_tmp(const char *dir, const char *day)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t n = strlen(day);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, day, n) != 0 || !strstr(de->d_name + n, ".tmp"))
            continue;
        char path[1400];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
}

/* fsyncs the finished temporary file, measures it and hashes it, then renames it into place. */
static bool finish_file(struct out_file *f, const char *dir)
{
    int fd = open(f->tmp, O_RDONLY);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536];
    ssize_t n;
    f->bytes = 0;
    while (ok && (n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            ok = errno == EINTR;
            continue;
        }
        crypto_hash_sha256_update(&st, buf, (size_t)n);
        f->bytes += n;
    }
    close(fd);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(f->sha256, sizeof f->sha256, digest, sizeof digest);
    if (!ok || rename(f->tmp, f->final) != 0)
        return false;
    fsync_dir(dir);
    return true;
}

/* A logged body as it goes into the archive: the JSON value when the whole text parses, else the text. */
static json_t *body_json(const PGresult *res, int col, bool truncated)
{
    if (PQgetisnull(res, 0, col))
        return json_null();
    const char *text = PQgetvalue(res, 0, col);
    if (!truncated) {
        json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
        if (v)
            return v;
    }
    return json_string(text);
}

/* One CSV field, RFC 4180 quoted. */
static bool csv_field(FILE *f, const char *s, bool last)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
    return fputs(last ? "\r\n" : ",", f) >= 0;
}

static void pause_for_tests(void)
{
    /* ARCHIVE_TEST_PAUSE_MS lets the crash test kill the process between files. */
    const char *v = getenv("ARCHIVE_TEST_PAUSE_MS");
    int ms = v ? atoi(v) : 0;
    if (ms > 0 && ms <= 60000) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void new_uuid(char out[37])
{
    uint8_t b[16];
    random_bytes(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Streams the day's rows into the two temporary files. Returns the row count, or -1. */
static long write_rows(struct db *db, const char *ep, const char *day, gzFile gz, FILE *csv)
{
    PGconn *c = db_conn(db);
    const char *p[2] = {ep, day};
    if (!PQsendQueryParams(c, SQL_DAY, 2, NULL, p, NULL, NULL, 0) || !PQsetSingleRowMode(c)) {
        log_warn("archive: query failed: %s", PQerrorMessage(c));
        return -1;
    }
    long count = 0;
    bool ok = true;
    fputs("log_id,record_id,method,status_code,payload,response,created_at\r\n", csv);
    PGresult *res;
    while ((res = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && ok) {
            json_t *payload = body_json(res, 4, PQgetvalue(res, 0, 5)[0] == 't');
            json_t *response = body_json(res, 6, PQgetvalue(res, 0, 7)[0] == 't');
            json_t *line = json_pack("{s:s, s:o, s:s, s:i, s:o, s:o, s:s}", "log_id", PQgetvalue(res, 0, 0),
                                     "record_id", PQgetisnull(res, 0, 1) ? json_null() : json_string(PQgetvalue(res, 0, 1)),
                                     "method", PQgetvalue(res, 0, 2), "status_code", atoi(PQgetvalue(res, 0, 3)),
                                     "payload", payload, "response", response, "created_at", PQgetvalue(res, 0, 8));
            char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
            if (!text) {
                ok = false;
            } else {
                size_t n = strlen(text);
                if (gzwrite(gz, text, (unsigned)n) != (int)n || gzputc(gz, '\n') != '\n')
                    ok = false;
                char *pj = json_dumps(json_object_get(line, "payload"), JSON_COMPACT | JSON_ENCODE_ANY);
                char *rj = json_dumps(json_object_get(line, "response"), JSON_COMPACT | JSON_ENCODE_ANY);
                ok = ok && csv_field(csv, PQgetvalue(res, 0, 0), false) && csv_field(csv, PQgetvalue(res, 0, 1), false) &&
                     csv_field(csv, PQgetvalue(res, 0, 2), false) && csv_field(csv, PQgetvalue(res, 0, 3), false) &&
                     csv_field(csv, pj ? pj : "null", false) && csv_field(csv, rj ? rj : "null", false) &&
                     csv_field(csv, PQgetvalue(res, 0, 8), true);
                free(pj);
                free(rj);
                count++;
            }
            free(text);
            json_decref(line);
        } else if (st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE) {
            log_warn("archive: reading the day failed: %s", PQresultErrorMessage(res));
            ok = false;
        }
        PQclear(res);
    }
    return ok ? count : -1;
}

static bool q_ok(PGresult *res, ExecStatusType want)
{
    bool ok = res && PQresultStatus(res) == want;
    if (res && !ok)
        log_warn("archive: %s", PQresultErrorMessage(res));
    return ok;
}

/* Archives one endpoint's day. Returns 1 when archived, 0 when there was nothing (left) to do, -1 on failure. */
static int archive_day(struct db *db, const struct config *cfg, const char *acct, const char *ep, const char *day)
{
    char dir[1100], byid[1100], rel_jsonl[200], rel_csv[200];
    snprintf(dir, sizeof dir, "%s/%s/%s", cfg->archive_dir, acct, ep);
    snprintf(byid, sizeof byid, "%s/by-id", cfg->archive_dir);
    if (!mkdirs(dir) || !mkdirs(byid)) {
        log_warn("archive: cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(rel_jsonl, sizeof rel_jsonl, "%s/%s/%s.jsonl.gz", acct, ep, day);
    snprintf(rel_csv, sizeof rel_csv, "%s/%s/%s.csv", acct, ep, day);
    struct out_file fj = {0}, fc = {0};
    snprintf(fj.final, sizeof fj.final, "%s/%s", cfg->archive_dir, rel_jsonl);
    snprintf(fc.final, sizeof fc.final, "%s/%s", cfg->archive_dir, rel_csv);
    snprintf(fj.tmp, sizeof fj.tmp, "%s.tmp%ld", fj.final, (long)getpid());
    snprintf(fc.tmp, sizeof fc.tmp, "%s.tmp%ld", fc.final, (long)getpid());

    remove_stale_tmp(dir, day);
    gzFile gz = gzopen(fj.tmp, "wb6");
    FILE *csv = fopen(fc.tmp, "w");
    if (!gz || !csv) {
        log_warn("archive: cannot create the files of %s %s: %s", ep, day, strerror(errno));
        if (gz)
            gzclose(gz);
        if (csv)
            fclose(csv);
        unlink(fj.tmp);
        unlink(fc.tmp);
        return -1;
    }
    long count = write_rows(db, ep, day, gz, csv);
    bool closed = gzclose(gz) == Z_OK;
    closed = (fclose(csv) == 0) && closed;
    if (count <= 0 || !closed) {
        unlink(fj.tmp);
        unlink(fc.tmp);
        return count == 0 && closed ? 0 : -1;
    }
    if (!finish_file(&fj, dir)) {
        log_warn("archive: cannot finish %s: %s", fj.final, strerror(errno));
        unlink(fc.tmp);
        return -1;
    }
    pause_for_tests();
    if (!finish_file(&fc, dir)) {
        log_warn("archive: cannot finish %s: %s", fc.final, strerror(errno));
        return -1;
    }

    char id[37], link_j[1200], link_c[1200], target[300];
    new_uuid(id);
    snprintf(link_j, sizeof link_j, "%s/%s.jsonl.gz", byid, id);
    snprintf(link_c, sizeof link_c, "%s/%s.csv", byid, id);
    snprintf(target, sizeof target, "../%s", rel_jsonl);
    bool linked = symlink(target, link_j) == 0;
    snprintf(target, sizeof target, "../%s", rel_csv);
    linked = linked && symlink(target, link_c) == 0;
    fsync_dir(byid);
    if (!linked) {
        log_warn("archive: cannot link %s: %s", id, strerror(errno));
        unlink(link_j);
        return -1;
    }
    pause_for_tests();

    char count_s[24], jb[24], cb[24];
    snprintf(count_s, sizeof count_s, "%ld", count);
    snprintf(jb, sizeof jb, "%lld", fj.bytes);
    snprintf(cb, sizeof cb, "%lld", fc.bytes);
    const char *p[11] = {ep, day, id, acct, count_s, rel_jsonl, jb, fj.sha256, rel_csv, cb, fc.sha256};
    if (!db_exec(db, "BEGIN"))
        return -1;
    PGresult *res = db_query(db, SQL_INSERT, 11, p);
    bool ok = q_ok(res, PGRES_COMMAND_OK) && atol(PQcmdTuples(res)) == 1;
    PQclear(res);
    if (ok) {
        res = db_query(db, SQL_MARK, 3, p);
        ok = q_ok(res, PGRES_COMMAND_OK) && atol(PQcmdTuples(res)) == count;
        if (res && PQresultStatus(res) == PGRES_COMMAND_OK && !ok)
            log_warn("archive: %s %s changed while being archived; trying again next pass", ep, day);
        PQclear(res);
    }
    if (!ok || !db_exec(db, "COMMIT")) {
        db_exec(db, "ROLLBACK");
        unlink(link_j);
        unlink(link_c);
        return -1;
    }
    log_info("archived %ld call logs of endpoint %s on %s as %s (%lld + %lld bytes)", count, ep, day, id, fj.bytes,
             fc.bytes);
    return 1;
}

int archive_pass(struct db *db, const struct config *cfg, const char *now_iso, const atomic_bool *stop)
{
    char days[16];
    snprintf(days, sizeof days, "%d", cfg->retention_days);
    const char *p[2] = {now_iso, days};

    PGresult *res = db_query(db, SQL_LOCK, 0, NULL);
    bool mine = q_ok(res, PGRES_TUPLES_OK) && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!mine)
        return 0;   /* another jobs process is archiving */

    int written = 0;
    bool failed = false;
    res = db_query(db, SQL_DELETE_SANDBOX_LOGS, 2, p);
    failed |= !q_ok(res, PGRES_COMMAND_OK);
    if (!failed && atol(PQcmdTuples(res)) > 0)
        log_info("deleted %s sandbox call logs older than %d days", PQcmdTuples(res), cfg->retention_days);
    PQclear(res);
    res = db_query(db, SQL_DELETE_SANDBOX_RECORDS, 2, p);
    failed |= !q_ok(res, PGRES_COMMAND_OK);
    if (!failed && atol(PQcmdTuples(res)) > 0)
        log_info("deleted %s sandbox records older than %d days", PQcmdTuples(res), cfg->retention_days);
    PQclear(res);

    while (!failed && !atomic_load(stop)) {
        res = db_query(db, SQL_GROUPS, 2, p);
        if (!q_ok(res, PGRES_TUPLES_OK)) {
            PQclear(res);
            failed = true;
            break;
        }
        int n = PQntuples(res), done = 0;
        for (int i = 0; i < n && !atomic_load(stop); i++) {
            int r = archive_day(db, cfg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
            if (r < 0)
                failed = true;
            else
                done += r;
        }
        PQclear(res);
        written += done;
        /* A page where nothing could be archived would come back the same: stop until the next pass. */
        if (n < GROUPS_PER_QUERY || done == 0)
            break;
    }
    PQclear(db_query(db, SQL_UNLOCK, 0, NULL));
    return failed ? -1 : written;
}
