/*
 * schedules.c - the API's statements on the schedules table (schedules.h).
 * Owns: nothing past a call. Must not: render JSON for an answer.
 */
#include "data/schedules.h"

#define SCHEDULE_COLUMNS                                                                           \
    "id, entity, flow, mode, dry_run, json(filters), interval_seconds, cron, enabled, "            \
    "next_run_at, last_run_at, last_run_id, created_at, updated_at"

/* Call fn for each row of s, from the row eng_store_row answered (rc), and finalize s. 0 or
 * < 0. */
static int sched_rows(struct eng_store_stmt *s, int rc, eng_schedule_fn fn, void *ud,
                      struct eng_err *err)
{
    for (; rc == ENG_STORE_ROW; rc = eng_store_step(s, err)) {
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
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

int eng_schedules_insert(struct eng_store *st, const struct eng_schedule_new *n, eng_schedule_fn fn,
                         void *ud, struct eng_err *err)
{
    static const char sql[] = "INSERT INTO schedules (tenant_id, entity, flow, mode, dry_run, "
                              "filters, interval_seconds, cron, enabled, next_run_at) VALUES (?1, "
                              "?2, ?3, ?4, ?5, ?6, CASE WHEN ?7 > 0 THEN ?7 END, ?8, ?9, ?10) "
                              "RETURNING " SCHEDULE_COLUMNS;
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "ssssisisis", n->tenant, n->entity, n->flow, n->mode,
                           (int64_t)n->dry_run, n->filters, (int64_t)n->interval_s, n->cron,
                           (int64_t)n->enabled, n->next_run_at);
    return sched_rows(s, rc, fn, ud, err);
}

int eng_schedules_list(struct eng_store *st, const char *tenant, eng_schedule_fn fn, void *ud,
                       struct eng_err *err)
{
    static const char sql[] =
        "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE tenant_id = ?1 ORDER BY id";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "s", tenant);
    return sched_rows(s, rc, fn, ud, err);
}

int eng_schedules_get(struct eng_store *st, const char *tenant, long long id, eng_schedule_fn fn,
                      void *ud, struct eng_err *err)
{
    static const char sql[] =
        "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE tenant_id = ?1 AND id = ?2";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "si", tenant, (int64_t)id);
    return sched_rows(s, rc, fn, ud, err);
}

int eng_schedules_set_enabled(struct eng_store *st, const char *tenant, long long id, int enabled,
                              const char *next_run_at, eng_schedule_fn fn, void *ud,
                              struct eng_err *err)
{
    static const char sql[] =
        "UPDATE schedules SET enabled = ?3, next_run_at = coalesce(?4, next_run_at), updated_at "
        "= " ENG_STORE_NOW " WHERE tenant_id = ?1 AND id = ?2 RETURNING " SCHEDULE_COLUMNS;
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "siis", tenant, (int64_t)id, (int64_t)(enabled != 0),
                           next_run_at);
    return sched_rows(s, rc, fn, ud, err);
}

int eng_schedules_delete(struct eng_store *st, const char *tenant, long long id,
                         struct eng_err *err)
{
    int rc = eng_store_run(st, "DELETE FROM schedules WHERE tenant_id = ?1 AND id = ?2", err, "si",
                           tenant, (int64_t)id);
    return rc < 0 ? rc : rc > 0;
}
