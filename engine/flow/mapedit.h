/*
 * mapedit.h - the console's mapping editor on a worker: a mapping's text (the published one, or
 * an unsaved one loaded as a candidate VM, lua/scripts.h) previewed on one record with its
 * lineage, run over its data tests, compared with the published version over the tenant's last
 * source snapshots (the impact), and published (mapedit_file.c: the atomic write, then the
 * registry's scan). The driver is scripts/lib/impact.lua, through eng_vm_call only, one call per
 * record or case so each has its own budget.
 * Owns: a candidate between eng_mapedit_open and eng_mapedit_close; nothing else past a call.
 * Must not: write the store or a file other than the one published or the test case written
 * (every run is read-only: eng_vm_set_db_readonly on the worker's VM; a candidate VM has no
 * store at all); touch the worker's published version (a candidate is a VM of its own).
 */
#ifndef ENG_MAPEDIT_H
#define ENG_MAPEDIT_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

struct eng_scripts;
struct eng_scripts_cand;
struct eng_store;
struct eng_vm;

#define ENG_MAPEDIT_MAX_SOURCE (256 * 1024)  /* bytes of a mapping's text (413 beyond) */
#define ENG_MAPEDIT_MAX_IMPACT 1000          /* snapshots one impact maps */
#define ENG_MAPEDIT_WALL_MS    20000         /* one impact's or test run's wall clock */
#define ENG_MAPEDIT_MAX_ANSWER (8u << 20)    /* an impact answer's bytes: then truncated */
#define ENG_MAPEDIT_MAX_DIFF   100           /* differences listed per record */
#define ENG_MAPEDIT_MAX_CASE   (1024 * 1024) /* bytes of one data test case file */
#define ENG_MAPEDIT_MAX_CASES  500           /* cases of one mapping listed or run */

/* Where a text failed to load: the file and line its error names first (line 0: none), and the
 * message (one line, no traceback). */
struct eng_mapedit_loaderr {
    char file[160];
    int line;
    char message[1024];
};

/* The version a call runs: the published one (cand NULL: vm is the worker's VM) or a candidate
 * (vm is the candidate's own). */
struct eng_mapedit_run {
    struct eng_vm *vm;
    struct eng_scripts_cand *cand;
};

/* Open name's version: text NULL runs the published version on worker_vm; else the text is
 * loaded as a candidate (ENG_ESCRIPT with *le filled when it does not load). 0 or < 0. */
int eng_mapedit_open(struct eng_scripts *reg, struct eng_vm *worker_vm, const char *name,
                     const char *text, size_t len, struct eng_mapedit_run *r,
                     struct eng_mapedit_loaderr *le, struct eng_err *err);
void eng_mapedit_close(struct eng_mapedit_run *r);

/* Split an error text into *le (file, line, message). */
void eng_mapedit_loaderr_from(const char *text, struct eng_mapedit_loaderr *le);

/* Preview: body is the request ({record, config?}), config the tenant's transformer_config
 * (NULL: defaults). 0 with out = {"document","error","fields"}; ENG_EINVAL with err's message
 * "field: why" (a record or config the mapping cannot take); other < 0. */
int eng_mapedit_preview(struct eng_vm *vm, const char *name, const char *tenant, const char *body,
                        size_t bodylen, const char *config, struct eng_err *err,
                        struct eng_buf *out);

/* Run every data test case of name (MAPPINGS_DIR/tests/NAME/ *.json, at most
 * ENG_MAPEDIT_MAX_CASES, each in its own call) with vm's version; appends
 * {"passed","failed","results":[...]} to out and sets *failed. deadline_ms (a monotonic time,
 * 0: none) stops the run: the rest count as failed with "not run: time limit". 0 or < 0. */
int eng_mapedit_tests(struct eng_vm *vm, const char *mappings_dir, const char *name,
                      long long deadline_ms, struct eng_buf *out, int *failed, struct eng_err *err);

/* Run one case (case_name, its JSON text) with vm's version: *ok, and *result the JSON object
 * {case, ok, message?, expected?, actual?, diff?} (malloc'd). 0 or < 0 with err. */
int eng_mapedit_tests_one(struct eng_vm *vm, const char *name, const char *case_name,
                          const char *text, size_t len, int *ok, char **result, size_t *rlen,
                          struct eng_err *err);

/* The impact of a proposed version: cur (the published version) and prop (the candidate) each
 * map the tenant's newest `limit` snapshots of flow name (config: the tenant's
 * transformer_config or NULL). Appends {"considered","changed","unchanged","nowFailing",
 * "nowPassing","stillFailing","truncated","items":[...]} to out. 0 or < 0 (config refused:
 * ENG_EINVAL with err). */
struct eng_mapedit_impact {
    const char *tenant, *name, *config;
    long long limit;
    long long deadline_ms; /* monotonic; past it the answer says truncated */
};
int eng_mapedit_impact(struct eng_vm *cur, struct eng_vm *prop, struct eng_store *st,
                       const struct eng_mapedit_impact *o, struct eng_buf *out,
                       struct eng_err *err);

/* What the version of name vm runs declares: appends {"source","target","defaultFor"}. */
void eng_mapedit_describe(struct eng_vm *vm, const char *name, struct eng_buf *out);

/* The shape lib.mapping_test reads, on a case's JSON: 0, or ENG_EINVAL with the reason. */
int eng_mapedit_case_check(struct eng_vm *vm, const char *text, size_t len, struct eng_err *err);

/* ---- mapedit_file.c: the files ---- */

/* Write text to dir/file atomically: a hidden temporary file in dir (the registry skips names
 * starting with '.'), fsync, rename over file, fsync dir. mkdir of dir first when mkdir_ok.
 * *created (may be NULL) is 1 when file did not exist. 0 or ENG_EIO with err. */
int eng_mapedit_write(const char *dir, const char *file, const char *text, size_t len, int mkdir_ok,
                      int *created, struct eng_err *err);

/* Append {"items":[{"case":"NAME", ...the file's members}, ...]} for the cases of
 * mappings_dir/tests/name/ (a file that is not a JSON object: {"case","invalid":"why"}). */
void eng_mapedit_cases_json(const char *mappings_dir, const char *name, struct eng_buf *out);

/* Read a file whole (at most max bytes): malloc'd, NUL-terminated, or NULL. */
char *eng_mapedit_read(const char *path, size_t max, size_t *len);

#endif
