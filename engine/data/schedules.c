/*
 * schedules.c - the API's statements on the schedules table (schedules.h).
 * Owns: nothing past a call. Must not: render JSON for an answer.
 */
#include "data/schedules.h"

#define SCHEDULE_COLUMNS                                                                           \
    "id, entity, flow, mode, dry_run, json(filters), interval_seconds, cron, enabled, "            \
    "next_run_at, last_run_at, last_run_id, created_at, updated_at"

/* Step through s, calling fn for each row. 0 or < 0. */
static int sched_rows(struct eng_store_stmt *s, eng_schedule_fn fn, void *ud, struct eng_err *err)
{
    int rc;
    while ((rc = eng_store_step(s, err)) == ENG_STORE_ROW) {
        struct eng_schedule r = {
            .id = (long long)eng_store_column_int64(s, 0),
            .entity = eng_store_column_text(s, 1, NULL),
            .flow = eng_store_column_text(s, 2, NULL),
            .mode = eng_store_column_text(s, 3, NULL),
            .dry_run = eng_store_column_int64(s, 4) == 1,
            .filters = eng_store_column_text(s, 5, NULL),
            .interval_s = eng_store_column_type(s, 6) == ENG_STORE_NULL
                              ? 0
                              : (long long)eng_store_column_int64(s, 6),
            .cron = eng_store_column_text(s, 7, NULL),
            .enabled = eng_store_column_int64(s, 8) == 1,
            .next_run_at = eng_store_column_text(s, 9, NULL),
            .last_run_at = eng_store_column_text(s, 10, NULL),
            .last_run_id = eng_store_column_text(s, 11, NULL),
            .created_at = eng_store_column_text(s, 12, NULL),
            .updated_at = eng_store_column_text(s, 13, NULL),
        };
        fn(ud, &r);
    }
    return rc < 0 ? rc : 0;
}

int eng_schedules_insert(struct eng_store *st, const struct eng_schedule_new *n, eng_schedule_fn fn,
                         void *ud, struct eng_err *err)
{
    static const char sql[] = "INSERT INTO schedules (tenant_id, entity, flow, mode, dry_run, "
                              "filters, interval_seconds, cron, enabled, next_run_at) VALUES (?1, "
                              "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING " SCHEDULE_COLUMNS;
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_str(s, 1, n->tenant);
    if (rc == 0)
        rc = eng_store_bind_str(s, 2, n->entity);
    if (rc == 0)
        rc = eng_store_bind_str(s, 3, n->flow);
    if (rc == 0)
        rc = eng_store_bind_str(s, 4, n->mode);
    if (rc == 0)
        rc = eng_store_bind_int64(s, 5, n->dry_run);
    if (rc == 0)
        rc = eng_store_bind_str(s, 6, n->filters);
    if (rc == 0)
        rc = n->interval_s > 0 ? eng_store_bind_int64(s, 7, n->interval_s)
                               : eng_store_bind_null(s, 7);
    if (rc == 0)
        rc = eng_store_bind_str(s, 8, n->cron);
    if (rc == 0)
        rc = eng_store_bind_int64(s, 9, n->enabled);
    if (rc == 0)
        rc = eng_store_bind_str(s, 10, n->next_run_at);
    if (rc == 0)
        rc = sched_rows(s, fn, ud, err);
    eng_store_finalize(s);
    return rc;
}

int eng_schedules_list(struct eng_store *st, const char *tenant, eng_schedule_fn fn, void *ud,
                       struct eng_err *err)
{
    static const char sql[] =
        "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE tenant_id = ?1 ORDER BY id";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_str(s, 1, tenant);
    if (rc == 0)
        rc = sched_rows(s, fn, ud, err);
    eng_store_finalize(s);
    return rc;
}

int eng_schedules_delete(struct eng_store *st, const char *tenant, long long id,
                         struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, "DELETE FROM schedules WHERE tenant_id = ?1 AND id = ?2", -1,
                               ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_str(s, 1, tenant);
    if (rc == 0)
        rc = eng_store_bind_int64(s, 2, id);
    if (rc == 0)
        rc = eng_store_step(s, err);
    eng_store_finalize(s);
    if (rc < 0)
        return rc;
    return eng_store_changes(st) > 0;
}
