/*
 * record_snapshots.h - the last source snapshot of each record a flow read (table
 * record_snapshots, schema 0009): what the console's impact preview maps again with an edited
 * mapping, and GET /api/mappings/{name}/records lists. One row per (tenant, flow, source system,
 * source entity, source id), replaced by each new read; the newest ENG_RECORD_SNAPSHOTS_KEEP (or
 * the caller's keep) per tenant and flow are kept. The one owner of every SQL statement on
 * record_snapshots.
 * Owns: nothing past a call. Must not: open or end a transaction (the page transaction of a run
 * holds these writes), know about Lua.
 */
#ifndef ENG_RECORD_SNAPSHOTS_H
#define ENG_RECORD_SNAPSHOTS_H

#include <stdint.h>

#include "adapt/store.h"
#include "base/err.h"

#define ENG_RECORD_SNAPSHOTS_KEEP 1000 /* SNAPSHOTS_KEEP's default */

/* One snapshot. record is JSON text (the source's record); source_updated_at and run_id may be
 * NULL. */
struct eng_record_snapshot {
    const char *tenant, *flow, *source_system, *source_entity, *source_id;
    const char *record, *source_updated_at, *run_id;
};

/* Insert or replace the snapshot of (tenant, flow, system, entity, source id); it becomes the
 * newest of its tenant and flow. 0 or < 0 with err. */
int eng_record_snapshots_put(struct eng_store *st, const struct eng_record_snapshot *s,
                             struct eng_err *err);

/* Delete all but the newest keep (>= 1) snapshots of tenant and flow. The number deleted, or
 * < 0 with err. */
int eng_record_snapshots_prune(struct eng_store *st, const char *tenant, const char *flow,
                               long long keep, struct eng_err *err);

/* A snapshot as read back; strings belong to the store and live until the callback returns. */
struct eng_record_snapshot_row {
    struct eng_record_snapshot s;
    const char *updated_at; /* when it was taken */
    int64_t seq;
};

/* Call fn for the newest limit (> 0) snapshots of tenant and flow, newest first, until it
 * returns non-zero. 0 or < 0 with err. */
int eng_record_snapshots_each(struct eng_store *st, const char *tenant, const char *flow,
                              long long limit,
                              int (*fn)(void *ud, const struct eng_record_snapshot_row *row),
                              void *ud, struct eng_err *err);

#endif
