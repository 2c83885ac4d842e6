/*
 * sync.c - sync run records: creating a run with its job in one transaction, stop requests,
 * start-up recovery. Owns nothing past a call. Must not: run Lua or call a remote system (the
 * API calls this on its threads).
 */
#include "flow/sync.h"

#include <stdio.h>
#include <string.h>

#include "adapt/crypto.h"
#include "base/policy.h"
#include "flow/sync_int.h"

int eng_sync_default_flow(struct eng_policy *policy, const char *source, const char *entity,
                          char *flow, size_t size)
{
    return eng_policy_default_flow(policy, source, entity, flow, size);
}

/* The id of the tenant's queued or running run of flow into active ("" when none). */
static int active_run(struct eng_store *st, const char *tenant, const char *flow,
                      char active[ENG_SYNC_ID_SIZE], struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    active[0] = '\0';
    int rc = eng_store_prepare(st,
                               "SELECT id FROM sync_runs WHERE tenant_id = ? AND flow = ? AND "
                               "state IN ('queued', 'running')",
                               -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    eng_store_bind_str(s, 1, tenant);
    eng_store_bind_str(s, 2, flow);
    rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW)
        snprintf(active, ENG_SYNC_ID_SIZE, "%s", eng_store_column_text(s, 0, NULL));
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

int eng_sync_create_run(struct eng_store *st, const struct eng_sync_req *r,
                        char id[ENG_SYNC_ID_SIZE], char active[ENG_SYNC_ID_SIZE],
                        struct eng_err *err)
{
    const char *flow = r->flow; /* the callers resolve the default (eng_sync_default_flow) */
    active[0] = '\0';
    if (flow == NULL || *flow == '\0')
        return eng_err_set(err, ENG_EINVAL, "entity '%s' has no flow: name one in 'flow'",
                           r->entity);
    unsigned char rnd[16];
    if (eng_crypto_random(rnd, sizeof rnd, err) != 0)
        return ENG_EIO;
    char hex[33];
    eng_crypto_hex_encode(rnd, sizeof rnd, hex, sizeof hex, NULL);
    snprintf(id, ENG_SYNC_ID_SIZE, "sync_%s", hex);

    int rc = eng_store_exec(st, "BEGIN IMMEDIATE", err);
    if (rc != 0)
        return rc;
    struct eng_store_stmt *s = NULL;
    rc = eng_store_prepare(st,
                           "INSERT INTO sync_runs (id, tenant_id, entity, flow, mode, dry_run, "
                           "filters, origin, requested_by, schedule_id) VALUES (?, ?, ?, ?, ?, ?, "
                           "?, ?, ?, ?)",
                           -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0) {
        eng_store_bind_str(s, 1, id);
        eng_store_bind_str(s, 2, r->tenant);
        eng_store_bind_str(s, 3, r->entity);
        eng_store_bind_str(s, 4, flow);
        eng_store_bind_str(s, 5, r->mode);
        eng_store_bind_int64(s, 6, r->dry_run ? 1 : 0);
        eng_store_bind_str(s, 7, r->filters != NULL ? r->filters : "{}");
        eng_store_bind_str(s, 8, r->origin != NULL ? r->origin : "api");
        eng_store_bind_str(s, 9, r->requested_by);
        if (r->schedule_id > 0)
            eng_store_bind_int64(s, 10, r->schedule_id);
        else
            eng_store_bind_null(s, 10);
        rc = eng_sync_step_once(s, err);
    }
    if (rc == ENG_EEXIST) {
        eng_store_exec(st, "ROLLBACK", NULL);
        active_run(st, r->tenant, flow, active, NULL);
        return eng_err_set(err, ENG_EEXIST, "flow %s already has a queued or running run (%s)",
                           flow, active);
    }
    if (rc == 0) {
        struct eng_job_new j = {
            .tenant = r->tenant,
            .kind = "run",
            .entity = r->entity,
            .flow = flow,
            .run_id = id,
            .priority = ENG_QUEUE_LANE_BULK,
            .max_attempts = ENG_SYNC_RUN_ATTEMPTS,
        };
        rc = eng_queue_enqueue(st, &j, NULL, NULL, err);
    }
    return eng_sync_end_tx(st, rc, err);
}

int eng_sync_request_stop(struct eng_store *st, const char *tenant, const char *id, char state[16],
                          struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    /* a queued run is cancelled at once (its job finds it so and ends); a running one stops
     * between records */
    int rc = eng_store_prepare(
        st,
        "UPDATE sync_runs SET cancel_requested = 1, state = CASE state WHEN 'queued' THEN "
        "'cancelled' ELSE state END, finished_at = CASE state WHEN 'queued' THEN " ENG_STORE_NOW
        " ELSE finished_at END, updated_at = " ENG_STORE_NOW
        " WHERE tenant_id = ? AND id = ? RETURNING state",
        -1, ENG_STORE_TRUSTED, &s, err);
    if (rc != 0)
        return rc;
    eng_store_bind_str(s, 1, tenant);
    eng_store_bind_str(s, 2, id);
    rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW) {
        snprintf(state, 16, "%s", eng_store_column_text(s, 0, NULL));
        rc = eng_store_step(s, err);
    } else if (rc == ENG_STORE_DONE) {
        rc = eng_err_set(err, ENG_ENOTFOUND, "no sync run %s", id);
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

int eng_sync_recover(struct eng_store *st, int *jobs, struct eng_err *err)
{
    int rc = eng_queue_recover(st, jobs, err);
    if (rc != 0)
        return rc;
    return eng_queue_requeue_runs(st, err);
}

int eng_sync_retry_due(struct eng_store *st, int *queued, struct eng_err *err)
{
    return eng_queue_retry_failed(st, queued, err);
}
