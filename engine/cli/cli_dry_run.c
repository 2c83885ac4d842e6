/*
 * cli_dry_run.c - `tallysync dry-run`: feed records to a mapping and print what would be sent.
 * This half reads the files, checks the arguments and prints; flow/dryrun.c maps (through
 * scripts/lib/dryrun.lua, one call per record so each record has its own budget).
 * Owns: the input and config texts and its VM, freed before it returns. Must not: write
 * anything anywhere: no store is opened.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "flow/dryrun.h"
#include "lua/vm.h"

#define DRYRUN_MAX_INPUT ((size_t)256 << 20)

static void dryrun_usage(FILE *out)
{
    fprintf(out,
            "usage: tallysync dry-run --mapping NAME --input FILE|- [--config FILE]\n"
            "                         [--explain [--json]]\n\n"
            "Loads MAPPINGS_DIR/NAME.lua, feeds it the JSON record in FILE (or stdin for -): one\n"
            "object, a JSON array of records, or NDJSON (one record per line), and prints what\n"
            "would be sent to the target: one document per record, in input order (a JSON array\n"
            "for an array input, one line per record for NDJSON). --config is a JSON file with "
            "the\ntenant's transformer_config (shipping_item_id, default_payment_terms_days,\n"
            "custom_field_mappings, tax_code_mappings, default_tax_code_id, paid_orders_as,\n"
            "create_missing_items).\n\n"
            "--explain prints, for every output field (0-based JSONPath: $.Line[0].Amount),\n"
            "the rule (rules[i], the input path it read and the value) or the source line\n"
            "that wrote it, with the calls that led there through the helper libraries;\n"
            "never a guess by value. With --json: one JSON object per record {record,\n"
            "describe, output, fields[]}.\n\n"
            "Nothing is written: no database, no remote system. Exit status 1 with one line per\n"
            "failing record on stderr when the input or the mapping fails. At most\n"
            "DRY_RUN_MAX_RECORDS records (default 1000; more are refused, nothing is mapped);\n"
            "the run stops after 100 failing records and says so in a last line.\n");
}

/* Read a whole file ("-" = stdin) into a NUL-terminated heap block the caller frees. */
static char *dryrun_slurp(const char *path, size_t *len, char *why, size_t whylen)
{
    struct eng_buf b;
    struct eng_err err = {0};
    eng_buf_init(&b);
    if (eng_buf_read_file(&b, path, DRYRUN_MAX_INPUT, &err) != 0) {
        snprintf(why, whylen, "%.*s", (int)(whylen - 1), err.msg);
        eng_buf_free(&b);
        return NULL;
    }
    char *p = eng_buf_take(&b, len);
    if (p == NULL)
        snprintf(why, whylen, "out of memory reading %s", path);
    return p;
}

static int dryrun_name_ok(const char *name)
{
    if (*name == '\0')
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

struct dryrun_args {
    const char *mapping;
    const char *input;
    const char *config;
    unsigned flags;
};

static int dryrun_parse_args(int argc, char **argv, struct dryrun_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--explain") == 0) {
            a->flags |= ENG_DRYRUN_EXPLAIN;
            continue;
        }
        if (strcmp(argv[i], "--json") == 0) {
            a->flags |= ENG_DRYRUN_EXPLAIN_JSON;
            continue;
        }
        if (strcmp(argv[i], "--mapping") == 0)
            slot = &a->mapping;
        else if (strcmp(argv[i], "--input") == 0)
            slot = &a->input;
        else if (strcmp(argv[i], "--config") == 0)
            slot = &a->config;
        if (eng_cli_option_value("dry-run", argc, argv, &i, slot) != 0)
            return 2;
    }
    if ((a->flags & ENG_DRYRUN_EXPLAIN_JSON) && !(a->flags & ENG_DRYRUN_EXPLAIN)) {
        fprintf(stderr, "tallysync dry-run: --json goes with --explain (the outputs are JSON "
                        "already)\n");
        return 2;
    }
    if (a->mapping == NULL || a->input == NULL) {
        fprintf(stderr, "tallysync dry-run: --mapping and --input are required (see --help)\n");
        return 2;
    }
    return 0;
}

/* Print the outputs, or every error line (one per failing record) and nothing on stdout. */
static int dryrun_execute(struct eng_vm *vm, const struct dryrun_args *a, const char *input,
                          size_t inlen, const char *config, size_t conflen, long long max_records)
{
    struct eng_buf out, errors;
    int format;
    struct eng_dryrun_limits lim = {.max_records = max_records};
    eng_buf_init(&out);
    eng_buf_init(&errors);
    int rc = eng_dryrun_execute(vm, a->mapping, input, inlen,
                                strcmp(a->input, "-") == 0 ? "stdin" : a->input, config, conflen,
                                &out, &errors, &format, a->flags, &lim);
    if (rc == 0) {
        fwrite(out.data, 1, out.len, stdout);
        fflush(stdout);
    } else if (rc == ENG_ENOMEM && errors.len == 0) {
        fprintf(stderr, "tallysync dry-run: out of memory building the output\n");
    } else {
        /* one line per failure, each prefixed with the command */
        for (char *line = errors.data; line != NULL && *line != '\0';) {
            char *nl = strchr(line, '\n');
            size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
            fprintf(stderr, "tallysync dry-run: %.*s\n", (int)len, line);
            line = nl != NULL ? nl + 1 : NULL;
        }
    }
    eng_buf_free(&out);
    eng_buf_free(&errors);
    return rc == 0 ? 0 : 1;
}

/* Say on stderr what the mapping assumed about its target company: a dry run reads none
 * (nothing when the settings leave nothing to it). */
static void dryrun_note(struct eng_vm *vm, const char *mapping, const char *config, size_t conflen)
{
    char *note = eng_dryrun_note(vm, mapping, config, conflen);
    if (note != NULL)
        fprintf(stderr, "tallysync dry-run: note: %s\n", note);
    free(note);
}

int eng_cli_dry_run(int argc, char **argv)
{
    if (eng_cli_wants_help(argc, argv)) {
        dryrun_usage(stdout);
        return 0;
    }
    struct dryrun_args a;
    int rc = dryrun_parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (!dryrun_name_ok(a.mapping)) {
        fprintf(stderr,
                "tallysync dry-run: '%s' is not a mapping name (letters, digits, _ and -)\n",
                a.mapping);
        return 2;
    }

    struct eng_config cfg;
    if (eng_cli_config(&cfg, "dry-run") != 0)
        return 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.lua", cfg.mappings_dir, a.mapping);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "tallysync dry-run: unknown mapping '%s' (no readable file %s)\n",
                a.mapping, path);
        eng_config_free(&cfg);
        return 1;
    }

    char why[sizeof((struct eng_err *)0)->msg];
    size_t inlen = 0, conflen = 0;
    char *input = dryrun_slurp(a.input, &inlen, why, sizeof why);
    char *config = NULL;
    if (input != NULL && a.config != NULL)
        config = dryrun_slurp(a.config, &conflen, why, sizeof why);
    if (input == NULL || (a.config != NULL && config == NULL)) {
        fprintf(stderr, "tallysync dry-run: %s\n", why);
        free(input);
        eng_config_free(&cfg);
        return 1;
    }

    struct eng_vm_opts opts;
    eng_cli_vm_opts(&cfg, &opts);
    opts.database_path = NULL; /* a dry run writes nothing, not even a new database file */
    /* The whole input is decoded in the script's state: let the cap grow with the input
     * (decoded JSON takes several times its text), so a large batch is not refused. */
    size_t want = inlen * 16 + ((size_t)32 << 20);
    if (want > opts.mem_limit)
        opts.mem_limit = want < ((size_t)8 << 30) ? want : ((size_t)8 << 30);
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&opts, &err);
    int status = 1;
    if (vm == NULL)
        fprintf(stderr, "tallysync dry-run: %s\n", err.msg);
    else
        status = dryrun_execute(vm, &a, input, inlen, config, conflen, cfg.dry_run_max_records);
    if (status == 0)
        dryrun_note(vm, a.mapping, config, conflen);
    eng_vm_free(vm);
    free(input);
    free(config);
    eng_config_free(&cfg);
    return status;
}
