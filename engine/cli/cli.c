/*
 * cli.c - the small commands (version, keygen, migrate, run) and the start-up steps every
 * command shares. Owns nothing beyond a command's own run.
 */
#include "cli/cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/connctx.h"
#include "adapt/crypto.h"
#include "adapt/httpc.h"
#include "adapt/httpd.h"
#include "base/log.h"
#include "data/operator_settings.h"
#include "adapt/store.h"
#include "data/vault.h"

static const char VERSION_USAGE[] =
    "usage: tallysync version\n\nPrints the engine's version, then each library it "
    "runs on with the version\nloaded at run time (SQLite, libcurl and its TLS, "
    "mbed TLS, libmicrohttpd, Lua).\n";

static const char KEYGEN_USAGE[] =
    "usage: tallysync keygen\n\nPrints a fresh random 32-byte key, base64-encoded, "
    "for INTEGRATION_ENCRYPTION_KEY.\nKeep it secret; losing it loses the stored "
    "credentials.\n";

static const char MIGRATE_USAGE[] =
    "usage: tallysync migrate\n\nApplies the numbered SQL files of SCHEMA_DIR that "
    "DATABASE_URL has not seen yet,\nin order, and records them in "
    "schema_migrations. Running it twice applies nothing twice.\n";

int eng_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

int eng_cli_option_value(const char *cmd, int argc, char **argv, int *i, const char **slot)
{
    if (slot == NULL) {
        fprintf(stderr, "tallysync %s: unknown argument '%s' (see --help)\n", cmd, argv[*i]);
        return 2;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "tallysync %s: %s needs a value\n", cmd, argv[*i]);
        return 2;
    }
    *slot = argv[++*i];
    return 0;
}

int eng_cli_help(int argc, char **argv, const char *usage)
{
    if (!eng_cli_wants_help(argc, argv))
        return 0;
    fputs(usage, stdout);
    return 1;
}

int eng_cli_config(struct eng_config *cfg, const char *cmd)
{
    struct eng_err err = {0};
    if (eng_config_load(cfg, &err) != 0 ||
        eng_httpc_setup(cfg->http_ca_file, cfg->allow_private_targets, &err) != 0) {
        fprintf(stderr, "tallysync %s: configuration: %s\n", cmd, err.msg);
        eng_config_free(cfg);
        return 1;
    }
    /* The store API speaks PostgreSQL (adapt/store_pg.c), the engine not yet: its schema
     * migrations, SQL dialect, queue and script SQL are SQLite's (issue 15's later slices). */
    if (eng_store_url_is_pg(cfg->database_url)) {
        fprintf(stderr,
                "tallysync %s: configuration: DATABASE_URL names a PostgreSQL database: the "
                "PostgreSQL store is not complete in this build: its schema migrations, SQL "
                "dialect, job queue and script SQL are SQLite's so far; use a SQLite URL such "
                "as sqlite:./data/pos.db\n",
                cmd);
        eng_config_free(cfg);
        return 1;
    }
    eng_log_set_level(cfg->log_level);
    eng_log_set_format(cfg->log_format);
    return 0;
}

int eng_cli_migrate_store(struct eng_config *cfg, const char *cmd, int quiet)
{
    struct eng_err err = {0};
    struct eng_store *st = NULL;
    int applied = 0;
    if (eng_store_open(cfg->database_url, &st, &err) != 0 ||
        eng_store_migrate(st, cfg->schema_dir, &applied, &err) != 0 ||
        eng_operator_settings_apply(st, cfg, &err) !=
            0) { /* every entry point: the same settings */
        fprintf(stderr, "tallysync %s: database: %s\n", cmd, err.msg);
        eng_store_close(st);
        return 1;
    }
    if (quiet == 0)
        printf("%s: %d migration%s applied\n", eng_store_path(st), applied,
               applied == 1 ? "" : "s");
    char real[PATH_MAX];
    if (quiet == 2)
        eng_log_kv(ENG_LOG_INFO, NULL, NULL, "database",
                   (const char *const[]){
                       "path",
                       realpath(eng_store_path(st), real) != NULL ? real : eng_store_path(st),
                       NULL});
    /* warned, not tightened: the operator may have opened it to a backup group on purpose */
    char warning[PATH_MAX + 256];
    if (eng_store_mode_warning(st, warning, sizeof warning))
        eng_logf(ENG_LOG_WARN, "%s", warning);
    eng_store_close(st);
    return 0;
}

void eng_cli_vm_opts(const struct eng_config *cfg, struct eng_vm_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->scripts_dir = cfg->scripts_dir;
    opts->mappings_dir = cfg->mappings_dir;
    opts->database_path = cfg->database_url;
    opts->mem_limit = cfg->script_memory_bytes;
    opts->budget_ms = cfg->script_timeout_ms;
    opts->budget_instr = cfg->script_max_instructions;
    opts->fast_alloc = 1; /* a command's and serve's workers' states map many records */
}

int eng_cli_version(int argc, char **argv)
{
    if (eng_cli_help(argc, argv, VERSION_USAGE))
        return 0;
    /* run-time versions, not the headers': what a bug report needs is what was loaded */
    char curl[128], mbed[48], mhd[48];
    eng_httpc_lib_version(curl, sizeof curl);
    eng_crypto_lib_version(mbed, sizeof mbed);
    eng_httpd_lib_version(mhd, sizeof mhd);
    printf("tallysync %s\n  %s\n  %s\n  %s\n  %s\n  %s\n", ENG_VERSION, eng_store_lib_version(),
           curl, mbed, mhd, eng_vm_lua_release());
    return 0;
}

int eng_cli_keygen(int argc, char **argv)
{
    if (eng_cli_help(argc, argv, KEYGEN_USAGE))
        return 0;
    unsigned char key[ENG_CRYPTO_KEY_LEN];
    char text[64];
    struct eng_err err = {0};
    int rc = eng_crypto_random(key, sizeof key, &err);
    if (rc == 0)
        rc = eng_crypto_base64_encode(key, sizeof key, text, sizeof text, NULL, &err);
    eng_crypto_wipe(key, sizeof key);
    if (rc != 0) {
        fprintf(stderr, "tallysync keygen: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", text);
    eng_crypto_wipe(text, sizeof text);
    return 0;
}

int eng_cli_migrate(int argc, char **argv)
{
    if (eng_cli_help(argc, argv, MIGRATE_USAGE))
        return 0;
    if (argc > 1) {
        fprintf(stderr, "tallysync migrate: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    struct eng_config cfg;
    if (eng_cli_config(&cfg, "migrate") != 0)
        return 1;
    int rc = eng_cli_migrate_store(&cfg, "migrate", 0);
    eng_config_free(&cfg);
    return rc;
}

int eng_cli_run(int argc, char **argv)
{
    const char *ctx_platform = NULL, *ctx_tenant = "default";
    while (argc >= 3 && (strcmp(argv[1], "--ctx") == 0 || strcmp(argv[1], "--tenant") == 0)) {
        if (strcmp(argv[1], "--ctx") == 0)
            ctx_platform = argv[2];
        else
            ctx_tenant = argv[2];
        argc -= 2;
        argv += 2;
    }
    if (eng_cli_wants_help(argc, argv) || argc < 2) {
        FILE *out = argc < 2 ? stderr : stdout;
        fprintf(out,
                "usage: tallysync run [--ctx PLATFORM [--tenant ID]] FILE.lua [ARGS...]\n\n"
                "Runs FILE.lua in the script sandbox with the engine modules "
                "(require \"engine.json\",\n\"engine.http\", ...). ARGS reach the chunk as "
                "`...`. print() writes to stdout.\nengine.db reads and writes every table (the "
                "engine's own scripts see only theirs).\nThe call runs under SCRIPT_TIMEOUT_MS, "
                "SCRIPT_MAX_INSTRUCTIONS and SCRIPT_MEMORY_MB.\n--ctx passes the connector "
                "context the engine builds for PLATFORM and tenant ID (default\n\"default\"; "
                "credentials from the vault, needs INTEGRATION_ENCRYPTION_KEY) as the first "
                "argument.\nExit status: 0 when the "
                "script returns, 1 when it raises or runs out of budget.\n");
        return argc < 2 ? 2 : 0;
    }
    struct eng_config cfg;
    if (eng_cli_config(&cfg, "run") != 0)
        return 1;
    if (eng_cli_migrate_store(&cfg, "run", 1) != 0) {
        eng_config_free(&cfg);
        return 1;
    }
    struct eng_vm_opts opts;
    eng_cli_vm_opts(&cfg, &opts);
    opts.print_to_stdout = 1;
    opts.db_all_tables = 1; /* the operator's own script: engine.db sees every table */

    struct eng_err err = {0};
    struct eng_keyring *keys = NULL;
    struct eng_store *st = NULL;
    struct eng_vm *vm = eng_vm_new(&opts, &err);
    int status = 1, ctx_failed = 0;
    struct eng_connctx_opts ctx = {.cfg = &cfg};
    if (vm == NULL) {
        fprintf(stderr, "tallysync run: %s\n", err.msg);
    } else if (ctx_platform != NULL && (eng_keyring_from_env(&keys, &err) != 0 ||
                                        eng_store_open(cfg.database_url, &st, &err) != 0)) {
        fprintf(stderr, "tallysync run: --ctx %s: %s\n", ctx_platform, err.msg);
    } else {
        /* the context's functions use keys and st while the script runs: freed after the VM */
        ctx.keys = keys;
        ctx.st = st;
        if (eng_vm_run_file(vm, argv[1], ctx_platform != NULL ? &ctx : NULL, ctx_tenant,
                            ctx_platform, argc - 2, argv + 2, &ctx_failed, &err) == 0)
            status = 0;
        else if (ctx_failed)
            fprintf(stderr, "tallysync run: --ctx %s: %s\n", ctx_platform, err.msg);
        else
            fprintf(stderr, "tallysync run: %s\n", err.msg);
    }
    fflush(stdout);
    eng_vm_free(vm);
    eng_store_close(st);
    eng_keyring_free(keys);
    eng_config_free(&cfg);
    return status;
}
