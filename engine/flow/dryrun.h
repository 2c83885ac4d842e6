/*
 * dryrun.h - run a mapping over input records without writing anything. Shared by the CLI's
 * `dry-run` (cli/cli_dry_run.c) and the API's POST /api/mappings/{name}/dry-run (run on a
 * worker's VM). The driver is scripts/lib/dryrun.lua, called through eng_vm_call.
 * Owns: nothing past a call. Must not: write anywhere (the VM runs every call of a dry run with
 * eng_vm_set_db_readonly on: engine.db, engine.queue and engine.idmap refuse writes); hold Lua
 * values past a call.
 */
#ifndef ENG_DRYRUN_H
#define ENG_DRYRUN_H

#include <stddef.h>

#include "base/buf.h"

struct eng_vm;

enum { ENG_DRYRUN_SINGLE, ENG_DRYRUN_ARRAY, ENG_DRYRUN_NDJSON };

/* The bounds of one dry run (the input's size is the caller's: MAX_BODY_BYTES, the CLI's file
 * cap). More records than max_records: nothing is mapped, ENG_EINVAL with the one line
 * "SOURCE: N records; a dry run maps at most M (DRY_RUN_MAX_RECORDS)" and *too_many set.
 * After ENG_DRYRUN_MAX_ERRORS failing records the run stops, and a last error line says so
 * and how many records were not mapped. */
#define ENG_DRYRUN_DEFAULT_MAX_RECORDS 1000
#define ENG_DRYRUN_MAX_ERRORS          100

struct eng_dryrun_limits {
    long long max_records; /* <= 0: ENG_DRYRUN_DEFAULT_MAX_RECORDS */
    int too_many;          /* out: 1 when the input held more records than max_records */
};

/* flags of eng_dryrun_execute */
enum {
    ENG_DRYRUN_EXPLAIN = 1,      /* per record, where each output field came from */
    ENG_DRYRUN_EXPLAIN_JSON = 2, /* with ENG_DRYRUN_EXPLAIN: as JSON objects, not text */
};

/* Map every record of input (one JSON document, an array, or NDJSON) with mappings/<mapping>.
 * Appends the outputs to out (pretty JSON; a JSON array for an array input; one line per record
 * for NDJSON) and one line per failure to errors ("record 2 (id 727): cause"). source names the
 * input in messages. config is transformer_config JSON (may be NULL). *format gets the input's
 * shape. flags: ENG_DRYRUN_EXPLAIN gives, instead of each output, the text that says for every
 * field the rule or map() line that produced it and the input it read (one block per record);
 * with ENG_DRYRUN_EXPLAIN_JSON, a JSON object per record ({record, describe, output, fields}),
 * laid out like the outputs. lim (may be NULL: the defaults) bounds the run. Returns 0,
 * ENG_EINVAL (input unreadable, or too many records), ENG_ESCRIPT (mapping failed to load or a
 * record failed) or ENG_ENOMEM. Leaves the VM's stack as it found it. */
int eng_dryrun_execute(struct eng_vm *vm, const char *mapping, const char *input, size_t inlen,
                       const char *source, const char *config, size_t conflen, struct eng_buf *out,
                       struct eng_buf *errors, int *format, unsigned flags,
                       struct eng_dryrun_limits *lim);

/* What the mapping assumed about its target company, which a dry run never reads
 * (lib/mapping.lua assumption_note with the transformer_config text config, may be NULL): a
 * malloc'd sentence the caller frees, or NULL when the settings leave nothing to assume (or the
 * note cannot be had). */
char *eng_dryrun_note(struct eng_vm *vm, const char *mapping, const char *config, size_t conflen);

#endif
