/*
 * admin_valid — checks of what the operator typed, before anything reaches
 * the database: e-mail, password, plan, key name, scopes and uuid. Pure
 * functions with static messages, so the unit tests can call them directly.
 */
#include <stdio.h>
#include <string.h>

#include "common/utf8.h"
#include "proto/catalog.h"
#include "services/admin/admin.h"

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return true;
    return false;
}

const char *admin_check_email(const char *email)
{
    size_t len = strlen(email);
    if (len == 0)
        return "the e-mail address is empty";
    if (len > ADMIN_EMAIL_MAX)
        return "the e-mail address is longer than 254 characters";
    if (has_control(email) || strpbrk(email, " \t") != NULL)
        return "the e-mail address contains spaces or control characters";
    const char *at = strchr(email, '@');
    if (at == NULL || strchr(at + 1, '@') != NULL)
        return "the e-mail address must contain exactly one @";
    if (at == email)
        return "the e-mail address has nothing before the @";
    /* The domain is dot-separated labels, at least two, none empty. */
    const char *dom = at + 1;
    if (*dom == '\0' || strchr(dom, '.') == NULL)
        return "the e-mail domain must contain a dot (example.com)";
    if (dom[0] == '.' || email[len - 1] == '.' || strstr(dom, "..") != NULL)
        return "the e-mail domain has an empty label";
    return NULL;
}

const char *admin_check_password(const char *password)
{
    if (strlen(password) > ADMIN_PASSWORD_MAX)
        return "the password is longer than 1024 bytes";
    if (utf8_count(password, strlen(password)) < ADMIN_PASSWORD_MIN)
        return "the password must have at least 10 characters";
    return NULL;
}

const char *admin_check_plan(const char *plan)
{
    static const char *const plans[] = {"free", "basic", "pro", "enterprise"};
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++)
        if (strcmp(plan, plans[i]) == 0)
            return NULL;
    return "the plan must be one of free, basic, pro, enterprise";
}

const char *admin_check_key_name(const char *name)
{
    if (name[0] == '\0')
        return "the key name is empty";
    if (has_control(name))
        return "the key name contains control characters";
    if (strlen(name) > 4 * ADMIN_KEY_NAME_MAX || utf8_count(name, strlen(name)) > ADMIN_KEY_NAME_MAX)
        return "the key name is longer than 64 characters";
    return NULL;
}

const char *admin_check_uuid(const char *s)
{
    /* 8-4-4-4-12 hex digits, the form PostgreSQL prints. Checking here turns
     * a typo into a clear message instead of a server cast error. */
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof shape - 1)
        return "the id is not a uuid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)";
    for (size_t i = 0; shape[i]; i++) {
        char c = s[i];
        bool ok = shape[i] == '-' ? c == '-'
                                  : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                                        (c >= 'A' && c <= 'F');
        if (!ok)
            return "the id is not a uuid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)";
    }
    return NULL;
}

/* The scope names and bits are the catalog's (proto/catalog.c), so a key can
 * carry exactly the scopes the edge checks. */
const char *admin_parse_scopes(const char *s, uint32_t *bits)
{
    if (scopes_parse(s, bits) != 0)
        return "unknown scope or empty list (the scopes are read, write, execute)";
    return NULL;
}

void admin_scopes_literal(uint32_t bits, char *out, size_t cap)
{
    char words[64];
    scopes_format(bits, words, sizeof words);
    for (char *p = words; *p; p++)
        if (*p == ' ')
            *p = ',';
    /* Three scopes fit in any sensible buffer; an empty literal (which the
     * column rejects) is better than a truncated one. */
    int n = snprintf(out, cap, "{%s}", words);
    if ((n < 0 || (size_t)n >= cap) && cap > 0)
        out[0] = '\0';
}
