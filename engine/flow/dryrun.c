/*
 * dryrun.c - run a mapping over input records without writing anything (see dryrun.h): the
 * API's POST /api/mappings/{name}/dry-run on a worker's VM, and `tallysync dry-run`
 * (cli/cli_dry_run.c). The driver is scripts/lib/dryrun.lua, reached through eng_vm_call only:
 * prepare, parse, then one call per record so each record has its own budget.
 * Owns: the two references it takes (the prepared state, the parsed records), released before
 * it returns. Must not: touch the Lua stack; write anywhere.
 */
#include "flow/dryrun.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "flow/worker.h"
#include "lua/vm.h"

/* One line per failure: keep the message (it names file:line), drop the traceback. */
static const char *dryrun_msg(struct eng_err *err)
{
    char *tb = strstr(err->msg, "\nstack traceback:");
    if (tb != NULL)
        *tb = '\0';
    for (char *p = err->msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return err->msg;
}

/* Map (or explain) records[i] into out; one line in errors when it fails. 0 or ENG_ESCRIPT. */
static int dryrun_record(struct eng_vm *vm, int state, int records, long long i, unsigned flags,
                         int format, int wrap, struct eng_buf *out, struct eng_buf *errors)
{
    int text = (flags & ENG_DRYRUN_EXPLAIN) && !(flags & ENG_DRYRUN_EXPLAIN_JSON);
    int pretty = format != ENG_DRYRUN_NDJSON;
    struct eng_err err = {0};
    char *doc = NULL;
    size_t len = 0;
    int rc = (flags & ENG_DRYRUN_EXPLAIN)
                 ? eng_vm_call(vm, "lib.dryrun", "explain_one", 0, &err, "rribb>S", state, records,
                               i, !text, pretty, &doc, &len)
                 : eng_vm_call(vm, "lib.dryrun", "map_one", 0, &err, "rrib>S", state, records, i,
                               pretty, &doc, &len);
    if (rc != 0) {
        /* budget and memory errors come from the VM and do not name the record */
        if ((err.code == ENG_EBUDGET || err.code == ENG_ENOMEM) &&
            strncmp(err.msg, "record ", 7) != 0)
            eng_buf_printf(errors, "record %lld: %s\n", i, dryrun_msg(&err));
        else
            eng_buf_printf(errors, "%s\n", dryrun_msg(&err));
        return ENG_ESCRIPT;
    }
    if (wrap && i > 1)
        eng_buf_puts(out, ",\n");
    if (text && i > 1)
        eng_buf_putc(out, '\n');
    if (doc != NULL)
        eng_buf_append(out, doc, len);
    if (!wrap)
        eng_buf_putc(out, '\n');
    free(doc);
    return 0;
}

/* eng_dryrun_execute with the VM already read-only. */
static int dryrun_run(struct eng_vm *vm, const char *mapping, const char *input, size_t inlen,
                      const char *source, const char *config, size_t conflen, struct eng_buf *out,
                      struct eng_buf *errors, int *format, unsigned flags,
                      struct eng_dryrun_limits *lim)
{
    int text = (flags & ENG_DRYRUN_EXPLAIN) && !(flags & ENG_DRYRUN_EXPLAIN_JSON);
    struct eng_err err = {0};
    int state = ENG_VM_NOREF, records = ENG_VM_NOREF;
    long long max =
        lim != NULL && lim->max_records > 0 ? lim->max_records : ENG_DRYRUN_DEFAULT_MAX_RECORDS;
    *format = ENG_DRYRUN_SINGLE;

    if (eng_vm_call(vm, "lib.dryrun", "prepare", 0, &err, "sS>r", mapping, config,
                    config != NULL ? conflen : 0, &state) != 0) {
        eng_buf_printf(errors, "mapping %s: %s\n", mapping, dryrun_msg(&err));
        return ENG_ESCRIPT;
    }
    char *fmt = NULL;
    long long n = 0;
    if (eng_vm_call(vm, "lib.dryrun", "parse", 0, &err, "Ssi>rsi", input, inlen, source, max,
                    &records, &fmt, &n) != 0) {
        eng_buf_printf(errors, "%s\n", dryrun_msg(&err));
        eng_vm_unref(vm, state);
        return ENG_EINVAL;
    }
    *format = fmt == NULL                  ? ENG_DRYRUN_SINGLE
              : strcmp(fmt, "array") == 0  ? ENG_DRYRUN_ARRAY
              : strcmp(fmt, "ndjson") == 0 ? ENG_DRYRUN_NDJSON
                                           : ENG_DRYRUN_SINGLE;
    free(fmt);
    if (n > max) { /* nothing was kept past the limit: refuse the whole input */
        if (lim != NULL)
            lim->too_many = 1;
        eng_buf_printf(errors,
                       "%s: %lld records; a dry run maps at most %lld (DRY_RUN_MAX_RECORDS)\n",
                       source, n, max);
        eng_vm_unref(vm, records);
        eng_vm_unref(vm, state);
        return ENG_EINVAL;
    }

    int rc = 0;
    long long failed = 0;
    int wrap = *format == ENG_DRYRUN_ARRAY && !text;
    if (wrap)
        eng_buf_puts(out, n > 0 ? "[\n" : "[]");
    for (long long i = 1; i <= n; i++) {
        eng_workers_beat(NULL); /* each record has its own budget: a heartbeat per record */
        if (dryrun_record(vm, state, records, i, flags, *format, wrap, out, errors) == 0)
            continue;
        rc = ENG_ESCRIPT;
        if (++failed == ENG_DRYRUN_MAX_ERRORS && i < n) {
            /* the answer is an error anyway: mapping the rest would only cost time */
            eng_buf_printf(errors,
                           "stopped after %d failing records: records %lld to %lld were not "
                           "mapped\n",
                           ENG_DRYRUN_MAX_ERRORS, i + 1, n);
            break;
        }
    }
    if (wrap)
        eng_buf_puts(out, n > 0 ? "\n]\n" : "\n");
    eng_vm_unref(vm, records);
    eng_vm_unref(vm, state);
    if (out->oom || errors->oom)
        rc = ENG_ENOMEM;
    return rc;
}

int eng_dryrun_execute(struct eng_vm *vm, const char *mapping, const char *input, size_t inlen,
                       const char *source, const char *config, size_t conflen, struct eng_buf *out,
                       struct eng_buf *errors, int *format, unsigned flags,
                       struct eng_dryrun_limits *lim)
{
    int was = eng_vm_set_db_readonly(vm, 1);
    int rc = dryrun_run(vm, mapping, input, inlen, source, config, conflen, out, errors, format,
                        flags, lim);
    eng_vm_set_db_readonly(vm, was);
    return rc;
}

char *eng_dryrun_note(struct eng_vm *vm, const char *mapping, const char *config, size_t conflen)
{
    char *note = NULL;
    struct eng_err err = {0};
    int was = eng_vm_set_db_readonly(vm, 1);
    int rc = eng_vm_call(vm, "lib.mapping", "assumption_note", 0, &err, "sS>s", mapping, config,
                         config != NULL ? conflen : 0, &note);
    eng_vm_set_db_readonly(vm, was);
    return rc != 0 ? NULL : note;
}
