/*
 * sync_int.h - what the files of a run's execution share (sync_run.c drives it, sync_page.c
 * persists each page, sync.c creates runs). Internal to the engine's sync code: nothing else
 * includes it.
 * A page crosses from lib/sync.lua into C once, as plain C items (struct eng_sync_item), before
 * any transaction opens: sync_page.c never reads a Lua value.
 */
#ifndef ENG_SYNC_INT_H
#define ENG_SYNC_INT_H

#include <stdint.h>

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
    int ids_ref;   /* a record/retry job's source ids, a Lua list kept by reference, or
                      ENG_VM_NOREF */
    int cancelled;
};

/* The flow's systems and types (from lib.sync's c_open). */
struct eng_sync_names {
    char ss[64], se[64], ts[64], tt[64];
};

/* One item of a page as lib/sync.lua's view gives it (every string malloc'd, NULL when the
 * script did not say). Planned items carry action/request_id; written ones also outcome and the
 * rest. */
struct eng_sync_item {
    char *source_id, *action, *request_id, *outcome, *target_id, *sync_token, *hash,
        *source_updated_at, *error, *code, *input, *output, *diff, *conflict, *currency;
    char *snapshot; /* the record as the source gave it (JSON), for record_snapshots; NULL when
                     * the flow did not take it (no id, select) */
    int retryable;  /* 1, 0, or -1 when not said (stored as NULL) */
    int has_source_total, has_target_total;
    int64_t source_total, target_total; /* minor units */
};

struct eng_sync_page {
    int cancelled; /* a stop was seen while planning: record what was planned, then stop */
    int has_total;
    int64_t total;      /* records the source says it holds, when has_total */
    char *max_modified; /* the cursor candidate, or NULL */
    struct eng_sync_item *items;
    int n;
};

/* Read a page view (JSON text from lib.sync: {cancelled, total?, max_modified?, items: [...]})
 * into page (zeroed first; free with eng_sync_page_free, also after a failure). Linear in the
 * text. ENG_EINVAL when it is not that shape; ENG_ENOMEM. Uses webhook/webhook_json.h until the
 * one C JSON reader lands. */
int eng_sync_page_read(const char *json, struct eng_sync_page *page, struct eng_err *err);
void eng_sync_page_free(struct eng_sync_page *page);

/* Reserve the id map rows of the page's creates (action "create"), one transaction; appends to
 * refused a JSON array of the 1-based indexes of the items another job holds ("[3,7]", "[]"),
 * for lib.sync's c_write. */
int eng_sync_reserve_creates(struct run *r, const struct eng_sync_item *items, int n,
                             const struct eng_sync_names *nm, struct eng_buf *refused,
                             struct eng_err *err);
/* Record the written page: sync_records, id map, the run's counters and cursor candidate, in one
 * transaction. */
int eng_sync_commit_page(struct run *r, const struct eng_sync_page *page,
                         const struct eng_sync_names *nm, struct eng_err *err);

/* "" means "none" in a run's fixed-size fields: NULL for eng_store_bind_str and eng_vm_call. */
static inline const char *eng_sync_nullable(const char *s)
{
    return s != NULL && *s != '\0' ? s : NULL;
}

/* Step a statement that writes (a row it returns is not read) and finalize it: 0, or the
 * negative code of the failure (in err). s is finalized either way. */
int eng_sync_step_once(struct eng_store_stmt *s, struct eng_err *err);
/* End the transaction open on st: COMMIT when rc is 0 (a failed COMMIT becomes the result),
 * ROLLBACK when the result is not 0. Returns the result. */
int eng_sync_end_tx(struct eng_store *st, int rc, struct eng_err *err);

#endif
