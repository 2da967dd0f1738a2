/*
 * admin_endpoint — `3min endpoint keys --email E --endpoint SLUG`: prints an
 * endpoint's full owner keys and webhook signing secrets for operators and
 * tests (MCP tools only ever show them masked). They are stored encrypted
 * with the server key in KEYS_SECRET_FILE (common/keybox.h), which this
 * command must be able to read: run it with the same STATE_DIR or
 * KEYS_SECRET_FILE as the workers.
 *
 * Output, one "name value" pair a line:
 *   sandbox_key tm_test_…
 *   production_key tm_live_…
 *   sandbox_webhook_secret whsec_…
 *   production_webhook_secret whsec_…
 * then, per collaboration key (oldest first), "collaboration_key ID FIELD
 * VALUE" lines; the name is last on its line as it may hold spaces:
 *   collaboration_key ID name NAME
 *   collaboration_key ID permissions create,read   (or none)
 *   collaboration_key ID active true|false
 *   collaboration_key ID sandbox_key tm_test_… active|inactive
 *   collaboration_key ID production_key tm_live_… active|inactive
 * Nothing is printed unless every secret decrypts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keybox.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "services/admin/admin.h"

static const char SQL_KEYS[] =
    "SELECT v.env, k.key_enc, w.secret_enc FROM endpoints e "
    "JOIN accounts a ON a.id = e.account_id AND lower(a.email) = lower($1) AND a.deleted_at IS NULL "
    "CROSS JOIN (VALUES ('sandbox', 1), ('production', 2)) v(env, ord) "
    "LEFT JOIN api_keys k ON k.endpoint_id = e.id AND k.kind = 'owner' AND k.environment = v.env "
    "LEFT JOIN webhooks w ON w.endpoint_id = e.id AND w.environment = v.env "
    "WHERE e.slug = $2 AND e.deleted_at IS NULL ORDER BY v.ord";

static const char SQL_COLLAB[] =
    "SELECT c.id::text, c.name, c.can_create, c.can_read, c.can_update, c.can_delete, c.active, v.env, "
    "k.key_enc, k.active FROM collaboration_keys c "
    "JOIN endpoints e ON e.id = c.endpoint_id AND e.account_id = c.account_id "
    "JOIN accounts a ON a.id = e.account_id AND lower(a.email) = lower($1) AND a.deleted_at IS NULL "
    "CROSS JOIN (VALUES ('sandbox', 1), ('production', 2)) v(env, ord) "
    "LEFT JOIN api_keys k ON k.collaboration_key_id = c.id AND k.kind = 'collaboration' AND k.environment = v.env "
    "WHERE e.slug = $2 AND e.deleted_at IS NULL ORDER BY c.created_at, c.id, v.ord";

/* Decrypts a bytea column (text form) or returns NULL. */
static char *open_col(const struct keybox *kb, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    size_t n;
    uint8_t *box = keybox_bytea_parse(PQgetvalue(r, row, col), &n);
    if (!box)
        return NULL;
    char *plain = keybox_open(kb, box, n);
    free(box);
    return plain;
}

static bool is_true(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

/* Appends the collaboration keys' lines to out; false (after a message) if a key does not decrypt. */
static bool collab_lines(const struct keybox *kb, const char *path, const PGresult *r, struct strbuf *out)
{
    bool ok = true;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0), *env = PQgetvalue(r, i, 7);
        if (!strcmp(env, "sandbox")) {
            /* Names are checked when created; control characters would still break the one-line format. */
            char name[65];
            snprintf(name, sizeof name, "%s", PQgetvalue(r, i, 1));
            for (char *q = name; *q; q++)
                if ((unsigned char)*q < 0x20 || *q == 0x7f)
                    *q = '?';
            static const char *const bits[4] = {"create", "read", "update", "delete"};
            char perms[32] = "";
            for (int b = 0; b < 4; b++)
                if (is_true(r, i, 2 + b))
                    snprintf(perms + strlen(perms), sizeof perms - strlen(perms), "%s%s", *perms ? "," : "", bits[b]);
            char *l = xasprintf("collaboration_key %s name %s\ncollaboration_key %s permissions %s\n"
                                "collaboration_key %s active %s\n", id, name, id, *perms ? perms : "none", id,
                                is_true(r, i, 6) ? "true" : "false");
            sb_append_str(out, l);
            free(l);
        }
        if (PQgetisnull(r, i, 8))
            continue;
        char *key = open_col(kb, r, i, 8);
        if (!key) {
            fprintf(stderr, "3min: the %s key of collaboration key %s does not decrypt with %s\n", env, id, path);
            ok = false;
            continue;
        }
        char *l = xasprintf("collaboration_key %s %s_key %s %s\n", id, env, key,
                            is_true(r, i, 9) ? "active" : "inactive");
        sb_append_str(out, l);
        free(l);
        free(key);
    }
    return ok;
}

int admin_endpoint_keys(PGconn *c, const char *email, const char *slug)
{
    char path[1024], err[256];
    const char *state = getenv("STATE_DIR");
    keybox_path(state && *state ? state : ".run", path, sizeof path);
    struct keybox kb;
    if (keybox_load(&kb, path, false, err, sizeof err) != 0) {
        fprintf(stderr, "3min: %s (set STATE_DIR or KEYS_SECRET_FILE as for the workers)\n", err);
        return ADMIN_FAIL;
    }
    const char *p[2] = {email, slug};
    PGresult *r = admin_exec(c, PGRES_TUPLES_OK, "reading the endpoint's keys", SQL_KEYS, 2, p);
    if (!r)
        return ADMIN_FAIL;
    if (PQntuples(r) == 0) {
        fprintf(stderr, "3min: no endpoint \"%s\" in the account %s\n", slug, email);
        PQclear(r);
        return ADMIN_FAIL;
    }
    int rc = ADMIN_OK;
    char *lines[4] = {0};
    for (int i = 0; i < PQntuples(r) && i < 2; i++) {
        const char *env = PQgetvalue(r, i, 0);
        char *key = open_col(&kb, r, i, 1), *secret = open_col(&kb, r, i, 2);
        if ((!key && !PQgetisnull(r, i, 1)) || (!secret && !PQgetisnull(r, i, 2))) {
            fprintf(stderr, "3min: the %s secrets do not decrypt with %s\n", env, path);
            rc = ADMIN_FAIL;
        }
        lines[i] = key ? xasprintf("%s_key %s\n", env, key) : NULL;
        lines[2 + i] = secret ? xasprintf("%s_webhook_secret %s\n", env, secret) : NULL;
        free(key);
        free(secret);
    }
    PQclear(r);
    struct strbuf collab;
    sb_init(&collab, 1024);
    r = admin_exec(c, PGRES_TUPLES_OK, "reading the endpoint's collaboration keys", SQL_COLLAB, 2, p);
    if (!r || !collab_lines(&kb, path, r, &collab))
        rc = ADMIN_FAIL;
    PQclear(r);
    if (rc == ADMIN_OK) {
        for (int i = 0; i < 4; i++)
            if (lines[i])
                fputs(lines[i], stdout);
        char *text = sb_take(&collab, NULL);
        fputs(text, stdout);
        free(text);
    }
    for (int i = 0; i < 4; i++)
        free(lines[i]);
    sb_free(&collab);
    return rc;
}
