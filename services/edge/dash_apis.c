/*
 * dash_apis — the dashboard's APIs pages (docs/DASHBOARD.md, "APIs"):
 * /dashboard (the account's endpoints, 20 a page) and
 * /dashboard/endpoints/{id} (fields per environment, URLs, the owner's keys
 * and webhook signing secrets masked, deploy history, recent calls) with its
 * actions: reveal a key or secret, regenerate a key, pause and resume the
 * endpoint, clear its sandbox records, delete it. Each action but resuming
 * needs the password again; deleting also needs the endpoint's name typed
 * exactly. The worker side is services/worker/web_apis.c.
 *
 * Secrets after Post/Redirect/Get. A revealed or new secret must appear on
 * the page the POST redirects to, but never in a URL, a log, or the
 * database. The worker answers it sealed (secretbox) with a reply key the
 * edge derives from the session token: SHA-256("tm-dashboard-reveal" NUL
 * session). The sealed box goes into a short-lived cookie (60 s, HttpOnly,
 * SameSite=Strict) together with the endpoint's id; the next GET of that
 * endpoint's page opens it with the same derivation (any edge can: it needs
 * only the session cookie), shows it, and clears the cookie. A copy of the
 * cookie alone is useless without the session token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "common/keybox.h"
#include "common/util.h"
#include "services/edge/dash.h"
#include "services/edge/edge_http.h"

#define REVEAL_MAX_AGE 60
#define PASSWORD_MAX 1024
#define NAME_MAX_BYTES 512
#define CURSOR_MAX 200

/* ---- small helpers ------------------------------------------------------------ */

/* A time as the worker gives it (ISO 8601 UTC), or a dash. */
static void put_time(struct strbuf *b, const char *iso)
{
    if (!iso) {
        dash_put(b, "—");
        return;
    }
    dash_put(b, "<time datetime=\"");
    dash_esc(b, iso);
    dash_put(b, "\">");
    char t[40];
    snprintf(t, sizeof t, "%s", iso);
    char *T = strchr(t, 'T');
    if (T)
        *T = ' ';
    char *z = strchr(t, 'Z');
    if (z)
        *z = '\0';
    char *dot = strchr(t, '.');
    if (dot)
        *dot = '\0';
    dash_esc(b, t);
    dash_put(b, " UTC</time>");
}

static bool https(const struct edge *e)
{
    return !strncmp(e->cfg->public_url, "https://", 8);
}

/* ---- sealed secrets after Post/Redirect/Get (dash.h; see the top) ---------------------------- */

#define REVEAL_TAG_MAX 200
#define REVEAL_SEALED_MAX 400
#define REVEAL_BOX_MAX 300

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void dash_reveal_key(const char *session, uint8_t key[32])
{
    static const char label[] = "tm-dashboard-reveal";
    size_t sl = session ? strlen(session) : 0;
    char *buf = xmalloc(sizeof label + sl);
    memcpy(buf, label, sizeof label);   /* with its NUL */
    if (sl)
        memcpy(buf + sizeof label, session, sl);
    sha256(buf, sizeof label + sl, key);
    memset(buf, 0, sizeof label + sl);
    free(buf);
}

char *dash_reveal_reply_key(const struct dash_req *d)
{
    uint8_t k[32];
    dash_reveal_key(d->session, k);
    char *s = b64url_encode(k, sizeof k);
    memset(k, 0, sizeof k);
    return s;
}

char *dash_reveal_cookie_value(const char *tag, const char *sealed)
{
    size_t tl = tag ? strlen(tag) : 0, sl = sealed ? strlen(sealed) : 0;
    if (!tl || tl > REVEAL_TAG_MAX || strspn(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                                  "-_.:") != tl ||
        !sl || sl > REVEAL_SEALED_MAX || strspn(sealed, B64URL) != sl)
        return NULL;
    return xasprintf("%s.%s", tag, sealed);
}

char *dash_reveal_open_value(const char *value, const char *session, char **tag)
{
    *tag = NULL;
    const char *dot = value ? strrchr(value, '.') : NULL;
    if (!dot || dot == value || (size_t)(dot - value) > REVEAL_TAG_MAX)
        return NULL;
    const char *sealed = dot + 1;
    size_t sl = strlen(sealed);
    if (!sl || sl > REVEAL_SEALED_MAX || strspn(sealed, B64URL) != sl)
        return NULL;
    uint8_t box[REVEAL_BOX_MAX];
    long n = b64url_decode(sealed, sl, box, sizeof box);
    if (n <= 0)
        return NULL;
    struct keybox kb;
    uint8_t k[32];
    dash_reveal_key(session, k);
    keybox_from_bytes(&kb, k);
    char *secret = keybox_open(&kb, box, (size_t)n);
    memset(&kb, 0, sizeof kb);
    memset(k, 0, sizeof k);
    if (secret)
        *tag = xstrndup(value, (size_t)(dot - value));
    return secret;
}

static const char *reveal_cookie(const struct edge *e)
{
    return https(e) ? "__Host-tm_reveal" : "tm_reveal";
}

static void set_reveal_cookie(struct dash_req *d, const char *value, int max_age)
{
    char *c = xasprintf("%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", reveal_cookie(d->e), value,
                        max_age, https(d->e) ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(d->req), "Set-Cookie", c);
    free(c);
}

bool dash_reveal_set(struct dash_req *d, const char *tag, const char *sealed)
{
    char *v = dash_reveal_cookie_value(tag, sealed);
    if (!v)
        return false;
    set_reveal_cookie(d, v, REVEAL_MAX_AGE);
    free(v);
    return true;
}

char *dash_reveal_take(struct dash_req *d, char **tag)
{
    *tag = NULL;
    char *v = oauth_cookie_get(http_header(d->req, "Cookie"), reveal_cookie(d->e));
    if (!v)
        return NULL;
    set_reveal_cookie(d, "", 0);
    char *secret = dash_reveal_open_value(v, d->session, tag);
    free(v);
    return secret;
}

/* ---- /dashboard: the list ------------------------------------------------------------- */

static void on_list(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    json_t *items = json_object_get(a->result, "items");
    const char *cursor = dash_query(d, "cursor");
    struct strbuf b;
    sb_init(&b, 4096);
    json_t *period = json_object_get(a->result, "period");
    if (!json_array_size(items) && !cursor) {
        dash_put(&b, "<p>No APIs yet. Ask your AI assistant to create one: it connects through "
                     "<a href=\"/settings/ai\">AI Integration</a>.</p>\n");
    } else {
        if (dash_jstr(period, "start")) {
            dash_put(&b, "<p class=\"muted\">Calls are counted for the current 30-day period, which began ");
            put_time(&b, dash_jstr(period, "start"));
            dash_put(&b, ".</p>\n");
        }
        dash_put(&b, "<div class=\"table\"><table>\n<caption class=\"muted\">Your endpoints, newest first</caption>\n"
                     "<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Slug</th><th scope=\"col\">Status</th>"
                     "<th scope=\"col\">Calls this period</th><th scope=\"col\">Last call</th></tr></thead>\n<tbody>\n");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *id = dash_jstr(it, "id");
            if (!id || !is_uuid(id))
                continue;
            dash_put(&b, "<tr><th scope=\"row\"><a href=\"/dashboard/endpoints/");
            dash_esc(&b, id);
            dash_put(&b, "\">");
            dash_esc(&b, dash_jstr(it, "name"));
            dash_put(&b, "</a></th><td><code>");
            dash_esc(&b, dash_jstr(it, "slug"));
            dash_put(&b, "</code></td><td>");
            const char *status = dash_jstr(it, "status");
            dash_esc(&b, status);
            if (status && !strcmp(status, "deployed")) {
                dash_put(&b, " (v");
                dash_put_int(&b, (long long)json_integer_value(json_object_get(it, "prod_version")));
                dash_put(&b, ")");
            }
            dash_put(&b, "</td><td>");
            dash_put_int(&b, (long long)json_integer_value(json_object_get(it, "calls_period")));
            dash_put(&b, "</td><td>");
            put_time(&b, dash_jstr(it, "last_call_at"));
            dash_put(&b, "</td></tr>\n");
        }
        dash_put(&b, "</tbody></table></div>\n");
        const char *next = dash_jstr(a->result, "next_cursor");
        if (cursor || next) {
            dash_put(&b, "<nav aria-label=\"Pages\"><p>");
            if (cursor)
                dash_put(&b, "<a href=\"/dashboard\">First page</a> ");
            if (next) {
                const char *pairs[] = {"cursor", next, NULL};
                char *href = oauth_url_with_params("/dashboard", pairs);
                dash_put(&b, "<a rel=\"next\" href=\"");
                dash_esc(&b, href);
                dash_put(&b, "\">Next page</a>");
                free(href);
            }
            dash_put(&b, "</p></nav>\n");
        }
    }
    dash_render_sb(d, 200, "Your APIs", &b);
}

void dash_page_dashboard(struct dash_req *d)
{
    const char *cursor = dash_query(d, "cursor");
    if (cursor && (!*cursor || strlen(cursor) > CURSOR_MAX)) {
        dash_error(d, 400, "This page link is not valid.");
        return;
    }
    dash_call(d, "endpoints.list", cursor ? json_pack("{s:s}", "cursor", cursor) : NULL, on_list);
}

/* ---- /dashboard/endpoints/{id} ------------------------------------------------------------ */

struct ep_state {
    char id[40];
    int status;        /* of the page, when it shows a refused action */
    char *message;     /* the refusal, or NULL */
    char *shown;       /* a revealed secret to show once (HTML-escaped when put), or NULL */
    char *shown_what;  /* what it is */
};

static void ep_state_free(void *p)
{
    struct ep_state *s = p;
    if (!s)
        return;
    free(s->message);
    secret_free(s->shown);
    free(s->shown_what);
    free(s);
}

static struct ep_state *ep_state(struct dash_req *d, const char *id)
{
    struct ep_state *s = xcalloc(1, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    d->state = s;
    d->state_free = ep_state_free;
    return s;
}

static char *action_path(const char *id, const char *action)
{
    return xasprintf("/dashboard/endpoints/%s/%s", id, action);
}

static void fields_table(struct strbuf *b, const char *caption, const json_t *fields)
{
    if (!json_array_size(fields)) {
        dash_put(b, "<p>");
        dash_esc(b, caption);
        dash_put(b, ": no fields defined (any JSON object is accepted).</p>\n");
        return;
    }
    dash_put(b, "<div class=\"table\"><table>\n<caption>");
    dash_esc(b, caption);
    dash_put(b, "</caption>\n<thead><tr><th scope=\"col\">Field</th><th scope=\"col\">Type</th>"
                "<th scope=\"col\">Required</th><th scope=\"col\">Searchable</th><th scope=\"col\">Rules</th>"
                "</tr></thead>\n<tbody>\n");
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        dash_put(b, "<tr><th scope=\"row\"><code>");
        dash_esc(b, dash_jstr(f, "name"));
        dash_put(b, "</code></th><td>");
        dash_esc(b, dash_jstr(f, "type"));
        dash_put(b, json_is_true(json_object_get(f, "required")) ? "</td><td>yes</td><td>" : "</td><td>no</td><td>");
        dash_put(b, json_is_true(json_object_get(f, "searchable")) ? "yes</td><td>" : "no</td><td>");
        json_t *v = json_object_get(f, "validation");
        if (json_object_size(v)) {
            char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
            dash_put(b, "<code>");
            dash_esc(b, t);
            dash_put(b, "</code>");
            free(t);
        }
        dash_put(b, "</td></tr>\n");
    }
    dash_put(b, "</tbody></table></div>\n");
}

static const char *const ENVS[] = {"sandbox", "production"};

/* The password form that reveals an environment's secret (secret: "key" or
 * "webhook"; what: how the button names it). */
static void reveal_form(struct strbuf *b, const struct dash_req *d, const char *endpoint_id, const char *env,
                        const char *secret, const char *what)
{
    char fid[64];
    snprintf(fid, sizeof fid, "pw-reveal-%s-%s", secret, env);
    char *act = action_path(endpoint_id, "reveal");
    char *button = xasprintf("Reveal the %s %s", env, what);
    const char *const fields[] = {"environment", env, "secret", secret, NULL};
    dash_confirm_form(b, d,
                      &(struct dash_confirm){.summary = "Reveal", .action = act, .hidden = fields,
                                             .password_id = fid, .button = button});
    free(button);
    free(act);
}

/* The password form that replaces an environment's owner key. */
static void regenerate_form(struct strbuf *b, const struct dash_req *d, const char *endpoint_id, const char *env)
{
    char fid[64];
    snprintf(fid, sizeof fid, "pw-regenerate-%s", env);
    char *act = action_path(endpoint_id, "regenerate");
    char *button = xasprintf("Regenerate the %s key", env);
    const char *const fields[] = {"environment", env, NULL};
    dash_confirm_form(b, d,
                      &(struct dash_confirm){.summary = "Regenerate",
                                             .note = "A new key replaces this one; calls with the old key are "
                                                     "refused at once.",
                                             .action = act, .hidden = fields, .password_id = fid,
                                             .button = button, .danger = true});
    free(button);
    free(act);
}

static void keys_section(struct strbuf *b, struct dash_req *d, const struct ep_state *s, const json_t *ep,
                         const json_t *secrets)
{
    const char *url = dash_jstr(json_object_get(ep, "urls"), "gateway");
    dash_put(b, "<h2 id=\"urls\">URLs and keys</h2>\n<p class=\"muted\">One URL serves both environments: the "
                "key's prefix picks one (<code>tm_test_</code> sandbox, <code>tm_live_</code> production). "
                "Send it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>\n");
    if (s->shown)
        dash_shown_secret(b, s->shown_what, s->shown,
                          "Copy it now: it is not shown again when you leave or reload this page.");
    dash_put(b, "<div class=\"table\"><table>\n<thead><tr><th scope=\"col\">Environment</th><th scope=\"col\">URL</th>"
                "<th scope=\"col\">Owner key</th><th scope=\"col\">Actions</th></tr></thead>\n<tbody>\n");
    json_t *keys = json_object_get(ep, "keys");
    for (size_t i = 0; i < TM_ARRAY_LEN(ENVS); i++) {
        const char *env = ENVS[i];
        const char *masked = dash_jstr(json_object_get(keys, env), "masked");
        dash_put(b, "<tr><th scope=\"row\">");
        dash_put(b, env);
        dash_put(b, "</th><td><code>");
        dash_esc(b, url);
        dash_put(b, "</code></td><td><code>");
        dash_esc(b, masked ? masked : "—");
        dash_put(b, "</code></td><td>\n");
        if (masked) {
            reveal_form(b, d, s->id, env, "key", "key");
            regenerate_form(b, d, s->id, env);
        }
        dash_put(b, "</td></tr>\n");
    }
    dash_put(b, "</tbody></table></div>\n");

    dash_put(b, "<h2 id=\"webhooks\">Webhooks</h2>\n<p class=\"muted\">Deliveries are signed with the environment's "
                "secret: <code>X-3MinAPI-Signature: v1=HMAC_SHA256(secret, timestamp + \".\" + body)</code>.</p>\n"
                "<div class=\"table\"><table>\n<thead><tr><th scope=\"col\">Environment</th><th scope=\"col\">Webhook "
                "URL</th><th scope=\"col\">Signing secret</th><th scope=\"col\">Actions</th></tr></thead>\n<tbody>\n");
    json_t *hooks = json_object_get(ep, "webhooks");
    for (size_t i = 0; i < TM_ARRAY_LEN(ENVS); i++) {
        const char *env = ENVS[i];
        json_t *h = json_object_get(hooks, env);
        const char *masked = dash_jstr(json_object_get(secrets, env), "masked");
        dash_put(b, "<tr><th scope=\"row\">");
        dash_put(b, env);
        dash_put(b, "</th><td>");
        if (dash_jstr(h, "url")) {
            dash_put(b, "<code>");
            dash_esc(b, dash_jstr(h, "url"));
            dash_put(b, json_is_true(json_object_get(h, "enabled")) ? "</code>" : "</code> (disabled)");
        } else {
            dash_put(b, "none");
        }
        dash_put(b, "</td><td><code>");
        dash_esc(b, masked ? masked : "—");
        dash_put(b, "</code></td><td>\n");
        if (masked)
            reveal_form(b, d, s->id, env, "webhook", "signing secret");
        dash_put(b, "</td></tr>\n");
    }
    dash_put(b, "</tbody></table></div>\n");
}

static void deploys_section(struct strbuf *b, const json_t *deploys)
{
    dash_put(b, "<h2 id=\"deploys\">Deploy history</h2>\n");
    if (!json_array_size(deploys)) {
        dash_put(b, "<p>Not deployed yet.</p>\n");
        return;
    }
    dash_put(b, "<div class=\"table\"><table>\n<thead><tr><th scope=\"col\">Version</th><th scope=\"col\">Deployed"
                "</th><th scope=\"col\">Via</th><th scope=\"col\">Changes</th><th scope=\"col\">Note</th></tr></thead>"
                "\n<tbody>\n");
    size_t i;
    json_t *it;
    json_array_foreach(deploys, i, it)
    {
        dash_put(b, "<tr><th scope=\"row\">v");
        dash_put_int(b, (long long)json_integer_value(json_object_get(it, "version")));
        dash_put(b, "</th><td>");
        put_time(b, dash_jstr(it, "deployed_at"));
        dash_put(b, "</td><td>");
        dash_esc(b, dash_jstr(it, "via"));
        dash_put(b, "</td><td>");
        dash_put_int(b, (long long)json_integer_value(json_object_get(it, "changes")));
        dash_put(b, "</td><td>");
        dash_esc(b, dash_jstr(it, "note"));
        dash_put(b, "</td></tr>\n");
    }
    dash_put(b, "</tbody></table></div>\n");
}

static void calls_section(struct strbuf *b, const json_t *calls)
{
    dash_put(b, "<h2 id=\"calls\">Recent calls</h2>\n");
    if (!json_array_size(calls)) {
        dash_put(b, "<p>No calls in the last 92 days.</p>\n");
        return;
    }
    dash_put(b, "<div class=\"table\"><table>\n<caption class=\"muted\">The last 20 calls, newest first</caption>\n"
                "<thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Environment</th><th scope=\"col\">Method</th>"
                "<th scope=\"col\">Status</th><th scope=\"col\">Latency</th><th scope=\"col\">Caller</th></tr>"
                "</thead>\n<tbody>\n");
    size_t i;
    json_t *it;
    json_array_foreach(calls, i, it)
    {
        dash_put(b, "<tr><td>");
        put_time(b, dash_jstr(it, "created_at"));
        dash_put(b, "</td><td>");
        dash_esc(b, dash_jstr(it, "environment"));
        dash_put(b, "</td><td>");
        dash_esc(b, dash_jstr(it, "method"));
        dash_put(b, "</td><td>");
        json_t *sc = json_object_get(it, "status_code");
        if (json_is_integer(sc))
            dash_put_int(b, (long long)json_integer_value(sc));
        const char *outcome = dash_jstr(it, "outcome");
        if (outcome) {
            dash_put(b, " ");
            dash_esc(b, outcome);
        }
        dash_put(b, "</td><td>");
        json_t *lat = json_object_get(it, "latency_ms");
        if (json_is_integer(lat)) {
            dash_put_int(b, (long long)json_integer_value(lat));
            dash_put(b, " ms");
        }
        dash_put(b, "</td><td>");
        dash_esc(b, dash_jstr(it, "caller"));
        dash_put(b, "</td></tr>\n");
    }
    dash_put(b, "</tbody></table></div>\n");
}

static void state_sections(struct strbuf *b, struct dash_req *d, const struct ep_state *s, bool active)
{
    dash_put(b, "<h2 id=\"pause\">Pause or resume</h2>\n");
    char *act = action_path(s->id, active ? "pause" : "resume");
    if (active) {
        dash_put(b, "<p>A paused endpoint keeps its records and keys, but every call to it, in both environments, "
                    "is refused (403 <code>endpoint_inactive</code>) until you resume it.</p>\n");
        dash_form_open(b, d, act);
        dash_password_input(b, "pw-pause");
        dash_put(b, "<button type=\"submit\" class=\"danger\">Pause this endpoint</button>\n</form>\n");
    } else {
        dash_put(b, "<p>This endpoint is paused: calls to it are refused. Resuming lets them through again.</p>\n");
        dash_form_open(b, d, act);
        dash_put(b, "<button type=\"submit\">Resume this endpoint</button>\n</form>\n");
    }
    free(act);
    dash_put(b, "<h2 id=\"sandbox\">Sandbox data</h2>\n<p>Clearing deletes every record of the sandbox at once; "
                "production records, call logs and keys stay.</p>\n");
    act = action_path(s->id, "clear-sandbox");
    dash_form_open(b, d, act);
    free(act);
    dash_password_input(b, "pw-clear-sandbox");
    dash_put(b, "<button type=\"submit\" class=\"danger\">Clear the sandbox records</button>\n</form>\n");
}

static void delete_section(struct strbuf *b, struct dash_req *d, const struct ep_state *s, const char *name)
{
    dash_put(b, "<h2 id=\"delete\">Delete this endpoint</h2>\n<p>Deleting removes the endpoint, its records, its "
                "owner and collaboration keys and its webhooks at once; calls with its keys are refused. Call logs "
                "and archive files stay (delete archives on <a href=\"/archives\">Archives</a>). This cannot be "
                "undone.</p>\n");
    char *act = action_path(s->id, "delete");
    dash_form_open(b, d, act);
    free(act);
    dash_put(b, "<label for=\"confirm_name\">Type the endpoint's name, <strong>");
    dash_esc(b, name);
    dash_put(b, "</strong>, to confirm</label>\n<input type=\"text\" id=\"confirm_name\" name=\"confirm_name\" "
                "required maxlength=\"256\" autocomplete=\"off\">\n");
    dash_password_input(b, "pw-delete");
    dash_put(b, "<button type=\"submit\" class=\"danger\">Delete this endpoint</button>\n</form>\n");
}

static void on_detail(struct dash_req *d, const struct dash_answer *a)
{
    struct ep_state *s = d->state;
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    json_t *ep = json_object_get(a->result, "endpoint");
    const char *name = dash_jstr(ep, "name");
    if (!name) {
        dash_error(d, 503, "This is not available right now. Try again in a minute.");
        return;
    }
    json_t *sandbox = json_object_get(ep, "sandbox"), *prod = json_object_get(ep, "production");
    long long pv = (long long)json_integer_value(json_object_get(prod, "version"));
    struct strbuf b;
    sb_init(&b, 16384);
    if (s->message)
        dash_notice(&b, "msg", s->message);
    dash_put(&b, "<p><a href=\"/dashboard\">← All APIs</a></p>\n<dl>\n<dt>Slug</dt><dd><code>");
    dash_esc(&b, dash_jstr(ep, "slug"));
    dash_put(&b, "</code></dd>\n<dt>Status</dt><dd>");
    if (!json_is_true(json_object_get(ep, "active"))) {
        dash_put(&b, "inactive");
    } else if (pv > 0) {
        dash_put(&b, "deployed (production v");
        dash_put_int(&b, pv);
        dash_put(&b, ")");
    } else {
        dash_put(&b, "draft (not deployed)");
    }
    if (json_is_true(json_object_get(ep, "has_undeployed_changes")))
        dash_put(&b, "; the sandbox has changes not deployed yet");
    dash_put(&b, "</dd>\n");
    const char *desc = dash_jstr(ep, "description");
    if (desc && *desc) {
        dash_put(&b, "<dt>Description</dt><dd>");
        dash_esc(&b, desc);
        dash_put(&b, "</dd>\n");
    }
    dash_put(&b, "<dt>Created</dt><dd>");
    put_time(&b, dash_jstr(ep, "created_at"));
    dash_put(&b, "</dd>\n</dl>\n");

    keys_section(&b, d, s, ep, json_object_get(a->result, "webhook_secrets"));

    dash_put(&b, "<h2 id=\"fields\">Fields</h2>\n");
    char cap[96];
    snprintf(cap, sizeof cap, "Sandbox (draft, version %lld)",
             (long long)json_integer_value(json_object_get(sandbox, "version")));
    fields_table(&b, cap, json_object_get(sandbox, "fields"));
    if (pv > 0) {
        snprintf(cap, sizeof cap, "Production (version %lld)", pv);
        fields_table(&b, cap, json_object_get(prod, "fields"));
    } else {
        dash_put(&b, "<p>Production: not deployed yet.</p>\n");
    }

    deploys_section(&b, json_object_get(a->result, "deployments"));
    calls_section(&b, json_object_get(a->result, "calls"));
    dash_put(&b, "<h2 id=\"collaborators\">Collaboration keys</h2>\n<p><a href=\"/dashboard/endpoints/");
    dash_esc(&b, s->id);
    dash_put(&b, "/collaborators\">Manage collaboration keys and invitations</a></p>\n");
    state_sections(&b, d, s, json_is_true(json_object_get(ep, "active")));
    delete_section(&b, d, s, name);
    int status = s->message ? s->status : 200;
    dash_render_sb(d, status, name, &b);
}

/* A secret left by the previous POST for this endpoint (see the top); the cookie is cleared. */
static void take_revealed(struct dash_req *d, struct ep_state *s)
{
    char *tag;
    char *secret = dash_reveal_take(d, &tag);
    if (!secret)
        return;
    /* tag: <endpoint id>.<what>.<environment> */
    char id[40], what[16], env[16];
    const char *label = NULL;
    if (sscanf(tag, "%39[^.].%15[^.].%15s", id, what, env) == 3 && !strcmp(id, s->id) &&
        (!strcmp(env, "sandbox") || !strcmp(env, "production")))
        label = !strcmp(what, "key")       ? "owner key"
                : !strcmp(what, "newkey")  ? "new owner key"
                : !strcmp(what, "webhook") ? "webhook signing secret"
                                           : NULL;
    if (label) {
        s->shown = secret;
        s->shown_what = xasprintf("The %s %s%s", env, label,
                                  !strcmp(what, "newkey") ? " (the old one no longer works)" : "");
    } else {
        secret_free(secret);
    }
    free(tag);
}

/* Shows the detail page of s->id (after a refused action too: s->message). */
static void show_detail(struct dash_req *d)
{
    struct ep_state *s = d->state;
    dash_call(d, "endpoints.detail", json_pack("{s:s}", "endpoint_id", s->id), on_detail);
}

/* A refused action: the page again, with why. */
static void refused(struct dash_req *d, const struct dash_answer *a)
{
    struct ep_state *s = d->state;
    if (!dash_fail_or_keep(d, a, &s->status, &s->message))
        show_detail(d);
}

static void on_sealed(struct dash_req *d, const struct dash_answer *a, const char *what, const char *flash)
{
    struct ep_state *s = d->state;
    if (!a->ok) {
        refused(d, a);
        return;
    }
    const char *sealed = dash_jstr(a->result, "sealed"), *env = dash_jstr(a->result, "environment");
    char *tag = env && strlen(env) < 16 ? xasprintf("%s.%s.%s", s->id, what, env) : NULL;
    bool set = tag && dash_reveal_set(d, tag, sealed);
    free(tag);
    if (!set) {
        dash_error(d, 503, "This is not available right now. Try again in a minute.");
        return;
    }
    char *back = xasprintf("/dashboard/endpoints/%s", s->id);
    dash_redirect(d, back, flash);
    free(back);
}

static void on_reveal(struct dash_req *d, const struct dash_answer *a)
{
    const char *secret = a->ok ? dash_jstr(a->result, "secret") : NULL;
    on_sealed(d, a, secret && !strcmp(secret, "webhook") ? "webhook" : "key",
              "Revealed below, once. The reveal is recorded in the audit log.");
}

static void on_regenerate(struct dash_req *d, const struct dash_answer *a)
{
    on_sealed(d, a, "newkey", "A new key was made; the old one stopped working. It is shown below, once.");
}

static void on_delete(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        refused(d, a);
        return;
    }
    const char *name = dash_jstr(a->result, "name");
    /* The flash keeps 240 bytes: a long name (64 characters of up to 4 bytes) is left out rather than cut. */
    char *msg = name && strlen(name) <= 150 ? xasprintf("The endpoint \"%s\" was deleted.", name)
                                            : xstrdup("The endpoint was deleted.");
    dash_redirect(d, "/dashboard", msg);
    free(msg);
}

static void on_set_active(struct dash_req *d, const struct dash_answer *a)
{
    struct ep_state *s = d->state;
    if (!a->ok) {
        refused(d, a);
        return;
    }
    char *back = xasprintf("/dashboard/endpoints/%s", s->id);
    dash_redirect(d, back, json_is_true(json_object_get(a->result, "active"))
                               ? "The endpoint is active: calls go through again."
                               : "The endpoint is paused: calls to it are refused until you resume it.");
    free(back);
}

static void on_clear_sandbox(struct dash_req *d, const struct dash_answer *a)
{
    struct ep_state *s = d->state;
    if (!a->ok) {
        refused(d, a);
        return;
    }
    char msg[96];
    snprintf(msg, sizeof msg, "The sandbox was cleared: %lld records deleted.",
             (long long)json_integer_value(json_object_get(a->result, "records")));
    char *back = xasprintf("/dashboard/endpoints/%s", s->id);
    dash_redirect(d, back, msg);
    free(back);
}

static const char *env_field(struct dash_req *d)
{
    const char *env = dash_form(d, "environment");
    return env && (!strcmp(env, "sandbox") || !strcmp(env, "production")) ? env : NULL;
}

static const char *password_field(struct dash_req *d)
{
    return dash_form_or_empty(d, "password", PASSWORD_MAX);
}

/* Pages of other modules below /dashboard/endpoints/{id}/ (one prefix row in dash.c serves the whole tree):
 * the path after the id is `suffix` or starts with `suffix` + "/". Their function gets d as if its own row
 * were the prefix "/dashboard/endpoints/": d->rest is "{id}" + what follows, the id already checked to be a
 * UUID (not yet that it is the account's). */
static const struct {
    const char *suffix;
    dash_page_fn fn;
} SUBPAGES[] = {
    {"/collaborators", dash_page_collab},   /* collaboration keys (dash_collab.c) */
    {NULL, NULL},
};

/* /dashboard/endpoints/{id}[/reveal|/regenerate|/pause|/resume|/clear-sandbox|/delete|a SUBPAGES suffix] */
void dash_page_endpoint(struct dash_req *d)
{
    const char *rest = d->rest;
    char id[40];
    size_t n = strcspn(rest, "/");
    if (n != 36) {
        dash_error(d, 404, "There is no such endpoint in your account.");
        return;
    }
    memcpy(id, rest, 36);
    id[36] = '\0';
    const char *action = rest + 36;
    if (!is_uuid(id)) {
        dash_error(d, 404, "There is no such endpoint in your account.");
        return;
    }
    for (size_t i = 0; SUBPAGES[i].suffix; i++) {
        size_t n = strlen(SUBPAGES[i].suffix);
        if (!strncmp(action, SUBPAGES[i].suffix, n) && (action[n] == '\0' || action[n] == '/')) {
            SUBPAGES[i].fn(d);
            return;
        }
    }
    struct ep_state *s = ep_state(d, id);
    bool post = d->method == EVHTTP_REQ_POST;
    if (!*action) {
        if (post) {
            dash_error(d, 405, "Use the forms on the endpoint's page.");
            return;
        }
        if (evhttp_request_get_command(d->req) == EVHTTP_REQ_GET)   /* a HEAD does not use it up */
            take_revealed(d, s);
        show_detail(d);
        return;
    }
    if (!strcmp(action, "/reveal") || !strcmp(action, "/regenerate") || !strcmp(action, "/delete") ||
        !strcmp(action, "/pause") || !strcmp(action, "/resume") || !strcmp(action, "/clear-sandbox")) {
        if (!post) {
            char *back = xasprintf("/dashboard/endpoints/%s", id);
            dash_redirect(d, back, NULL);
            free(back);
            return;
        }
    } else {
        dash_error(d, 404, "There is no such page.");
        return;
    }
    if (!strcmp(action, "/pause") || !strcmp(action, "/resume")) {
        bool resume = !strcmp(action, "/resume");
        json_t *args = json_pack("{s:s, s:b}", "endpoint_id", id, "active", resume);
        if (!resume)
            json_object_set_new(args, "password", json_string(password_field(d)));
        dash_call(d, "endpoints.set_active", args, on_set_active);
        return;
    }
    if (!strcmp(action, "/clear-sandbox")) {
        dash_call(d, "endpoints.clear_sandbox",
                  json_pack("{s:s, s:s}", "endpoint_id", id, "password", password_field(d)), on_clear_sandbox);
        return;
    }
    const char *env = env_field(d);
    if (!strcmp(action, "/delete")) {
        const char *confirm = dash_form(d, "confirm_name");
        if (!confirm || strlen(confirm) > NAME_MAX_BYTES)
            confirm = "";
        dash_call(d, "endpoints.delete",
                  json_pack("{s:s, s:s, s:s}", "endpoint_id", id, "confirm_name", confirm, "password",
                            password_field(d)),
                  on_delete);
        return;
    }
    if (!env) {
        dash_error(d, 400, "The form was not understood.");
        return;
    }
    char *rk = dash_reveal_reply_key(d);
    if (!strcmp(action, "/reveal")) {
        const char *what = dash_form(d, "secret");
        if (!what || (strcmp(what, "key") && strcmp(what, "webhook"))) {
            secret_free(rk);
            dash_error(d, 400, "The form was not understood.");
            return;
        }
        dash_call(d, "endpoints.reveal",
                  json_pack("{s:s, s:s, s:s, s:s, s:s}", "endpoint_id", id, "environment", env, "secret", what,
                            "password", password_field(d), "reply_key", rk),
                  on_reveal);
    } else {
        dash_call(d, "endpoints.regenerate_key",
                  json_pack("{s:s, s:s, s:s, s:s}", "endpoint_id", id, "environment", env, "password",
                            password_field(d), "reply_key", rk),
                  on_regenerate);
    }
    secret_free(rk);
}
