/*
 * dryrun.h - run a mapping over input records without writing anything. Shared by the CLI's
 * `dry-run` and the API's POST /api/mappings/{name}/dry-run (run on a worker's VM).
 */
#ifndef ENG_DRYRUN_H
#define ENG_DRYRUN_H

#include <stddef.h>

#include "base/buf.h"
struct eng_vm;

enum { ENG_DRYRUN_SINGLE, ENG_DRYRUN_ARRAY, ENG_DRYRUN_NDJSON };

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
 * laid out like the outputs. Returns 0, ENG_EINVAL (input unreadable), ENG_ESCRIPT (mapping failed
 * to load or a record failed) or ENG_ENOMEM. Leaves the VM's stack as it found it. */
int eng_dryrun_execute(struct eng_vm *vm, const char *mapping, const char *input, size_t inlen,
                       const char *source, const char *config, size_t conflen, struct eng_buf *out,
                       struct eng_buf *errors, int *format, unsigned flags);

#endif
