/*
 * sync_records.c - what a sync did to each record (data/sync_records.h): the sync code's SQL
 * statements on table sync_records, and the one backoff of a record's retries.
 * Owns: nothing past a call. Must not: open or end a transaction.
 */
#include "data/sync_records.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapt/crypto.h"
#include "data/queue.h"

long long eng_sync_records_backoff_ms(int attempts, double r)
{
    if (attempts < 1)
        attempts = 1;
    return eng_queue_backoff_ms(attempts + ENG_SYNC_RECORDS_BACKOFF_SHIFT, r);
}

/* A draw in [0, 1) from the system's random source (0.5 when it cannot be read). */
static double jitter_draw(void)
{
    uint32_t v;
    if (eng_crypto_random(&v, sizeof v, NULL) != 0)
        return 0.5;
    return (double)v / 4294967296.0;
}

/* retryable as its column holds it: NULL when not said (v < 0), else 0 or 1 (kept in *v64). */
static const int64_t *tri(int v, int64_t *v64)
{
    *v64 = v != 0;
    return v < 0 ? NULL : v64;
}

/* The delay (ms) before the next retry of a failure at attempt `attempts` (kept in *ms); NULL
 * when it is not a retryable failure. */
static const int64_t *retry_ms(const struct eng_sync_record *rec, int attempts, int64_t *ms)
{
    int failed = rec->outcome != NULL && strcmp(rec->outcome, "failed") == 0;
    if (!failed || rec->retryable != 1)
        return NULL;
    *ms = eng_sync_records_backoff_ms(attempts, jitter_draw());
    return ms;
}

int eng_sync_records_put(struct eng_store *st, const struct eng_sync_record *rec,
                         struct eng_err *err)
{
    int64_t retryable, retry;
    /* clang-format off */
    int rc = eng_store_run(
        st,
        "INSERT INTO sync_records (tenant_id, source_system, source_entity, source_id, "
        "target_system, target_type, run_id, flow, target_id, outcome, dry_run, error, "
        "error_code, retryable, attempts, next_retry_at, input, output, diff, conflict, "
        "currency, source_total_minor, target_total_minor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8, ?9, ?10, ?11, ?12, ?13, ?14, 1, CASE WHEN ?22 IS NOT NULL THEN " ENG_STORE_NOW_PLUS_MS(
            "?22") " END, ?15, ?16, ?17, ?18, ?19, ?20, ?21) ON CONFLICT (run_id, source_system, "
                   "source_entity, source_id, target_system, target_type) WHERE run_id IS NOT "
                   "NULL DO UPDATE SET target_id = excluded.target_id, outcome = "
                   "excluded.outcome, error = excluded.error, error_code = excluded.error_code, "
                   "retryable = excluded.retryable, attempts = sync_records.attempts + 1, next_retry_at = "
                   "excluded.next_retry_at, input = excluded.input, output = excluded.output, "
                   "diff = excluded.diff, conflict = excluded.conflict, currency = "
                   "excluded.currency, source_total_minor = excluded.source_total_minor, "
                   "target_total_minor = excluded.target_total_minor, updated_at = " ENG_STORE_NOW,
        err, "ssssssssss" "iss" "I" "sssss" "III",
        rec->tenant, rec->source_system, rec->source_entity, rec->source_id, rec->target_system,
        rec->target_type, rec->run_id, rec->flow, rec->target_id, rec->outcome,
        (int64_t)(rec->dry_run != 0), rec->error, rec->code,
        tri(rec->retryable, &retryable),
        rec->input, rec->output, rec->diff, rec->conflict, rec->currency,
        rec->has_source_total ? &rec->source_total : NULL,
        rec->has_target_total ? &rec->target_total : NULL,
        retry_ms(rec, 1, &retry)); /* a run's row: its first failure (a resumed run's too) */
    /* clang-format on */
    return rc < 0 ? rc : 0;
}

int eng_sync_records_fail_again(struct eng_store *st, const struct eng_sync_record *rec,
                                int *updated, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    *updated = 0;
    int rc = eng_store_row(st,
                           "SELECT id, attempts FROM sync_records WHERE tenant_id = ?1 AND "
                           "flow = ?2 AND source_id = ?3 AND outcome IN ('failed', "
                           "'conflict') AND resolved_at IS NULL AND dry_run = 0 ORDER BY id "
                           "DESC LIMIT 1",
                           &s, err, "sss", rec->tenant, rec->flow, rec->source_id);
    int64_t id = 0, attempts = 0;
    if (rc == ENG_STORE_ROW) {
        id = eng_store_column_int64(s, 0);
        attempts = eng_store_column_int64(s, 1);
    }
    eng_store_finalize(s);
    if (rc != ENG_STORE_ROW)
        return rc < 0 ? rc : 0;
    /* retryable, whatever the outcome (a conflict too), as the failure it updates */
    int64_t retryable, retry = rec->retryable == 1
                                   ? eng_sync_records_backoff_ms((int)attempts + 1, jitter_draw())
                                   : 0;
    rc = eng_store_run(st,
                       "UPDATE sync_records SET attempts = attempts + 1, error = ?2, "
                       "error_code = ?3, retryable = ?4, outcome = ?5, next_retry_at = CASE "
                       "WHEN ?6 IS NOT NULL THEN " ENG_STORE_NOW_PLUS_MS(
                           "?6") " END, updated_at = " ENG_STORE_NOW " WHERE id = ?1",
                       err, "issIsI", id, rec->error, rec->code, tri(rec->retryable, &retryable),
                       rec->outcome, rec->retryable == 1 ? &retry : NULL);
    if (rc < 0)
        return rc;
    *updated = 1;
    return 0;
}

int eng_sync_records_resolve(struct eng_store *st, const char *tenant, const char *flow,
                             const char *source_id, const char *run_id, struct eng_err *err)
{
    int rc = eng_store_run(st,
                           "UPDATE sync_records SET resolved_at = " ENG_STORE_NOW
                           ", updated_at = " ENG_STORE_NOW
                           " WHERE tenant_id = ?1 AND flow = ?2 AND source_id = ?3 AND "
                           "outcome IN ('failed', 'conflict') AND resolved_at IS NULL AND "
                           "dry_run = 0 AND (?4 IS NULL OR run_id IS NULL OR run_id <> ?4)",
                           err, "ssss", tenant, flow, source_id, run_id);
    return rc < 0 ? rc : 0;
}

/* The WHERE clause of q: ?1 run, ?2 tenant, ?3 after id, ?4.. outcomes. */
static int query_where(const struct eng_sync_records_query *q, char *buf, size_t size,
                       struct eng_err *err)
{
    if (q->run_id == NULL || q->noutcomes < 0 || q->noutcomes > ENG_SYNC_RECORDS_MAX_OUTCOMES ||
        (q->noutcomes > 0 && q->outcomes == NULL))
        return eng_err_set(err, ENG_EINVAL,
                           "sync records: a query needs a run and at most %d "
                           "outcomes",
                           ENG_SYNC_RECORDS_MAX_OUTCOMES);
    int n =
        snprintf(buf, size, " WHERE run_id = ?1 AND (?2 IS NULL OR tenant_id = ?2) AND id > ?3%s",
                 q->unresolved ? " AND resolved_at IS NULL" : "");
    if (q->noutcomes > 0) {
        n += snprintf(buf + n, size - (size_t)n, " AND outcome IN (");
        for (int i = 0; i < q->noutcomes; i++)
            n += snprintf(buf + n, size - (size_t)n, "%s?%d", i ? ", " : "", 4 + i);
        n += snprintf(buf + n, size - (size_t)n, ")");
    }
    return 0;
}

static void query_bind(struct eng_store_stmt *s, const struct eng_sync_records_query *q)
{
    eng_store_bind_str(s, 1, q->run_id);
    eng_store_bind_str(s, 2, q->tenant);
    eng_store_bind_int64(s, 3, q->after_id);
    for (int i = 0; i < q->noutcomes; i++)
        eng_store_bind_str(s, 4 + i, q->outcomes[i]);
}

static const char *col(struct eng_store_stmt *s, int i)
{
    return eng_store_column_type(s, i) == ENG_STORE_NULL ? NULL : eng_store_column_text(s, i, NULL);
}

/* The columns read_row reads, in its order. */
#define ROW_COLUMNS                                                                                \
    "id, tenant_id, source_system, source_entity, source_id, target_system, target_type, run_id, " \
    "flow, target_id, outcome, dry_run, error, error_code, retryable, input, output, diff, "       \
    "conflict, currency, source_total_minor, target_total_minor, attempts, next_retry_at, "        \
    "resolved_at, created_at, updated_at"

/* The current row of a SELECT of ROW_COLUMNS into *row (pointers into the statement). */
static void read_row(struct eng_store_stmt *s, struct eng_sync_record_row *row)
{
    memset(row, 0, sizeof *row);
    struct eng_sync_record *r = &row->rec;
    row->id = eng_store_column_int64(s, 0);
    r->tenant = col(s, 1);
    r->source_system = col(s, 2);
    r->source_entity = col(s, 3);
    r->source_id = col(s, 4);
    r->target_system = col(s, 5);
    r->target_type = col(s, 6);
    r->run_id = col(s, 7);
    r->flow = col(s, 8);
    r->target_id = col(s, 9);
    r->outcome = col(s, 10);
    r->dry_run = (int)eng_store_column_int64(s, 11);
    r->error = col(s, 12);
    r->code = col(s, 13);
    r->retryable =
        eng_store_column_type(s, 14) == ENG_STORE_NULL ? -1 : (int)eng_store_column_int64(s, 14);
    r->input = col(s, 15);
    r->output = col(s, 16);
    r->diff = col(s, 17);
    r->conflict = col(s, 18);
    r->currency = col(s, 19);
    r->has_source_total = eng_store_column_type(s, 20) != ENG_STORE_NULL;
    r->source_total = eng_store_column_int64(s, 20);
    r->has_target_total = eng_store_column_type(s, 21) != ENG_STORE_NULL;
    r->target_total = eng_store_column_int64(s, 21);
    row->attempts = eng_store_column_int64(s, 22);
    row->next_retry_at = col(s, 23);
    row->resolved_at = col(s, 24);
    row->created_at = col(s, 25);
    row->updated_at = col(s, 26);
}

/* Step s to its end, calling fn per row until it returns non-zero; finalizes s. */
static int each_row(struct eng_store_stmt *s,
                    int (*fn)(void *ud, const struct eng_sync_record_row *row), void *ud,
                    struct eng_err *err)
{
    int rc;
    while ((rc = eng_store_step(s, err)) == ENG_STORE_ROW) {
        struct eng_sync_record_row row;
        read_row(s, &row);
        if (fn(ud, &row) != 0) {
            rc = 0;
            break;
        }
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

int eng_sync_records_each(struct eng_store *st, const struct eng_sync_records_query *q,
                          int (*fn)(void *ud, const struct eng_sync_record_row *row), void *ud,
                          struct eng_err *err)
{
    char where[320], sql[1024];
    int rc = query_where(q, where, sizeof where, err);
    if (rc != 0)
        return rc;
    snprintf(sql, sizeof sql,
             "SELECT " ROW_COLUMNS " FROM sync_records%s ORDER BY id LIMIT ?%d OFFSET ?%d", where,
             4 + q->noutcomes, 5 + q->noutcomes);
    struct eng_store_stmt *s = NULL;
    rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    query_bind(s, q);
    eng_store_bind_int64(s, 4 + q->noutcomes, q->limit > 0 ? q->limit : INT64_MAX); /* none */
    eng_store_bind_int64(s, 5 + q->noutcomes, q->offset > 0 ? q->offset : 0);
    return each_row(s, fn, ud, err);
}

int eng_sync_records_count(struct eng_store *st, const struct eng_sync_records_query *q, int64_t *n,
                           struct eng_err *err)
{
    char where[320], sql[512];
    *n = 0;
    int rc = query_where(q, where, sizeof where, err);
    if (rc != 0)
        return rc;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sync_records%s", where);
    struct eng_store_stmt *s = NULL;
    rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    query_bind(s, q);
    rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW)
        *n = eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

struct done_walk {
    int (*fn)(void *ud, const char *source_id);
    void *ud;
};

static int done_row(void *ud, const struct eng_sync_record_row *row)
{
    const struct done_walk *w = ud;
    return row->rec.source_id != NULL ? w->fn(w->ud, row->rec.source_id) : 0;
}

int eng_sync_records_each_done(struct eng_store *st, const char *run_id,
                               int (*fn)(void *ud, const char *source_id), void *ud,
                               struct eng_err *err)
{
    static const char *const recorded[] = {"created", "updated", "unchanged",
                                           "skipped", "failed",  "conflict"};
    struct eng_sync_records_query q = {.run_id = run_id, .outcomes = recorded, .noutcomes = 6};
    struct done_walk w = {fn, ud};
    return eng_sync_records_each(st, &q, done_row, &w, err);
}

/* ---- failures ---- */

/* An open failure of ?1's tenant: failed or conflict, not resolved since, not a dry run's; then
 * the filters ?2 entity, ?3 flow, ?4 run (NULL: any). The index sync_records_failures serves
 * the tenant and the open rows. */
#define FAILURES_WHERE                                                                             \
    " WHERE tenant_id = ?1 AND outcome IN ('failed', 'conflict') AND resolved_at IS NULL AND "     \
    "dry_run = 0 AND (?2 IS NULL OR source_entity = ?2) AND (?3 IS NULL OR flow = ?3) AND (?4 IS " \
    "NULL OR run_id = ?4)"

static int failures_prepare(struct eng_store *st, const char *sql,
                            const struct eng_sync_failures_query *q, struct eng_store_stmt **s,
                            struct eng_err *err)
{
    if (q->tenant == NULL)
        return eng_err_set(err, ENG_EINVAL, "sync records: a failures query needs a tenant");
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, s, err);
    if (rc != 0)
        return rc;
    eng_store_bind_str(*s, 1, q->tenant);
    eng_store_bind_str(*s, 2, q->entity);
    eng_store_bind_str(*s, 3, q->flow);
    eng_store_bind_str(*s, 4, q->run_id);
    return 0;
}

int eng_sync_records_failures_each(struct eng_store *st, const struct eng_sync_failures_query *q,
                                   int (*fn)(void *ud, const struct eng_sync_record_row *row),
                                   void *ud, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = failures_prepare(st,
                              "SELECT " ROW_COLUMNS " FROM sync_records" FAILURES_WHERE
                              " ORDER BY id DESC LIMIT ?5 OFFSET ?6",
                              q, &s, err);
    if (rc != 0)
        return rc;
    eng_store_bind_int64(s, 5, q->limit > 0 ? q->limit : INT64_MAX); /* no limit */
    eng_store_bind_int64(s, 6, q->offset > 0 ? q->offset : 0);
    return each_row(s, fn, ud, err);
}

int eng_sync_records_failures_count(struct eng_store *st, const struct eng_sync_failures_query *q,
                                    int64_t *n, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    *n = 0;
    int rc = failures_prepare(st, "SELECT count(*) FROM sync_records" FAILURES_WHERE, q, &s, err);
    if (rc != 0)
        return rc;
    rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW)
        *n = eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

int eng_sync_records_failure_get(struct eng_store *st, const char *tenant, int64_t id,
                                 int (*fn)(void *ud, const struct eng_sync_record_row *row),
                                 void *ud, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st,
                           "SELECT " ROW_COLUMNS " FROM sync_records WHERE id = ?1 AND tenant_id "
                           "= ?2 AND outcome IN ('failed', 'conflict')",
                           &s, err, "is", id, tenant);
    if (rc != ENG_STORE_ROW)
        return rc < 0 ? rc : 0;
    struct eng_sync_record_row row;
    read_row(s, &row);
    fn(ud, &row);
    eng_store_finalize(s);
    return 1;
}

/* ---- per hour ---- */

int eng_sync_records_hourly(struct eng_store *st, const char *tenant, long long from_epoch,
                            int nhours, struct eng_sync_hour *out, struct eng_err *err)
{
    if (nhours < 1 || nhours > ENG_SYNC_RECORDS_HOURLY_MAX || from_epoch < 0 ||
        from_epoch % 3600 != 0)
        return eng_err_set(err, ENG_EINVAL,
                           "sync records: per-hour counts need a whole hour and 1 to %d hours",
                           ENG_SYNC_RECORDS_HOURLY_MAX);
    memset(out, 0, (size_t)nhours * sizeof *out);
    /* created_at is ISO-8601 UTC text ("2026-12-07T09:41:06.123Z"): the range compares as
     * text, on the index (tenant_id, created_at); the hour is the text's first 13 bytes */
    char from[32], to[32];
    time_t a = (time_t)from_epoch, b = (time_t)(from_epoch + (long long)nhours * 3600);
    struct tm tm;
    strftime(from, sizeof from, "%Y-%m-%dT%H", gmtime_r(&a, &tm));
    strftime(to, sizeof to, "%Y-%m-%dT%H", gmtime_r(&b, &tm));
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st,
                           "SELECT CAST(strftime('%s', substr(created_at, 1, 13) || ':00:00') AS "
                           "INTEGER), outcome, count(*) FROM sync_records WHERE tenant_id = ?1 "
                           "AND created_at >= ?2 AND created_at < ?3 AND dry_run = 0 GROUP BY "
                           "substr(created_at, 1, 13), outcome",
                           &s, err, "sss", tenant, from, to);
    while (rc == ENG_STORE_ROW) {
        long long h = (eng_store_column_int64(s, 0) - from_epoch) / 3600;
        const char *outcome = eng_store_column_text(s, 1, NULL);
        long long n = eng_store_column_int64(s, 2);
        if (h >= 0 && h < nhours && outcome != NULL) {
            struct eng_sync_hour *o = &out[h];
            if (strcmp(outcome, "created") == 0)
                o->created += n;
            else if (strcmp(outcome, "updated") == 0)
                o->updated += n;
            else if (strcmp(outcome, "unchanged") == 0)
                o->unchanged += n;
            else if (strcmp(outcome, "skipped") == 0)
                o->skipped += n;
            else if (strcmp(outcome, "failed") == 0 || strcmp(outcome, "conflict") == 0)
                o->failed += n;
        }
        rc = eng_store_step(s, err);
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}
