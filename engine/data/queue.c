/*
 * queue.c - the durable job queue (see queue.h). Every state change is one statement, so a
 * claim is atomic in SQLite (and maps to FOR UPDATE SKIP LOCKED on PostgreSQL later).
 * Time arithmetic is the store's own clock (ENG_STORE_NOW*), the one every row default uses.
 * The one owner of SQL on sync_queue. Owns nothing past a call. Must not: decide what a job does.
 */
#include "data/queue.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_BASE 2000LL
#define BACKOFF_CAP  3600000LL

/* the SQL pieces every state change shares */
#define DEDUPE_FREE                                                                                \
    " ON CONFLICT (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND status"                 \
    " IN ('pending', 'running') DO NOTHING"
#define LEASE_FREE " lease_owner = NULL, lease_expires_at = NULL,"
#define HELD_BY    " WHERE id = ?1 AND lease_owner = ?2 AND status = 'running'"
#define JOB_COLUMNS                                                                                \
    ENG_STORE_RETURNING(                                                                           \
        "id, tenant_id, kind, entity, flow, payload, priority, attempts, max_attempts, run_id")
#define TAKE(lease)                                                                                \
    "UPDATE sync_queue SET status = 'running', lease_owner = ?1,"                                  \
    " lease_expires_at = " ENG_STORE_NOW_PLUS_MS(lease) ", attempts = attempts + 1,"               \
                                                        " updated_at = " ENG_STORE_NOW

int eng_queue_enqueue(struct eng_store *st, const struct eng_job_new *j, int64_t *id, int *deduped,
                      struct eng_err *err)
{
    if (j->tenant == NULL || j->kind == NULL || *j->kind == '\0')
        return eng_err_set(err, ENG_EINVAL, "a job needs a tenant and a kind");
    if (deduped != NULL)
        *deduped = 0;
    /* clang-format off */
    static const char sql[] =
        "INSERT INTO sync_queue (tenant_id, kind, entity, flow, payload, dedupe_key, run_id,"
        " priority, max_attempts, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        ENG_STORE_NOW_PLUS_MS("?10") ")" DEDUPE_FREE " RETURNING id";
    /* clang-format on */
    struct eng_store_stmt *ins = NULL;
    int rc =
        eng_store_row(st, sql, &ins, err, "sssssssiii", j->tenant, j->kind, j->entity, j->flow,
                      j->payload != NULL ? j->payload : "{}", j->dedupe_key, j->run_id,
                      (int64_t)j->priority, (int64_t)(j->max_attempts > 0 ? j->max_attempts : 8),
                      (int64_t)(j->delay_ms > 0 ? j->delay_ms : 0));
    int inserted = rc == ENG_STORE_ROW; /* no row: the key's job is there (DO NOTHING) */
    if (inserted) {
        if (id != NULL)
            *id = eng_store_column_int64(ins, 0);
        rc = eng_store_step(ins, err); /* finish the statement: DONE */
    }
    eng_store_finalize(ins);
    if (rc < 0)
        return rc;
    if (inserted)
        return 0;
    /* deduplicated: answer the job that holds the key */
    if (deduped != NULL)
        *deduped = 1;
    struct eng_store_stmt *s = NULL;
    rc = eng_store_row(st,
                       "SELECT id FROM sync_queue WHERE tenant_id = ?1 AND dedupe_key = ?2 AND"
                       " status IN ('pending', 'running')",
                       &s, err, "ss", j->tenant, j->dedupe_key);
    if (rc == ENG_STORE_ROW && id != NULL)
        *id = eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

void eng_queue_job_clear(struct eng_job *j)
{
    free(j->tenant);
    free(j->kind);
    free(j->entity);
    free(j->flow);
    free(j->payload);
    free(j->run_id);
    memset(j, 0, sizeof *j);
}

/* Run a claiming UPDATE ... RETURNING JOB_COLUMNS (?1 owner, ?2 lease, ?3 the id or the lowest
 * priority), read its row into out and finalize it: 1 claimed, 0 nothing, < 0. */
static int claim(struct eng_store *st, const char *sql, const char *owner, long long lease_ms,
                 int64_t arg3, struct eng_job *out, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "sii", owner, (int64_t)lease_ms, arg3);
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
        eng_queue_job_clear(out);
        return rc;
    }
    return rc == ENG_STORE_ROW ? 1 : 0;
}

int eng_queue_claim_id(struct eng_store *st, int64_t id, const char *owner, long long lease_ms,
                       struct eng_job *out, struct eng_err *err)
{
    memset(out, 0, sizeof *out);
    return claim(st, TAKE("?2") " WHERE id = ?3 AND status = 'pending'" JOB_COLUMNS, owner,
                 lease_ms, id, out, err);
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
    /* clang-format off */
    int rc = eng_store_run(st,
                  "UPDATE sync_queue SET status = 'dead'," LEASE_FREE
                  " finished_at = " ENG_STORE_NOW ", updated_at = " ENG_STORE_NOW ","
                  " last_error = coalesce(last_error, 'the worker holding it stopped answering"
                  " (lease expired) on its last attempt')"
                  " WHERE status = 'running' AND lease_expires_at <= " ENG_STORE_NOW
                  " AND attempts >= max_attempts",
                  err, "");
    /* clang-format on */
    if (rc < 0)
        return rc;

    /* The first of the pending jobs that are due and the running ones whose lease expired, each
     * found on its own partial index in claim order (one OR over both made SQLite collect and
     * sort every pending job on each claim: a backlog of 13,000 webhook jobs cost the dispatcher
     * most of a core and held webhook answers up to a second, issue 14). */
    /* clang-format off */
    static const char sql[] =
        TAKE("?2") " WHERE id = (SELECT id FROM ("
        "SELECT * FROM (SELECT id, priority, next_attempt_at FROM sync_queue"
        " WHERE status = 'pending' AND priority >= ?3 AND next_attempt_at <= " ENG_STORE_NOW
        " ORDER BY priority DESC, next_attempt_at, id LIMIT 1) AS due"
        " UNION ALL "
        "SELECT * FROM (SELECT id, priority, next_attempt_at FROM sync_queue"
        " WHERE status = 'running' AND lease_expires_at <= " ENG_STORE_NOW
        " AND attempts < max_attempts AND priority >= ?3"
        " ORDER BY priority DESC, next_attempt_at, id LIMIT 1) AS lapsed) AS first"
        " ORDER BY priority DESC, next_attempt_at, id LIMIT 1)"
        /* still claimable: on PostgreSQL a second claimer that waited for the first's row lock
         * looks at the row again with these, not with the subquery (which it does not rerun) */
        " AND (status = 'pending' OR (status = 'running' AND lease_expires_at <= " ENG_STORE_NOW
        " AND attempts < max_attempts))" JOB_COLUMNS;
    /* clang-format on */
    return claim(st, sql, owner, lease_ms, min_priority, out, err);
}

static int not_held(int64_t id, struct eng_err *err)
{
    return eng_err_set(err, ENG_ENOTFOUND,
                       "job %lld is no longer held by this worker (its lease expired)",
                       (long long)id);
}

/* Run sql, an UPDATE of the job owner holds (HELD_BY: ?1 id, ?2 owner), with ?3 = text3 and
 * ?4 = num4 when fmt (a start of "issi", as long as the statement's parameters) says so.
 * ENG_ENOTFOUND when owner does not hold the job. */
static int held_update(struct eng_store *st, const char *sql, const char *fmt, int64_t id,
                       const char *owner, const char *text3, long long num4, struct eng_err *err)
{
    int rc = eng_store_run(st, sql, err, fmt, id, owner, text3, (int64_t)num4);
    return rc < 0 ? rc : rc == 0 ? not_held(id, err) : 0;
}

int eng_queue_extend(struct eng_store *st, int64_t id, const char *owner, long long lease_ms,
                     struct eng_err *err)
{
    return held_update(st,
                       "UPDATE sync_queue SET lease_expires_at = " ENG_STORE_NOW_PLUS_MS(
                           "?4") ", updated_at = " ENG_STORE_NOW HELD_BY,
                       "issi", id, owner, NULL, lease_ms, err);
}

int eng_queue_complete(struct eng_store *st, int64_t id, const char *owner, struct eng_err *err)
{
    return held_update(st,
                       "UPDATE sync_queue SET status = 'done'," LEASE_FREE
                       " finished_at = " ENG_STORE_NOW ", updated_at = " ENG_STORE_NOW HELD_BY,
                       "is", id, owner, NULL, 0, err);
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
    int rc = eng_store_row(st, "SELECT attempts, max_attempts FROM sync_queue" HELD_BY, &s, err,
                           "is", id, owner);
    int attempts = 0, max = 0;
    if (rc == ENG_STORE_ROW) {
        attempts = (int)eng_store_column_int64(s, 0);
        max = (int)eng_store_column_int64(s, 1);
    }
    eng_store_finalize(s);
    if (rc < 0)
        return rc;
    if (rc == ENG_STORE_DONE)
        return not_held(id, err);
    int is_dead = !retryable || attempts >= max;
    if (dead != NULL)
        *dead = is_dead;
    const char *text = error != NULL ? error : "failed";
    if (is_dead)
        return held_update(st,
                           "UPDATE sync_queue SET status = 'dead', last_error = ?3," LEASE_FREE
                           " finished_at = " ENG_STORE_NOW ", updated_at = " ENG_STORE_NOW HELD_BY,
                           "iss", id, owner, text, 0, err);
    /* clang-format off */
    return held_update(st,
                       "UPDATE sync_queue SET status = 'pending', last_error = ?3," LEASE_FREE
                       " next_attempt_at = " ENG_STORE_NOW_PLUS_MS("?4") ","
                       " updated_at = " ENG_STORE_NOW HELD_BY,
                       "issi", id, owner, text, eng_queue_backoff_ms(attempts, jitter_draw()), err);
    /* clang-format on */
}

/* back to pending without counting the interrupted attempt, due after ?4 ms */
#define GIVE_BACK                                                                                  \
    "UPDATE sync_queue SET status = 'pending'," LEASE_FREE " attempts = " ENG_STORE_GREATEST(      \
        "attempts - 1",                                                                            \
        "0") ","                                                                                   \
             " next_attempt_at = " ENG_STORE_NOW_PLUS_MS("?4") ", updated_at = " ENG_STORE_NOW

int eng_queue_release(struct eng_store *st, int64_t id, const char *owner, long long delay_ms,
                      struct eng_err *err)
{
    return held_update(st, GIVE_BACK HELD_BY, "issi", id, owner, NULL, delay_ms > 0 ? delay_ms : 0,
                       err);
}

int eng_queue_recover(struct eng_store *st, int *n, struct eng_err *err)
{
    /* ?4: due now */
    /* ?1-?3 are not in the statement: typed NULLs (PostgreSQL wants a type for each) */
    int rc = eng_store_run(st, GIVE_BACK " WHERE status = 'running'", err, "sssi", NULL, NULL, NULL,
                           (int64_t)0);
    if (rc < 0)
        return rc;
    if (n != NULL)
        *n = rc;
    return 0;
}

int eng_queue_requeue_runs(struct eng_store *st, struct eng_err *err)
{
    return eng_store_exec(
        st,
        "INSERT INTO sync_queue (tenant_id, kind, entity, flow, run_id, priority, max_attempts)"
        " SELECT r.tenant_id, 'run', r.entity, r.flow, r.id, 0, 50 FROM sync_runs r WHERE r.state"
        " IN ('queued', 'running') AND NOT EXISTS (SELECT 1 FROM sync_queue q WHERE q.run_id ="
        " r.id AND q.status IN ('pending', 'running'))",
        err);
}

int eng_queue_retry_failed(struct eng_store *st, int *queued, struct eng_err *err)
{
    *queued = 0;
    /* clang-format off */
    static const char sql[] =
        "INSERT INTO sync_queue (tenant_id, kind, entity, flow, payload, priority, max_attempts,"
        " dedupe_key) SELECT tenant_id, 'retry', source_entity, flow, json_object('entity',"
        " source_entity, 'flow', flow, 'ids', json_group_array(DISTINCT source_id)), 10, 8,"
        " 'autoretry:' || flow || ':' || source_entity FROM sync_records WHERE outcome = 'failed'"
        " AND resolved_at IS NULL AND dry_run = 0 AND retryable = 1 AND attempts < 8 AND"
        " next_retry_at <= " ENG_STORE_NOW " GROUP BY tenant_id, flow, source_entity" DEDUPE_FREE;
    /* clang-format on */
    int rc = eng_store_run(st, sql, err, "");
    if (rc < 0)
        return rc;
    *queued = rc;
    return 0;
}

int64_t eng_queue_pending_of_run(struct eng_store *st, const char *run_id)
{
    struct eng_store_stmt *s = NULL;
    int64_t id = 0;
    if (eng_store_row(st,
                      "SELECT id FROM sync_queue WHERE run_id = ?1 AND status = 'pending'"
                      " ORDER BY id DESC LIMIT 1",
                      &s, NULL, "s", run_id) == ENG_STORE_ROW)
        id = eng_store_column_int64(s, 0);
    eng_store_finalize(s);
    return id;
}

int eng_queue_sweep_merge(struct eng_store *st, const char *tenant, const char *source,
                          const char *reason, const char *since, int64_t *id, char *since_out,
                          size_t size, struct eng_err *err)
{
    *id = 0;
    /* clang-format off */
    static const char sql[] =
        "INSERT INTO sync_queue (tenant_id, kind, payload, priority, dedupe_key) VALUES (?1,"
        " 'sweep', json_object('source', ?2, 'reason', ?3, 'since', ?4), 5, 'sweep:' || ?2)"
        " ON CONFLICT (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL"
        " AND status IN ('pending', 'running') DO UPDATE SET payload = json_set(sync_queue.payload,"
        " '$.since', CASE WHEN json_extract(sync_queue.payload, '$.since') IS NULL OR"
        " json_extract(sync_queue.payload, '$.since') > ?4 THEN ?4 ELSE"
        " json_extract(sync_queue.payload, '$.since') END), updated_at = " ENG_STORE_NOW
        " WHERE sync_queue.status = 'pending'"
        ENG_STORE_RETURNING("id, json_extract(payload, '$.since')");
    /* clang-format on */
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "ssss", tenant, source, reason, since);
    if (rc == ENG_STORE_ROW) {
        const char *v = eng_store_column_text(s, 1, NULL);
        *id = eng_store_column_int64(s, 0);
        snprintf(since_out, size, "%s", v != NULL ? v : since);
        rc = eng_store_step(s, err); /* finish the statement: DONE */
        rc = rc < 0 ? rc : 1;
    }
    eng_store_finalize(s);
    return rc;
}

int eng_queue_sweep_startup(struct eng_store *st, struct eng_err *err)
{
    /* clang-format off */
    static const char sql[] =
        "INSERT INTO sync_queue (tenant_id, kind, payload, priority, dedupe_key)"
        " SELECT c.tenant_id, 'sweep', json_object('source', c.platform, 'reason', 'startup',"
        " 'since', (SELECT max(e.received_at) FROM webhook_events e WHERE e.tenant_id ="
        " c.tenant_id AND e.source = c.platform)), 5, 'sweep:' || c.platform"
        " FROM integration_credentials c WHERE c.is_active = 1 AND c.platform IN ('woocommerce',"
        " 'quickbooks') AND EXISTS (SELECT 1 FROM webhook_events e WHERE e.tenant_id ="
        " c.tenant_id AND e.source = c.platform)" DEDUPE_FREE;
    /* clang-format on */
    int rc = eng_store_run(st, sql, err, "");
    return rc < 0 ? rc : 0;
}

int eng_queue_depth(struct eng_store *st, const char *tenant, struct eng_queue_depth *out,
                    struct eng_err *err)
{
    memset(out, 0, sizeof *out);
    struct eng_store_stmt *s = NULL;
    /* on the index sync_queue_tenant (tenant_id, status) */
    int rc = eng_store_row(st,
                           "SELECT count(CASE WHEN status = 'pending' AND priority >= ?2 THEN 1 "
                           "END), count(CASE WHEN status = 'pending' AND priority < ?2 THEN 1 "
                           "END), count(CASE WHEN status = 'running' THEN 1 END) FROM sync_queue "
                           "WHERE tenant_id = ?1 AND status IN ('pending', 'running')",
                           &s, err, "si", tenant, (int64_t)ENG_QUEUE_LANE_RECORD);
    if (rc == ENG_STORE_ROW) {
        out->priority = eng_store_column_int64(s, 0);
        out->bulk = eng_store_column_int64(s, 1);
        out->running = eng_store_column_int64(s, 2);
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}
