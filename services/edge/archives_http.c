/*
 * archives_http — the download route of the daily log archives.
 *
 * The link is the credential: the edge checks the HMAC over (id, format,
 * expires) in constant time and the expiry, and answers 403 to an expired,
 * altered or foreign link without saying which. The file is found through
 * <ARCHIVE_DIR>/by-id/<id>.<ext> (bin/jobs makes that link; the edge and
 * jobs share ARCHIVE_DIR). The id is a canonical uuid and the extension one
 * of two constants, so the path cannot leave the directory.
 *
 * The body is handed to libevent with evbuffer_add_file: the kernel pages
 * the file out (sendfile or mmap) as the socket drains, so a large archive
 * never blocks the loop reading it or sits in memory.
 */
#include "services/edge/archives_http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "common/archive_link.h"
#include "common/keybox.h"
#include "common/log.h"
#include "common/util.h"
#include "services/edge/edge_http.h"
#include "services/edge/edge_metrics.h"

static struct keybox link_key;
static bool link_key_ready;

/* The shared key (KEYS_SECRET_FILE), loaded on first use: the worker may be the one that creates it. */
static const struct keybox *key_of(const struct edge *e)
{
    if (!link_key_ready) {
        char path[1024], err[256];
        keybox_path(e->cfg->state_dir, path, sizeof path);
        if (keybox_load(&link_key, path, true, err, sizeof err) != 0) {
            log_warn("archive links cannot be checked: %s", err);
            return NULL;
        }
        link_key_ready = true;
    }
    return &link_key;
}

static bool canonical_uuid(const char *s)
{
    if (!is_uuid(s))
        return false;
    for (; *s; s++)
        if (isupper((unsigned char)*s))
            return false;
    return true;
}

static bool all_digits(const char *s)
{
    if (!s || !*s || strlen(s) > 18)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

void archives_http_handle(struct edge *e, struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        http_reply_error(e, req, 405, "method_not_allowed", "archives are downloaded with GET");
        return;
    }
    /* /archives/<36-char uuid>/download */
    const char *rest = path + strlen(ARCHIVES_PATH_PREFIX);
    char id[37];
    if (strlen(rest) != 36 + strlen("/download") || strcmp(rest + 36, "/download") != 0) {
        http_reply_error(e, req, 404, "not_found", "no such path");
        return;
    }
    memcpy(id, rest, 36);
    id[36] = '\0';

    struct evkeyvalq q;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!query || evhttp_parse_query_str(query, &q) != 0) {
        http_reply_error(e, req, 403, "forbidden", "this download link is not valid");
        return;
    }
    const char *format = evhttp_find_header(&q, "format"), *expires = evhttp_find_header(&q, "expires"),
               *sig = evhttp_find_header(&q, "sig");
    const struct keybox *kb = key_of(e);
    const char *suffix = archive_format_suffix(format);
    bool ok = kb && suffix && canonical_uuid(id) && all_digits(expires) && sig &&
              archive_link_verify(kb, id, format, strtoll(expires, NULL, 10), sig, (long long)time(NULL));
    bool csv = ok && !strcmp(format, "csv");
    evhttp_clear_headers(&q);   /* format points into q: only csv and suffix (a constant) are used below */
    if (!ok) {
        http_reply_error(e, req, kb ? 403 : 503, kb ? "forbidden" : "unavailable",
                         kb ? "this download link is not valid or has expired" : "downloads are unavailable");
        return;
    }

    char file[1200];
    snprintf(file, sizeof file, "%s/by-id/%s%s", e->cfg->archive_dir, id, suffix);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        http_reply_error(e, req, 404, "not_found", "this archive file is not available");
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char disp[128], len[32];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s%s\"", id, suffix);
    snprintf(len, sizeof len, "%lld", (long long)st.st_size);
    evhttp_add_header(h, "Content-Type", csv ? "text/csv; charset=utf-8" : "application/gzip");
    evhttp_add_header(h, "Content-Disposition", disp);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (e->draining)
        evhttp_add_header(h, "Connection", "close");
    struct evbuffer *buf = evbuffer_new();
    if (cmd == EVHTTP_REQ_GET && st.st_size > 0) {
        if (evbuffer_add_file(buf, fd, 0, st.st_size) != 0) {   /* takes over fd */
            evbuffer_free(buf);
            http_reply_error(e, req, 500, "internal", "the archive file cannot be sent");
            return;
        }
    } else {
        close(fd);
        evhttp_add_header(h, "Content-Length", len);
    }
    /* This reply bypasses http_reply (the body is a file): count it and
     * end its latency tracking here. */
    double secs = edge_metrics_reply(req, 200);
    if (e->access_log) {
        char client[64] = "-";
        http_client_ip(req, client, sizeof client);
        log_info("%s /archives/%s/download 200 %.1fms client=%s %lld bytes", cmd == EVHTTP_REQ_HEAD ? "HEAD" : "GET",
                 id, secs >= 0 ? secs * 1000.0 : 0.0, client[0] ? client : "-", (long long)st.st_size);
    }
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
    e->active--;
}
