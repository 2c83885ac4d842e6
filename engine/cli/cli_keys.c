/*
 * cli_keys.c - `tallysync rotate-key`: re-encrypt the credential vault under a new key read from
 * an environment variable (never from argv, so it stays out of ps and shell history).
 * Owns nothing beyond the command's run. Must not: print or log a key, even partially.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "adapt/store.h"
#include "data/vault.h"

static void rotate_usage(FILE *out)
{
    fprintf(
        out,
        "usage: tallysync rotate-key --new-key-env NAME\n"
        "\n"
        "Re-encrypts every stored integration credential, of every tenant, under the key in\n"
        "the environment variable NAME (base64 of 32 bytes, from `tallysync keygen`), in one\n"
        "transaction: either every row moves to the new key or nothing changes. Rows are read\n"
        "with INTEGRATION_ENCRYPTION_KEY and the comma-separated older keys of\n"
        "INTEGRATION_ENCRYPTION_KEY_PREVIOUS; rows already under the new key are re-sealed\n"
        "too, so running it again is harmless. The database is DATABASE_URL.\n"
        "\n"
        "Rotating without downtime:\n"
        "  1. make a new key with `tallysync keygen` (keep it secret)\n"
        "  2. restart every engine with INTEGRATION_ENCRYPTION_KEY set to the new key and the\n"
        "     old one in INTEGRATION_ENCRYPTION_KEY_PREVIOUS: they read rows under either key\n"
        "     and write under the new one\n"
        "  3. with the same settings: tallysync rotate-key --new-key-env "
        "INTEGRATION_ENCRYPTION_KEY\n"
        "  4. drop the old key from INTEGRATION_ENCRYPTION_KEY_PREVIOUS\n"
        "Rotating first also works (INTEGRATION_ENCRYPTION_KEY still the old key, NEW_KEY the\n"
        "new one: rotate-key --new-key-env NEW_KEY, then steps 2-4), but engines that hold only\n"
        "the old key cannot read credentials until they restart; run rotate-key again after\n"
        "the restarts to re-seal rows they wrote meanwhile.\n"
        "\n"
        "Exit status: 0 done, 1 failure (nothing changed), 2 usage.\n");
}

/* 1 when s looks like an environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int env_name_ok(const char *s)
{
    if (s[0] == '\0' || (s[0] >= '0' && s[0] <= '9')) {
        return 0;
    }
    for (; *s != '\0'; s++) {
        int c = (unsigned char)*s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return 0;
        }
    }
    return 1;
}

int eng_cli_keys_rotate(int argc, char **argv)
{
    if (eng_cli_wants_help(argc, argv)) {
        rotate_usage(stdout);
        return 0;
    }
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--new-key-env") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strncmp(argv[i], "--new-key-env=", 14) == 0) {
            name = argv[i] + 14;
        } else if (strcmp(argv[i], "--new-key-env") == 0) {
            fprintf(stderr, "tallysync rotate-key: --new-key-env needs the name of an "
                            "environment variable\n");
            return 2;
        } else {
            /* Not echoed: a mistyped command line may hold the key itself. */
            fprintf(stderr,
                    "tallysync rotate-key: unexpected argument #%d (see tallysync "
                    "rotate-key --help)\n",
                    i);
            return 2;
        }
    }
    if (name == NULL) {
        fprintf(stderr, "tallysync rotate-key: --new-key-env NAME is required: NAME is the "
                        "environment variable holding the new key\n");
        rotate_usage(stderr);
        return 2;
    }
    if (!env_name_ok(name)) {
        /* Not echoed: the usual slip is passing the key itself. */
        fprintf(stderr, "tallysync rotate-key: --new-key-env takes the name of an environment "
                        "variable (letters, digits and _), not the key itself\n");
        return 2;
    }

    struct eng_config cfg;
    if (eng_cli_config(&cfg, "rotate-key") != 0) {
        return 1;
    }
    struct eng_err err = {0};
    struct eng_keyring *kr = NULL, *nk = NULL;
    struct eng_store *st = NULL;
    int status = 1;
    int rows = 0;
    char new_id[ENG_KEYRING_ID_LEN + 1] = "";
    const char *new_b64 = getenv(name);

    const char *stage = "new key: "; /* what failed, as the error line's prefix */
    int rc = eng_keyring_parse_named(name, new_b64, NULL, NULL, &nk, &err);
    if (rc == 0) {
        stage = "";
        rc = eng_keyring_from_env(&kr, &err);
    }
    if (rc == 0 && eng_cli_migrate_store(&cfg, "rotate-key", 1) != 0) {
        stage = NULL; /* it said why */
        rc = ENG_EIO;
    }
    if (rc == 0) {
        stage = "database: ";
        rc = eng_store_open(cfg.database_url, &st, &err);
    }
    if (rc == 0) {
        stage = "";
        rc = eng_vault_rotate(st, kr, new_b64, &rows, new_id, &err);
    }
    if (rc != 0) {
        if (stage != NULL) {
            fprintf(stderr, "tallysync rotate-key: %s%s\n", stage, err.msg);
        }
    } else {
        status = 0;
        printf("re-encrypted %d credential row%s under key id %s\n", rows, rows == 1 ? "" : "s",
               new_id);
        if (strcmp(new_id, eng_keyring_current_id(kr)) == 0) {
            printf("INTEGRATION_ENCRYPTION_KEY already holds this key. Once every running "
                   "engine has restarted with it,\nremove the older keys from "
                   "INTEGRATION_ENCRYPTION_KEY_PREVIOUS.\n");
        } else {
            printf("next steps:\n"
                   "  1. set INTEGRATION_ENCRYPTION_KEY to the new key (the value of %s) and put "
                   "the\n"
                   "     old key (id %s) in INTEGRATION_ENCRYPTION_KEY_PREVIOUS; restart every "
                   "running engine\n"
                   "  2. keep the old key in INTEGRATION_ENCRYPTION_KEY_PREVIOUS until every "
                   "running engine has\n"
                   "     restarted with the new key, then run this command once more and "
                   "remove the old key\n",
                   name, eng_keyring_current_id(kr));
        }
    }
    fflush(stdout);
    eng_store_close(st);
    eng_keyring_free(nk);
    eng_keyring_free(kr);
    eng_config_free(&cfg);
    return status;
}
