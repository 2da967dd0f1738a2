/*
 * admin_keys — `3min keys init` and `3min keys rotate`: the ES256 key that
 * signs OAuth access tokens, in SIGNING_KEY_FILE (default
 * <STATE_DIR>/signing-key.pem). Rotation keeps the replaced key as
 * "<file>.previous" so tokens it signed verify until they expire; the edge
 * picks both up on SIGHUP. Neither command needs the database.
 *
 * The key-file code (format, kid, atomic writes) is common/oauth_keys.c,
 * shared with the edge.
 */
#include "common/oauth_keys.h"

#include <stdio.h>
#include <sys/stat.h>
#include "common/config.h"
#include "common/util.h"
#include "services/admin/admin.h"

int admin_keys(bool rotate)
{
    static struct config cfg;
    config_load(&cfg);
    util_init();
    /* The default file lives in the state directory, which a fresh checkout
     * does not have yet (the edge creates it the same way). */
    mkdir(cfg.state_dir, 0700);
    bool created = false;
    char kid[OAUTH_KID_LEN + 1], err[1200];
    if (oauth_key_rotate(cfg.signing_key_file, !rotate, &created, kid, err, sizeof err) != 0) {
        fprintf(stderr, "3min: %s\n", err);
        return ADMIN_FAIL;
    }
    if (rotate)
        fprintf(stderr,
                "new signing key in %s; the previous one is kept in %s.previous\n"
                "send SIGHUP to every edge to sign with it (kill -HUP <edge pid>)\n",
                cfg.signing_key_file, cfg.signing_key_file);
    else if (created)
        fprintf(stderr, "new signing key in %s\n", cfg.signing_key_file);
    else
        fprintf(stderr, "signing key already present in %s\n", cfg.signing_key_file);
    printf("%s\n", kid);
    return ADMIN_OK;
}
