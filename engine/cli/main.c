/*
 * main.c - the `tallysync` command line: parses the command and hands over to the part that
 * does the work (cli.c for the small commands, dryrun.c, serve.c). Owns nothing long-lived.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct eng_cli_command commands[] = {
    {"version", "print the version and the libraries it runs on", eng_cli_version},
    {"help", "show this help, or a command's (tallysync help COMMAND)", NULL},
    {"keygen", "print a fresh key for INTEGRATION_ENCRYPTION_KEY", eng_cli_keygen},
    {"migrate", "apply the schema migrations to DATABASE_URL and exit", eng_cli_migrate},
    {"run", "run a Lua script in the sandbox with the engine modules", eng_cli_run},
    {"dry-run", "show what a mapping would send for input records, writing nothing",
     eng_cli_dry_run},
    {"token", "create, list or revoke tenant-scoped API tokens", eng_cli_token},
    {"test", "run the mappings' data tests (mappings/tests/NAME/*.json)", eng_cli_test},
    {"serve", "start the engine: API, workers and script hot reload", eng_cli_serve},
    {"sync", "run one sync of an entity (full or incremental, or a dry run)", eng_cli_sync},
    {"operator", "show or change the operator settings (where secrets are sent)", eng_cli_operator},
    {"rotate-key", "re-encrypt the stored credentials under a new key", eng_cli_keys_rotate},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tallysync COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nEvery command takes --help. Settings come from the environment and ./.env\n"
            "(DATABASE_URL, API_HOST, API_PORT, SCRIPTS_DIR, MAPPINGS_DIR, SCHEMA_DIR, ...).\n");
}

int main(int argc, char **argv)
{
    /* A peer that closes a socket must cost an error code, never the process. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0)
        name = "version";
    if (strcmp(name, "help") == 0) {
        if (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0 ||
            strcmp(argv[2], "help") == 0) {
            usage(stdout);
            return 0;
        }
        name = argv[2];
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
            if (strcmp(commands[i].name, name) == 0 && commands[i].fn != NULL) {
                char *hargv[] = {argv[0], argv[2], "--help", NULL};
                return commands[i].fn(2, hargv + 1);
            }
        }
        fprintf(stderr, "tallysync: unknown command '%s' (see tallysync help)\n", name);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tallysync: unknown command '%s' (see tallysync help)\n", name);
    return 2;
}
