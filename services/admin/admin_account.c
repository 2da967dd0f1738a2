/*
 * admin_account — `3min account create`: a verified account with an argon2id
 * password hash (libsodium, the OWASP parameters: 2 passes, 19 MiB), so an
 * operator can create the first users of a self-hosted installation.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "services/admin/admin.h"

#define PWHASH_OPSLIMIT 2
#define PWHASH_MEMLIMIT (19u << 20)

int admin_account_create(PGconn *c, const char *email, const char *password, const char *plan)
{
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), PWHASH_OPSLIMIT, PWHASH_MEMLIMIT) !=
        0) {
        fprintf(stderr, "3min: hashing the password failed (out of memory)\n");
        return ADMIN_FAIL;
    }
    const char *params[] = {email, hash, plan};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO accounts (email, password_hash, plan, verified) "
                               "VALUES ($1, $2, $3, true) RETURNING id",
                               3, NULL, params, NULL, NULL, 0);
    sodium_memzero(hash, sizeof hash);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        /* 23505: the unique index on lower(email). */
        if (strcmp(admin_sqlstate(r), "23505") == 0)
            fprintf(stderr, "3min: an account with the e-mail %s already exists\n", email);
        else
            fprintf(stderr, "3min: creating the account failed: %s", PQerrorMessage(c));
        PQclear(r);
        return ADMIN_FAIL;
    }
    printf("%s\n", PQgetvalue(r, 0, 0));
    PQclear(r);
    return ADMIN_OK;
}
