/*
 * ingest.h - the webhook ingest writer: one thread with its own store connection that commits
 * verified events (webhook_events rows and their sync_queue jobs) in groups. HTTP threads hand
 * it an item and suspend the request; the writer commits a whole batch in one transaction and
 * only then calls each item's done(), which resumes the request to answer 200. A crash before
 * the commit loses only events that were never acknowledged.
 * Owns: the thread, its connection, the queue links of items while queued, the WooCommerce
 * secret cache and the webhook counters. Items stay owned by their submitter; done() is the
 * writer's last touch of one. Must not: run Lua or call a remote system.
 */
#ifndef ENG_INGEST_H
#define ENG_INGEST_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "flow/webhook_tenant.h"
#include "webhook/webhook.h"

struct eng_ingest;

enum eng_ingest_kind {
    ENG_INGEST_EVENTS = 0, /* store events and queue their jobs */
    ENG_INGEST_REPLAY,     /* queue the jobs of a stored event again */
};

struct eng_ingest_item {
    int kind;
    /* EVENTS: in */
    struct eng_webhook_event *events;
    int nevents;
    const char *headers_json; /* JSON object, stored with every event of the item */
    /* REPLAY: in */
    int64_t replay_id;
    char replay_tenant[ENG_WEBHOOK_ID_MAX + 1];
    int replay_admin; /* may also replay events without a tenant (unrouted) */
    /* out (valid in done) */
    int rc; /* 0; ENG_EBUSY/ENG_EIO: nothing committed; REPLAY: ENG_ENOTFOUND, ENG_EINVAL */
    int stored, duplicates, unrouted, ignored, rejected, stale, jobs;
    int64_t replay_count;
    char error[160]; /* REPLAY: why there is nothing to replay */
    void (*done)(struct eng_ingest_item *it);
    void *ud;
    struct eng_ingest_item *next; /* owned by the queue while queued */
};

struct eng_ingest_counters {
    _Atomic unsigned long long refused_woo, refused_qbo, pings, batches, batch_items, events_stored,
        duplicates, rejected, stale, unrouted, overloaded, commit_failures, item_failures;
};

/* From the configuration (config.h): serve fills it from WEBHOOK_REPLAY_WINDOW_SECONDS and
 * WEBHOOK_SYNC. */
struct eng_ingest_opts {
    int64_t window_s; /* replay window in seconds: events whose own timestamp is older are kept
                       * as 'rejected' with no job (0 = off) */
    int sync_full;    /* commit with synchronous=FULL (survives power loss), else NORMAL (survives
                       * a crash of the process, at a fraction of the fsyncs) */
    struct eng_policy *policy; /* the scripts' webhook routes, for replays (NULL: none) */
};
/* Start the writer on its own connection to database_url. *out owned by the caller
 * (eng_ingest_stop). */
int eng_ingest_start(const char *database_url, const struct eng_ingest_opts *o,
                     struct eng_ingest **out, struct eng_err *err);
/* Commit what is queued, answer every item, join and free. NULL is fine. */
void eng_ingest_stop(struct eng_ingest *ing);

/* Queue it (its done() will be called exactly once, from the writer). ENG_EBUSY when the
 * queue is full, ENG_EINVAL when stopping: done() is then never called. */
int eng_ingest_submit(struct eng_ingest *ing, struct eng_ingest_item *it);

int64_t eng_ingest_window(const struct eng_ingest *ing);
struct eng_webhook_tenant_secrets *eng_ingest_secrets(struct eng_ingest *ing);
struct eng_ingest_counters *eng_ingest_counters(struct eng_ingest *ing);
/* Prometheus text of the counters (and the queue depth). NULL ing: nothing. */
void eng_ingest_metrics(struct eng_ingest *ing, struct eng_buf *out);

#endif
