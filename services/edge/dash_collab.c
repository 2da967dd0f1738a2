/*
 * dash_collab — the dashboard's collaboration keys page (docs/DASHBOARD.md,
 * "Collaboration keys and invitations"): /dashboard/endpoints/{id}/collaborators
 * lists the endpoint's collaboration keys (name, description, CRUD
 * permissions, per environment the key masked and its active flag, the
 * collaborators who accepted) and its invitations (pending, accepted,
 * expired, revoked), with the actions, each a POST to
 * /dashboard/endpoints/{id}/collaborators/{action}:
 *
 *   create       a new key (name, description, permissions)
 *   permissions  change a key's CRUD bits
 *   reveal       show one environment's key (password; audited)
 *   active       deactivate (password) or reactivate one environment's key
 *   regenerate   a new key for one environment (password; shown once)
 *   delete       the key with both environments' keys, its invitations and
 *                collaborators (password)
 *   invite       e-mail an invitation to the key
 *   revoke       a pending invitation (password)
 *
 * The worker side is services/worker/web_collab.c. dash_apis.c routes the
 * paths below /dashboard/endpoints/{id}/collaborators here (its SUBPAGES).
 *
 * Revealed and new keys reach the page after the redirect like the owner's
 * keys on the endpoint page, with the dash_reveal_* helpers (dash.h): the
 * worker answers them sealed with a reply key derived from the session
 * token, the sealed box waits in the 60-second reveal cookie tagged with
 * this endpoint, the key and the environment, and the next GET of this page
 * opens it, shows it once in that key's section and clears the cookie.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "common/util.h"
#include "services/edge/dash.h"

#define PASSWORD_MAX 1024
#define SUFFIX "/collaborators"

struct collab_state {
    char id[40];          /* the endpoint */
    int status;           /* of the page, when it shows a refused action */
    char *message;        /* the refusal, or NULL */
    char shown_key[40];   /* the key whose secret is shown */
    char *shown;          /* a revealed or new key, shown once, or NULL */
    char *shown_what;
};

static void collab_state_free(void *p)
{
    struct collab_state *s = p;
    if (!s)
        return;
    free(s->message);
    secret_free(s->shown);
    free(s->shown_what);
    free(s);
}

/* An ISO 8601 UTC time as "YYYY-MM-DD HH:MM UTC", or a dash. */
static void put_time(struct strbuf *b, const char *iso)
{
    if (!iso) {
        dash_put(b, "—");
        return;
    }
    char t[17];
    snprintf(t, sizeof t, "%s", iso);
    char *T = strchr(t, 'T');
    if (T)
        *T = ' ';
    dash_put(b, "<time datetime=\"");
    dash_esc(b, iso);
    dash_put(b, "\">");
    dash_esc(b, t);
    dash_put(b, " UTC</time>");
}

static char *page_path(const char *id, const char *action)
{
    return action ? xasprintf("/dashboard/endpoints/%s" SUFFIX "/%s", id, action)
                  : xasprintf("/dashboard/endpoints/%s" SUFFIX, id);
}

/* A form confirmed with the password (dash_confirm_form) to this page's action f.action (its name, e.g.
 * "revoke"), whose password field has a unique id built from what, id (a key or an invitation) and env (or
 * NULL). */
static void confirm_form(struct strbuf *b, const struct dash_req *d, const struct collab_state *s,
                         struct dash_confirm f, const char *what, const char *id, const char *env)
{
    char fid[128];
    snprintf(fid, sizeof fid, "pw-%s-%s%s%s", what, id, env ? "-" : "", env ? env : "");
    char *act = page_path(s->id, f.action);
    f.action = act;
    f.password_id = fid;
    dash_confirm_form(b, d, &f);
    free(act);
}

/* ---- the sealed secret after the redirect (dash_reveal_*, dash.h) ------------------------------ */

/* The secret the previous POST left for this page, tagged "collab:<endpoint id>:<key id>:<what>:<environment>". */
static void take_revealed(struct dash_req *d, struct collab_state *s)
{
    char *tag = NULL;
    char *secret = dash_reveal_take(d, &tag);
    if (!secret)
        return;
    char id[40], kid[40], what[16], env[16];
    bool ok = sscanf(tag, "collab:%39[^:]:%39[^:]:%15[^:]:%15s", id, kid, what, env) == 4 && !strcmp(id, s->id) &&
              is_uuid(kid) && (!strcmp(env, "sandbox") || !strcmp(env, "production")) &&
              (!strcmp(what, "key") || !strcmp(what, "newkey"));
    if (ok) {
        bool fresh = !strcmp(what, "newkey");
        s->shown = secret;
        snprintf(s->shown_key, sizeof s->shown_key, "%s", kid);
        s->shown_what = xasprintf("The %s %skey%s", env, fresh ? "new " : "", fresh ? " (the old one no longer works)" : "");
    } else {
        secret_free(secret);
    }
    free(tag);
}

/* ---- the page ------------------------------------------------------------------------------ */

static const char *const ENVS[] = {"sandbox", "production"};
static const char *const BITS[] = {"create", "read", "update", "delete"};
static const char *const BIT_LABEL[] = {"Create (POST)", "Read (GET)", "Update (PUT)", "Delete (DELETE)"};

static void permission_boxes(struct strbuf *b, const char *prefix, const json_t *perms)
{
    dash_put(b, "<fieldset><legend>Permissions</legend>\n");
    for (size_t i = 0; i < TM_ARRAY_LEN(BITS); i++) {
        char fid[80];
        snprintf(fid, sizeof fid, "%s-%s", prefix, BITS[i]);
        dash_put(b, "<label><input type=\"checkbox\" id=\"");
        dash_esc(b, fid);
        dash_put(b, "\" name=\"");
        dash_put(b, BITS[i]);
        dash_put(b, "\" value=\"on\"");
        if (json_is_true(json_object_get(perms, BITS[i])))
            dash_put(b, " checked");
        dash_put(b, "> ");
        dash_put(b, BIT_LABEL[i]);
        dash_put(b, "</label>\n");
    }
    dash_put(b, "</fieldset>\n");
}

static void env_actions(struct strbuf *b, struct dash_req *d, const struct collab_state *s, const char *kid,
                        const char *env, bool active)
{
    const char *const fields[] = {"key_id", kid, "environment", env, NULL};
    char *button = xasprintf("Reveal the %s key", env);
    confirm_form(b, d, s, (struct dash_confirm){.summary = "Reveal", .action = "reveal", .hidden = fields,
                                                .button = button},
                 "reveal", kid, env);
    free(button);

    if (active) {
        const char *const off[] = {"key_id", kid, "environment", env, "active", "false", NULL};
        button = xasprintf("Deactivate the %s key", env);
        confirm_form(b, d, s,
                     (struct dash_confirm){.summary = "Deactivate",
                                           .note = "Calls with this key are refused (403) until you reactivate it.",
                                           .action = "active", .hidden = off, .button = button, .danger = true},
                     "deactivate", kid, env);
        free(button);
    } else {
        char *act = page_path(s->id, "active");
        dash_form_open(b, d, act);
        free(act);
        dash_hidden(b, "key_id", kid);
        dash_hidden(b, "environment", env);
        dash_hidden(b, "active", "true");
        dash_put(b, "<button type=\"submit\">Reactivate the ");
        dash_put(b, env);
        dash_put(b, " key</button>\n</form>\n");
    }

    button = xasprintf("Regenerate the %s key", env);
    confirm_form(b, d, s,
                 (struct dash_confirm){.summary = "Regenerate",
                                       .note = "A new key replaces this one; calls with the old key are refused "
                                               "at once.",
                                       .action = "regenerate", .hidden = fields, .button = button, .danger = true},
                 "regenerate", kid, env);
    free(button);
}

static void key_section(struct strbuf *b, struct dash_req *d, const struct collab_state *s, const json_t *k)
{
    const char *kid = dash_jstr(k, "id");
    if (!kid || !is_uuid(kid))
        return;
    dash_put(b, "<section id=\"key-");
    dash_esc(b, kid);
    dash_put(b, "\" aria-labelledby=\"key-title-");
    dash_esc(b, kid);
    dash_put(b, "\">\n<h2 id=\"key-title-");
    dash_esc(b, kid);
    dash_put(b, "\">");
    dash_esc(b, dash_jstr(k, "name"));
    dash_put(b, "</h2>\n");
    const char *desc = dash_jstr(k, "description");
    if (desc && *desc) {
        dash_put(b, "<p class=\"description\">");
        dash_esc(b, desc);
        dash_put(b, "</p>\n");
    }
    if (s->shown && !strcmp(s->shown_key, kid))
        dash_shown_secret(b, s->shown_what, s->shown,
                          "Copy it now and give it to your collaborators: it is not shown again when you leave or "
                          "reload this page.");
    dash_put(b, "<div class=\"table\"><table>\n<caption>Keys of ");
    dash_esc(b, dash_jstr(k, "name"));
    dash_put(b, "</caption>\n<thead><tr><th scope=\"col\">Environment</th><th scope=\"col\">Key</th>"
                "<th scope=\"col\">Status</th><th scope=\"col\">Actions</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < TM_ARRAY_LEN(ENVS); i++) {
        json_t *e = json_object_get(k, ENVS[i]);
        const char *masked = dash_jstr(e, "masked");
        bool active = json_is_true(json_object_get(e, "active"));
        dash_put(b, "<tr><th scope=\"row\">");
        dash_put(b, ENVS[i]);
        dash_put(b, "</th><td><code>");
        dash_esc(b, masked ? masked : "—");
        dash_put(b, "</code></td><td>");
        dash_put(b, masked ? (active ? "active" : "inactive") : "—");
        dash_put(b, "</td><td>\n");
        if (masked)
            env_actions(b, d, s, kid, ENVS[i], active);
        dash_put(b, "</td></tr>\n");
    }
    dash_put(b, "</tbody></table></div>\n");

    /* permissions */
    char *act = page_path(s->id, "permissions");
    dash_form_open(b, d, act);
    free(act);
    dash_hidden(b, "key_id", kid);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "perm-%s", kid);
    permission_boxes(b, prefix, json_object_get(k, "permissions"));
    dash_put(b, "<button type=\"submit\">Save the permissions</button>\n</form>\n");

    /* collaborators */
    json_t *inv = json_object_get(k, "invitations");
    dash_put(b, "<p>");
    dash_put_int(b, (long long)json_integer_value(json_object_get(inv, "accepted")));
    dash_put(b, " accepted / ");
    dash_put_int(b, (long long)json_integer_value(json_object_get(inv, "pending")));
    dash_put(b, " pending</p>\n");
    json_t *people = json_object_get(k, "collaborators");
    if (json_array_size(people)) {
        dash_put(b, "<ul class=\"collaborators\">\n");
        size_t i;
        json_t *p;
        json_array_foreach(people, i, p)
        {
            dash_put(b, "<li>");
            dash_esc(b, dash_jstr(p, "email"));
            dash_put(b, ", joined ");
            put_time(b, dash_jstr(p, "joined_at"));
            dash_put(b, "</li>\n");
        }
        dash_put(b, "</ul>\n");
    }

    /* invite */
    act = page_path(s->id, "invite");
    dash_put(b, "<details><summary>Invite someone to this key</summary>\n");
    dash_form_open(b, d, act);
    free(act);
    dash_hidden(b, "key_id", kid);
    dash_put(b, "<label for=\"invite-email-");
    dash_esc(b, kid);
    dash_put(b, "\">E-mail address</label>\n<input type=\"email\" name=\"email\" required maxlength=\"254\" "
                "autocomplete=\"off\" id=\"invite-email-");
    dash_esc(b, kid);
    dash_put(b, "\">\n<label for=\"invite-message-");
    dash_esc(b, kid);
    dash_put(b, "\">Message (optional)</label>\n<textarea name=\"message\" maxlength=\"1000\" rows=\"3\" "
                "id=\"invite-message-");
    dash_esc(b, kid);
    dash_put(b, "\"></textarea>\n<button type=\"submit\">Send the invitation</button>\n</form></details>\n");

    /* delete */
    const char *const fields[] = {"key_id", kid, NULL};
    char *button = xasprintf("Delete the key %s", dash_jstr(k, "name") ?: "");
    confirm_form(b, d, s,
                 (struct dash_confirm){.summary = "Delete this key",
                                       .note = "Both environments' keys stop working at once; its invitations "
                                               "and collaborators are removed. Call logs keep it.",
                                       .action = "delete", .hidden = fields, .button = button, .danger = true},
                 "delete", kid, NULL);
    free(button);
    dash_put(b, "</section>\n");
}

static void invitations_section(struct strbuf *b, struct dash_req *d, const struct collab_state *s,
                                const json_t *items)
{
    dash_put(b, "<h2 id=\"invitations\">Invitations</h2>\n");
    if (!json_array_size(items)) {
        dash_put(b, "<p>No invitations yet.</p>\n");
        return;
    }
    dash_put(b, "<div class=\"table\"><table>\n<caption class=\"muted\">Newest first</caption>\n<thead><tr>"
                "<th scope=\"col\">E-mail</th><th scope=\"col\">Key</th><th scope=\"col\">Status</th>"
                "<th scope=\"col\">Invited</th><th scope=\"col\">Expires</th><th scope=\"col\">Accepted</th>"
                "<th scope=\"col\">Actions</th></tr></thead>\n<tbody>\n");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *iid = dash_jstr(it, "id"), *status = dash_jstr(it, "status");
        if (!iid || !is_uuid(iid))
            continue;
        dash_put(b, "<tr id=\"invitation-");
        dash_esc(b, iid);
        dash_put(b, "\"><th scope=\"row\">");
        dash_esc(b, dash_jstr(it, "email"));
        dash_put(b, "</th><td>");
        dash_esc(b, dash_jstr(json_object_get(it, "key"), "name"));
        dash_put(b, "</td><td class=\"status\">");
        dash_esc(b, status);
        dash_put(b, "</td><td>");
        put_time(b, dash_jstr(it, "invited_at"));
        dash_put(b, "</td><td>");
        put_time(b, dash_jstr(it, "expires_at"));
        dash_put(b, "</td><td>");
        put_time(b, dash_jstr(it, "accepted_at"));
        dash_put(b, "</td><td>\n");
        if (status && !strcmp(status, "pending")) {
            const char *const fields[] = {"invitation_id", iid, NULL};
            char *button = xasprintf("Revoke the invitation of %s", dash_jstr(it, "email") ?: "");
            confirm_form(b, d, s,
                         (struct dash_confirm){.summary = "Revoke", .action = "revoke", .hidden = fields,
                                               .button = button, .danger = true},
                         "revoke", iid, NULL);
            free(button);
        }
        dash_put(b, "</td></tr>\n");
    }
    dash_put(b, "</tbody></table></div>\n");
}

static void create_section(struct strbuf *b, struct dash_req *d, const struct collab_state *s)
{
    dash_put(b, "<h2 id=\"new-key\">New collaboration key</h2>\n<p class=\"muted\">A key has one gateway key per "
                "environment and the permissions you choose; invite people to it, and give them its keys.</p>\n");
    char *act = page_path(s->id, "create");
    dash_form_open(b, d, act);
    free(act);
    dash_put(b, "<label for=\"new-name\">Name</label>\n<input type=\"text\" id=\"new-name\" name=\"name\" required "
                "maxlength=\"64\" autocomplete=\"off\">\n<label for=\"new-description\">Description (optional)"
                "</label>\n<input type=\"text\" id=\"new-description\" name=\"description\" maxlength=\"500\" "
                "autocomplete=\"off\">\n");
    json_t *dflt = json_pack("{s:b, s:b, s:b, s:b}", "create", 1, "read", 1, "update", 0, "delete", 0);
    permission_boxes(b, "new", dflt);
    json_decref(dflt);
    dash_put(b, "<button type=\"submit\">Create the key</button>\n</form>\n");
}

static void on_list(struct dash_req *d, const struct dash_answer *a)
{
    struct collab_state *s = d->state;
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    const char *name = dash_jstr(json_object_get(a->result, "endpoint"), "name");
    if (!name) {
        dash_error(d, 503, "This is not available right now. Try again in a minute.");
        return;
    }
    struct strbuf b;
    sb_init(&b, 16384);
    if (s->message)
        dash_notice(&b, "msg", s->message);
    dash_put(&b, "<p><a href=\"/dashboard/endpoints/");
    dash_esc(&b, s->id);
    dash_put(&b, "\">← ");
    dash_esc(&b, name);
    dash_put(&b, "</a></p>\n<p class=\"muted\">Collaboration keys let other people call this endpoint through the "
                 "gateway with the permissions you give each key. Revealing, deactivating, regenerating and "
                 "deleting a key, and revoking an invitation, need your password and are recorded in the "
                 "<a href=\"/audit\">audit log</a>.</p>\n");
    json_t *keys = json_object_get(a->result, "keys");
    if (!json_array_size(keys))
        dash_put(&b, "<p>This endpoint has no collaboration keys yet.</p>\n");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
        key_section(&b, d, s, k);
    invitations_section(&b, d, s, json_object_get(a->result, "invitations"));
    create_section(&b, d, s);
    char *title = xasprintf("Collaboration keys: %s", name);
    char *body = sb_take(&b, NULL);
    dash_render(d, s->message ? s->status : 200, title, body);
    free(body);
    free(title);
}

static void show_page(struct dash_req *d)
{
    struct collab_state *s = d->state;
    dash_call(d, "collab.list", json_pack("{s:s}", "endpoint_id", s->id), on_list);
}

/* ---- actions --------------------------------------------------------------------------------- */

static void back(struct dash_req *d, const char *flash)
{
    struct collab_state *s = d->state;
    char *p = page_path(s->id, NULL);
    dash_redirect(d, p, flash);
    free(p);
}

/* A refused action: the page again with why (404 and 503 as error pages). */
static bool refused(struct dash_req *d, const struct dash_answer *a)
{
    if (a->ok)
        return false;
    struct collab_state *s = d->state;
    if (!dash_fail_or_keep(d, a, &s->status, &s->message))
        show_page(d);
    return true;
}

static void on_done(struct dash_req *d, const struct dash_answer *a)
{
    if (refused(d, a))
        return;
    const json_t *r = a->result;
    if (json_object_get(r, "revoked"))
        back(d, "The invitation was revoked; its link no longer works.");
    else if (json_object_get(r, "deleted"))
        back(d, "The collaboration key was deleted; its keys no longer work.");
    else if (json_object_get(r, "invitation"))
        back(d, json_is_true(json_object_get(r, "already_pending"))
                    ? "That address already has a pending invitation to this key."
                    : "The invitation was sent.");
    else if (json_object_get(r, "changed"))
        back(d, !json_is_true(json_object_get(r, "changed")) ? "Nothing changed."
                : json_is_true(json_object_get(r, "active"))  ? "The key was reactivated."
                                                               : "The key was deactivated; calls with it are refused.");
    else if (json_object_get(r, "secrets"))
        back(d, "The collaboration key was created. Reveal its keys to give them to your collaborators.");
    else
        back(d, "The permissions were saved.");
}

static void on_sealed(struct dash_req *d, const struct dash_answer *a)
{
    struct collab_state *s = d->state;
    if (refused(d, a))
        return;
    const char *sealed = dash_jstr(a->result, "sealed"), *env = dash_jstr(a->result, "environment"),
               *kid = dash_jstr(a->result, "key_id");
    bool fresh = dash_jstr(a->result, "masked") != NULL;
    char *tag = env && kid && is_uuid(kid) && (!strcmp(env, "sandbox") || !strcmp(env, "production"))
                    ? xasprintf("collab:%s:%s:%s:%s", s->id, kid, fresh ? "newkey" : "key", env)
                    : NULL;
    bool set = tag && sealed && dash_reveal_set(d, tag, sealed);
    free(tag);
    if (!set) {
        dash_error(d, 503, "This is not available right now. Try again in a minute.");
        return;
    }
    back(d, fresh ? "A new key was made; the old one stopped working. It is shown below, once."
                  : "Revealed below, once. The reveal is recorded in the audit log.");
}

static void add_bits(struct dash_req *d, json_t *args)
{
    for (size_t i = 0; i < TM_ARRAY_LEN(BITS); i++)
        json_object_set_new(args, BITS[i], json_boolean(dash_form(d, BITS[i]) != NULL));
}

/* /dashboard/endpoints/{id}/collaborators[/action]: d->rest is "{id}/collaborators..." (the id a UUID). */
void dash_page_collab(struct dash_req *d)
{
    const char *rest = d->rest;
    if (strlen(rest) < 36 + strlen(SUFFIX) || strncmp(rest + 36, SUFFIX, strlen(SUFFIX))) {
        dash_error(d, 404, "There is no such page.");
        return;
    }
    char id[40];
    memcpy(id, rest, 36);
    id[36] = '\0';
    if (!is_uuid(id)) {
        dash_error(d, 404, "There is no such endpoint in your account.");
        return;
    }
    const char *action = rest + 36 + strlen(SUFFIX);
    struct collab_state *s = xcalloc(1, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    d->state = s;
    d->state_free = collab_state_free;
    bool post = d->method == EVHTTP_REQ_POST;
    if (!*action) {
        if (post) {
            dash_error(d, 405, "Use the forms on the page.");
            return;
        }
        if (evhttp_request_get_command(d->req) == EVHTTP_REQ_GET)   /* a HEAD does not use it up */
            take_revealed(d, s);
        show_page(d);
        return;
    }
    static const char *const actions[] = {"/create", "/permissions", "/reveal", "/active",
                                          "/regenerate", "/delete", "/invite", "/revoke"};
    size_t which = TM_ARRAY_LEN(actions);
    for (size_t i = 0; i < TM_ARRAY_LEN(actions); i++)
        if (!strcmp(action, actions[i]))
            which = i;
    if (which == TM_ARRAY_LEN(actions)) {
        dash_error(d, 404, "There is no such page.");
        return;
    }
    if (!post) {
        back(d, NULL);
        return;
    }
    const char *kid = dash_form_or_empty(d, "key_id", 64), *env = dash_form_or_empty(d, "environment", 16);
    const char *pw = dash_form_or_empty(d, "password", PASSWORD_MAX);
    json_t *args = json_pack("{s:s}", "endpoint_id", id);
    const char *op = NULL;
    dash_cb cb = on_done;
    switch (which) {
    case 0:
        op = "collab.create_key";
        json_object_set_new(args, "name", json_string(dash_form_or_empty(d, "name", 256)));
        json_object_set_new(args, "description", json_string(dash_form_or_empty(d, "description", 2048)));
        add_bits(d, args);
        break;
    case 1:
        op = "collab.permissions";
        json_object_set_new(args, "key_id", json_string(kid));
        add_bits(d, args);
        break;
    case 2:
    case 4: {
        op = which == 2 ? "collab.reveal" : "collab.regenerate";
        cb = on_sealed;
        char *rk = dash_reveal_reply_key(d);
        json_object_set_new(args, "key_id", json_string(kid));
        json_object_set_new(args, "environment", json_string(env));
        json_object_set_new(args, "password", json_string(pw));
        json_object_set_new(args, "reply_key", json_string(rk));
        secret_free(rk);
        break;
    }
    case 3: {
        op = "collab.set_active";
        const char *on = dash_form_or_empty(d, "active", 8);
        if (strcmp(on, "true") && strcmp(on, "false")) {
            json_decref(args);
            dash_error(d, 400, "The form was not understood.");
            return;
        }
        json_object_set_new(args, "key_id", json_string(kid));
        json_object_set_new(args, "environment", json_string(env));
        json_object_set_new(args, "active", json_boolean(!strcmp(on, "true")));
        json_object_set_new(args, "password", json_string(pw));
        break;
    }
    case 5:
        op = "collab.delete";
        json_object_set_new(args, "key_id", json_string(kid));
        json_object_set_new(args, "password", json_string(pw));
        break;
    case 6:
        op = "collab.invite";
        json_object_set_new(args, "key_id", json_string(kid));
        json_object_set_new(args, "email", json_string(dash_form_or_empty(d, "email", 320)));
        if (*dash_form_or_empty(d, "message", 4096))
            json_object_set_new(args, "message", json_string(dash_form_or_empty(d, "message", 4096)));
        break;
    default:
        op = "collab.revoke";
        json_object_set_new(args, "invitation_id", json_string(dash_form_or_empty(d, "invitation_id", 64)));
        json_object_set_new(args, "password", json_string(pw));
        break;
    }
    dash_call(d, op, args, cb);
}
