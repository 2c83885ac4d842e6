/*
 * record_snapshots.c - the statements on table record_snapshots (see record_snapshots.h).
 * Owns: nothing past a call. Must not: open or end a transaction.
 */
#include "data/record_snapshots.h"

#include <stddef.h>

int eng_record_snapshots_put(struct eng_store *st, const struct eng_record_snapshot *s,
                             struct eng_err *err)
{
    /* seq: one past the newest of the tenant and flow (the index's last entry) */
    int rc = eng_store_run(
        st,
        "INSERT INTO record_snapshots (tenant_id, flow, source_system, source_entity, "
        "source_id, record, source_updated_at, run_id, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8, (SELECT coalesce(max(seq), 0) + 1 FROM record_snapshots WHERE tenant_id = ?1 AND "
        "flow = ?2))" ENG_STORE_UPSERT("tenant_id, flow, source_system, source_entity, "
                                       "source_id") " record = excluded.record, "
                                                    "source_updated_at = "
                                                    "excluded.source_updated_at, run_id = "
                                                    "excluded.run_id, seq = excluded.seq, "
                                                    "updated_at = " ENG_STORE_NOW,
        err, "ssssssss", s->tenant, s->flow, s->source_system != NULL ? s->source_system : "",
        s->source_entity != NULL ? s->source_entity : "", s->source_id, s->record,
        s->source_updated_at, s->run_id);
    return rc < 0 ? rc : 0;
}

int eng_record_snapshots_prune(struct eng_store *st, const char *tenant, const char *flow,
                               long long keep, struct eng_err *err)
{
    if (keep < 1)
        keep = 1;
    /* everything at or below the seq of the first one past the newest keep */
    return eng_store_run(st,
                         "DELETE FROM record_snapshots WHERE tenant_id = ?1 AND flow = ?2 AND "
                         "seq <= (SELECT seq FROM record_snapshots WHERE tenant_id = ?1 AND flow "
                         "= ?2 ORDER BY seq DESC LIMIT 1 OFFSET ?3)",
                         err, "ssi", tenant, flow, (int64_t)keep);
}

int eng_record_snapshots_each(struct eng_store *st, const char *tenant, const char *flow,
                              long long limit,
                              int (*fn)(void *ud, const struct eng_record_snapshot_row *row),
                              void *ud, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st,
                           "SELECT tenant_id, flow, source_system, source_entity, source_id, "
                           "record, source_updated_at, run_id, updated_at, seq FROM "
                           "record_snapshots WHERE tenant_id = ?1 AND flow = ?2 ORDER BY seq DESC "
                           "LIMIT ?3",
                           &s, err, "ssi", tenant, flow, (int64_t)(limit > 0 ? limit : 1));
    while (rc == ENG_STORE_ROW) {
        const char *c[9];
        for (int i = 0; i < 9; i++)
            c[i] = eng_store_column_type(s, i) == ENG_STORE_NULL
                       ? NULL
                       : eng_store_column_text(s, i, NULL);
        struct eng_record_snapshot_row row = {
            .s = {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]},
            .updated_at = c[8],
            .seq = eng_store_column_int64(s, 9),
        };
        if (fn(ud, &row) != 0) {
            rc = 0;
            break;
        }
        rc = eng_store_step(s, err);
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}
