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
#include <stdio.h>

#include "base/buf.h"

struct eng_vm;
struct eng_vm_opts;

enum { ENG_DRYRUN_SINGLE, ENG_DRYRUN_ARRAY, ENG_DRYRUN_NDJSON };

/* The input is split in C, never held whole: NDJSON line by line, a top-level array element by
 * element, one document whole. Each record is at most ENG_DRYRUN_MAX_RECORD_BYTES (a larger one
 * fails alone: its bytes are skipped, not kept). The API's bounds (eng_dryrun_execute): more
 * records than max_records: nothing is mapped, ENG_EINVAL with the one line "SOURCE: N records;
 * a dry run maps at most M (DRY_RUN_MAX_RECORDS)" and *too_many set; after
 * ENG_DRYRUN_MAX_ERRORS failing records the run stops, and a last error line says so and how
 * many records were not mapped. The CLI (eng_dryrun_stream with no limits) has neither bound:
 * it holds one record and one output at a time, whatever the number of records. */
#define ENG_DRYRUN_DEFAULT_MAX_RECORDS 1000
#define ENG_DRYRUN_MAX_ERRORS          100
#define ENG_DRYRUN_MAX_RECORD_BYTES    ((size_t)16 << 20)

struct eng_dryrun_limits {
    long long max_records; /* eng_dryrun_execute: <= 0 is ENG_DRYRUN_DEFAULT_MAX_RECORDS;
                              eng_dryrun_stream: <= 0 is no limit */
    int too_many;          /* out: 1 when the input held more records than max_records */
    long long records;     /* out: records seen (mapped or failed) */
    long long failed;      /* out: records that failed */
};

/* flags of eng_dryrun_execute / eng_dryrun_stream */
enum {
    ENG_DRYRUN_EXPLAIN = 1,      /* per record, where each output field came from */
    ENG_DRYRUN_EXPLAIN_JSON = 2, /* with ENG_DRYRUN_EXPLAIN: as JSON objects, not text */
};

/* Where a streamed dry run's results go, as each is made. write: a piece of the output (0, or
 * non-zero to stop the run: ENG_EIO); error: one error line, without its newline, about record
 * number record (0: about the input or the run as a whole). */
struct eng_dryrun_sink {
    int (*write)(void *u, const char *s, size_t n);
    void (*error)(void *u, long long record, const char *line, size_t n);
    void *u;
};

/* Map every record of the input (one JSON document, an array, or NDJSON) with
 * mappings/<mapping>, reading it from in (a stream, read in chunks) or, when in is NULL, from
 * input[0..inlen). Each output goes to sink->write as soon as it is made (pretty JSON; a JSON
 * array for an array input, lacking the elements that failed; one line per record for NDJSON),
 * and one line per failing record to sink->error ("record 2 (id 727): cause"; a malformed NDJSON
 * line: "record 2 (SOURCE line 3): malformed JSON: ..."); the other records still come out.
 * source names the input in messages. config is transformer_config JSON (may be NULL). *format
 * gets the input's shape. flags: ENG_DRYRUN_EXPLAIN gives, instead of each output, the text that
 * says for every field the rule or map() line that produced it and the input it read (one block
 * per record); with ENG_DRYRUN_EXPLAIN_JSON, a JSON object per record ({record, describe,
 * output, fields}), laid out like the outputs. lim (may be NULL: no limit) bounds the run:
 * max_records > 0 needs a memory input (counted first, in C). Returns 0, ENG_EINVAL (input
 * unreadable or not JSON as a whole: one document that is malformed, an array not closed, text
 * after the array; or too many records), ENG_ESCRIPT (mapping failed to load or a record failed),
 * ENG_EIO (sink->write stopped it) or ENG_ENOMEM. Leaves the VM's stack as it found it. */
int eng_dryrun_stream(struct eng_vm *vm, const char *mapping, FILE *in, const char *input,
                      size_t inlen, const char *source, const char *config, size_t conflen,
                      const struct eng_dryrun_sink *sink, int *format, unsigned flags,
                      struct eng_dryrun_limits *lim);

/* The CLI's dry run on several threads: eng_dryrun_stream (no limits: lim->max_records is not
 * read) with the records mapped on up to jobs (1..ENG_DRYRUN_MAX_JOBS) worker threads, each
 * with its own VM made from opts on that thread (worker k > 0 only once the input has more
 * than 32 * k records), while the calling thread splits the input and calls sink, in input
 * order, with exactly what eng_dryrun_stream would give it: the same outputs, error lines and
 * status. At most 16 records per job and their results are held at a time (and 32 MiB of
 * record text, but for one larger record alone). Nothing is read before the first worker has
 * prepared the mapping: a VM that cannot be made is reported as its own error line (the run
 * fails, ENG_ESCRIPT), a mapping that does not load as on one thread. note (may be NULL) gets
 * eng_dryrun_note's sentence (malloc'd, the caller frees; NULL: nothing to say) when at least
 * one record mapped. Each worker's VM has the script budget and memory cap of opts: up to jobs
 * times that memory in all. */
#define ENG_DRYRUN_MAX_JOBS         64
#define ENG_DRYRUN_DEFAULT_MAX_JOBS 8
int eng_dryrun_parallel(const struct eng_vm_opts *opts, int jobs, const char *mapping, FILE *in,
                        const char *input, size_t inlen, const char *source, const char *config,
                        size_t conflen, const struct eng_dryrun_sink *sink, int *format,
                        unsigned flags, struct eng_dryrun_limits *lim, char **note);

/* The jobs a dry run uses by default: the CPUs this process may run on (sched_getaffinity), at
 * most ENG_DRYRUN_DEFAULT_MAX_JOBS. */
int eng_dryrun_jobs_default(void);

/* eng_dryrun_stream over input[0..inlen) with the API's bounds (max_records, counted before
 * anything is mapped, and ENG_DRYRUN_MAX_ERRORS), appending the outputs to out and the error
 * lines, each ending in '\n', to errors. failed (may be NULL) gets the numbers of the records
 * that failed, as a JSON array's elements ("2,5"). */
int eng_dryrun_execute(struct eng_vm *vm, const char *mapping, const char *input, size_t inlen,
                       const char *source, const char *config, size_t conflen, struct eng_buf *out,
                       struct eng_buf *errors, struct eng_buf *failed, int *format, unsigned flags,
                       struct eng_dryrun_limits *lim);

/* What the mapping assumed about its target company, which a dry run never reads
 * (lib/mapping.lua assumption_note with the transformer_config text config, may be NULL): a
 * malloc'd sentence the caller frees, or NULL when the settings leave nothing to assume (or the
 * note cannot be had). */
char *eng_dryrun_note(struct eng_vm *vm, const char *mapping, const char *config, size_t conflen);

#endif
