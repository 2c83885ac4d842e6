/*
 * scripts.h - the script registry: the published version of every *.lua under SCRIPTS_DIR and
 * MAPPINGS_DIR, and the hot-reload watcher that keeps it current.
 * A changed file is compiled and its top level run in a scratch VM under budget, its exports are
 * checked, a mapping must pass its data tests (MAPPINGS_DIR/tests/NAME/ *.json, all within one
 * script budget; a test file edit revalidates it), and only then is it published with a new
 * generation. A version that fails is
 * rejected: the previous one keeps serving and the error is kept for GET /api/scripts.
 * Workers never read the disk: they build their VMs from the published sources
 * (eng_scripts_source) and rebuild when eng_scripts_generation changes. What the published
 * versions declare for C (a mapping's default_for, a connector's webhook_entities) is published
 * in the same step to the registry's eng_policy (base/policy.h), which C outside the Lua layer
 * reads without running Lua. Two published mappings may not be the default for one entity: the
 * later one is rejected, naming both files.
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
struct eng_policy;

/* Create a registry over vm->scripts_dir and vm->mappings_dir, validating with VMs built from
 * vmopts (copied; source/source_ud are ignored). Does not scan yet. */
struct eng_scripts *eng_scripts_new(const struct eng_vm_opts *vmopts, struct eng_err *err);
/* Stop the watcher (if started) and free everything. NULL is fine. */
void eng_scripts_free(struct eng_scripts *reg);

/* Before the first scan: publish what compiles and declares well without running mappings'
 * data tests (a command that only reads the declarations, e.g. the default flow of an entity:
 * the run it starts loads its scripts itself, as with --flow). */
void eng_scripts_declarations_only(struct eng_scripts *reg);
/* Scan both folders now: publish new and changed files that validate, record errors for those
 * that do not, drop deleted ones. *changed (may be NULL) = number of publications/removals. */
int eng_scripts_scan(struct eng_scripts *reg, int *changed);
/* Scan once, then watch in a background thread (inotify, with a periodic rescan as fallback). */
int eng_scripts_start(struct eng_scripts *reg, struct eng_err *err);

/* Bumped on every publication or removal. */
uint64_t eng_scripts_generation(struct eng_scripts *reg);
/* Number of files whose latest version was rejected. */
int eng_scripts_error_count(struct eng_scripts *reg);

/* The policy the published versions declare (default flows, webhook routes). Owned by the
 * registry: valid until eng_scripts_free; its readers copy (base/policy.h). */
struct eng_policy *eng_scripts_policy(struct eng_scripts *reg);

/* eng_vm_source_fn over the published sources: ud is the registry; logical is
 * "scripts/lib/x.lua" or "mappings/y.lua". Returns a malloc'd copy or NULL. */
char *eng_scripts_source(void *ud, const char *logical, size_t *len);

/* Append a JSON array describing every file: path, kind, generation, sha256, loadedAt, and the
 * rejected version's error (error, errorAt) when there is one. */
void eng_scripts_status_json(struct eng_scripts *reg, struct eng_buf *out);

/* ---- the console's editor: a text checked and run without being published ---- */

/* What the registry holds for one file. error (malloc'd, the caller frees) is the rejected
 * latest version's error, or NULL. */
struct eng_scripts_info {
    int published; /* a version is published: sha, generation, loaded_at are set */
    char sha[65];
    uint64_t generation;
    char loaded_at[32];
    char *error;
    char error_at[32];
};
/* 1 when the registry knows logical (published, or rejected), with *out filled; else 0. */
int eng_scripts_info(struct eng_scripts *reg, const char *logical, struct eng_scripts_info *out);
/* The logical names directly under prefix ("mappings/": not in a subfolder) the registry knows,
 * sorted; *n of them. Free with eng_dirlist_free(names, n) (base/dirlist.h). NULL when none. */
char **eng_scripts_list(struct eng_scripts *reg, const char *prefix, size_t *n);

/* The publication gate on text as the version of logical, without publishing anything: the
 * same validation as a scan (compile and run the top level in a scratch VM under budget, the
 * exports, the contract, a mapping's data tests read from disk within one script budget) and
 * the default_for claims of the published mappings. 0, or the error (naming file:line). */
int eng_scripts_check(struct eng_scripts *reg, const char *logical, const char *text, size_t len,
                      struct eng_err *err);

/* A candidate: text validated as the version of logical like eng_scripts_check but without the
 * data tests, then a fresh VM (the registry's budget and memory cap, no store: engine.db has no
 * database; no network, in its validation too: engine.http answers nil, message, "offline") whose
 * require reads text for logical (chunk name "@logical", so errors and lineage name that file and
 * line) and the published sources for everything else. Never published; the workers' VMs never see
 * it. NULL with err (the load error) on failure. The caller owns it: its VM is used by the calling
 * thread only, and freed with eng_scripts_cand_free. */
struct eng_scripts_cand;
struct eng_vm;
struct eng_scripts_cand *eng_scripts_cand_new(struct eng_scripts *reg, const char *logical,
                                              const char *text, size_t len, struct eng_err *err);
struct eng_vm *eng_scripts_cand_vm(struct eng_scripts_cand *k);
void eng_scripts_cand_free(struct eng_scripts_cand *k);

#endif
