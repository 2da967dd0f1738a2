/*
 * dash_subscription — Settings → Subscription (docs/DASHBOARD.md,
 * docs/PLANS.md): the current plan, status, period and usage (the numbers
 * of the `subscription` tool), the plan history, and changing or cancelling
 * the plan (password required; with the `manual` provider the change takes
 * effect at once).
 *
 *   GET  /settings/subscription
 *   POST /settings/subscription/change   {plan, password}
 *   POST /settings/subscription/cancel   {password}: back to the free plan at once
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "services/edge/dash.h"

#define PASSWORD_MAX 1024
#define PAGE "/settings/subscription"

/* 1234567 -> "1,234,567" */
static void put_count(struct strbuf *b, long long v)
{
    char digits[32], out[48];
    snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    size_t n = strlen(digits), o = 0;
    if (v < 0)
        out[o++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    dash_esc(b, out);
}

static void put_money(struct strbuf *b, double usd)
{
    char t[32];
    snprintf(t, sizeof t, "$%.2f", usd);
    dash_esc(b, t);
}

/* "2026-11-27T11:25:00.000Z" -> "2026-11-27 11:25 UTC" */
static void put_time(struct strbuf *b, const char *s)
{
    if (!s || strlen(s) < 16) {
        dash_put(b, "—");
        return;
    }
    char t[32];
    snprintf(t, sizeof t, "%.10s %.5s UTC", s, s + 11);
    dash_esc(b, t);
}

static long long num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : (long long)json_number_value(v);
}

static void row(struct strbuf *b, const char *th)
{
    dash_put(b, "<tr><th scope=\"row\">");
    dash_put(b, th);
    dash_put(b, "</th><td>");
}

/* A plan's terms in words: "30,000 calls per 30 days, $10.00". */
static void put_terms(struct strbuf *b, const json_t *p)
{
    put_count(b, num(p, "limit"));
    dash_put(b, " calls per 30 days, ");
    double price = json_number_value(json_object_get(p, "price_usd"));
    if (price > 0) {
        put_money(b, price);
        dash_put(b, " per period");
    } else {
        dash_put(b, "free");
    }
    const json_t *over = json_object_get(p, "overage_per_call");
    if (json_is_number(over)) {
        char t[48];
        snprintf(t, sizeof t, "; beyond that $%.4f a call", json_number_value(over));
        dash_esc(b, t);
    } else {
        dash_put(b, "; calls beyond the limit are refused");
    }
}

static void on_get(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        dash_fail(d, a);
        return;
    }
    const json_t *sub = json_object_get(a->result, "subscription");
    const json_t *plan = json_object_get(sub, "plan");
    const json_t *usage = json_object_get(sub, "usage");
    const json_t *period = json_object_get(sub, "period");
    const json_t *billing = json_object_get(sub, "billing");
    const char *code = json_string_value(json_object_get(plan, "code"));
    const char *provider = json_string_value(json_object_get(billing, "provider"));
    bool manual = provider && !strcmp(provider, "manual");
    if (!code)
        code = "";

    struct strbuf b;
    sb_init(&b, 8192);
    dash_put(&b, "<h2>Current plan</h2>\n<div class=\"table\"><table>\n<tbody>\n");
    row(&b, "Plan");
    dash_put(&b, "<strong id=\"current-plan\">");
    dash_esc(&b, code);
    dash_put(&b, "</strong> — ");
    put_terms(&b, plan);
    dash_put(&b, "</td></tr>\n");
    row(&b, "Status");
    dash_esc(&b, json_string_value(json_object_get(sub, "status")));
    dash_put(&b, "</td></tr>\n");
    row(&b, "Period");
    put_time(&b, json_string_value(json_object_get(period, "start")));
    dash_put(&b, " to ");
    put_time(&b, json_string_value(json_object_get(period, "end")));
    dash_put(&b, "</td></tr>\n");
    long long used = num(usage, "used"), limit = num(usage, "limit");
    row(&b, "Usage");
    dash_put(&b, "<span id=\"usage\">");
    put_count(&b, used);
    dash_put(&b, " of ");
    put_count(&b, limit);
    char pct[32];
    snprintf(pct, sizeof pct, " calls (%.1f%%)", json_number_value(json_object_get(usage, "percent")));
    dash_esc(&b, pct);
    char bar[96];
    snprintf(bar, sizeof bar, "</span><br><progress max=\"%lld\" value=\"%lld", limit > 0 ? limit : 1,
             used < limit ? used : limit);
    dash_put(&b, bar);
    dash_put(&b, "\" aria-labelledby=\"usage\"></progress></td></tr>\n");
    row(&b, "Remaining");
    put_count(&b, num(usage, "remaining"));
    dash_put(&b, " calls this period</td></tr>\n");
    if (num(usage, "overage_calls") > 0) {
        row(&b, "Beyond the limit");
        put_count(&b, num(usage, "overage_calls"));
        dash_put(&b, " calls</td></tr>\n");
    }
    row(&b, "Billing");
    dash_esc(&b, provider);
    dash_put(&b, manual ? " (nobody is charged: plans change at once, here)" : "");
    const char *next = json_string_value(json_object_get(billing, "next_billing_at"));
    if (next) {
        dash_put(&b, "; next period starts ");
        put_time(&b, next);
    }
    dash_put(&b, "</td></tr>\n</tbody></table></div>\n");

    if (!manual) {
        dash_put(&b, "<p>This subscription is managed by its billing provider.</p>\n");
    } else {
        dash_put(&b, "<h2>Change plan</h2>\n<p>The new plan applies at once, to the calls already counted in this "
                     "period too.</p>\n");
        dash_form_open(&b, d, PAGE "/change");
        dash_put(&b, "<fieldset><legend>Plan</legend>\n");
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(a->result, "plans"), i, p)
        {
            const char *pc = json_string_value(json_object_get(p, "code"));
            bool cur = pc && !strcmp(pc, code);
            char id[48];
            snprintf(id, sizeof id, "plan-%.32s", pc ? pc : "");
            dash_put(&b, "<label for=\"");
            dash_esc(&b, id);
            dash_put(&b, "\"><input type=\"radio\" name=\"plan\" id=\"");
            dash_esc(&b, id);
            dash_put(&b, "\" value=\"");
            dash_esc(&b, pc);
            dash_put(&b, cur ? "\" checked> " : "\"> ");
            dash_esc(&b, pc);
            dash_put(&b, " <span class=\"muted\">(");
            put_terms(&b, p);
            dash_put(&b, cur ? ") — current plan</span></label>\n" : ")</span></label>\n");
        }
        dash_put(&b, "</fieldset>\n");
        dash_password_input(&b, "change_password");
        dash_put(&b, "<button type=\"submit\">Change plan</button>\n</form>\n");
        if (strcmp(code, "free")) {
            dash_put(&b, "<h2>Cancel plan</h2>\n<p>Cancelling moves this account to the <strong>free</strong> plan "
                         "at once: 1,000 calls per 30 days, counting the calls already made in this period; "
                         "calls beyond that are refused until the next period. Your APIs and data stay.</p>\n");
            dash_form_open(&b, d, PAGE "/cancel");
            dash_password_input(&b, "cancel_password");
            dash_put(&b, "<button type=\"submit\" class=\"danger\">Cancel plan</button>\n</form>\n");
        }
    }

    const json_t *hist = json_object_get(a->result, "history");
    dash_put(&b, "<h2>Plan history</h2>\n");
    if (!json_array_size(hist)) {
        dash_put(&b, "<p>No plan changes yet.</p>\n");
    } else {
        dash_put(&b, "<div class=\"table\"><table>\n<thead><tr><th scope=\"col\">When</th><th scope=\"col\">From</th>"
                     "<th scope=\"col\">To</th><th scope=\"col\">By</th></tr></thead>\n<tbody>\n");
        size_t i;
        json_t *h;
        json_array_foreach(hist, i, h)
        {
            dash_put(&b, "<tr><td>");
            put_time(&b, json_string_value(json_object_get(h, "at")));
            dash_put(&b, "</td><td>");
            dash_esc(&b, json_string_value(json_object_get(h, "from")));
            dash_put(&b, "</td><td>");
            dash_esc(&b, json_string_value(json_object_get(h, "to")));
            dash_put(&b, "</td><td>");
            const char *via = json_string_value(json_object_get(h, "via"));
            dash_put(&b, via && !strcmp(via, "dashboard") ? "you, in the dashboard" : "the operator");
            dash_put(&b, "</td></tr>\n");
        }
        dash_put(&b, "</tbody></table></div>\n");
    }
    dash_render_sb(d, 200, "Subscription", &b);
}

void dash_page_subscription(struct dash_req *d)
{
    dash_call(d, "subscription.get", NULL, on_get);
}

static void on_changed(struct dash_req *d, const struct dash_answer *a)
{
    if (!a->ok) {
        int st = dash_status_of(a->code);
        struct strbuf b;
        sb_init(&b, 512);
        dash_notice(&b, "msg", st == 503 || !a->message ? "This is not available right now. Try again in a minute."
                                                        : a->message);
        dash_put(&b, "<p>Nothing was changed. <a href=\"" PAGE "\">Back to Subscription</a></p>\n");
        dash_render_sb(d, st, st == 403 ? "Not allowed" : "Something went wrong", &b);
        return;
    }
    char msg[160];
    const char *plan = json_string_value(json_object_get(a->result, "plan"));
    snprintf(msg, sizeof msg, "%s: you are now on the %.32s plan.",
             !strcmp(d->path, PAGE "/cancel") ? "Plan cancelled" : "Plan changed", plan ? plan : "new");
    dash_redirect(d, PAGE, msg);
}

static const char *form_password(struct dash_req *d)
{
    return dash_form_or_empty(d, "password", PASSWORD_MAX);
}

void dash_page_subscription_change(struct dash_req *d)
{
    const char *plan = dash_form(d, "plan");
    dash_call(d, "subscription.change",
              json_pack("{s:s, s:s}", "plan", plan && strlen(plan) <= 32 ? plan : "", "password", form_password(d)),
              on_changed);
}

void dash_page_subscription_cancel(struct dash_req *d)
{
    dash_call(d, "subscription.cancel", json_pack("{s:s}", "password", form_password(d)), on_changed);
}
