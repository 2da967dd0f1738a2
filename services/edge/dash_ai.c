/*
 * dash_ai — Settings → AI Integration (docs/DASHBOARD.md): the account's
 * MCP API keys (list, create, rename, regenerate, delete) and its connected
 * apps (OAuth grants: list, revoke).
 *
 *   GET  /settings/ai                        keys, the create form, connected apps
 *   POST /settings/ai/keys                   create a key
 *   GET  /settings/ai/new-key                the new key, once, with client configurations
 *   GET  /settings/ai/keys/{id}              one key: rename, regenerate, delete
 *   POST /settings/ai/keys/{id}/rename|regenerate|delete
 *   GET  /settings/ai/apps/{id}              one connected app: revoke
 *   POST /settings/ai/apps/{id}/revoke
 *
 * New keys are generated here, on the edge (common/mcpkey.c): the worker
 * gets only the SHA-256 and the display prefix, so the key text is never
 * stored anywhere, not even in the idempotency record of the request. To
 * show it once after the redirect (Post/Redirect/Get) without putting it in
 * a URL, the redirect sets a cookie that only /settings/ai/new-key receives
 * (HttpOnly, SameSite=Strict, 2 minutes) holding the key id and the key
 * sealed like the other pages' secrets shown once (dash_reveal_*: secretbox
 * with a key derived from the session token), so the browser's cookie store,
 * a proxy or a log of request headers never holds a usable key, and the
 * cookie opens only with the session that created the key. The page clears
 * it whatever happens, so reloading it shows the key no more, and checks
 * that the id is a live key of the signed-in account whose prefix matches,
 * so a planted cookie cannot display anything else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/keybox.h"
#include "common/mcpkey.h"
#include "common/util.h"
#include "services/edge/dash.h"
#include "services/edge/edge_http.h"
#include "services/edge/web_session.h"

#define NAME_MAX_CHARS 64
#define PASSWORD_MAX 1024
#define NEWKEY_PATH "/settings/ai/new-key"
#define NEWKEY_MAX_AGE 120

/* Page-local styles (the CSP allows inline styles, not scripts): text only
 * for screen readers, a masked key on one line, copyable blocks that wrap on
 * a phone. */
#define SCROLL_BOX "<div class=\"table\" style=\"position:relative\">"   /* holds SR_ONLY spans */
#define SR_ONLY "<span style=\"position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)\">"
#define KEY_CODE "<code style=\"white-space:nowrap\">"
#define PRE_STYLE "background:#f5f6f8;border:1px solid #d0d5db;border-radius:.4rem;padding:.75rem;" \
                  "white-space:pre-wrap;word-break:break-all"

/* ---- small pieces ------------------------------------------------------------ */

/* A failed action: the worker's message and a way back (status from the code). */
static void fail_back(struct dash_req *d, const struct dash_answer *a, const char *back)
{
    int st = dash_status_of(a->code);
    struct strbuf b;
    sb_init(&b, 512);
    dash_notice(&b, "msg", st == 503 || !a->message ? "This is not available right now. Try again in a minute."
                                                    : a->message);
    dash_put(&b, "<p>Nothing was changed. <a href=\"");
    dash_esc(&b, back);
    dash_put(&b, "\">Back</a></p>\n");
    dash_render_sb(d, st, st == 404 ? "Not found" : st == 403 ? "Not allowed" : "Something went wrong", &b);
}

/* "2026-11-27T11:25:00Z" -> "2026-11-27 11:25 UTC"; null -> "never". */
static void put_time(struct strbuf *b, const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) < 16) {
        dash_put(b, "never");
        return;
    }
    char t[32];
    snprintf(t, sizeof t, "%.10s %.5s UTC", s, s + 11);
    dash_esc(b, t);
}

static void put_scopes(struct strbuf *b, const json_t *scopes)
{
    size_t i;
    json_t *s;
    json_array_foreach(scopes, i, s)
    {
        if (i)
            dash_put(b, ", ");
        dash_esc(b, json_string_value(s));
    }
}

/* The id in d->rest ("{uuid}" or "{uuid}/{action}") into id; the action or "". */
static const char *split_rest(const struct dash_req *d, char id[40])
{
    const char *slash = strchr(d->rest, '/');
    size_t n = slash ? (size_t)(slash - d->rest) : strlen(d->rest);
    if (n != 36)
        return NULL;
    memcpy(id, d->rest, n);
    id[n] = '\0';
    if (!is_uuid(id))
        return NULL;
    return slash ? slash + 1 : "";
}

static const char *form_password(struct dash_req *d)
{
    const char *pw = dash_form(d, "password");
    return pw && strlen(pw) <= PASSWORD_MAX ? pw : "";
}

/* ---- the new key's cookie -------------------------------------------------------- */

static const char *newkey_cookie(const struct dash_req *d)
{
    return strncmp(d->e->cfg->public_url, "https://", 8) ? "tm_newkey" : "__Secure-tm_newkey";
}

static void newkey_cookie_put(struct dash_req *d, const char *value, int max_age)
{
    bool https = !strncmp(d->e->cfg->public_url, "https://", 8);
    char *c = xasprintf("%s=%s; Path=" NEWKEY_PATH "; Max-Age=%d; HttpOnly; SameSite=Strict%s", newkey_cookie(d),
                        value, max_age, https ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(d->req), "Set-Cookie", c);
    free(c);
}

/* Keeps the new key for the new-key page: "<id>.<key sealed for this session>" (see the top). False if the
 * value could not be made (then nothing is set). */
static bool newkey_set(struct dash_req *d, const char *id, const char *key)
{
    uint8_t k[KEYBOX_KEY_LEN];
    struct keybox kb;
    dash_reveal_key(d->session, k);
    keybox_from_bytes(&kb, k);
    size_t n;
    uint8_t *box = keybox_seal(&kb, key, strlen(key), &n);
    char *sealed = b64url_encode(box, n);
    char *v = dash_reveal_cookie_value(id, sealed);
    free(box);
    free(sealed);
    sodium_memzero(&kb, sizeof kb);
    sodium_memzero(k, sizeof k);
    if (!v)
        return false;
    newkey_cookie_put(d, v, NEWKEY_MAX_AGE);
    free(v);
    return true;
}

static void newkey_clear(struct dash_req *d)
{
    newkey_cookie_put(d, "", 0);
}

/* ---- the AI integration page -------------------------------------------------------- */

static void put_keys(struct strbuf *b, const json_t *items)
{
    if (!json_array_size(items)) {
        dash_put(b, "<p>No keys yet. Create one below to connect Claude Code, Cursor or another MCP client.</p>\n");
        return;
    }
    dash_put(b, SCROLL_BOX "<table>\n<caption class=\"muted\">Keys are shown once, when created; "
                "only their first characters are kept for display.</caption>\n"
                "<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Key</th><th scope=\"col\">Scopes</th>"
                "<th scope=\"col\">Created</th><th scope=\"col\">Last used</th><th scope=\"col\">"
                "Manage</th></tr></thead>\n<tbody>\n");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *name = json_string_value(json_object_get(it, "name"));
        dash_put(b, "<tr><th scope=\"row\">");
        dash_esc(b, name);
        dash_put(b, "</th><td>" KEY_CODE);
        dash_esc(b, json_string_value(json_object_get(it, "prefix")));
        dash_put(b, "…</code></td><td>");
        put_scopes(b, json_object_get(it, "scopes"));
        dash_put(b, "</td><td>");
        put_time(b, json_object_get(it, "created_at"));
        dash_put(b, "</td><td>");
        put_time(b, json_object_get(it, "last_used_at"));
        dash_put(b, "</td><td><a href=\"/settings/ai/keys/");
        dash_esc(b, id);
        dash_put(b, "\">Manage" SR_ONLY " key ");
        dash_esc(b, name);
        dash_put(b, "</span></a></td></tr>\n");
    }
    dash_put(b, "</tbody></table></div>\n");
}

static void put_create_form(struct strbuf *b, const struct dash_req *d)
{
    dash_put(b, "<h3>Create a key</h3>\n");
    dash_form_open(b, d, "/settings/ai/keys");
    dash_put(b, "<label for=\"key_name\">Name</label>\n<input type=\"text\" id=\"key_name\" name=\"name\" required "
                "maxlength=\"64\" placeholder=\"laptop\" aria-describedby=\"key_name_help\">\n"
                "<p class=\"muted\" id=\"key_name_help\">Where the key is used, e.g. \"Claude Code on my laptop\".</p>\n"
                "<fieldset><legend>Scopes</legend>\n"
                "<label><input type=\"checkbox\" name=\"scope\" value=\"read\" checked> read "
                "<span class=\"muted\">(list and look at APIs, logs, stats, subscription)</span></label>\n"
                "<label><input type=\"checkbox\" name=\"scope\" value=\"write\" checked> write "
                "<span class=\"muted\">(create, change and deploy APIs; collaborators)</span></label>\n"
                "<label><input type=\"checkbox\" name=\"scope\" value=\"execute\" checked> execute "
                "<span class=\"muted\">(call your APIs through the gateway)</span></label>\n"
                "</fieldset>\n<button type=\"submit\">Create key</button>\n</form>\n");
}

static void put_apps(struct strbuf *b, const json_t *items)
{
    if (!json_array_size(items)) {
        dash_put(b, "<p>No apps are connected. Apps such as Claude on the web connect with OAuth: you approve "
                    "them on a consent page, and they appear here.</p>\n");
        return;
    }
    dash_put(b, SCROLL_BOX "<table>\n<thead><tr><th scope=\"col\">App</th><th scope=\"col\">Redirects to"
                "</th><th scope=\"col\">Scopes</th><th scope=\"col\">Connected</th><th scope=\"col\">Last used</th>"
                "<th scope=\"col\">Revoke</th></tr></thead>\n<tbody>\n");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *name = json_string_value(json_object_get(it, "client_name"));
        if (!name || !*name)
            name = json_string_value(json_object_get(it, "client_id"));
        dash_put(b, "<tr><th scope=\"row\">");
        dash_esc(b, name);
        dash_put(b, "</th><td>");
        dash_esc(b, json_string_value(json_object_get(it, "redirect_host")));
        dash_put(b, "</td><td>");
        put_scopes(b, json_object_get(it, "scopes"));
        dash_put(b, "</td><td>");
        put_time(b, json_object_get(it, "created_at"));
        dash_put(b, "</td><td>");
        put_time(b, json_object_get(it, "last_used_at"));
        dash_put(b, "</td><td><a href=\"/settings/ai/apps/");
        dash_esc(b, json_string_value(json_object_get(it, "id")));
        dash_put(b, "\">Revoke" SR_ONLY " ");
        dash_esc(b, name);
        dash_put(b, "</span></a></td></tr>\n");
    }
    dash_put(b, "</tbody></table></div>\n");
}

static void on_apps(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    json_t *keys = d->state;
    struct strbuf b;
    sb_init(&b, 8192);
    dash_put(&b, "<p>AI assistants reach your APIs through the MCP server at <code>");
    dash_esc(&b, d->e->cfg->public_url);
    dash_put(&b, "/api/mcp</code>. Claude Code, Cursor and scripts use an API key; apps such as Claude on the web "
                 "connect with OAuth and are listed under Connected apps.</p>\n"
                 "<h2 id=\"keys\">MCP API keys</h2>\n");
    put_keys(&b, json_object_get(keys, "items"));
    put_create_form(&b, d);
    dash_put(&b, "<h2 id=\"apps\">Connected apps</h2>\n");
    put_apps(&b, json_object_get(a->result, "items"));
    dash_render_sb(d, 200, "AI Integration", &b);
}

static void free_json(void *p)
{
    json_decref(p);
}

static void on_keys(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    d->state = json_incref(a->result);
    d->state_free = free_json;
    dash_call(d, "apps.list", NULL, on_apps);
}

void dash_page_ai(struct dash_req *d)
{
    dash_call(d, "mcpkeys.list", NULL, on_keys);
}

/* ---- creating and regenerating: the key goes to the new-key page ------------------------ */

static void free_key(void *p)
{
    mcpkey_wipe(p);
    free(p);
}

static void on_key_made(struct dash_req *d, const struct dash_answer *a, const char *back, const char *flash)
{
    struct mcpkey *k = d->state;
    const char *id = json_string_value(json_object_get(a->result, "id"));
    if (!a->ok || !id || !is_uuid(id)) {
        if (a->ok)
            dash_error(d, 503, "This is not available right now. Try again in a minute.");
        else
            fail_back(d, a, back);
        return;
    }
    if (!newkey_set(d, id, k->key)) {
        dash_error(d, 503, "This is not available right now. Try again in a minute.");
        return;
    }
    dash_redirect(d, NEWKEY_PATH, flash);
}

static void on_created(struct dash_req *d, const struct dash_answer *a)
{
    on_key_made(d, a, "/settings/ai", "Key created.");
}

void dash_page_ai_key_create(struct dash_req *d)
{
    const char *name = dash_form(d, "name");
    json_t *scopes = json_array();
    for (int i = 0; i < d->form.n; i++)
        if (!strcmp(d->form.key[i], "scope") && json_array_size(scopes) < 3)
            json_array_append_new(scopes, json_string(d->form.val[i]));
    if (!name || !*name || strlen(name) > 4 * NAME_MAX_CHARS) {
        json_decref(scopes);
        struct dash_answer a = {.ok = false, .code = TM_ERR_INVALID_ARGUMENT,
                                .message = "Give the key a name of at most 64 characters."};
        fail_back(d, &a, "/settings/ai");
        return;
    }
    struct mcpkey *k = xmalloc(sizeof *k);
    mcpkey_new(k);
    d->state = k;
    d->state_free = free_key;
    dash_call(d, "mcpkeys.create",
              json_pack("{s:s, s:o, s:s, s:s}", "name", name, "scopes", scopes, "key_hash", k->hash_hex, "prefix",
                        k->prefix),
              on_created);
}

/* ---- the new key, once ------------------------------------------------------------------ */

struct newkey {
    char id[40];
    char key[MCPKEY_LEN + 1];
};

static void free_newkey(void *p)
{
    sodium_memzero(p, sizeof(struct newkey));
    free(p);
}

static void put_snippet(struct strbuf *b, const char *id, const char *label, const char *text)
{
    dash_put(b, "<h3 id=\"");
    dash_put(b, id);
    dash_put(b, "-h\">");
    dash_put(b, label);
    dash_put(b, "</h3>\n<pre aria-labelledby=\"");
    dash_put(b, id);
    dash_put(b, "-h\" id=\"");
    dash_put(b, id);
    dash_put(b, "\" style=\"" PRE_STYLE "\"><code>");
    dash_esc(b, text);
    dash_put(b, "</code></pre>\n");
}

static void on_newkey(struct dash_req *d, const struct dash_answer *a)
{
    struct newkey *nk = d->state;
    const char *prefix = json_string_value(json_object_get(a->result, "prefix"));
    if (!a->ok || !prefix || strncmp(prefix, nk->key, MCPKEY_PREFIX_LEN) != 0) {
        if (a->ok || a->code == TM_ERR_NOT_FOUND)
            dash_error(d, 404, "This key is not available any more. Keys are shown once; regenerate it if you "
                               "lost it.");
        else
            dash_fail(d, a);
        return;
    }
    const char *url = d->e->cfg->public_url;
    struct strbuf b;
    sb_init(&b, 4096);
    dash_put(&b, "<p class=\"ok\" role=\"status\">Copy this key now: it is shown only once. It is stored as a hash, "
                 "so nobody can show it to you again; if you lose it, regenerate it.</p>\n"
                 "<p>Key <strong>");
    dash_esc(&b, json_string_value(json_object_get(a->result, "name")));
    dash_put(&b, "</strong> (scopes ");
    put_scopes(&b, json_object_get(a->result, "scopes"));
    dash_put(&b, "):</p>\n");
    put_snippet(&b, "key", "API key", nk->key);

    char *claude = xasprintf("claude mcp add --transport http 3minapi %s/api/mcp \\\n"
                             "  --header \"Authorization: Bearer %s\"",
                             url, nk->key);
    put_snippet(&b, "claude", "Claude Code", claude);
    secret_free(claude);
    dash_put(&b, "<p class=\"muted\">Run it in a terminal; <code>claude mcp list</code> then shows the server.</p>\n");

    json_t *cfg = json_pack("{s:{s:{s:s+, s:{s:s+}}}}", "mcpServers", "3minapi", "url", url, "/api/mcp", "headers",
                            "Authorization", "Bearer ", nk->key);
    char *cursor = json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(cfg);
    put_snippet(&b, "cursor", "Cursor (~/.cursor/mcp.json, or .cursor/mcp.json in a project)", cursor);
    secret_free(cursor);

    dash_put(&b, "<p class=\"muted\">Any other MCP client: Streamable HTTP at <code>");
    dash_esc(&b, url);
    dash_put(&b, "/api/mcp</code> with the header <code>Authorization: Bearer &lt;key&gt;</code>.</p>\n"
                 "<p><a href=\"/settings/ai\">Back to AI Integration</a></p>\n");
    dash_render_sb(d, 200, "Your new MCP API key", &b);
}

void dash_page_ai_new_key(struct dash_req *d)
{
    char *v = oauth_cookie_get(http_header(d->req, "Cookie"), newkey_cookie(d));
    newkey_clear(d);   /* shown once: cleared whatever happens next */
    char *id = NULL;
    char *key = v && *v ? dash_reveal_open_value(v, d->session, &id) : NULL;
    bool planted = v && *v && !key;   /* not sealed for this session: another's, or made up */
    if (v) {
        secret_free(v);
    }
    if (planted) {
        dash_error(d, 404, "This key is not available any more.");
        return;
    }
    if (!key) {
        free(id);
        struct strbuf b;
        sb_init(&b, 512);
        dash_put(&b, "<p>There is no new key to show. Keys are shown once, right after they are created or "
                     "regenerated; if you lost one, regenerate it.</p>\n<p><a href=\"/settings/ai\">Back to AI "
                     "Integration</a></p>\n");
        dash_render_sb(d, 200, "Your new MCP API key", &b);
        return;
    }
    struct newkey *nk = xcalloc(1, sizeof *nk);
    bool shaped = strlen(id) == 36 && strlen(key) == MCPKEY_LEN;
    if (shaped) {
        memcpy(nk->id, id, 36);
        memcpy(nk->key, key, MCPKEY_LEN);
    }
    secret_free(key);
    free(id);
    d->state = nk;
    d->state_free = free_newkey;
    if (!shaped || !is_uuid(nk->id) || !mcpkey_shape_ok(nk->key)) {
        dash_error(d, 404, "This key is not available any more.");
        return;
    }
    dash_call(d, "mcpkeys.get", json_pack("{s:s}", "id", nk->id), on_newkey);
}

/* ---- one key ------------------------------------------------------------------------------ */

static void key_page(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    const char *id = json_string_value(json_object_get(a->result, "id"));
    const char *name = json_string_value(json_object_get(a->result, "name"));
    char action[128];
    struct strbuf b;
    sb_init(&b, 4096);
    dash_put(&b, "<div class=\"table\"><table>\n<tbody>\n<tr><th scope=\"row\">Name</th><td>");
    dash_esc(&b, name);
    dash_put(&b, "</td></tr>\n<tr><th scope=\"row\">Key</th><td><code>");
    dash_esc(&b, json_string_value(json_object_get(a->result, "prefix")));
    dash_put(&b, "…</code></td></tr>\n<tr><th scope=\"row\">Scopes</th><td>");
    put_scopes(&b, json_object_get(a->result, "scopes"));
    dash_put(&b, "</td></tr>\n<tr><th scope=\"row\">Created</th><td>");
    put_time(&b, json_object_get(a->result, "created_at"));
    dash_put(&b, "</td></tr>\n<tr><th scope=\"row\">Last used</th><td>");
    put_time(&b, json_object_get(a->result, "last_used_at"));
    dash_put(&b, " <span class=\"muted\">(updated at most once a minute)</span></td></tr>\n</tbody></table></div>\n");

    dash_put(&b, "<h2>Rename</h2>\n");
    snprintf(action, sizeof action, "/settings/ai/keys/%s/rename", id);
    dash_form_open(&b, d, action);
    dash_put(&b, "<label for=\"name\">New name</label>\n<input type=\"text\" id=\"name\" name=\"name\" required "
                 "maxlength=\"64\" value=\"");
    dash_esc(&b, name);
    dash_put(&b, "\">\n<button type=\"submit\">Rename</button>\n</form>\n");

    dash_put(&b, "<h2>Regenerate</h2>\n<p>Makes a new key for this entry (same name and scopes) and shows it once. "
                 "The current key stops working within 30 seconds: update every client that uses it.</p>\n");
    snprintf(action, sizeof action, "/settings/ai/keys/%s/regenerate", id);
    dash_form_open(&b, d, action);
    dash_password_input(&b, "regen_password");
    dash_put(&b, "<button type=\"submit\" class=\"danger\">Regenerate key</button>\n</form>\n");

    dash_put(&b, "<h2>Delete</h2>\n<p>Clients using this key lose access within 30 seconds.</p>\n");
    snprintf(action, sizeof action, "/settings/ai/keys/%s/delete", id);
    dash_form_open(&b, d, action);
    dash_password_input(&b, "delete_password");
    dash_put(&b, "<button type=\"submit\" class=\"danger\">Delete key</button>\n</form>\n"
                 "<p><a href=\"/settings/ai\">Back to AI Integration</a></p>\n");
    dash_render_sb(d, 200, "MCP API key", &b);
}

struct keyop {
    char back[96];
    struct mcpkey k;       /* regenerate only */
};

static void free_keyop(void *p)
{
    struct keyop *o = p;
    mcpkey_wipe(&o->k);
    free(o);
}

static void on_renamed(struct dash_req *d, const struct dash_answer *a)
{
    struct keyop *o = d->state;
    if (!a->ok) {
        fail_back(d, a, o->back);
        return;
    }
    dash_redirect(d, o->back, "Key renamed.");
}

static void on_deleted(struct dash_req *d, const struct dash_answer *a)
{
    struct keyop *o = d->state;
    if (!a->ok) {
        fail_back(d, a, o->back);
        return;
    }
    dash_redirect(d, "/settings/ai", "Key deleted. Clients using it lose access within 30 seconds.");
}

static void on_regenerated(struct dash_req *d, const struct dash_answer *a)
{
    struct keyop *o = d->state;
    const char *id = json_string_value(json_object_get(a->result, "id"));
    if (!a->ok || !id || !is_uuid(id)) {
        if (a->ok)
            dash_error(d, 503, "This is not available right now. Try again in a minute.");
        else
            fail_back(d, a, o->back);
        return;
    }
    if (!newkey_set(d, id, o->k.key)) {
        dash_error(d, 503, "This is not available right now. Try again in a minute.");
        return;
    }
    dash_redirect(d, NEWKEY_PATH, "Key regenerated. The old key stops working within 30 seconds.");
}

void dash_page_ai_key(struct dash_req *d)
{
    char id[40];
    const char *action = split_rest(d, id);
    if (!action) {
        dash_error(d, 404, "There is no such page.");
        return;
    }
    if (d->method == EVHTTP_REQ_GET) {
        if (*action) {
            dash_error(d, 404, "There is no such page.");
            return;
        }
        dash_call(d, "mcpkeys.get", json_pack("{s:s}", "id", id), key_page);
        return;
    }
    struct keyop *o = xcalloc(1, sizeof *o);
    snprintf(o->back, sizeof o->back, "/settings/ai/keys/%s", id);
    d->state = o;
    d->state_free = free_keyop;
    if (!strcmp(action, "rename")) {
        const char *name = dash_form(d, "name");
        dash_call(d, "mcpkeys.rename", json_pack("{s:s, s:s}", "id", id, "name", name ? name : ""), on_renamed);
    } else if (!strcmp(action, "delete")) {
        dash_call(d, "mcpkeys.delete", json_pack("{s:s, s:s}", "id", id, "password", form_password(d)), on_deleted);
    } else if (!strcmp(action, "regenerate")) {
        mcpkey_new(&o->k);
        dash_call(d, "mcpkeys.regenerate",
                  json_pack("{s:s, s:s, s:s, s:s}", "id", id, "password", form_password(d), "key_hash", o->k.hash_hex,
                            "prefix", o->k.prefix),
                  on_regenerated);
    } else {
        dash_error(d, 404, "There is no such page.");
    }
}

/* ---- one connected app ------------------------------------------------------------------------ */

static void app_page(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    const char *id = json_string_value(json_object_get(a->result, "id"));
    const char *name = json_string_value(json_object_get(a->result, "client_name"));
    if (!name || !*name)
        name = json_string_value(json_object_get(a->result, "client_id"));
    char action[128];
    struct strbuf b;
    sb_init(&b, 4096);
    dash_put(&b, "<div class=\"table\"><table>\n<tbody>\n<tr><th scope=\"row\">App</th><td>");
    dash_esc(&b, name);
    dash_put(&b, "</td></tr>\n<tr><th scope=\"row\">Client id</th><td><code>");
    dash_esc(&b, json_string_value(json_object_get(a->result, "client_id")));
    dash_put(&b, "</code></td></tr>\n<tr><th scope=\"row\">Redirects to</th><td>");
    dash_esc(&b, json_string_value(json_object_get(a->result, "redirect_host")));
    dash_put(&b, "</td></tr>\n<tr><th scope=\"row\">Scopes</th><td>");
    put_scopes(&b, json_object_get(a->result, "scopes"));
    dash_put(&b, "</td></tr>\n<tr><th scope=\"row\">Connected</th><td>");
    put_time(&b, json_object_get(a->result, "created_at"));
    dash_put(&b, "</td></tr>\n<tr><th scope=\"row\">Last used</th><td>");
    put_time(&b, json_object_get(a->result, "last_used_at"));
    dash_put(&b, " <span class=\"muted\">(when it last got or refreshed a token)</span></td></tr>\n"
                 "</tbody></table></div>\n<h2>Revoke access</h2>\n<p>The app's refresh tokens stop working at once "
                 "and its access tokens within 60 seconds. To use it again you will have to approve it again.</p>\n");
    snprintf(action, sizeof action, "/settings/ai/apps/%s/revoke", id);
    dash_form_open(&b, d, action);
    dash_password_input(&b, "password");
    dash_put(&b, "<button type=\"submit\" class=\"danger\">Revoke access</button>\n</form>\n"
                 "<p><a href=\"/settings/ai\">Back to AI Integration</a></p>\n");
    dash_render_sb(d, 200, "Connected app", &b);
}

static void on_revoked(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        char back[DASH_PATH_MAX];
        snprintf(back, sizeof back, "%.*s", (int)(strlen(d->path) - strlen("/revoke")), d->path);
        fail_back(d, a, back);
        return;
    }
    dash_redirect(d, "/settings/ai", "Access revoked. The app's tokens stop working within 60 seconds.");
}

void dash_page_ai_app(struct dash_req *d)
{
    char id[40];
    const char *action = split_rest(d, id);
    if (!action || (d->method == EVHTTP_REQ_GET && *action) ||
        (d->method == EVHTTP_REQ_POST && strcmp(action, "revoke"))) {
        dash_error(d, 404, "There is no such page.");
        return;
    }
    if (d->method == EVHTTP_REQ_GET)
        dash_call(d, "apps.get", json_pack("{s:s}", "id", id), app_page);
    else
        dash_call(d, "apps.revoke", json_pack("{s:s, s:s}", "id", id, "password", form_password(d)), on_revoked);
}
