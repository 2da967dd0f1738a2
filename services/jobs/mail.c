/*
 * mail — notification e-mails over SMTP (mail.h).
 *
 * Choices:
 * - Plain SMTP to the relay the operator configured (RFC 5321: EHLO, AUTH
 *   PLAIN when SMTP_URL carries a user, MAIL FROM, RCPT TO, DATA, QUIT).
 *   The relay is trusted configuration, so it may be on a private address;
 *   the SSRF guard is for user-supplied targets (webhooks).
 * - One connection per message: notifications are rare (cool-downs), and a
 *   fresh session cannot carry a half-finished transaction over.
 * - The body is sent as 8bit UTF-8 text; BODY=8BITMIME is declared when the
 *   relay advertises it. Headers that are not ASCII are RFC 2047 words.
 * - A claimed row carries a lease (locked_at) like webhook deliveries; the
 *   SMTP session runs with no transaction open.
 */
#include "services/jobs/mail.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "common/log.h"
#include "common/outbound.h"
#include "common/strbuf.h"
#include "common/util.h"

#define REPLY_MAX 8192

/* ---- pure parts ----------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into out; false if malformed or too long or it
 * would hold a NUL or control character. */
static bool pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return false;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return false;
            c = h * 16 + l;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || o + 1 >= cap)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

bool smtp_url_parse(const char *url, struct smtp_url *out, char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (!url || strncmp(url, "smtp://", 7)) {
        snprintf(why, cap, "SMTP_URL must start with smtp://");
        return false;
    }
    const char *p = url + 7;
    size_t alen = strcspn(p, "/?#");
    if (p[alen] == '/' && p[alen + 1] != '\0') {
        snprintf(why, cap, "SMTP_URL must not have a path");
        return false;
    }
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (p[i] == '@')
            at = p + i;   /* the last one: a password may not hold a raw @, but be lenient */
    const char *hp = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (ul == 0 || !pct_decode(p, ul, out->user, sizeof out->user) ||
            (colon && !pct_decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password))) {
            snprintf(why, cap, "SMTP_URL's user or password is not valid");
            return false;
        }
        hp = at + 1;
    }
    size_t hl = (size_t)(p + alen - hp);
    const char *hend;
    if (hl && *hp == '[') {
        const char *rb = memchr(hp, ']', hl);
        if (!rb || (size_t)(rb - hp - 1) >= sizeof out->host || rb == hp + 1) {
            snprintf(why, cap, "SMTP_URL's host is not valid");
            return false;
        }
        memcpy(out->host, hp + 1, (size_t)(rb - hp - 1));
        hend = rb + 1;
    } else {
        const char *c = memchr(hp, ':', hl);
        hend = c ? c : hp + hl;
        size_t n = (size_t)(hend - hp);
        if (n == 0 || n >= sizeof out->host) {
            snprintf(why, cap, "SMTP_URL's host is not valid");
            return false;
        }
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)hp[i]) && hp[i] != '.' && hp[i] != '-') {
                snprintf(why, cap, "SMTP_URL's host is not valid");
                return false;
            }
        memcpy(out->host, hp, n);
    }
    strcpy(out->port, "25");
    if (hend < p + alen) {
        if (*hend != ':') {
            snprintf(why, cap, "SMTP_URL's host is not valid");
            return false;
        }
        char num[8];
        size_t dl = (size_t)(p + alen - hend - 1);
        long long v;
        if (dl == 0 || dl > 5)
            v = 0;
        else {
            memcpy(num, hend + 1, dl);
            num[dl] = '\0';
            if (!parse_int(num, 1, 65535, &v))
                v = 0;
        }
        if (v == 0) {
            snprintf(why, cap, "SMTP_URL's port is not valid");
            return false;
        }
        snprintf(out->port, sizeof out->port, "%lld", v);
    }
    return true;
}

bool mail_address_ok(const char *s)
{
    size_t n = s ? strnlen(s, 255) : 0;
    if (n == 0 || n > 254)
        return false;
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("<>\"\\(),;:[]", *p))
            return false;
    return true;
}

bool mail_address_of(const char *from, char *out, size_t cap)
{
    const char *lt = strrchr(from, '<');
    const char *s = from;
    size_t n = strlen(from);
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt)
            return false;
        s = lt + 1;
        n = (size_t)(gt - s);
    }
    if (n + 1 > cap)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return mail_address_ok(out);
}

int mail_backoff_s(int attempts)
{
    int s = 30;
    for (int i = 1; i < attempts && s < 3600; i++)
        s *= 2;
    return s > 3600 ? 3600 : s;
}

char *mail_dot_stuff(const char *body)
{
    struct strbuf b;
    sb_init(&b, strlen(body) + 64);
    bool line_start = true;
    for (const char *p = body; *p; p++) {
        if (line_start && *p == '.')
            sb_append(&b, ".", 1);
        line_start = false;
        if (*p == '\r' || *p == '\n') {
            if (*p == '\r' && p[1] == '\n')
                p++;
            sb_append(&b, "\r\n", 2);
            line_start = true;
        } else {
            sb_append(&b, p, 1);
        }
    }
    if (!line_start)
        sb_append(&b, "\r\n", 2);
    return sb_take(&b, NULL);
}

char *mail_header_text(const char *s)
{
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x7f)
            ascii = false;
    char *flat = xstrdup(s);
    for (char *p = flat; *p; p++)
        if (*p == '\r' || *p == '\n' || (*p > 0 && *p < 0x20))
            *p = ' ';
    if (ascii)
        return flat;
    size_t n = strlen(flat);
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = xmalloc(cap);
    sodium_bin2base64(b64, cap, (const unsigned char *)flat, n, sodium_base64_VARIANT_ORIGINAL);
    char *out = xasprintf("=?UTF-8?B?%s?=", b64);
    free(b64);
    free(flat);
    return out;
}

char *mail_build_message(const char *from, const char *to, const char *subject, const char *body,
                         int64_t date_unix, const char *msg_id_token)
{
    char date[64];
    time_t t = (time_t)date_unix;
    struct tm tm;
    gmtime_r(&t, &tm);
    /* RFC 5322 date in English regardless of the locale. */
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    char addr[256];
    const char *domain = "localhost";
    if (mail_address_of(from, addr, sizeof addr))
        domain = strchr(addr, '@') + 1;
    char *from_h = mail_header_text(from);
    char *subj_h = mail_header_text(subject);
    char *text = mail_dot_stuff(body);
    char *msg = xasprintf("Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@%s>\r\n"
                          "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Content-Transfer-Encoding: 8bit\r\n\r\n%s",
                          date, from_h, to, subj_h, msg_id_token, domain, text);
    free(from_h);
    free(subj_h);
    free(text);
    return msg;
}

/* ---- the SMTP session ----------------------------------------------------- */

struct smtp {
    struct outbound_conn c;
    int64_t deadline;
    char buf[REPLY_MAX];
    size_t len;
    char last[REPLY_MAX];   /* the last reply's text, for messages */
    bool eightbit;
};

/* Reads one reply (its continuation lines included); returns its code or -1. */
static int smtp_reply(struct smtp *s)
{
    s->last[0] = '\0';
    size_t lastlen = 0;
    for (;;) {
        char *nl = memchr(s->buf, '\n', s->len);
        if (!nl) {
            if (s->len == sizeof s->buf)
                return -1;
            ssize_t r = outbound_read(&s->c, s->buf + s->len, sizeof s->buf - s->len, s->deadline);
            if (r <= 0)
                return -1;
            s->len += (size_t)r;
            continue;
        }
        size_t ll = (size_t)(nl - s->buf) + 1;
        char line[REPLY_MAX];
        memcpy(line, s->buf, ll);
        line[ll] = '\0';
        memmove(s->buf, nl + 1, s->len - ll);
        s->len -= ll;
        if (ll < 4 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
            !isdigit((unsigned char)line[2]) || (line[3] != ' ' && line[3] != '-' && line[3] != '\r' && line[3] != '\n'))
            return -1;
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncasecmp(line + 4, "8BITMIME", 8))
            s->eightbit = true;
        size_t n = strlen(line);
        if (lastlen + n + 2 < sizeof s->last) {
            if (lastlen)
                s->last[lastlen++] = ' ';
            memcpy(s->last + lastlen, line, n + 1);
            lastlen += n;
        }
        if (line[3] != '-')
            return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    }
}

/* Sends a command line (CRLF added) and reads the reply; true if its code
 * is one of want1/want2. why names the step. */
static bool smtp_cmd(struct smtp *s, const char *line, const char *step, int want1, int want2, char *why, size_t cap)
{
    if (line) {
        char *l = xasprintf("%s\r\n", line);
        int w = outbound_write(&s->c, l, strlen(l), s->deadline);
        secret_free(l);
        if (w != 0) {
            snprintf(why, cap, "SMTP %s: sending failed or timed out", step);
            return false;
        }
    }
    int code = smtp_reply(s);
    if (code == want1 || code == want2)
        return true;
    if (code < 0)
        snprintf(why, cap, "SMTP %s: no valid reply from the relay", step);
    else
        snprintf(why, cap, "SMTP %s refused: %.200s", step, s->last);
    return false;
}

bool smtp_send(const struct smtp_url *relay, const char *from, const char *to, const char *subject,
               const char *body, int timeout_ms, char *why, size_t cap)
{
    char from_addr[256];
    if (!mail_address_of(from, from_addr, sizeof from_addr)) {
        snprintf(why, cap, "MAIL_FROM has no valid address");
        return false;
    }
    if (!mail_address_ok(to)) {
        snprintf(why, cap, "the recipient address is not valid");
        return false;
    }
    struct smtp *s = xcalloc(1, sizeof *s);
    s->deadline = mono_ms() + timeout_ms;
    struct outbound_target t = {.host = relay->host, .port = relay->port, .tls = false, .allow_private = true,
                                .label = "the SMTP relay"};
    bool ok = false;
    char *msg = NULL;
    if (!outbound_open(&s->c, &t, s->deadline, why, cap)) {
        free(s);
        return false;
    }
    const char *helo = strchr(from_addr, '@') + 1;
    char *line = NULL;
    if (!smtp_cmd(s, NULL, "greeting", 220, 220, why, cap))
        goto out;
    line = xasprintf("EHLO %s", helo);
    if (!smtp_cmd(s, line, "EHLO", 250, 250, why, cap))
        goto out;
    if (relay->user[0]) {
        /* AUTH PLAIN: base64("" NUL user NUL password). */
        size_t ul = strlen(relay->user), pl = strlen(relay->password);
        size_t rawn = 2 + ul + pl;
        unsigned char *raw = xmalloc(rawn);
        raw[0] = 0;
        memcpy(raw + 1, relay->user, ul);
        raw[1 + ul] = 0;
        memcpy(raw + 2 + ul, relay->password, pl);
        size_t bcap = sodium_base64_ENCODED_LEN(rawn, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = xmalloc(bcap);
        sodium_bin2base64(b64, bcap, raw, rawn, sodium_base64_VARIANT_ORIGINAL);
        sodium_memzero(raw, rawn);
        free(raw);
        char *auth = xasprintf("AUTH PLAIN %s", b64);
        secret_free(b64);
        bool aok = smtp_cmd(s, auth, "AUTH", 235, 235, why, cap);
        secret_free(auth);
        if (!aok)
            goto out;
    }
    free(line);
    line = xasprintf("MAIL FROM:<%s>%s", from_addr, s->eightbit ? " BODY=8BITMIME" : "");
    if (!smtp_cmd(s, line, "MAIL FROM", 250, 250, why, cap))
        goto out;
    free(line);
    line = xasprintf("RCPT TO:<%s>", to);
    if (!smtp_cmd(s, line, "RCPT TO", 250, 251, why, cap))
        goto out;
    if (!smtp_cmd(s, "DATA", "DATA", 354, 354, why, cap))
        goto out;
    unsigned char tok[12];
    random_bytes(tok, sizeof tok);
    char token[25];
    hex_encode(tok, sizeof tok, token);
    msg = mail_build_message(from, to, subject, body, (int64_t)time(NULL), token);
    if (outbound_write(&s->c, msg, strlen(msg), s->deadline) != 0) {
        snprintf(why, cap, "SMTP DATA: sending failed or timed out");
        goto out;
    }
    if (!smtp_cmd(s, ".", "end of data", 250, 250, why, cap))
        goto out;
    ok = true;
    /* The message is accepted; QUIT is a courtesy whose answer does not matter. */
    char ignore[64];
    smtp_cmd(s, "QUIT", "QUIT", 221, 221, ignore, sizeof ignore);
out:
    free(line);
    free(msg);
    outbound_close(&s->c);
    free(s);
    return ok;
}

/* ---- the outbox ----------------------------------------------------------- */

static const char SQL_CLAIM[] =
    "UPDATE notifications n SET locked_at = clock_timestamp(), attempts = attempts + 1"
    " WHERE n.id = (SELECT id FROM notifications"
    "                WHERE status = 'pending' AND next_attempt_at <= now()"
    "                  AND (locked_at IS NULL OR locked_at < now() - make_interval(secs => $1::int))"
    "                ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " RETURNING n.id, n.kind, n.subject, n.body, n.attempts, n.locked_at::text,"
    "  COALESCE(n.recipient,"   /* an invitation goes to the invited address */
    "   (SELECT a.email FROM accounts a WHERE a.id = n.account_id AND a.deleted_at IS NULL))";

/* ---- the mail directory (no relay) ------------------------------------- */

bool mail_write_file(const char *dir, const char *id, const char *from, const char *to, const char *subject,
                     const char *body, char *why, size_t cap)
{
    if (!*id || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != strlen(id) ||
        strlen(id) > 64) {
        snprintf(why, cap, "the notification id cannot name a file");
        return false;
    }
    unsigned char tok[12];
    random_bytes(tok, sizeof tok);
    char token[25];
    hex_encode(tok, sizeof tok, token);
    char *msg = mail_build_message(from, to, subject, body, (int64_t)time(NULL), token);
    /* Undo the SMTP dot-stuffing: the file is the message itself. */
    struct strbuf b;
    sb_init(&b, strlen(msg));
    for (const char *p = msg; *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t n = eol ? (size_t)(eol - p) + 2 : strlen(p);
        if (p[0] == '.' && p[1] == '.')
            sb_append(&b, p + 1, n - 1);
        else
            sb_append(&b, p, n);
        p += n;
    }
    free(msg);
    char *path = xasprintf("%s/%s.eml", dir, id);
    char *tmp = xasprintf("%s/.%s.eml.tmp", dir, id);
    bool ok = false;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(why, cap, "MAIL_DIR: cannot create %s: %s", tmp, strerror(errno));
    } else {
        size_t off = 0;
        while (off < b.len) {
            ssize_t w = write(fd, b.data + off, b.len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off != b.len || fsync(fd) != 0)
            snprintf(why, cap, "MAIL_DIR: writing %s failed: %s", tmp, strerror(errno));
        else
            ok = true;
        close(fd);
        if (ok && rename(tmp, path) != 0) {
            snprintf(why, cap, "MAIL_DIR: renaming to %s failed: %s", path, strerror(errno));
            ok = false;
        }
        if (!ok)
            unlink(tmp);
    }
    free(path);
    free(tmp);
    sb_free(&b);
    return ok;
}

static const char SQL_SENT[] =
    "UPDATE notifications SET status = 'sent', sent_at = now(), last_error = NULL, locked_at = NULL"
    " WHERE id = $1 AND locked_at = $2::timestamptz";

static const char SQL_FAILED[] =
    "UPDATE notifications SET status = CASE WHEN $3::int = 0 THEN 'failed' ELSE 'pending' END,"
    " next_attempt_at = now() + make_interval(secs => $3::int), last_error = $4, locked_at = NULL"
    " WHERE id = $1 AND locked_at = $2::timestamptz";

int mail_run_one(struct db *db, const struct jobs_ctx *jc, const struct smtp_url *relay)
{
    char lease_s[16];
    snprintf(lease_s, sizeof lease_s, "%d", MAIL_LEASE_S);
    const char *cp[1] = {lease_s};
    PGresult *res = db_query(db, SQL_CLAIM, 1, cp);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (res)
            log_error("mail: claiming a notification failed: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    char *id = xstrdup(PQgetvalue(res, 0, 0));
    char *kind = xstrdup(PQgetvalue(res, 0, 1));
    char *subject = xstrdup(PQgetvalue(res, 0, 2));
    char *body = xstrdup(PQgetvalue(res, 0, 3));
    int attempts = atoi(PQgetvalue(res, 0, 4));
    char *lease = xstrdup(PQgetvalue(res, 0, 5));
    char *to = PQgetisnull(res, 0, 6) ? NULL : xstrdup(PQgetvalue(res, 0, 6));
    PQclear(res);

    char why[256] = "";
    bool sent = false, final = false;
    if (!to) {
        snprintf(why, sizeof why, "the account no longer exists");
        final = true;
    } else if (!mail_address_ok(to)) {
        snprintf(why, sizeof why, "the account's e-mail address cannot be used");
        final = true;
    } else {
        sent = relay ? smtp_send(relay, jc->cfg->mail_from, to, subject, body, MAIL_TIMEOUT_MS, why, sizeof why)
                     : mail_write_file(jc->cfg->mail_dir, id, jc->cfg->mail_from, to, subject, body, why, sizeof why);
    }
    if (!sent && attempts >= MAIL_MAX_ATTEMPTS)
        final = true;
    /* The address is personal data: the log names the notification, not the recipient. */
    log_info("notification %s (%s) attempt %d: %s%s%s", id, kind, attempts, sent ? "sent" : "failed",
             sent ? "" : ": ", sent ? "" : why);

    PGresult *r;
    if (sent) {
        const char *p[2] = {id, lease};
        r = db_query(db, SQL_SENT, 2, p);
    } else {
        char delay[16];
        snprintf(delay, sizeof delay, "%d", final ? 0 : mail_backoff_s(attempts));
        const char *p[4] = {id, lease, delay, why};
        r = db_query(db, SQL_FAILED, 4, p);
    }
    int rc = r && PQresultStatus(r) == PGRES_COMMAND_OK ? 1 : -1;
    if (rc < 0 && r)
        log_error("mail: recording notification %s failed: %s", id, PQresultErrorMessage(r));
    PQclear(r);
    free(id);
    free(kind);
    free(subject);
    free(body);
    free(lease);
    free(to);
    return rc;
}
