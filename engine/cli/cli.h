/*
 * cli.h - the commands of the `tallysync` binary, each `int fn(int argc, char **argv)` with
 * argv[0] the command name, returning the process exit status (0 ok, 1 failure, 2 usage).
 */
#ifndef ENG_CLI_H
#define ENG_CLI_H

#include "base/config.h"
#include "lua/vm.h"

struct eng_cli_command {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv);
};

int eng_cli_version(int argc, char **argv);
int eng_cli_keygen(int argc, char **argv);
int eng_cli_migrate(int argc, char **argv);
int eng_cli_run(int argc, char **argv);
int eng_cli_dry_run(int argc, char **argv);     /* cli_dry_run.c */
int eng_cli_serve(int argc, char **argv);       /* serve.c */
int eng_cli_test(int argc, char **argv);        /* cli_test.c */
int eng_cli_keys_rotate(int argc, char **argv); /* cli_keys.c */
int eng_cli_token(int argc, char **argv);       /* cli_token.c */
int eng_cli_sync(int argc, char **argv);        /* cli_sync.c */

/* Shared start-up: load the configuration (exit status 1 with a clear line on failure). */
int eng_cli_config(struct eng_config *cfg, const char *cmd);
/* Open the store named by cfg, apply pending migrations, then the operator settings stored there
 * (operator_settings.h: into cfg, where the environment sets nothing); 0 or prints why and
 * returns 1. quiet 0 prints what was applied; 1 prints nothing; 2 (serve) logs one line naming
 * the database's absolute path. Every level warns when the file is readable by others. */
int eng_cli_migrate_store(struct eng_config *cfg, const char *cmd, int quiet);
/* VM options from the configuration (strings borrowed from cfg). */
void eng_cli_vm_opts(const struct eng_config *cfg, struct eng_vm_opts *opts);
/* 1 when argv has --help / -h. */
int eng_cli_wants_help(int argc, char **argv);
/* Store the value of option argv[*i] in *slot (slot NULL: not an option the command knows) and
 * step *i onto it: 0, or 2 (the exit status) after a line on stderr naming the command: "unknown
 * argument '...' (see --help)" or "... needs a value". */
int eng_cli_option_value(const char *cmd, int argc, char **argv, int *i, const char **slot);
/* When argv has --help / -h: usage to stdout, answers 1 (the command then returns 0); else 0. */
int eng_cli_help(int argc, char **argv, const char *usage);

/* `tallysync operator` (cli_operator.c) */
int eng_cli_operator(int argc, char **argv);

#endif
