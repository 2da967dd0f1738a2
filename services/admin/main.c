/*
 * main — the `3min` command line: finds the command in a table, parses and
 * checks its flags (all before touching the database, so a typo never
 * half-runs), connects with DATABASE_URL and runs it.
 *
 * Exit status: 0 done, 1 the operation failed, 2 the command line is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "services/admin/admin.h"

#define MAX_FLAGS 4

struct flag {
    const char *name;    /* without the leading "--" */
    bool required;
    const char *fallback;
};

struct command {
    const char *word1, *word2;   /* "mcp-key", "create"; word2 NULL for one word */
    const char *synopsis;
    int positionals;             /* 0 or 1 (the key id of revoke) */
    struct flag flags[MAX_FLAGS];
};

enum cmd_id {
    CMD_MIGRATE,
    CMD_ACCOUNT_CREATE,
    CMD_ACCOUNT_PLAN,
    CMD_KEY_CREATE,
    CMD_KEY_LIST,
    CMD_KEY_REVOKE,
    CMD_SIGNING_INIT,
    CMD_SIGNING_ROTATE,
    CMD_ENDPOINT_KEYS
};

static const struct command commands[] = {
    [CMD_MIGRATE] = {"migrate", NULL, "3min migrate", 0, {{0}}},
    [CMD_ACCOUNT_CREATE] = {"account", "create",
                            "3min account create --email E --password P|- "
                            "[--plan free|basic|pro|enterprise]",
                            0,
                            {{"email", true, NULL},
                             {"password", true, NULL},
                             {"plan", false, "free"}}},
    [CMD_ACCOUNT_PLAN] = {"account", "plan", "3min account plan --email E --plan free|basic|pro|enterprise", 0,
                          {{"email", true, NULL}, {"plan", true, NULL}}},
    [CMD_KEY_CREATE] = {"mcp-key", "create",
                        "3min mcp-key create --email E [--name N] [--scopes read,write,execute]",
                        0,
                        {{"email", true, NULL},
                         {"name", false, "default"},
                         {"scopes", false, "read,write,execute"}}},
    [CMD_KEY_LIST] = {"mcp-key", "list", "3min mcp-key list --email E", 0,
                      {{"email", true, NULL}}},
    [CMD_KEY_REVOKE] = {"mcp-key", "revoke", "3min mcp-key revoke ID", 1, {{0}}},
    [CMD_SIGNING_INIT] = {"keys", "init", "3min keys init", 0, {{0}}},
    [CMD_SIGNING_ROTATE] = {"keys", "rotate", "3min keys rotate", 0, {{0}}},
    [CMD_ENDPOINT_KEYS] = {"endpoint", "keys", "3min endpoint keys --email E --endpoint SLUG", 0,
                           {{"email", true, NULL}, {"endpoint", true, NULL}}},
};

static void usage(void)
{
    fprintf(stderr, "usage:\n");
    for (size_t i = 0; i < TM_ARRAY_LEN(commands); i++)
        fprintf(stderr, "  %s\n", commands[i].synopsis);
    fprintf(stderr, "  3min help\n\n"
                    "environment:\n"
                    "  DATABASE_URL              the database, as its owner role (required)\n"
                    "  SQL_DIR                   migrations (default: deploy/sql beside the\n"
                    "                            executable, else /usr/share/3min/sql)\n"
                    "  DATABASE_WORKER_PASSWORD  if set, migrate gives the worker role this "
                    "password\n"
                    "  DATABASE_WORKER_USER      the worker role (default tm_worker)\n"
                    "  SIGNING_KEY_FILE          OAuth signing key of `keys` (default\n"
                    "                            $STATE_DIR/signing-key.pem, STATE_DIR default .run)\n"
                    "  KEYS_SECRET_FILE          server key of stored gateway secrets (default\n"
                    "                            $STATE_DIR/keys-secret), for `endpoint keys`\n\n"
                    "--password - reads the password from the first line of standard input.\n");
}

static int bad(const struct command *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "3min: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: %s\n", cmd->synopsis);
    return ADMIN_USAGE;
}

/* Fills vals[] (indexed like cmd->flags) and *positional from argv. */
static int parse_flags(const struct command *cmd, int argc, char **argv, const char **vals,
                       const char **positional)
{
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            if (npos >= cmd->positionals)
                return bad(cmd, "unexpected argument \"%s\"", a);
            *positional = a;
            npos++;
            continue;
        }
        /* --name value or --name=value */
        const char *name = a + 2, *eq = strchr(name, '='), *val;
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int k = -1;
        for (int j = 0; j < MAX_FLAGS && cmd->flags[j].name; j++)
            if (strlen(cmd->flags[j].name) == nlen && strncmp(cmd->flags[j].name, name, nlen) == 0)
                k = j;
        if (k < 0)
            return bad(cmd, "unknown flag %s", a);
        if (eq != NULL) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return bad(cmd, "%s needs a value", a);
            val = argv[++i];
        }
        if (vals[k] != NULL)
            return bad(cmd, "%s is given twice", a);
        vals[k] = val;
    }
    if (npos < cmd->positionals)
        return bad(cmd, "%s", "missing argument");
    for (int j = 0; j < MAX_FLAGS && cmd->flags[j].name; j++) {
        if (vals[j] == NULL && cmd->flags[j].required)
            return bad(cmd, "--%s is required", cmd->flags[j].name);
        if (vals[j] == NULL)
            vals[j] = cmd->flags[j].fallback;
    }
    return ADMIN_OK;
}

/* Reads the password from the first line of stdin (so it stays out of the
 * process list); returns a malloc'd string or NULL. */
static char *read_password_line(void)
{
    char buf[ADMIN_PASSWORD_MAX + 3];
    if (fgets(buf, sizeof buf, stdin) == NULL)
        return NULL;
    size_t n = strcspn(buf, "\r\n");
    if (n > ADMIN_PASSWORD_MAX)
        n = ADMIN_PASSWORD_MAX + 1;   /* still too long: the check will say so */
    char *pw = xstrndup(buf, n);
    explicit_bzero(buf, sizeof buf);
    return pw;
}

static int check(const struct command *cmd, const char *flag, const char *why)
{
    if (why == NULL)
        return ADMIN_OK;
    fprintf(stderr, "3min: %s: %s\nusage: %s\n", flag, why, cmd->synopsis);
    return ADMIN_USAGE;
}

int main(int argc, char **argv)
{
    log_init("3min");
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        /* Help is also what a wrong command line gets, with the same status,
         * so scripts never mistake it for a command that ran. */
        usage();
        return ADMIN_USAGE;
    }
    int id = -1, skip = 0;
    for (size_t i = 0; i < TM_ARRAY_LEN(commands) && id < 0; i++) {
        const struct command *c = &commands[i];
        if (strcmp(argv[1], c->word1) != 0)
            continue;
        if (c->word2 == NULL) {
            id = (int)i;
            skip = 2;
        } else if (argc >= 3 && strcmp(argv[2], c->word2) == 0) {
            id = (int)i;
            skip = 3;
        }
    }
    if (id < 0) {
        fprintf(stderr, "3min: unknown command \"%s%s%s\"\n", argv[1], argc >= 3 ? " " : "",
                argc >= 3 ? argv[2] : "");
        usage();
        return ADMIN_USAGE;
    }
    const struct command *cmd = &commands[id];
    const char *vals[MAX_FLAGS] = {0}, *positional = NULL;
    int rc = parse_flags(cmd, argc - skip, argv + skip, vals, &positional);
    if (rc != ADMIN_OK)
        return rc;

    char *password = NULL;
    switch ((enum cmd_id)id) {
    case CMD_ACCOUNT_CREATE:
        if (strcmp(vals[1], "-") == 0) {
            password = read_password_line();
            if (password == NULL)
                return bad(cmd, "%s", "--password -: no line on standard input");
            vals[1] = password;
        }
        rc = check(cmd, "--email", admin_check_email(vals[0]));
        if (rc == ADMIN_OK)
            rc = check(cmd, "--password", admin_check_password(vals[1]));
        if (rc == ADMIN_OK)
            rc = check(cmd, "--plan", admin_check_plan(vals[2]));
        break;
    case CMD_ACCOUNT_PLAN:
        rc = check(cmd, "--email", admin_check_email(vals[0]));
        if (rc == ADMIN_OK)
            rc = check(cmd, "--plan", admin_check_plan(vals[1]));
        break;
    case CMD_KEY_CREATE: {
        uint32_t bits;
        rc = check(cmd, "--email", admin_check_email(vals[0]));
        if (rc == ADMIN_OK)
            rc = check(cmd, "--name", admin_check_key_name(vals[1]));
        if (rc == ADMIN_OK)
            rc = check(cmd, "--scopes", admin_parse_scopes(vals[2], &bits));
        break;
    }
    case CMD_KEY_LIST:
        rc = check(cmd, "--email", admin_check_email(vals[0]));
        break;
    case CMD_ENDPOINT_KEYS:
        rc = check(cmd, "--email", admin_check_email(vals[0]));
        if (rc == ADMIN_OK && (strlen(vals[1]) == 0 || strlen(vals[1]) > 64))
            rc = check(cmd, "--endpoint", "must be the endpoint's slug");
        break;
    case CMD_KEY_REVOKE:
        rc = check(cmd, "ID", admin_check_uuid(positional));
        break;
    case CMD_MIGRATE:
    case CMD_SIGNING_INIT:
    case CMD_SIGNING_ROTATE:
        break;
    }
    if (rc != ADMIN_OK)
        goto out;
    if (id == CMD_SIGNING_INIT || id == CMD_SIGNING_ROTATE) {
        /* Key files only: no database. */
        rc = admin_keys(id == CMD_SIGNING_ROTATE);
        goto out;
    }

    util_init();
    PGconn *conn = admin_connect();
    if (conn == NULL) {
        rc = ADMIN_FAIL;
        goto out;
    }
    switch ((enum cmd_id)id) {
    case CMD_MIGRATE:
        rc = admin_migrate(conn);
        break;
    case CMD_ACCOUNT_CREATE:
        rc = admin_account_create(conn, vals[0], vals[1], vals[2]);
        break;
    case CMD_ACCOUNT_PLAN:
        rc = admin_account_plan(conn, vals[0], vals[1]);
        break;
    case CMD_KEY_CREATE:
        rc = admin_mcpkey_create(conn, vals[0], vals[1], vals[2]);
        break;
    case CMD_KEY_LIST:
        rc = admin_mcpkey_list(conn, vals[0]);
        break;
    case CMD_KEY_REVOKE:
        rc = admin_mcpkey_revoke(conn, positional);
        break;
    case CMD_ENDPOINT_KEYS:
        rc = admin_endpoint_keys(conn, vals[0], vals[1]);
        break;
    case CMD_SIGNING_INIT:
    case CMD_SIGNING_ROTATE:
        break;
    }
    PQfinish(conn);
out:
    if (password != NULL) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    return rc;
}
