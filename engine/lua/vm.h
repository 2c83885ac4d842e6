/*
 * vm.h - one sandboxed Lua 5.4 state, owned by one thread: what C outside engine/lua sees of it
 * (create, free, eng_vm_call; no Lua header). engine/lua's own files use vm_int.h as well.
 * Owns: the lua_State, its capped allocator, its budget hook and its sandbox `require`.
 * The owner thread must leave SIGURG unblocked (SIGSYS under ThreadSanitizer): the budget's
 * watchdog signals it when a call's deadline passes (eng_vm_new unblocks it on that thread).
 * Must not: be touched by any thread but its owner; let a Lua error escape into C code that
 * holds resources (every entry into Lua goes through eng_vm_pcall).
 */
#ifndef ENG_VM_H
#define ENG_VM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Where `require` finds source for a script module (relative path like "lib/util.lua").
 * Returns a malloc'd buffer the caller frees, or NULL with *len untouched when absent. */
typedef char *(*eng_vm_source_fn)(void *ud, const char *relpath, size_t *len);

struct eng_vm_opts {
    const char *scripts_dir;   /* root for require "connectors.x", "lib.y" */
    const char *mappings_dir;  /* root for require "mappings.x" */
    const char *database_path; /* the engine's SQLite file, for engine.db */
    /* engine.db may read and write every table (`tallysync run`: the operator's own scripts);
     * 0 (workers, dry runs, every script the engine runs itself): only the tables store.h's
     * ENG_STORE_SCRIPT names */
    int db_all_tables;
    size_t mem_limit;       /* bytes the whole state may hold; 0 = default (64 MiB) */
    long long budget_ms;    /* wall-clock budget per eng_vm_pcall; 0 = default (2000) */
    long long budget_instr; /* VM instructions per eng_vm_pcall, counted by a count hook that
                             * slows every call (~10-20 %); 0 = not counted: the wall-clock
                             * budget alone, watched at no cost per instruction (vm_watch.c) */
    int print_to_stdout;    /* `print` writes stdout (CLI `run`) instead of the log */
    int no_network;         /* engine.http answers nil, message, "offline" (an unpublished
                             * mapping text run by the console's editor, lua/scripts.h) */
    /* 1: Lua's blocks come from mimalloc when the build has it (ENG_MIMALLOC): a fifth faster on
     * the record path, but it keeps the pages of a thread that ended; for states that map many
     * records (workers, the CLI). 0: the C library's malloc, whose freed memory malloc_trim
     * gives back (start-up's validation VMs, the console's previews) */
    int fast_alloc;
    eng_vm_source_fn source; /* optional: published sources (hot reload); NULL = disk */
    void *source_ud;
};

struct eng_vm;

/* Create a sandboxed state. Returns NULL and fills err on failure. Caller owns the result. */
struct eng_vm *eng_vm_new(const struct eng_vm_opts *opts, struct eng_err *err);
/* Close the state (runs every __gc) and free. NULL is fine. */
void eng_vm_free(struct eng_vm *vm);
/* ---- the one door into script code for C outside engine/lua ----
 *
 * eng_vm_call calls require(module)[fn](args...) under the VM's budget (budget_ms > 0 replaces
 * the wall-clock part for this call) in ONE protected call: the arguments become Lua values
 * inside it and the results are copied out to C before it returns, so a refused allocation is
 * an error the caller sees, never a panic. `sig` is "ARGS>RESULTS", one letter per value:
 *
 *   arguments (read from the varargs in order)
 *     s  const char *            a string; NULL is nil
 *     S  const char *, size_t    a string of that length (may hold NULs); NULL is nil
 *     i  long long               an integer
 *     b  int                     a boolean (0 is false)
 *     j  const char *            JSON text decoded into a Lua value (engine.json's rules); NULL is
 * nil J  const char *, size_t    the same with a length r  int                     a value kept by
 * an earlier 'r' result; ENG_VM_NOREF is nil c  const struct eng_connctx_opts *, const char
 * *tenant, const char *platform the connector context of that tenant (lua/connctx.h); its own
 *                                errors (ENG_ENOTFOUND no credentials, ENG_EAUTH) are returned
 *   results (pointers, written only on success)
 *     s  char **                 a malloc'd copy of a string or number; NULL for nil/false
 *     S  char **, size_t *       the same with its length
 *     i  long long *             an integer (a float is truncated; nil/false is 0)
 *     b  int *                   truthiness
 *     j  char **                 the value as canonical JSON text (malloc'd); NULL for nil
 *     r  int *                   a reference to the value, kept until eng_vm_unref
 *
 * A module without that function is ENG_ESCRIPT "module.fn is not a function". Errors are those
 * of eng_vm_pcall. Example: eng_vm_call(vm, "lib.sync", "c_platforms", 0, err, "s>ss", flow,
 * &src, &dst). */
#define ENG_VM_NOREF 0
/* What the 'c' letter builds a connector context from (lua/connctx.h says how it is used):
 * plain pointers, so a caller outside engine/lua fills it without any Lua header. */
struct eng_config;
struct eng_keyring;
struct eng_store;
struct eng_connctx_opts {
    const struct eng_config *cfg;   /* connector settings (API bases, token URL, timeouts) */
    const struct eng_keyring *keys; /* decrypts the vault rows */
    struct eng_store *st;           /* the calling worker's own connection */
};
int eng_vm_call(struct eng_vm *vm, const char *module, const char *fn, long long budget_ms,
                struct eng_err *err, const char *sig, ...);
/* Let go of a value an 'r' result kept. ENG_VM_NOREF is fine. */
void eng_vm_unref(struct eng_vm *vm, int ref);
/* Run the script file at path with the strings argv[0..argc) as its `...` (after the connector
 * context of platform for tenant when ctx is not NULL), as `tallysync run` does. On failure
 * *ctx_failed (may be NULL) is 1 when the connector context could not be built (err is its own
 * error), 0 when loading or running the script failed. */
int eng_vm_run_file(struct eng_vm *vm, const char *path, const struct eng_connctx_opts *ctx,
                    const char *tenant, const char *platform, int argc, char **argv,
                    int *ctx_failed, struct eng_err *err);
/* Run a full garbage collection now: strings that held secrets (a connector context, a
 * credential body) are freed at once instead of lingering until the next cycle. */
void eng_vm_collect(struct eng_vm *vm);
/* The same, only when a connector context was given stored credentials since the last
 * collection (eng_vm_note_secrets), at the end of a task: a job that never opened a secret
 * leaves none to free, and a full collection walks the whole heap (a fifth of a failed job's
 * CPU). */
void eng_vm_collect_secrets(struct eng_vm *vm);
/* Say that secrets entered vm's Lua state (lua/connctx.c, when it hands over a vault row). */
void eng_vm_note_secrets(struct eng_vm *vm);
/* 1 when secrets were noted since the last eng_vm_collect / eng_vm_collect_secrets. */
int eng_vm_secrets_noted(const struct eng_vm *vm);
void eng_vm_forget_secrets_note(struct eng_vm *vm);
/* The Lua release the engine is built with, e.g. "Lua 5.4.6" (static text). */
const char *eng_vm_lua_release(void);

/* Set tenant / run shown by engine.log (copied). NULL clears. */
void eng_vm_set_context(struct eng_vm *vm, const char *tenant, const char *run);
/* While on (non-zero), nothing the VM's scripts run writes the store: engine.db refuses every
 * write (ENG_STORE_READONLY), engine.queue.enqueue and engine.idmap.put fail. For dry runs.
 * Returns the previous setting, for the caller to put back. */
int eng_vm_set_db_readonly(struct eng_vm *vm, int on);

#endif
