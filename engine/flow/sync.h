/*
 * sync.h - sync runs: creating them (API, CLI, scheduler), executing a claimed job on a worker
 * (sync_run.c: run state, the per-page transaction, the cursor; the per-record pipeline is
 * scripts/lib/sync.lua) and the dispatcher thread that claims jobs from the durable queue and
 * hands them to the worker pool (orchestrator.c).
 * Owns: the dispatcher thread and its store connection. Must not: run Lua or call a remote
 * system on the dispatcher or on an HTTP thread; hold a transaction across a Lua call.
 */
#ifndef ENG_SYNC_H
#define ENG_SYNC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/err.h"
#include "data/queue.h"
#include "adapt/store.h"
struct eng_vm;
#include "flow/worker.h"

struct eng_keyring;
struct eng_policy;

#define ENG_SYNC_ID_SIZE   40  /* "sync_" + 32 hex + NUL fits */
#define ENG_SYNC_OVERLAP_S 300 /* incremental runs re-read this much before the cursor */
/* A job's lease, extended between pages: longer than a page may take (4 x CONNECTOR_TIMEOUT_MS by
 * default), so a slow page is never taken over by a second worker. A crash needs no expiry:
 * start-up recovers every job a dead process held. */
#define ENG_SYNC_LEASE_MS     600000
#define ENG_SYNC_RUN_ATTEMPTS 50 /* a run survives many restarts and source outages */
#define ENG_SYNC_REC_ATTEMPTS 8

struct eng_sync_env {
    const struct eng_config *cfg;
    const struct eng_keyring *keys;
    atomic_int *stopping;      /* set when the engine shuts down: runs give their job back */
    struct eng_policy *policy; /* the scripts' default flows (eng_scripts_policy); NULL: none */
};

/* A run request, validated by the caller, flow included (eng_sync_default_flow). */
struct eng_sync_req {
    const char *tenant, *entity, *flow, *mode; /* mode: "full" | "incremental" */
    int dry_run;
    const char *filters;      /* JSON object text; NULL = {} */
    const char *origin;       /* api, cli, schedule... */
    const char *requested_by; /* may be NULL */
    int64_t schedule_id;      /* 0 = none */
};

/* The default flow of a source entity ("orders" -> "woo_order_to_qbo_invoice") as the published
 * mappings declare it (default_for), copied into flow[size]: 0, or ENG_ENOTFOUND when there is
 * none (or, source not NULL, when it reads another connector), ENG_EINVAL when size is too
 * small. policy is the script registry's (eng_scripts_policy); NULL has no default. */
int eng_sync_default_flow(struct eng_policy *policy, const char *source, const char *entity,
                          char *flow, size_t size);

/* A connector of a flow the tenant cannot use: no stored credentials ("no_credentials") or
 * stored ones the configured keys cannot open ("cannot_decrypt"). */
struct eng_sync_missing {
    char platform[64];
    char role[8];    /* "source" | "target" */
    char reason[24]; /* "no_credentials" | "cannot_decrypt" */
};

/* sync_check.c, on a worker (vm, st its own): which of flow's connectors tenant lacks. 0 with
 * *nmiss entries in miss (0..2), or a negative code with err (the flow does not load, the store
 * failed). The same check the run's start makes. */
int eng_sync_check_connections(struct eng_vm *vm, const struct eng_sync_env *env,
                               struct eng_store *st, const char *tenant, const char *flow,
                               struct eng_sync_missing miss[2], int *nmiss, struct eng_err *err);

/* Insert the run (state queued) and its job in one transaction. id gets the new syncId.
 * ENG_EEXIST when the tenant already has a queued or running run of that flow: active gets its
 * id. ENG_EINVAL without a flow. */
int eng_sync_create_run(struct eng_store *st, const struct eng_sync_req *r,
                        char id[ENG_SYNC_ID_SIZE], char active[ENG_SYNC_ID_SIZE],
                        struct eng_err *err);

/* Ask a run to stop between records. ENG_ENOTFOUND when the tenant has no such run;
 * *state gets its state ("cancelled" at once for a queued one). */
int eng_sync_request_stop(struct eng_store *st, const char *tenant, const char *id, char state[16],
                          struct eng_err *err);

/* Start-up recovery: jobs held by a process that is gone go back to the queue, so interrupted
 * runs resume by themselves; a run left 'running' without a live job gets one. */
int eng_sync_recover(struct eng_store *st, int *jobs, struct eng_err *err);

enum eng_sync_outcome {
    ENG_SYNC_DONE = 0,  /* the job is finished (whatever the run's own state) */
    ENG_SYNC_RETRY,     /* a transient failure: back off and try again */
    ENG_SYNC_GIVE_BACK, /* the engine is stopping: release without counting the attempt */
    ENG_SYNC_LOST,      /* the lease was lost: another worker has the job; touch nothing */
    ENG_SYNC_FATAL,     /* the job cannot succeed (dead) */
};

/* Execute one claimed job on vm (the caller's worker), with st the worker's own connection.
 * err says why for RETRY and FATAL. */
enum eng_sync_outcome eng_sync_execute(struct eng_vm *vm, struct eng_store *st,
                                       const struct eng_sync_env *env, const struct eng_job *job,
                                       const char *owner, struct eng_err *err);

/* ---- schedules (scheduler.c) ---- */

struct eng_cron { /* one bit per allowed value */
    uint64_t minute, hour, dom, month, dow;
    int dom_star, dow_star;
};
/* Parse a five-field cron expression (UTC; *, *\/n, a-b, a-b/n, lists; Sunday 0 or 7) or
 * @hourly/@daily/@weekly/@monthly. ENG_EINVAL naming the bad field. */
int eng_scheduler_cron_parse(const char *expr, struct eng_cron *out, struct eng_err *err);
/* The first matching minute strictly after `after` (Unix seconds), or -1 within five years. */
int64_t eng_scheduler_cron_next(const struct eng_cron *c, int64_t after);
/* The next run time of a schedule from now, ISO-8601 UTC (cron when not NULL, else now +
 * interval seconds). */
int eng_scheduler_next(const char *cron, int64_t interval, char *buf, size_t size,
                       struct eng_err *err);
/* Start the most overdue due schedule's run (if any) and move it to its next time; *started
 * says whether a run was queued. Call repeatedly until it starts none. */
int eng_scheduler_tick(struct eng_store *st, int *started, struct eng_err *err);
/* Queue retry jobs for failures whose next retry time has come (retryable, under the attempt
 * limit), one job per flow and entity, deduplicated. *queued gets the jobs added. */
int eng_sync_retry_due(struct eng_store *st, int *queued, struct eng_err *err);

/* ---- the dispatcher (orchestrator.c) ---- */
struct eng_orch;

/* Recover, then start the thread that claims due jobs and submits them to w, at most slots at
 * a time, bulk runs at most slots - 1 of them (one lane stays free for single records and
 * retries; with one slot, runs and records share it). env is copied. */
struct eng_orch *eng_orchestrator_start(const struct eng_sync_env *env, struct eng_workers *w,
                                        int slots, struct eng_err *err);
/* Wake the dispatcher (a job was just enqueued). NULL is fine. */
void eng_orchestrator_notify(struct eng_orch *o);
/* Stop claiming, wait for jobs in flight to give their work back, join. NULL is fine.
 * Must be called before eng_workers_stop. */
void eng_orchestrator_stop(struct eng_orch *o);
/* The same, waiting at most grace_ms (< 0: for ever) for the jobs in flight: 0 when all gave
 * their work back (o is freed), else how many are still running on a worker (o is left to them:
 * the last one frees it; their jobs are taken again by the next start's recovery or when their
 * lease expires). */
int eng_orchestrator_stop_within(struct eng_orch *o, long long grace_ms);

#endif
