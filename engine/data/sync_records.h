/*
 * sync_records.h - what a sync did to each record (table sync_records): a run's outcome per
 * record, the open failures that retries work from (their attempts and next retry time) and their
 * resolution. The one owner of the sync code's statements on sync_records (the API's and the
 * CLI's listings still hold their own SELECTs: see the read function below).
 * Owns: nothing past a call. Must not: open or end a transaction (callers group statements),
 * know about Lua.
 */
#ifndef ENG_SYNC_RECORDS_H
#define ENG_SYNC_RECORDS_H

#include <stdint.h>

#include "adapt/store.h"
#include "base/err.h"

/* One record's outcome. Strings may be NULL (SQL NULL); input/output/diff/conflict are JSON
 * text. run_id NULL: outside a run (a webhook record or a retry). */
struct eng_sync_record {
    const char *tenant, *source_system, *source_entity, *source_id, *target_system, *target_type;
    const char *run_id, *flow, *target_id, *outcome;
    int dry_run;
    const char *error, *code;
    int retryable; /* 1, 0, or -1: not said (NULL) */
    const char *input, *output, *diff, *conflict, *currency;
    int has_source_total, has_target_total;
    int64_t source_total, target_total; /* minor units */
};

/* Record rec (a run's row for the same record is updated, its attempts counted). A retryable
 * failure gets its next retry time from eng_sync_records_backoff_ms. */
int eng_sync_records_put(struct eng_store *st, const struct eng_sync_record *rec,
                         struct eng_err *err);

/* Outside a run, a record that fails again updates its open failure (tenant, flow, source id)
 * instead of adding a second one: attempts + 1, the new error, the next retry time.
 * *updated says whether there was one (0: the caller puts a new row). */
int eng_sync_records_fail_again(struct eng_store *st, const struct eng_sync_record *rec,
                                int *updated, struct eng_err *err);

/* A record that went through clears the open failures of (tenant, flow, source id), except
 * those of run_id itself (NULL: every run's). Dry runs' rows are never touched. */
int eng_sync_records_resolve(struct eng_store *st, const char *tenant, const char *flow,
                             const char *source_id, const char *run_id, struct eng_err *err);

/* The source ids run_id already recorded (a resumed run skips them): calls fn for each until it
 * returns non-zero. */
int eng_sync_records_each_done(struct eng_store *st, const char *run_id,
                               int (*fn)(void *ud, const char *source_id), void *ud,
                               struct eng_err *err);

/* ---- reading (for the API's and the CLI's listings: api/api_sync_records.c and
 * cli/cli_sync_show.c may move their SELECTs here) ---- */

/* A recorded row as read back. Strings belong to the store and live until the callback
 * returns. */
struct eng_sync_record_row {
    int64_t id;
    struct eng_sync_record rec; /* the fields as put */
    long long attempts;
    const char *next_retry_at, *resolved_at, *created_at, *updated_at; /* NULL when not set */
};

#define ENG_SYNC_RECORDS_MAX_OUTCOMES 7
/* Which rows of a run: all the fields but run_id may be left 0/NULL. */
struct eng_sync_records_query {
    const char *run_id;          /* required */
    const char *tenant;          /* NULL: any tenant (the local CLI) */
    const char *const *outcomes; /* noutcomes of "created", "failed"...; NULL: every outcome */
    int noutcomes;
    int unresolved;     /* only failures not resolved since */
    int64_t after_id;   /* only rows with a greater id (a follower's position) */
    long limit, offset; /* limit <= 0: no limit */
};

/* Call fn for each row of q in id order until it returns non-zero. ENG_EINVAL for a query
 * without run_id or with too many outcomes. */
int eng_sync_records_each(struct eng_store *st, const struct eng_sync_records_query *q,
                          int (*fn)(void *ud, const struct eng_sync_record_row *row), void *ud,
                          struct eng_err *err);
/* How many rows q matches, ignoring its limit and offset. */
int eng_sync_records_count(struct eng_store *st, const struct eng_sync_records_query *q, int64_t *n,
                           struct eng_err *err);

/* ---- open failures (api/api_failures.c: the list, one failure, the count) ---- */

/* Which failures: open ones (failed or conflict, not resolved since, not a dry run's) of
 * tenant (required); the other fields may be NULL / 0. */
struct eng_sync_failures_query {
    const char *tenant;
    const char *entity, *flow, *run_id; /* NULL: any */
    long limit, offset;                 /* limit <= 0: no limit */
};
/* Call fn for each failure of q, newest first, until it returns non-zero. */
int eng_sync_records_failures_each(struct eng_store *st, const struct eng_sync_failures_query *q,
                                   int (*fn)(void *ud, const struct eng_sync_record_row *row),
                                   void *ud, struct eng_err *err);
/* How many failures q matches, ignoring its limit and offset. */
int eng_sync_records_failures_count(struct eng_store *st, const struct eng_sync_failures_query *q,
                                    int64_t *n, struct eng_err *err);
/* The failed or conflict row id of tenant (open or resolved, a dry run's too): 1 after calling
 * fn with it, 0 when tenant has no such row (another tenant's id is not found), < 0. */
int eng_sync_records_failure_get(struct eng_store *st, const char *tenant, int64_t id,
                                 int (*fn)(void *ud, const struct eng_sync_record_row *row),
                                 void *ud, struct eng_err *err);

/* ---- records per hour (GET /api/sync/stats/hourly) ---- */

#define ENG_SYNC_RECORDS_HOURLY_MAX (31 * 24)
struct eng_sync_hour {
    long long created, updated, unchanged, skipped, failed; /* failed: failed + conflict */
};
/* tenant's records (not dry runs') by outcome, per hour of created_at, for the nhours (1 ..
 * ENG_SYNC_RECORDS_HOURLY_MAX) hours from from_epoch (a whole hour, Unix seconds): out[i]
 * counts [from + i h, from + (i + 1) h), zero when nothing happened then. 0 or < 0 with err. */
int eng_sync_records_hourly(struct eng_store *st, const char *tenant, long long from_epoch,
                            int nhours, struct eng_sync_hour *out, struct eng_err *err);

/* The one retry backoff of a failed record, by its attempt count (1 for the first failure):
 * the job queue's (eng_queue_backoff_ms: doubling, capped at one hour, "full jitter" in [d/2,
 * d]) started ENG_SYNC_RECORDS_BACKOFF_SHIFT doublings in, so the first retry comes after 32-64 s.
 * Jitter matters when many records fail together (a target outage): without it every one of
 * them comes back in the same second, and the outage's end meets a thundering herd.
 * r in [0, 1) is the random draw (tests pass fixed values). */
#define ENG_SYNC_RECORDS_BACKOFF_SHIFT 5
long long eng_sync_records_backoff_ms(int attempts, double r);

#endif
