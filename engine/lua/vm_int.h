/*
 * vm_int.h - the stack-level side of vm.h, for engine/lua only: the raw lua_State, loading a
 * chunk, protected calls on the stack, and the facts lmod_*.c ask about the VM running them.
 * Owns: nothing beyond vm.h. Must not: be included outside engine/lua (tools/check_layers.py);
 * C elsewhere calls scripts through eng_vm_call.
 */
#ifndef ENG_VM_INT_H
#define ENG_VM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <lua.h>

#include "base/err.h"
#include "lua/vm.h"

lua_State *eng_vm_state(struct eng_vm *vm);
/* The VM whose state L is (or a thread of). */
struct eng_vm *eng_vm_of(lua_State *L);

/* Load a text chunk into its own sandbox environment; pushes the function. [-0, +1, -] */
int eng_vm_load(struct eng_vm *vm, const char *chunkname, const char *src, size_t len,
                struct eng_err *err);
/* Load a file (read from disk) the same way. [-0, +1, -] */
int eng_vm_loadfile(struct eng_vm *vm, const char *path, struct eng_err *err);

/* Call the function below nargs arguments under the budget and memory cap.
 * [-(nargs+1), +nres, -]  On failure pushes nothing, returns ENG_ESCRIPT / ENG_EBUDGET /
 * ENG_ENOMEM and fills err with "file:line: message" (plus a short traceback). */
int eng_vm_pcall(struct eng_vm *vm, int nargs, int nres, struct eng_err *err);

/* Push a copy of s[0..len) without risking an unprotected memory error (large inputs).
 * [-0, +1, -] on success; pushes nothing and returns ENG_ENOMEM on failure. */
int eng_vm_push_string(struct eng_vm *vm, const char *s, size_t len, struct eng_err *err);

/* eng_vm_pcall with a wall-clock budget of its own (budget_ms > 0), e.g. a connector call that
 * waits on a remote system; 0 means the VM's default. Same stack effect and errors. */
int eng_vm_pcall_budget(struct eng_vm *vm, int nargs, int nres, long long budget_ms,
                        struct eng_err *err);

/* ---- the budget, for C loops over sizes a script chose (vm_bounded.c, lmod_*.c) ---- */
/* Charge n units (about one VM instruction each) to the running call's budget; cheap enough for
 * every iteration (the clock is read once per few thousand units). When the budget is spent,
 * raises the error the count hook raises, and the hook keeps raising it, so the script's own
 * pcall cannot go on. Outside eng_vm_pcall: nothing. [-0, +0, v] */
void eng_vm_charge(lua_State *L, long long n);
/* 1 once the running call's budget is spent (its error is being raised or unwound). */
int eng_vm_budget_spent(lua_State *L);
/* vm_bounded.c: replace string.rep / find / match / gmatch / gsub, table.insert / remove / move
 * / concat / sort, xpcall and setmetatable in the opened libraries (before the sandbox copies
 * them) with versions that honour the budget; setmetatable refuses __gc. [-0, +0, m] */
void eng_vm_bounded_open(lua_State *L);

/* Make the budget hook run at the next instruction: it raises the budget error when the running
 * call's budget is spent (a C function that noticed the deadline passed while it waited, e.g.
 * engine.db after SQLite returns), so the script cannot carry on past it. Outside a call, or
 * with time left: nothing. [-0, +0, -] */
void eng_vm_budget_arm(lua_State *L);

/* ---- vm_watch.c: the budget's deadline without a hook (vm.c's use) ----
 * While a call runs its VM has no hook; one watchdog thread sleeps until the earliest deadline
 * of the calls in flight and signals the owner thread of a call past it, whose handler arms the
 * budget hook with a count of 1. The owner fills nothing: eng_vm_watch_add does.
 * eng_vm_watch_add (on the owner thread, which must leave the signal unblocked: it unblocks it):
 * 0, or -1 when no watchdog can run (the caller then keeps a count hook). eng_vm_watch_remove:
 * before w goes away (the last one joins the watchdog thread). eng_vm_watch_begin / _end
 * bracket one outer call on the owner thread; no system call unless the watchdog must wake
 * earlier than it planned (a shorter budget than the calls in flight, or the first call). */
struct eng_vm_watch {
    lua_State *L;
    lua_Hook hook;
    pthread_t owner;
    _Atomic long long deadline_ms;     /* CLOCK_MONOTONIC; 0: no call running */
    _Atomic unsigned long long gen;    /* calls begun */
    struct eng_vm_watch *next;         /* the watchdog's, under its lock */
    unsigned long long sent;           /* the watchdog's: the call it last signalled */
    struct eng_vm_watch *running_prev; /* the owner's: the call this one runs inside */
    int registered;
};
int eng_vm_watch_add(struct eng_vm_watch *w, lua_State *L, lua_Hook hook);
void eng_vm_watch_remove(struct eng_vm_watch *w);
void eng_vm_watch_begin(struct eng_vm_watch *w, long long deadline_ms);
void eng_vm_watch_end(struct eng_vm_watch *w);

/* ---- for lmod_*.c: facts about the VM running this lua_State ---- */
const struct eng_vm_opts *eng_vm_opts_of(lua_State *L);
/* Milliseconds left in the current call's budget (>= 1), or -1 when no call is active. */
long long eng_vm_remaining_ms(lua_State *L);
const char *eng_vm_tenant_of(lua_State *L); /* may be NULL */
const char *eng_vm_run_of(lua_State *L);    /* may be NULL */
/* 1 while eng_vm_set_db_readonly is on: engine modules must not write the store. */
int eng_vm_db_readonly_of(lua_State *L);
/* The source of script module `name` ("lib.x", "mappings.x"; never an engine module) as
 * `require` would load it: malloc'd bytes the caller frees, or NULL when absent or the name is
 * refused. logical receives its path ("scripts/lib/x.lua"). For engine.trace's lineage. */
char *eng_vm_module_source(lua_State *L, const char *name, char *logical, size_t size, size_t *len);
/* Freeze the table on top in place, deeply, as the sandbox's shared tables are (vm_freeze.c).
 * [-0, +0, m] */
void eng_vm_make_readonly(lua_State *L);

/* ---- vm_freeze.c: shared tables frozen for real, a fresh table of globals per task ----
 * A frozen table is empty; its contents live in a hidden table only C reaches. C code that
 * reads a table raw (lua_next, lua_rawget, lua_rawlen) opens it first with eng_vm_frozen_open.
 *
 * eng_vm_freeze: freeze the value at idx in place, deeply (nested tables, a Lua function's
 * upvalue tables, a module's environment). Raises when nested too deeply. [-0, +0, e]
 * eng_vm_frozen_open: when the value at idx is a frozen table, replace it in its slot by its
 * contents (read-only by contract: never write to it) and return 1; else 0. [-0, +0, -]
 * eng_vm_push_frozen_contents: push those contents and return 1; 0 (nothing pushed) otherwise.
 * eng_vm_is_frozen: 1 when the value at idx is a frozen table. [-0, +0, -] */
void eng_vm_freeze(lua_State *L, int idx);
int eng_vm_frozen_open(lua_State *L, int idx);
int eng_vm_push_frozen_contents(lua_State *L, int idx);
int eng_vm_is_frozen(lua_State *L, int idx);
/* The metatable of a script chunk's environment: misses read the table at index fallback (0: the
 * sandbox base); frozen with its module, the environment sends new globals to the task's table.
 * [-0, +1, m] */
void eng_vm_push_env_metatable(lua_State *L, int fallback);
/* Make the base table at idx read through frozen tables (next, rawget, rawlen) and read the
 * current task's globals last. For vm.c's sandbox set-up. [-0, +0, m] */
void eng_vm_freeze_base(lua_State *L, int idx);
/* A task: eng_vm_task_begin makes a fresh table for the globals scripts set at run time and
 * returns 1 (the caller ends the task with eng_vm_task_end), 0 when a task is running already
 * (the call is part of it: do not end it), -1 out of memory. eng_vm_task_end drops the table.
 * Never raise. */
int eng_vm_task_begin(lua_State *L);
void eng_vm_task_end(lua_State *L);
/* Push the sandbox's base environment (what every script's globals fall back to). [-0, +1, -] */
void eng_vm_push_base(lua_State *L);
/* The two halves of require, for vm.c's and engine.trace's (each keeps its own cache of modules,
 * at stack index 2: name -> module, or a mark while the module loads).
 * eng_vm_require_cached: push the cached module and return 1; 0 (nothing pushed) when absent;
 * raises "module 'NAME': circular require" while it loads. [-0, +(0|1), e]
 * eng_vm_require_run: call the module's chunk on top with name (marked loading meanwhile), keep
 * its result (nil -> true) under name, leave it on top. [-1, +1, e] */
int eng_vm_require_cached(lua_State *L, const char *name);
void eng_vm_require_run(lua_State *L, const char *name);

#endif
