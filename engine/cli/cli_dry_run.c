/*
 * cli_dry_run.c - `tallysync dry-run`: feed records to a mapping and print what would be sent.
 * This half opens the input, checks the arguments and prints; flow/dryrun.c reads the input as
 * a stream and maps (through scripts/lib/dryrun.lua, one call per record so each record has its
 * own budget), handing each output and error line here as it is made.
 * Owns: the input stream, the config text and its VM, released before it returns. Must not: write
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

#define DRYRUN_MAX_CONFIG ((size_t)16 << 20)

static void dryrun_usage(FILE *out)
{
    fprintf(out,
            "usage: tallysync dry-run --mapping NAME --input FILE|- [--config FILE]\n"
            "                         [--explain [--json]] [--jobs N]\n\n"
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
            "Nothing is written: no database, no remote system.\n\n"
            "The input is read as a stream: at most 16 records per job and their outputs\n"
            "are held at a time, so memory stays flat however many records there are (no\n"
            "record limit here: DRY_RUN_MAX_RECORDS bounds the API's dry run only; one\n"
            "record is at most 16 MiB), and each document is written, in input order, as\n"
            "soon as it and those before it are made.\n"
            "A record that fails (a malformed line or element, a mapping error, a total the\n"
            "mapping refuses) prints one line on stderr naming it (record N, its id or its\n"
            "line) and the others still come out: an array input gives the array without\n"
            "the failed elements. Exit status 1 when the input, the mapping or any record\n"
            "failed.\n\n"
            "--jobs N maps on N threads, each with its own copy of the mapping (default: the\n"
            "CPUs this process may use, at most 8; 1 to 64): the output is the same, in the\n"
            "same order, whatever N. Each thread has the script's memory cap\n"
            "(SCRIPT_MEMORY_MB) and budget per record; a thread past the first starts only\n"
            "once the input has more than 32 records per thread already started.\n");
}

/* Read a whole file (the --config file) into a NUL-terminated heap block the caller frees. */
static char *dryrun_slurp(const char *path, size_t *len, char *why, size_t whylen)
{
    struct eng_buf b;
    struct eng_err err = {0};
    eng_buf_init(&b);
    if (eng_buf_read_file(&b, path, DRYRUN_MAX_CONFIG, &err) != 0) {
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
    int jobs;
};

static int dryrun_parse_args(int argc, char **argv, struct dryrun_args *a)
{
    memset(a, 0, sizeof *a);
    const char *jobs = NULL;
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
        else if (strcmp(argv[i], "--jobs") == 0)
            slot = &jobs;
        if (eng_cli_option_value("dry-run", argc, argv, &i, slot) != 0)
            return 2;
    }
    if ((a->flags & ENG_DRYRUN_EXPLAIN_JSON) && !(a->flags & ENG_DRYRUN_EXPLAIN)) {
        fprintf(stderr, "tallysync dry-run: --json goes with --explain (the outputs are JSON "
                        "already)\n");
        return 2;
    }
    a->jobs = eng_dryrun_jobs_default();
    if (jobs != NULL) {
        char *end = NULL;
        errno = 0;
        long n = strtol(jobs, &end, 10);
        if (errno != 0 || end == jobs || *end != '\0' || n < 1 || n > ENG_DRYRUN_MAX_JOBS) {
            fprintf(stderr, "tallysync dry-run: --jobs takes a number from 1 to %d, not '%s'\n",
                    ENG_DRYRUN_MAX_JOBS, jobs);
            return 2;
        }
        a->jobs = (int)n;
    }
    if (a->mapping == NULL || a->input == NULL) {
        fprintf(stderr, "tallysync dry-run: --mapping and --input are required (see --help)\n");
        return 2;
    }
    return 0;
}

struct dryrun_out {
    int werr; /* errno of the first failed write to stdout */
};

static int dryrun_write(void *u, const char *s, size_t n)
{
    struct dryrun_out *o = u;
    if (fwrite(s, 1, n, stdout) == n)
        return 0;
    o->werr = errno != 0 ? errno : EIO;
    return ENG_EIO;
}

static void dryrun_error(void *u, long long record, const char *line, size_t n)
{
    (void)u, (void)record;
    fprintf(stderr, "tallysync dry-run: %.*s\n", (int)n, line);
}

/* Map the input as it is read: each output on stdout as it is made (buffered, flushed when
 * the buffer fills and at the end), each failing record's line on stderr; on vm, or with
 * a->jobs > 1 (vm NULL) on that many threads with VMs made from opts, the note then in *note.
 * 0 when every record mapped, 1 otherwise; *mapped gets how many did. */
static int dryrun_execute(struct eng_vm *vm, const struct eng_vm_opts *opts,
                          const struct dryrun_args *a, FILE *in, const char *config, size_t conflen,
                          long long *mapped, char **note)
{
    int format;
    struct eng_dryrun_limits lim = {0}; /* the CLI: no record limit, no failure stop */
    struct dryrun_out o = {0};
    const struct eng_dryrun_sink sink = {dryrun_write, dryrun_error, &o};
    const char *source = strcmp(a->input, "-") == 0 ? "stdin" : a->input;
    int rc = vm != NULL
                 ? eng_dryrun_stream(vm, a->mapping, in, NULL, 0, source, config, conflen, &sink,
                                     &format, a->flags, &lim)
                 : eng_dryrun_parallel(opts, a->jobs, a->mapping, in, NULL, 0, source, config,
                                       conflen, &sink, &format, a->flags, &lim, note);
    if (fflush(stdout) != 0 && o.werr == 0)
        o.werr = errno != 0 ? errno : EIO;
    if (o.werr != 0)
        fprintf(stderr, "tallysync dry-run: writing the output: %s\n", strerror(o.werr));
    else if (rc == ENG_ENOMEM)
        fprintf(stderr, "tallysync dry-run: out of memory\n");
    *mapped = lim.records - lim.failed;
    return rc == 0 && o.werr == 0 ? 0 : 1;
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
    size_t conflen = 0;
    char *config = NULL;
    if (a.config != NULL && (config = dryrun_slurp(a.config, &conflen, why, sizeof why)) == NULL) {
        fprintf(stderr, "tallysync dry-run: %s\n", why);
        eng_config_free(&cfg);
        return 1;
    }
    FILE *in = strcmp(a.input, "-") == 0 ? stdin : fopen(a.input, "rb");
    if (in == NULL) {
        fprintf(stderr, "tallysync dry-run: cannot open %s: %s\n", a.input, strerror(errno));
        free(config);
        eng_config_free(&cfg);
        return 1;
    }

    struct eng_vm_opts opts;
    eng_cli_vm_opts(&cfg, &opts);
    opts.database_path = NULL; /* a dry run writes nothing, not even a new database file */
    /* one record at a time: the script's memory cap (SCRIPT_MEMORY_MB) is the same whatever
     * the input's size */
    static char outbuf[(size_t)64 << 10];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    int status = 1;
    long long mapped = 0;
    if (a.jobs > 1) { /* each worker thread makes its own VM */
        char *note = NULL;
        status = dryrun_execute(NULL, &opts, &a, in, config, conflen, &mapped, &note);
        if (note != NULL)
            fprintf(stderr, "tallysync dry-run: note: %s\n", note);
        free(note);
    } else {
        struct eng_err err = {0};
        struct eng_vm *vm = eng_vm_new(&opts, &err);
        if (vm == NULL)
            fprintf(stderr, "tallysync dry-run: %s\n", err.msg);
        else
            status = dryrun_execute(vm, &opts, &a, in, config, conflen, &mapped, NULL);
        if (vm != NULL && mapped > 0)
            dryrun_note(vm, a.mapping, config, conflen);
        eng_vm_free(vm);
    }
    if (in != stdin)
        fclose(in);
    free(config);
    eng_config_free(&cfg);
    return status;
}
