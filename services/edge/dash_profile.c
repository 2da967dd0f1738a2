/*
 * dash_profile — the profile page's own sections (docs/DASHBOARD.md,
 * "Profile"): time zone, notification settings and deleting the account.
 * The page itself and its password section are dash_accounts.c's; it loads
 * this module's data first (dash_profile_load) and lets it add its sections
 * (dash_profile_sections).
 *
 *   POST /settings/profile/timezone       {timezone}
 *   POST /settings/profile/notifications  {usage_80, usage_100, call_failed, webhook_failed, deployed: checkboxes}
 *   POST /settings/profile/delete         {confirm_email, password}
 *
 * Deleting the account signs this browser out at once (the cookie is
 * cleared; every session row is gone, so other browsers are signed out on
 * their next page).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "services/edge/dash.h"

#define PASSWORD_MAX 1024
#define EMAIL_MAX 320
#define TZ_MAX 64

static const struct {
    const char *event, *label;
} EVENTS[] = {
    {"usage_80", "80% of the period's API calls are used"},
    {"usage_100", "100% of the period's API calls are used"},
    {"call_failed", "a call to one of my APIs fails"},
    {"webhook_failed", "a webhook delivery fails"},
    {"deployed", "an API is deployed"},
};

struct profile_state {
    json_t *data;   /* profile.get's answer */
    void (*then)(struct dash_req *d);
};

static void state_free(void *p)
{
    struct profile_state *s = p;
    json_decref(s->data);
    free(s);
}

static void on_loaded(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    struct profile_state *s = xcalloc(1, sizeof *s);
    s->data = json_incref(a->result);
    s->then = ((struct profile_state *)d->state)->then;
    free(d->state);
    d->state = s;
    d->state_free = state_free;
    s->then(d);
}

void dash_profile_load(struct dash_req *d, void (*then)(struct dash_req *d))
{
    /* Until the answer, state holds only the continuation (freed without data). */
    struct profile_state *s = xcalloc(1, sizeof *s);
    s->then = then;
    d->state = s;
    d->state_free = free;
    dash_call(d, "profile.get", NULL, on_loaded);
}

static void put_checkbox(struct strbuf *b, const char *event, const char *label, bool on)
{
    dash_put(b, "<div class=\"check\"><input type=\"checkbox\" id=\"n_");
    dash_put(b, event);
    dash_put(b, "\" name=\"");
    dash_put(b, event);
    dash_put(b, on ? "\" value=\"on\" checked>" : "\" value=\"on\">");
    dash_put(b, "<label for=\"n_");
    dash_put(b, event);
    dash_put(b, "\">");
    dash_esc(b, label);
    dash_put(b, "</label></div>\n");
}

void dash_profile_sections(struct dash_req *d, struct strbuf *b)
{
    if (d->state_free != state_free) {
        /* Rendered without this module's data (a refused password change). */
        dash_put(b, "<p><a href=\"/settings/profile\">Time zone, notifications and account deletion</a></p>\n");
        return;
    }
    const json_t *data = ((struct profile_state *)d->state)->data;
    const char *tz = json_string_value(json_object_get(data, "timezone"));

    dash_put(b, "<style>.check{display:flex;gap:.5rem;align-items:baseline;margin:.4rem 0}"
                ".check label{display:inline;font-weight:400;margin:0}fieldset{border:1px solid #d0d5db;"
                "border-radius:.4rem;padding:.5rem .9rem}legend{font-weight:600}"
                ".danger-zone{border-top:2px solid #e5a3a3;margin-top:2rem}</style>\n");

    dash_put(b, "<h2 id=\"timezone-heading\">Time zone</h2>\n");
    dash_form_open(b, d, "/settings/profile/timezone");
    dash_put(b, "<label for=\"timezone\">Time zone</label>\n<select id=\"timezone\" name=\"timezone\" "
                "aria-describedby=\"tzhelp\">\n");
    size_t i;
    json_t *z;
    json_array_foreach(json_object_get(data, "timezones"), i, z)
    {
        const char *name = json_string_value(z);
        dash_put(b, "<option");
        if (tz && name && !strcmp(tz, name))
            dash_put(b, " selected");
        dash_put(b, ">");
        dash_esc(b, name);
        dash_put(b, "</option>\n");
    }
    dash_put(b, "</select>\n<p class=\"muted\" id=\"tzhelp\">Dates you give your AI assistant for logs and stats "
                "(\"yesterday's failed calls\") are days in this time zone.</p>\n"
                "<button type=\"submit\">Save time zone</button>\n</form>\n");

    dash_put(b, "<h2 id=\"notifications-heading\">Notifications</h2>\n");
    dash_form_open(b, d, "/settings/profile/notifications");
    dash_put(b, "<input type=\"hidden\" name=\"notifications\" value=\"1\">\n"
                "<fieldset><legend>E-mail me when</legend>\n");
    const json_t *notes = json_object_get(data, "notifications");
    for (i = 0; i < sizeof EVENTS / sizeof EVENTS[0]; i++)
        put_checkbox(b, EVENTS[i].event, EVENTS[i].label, json_is_true(json_object_get(notes, EVENTS[i].event)));
    dash_put(b, "</fieldset>\n<p class=\"muted\">For all your APIs. An API's own setting, made through your AI "
                "assistant (endpoints_update), wins over these for that API.</p>\n"
                "<button type=\"submit\">Save notifications</button>\n</form>\n");

    dash_put(b, "<section class=\"danger-zone\" aria-labelledby=\"delete-heading\">\n"
                "<h2 id=\"delete-heading\">Delete account</h2>\n"
                "<p>Deletes your APIs with their records, logs and archive files, your MCP keys, collaboration "
                "keys and invitations, and disconnects every AI app. Every session is signed out. This cannot be "
                "undone.</p>\n");
    dash_form_open(b, d, "/settings/profile/delete");
    dash_put(b, "<label for=\"confirm_email\">Type your e-mail address (<strong>");
    dash_esc(b, d->email);
    dash_put(b, "</strong>) to confirm</label>\n<input type=\"email\" id=\"confirm_email\" name=\"confirm_email\" "
                "required maxlength=\"320\" autocomplete=\"off\">\n"
                "<label for=\"delete_password\">Your password</label>\n<input type=\"password\" "
                "id=\"delete_password\" name=\"password\" required maxlength=\"1024\" "
                "autocomplete=\"current-password\">\n"
                "<div><button type=\"submit\" class=\"danger\">Delete my account</button></div>\n</form>\n"
                "</section>\n");
}

/* ---- actions --------------------------------------------------------------------------------- */

/* A refused action: its message, nothing changed, a link back. */
static void refused(struct dash_req *d, const struct dash_answer *a, const char *title)
{
    int status = dash_status_of(a->code);
    if (status == 503 || !a->message) {
        dash_fail(d, a);
        return;
    }
    struct strbuf b;
    sb_init(&b, 512);
    dash_notice(&b, "msg", status == 403 ? "Wrong password. Nothing was changed." : a->message);
    dash_put(&b, "<p><a href=\"/settings/profile\">Back to the profile</a></p>\n");
    char *body = sb_take(&b, NULL);
    dash_render(d, status, title, body);
    free(body);
}

static void on_timezone(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        refused(d, a, "The time zone was not changed");
        return;
    }
    char msg[120];
    snprintf(msg, sizeof msg, "Time zone set to %.64s.", json_string_value(json_object_get(a->result, "timezone")));
    dash_redirect(d, "/settings/profile", msg);
}

void dash_page_profile_timezone(struct dash_req *d)
{
    const char *tz = dash_form(d, "timezone");
    if (!tz || !*tz || strlen(tz) > TZ_MAX) {
        dash_error(d, 400, "Choose a time zone from the list.");
        return;
    }
    dash_call(d, "profile.timezone", json_pack("{s:s}", "timezone", tz), on_timezone);
}

static void on_notifications(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        refused(d, a, "The notifications were not changed");
        return;
    }
    dash_redirect(d, "/settings/profile", "Notification settings saved.");
}

void dash_page_profile_notifications(struct dash_req *d)
{
    json_t *args = json_object();
    for (size_t i = 0; i < sizeof EVENTS / sizeof EVENTS[0]; i++) {
        const char *v = dash_form(d, EVENTS[i].event);
        json_object_set_new(args, EVENTS[i].event, json_boolean(v && !strcmp(v, "on")));
    }
    dash_call(d, "profile.notifications", args, on_notifications);
}

static void on_delete(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        refused(d, a, "The account was not deleted");
        return;
    }
    dash_clear_session_cookie(d);
    dash_redirect(d, "/login", "Your account and all its data were deleted, and every session signed out.");
}

void dash_page_profile_delete(struct dash_req *d)
{
    const char *confirm = dash_form(d, "confirm_email");
    const char *pw = dash_form(d, "password");
    if (!confirm || !*confirm || strlen(confirm) > EMAIL_MAX) {
        dash_error(d, 400, "Type your account's e-mail address to confirm. Nothing was deleted.");
        return;
    }
    if (!pw || strlen(pw) > PASSWORD_MAX)
        pw = "";
    dash_call(d, "account.delete", json_pack("{s:s, s:s}", "confirm_email", confirm, "password", pw), on_delete);
}
