/*
 * ingest.c - the group-commit writer of webhook events (see ingest.h).
 * One thread takes every item queued since its last commit (up to INGEST_BATCH), writes them in
 * one BEGIN IMMEDIATE transaction (each item under its own SAVEPOINT, so one item's failure
 * does not undo the others), commits (synchronous=FULL unless WEBHOOK_SYNC=normal), and only
 * then calls done() on each.
 * While a commit (and its fsync) runs, new deliveries queue up and share the next one: the cost
 * of durability is paid per batch, not per delivery.
 * Owns: the thread, its store connection and prepared statements, the queue, the secret cache.
 * Must not: call done() before the commit returned, or touch an item after its done().
 */
#include "flow/ingest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "adapt/store.h"
#include "data/queue.h"
#include "data/realm_owners.h"

#define INGEST_BATCH     256  /* items per transaction */
#define INGEST_QUEUE_MAX 8192 /* items waiting; more -> 503 (the senders retry or we lose none) */
/* Store errors in the log (a full disk fails every batch of a burst): at most INGEST_LOG_BURST
 * lines a minute, then one line saying the rest are only counted (the metrics). */
#define INGEST_LOG_BURST    20
#define INGEST_LOG_WINDOW_S 60

enum {
    S_INS_EVENT,
    S_PENDING,
    S_INS_JOB,
    S_REPLAY_GET,
    S_REPLAY_SET,
    /* transaction control, prepared once: sqlite3_exec parsed each of them per item (a profile
     * of the writer under load: 15 % of the engine's CPU went to parsing SAVEPOINT/RELEASE) */
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_COUNT,
};

static const char *const ingest_sql[S_COUNT] = {
    [S_INS_EVENT] = "INSERT INTO webhook_events (source, format, tenant_id, account_id, event_id, "
                    "topic, resource, resource_id, event_time, status, signature_valid, headers, "
                    "body, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12, "
                    "?13) ON CONFLICT (source, account_id, event_id) WHERE event_id IS NOT NULL "
                    "DO NOTHING RETURNING id",
    /* a pending job for the record (key K, or K#n queued while K was running) covers it: it will
     * read the record's current state when it runs. [K, K || '$') holds exactly K and K#...
     * (record ids use no byte below '$'); the status terms let SQLite use the partial index. */
    [S_PENDING] = "SELECT 1 FROM sync_queue WHERE tenant_id = ?1 AND dedupe_key IS NOT NULL AND "
                  "status IN ('pending', 'running') AND status = 'pending' AND "
                  "dedupe_key >= ?2 AND dedupe_key < ?2 || '$' LIMIT 1",
    [S_INS_JOB] = "INSERT INTO sync_queue (tenant_id, kind, entity, payload, priority, "
                  "dedupe_key, webhook_event_id) VALUES (?1, 'record', ?2, ?3, ?4, ?5, ?6) "
                  "ON CONFLICT (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND "
                  "status IN ('pending', 'running') DO NOTHING",
    [S_REPLAY_GET] = "SELECT source, format, tenant_id, account_id, topic, resource, "
                     "resource_id, body, status FROM webhook_events WHERE id = ?1 AND "
                     "(tenant_id = ?2 OR (?3 <> 0 AND tenant_id IS NULL))",
    [S_REPLAY_SET] = "UPDATE webhook_events SET replay_count = replay_count + 1, "
                     "last_replayed_at = " ENG_STORE_NOW ", tenant_id = ?2, "
                     "status = 'queued', error = NULL WHERE id = ?1 RETURNING replay_count",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT ingest_item",
    [S_RELEASE] = "RELEASE ingest_item",
    [S_ROLLBACK_TO] = "ROLLBACK TO ingest_item",
};

/* QuickBooks realms -> owners looked up in the current batch: inside its BEGIN IMMEDIATE no
 * other connection can change realm_owners, so an answer holds until the commit (cleared at each
 * batch). Bounded: a batch naming more realms looks the rest up each time. */
#define INGEST_REALM_MEMO 8

struct eng_ingest {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct eng_ingest_item *head, *tail;
    int depth;
    int stopping;
    int started;
    struct eng_store *st;
    struct eng_store_stmt *s[S_COUNT];
    int64_t window;
    struct eng_policy *policy; /* webhook routes for replays (eng_ingest_opts) */
    struct eng_webhook_tenant_secrets *secrets;
    struct eng_ingest_counters ctr;
    struct {
        char realm[ENG_WEBHOOK_ACCT_MAX + 1];
        char tenant[ENG_WEBHOOK_ID_MAX + 1];
    } memo[INGEST_REALM_MEMO];
    int nmemo;                         /* entries of memo valid in the current batch */
    struct eng_store_stmt *realm_stmt; /* eng_realm_owner_with's, on st */
    struct { /* the store-error log's rate limit (the writer thread's own) */
        long long window_start;
        int logged, recovery_logged;
        unsigned long long unreported; /* counted, not logged, not yet said by a line */
    } errlog;
};

/* ---- statements ---- */

static struct eng_store_stmt *ing_stmt(struct eng_ingest *ing, int which)
{
    struct eng_store_stmt *s = ing->s[which];
    eng_store_reset(s);
    eng_store_clear_bindings(s);
    return s;
}

/* Step a write to its end; 0 or a negative code. */
static int ing_done(struct eng_store_stmt *s, struct eng_err *err)
{
    int rc;
    while ((rc = eng_store_step(s, err)) == ENG_STORE_ROW)
        ;
    return rc;
}

/* The tenant owning QuickBooks realm into out ("" when none): its verified owner
 * (data/realm_owners.h), never merely a tenant whose stored credentials name it. */
static int ing_realm_tenant(struct eng_ingest *ing, const char *realm, char *out, size_t size,
                            struct eng_err *err)
{
    for (int i = 0; i < ing->nmemo; i++)
        if (strcmp(ing->memo[i].realm, realm) == 0) {
            snprintf(out, size, "%s", ing->memo[i].tenant);
            return 0;
        }
    int rc = eng_realm_owner_with(ing->st, &ing->realm_stmt, "quickbooks", realm, out, size, err);
    if (rc < 0)
        return rc;
    if (ing->nmemo < INGEST_REALM_MEMO && strlen(realm) < sizeof ing->memo[0].realm &&
        strlen(out) < sizeof ing->memo[0].tenant) {
        snprintf(ing->memo[ing->nmemo].realm, sizeof ing->memo[0].realm, "%s", realm);
        snprintf(ing->memo[ing->nmemo].tenant, sizeof ing->memo[0].tenant, "%s", out);
        ing->nmemo++;
    }
    return 0;
}

/* Run one prepared transaction-control statement; 0 or a negative code. */
static int ing_ctl(struct eng_ingest *ing, int which, struct eng_err *err)
{
    struct eng_store_stmt *s = ing->s[which];
    eng_store_reset(s);
    int rc = ing_done(s, err);
    eng_store_reset(s);
    return rc;
}

/* Queue one job unless a pending one covers the record. 1 queued, 0 covered, or an error. */
static int ing_job(struct eng_ingest *ing, const char *tenant, const struct eng_webhook_event *ev,
                   const struct eng_webhook_job *job, int64_t event_row, struct eng_err *err)
{
    char key[ENG_WEBHOOK_ACCT_MAX + 3 * ENG_WEBHOOK_ID_MAX + 32];
    eng_webhook_job_dedupe_key(ev, job, key, sizeof key);
    struct eng_store_stmt *s = ing_stmt(ing, S_PENDING);
    int rc = eng_store_bind_text(s, 1, tenant, strlen(tenant));
    if (rc == 0)
        rc = eng_store_bind_text(s, 2, key, strlen(key));
    if (rc == 0)
        rc = eng_store_step(s, err);
    eng_store_reset(s);
    if (rc != ENG_STORE_DONE)
        return rc == ENG_STORE_ROW ? 0 : rc;

    struct eng_buf payload;
    eng_buf_init(&payload);
    eng_webhook_job_payload(ev, job, event_row, &payload);
    if (payload.oom) {
        eng_buf_free(&payload);
        return eng_err_set(err, ENG_ENOMEM, "out of memory queueing a webhook job");
    }
    /* K taken by a running job: this change may have come after its read, so queue K#event */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt == 1) {
            size_t n = strlen(key);
            snprintf(key + n, sizeof key - n, "#%lld", (long long)event_row);
        }
        s = ing_stmt(ing, S_INS_JOB);
        rc = eng_store_bind_text(s, 1, tenant, strlen(tenant));
        if (rc == 0)
            rc = eng_store_bind_text(s, 2, job->entity, strlen(job->entity));
        if (rc == 0)
            rc = eng_store_bind_text(s, 3, payload.data, payload.len);
        if (rc == 0)
            rc = eng_store_bind_int64(s, 4, ENG_WEBHOOK_PRIORITY);
        if (rc == 0)
            rc = eng_store_bind_text(s, 5, key, strlen(key));
        if (rc == 0)
            rc = eng_store_bind_int64(s, 6, event_row);
        if (rc == 0)
            rc = ing_done(s, err);
        eng_store_reset(s);
        if (rc != 0 || eng_store_changes(ing->st) > 0)
            break;
    }
    eng_buf_free(&payload);
    if (rc != 0)
        return rc;
    return eng_store_changes(ing->st) > 0 ? 1 : 0;
}

static const char *ing_status_name(const struct eng_webhook_event *ev, const char *tenant)
{
    if (ev->status == ENG_WEBHOOK_REJECTED)
        return "rejected";
    if (ev->status == ENG_WEBHOOK_IGNORED)
        return "ignored";
    return tenant[0] == '\0' ? "unrouted" : "queued";
}

/* Write one item's events and jobs (inside the caller's savepoint). */
static int ing_apply_events(struct eng_ingest *ing, struct eng_ingest_item *it, struct eng_err *err)
{
    for (int i = 0; i < it->nevents; i++) {
        struct eng_webhook_event *ev = &it->events[i];
        char tenant[ENG_WEBHOOK_ID_MAX + 1];
        snprintf(tenant, sizeof tenant, "%s", ev->tenant);
        int rc = 0;
        if (tenant[0] == '\0' && strcmp(ev->source, "quickbooks") == 0 && ev->account[0] != '\0')
            rc = ing_realm_tenant(ing, ev->account, tenant, sizeof tenant, err);
        if (rc != 0)
            return rc;
        const char *status = ing_status_name(ev, tenant);
        struct eng_store_stmt *s = ing_stmt(ing, S_INS_EVENT);
        const char *vals[] = {ev->source,     ev->format, tenant,          ev->account,
                              ev->event_id,   ev->topic,  ev->resource,    ev->resource_id,
                              ev->event_time, status,     it->headers_json};
        /* "" is SQL NULL (no event id: no dedupe; no tenant: unrouted), except the account */
        for (int k = 0; k < 11 && rc == 0; k++)
            rc = eng_store_bind_str(
                s, k + 1, k != 3 && vals[k] != NULL && vals[k][0] == '\0' ? NULL : vals[k]);
        if (rc == 0)
            rc = eng_store_bind_blob(s, 12, ev->body != NULL ? ev->body : "", ev->body_len);
        if (rc == 0)
            rc = eng_store_bind_str(s, 13, ev->error[0] != '\0' ? ev->error : NULL);
        int64_t row = 0; /* the new row's id; none: a duplicate (DO NOTHING) */
        if (rc == 0 && (rc = eng_store_step(s, err)) == ENG_STORE_ROW) {
            row = eng_store_column_int64(s, 0);
            rc = ing_done(s, err);
        }
        eng_store_reset(s);
        if (rc < 0)
            return rc;
        rc = 0;
        if (row == 0) {
            it->duplicates++;
            continue;
        }
        it->stored++;
        if (ev->status == ENG_WEBHOOK_REJECTED) {
            it->rejected++;
            it->stale += ev->stale;
        } else if (ev->status == ENG_WEBHOOK_IGNORED) {
            it->ignored++;
        } else if (tenant[0] == '\0') {
            it->unrouted++;
        } else {
            for (int j = 0; j < ev->njobs; j++) {
                rc = ing_job(ing, tenant, ev, &ev->jobs[j], row, err);
                if (rc < 0)
                    return rc;
                it->jobs += rc;
            }
        }
    }
    return 0;
}

static void ing_col_copy(struct eng_store_stmt *s, int col, char *out, size_t size)
{
    size_t n;
    const char *t = eng_store_column_text(s, col, &n);
    out[0] = '\0';
    if (t != NULL && n < size)
        memcpy(out, t, n + 1);
}

/* Queue the jobs of a stored event again. */
static int ing_apply_replay(struct eng_ingest *ing, struct eng_ingest_item *it, struct eng_err *err)
{
    struct eng_store_stmt *s = ing_stmt(ing, S_REPLAY_GET);
    int rc = eng_store_bind_int64(s, 1, it->replay_id);
    if (rc == 0)
        rc = eng_store_bind_text(s, 2, it->replay_tenant, strlen(it->replay_tenant));
    if (rc == 0)
        rc = eng_store_bind_int64(s, 3, it->replay_admin ? 1 : 0);
    if (rc == 0)
        rc = eng_store_step(s, err);
    if (rc != ENG_STORE_ROW) {
        eng_store_reset(s);
        return rc == ENG_STORE_DONE ? ENG_ENOTFOUND : rc;
    }
    struct eng_webhook_event ev;
    memset(&ev, 0, sizeof ev);
    char source[16], format[32], status[16];
    ing_col_copy(s, 0, source, sizeof source);
    ing_col_copy(s, 1, format, sizeof format);
    ev.source = strcmp(source, "quickbooks") == 0 ? "quickbooks" : "woocommerce";
    ev.format = format;
    ing_col_copy(s, 2, ev.tenant, sizeof ev.tenant);
    ing_col_copy(s, 3, ev.account, sizeof ev.account);
    ing_col_copy(s, 4, ev.topic, sizeof ev.topic);
    ing_col_copy(s, 5, ev.resource, sizeof ev.resource);
    ing_col_copy(s, 6, ev.resource_id, sizeof ev.resource_id);
    ing_col_copy(s, 8, status, sizeof status);
    size_t blen = 0;
    const void *b = eng_store_column_blob(s, 7, &blen);
    char *body = malloc(blen + 1);
    if (body != NULL && blen > 0)
        memcpy(body, b, blen);
    eng_store_reset(s);
    if (body == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory replaying an event");
    ev.body = body;
    ev.body_len = blen;

    struct eng_policy_routes routes; /* as the woocommerce connector routes them now */
    eng_policy_webhook_routes(ing->policy, "woocommerce", &routes);
    rc = eng_webhook_jobs_again(&ev, &routes);
    if (rc == ENG_ENOMEM) {
        free(body);
        return eng_err_set(err, ENG_ENOMEM, "out of memory replaying an event");
    }
    if (rc != 0 || ev.njobs == 0) {
        snprintf(it->error, sizeof it->error,
                 "event %lld has nothing to sync (status %s: malformed, or a topic without a "
                 "flow)",
                 (long long)it->replay_id, status);
        free(ev.jobs);
        free(body);
        return ENG_EINVAL;
    }
    rc = 0;
    if (ev.tenant[0] == '\0' && strcmp(ev.source, "quickbooks") == 0)
        rc = ing_realm_tenant(ing, ev.account, ev.tenant, sizeof ev.tenant, err);
    if (rc == 0 && ev.tenant[0] == '\0') {
        snprintf(it->error, sizeof it->error,
                 "no tenant has proven QuickBooks realm %.40s yet: connect it (OAuth) or pass "
                 "the connection test, then replay",
                 ev.account);
        rc = ENG_EINVAL;
    }
    for (int j = 0; j < ev.njobs && rc == 0; j++) {
        int q = ing_job(ing, ev.tenant, &ev, &ev.jobs[j], it->replay_id, err);
        if (q < 0)
            rc = q;
        else
            it->jobs += q;
    }
    if (rc == 0) {
        s = ing_stmt(ing, S_REPLAY_SET);
        rc = eng_store_bind_int64(s, 1, it->replay_id);
        if (rc == 0)
            rc = eng_store_bind_text(s, 2, ev.tenant, strlen(ev.tenant));
        if (rc == 0 && (rc = eng_store_step(s, err)) == ENG_STORE_ROW) {
            it->replay_count = eng_store_column_int64(s, 0);
            rc = 0;
        }
        eng_store_reset(s);
    }
    free(ev.jobs);
    free(body);
    return rc;
}

/* ---- the writer ---- */

static void ing_reset_counts(struct eng_ingest_item *it)
{
    it->stored = it->duplicates = it->unrouted = it->ignored = it->rejected = it->stale = it->jobs =
        0;
}

/* Log a store error of the writer, at most INGEST_LOG_BURST a minute; the rest are counted
 * (metrics tallysync_webhook_commit_failures_total and _item_failures_total) and their number
 * is said by the next line logged, or once commits succeed again. */
static void ing_errlog_window(struct eng_ingest *ing)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec;
    if (ing->errlog.window_start == 0 || now - ing->errlog.window_start >= INGEST_LOG_WINDOW_S) {
        ing->errlog.window_start = now;
        ing->errlog.logged = 0;
        ing->errlog.recovery_logged = 0;
    }
}

static void ing_log_store_error(struct eng_ingest *ing, int whole_batch, int n, const char *why)
{
    ing_errlog_window(ing);
    if (ing->errlog.logged >= INGEST_LOG_BURST) {
        ing->errlog.unreported++;
        return;
    }
    char msg[1200];
    if (whole_batch)
        snprintf(msg, sizeof msg, "webhook ingest: a batch of %d could not be committed: %.1000s",
                 n, why);
    else
        snprintf(msg, sizeof msg, "webhook ingest: an item of a batch of %d failed: %.1000s", n,
                 why);
    if (ing->errlog.unreported > 0)
        eng_logf(ENG_LOG_ERROR, "%s (%llu like it not logged before)", msg, ing->errlog.unreported);
    else
        eng_logf(ENG_LOG_ERROR, "%s", msg);
    ing->errlog.unreported = 0;
    if (++ing->errlog.logged == INGEST_LOG_BURST)
        eng_logf(ENG_LOG_ERROR,
                 "webhook ingest: %d store errors logged this minute; the rest are counted, not "
                 "logged (metrics tallysync_webhook_commit_failures_total, "
                 "tallysync_webhook_item_failures_total)",
                 INGEST_LOG_BURST);
}

static void ing_commit_batch(struct eng_ingest *ing, struct eng_ingest_item *batch, int n)
{
    struct eng_err err = {0};
    ing->nmemo = 0; /* the memo holds within one transaction only */
    int rc = ing_ctl(ing, S_BEGIN, &err);
    if (rc == 0) {
        for (struct eng_ingest_item *it = batch; it != NULL; it = it->next) {
            struct eng_err ierr = {0};
            ing_reset_counts(it);
            it->rc = ing_ctl(ing, S_SAVEPOINT, &ierr);
            if (it->rc == 0)
                it->rc = it->kind == ENG_INGEST_REPLAY ? ing_apply_replay(ing, it, &ierr)
                                                       : ing_apply_events(ing, it, &ierr);
            if (it->rc != 0) {
                if (it->rc != ENG_ENOTFOUND && it->rc != ENG_EINVAL) {
                    atomic_fetch_add(&ing->ctr.item_failures, 1);
                    ing_log_store_error(ing, 0, n, ierr.msg);
                }
                ing_ctl(ing, S_ROLLBACK_TO, NULL);
                ing_reset_counts(it);
            }
            ing_ctl(ing, S_RELEASE, NULL);
        }
        rc = ing_ctl(ing, S_COMMIT, &err);
        if (rc != 0)
            ing_ctl(ing, S_ROLLBACK, NULL);
    }
    ing->nmemo = 0;
    if (rc != 0) {
        atomic_fetch_add(&ing->ctr.commit_failures, 1);
        ing_log_store_error(ing, 1, n, err.msg);
    } else if (ing->errlog.unreported > 0) {
        ing_errlog_window(ing);
        if (!ing->errlog.recovery_logged) { /* once a minute at most: a disk that fails every
                                             * other commit writes no line each */
            ing->errlog.recovery_logged = 1;
            eng_logf(ENG_LOG_INFO,
                     "webhook ingest: commits succeed again (%llu store errors were counted, not "
                     "logged)",
                     ing->errlog.unreported);
            ing->errlog.unreported = 0;
        }
    }
    atomic_fetch_add(&ing->ctr.batches, 1);
    atomic_fetch_add(&ing->ctr.batch_items, (unsigned long long)n);
    struct eng_ingest_item *it = batch;
    while (it != NULL) {
        struct eng_ingest_item *next = it->next; /* done() may free it */
        if (rc != 0) {
            it->rc = rc == ENG_EBUSY ? ENG_EBUSY : ENG_EIO;
            ing_reset_counts(it);
        } else if (it->kind == ENG_INGEST_EVENTS && it->rc == 0) {
            atomic_fetch_add(&ing->ctr.events_stored, (unsigned long long)it->stored);
            atomic_fetch_add(&ing->ctr.duplicates, (unsigned long long)it->duplicates);
            atomic_fetch_add(&ing->ctr.rejected, (unsigned long long)it->rejected);
            atomic_fetch_add(&ing->ctr.stale, (unsigned long long)it->stale);
            atomic_fetch_add(&ing->ctr.unrouted, (unsigned long long)it->unrouted);
        }
        it->next = NULL;
        it->done(it);
        it = next;
    }
}

static void *ing_main(void *arg)
{
    struct eng_ingest *ing = arg;
    for (;;) {
        pthread_mutex_lock(&ing->mu);
        while (ing->head == NULL && !ing->stopping)
            pthread_cond_wait(&ing->cv, &ing->mu);
        if (ing->head == NULL) {
            pthread_mutex_unlock(&ing->mu);
            break;
        }
        struct eng_ingest_item *batch = ing->head, *last = batch;
        int n = 1;
        while (last->next != NULL && n < INGEST_BATCH)
            last = last->next, n++;
        ing->head = last->next;
        if (ing->head == NULL)
            ing->tail = NULL;
        last->next = NULL;
        ing->depth -= n;
        pthread_mutex_unlock(&ing->mu);
        ing_commit_batch(ing, batch, n);
    }
    return NULL;
}

/* After downtime: one catch-up job per tenant and platform that was receiving webhooks, so
 * whatever changed while the engine was down (WooCommerce never re-sends a missed delivery) is
 * read again. kind 'sweep', payload {"source", "reason":"startup", "since": newest received_at},
 * not queued while one is pending or running. The orchestrator runs it as an incremental read
 * from since (minus its overlap). */
static int ing_queue_sweeps(struct eng_store *st, struct eng_err *err)
{
    return eng_queue_sweep_startup(st, err);
}

int eng_ingest_start(const char *database_url, const struct eng_ingest_opts *o,
                     struct eng_ingest **out, struct eng_err *err)
{
    *out = NULL;
    struct eng_ingest *ing = calloc(1, sizeof *ing);
    if (ing == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory starting webhook ingest");
    pthread_mutex_init(&ing->mu, NULL);
    pthread_cond_init(&ing->cv, NULL);
    ing->window = o->window_s;
    ing->policy = o->policy;
    ing->secrets = eng_webhook_tenant_secrets_new(database_url);
    int rc =
        ing->secrets != NULL ? 0 : eng_err_set(err, ENG_ENOMEM, "out of memory starting ingest");
    if (rc == 0)
        rc = eng_store_open(database_url, &ing->st, err);
    /* An acknowledged delivery is never sent again (WooCommerce does not retry): make the
     * commit durable against power loss too, not only a crash. Group commit pays for it. */
    if (rc == 0)
        rc = eng_store_exec(
            ing->st, o->sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
            err);
    for (int i = 0; i < S_COUNT && rc == 0; i++)
        rc = eng_store_prepare(ing->st, ingest_sql[i], -1, ENG_STORE_TRUSTED, &ing->s[i], err);
    if (rc == 0)
        rc = ing_queue_sweeps(ing->st, err);
    if (rc == 0 && pthread_create(&ing->thread, NULL, ing_main, ing) != 0)
        rc = eng_err_set(err, ENG_EIO, "cannot start the webhook ingest thread");
    if (rc != 0) {
        eng_ingest_stop(ing);
        return rc;
    }
    ing->started = 1;
    *out = ing;
    return 0;
}

void eng_ingest_stop(struct eng_ingest *ing)
{
    if (ing == NULL)
        return;
    if (ing->started) {
        pthread_mutex_lock(&ing->mu);
        ing->stopping = 1;
        pthread_cond_broadcast(&ing->cv);
        pthread_mutex_unlock(&ing->mu);
        pthread_join(ing->thread, NULL);
    }
    for (int i = 0; i < S_COUNT; i++)
        eng_store_finalize(ing->s[i]);
    eng_store_finalize(ing->realm_stmt);
    eng_store_close(ing->st);
    eng_webhook_tenant_secrets_free(ing->secrets);
    pthread_cond_destroy(&ing->cv);
    pthread_mutex_destroy(&ing->mu);
    free(ing);
}

int eng_ingest_submit(struct eng_ingest *ing, struct eng_ingest_item *it)
{
    int rc = 0;
    it->next = NULL;
    pthread_mutex_lock(&ing->mu);
    if (ing->stopping)
        rc = ENG_EINVAL;
    else if (ing->depth >= INGEST_QUEUE_MAX)
        rc = ENG_EBUSY;
    if (rc == 0) {
        if (ing->tail != NULL)
            ing->tail->next = it;
        else
            ing->head = it;
        ing->tail = it;
        ing->depth++;
        pthread_cond_signal(&ing->cv);
    }
    pthread_mutex_unlock(&ing->mu);
    if (rc == ENG_EBUSY)
        atomic_fetch_add(&ing->ctr.overloaded, 1);
    return rc;
}

int64_t eng_ingest_window(const struct eng_ingest *ing)
{
    return ing->window;
}

struct eng_webhook_tenant_secrets *eng_ingest_secrets(struct eng_ingest *ing)
{
    return ing->secrets;
}

struct eng_ingest_counters *eng_ingest_counters(struct eng_ingest *ing)
{
    return &ing->ctr;
}

void eng_ingest_metrics(struct eng_ingest *ing, struct eng_buf *b)
{
    if (ing == NULL)
        return;
    struct eng_ingest_counters *c = &ing->ctr;
    pthread_mutex_lock(&ing->mu);
    int depth = ing->depth;
    pthread_mutex_unlock(&ing->mu);
    eng_buf_printf(
        b,
        "# HELP tallysync_webhook_refused_total Webhook deliveries refused (401: bad or missing "
        "signature, unknown tenant), by source.\n# TYPE tallysync_webhook_refused_total counter\n"
        "tallysync_webhook_refused_total{source=\"woocommerce\"} %llu\n"
        "tallysync_webhook_refused_total{source=\"quickbooks\"} %llu\n"
        "# HELP tallysync_webhook_pings_total WooCommerce activation pings answered.\n"
        "# TYPE tallysync_webhook_pings_total counter\ntallysync_webhook_pings_total %llu\n"
        "# HELP tallysync_webhook_ingested_total Verified webhook events by outcome.\n"
        "# TYPE tallysync_webhook_ingested_total counter\n"
        "tallysync_webhook_ingested_total{outcome=\"stored\"} %llu\n"
        "tallysync_webhook_ingested_total{outcome=\"duplicate\"} %llu\n"
        "tallysync_webhook_ingested_total{outcome=\"rejected\"} %llu\n"
        "tallysync_webhook_ingested_total{outcome=\"stale\"} %llu\n"
        "tallysync_webhook_ingested_total{outcome=\"unrouted\"} %llu\n"
        "# HELP tallysync_webhook_commits_total Group commits of the ingest writer and the "
        "deliveries they carried.\n# TYPE tallysync_webhook_commits_total counter\n"
        "tallysync_webhook_commits_total %llu\ntallysync_webhook_commit_items_total %llu\n"
        "tallysync_webhook_commit_failures_total %llu\n"
        "# HELP tallysync_webhook_item_failures_total Items of a batch the store refused (the "
        "batch's others kept).\n# TYPE tallysync_webhook_item_failures_total counter\n"
        "tallysync_webhook_item_failures_total %llu\n"
        "# HELP tallysync_webhook_overloaded_total Deliveries answered 503 (ingest queue full).\n"
        "# TYPE tallysync_webhook_overloaded_total counter\n"
        "tallysync_webhook_overloaded_total %llu\n"
        "# HELP tallysync_webhook_ingest_queue Deliveries waiting for the ingest writer.\n"
        "# TYPE tallysync_webhook_ingest_queue gauge\ntallysync_webhook_ingest_queue %d\n",
        atomic_load(&c->refused_woo), atomic_load(&c->refused_qbo), atomic_load(&c->pings),
        atomic_load(&c->events_stored), atomic_load(&c->duplicates), atomic_load(&c->rejected),
        atomic_load(&c->stale), atomic_load(&c->unrouted), atomic_load(&c->batches),
        atomic_load(&c->batch_items), atomic_load(&c->commit_failures),
        atomic_load(&c->item_failures), atomic_load(&c->overloaded), depth);
}
