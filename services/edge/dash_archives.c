/*
 * dash_archives — the dashboard's Archives page (docs/DASHBOARD.md,
 * "Archives"): the daily archive files of the account's production call
 * logs, filtered by endpoint and UTC days and paged; download; delete.
 *
 *   GET  /archives?endpoint=<id>&from=YYYY-MM-DD&to=YYYY-MM-DD&after=<cursor>
 *   GET  /archives/download?id=<id>&format=jsonl|csv  -> 303 to a signed link
 *   GET  /archives/delete?id=<id>                      the confirmation form
 *   POST /archives/delete {id, password}               -> 303 /archives
 *
 * A download is the signed 15-minute link of archives_download, made for
 * this account's archive only; the page redirects to it rather than showing
 * it, so the link is in no page and in no history entry of ours. These are
 * exact paths: /archives/<id>/download stays the signed route of
 * archives_http.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "services/edge/dash.h"

#define PASSWORD_MAX 1024
#define AFTER_MAX 64

/* A query value that must be a UUID: NULL if absent or empty; *bad if malformed. */
static const char *uuid_param(const struct dash_req *d, const char *name, bool *bad)
{
    const char *v = d->method == EVHTTP_REQ_POST ? dash_form(d, name) : dash_query(d, name);
    if (!v || !*v)
        return NULL;
    if (!is_uuid(v))
        *bad = true;
    return v;
}

/* A date filter: empty, or 10 characters of digits and dashes (the worker checks the calendar). */
static const char *date_param(const struct dash_req *d, const char *name, bool *bad)
{
    const char *v = dash_query(d, name);
    if (!v || !*v)
        return NULL;
    if (strlen(v) != 10 || strspn(v, "0123456789-") != 10 || v[4] != '-' || v[7] != '-')
        *bad = true;
    return v;
}

static void human_size(long long n, char *out, size_t cap)
{
    if (n < 1000)
        snprintf(out, cap, "%lld B", n);
    else if (n < 1000 * 1000)
        snprintf(out, cap, "%.1f kB", n / 1000.0);
    else if (n < 1000LL * 1000 * 1000)
        snprintf(out, cap, "%.1f MB", n / 1e6);
    else
        snprintf(out, cap, "%.1f GB", n / 1e9);
}

static const char *str_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* href of a link with query pairs (NULL values skipped), escaped by the caller with dash_esc. */
static char *href_with(const char *path, const char *const *pairs)
{
    char *loc = oauth_url_with_params(path, pairs);
    return loc;
}

/* ---- the list ------------------------------------------------------------------------------ */

static void put_files(struct strbuf *b, const char *id, const json_t *formats)
{
    dash_put(b, "<ul class=\"files\">\n");
    size_t i;
    json_t *f;
    json_array_foreach(formats, i, f)
    {
        const char *fmt = str_of(f, "format");
        char size[32];
        human_size((long long)json_integer_value(json_object_get(f, "size_bytes")), size, sizeof size);
        bool jsonl = fmt && !strcmp(fmt, "jsonl");
        dash_put(b, "<li>");
        dash_put(b, jsonl ? "JSONL (gzip)" : "CSV");
        dash_put(b, ", ");
        dash_esc(b, size);
        dash_put(b, " · <a href=\"");
        const char *pairs[] = {"id", id, "format", jsonl ? "jsonl" : "csv", NULL};
        char *href = href_with("/archives/download", pairs);
        dash_esc(b, href);
        free(href);
        dash_put(b, "\">Download<span class=\"vh\"> ");
        dash_put(b, jsonl ? "JSONL" : "CSV");
        dash_put(b, "</span></a><br><span class=\"muted\">SHA-256</span> <code>");
        dash_esc(b, str_of(f, "sha256"));
        dash_put(b, "</code></li>\n");
    }
    dash_put(b, "</ul>");
}

static void filter_form(struct strbuf *b, const struct dash_req *d, const json_t *endpoints)
{
    const char *ep = dash_query(d, "endpoint");
    dash_put(b, "<form method=\"get\" action=\"/archives\" class=\"filters\">\n"
                "<label for=\"endpoint\">Endpoint</label>\n<select id=\"endpoint\" name=\"endpoint\">\n"
                "<option value=\"\">All endpoints</option>\n");
    size_t i;
    json_t *e;
    json_array_foreach(endpoints, i, e)
    {
        const char *id = str_of(e, "id");
        dash_put(b, "<option value=\"");
        dash_esc(b, id);
        dash_put(b, ep && id && !strcmp(ep, id) ? "\" selected>" : "\">");
        dash_esc(b, str_of(e, "name"));
        dash_put(b, " (");
        dash_esc(b, str_of(e, "slug"));
        dash_put(b, json_is_true(json_object_get(e, "deleted")) ? ", deleted)</option>\n" : ")</option>\n");
    }
    dash_put(b, "</select>\n<label for=\"from\">From (UTC day)</label>\n"
                "<input type=\"date\" id=\"from\" name=\"from\" value=\"");
    dash_esc(b, dash_query(d, "from"));
    dash_put(b, "\">\n<label for=\"to\">To (UTC day)</label>\n<input type=\"date\" id=\"to\" name=\"to\" value=\"");
    dash_esc(b, dash_query(d, "to"));
    dash_put(b, "\">\n<button type=\"submit\">Filter</button>\n</form>\n");
}

static void on_list(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    json_t *items = json_object_get(a->result, "items");
    struct strbuf b;
    sb_init(&b, 8192);
    dash_put(&b, "<style>.files{list-style:none;margin:0;padding:0}.files li{margin:0 0 .4rem}"
                 ".filters{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:end}.filters label{margin-bottom:.25rem}"
                 ".filters select,.filters input{max-width:16rem}"
                 ".vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}"
                 /* the hidden labels inside the table must scroll (and be clipped) with it on a phone */
                 ".table{position:relative}</style>\n"
                 "<p class=\"muted\">Production call logs older than the retention period are moved into one file "
                 "per endpoint and UTC day, as gzipped JSON lines and as CSV. Download links work for 15 "
                 "minutes.</p>\n");
    filter_form(&b, d, json_object_get(a->result, "endpoints"));
    if (!json_array_size(items)) {
        dash_put(&b, "<p>No archive files");
        dash_put(&b, dash_query(d, "endpoint") || dash_query(d, "from") || dash_query(d, "to") ? " match these filters"
                                                                                              : " yet");
        dash_put(&b, ".</p>\n");
    } else {
        dash_put(&b, "<div class=\"table\"><table>\n<caption class=\"vh\">Archive files</caption>\n<thead><tr>"
                     "<th scope=\"col\">Endpoint</th><th scope=\"col\">Day (UTC)</th><th scope=\"col\">Entries</th>"
                     "<th scope=\"col\">Files (format, size, SHA-256)</th><th scope=\"col\">Created</th>"
                     "<th scope=\"col\">Actions</th></tr></thead>\n<tbody>\n");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *id = str_of(it, "id");
            json_t *ep = json_object_get(it, "endpoint");
            char n[32];
            snprintf(n, sizeof n, "%lld", (long long)json_integer_value(json_object_get(it, "record_count")));
            dash_put(&b, "<tr><td>");
            dash_esc(&b, str_of(ep, "name"));
            dash_put(&b, "<br><code>");
            dash_esc(&b, str_of(ep, "slug"));
            dash_put(&b, "</code></td><th scope=\"row\">");
            dash_esc(&b, str_of(it, "day"));
            dash_put(&b, "</th><td>");
            dash_esc(&b, n);
            dash_put(&b, "</td><td>");
            put_files(&b, id, json_object_get(it, "formats"));
            dash_put(&b, "</td><td>");
            dash_esc(&b, str_of(it, "created_at"));
            dash_put(&b, "</td><td><a href=\"");
            const char *pairs[] = {"id", id, NULL};
            char *href = href_with("/archives/delete", pairs);
            dash_esc(&b, href);
            free(href);
            dash_put(&b, "\">Delete<span class=\"vh\"> the archive of ");
            dash_esc(&b, str_of(it, "day"));
            dash_put(&b, "</span></a></td></tr>\n");
        }
        dash_put(&b, "</tbody></table></div>\n");
    }
    const char *next = str_of(a->result, "next_after");
    if (next) {
        const char *pairs[] = {"endpoint", dash_query(d, "endpoint"), "from", dash_query(d, "from"),
                               "to", dash_query(d, "to"), "after", next, NULL};
        /* Empty filters are left out. */
        const char *kept[9];
        size_t k = 0;
        for (size_t j = 0; pairs[j]; j += 2)
            if (pairs[j + 1] && *pairs[j + 1]) {
                kept[k++] = pairs[j];
                kept[k++] = pairs[j + 1];
            }
        kept[k] = NULL;
        char *href = href_with("/archives", kept);
        dash_put(&b, "<p><a href=\"");
        dash_esc(&b, href);
        dash_put(&b, "\" rel=\"next\">Older archives</a></p>\n");
        free(href);
    }
    dash_render_sb(d, 200, "Archives", &b);
}

void dash_page_archives(struct dash_req *d)
{
    bool bad = false;
    const char *ep = uuid_param(d, "endpoint", &bad);
    const char *from = date_param(d, "from", &bad);
    const char *to = date_param(d, "to", &bad);
    const char *after = dash_query(d, "after");
    if (after && (!*after || strlen(after) > AFTER_MAX))
        bad = true;
    if (bad) {
        dash_error(d, 400, "These filters are not valid: the endpoint comes from the list and dates are "
                           "YYYY-MM-DD.");
        return;
    }
    json_t *args = json_object();
    if (ep)
        json_object_set_new(args, "endpoint_id", json_string(ep));
    if (from)
        json_object_set_new(args, "from", json_string(from));
    if (to)
        json_object_set_new(args, "to", json_string(to));
    if (after)
        json_object_set_new(args, "after", json_string(after));
    dash_call(d, "archives.list", args, on_list);
}

/* ---- download ------------------------------------------------------------------------------- */

static void on_download(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    const char *url = str_of(a->result, "url");
    size_t n = strlen(d->e->cfg->public_url);
    if (!url || strncmp(url, d->e->cfg->public_url, n) != 0 || !dash_local_path(url + n)) {
        dash_error(d, 503, "This is not available right now. Try again in a minute.");
        return;
    }
    dash_redirect(d, url + n, NULL);
}

void dash_page_archives_download(struct dash_req *d)
{
    bool bad = false;
    const char *id = uuid_param(d, "id", &bad);
    const char *format = dash_query(d, "format");
    if (!format || !*format)
        format = "jsonl";
    if (!id || bad || (strcmp(format, "jsonl") != 0 && strcmp(format, "csv") != 0)) {
        dash_error(d, 404, "No such archive file.");
        return;
    }
    dash_call(d, "archives.download", json_pack("{s:s, s:s}", "archive_id", id, "format", format), on_download);
}

/* ---- delete ----------------------------------------------------------------------------------- */

static void on_confirm(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    json_t *it = json_array_get(json_object_get(a->result, "items"), 0);
    if (!it) {
        dash_error(d, 404, "No archive with this id (it may have been deleted).");
        return;
    }
    json_t *ep = json_object_get(it, "endpoint");
    char n[32], size[32];
    snprintf(n, sizeof n, "%lld", (long long)json_integer_value(json_object_get(it, "record_count")));
    human_size((long long)json_integer_value(json_object_get(it, "size_bytes")), size, sizeof size);
    struct strbuf b;
    sb_init(&b, 2048);
    dash_put(&b, "<p>This deletes the archive of <strong>");
    dash_esc(&b, str_of(ep, "name"));
    dash_put(&b, "</strong> (<code>");
    dash_esc(&b, str_of(ep, "slug"));
    dash_put(&b, "</code>) for <strong>");
    dash_esc(&b, str_of(it, "day"));
    dash_put(&b, "</strong> (UTC): both files (JSONL and CSV, ");
    dash_esc(&b, size);
    dash_put(&b, ") and the payloads of its ");
    dash_esc(&b, n);
    dash_put(&b, " log entries. The entries' metadata stays in the logs, marked as belonging to a deleted "
                 "archive. This cannot be undone.</p>\n");
    dash_form_open(&b, d, "/archives/delete");
    dash_put(&b, "<input type=\"hidden\" name=\"id\" value=\"");
    dash_esc(&b, str_of(it, "id"));
    dash_put(&b, "\">\n<label for=\"password\">Your password</label>\n<input type=\"password\" id=\"password\" "
                 "name=\"password\" required maxlength=\"1024\" autocomplete=\"current-password\">\n"
                 "<div><button type=\"submit\" class=\"danger\">Delete this archive</button></div>\n</form>\n"
                 "<p><a href=\"/archives\">Back to the archives</a></p>\n");
    dash_render_sb(d, 200, "Delete an archive", &b);
}

static void on_delete(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        int status = dash_status_of(a->code);
        if (status == 404 || status == 503) {
            dash_fail(d, a);
            return;
        }
        struct strbuf b;
        sb_init(&b, 512);
        dash_notice(&b, "msg", status == 403 ? "Wrong password. Nothing was deleted." : a->message);
        dash_put(&b, "<p><a href=\"");
        const char *pairs[] = {"id", dash_form(d, "id"), NULL};
        char *href = href_with("/archives/delete", pairs);
        dash_esc(&b, href);
        free(href);
        dash_put(&b, "\">Try again</a> · <a href=\"/archives\">Back to the archives</a></p>\n");
        dash_render_sb(d, status, "The archive was not deleted", &b);
        return;
    }
    char msg[200];
    snprintf(msg, sizeof msg, "The archive of %.80s for %.10s was deleted (%lld log entries).",
             str_of(a->result, "endpoint") ? str_of(a->result, "endpoint") : "the endpoint",
             str_of(a->result, "day") ? str_of(a->result, "day") : "",
             (long long)json_integer_value(json_object_get(a->result, "entries")));
    dash_redirect(d, "/archives", msg);
}

void dash_page_archives_delete(struct dash_req *d)
{
    bool bad = false;
    const char *id = uuid_param(d, "id", &bad);
    if (!id || bad) {
        dash_error(d, 404, "No archive with this id.");
        return;
    }
    if (d->method == EVHTTP_REQ_GET) {
        dash_call(d, "archives.list", json_pack("{s:s}", "archive_id", id), on_confirm);
        return;
    }
    const char *pw = dash_form(d, "password");
    if (!pw || strlen(pw) > PASSWORD_MAX)
        pw = "";
    dash_call(d, "archives.delete", json_pack("{s:s, s:s}", "archive_id", id, "password", pw), on_delete);
}
