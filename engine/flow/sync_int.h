/*
 * sync_int.h - what the files of a run's execution share (sync_run.c drives it, sync_page.c
 * persists each page). Internal to the engine's sync code: nothing else includes it.
 */
#ifndef ENG_SYNC_INT_H
#define ENG_SYNC_INT_H

#include <lua.h>

#include "base/buf.h"
#include "flow/sync.h"

/* One job being executed (a run, or records outside a run when id is ""). */
struct run {
    const struct eng_sync_env *env;
    struct eng_store *st;
    struct eng_vm *vm;
    const struct eng_job *job;
    const char *owner;
    char id[ENG_SYNC_ID_SIZE]; /* "" for a job without a run (webhook record, retry) */
    char tenant[72], entity[72], flow[72], mode[16], state[16];
    char since[40], cursor_from[40];
    int dry_run;
    char *filters; /* JSON text (owned) */
    char *ids;     /* JSON array of source ids for record/retry jobs (owned), or NULL */
    int cancelled;
};

/* The flow's systems and types, read once from the Lua state after open. */
struct eng_sync_names {
    char ss[64], se[64], ts[64], tt[64];
};

/* Read ss/se/ts/tt from the state table at index state. [-0, +0, -] */
void eng_sync_read_names(lua_State *L, int state, struct eng_sync_names *n);
/* Reserve the id map rows of the page's creates (items table at index items, n of them);
 * appends the indexes another job holds to refused ("3,7"). One transaction. [-0, +0, -] */
int eng_sync_reserve_creates(struct run *r, lua_State *L, int items, int n,
                             const struct eng_sync_names *nm, struct eng_buf *refused,
                             struct eng_err *err);
/* Record the written page (page table at index page, its items at items): sync_records, id map,
 * the run's counters and cursor candidate, in one transaction. [-0, +0, -] */
int eng_sync_commit_page(struct run *r, lua_State *L, int page, int items, int n,
                         const struct eng_sync_names *nm, struct eng_err *err);

#endif
