/*
 * queue.c - the durable job queue (see queue.h). Every state change is one statement, so a
 * claim is atomic in SQLite (and maps to FOR UPDATE SKIP LOCKED on PostgreSQL later).
 * Time arithmetic is SQLite's own clock (strftime 'now'), the same clock every row default uses.
 */
#include "data/queue.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW          "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
#define NOW_PLUS(p)  "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', " p " / 1000.0))"
#define BACKOFF_BASE 2000LL
#define BACKOFF_CAP  3600000LL

static int bind_opt(struct eng_store_stmt *s, int idx, const char *v)
{
    return v != NULL ? eng_store_bind_text(s, idx, v, strlen(v)) : eng_store_bind_null(s, idx);
}

/* Run a statement that returns no rows, after bind() ran; returns changes or a negative code. */
static int run_done(struct eng_store *st, struct eng_store_stmt *s, struct eng_err *err)
{
    int rc = eng_store_step(s, err);
    eng_store_finalize(s);
    if (rc < 0)
        return rc;
    return (int)eng_store_changes(st);
}

int eng_queue_enqueue(struct eng_store *st, const struct eng_job_new *j, int64_t *id, int *deduped,
                      struct eng_err *err)
{
    if (j->tenant == NULL || j->kind == NULL || *j->kind == '\0')
        return eng_err_set(err, ENG_EINVAL, "a job needs a tenant and a kind");
    if (deduped != NULL)
        *deduped = 0;
    static const char sql[] =
        "INSERT INTO sync_queue (tenant_id, kind, entity, flow, payload, dedupe_key, run_id, "
        "priority, max_attempts, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
        "?9, " NOW_PLUS(
            "?10") ") ON CONFLICT (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND status "
                   "IN ('pending', 'running') DO NOTHING";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    const char *payload = j->payload != NULL ? j->payload : "{}";
    bind_opt(s, 1, j->tenant);
    bind_opt(s, 2, j->kind);
    bind_opt(s, 3, j->entity);
    bind_opt(s, 4, j->flow);
    bind_opt(s, 5, payload);
    bind_opt(s, 6, j->dedupe_key);
    bind_opt(s, 7, j->run_id);
    eng_store_bind_int64(s, 8, j->priority);
    eng_store_bind_int64(s, 9, j->max_attempts > 0 ? j->max_attempts : 8);
    eng_store_bind_int64(s, 10, j->delay_ms > 0 ? j->delay_ms : 0);
    rc = run_done(st, s, err);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        if (id != NULL)
            *id = eng_store_last_insert_rowid(st);
        return 0;
    }
    /* deduplicated: answer the job that holds the key */
    if (deduped != NULL)
        *deduped = 1;
    rc = eng_store_prepare(st,
                           "SELECT id FROM sync_queue WHERE tenant_id = ? AND dedupe_key = ? AND "
                           "status IN ('pending', 'running')",
                           -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    bind_opt(s, 1, j->tenant);
    bind_opt(s, 2, j->dedupe_key);
    rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW && id != NULL)
        *id = eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

void eng_job_clear(struct eng_job *j)
{
    free(j->tenant);
    free(j->kind);
    free(j->entity);
    free(j->flow);
    free(j->payload);
    free(j->run_id);
    memset(j, 0, sizeof *j);
}

/* Step a claiming UPDATE ... RETURNING (owner ?1, lease ?2 bound) into out. */
static int claim_step(struct eng_store_stmt *s, struct eng_job *out, struct eng_err *err)
{
    int rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW) {
        out->id = eng_store_column_int64(s, 0);
        out->tenant = eng_store_column_strdup(s, 1);
        out->kind = eng_store_column_strdup(s, 2);
        out->entity = eng_store_column_strdup(s, 3);
        out->flow = eng_store_column_strdup(s, 4);
        out->payload = eng_store_column_strdup(s, 5);
        out->priority = (int)eng_store_column_int64(s, 6);
        out->attempts = (int)eng_store_column_int64(s, 7);
        out->max_attempts = (int)eng_store_column_int64(s, 8);
        out->run_id = eng_store_column_strdup(s, 9);
        /* finish the statement so the UPDATE commits */
        int r2 = eng_store_step(s, err);
        if (r2 < 0)
            rc = r2;
        else if (out->tenant == NULL || out->kind == NULL || out->payload == NULL)
            rc = eng_err_set(err, ENG_ENOMEM, "out of memory claiming a job");
    }
    eng_store_finalize(s);
    if (rc < 0) {
        eng_job_clear(out);
        return rc;
    }
    return rc == ENG_STORE_ROW ? 1 : 0;
}

int eng_queue_claim_id(struct eng_store *st, int64_t id, const char *owner, long long lease_ms,
                       struct eng_job *out, struct eng_err *err)
{
    memset(out, 0, sizeof *out);
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(
        st,
        "UPDATE sync_queue SET status = 'running', lease_owner = ?1, lease_expires_at = " NOW_PLUS(
            "?2") ", attempts = attempts + 1, updated_at = " NOW " WHERE id = ?3 AND status = "
                  "'pending' RETURNING id, tenant_id, kind, entity, flow, payload, priority, "
                  "attempts, max_attempts, run_id",
        -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    bind_opt(s, 1, owner);
    eng_store_bind_int64(s, 2, lease_ms);
    eng_store_bind_int64(s, 3, id);
    return claim_step(s, out, err);
}

int eng_queue_claim(struct eng_store *st, const char *owner, long long lease_ms,
                    struct eng_job *out, struct eng_err *err)
{
    return eng_queue_claim_min(st, owner, lease_ms, INT_MIN, out, err);
}

int eng_queue_claim_min(struct eng_store *st, const char *owner, long long lease_ms,
                        int min_priority, struct eng_job *out, struct eng_err *err)
{
    memset(out, 0, sizeof *out);
    /* A running job whose lease expired after its last allowed attempt is dead, not retaken. */
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(
        st,
        "UPDATE sync_queue SET status = 'dead', lease_owner = NULL, lease_expires_at = NULL, "
        "finished_at = " NOW ", updated_at = " NOW ", last_error = coalesce(last_error, "
        "'the worker holding it stopped answering (lease expired) on its last attempt') "
        "WHERE status = 'running' AND lease_expires_at <= " NOW " AND attempts >= max_attempts",
        -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0 || (rc = run_done(st, s, err)) < 0)
        return rc;

    static const char sql[] =
        "UPDATE sync_queue SET status = 'running', lease_owner = ?1, lease_expires_at = " NOW_PLUS(
            "?2") ", attempts = attempts + 1, updated_at = " NOW " WHERE id = (SELECT id FROM "
                  "sync_queue WHERE priority >= ?3 AND ((status = 'pending' AND next_attempt_at "
                  "<= " NOW ") OR (status = 'running' AND lease_expires_at <= " NOW
                  " AND attempts < max_attempts)) ORDER BY priority DESC, next_attempt_at, id "
                  "LIMIT 1) RETURNING id, tenant_id, kind, entity, flow, payload, priority, "
                  "attempts, max_attempts, run_id";
    rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    bind_opt(s, 1, owner);
    eng_store_bind_int64(s, 2, lease_ms);
    eng_store_bind_int64(s, 3, min_priority);
    return claim_step(s, out, err);
}

static int held(int changes, int64_t id, struct eng_err *err)
{
    if (changes < 0)
        return changes;
    if (changes == 0)
        return eng_err_set(err, ENG_ENOTFOUND,
                           "job %lld is no longer held by this worker (its lease expired)",
                           (long long)id);
    return 0;
}

int eng_queue_extend(struct eng_store *st, int64_t id, const char *owner, long long lease_ms,
                     struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st,
                               "UPDATE sync_queue SET lease_expires_at = " NOW_PLUS(
                                   "?3") ", updated_at = " NOW " WHERE id = ?1 AND "
                                         "lease_owner = ?2 AND status = 'running'",
                               -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    eng_store_bind_int64(s, 1, id);
    bind_opt(s, 2, owner);
    eng_store_bind_int64(s, 3, lease_ms);
    return held(run_done(st, s, err), id, err);
}

int eng_queue_complete(struct eng_store *st, int64_t id, const char *owner, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st,
                               "UPDATE sync_queue SET status = 'done', lease_owner = NULL, "
                               "lease_expires_at = NULL, finished_at = " NOW ", updated_at = " NOW
                               " WHERE id = ?1 AND lease_owner = ?2 AND status = 'running'",
                               -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    eng_store_bind_int64(s, 1, id);
    bind_opt(s, 2, owner);
    return held(run_done(st, s, err), id, err);
}

long long eng_queue_backoff_ms(int attempts, double r)
{
    long long d = BACKOFF_BASE;
    for (int i = 1; i < attempts && d < BACKOFF_CAP; i++)
        d *= 2;
    if (d > BACKOFF_CAP)
        d = BACKOFF_CAP;
    if (r < 0)
        r = 0;
    if (r >= 1)
        r = 0.999999;
    long long half = d / 2;
    return half + (long long)((double)half * r);
}

static double jitter_draw(void)
{
    static _Thread_local unsigned int seed;
    if (seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (unsigned int)ts.tv_nsec ^ (unsigned int)(uintptr_t)&seed;
    }
    return (double)rand_r(&seed) / ((double)RAND_MAX + 1.0);
}

int eng_queue_fail(struct eng_store *st, int64_t id, const char *owner, const char *error,
                   int retryable, int *dead, struct eng_err *err)
{
    /* read attempts to size the backoff; only the holder may change the row */
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st,
                               "SELECT attempts, max_attempts FROM sync_queue WHERE id = ? AND "
                               "lease_owner = ? AND status = 'running'",
                               -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    eng_store_bind_int64(s, 1, id);
    bind_opt(s, 2, owner);
    rc = eng_store_step(s, err);
    int attempts = 0, max = 0;
    if (rc == ENG_STORE_ROW) {
        attempts = (int)eng_store_column_int64(s, 0);
        max = (int)eng_store_column_int64(s, 1);
    }
    eng_store_finalize(s);
    if (rc < 0)
        return rc;
    if (rc == ENG_STORE_DONE)
        return held(0, id, err);
    int is_dead = !retryable || attempts >= max;
    if (dead != NULL)
        *dead = is_dead;
    if (is_dead)
        rc = eng_store_prepare(st,
                               "UPDATE sync_queue SET status = 'dead', last_error = ?3, "
                               "lease_owner = NULL, lease_expires_at = NULL, finished_at = " NOW
                               ", updated_at = " NOW " WHERE id = ?1 AND lease_owner = ?2 AND "
                               "status = 'running'",
                               -1, ENG_STORE_TRUSTED, &s, err);
    else
        rc = eng_store_prepare(
            st,
            "UPDATE sync_queue SET status = 'pending', last_error = ?3, "
            "lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = " NOW_PLUS(
                "?4") ", updated_at = " NOW " WHERE id = ?1 AND lease_owner = "
                      "?2 AND status = 'running'",
            -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    eng_store_bind_int64(s, 1, id);
    bind_opt(s, 2, owner);
    bind_opt(s, 3, error != NULL ? error : "failed");
    if (!is_dead)
        eng_store_bind_int64(s, 4, eng_queue_backoff_ms(attempts, jitter_draw()));
    return held(run_done(st, s, err), id, err);
}

int eng_queue_release(struct eng_store *st, int64_t id, const char *owner, long long delay_ms,
                      struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc =
        eng_store_prepare(st,
                          "UPDATE sync_queue SET status = 'pending', lease_owner = NULL, "
                          "lease_expires_at = NULL, attempts = max(attempts - 1, 0), "
                          "next_attempt_at = " NOW_PLUS(
                              "?3") ", updated_at = " NOW
                                    " WHERE id = ?1 AND lease_owner = ?2 AND status = 'running'",
                          -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    eng_store_bind_int64(s, 1, id);
    bind_opt(s, 2, owner);
    eng_store_bind_int64(s, 3, delay_ms > 0 ? delay_ms : 0);
    return held(run_done(st, s, err), id, err);
}

int eng_queue_recover(struct eng_store *st, int *n, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st,
                               "UPDATE sync_queue SET status = 'pending', lease_owner = NULL, "
                               "lease_expires_at = NULL, attempts = max(attempts - 1, 0), "
                               "next_attempt_at = " NOW ", updated_at = " NOW
                               " WHERE status = 'running'",
                               -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    rc = run_done(st, s, err);
    if (rc < 0)
        return rc;
    if (n != NULL)
        *n = rc;
    return 0;
}
