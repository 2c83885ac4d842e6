/*
 * scripts.h - the script registry: the published version of every *.lua under SCRIPTS_DIR and
 * MAPPINGS_DIR, and the hot-reload watcher that keeps it current.
 * A changed file is compiled and its top level run in a scratch VM under budget, its exports are
 * checked, a mapping must pass its data tests (MAPPINGS_DIR/tests/NAME/ *.json, all within one
 * script budget; a test file edit revalidates it), and only then is it published with a new
 * generation. A version that fails is
 * rejected: the previous one keeps serving and the error is kept for GET /api/scripts.
 * Workers never read the disk: they build their VMs from the published sources
 * (eng_scripts_source) and rebuild when eng_scripts_generation changes.
 * Thread-safe: every function may be called from any thread.
 */
#ifndef ENG_SCRIPTS_H
#define ENG_SCRIPTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

struct eng_scripts;
struct eng_vm_opts;

/* Create a registry over vm->scripts_dir and vm->mappings_dir, validating with VMs built from
 * vmopts (copied; source/source_ud are ignored). Does not scan yet. */
struct eng_scripts *eng_scripts_new(const struct eng_vm_opts *vmopts, struct eng_err *err);
/* Stop the watcher (if started) and free everything. NULL is fine. */
void eng_scripts_free(struct eng_scripts *reg);

/* Scan both folders now: publish new and changed files that validate, record errors for those
 * that do not, drop deleted ones. *changed (may be NULL) = number of publications/removals. */
int eng_scripts_scan(struct eng_scripts *reg, int *changed);
/* Scan once, then watch in a background thread (inotify, with a periodic rescan as fallback). */
int eng_scripts_start(struct eng_scripts *reg, struct eng_err *err);

/* Bumped on every publication or removal. */
uint64_t eng_scripts_generation(struct eng_scripts *reg);
/* Number of files whose latest version was rejected. */
int eng_scripts_error_count(struct eng_scripts *reg);

/* eng_vm_source_fn over the published sources: ud is the registry; logical is
 * "scripts/lib/x.lua" or "mappings/y.lua". Returns a malloc'd copy or NULL. */
char *eng_scripts_source(void *ud, const char *logical, size_t *len);

/* Append a JSON array describing every file: path, kind, generation, sha256, loadedAt, and the
 * rejected version's error (error, errorAt) when there is one. */
void eng_scripts_status_json(struct eng_scripts *reg, struct eng_buf *out);

#endif
