/*
 * queue.h - the durable job queue (table sync_queue): whole runs, single-record syncs from
 * webhooks, retries. Jobs are claimed with one UPDATE ... RETURNING under a lease, so two
 * workers (threads or processes) never hold one job; a lease that expires (its holder died)
 * makes the job claimable again. Higher priority first: ENG_QUEUE_LANE_RECORD (webhooks,
 * retries) ahead of ENG_QUEUE_LANE_BULK (runs), then the oldest due job.
 * Owns: nothing past a call (the caller's store connection does the work; struct eng_job's
 * strings are owned by the job and freed by eng_queue_job_clear). Must not: hold a transaction open
 * across calls, or decide anything about what a job does.
 */
#ifndef ENG_QUEUE_H
#define ENG_QUEUE_H

#include <stdint.h>

#include "base/err.h"
#include "adapt/store.h"

#define ENG_QUEUE_LANE_BULK   0  /* whole runs (backfills) */
#define ENG_QUEUE_LANE_RECORD 10 /* single records: webhooks and retries */

struct eng_job_new {
    const char *tenant;     /* required */
    const char *kind;       /* required: "run", "record", "retry"... */
    const char *entity;     /* may be NULL */
    const char *flow;       /* may be NULL */
    const char *payload;    /* JSON object text; NULL = "{}" */
    const char *dedupe_key; /* NULL = no dedupe; else at most one pending/running job per key */
    const char *run_id;     /* may be NULL */
    int priority;           /* ENG_QUEUE_LANE_* */
    int max_attempts;       /* 0 = the table's default (8) */
    long long delay_ms;     /* not claimable before now + delay_ms */
};

struct eng_job {
    int64_t id;
    char *tenant, *kind, *entity, *flow, *payload,
        *run_id;                          /* owned; entity/flow/run_id may be NULL */
    int priority, attempts, max_attempts; /* attempts counts this claim */
};

/* Add a job. *id (may be NULL) gets its id; with a dedupe_key already pending or running for
 * the tenant, nothing is added, *id is that job and *deduped (may be NULL) is 1. */
int eng_queue_enqueue(struct eng_store *st, const struct eng_job_new *j, int64_t *id, int *deduped,
                      struct eng_err *err);

/* Claim the next due job (pending and due, or running with an expired lease and attempts left)
 * for owner, leased for lease_ms. Returns 1 with *out filled (caller owns: eng_queue_job_clear),
 * 0 when nothing is due, or a negative code. */
int eng_queue_claim(struct eng_store *st, const char *owner, long long lease_ms,
                    struct eng_job *out, struct eng_err *err);
/* eng_queue_claim restricted to jobs of priority >= min_priority (a dispatcher whose bulk
 * slots are full still takes single-record jobs). */
int eng_queue_claim_min(struct eng_store *st, const char *owner, long long lease_ms,
                        int min_priority, struct eng_job *out, struct eng_err *err);
void eng_queue_job_clear(struct eng_job *j);
/* Claim job id itself when it is pending (the CLI runs the job it just queued). 1 claimed,
 * 0 when another worker holds it or it is over. */
int eng_queue_claim_id(struct eng_store *st, int64_t id, const char *owner, long long lease_ms,
                       struct eng_job *out, struct eng_err *err);

/* Extend owner's lease to now + lease_ms. ENG_ENOTFOUND when owner no longer holds the job
 * (it expired and another worker took it): the caller must stop working on it. */
int eng_queue_extend(struct eng_store *st, int64_t id, const char *owner, long long lease_ms,
                     struct eng_err *err);
/* Done: status 'done'. ENG_ENOTFOUND when owner does not hold the job. */
int eng_queue_complete(struct eng_store *st, int64_t id, const char *owner, struct eng_err *err);

/* The attempt failed. retryable and attempts left: back to pending after an exponential backoff
 * with jitter (eng_queue_backoff_ms); otherwise 'dead' (a person must look). *dead (may be NULL)
 * says which. ENG_ENOTFOUND when owner does not hold the job. */
int eng_queue_fail(struct eng_store *st, int64_t id, const char *owner, const char *error,
                   int retryable, int *dead, struct eng_err *err);
/* Give the job back without counting the attempt (shutdown, or a job that must wait), claimable
 * again after delay_ms. */
int eng_queue_release(struct eng_store *st, int64_t id, const char *owner, long long delay_ms,
                      struct eng_err *err);

/* Start-up recovery for a single engine per store: every 'running' job belongs to a process that
 * is gone, so each goes back to pending now (the interrupted attempt is not counted). *n (may be
 * NULL) gets the number of jobs recovered. */
int eng_queue_recover(struct eng_store *st, int *n, struct eng_err *err);

/* Backoff before attempt (attempts + 1): base 2 s doubling, capped at 1 h, "full jitter" in
 * [d/2, d] with d the capped delay. r in [0, 1) is the random draw (tests pass fixed values). */
long long eng_queue_backoff_ms(int attempts, double r);

/* Start-up: a queued or running row of sync_runs whose job is gone (dead after too many
 * attempts, or deleted) gets a fresh 'run' job, so every run ends by itself. */
int eng_queue_requeue_runs(struct eng_store *st, struct eng_err *err);
/* One 'retry' job (priority 10, dedupe key "autoretry:FLOW:ENTITY") per tenant, flow and source
 * entity whose failed, retryable, unresolved sync_records are due; *queued = jobs added. */
int eng_queue_retry_failed(struct eng_store *st, int *queued, struct eng_err *err);
/* Queue a 'sweep' job for tenant (payload {"source","reason","since"}, priority 5, dedupe key
 * "sweep:SOURCE"), or merge it into the pending one (whose since becomes the earlier of the two).
 * 1 with *id and since_out (the job's since, size bytes) when queued or merged; 0 when one is
 * running already (nothing queued); < 0. */
int eng_queue_sweep_merge(struct eng_store *st, const char *tenant, const char *source,
                          const char *reason, const char *since, int64_t *id, char *since_out,
                          size_t size, struct eng_err *err);
/* After downtime: one 'sweep' job (payload {"source", "reason":"startup", "since": the newest
 * received_at}) per tenant and platform (woocommerce, quickbooks) with active credentials that
 * was receiving webhooks, unless one is pending or running. */
int eng_queue_sweep_startup(struct eng_store *st, struct eng_err *err);
/* What tenant's jobs wait for and occupy (the console's overview): pending jobs in the record
 * lane (priority >= ENG_QUEUE_LANE_RECORD: webhooks, retries) and the rest (runs, sweeps), and
 * jobs running now. 0 or < 0 with err. */
struct eng_queue_depth {
    int64_t priority, bulk, running;
};
int eng_queue_depth(struct eng_store *st, const char *tenant, struct eng_queue_depth *out,
                    struct eng_err *err);
/* The newest pending job of run_id, or 0 (none, or a store failure). */
int64_t eng_queue_pending_of_run(struct eng_store *st, const char *run_id);

#endif
