/*
 * cli_operator.c - `tallysync operator list|get|set|unset`: the operator settings kept in the
 * store of DATABASE_URL (operator_settings.h). Runs without applying the stored settings first,
 * so that a value written by hand that start-up refuses can still be fixed from here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "data/operator_settings.h"
#include "adapt/store.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tallysync operator list\n"
            "       tallysync operator get NAME\n"
            "       tallysync operator set NAME URL\n"
            "       tallysync operator unset NAME\n\n"
            "The administrator's settings kept in DATABASE_URL's store: where the engine sends\n"
            "tenants' secrets. Every command on that database (serve, sync, run --ctx) uses them.\n"
            "Per setting: the environment variable (or ./.env) wins when set, else the stored\n"
            "value, else the default. URLs must use https:// unless the host is loopback.\n"
            "A running engine reads them at its next start.\n\nsettings:\n");
    for (size_t i = 0; i < eng_operator_settings_ndefs; i++)
        fprintf(out, "  %-22s default %s\n", eng_operator_settings_defs[i].name,
                eng_operator_settings_defs[i].def != NULL ? eng_operator_settings_defs[i].def
                                                          : "(none)");
}

/* NAME=VALUE (source) per setting, or the value of one (empty line when unset). */
static int show(struct eng_store *st, struct eng_config *cfg, const char *only, struct eng_err *err)
{
    if (eng_operator_settings_apply(st, cfg, err) != 0)
        return 1;
    for (size_t i = 0; i < eng_operator_settings_ndefs; i++) {
        const struct eng_operator_def *d = &eng_operator_settings_defs[i];
        if (only != NULL && strcmp(only, d->name) != 0)
            continue;
        const char *v = *(char **)(void *)((char *)cfg + d->cfg_off);
        const char *env = getenv(d->name);
        const char *source = env != NULL && *env != '\0' ? "environment"
                             : v != NULL && (d->def == NULL || strcmp(v, d->def) != 0) ? "store"
                                                                                       : "default";
        if (only != NULL)
            printf("%s\n", v != NULL ? v : "");
        else
            printf("%s=%s  (%s)\n", d->name, v != NULL ? v : "", v != NULL ? source : "unset");
    }
    return 0;
}

int eng_cli_operator(int argc, char **argv)
{
    if (eng_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *verb = argc > 1 ? argv[1] : "";
    int want = strcmp(verb, "list") == 0                                ? 2
               : strcmp(verb, "get") == 0 || strcmp(verb, "unset") == 0 ? 3
               : strcmp(verb, "set") == 0                               ? 4
                                                                        : -1;
    if (want < 0 || argc != want) {
        if (want < 0 && argc > 1)
            fprintf(stderr, "tallysync operator: unknown action '%s'\n\n", verb);
        else if (want > 0)
            fprintf(stderr, "tallysync operator %s: expected %d argument%s\n\n", verb, want - 2,
                    want == 3 ? "" : "s");
        usage(stderr);
        return 2;
    }
    if (want >= 3 && eng_operator_settings_find(argv[2]) == NULL) {
        fprintf(stderr,
                "tallysync operator %s: no setting named '%s' (see tallysync operator "
                "--help)\n",
                verb, argv[2]);
        return 2;
    }
    struct eng_config cfg;
    if (eng_cli_config(&cfg, "operator") != 0)
        return 1;
    struct eng_err err = {0};
    struct eng_store *st = NULL;
    int rc = 1, removed = 0;
    if (eng_store_open(cfg.database_url, &st, &err) != 0 ||
        eng_store_migrate(st, cfg.schema_dir, NULL, &err) != 0)
        rc = 1;
    else if (strcmp(verb, "list") == 0 || strcmp(verb, "get") == 0)
        rc = show(st, &cfg, want == 3 ? argv[2] : NULL, &err);
    else if (strcmp(verb, "set") == 0)
        rc = eng_operator_settings_set(st, argv[2], argv[3], "cli", &err) != 0;
    else
        rc = eng_operator_settings_unset(st, argv[2], &removed, &err) != 0;
    if (rc != 0) {
        fprintf(stderr, "tallysync operator %s: %s\n", verb, err.msg);
    } else if (want >= 3 && strcmp(verb, "get") != 0) {
        const char *env = getenv(argv[2]);
        printf("%s %s%s\n", argv[2],
               strcmp(verb, "set") == 0 ? "stored"
               : removed                ? "removed: the default applies"
                                        : "was not stored",
               env != NULL && *env != '\0' ? " (the environment sets it: its value wins)" : "");
    }
    eng_store_close(st);
    eng_config_free(&cfg);
    return rc;
}
