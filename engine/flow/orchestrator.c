/*
 * orchestrator.c - the dispatcher: one thread that claims due jobs from the durable queue
 * (engine/data/queue.h) and submits each to the worker pool, never more than `slots` at once, so
 * HTTP threads never wait on a run. Each claim has its own lease owner, so a worker that lost its
 * lease can tell. The worker applies the job's outcome (complete, back off, dead, give back); an
 * outcome the store refused (disk full, read-only) is kept, one per job, and written again from
 * the dispatcher's tick, so a brief store fault never leaves a job to wait out its lease. Owns:
 * the thread, its store connection, the in-flight count, the kept outcomes. Must not: run Lua,
 * or let a task outlive eng_orchestrator_stop (eng_orchestrator_stop_within leaves the
 * dispatcher's memory to a task still stuck at its deadline, which frees it if it ever comes
 * back).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "flow/sync.h"
#include "flow/worker.h"

#define ORCH_IDLE_MS  500   /* poll when nothing is due (due times pass without a notify) */
#define ORCH_SCHED_MS 1000  /* schedules are checked about once a second */
#define ORCH_RETRY_MS 15000 /* failures due for an automatic retry, about every 15 s */
/* A job's end that the store refused (disk full, read-only) is kept and recorded again from the
 * dispatcher's tick: after 250 ms, doubling to 5 s, at most ORCH_UNRECORDED_MAX jobs (one entry
 * per job). A job past that bound keeps its lease until it expires or the engine restarts. */
#define ORCH_UNRECORDED_MAX      256
#define ORCH_UNRECORDED_FIRST_MS 250
#define ORCH_UNRECORDED_CAP_MS   5000

/* Due schedules become runs, due failures become retry jobs (on the dispatcher's thread); a
 * worker newly stuck is logged (the watchdog, flow/worker.h). */
static void orch_housekeeping(struct eng_store *st, struct eng_workers *w, long long *last_sched,
                              long long *last_retry)
{
    struct eng_err err = {0};
    long long now = eng_now_ms();
    if (now - *last_sched >= ORCH_SCHED_MS) {
        *last_sched = now;
        eng_workers_check(w);
        int started = 1;
        for (int i = 0; i < 20 && started; i++)
            if (eng_scheduler_tick(st, &started, &err) != 0) {
                eng_logf(ENG_LOG_WARN, "sync: the schedules could not be checked: %s", err.msg);
                break;
            }
    }
    if (now - *last_retry >= ORCH_RETRY_MS) {
        *last_retry = now;
        int queued = 0;
        if (eng_sync_retry_due(st, &queued, &err) != 0)
            eng_logf(ENG_LOG_WARN, "sync: due retries could not be queued: %s", err.msg);
    }
}

/* The end of a job, as the worker decided it: what job_record writes to the queue. */
struct job_end {
    struct job_end *next; /* the dispatcher's list of ends not yet recorded */
    int64_t id;
    char owner[64];
    enum eng_sync_outcome out;
    char error[512];
    char run_id[ENG_SYNC_ID_SIZE]; /* "" when the job is not a run's */
    int run_error_shown;           /* the run shows the error it is retrying after */
    int tries;
    long long due_ms, delay_ms;
};

struct eng_orch {
    struct eng_sync_env env;
    atomic_int stopping;
    struct eng_workers *w;
    int slots, inflight;
    int bulk_max, bulk_inflight; /* bulk runs never take every slot: records keep a lane */
    int wake;
    unsigned long long seq;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started;
    int abandoned;              /* the stopper gave up waiting: the last job out frees o */
    struct job_end *unrecorded; /* under mu; at most ORCH_UNRECORDED_MAX */
    int n_unrecorded;
};

struct job_task {
    struct eng_task task; /* first: the pool hands this pointer back */
    struct eng_orch *o;
    struct eng_job job;
    char owner[64];
    char what[96]; /* what the worker's heartbeat names */
    int bulk;
};

/* A job queued by a webhook delivery settles that delivery's audit row: processed when the job
 * is done, failed when it is dead. A failure here costs the audit status only. */
static void job_settle_event(struct eng_store *st, long long job_id, const char *status)
{
    static const char sql[] = "UPDATE webhook_events SET status = ?2, processed_at = " ENG_STORE_NOW
                              " WHERE id = (SELECT webhook_event_id FROM sync_queue WHERE id = ?1) "
                              "AND status IN ('received', 'queued')";
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, &err);
    if (rc == 0)
        rc = eng_store_bind_int64(s, 1, job_id);
    if (rc == 0)
        rc = eng_store_bind_str(s, 2, status);
    if (rc == 0)
        rc = eng_store_step(s, &err);
    eng_store_finalize(s);
    if (rc < 0)
        eng_logf(ENG_LOG_WARN, "sync: cannot mark the webhook event of job %lld %s: %s", job_id,
                 status, err.msg);
}

/* A run whose job backs off shows why on its status ("retrying after: ..."; the run's end
 * replaces it). 0 when written (or the run is over), < 0 when the store refused it too. */
static int job_show_run_error(struct eng_store *st, const struct job_end *e)
{
    static const char sql[] =
        "UPDATE sync_runs SET error = 'retrying after: ' || ?2, updated_at = " ENG_STORE_NOW
        " WHERE id = ?1 AND state IN ('queued', 'running')";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL);
    if (rc == 0)
        rc = eng_store_bind_str(s, 1, e->run_id);
    if (rc == 0)
        rc = eng_store_bind_str(s, 2, e->error);
    if (rc == 0)
        rc = eng_store_step(s, NULL);
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

/* Write the end of a job to the queue. 0, ENG_ENOTFOUND (the lease is gone: another worker has
 * the job, or the job was removed) or another negative code (the store refused the write). */
static int job_record(struct eng_store *st, const struct job_end *e, int *dead,
                      struct eng_err *qerr)
{
    *dead = 0;
    switch (e->out) {
    case ENG_SYNC_DONE:
        return eng_queue_complete(st, e->id, e->owner, qerr);
    case ENG_SYNC_RETRY:
    case ENG_SYNC_FATAL:
        return eng_queue_fail(st, e->id, e->owner, e->error, e->out == ENG_SYNC_RETRY, dead, qerr);
    case ENG_SYNC_GIVE_BACK:
        return eng_queue_release(st, e->id, e->owner, 0, qerr);
    case ENG_SYNC_LOST:
        break;
    }
    return 0;
}

/* After a job's end is recorded: its webhook delivery's audit row settles. */
static void job_recorded(struct eng_store *st, const struct job_end *e, int dead)
{
    if (e->out == ENG_SYNC_DONE || dead)
        job_settle_event(st, (long long)e->id, dead ? "failed" : "processed");
}

/* Keep an end the store refused for the dispatcher to record again; one entry per job. */
static void job_keep_unrecorded(struct eng_orch *o, const struct job_end *e)
{
    struct job_end *copy = malloc(sizeof *copy);
    int kept = 0;
    pthread_mutex_lock(&o->mu);
    /* a newer end of the same job (its lease expired and it ran again) replaces the older one */
    for (struct job_end **pp = &o->unrecorded; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->id == e->id) {
            struct job_end *old = *pp;
            *pp = old->next;
            free(old);
            o->n_unrecorded--;
            break;
        }
    if (copy != NULL && o->n_unrecorded < ORCH_UNRECORDED_MAX) {
        *copy = *e;
        copy->tries = 1;
        copy->delay_ms = ORCH_UNRECORDED_FIRST_MS;
        copy->due_ms = eng_now_ms() + copy->delay_ms;
        copy->next = o->unrecorded;
        o->unrecorded = copy;
        o->n_unrecorded++;
        kept = 1;
    }
    pthread_mutex_unlock(&o->mu);
    if (!kept) {
        free(copy);
        eng_logf(ENG_LOG_ERROR,
                 "sync: too many job ends wait for the store; job %lld keeps its lease until it "
                 "expires or the engine restarts",
                 (long long)e->id);
    }
}

static void job_task_run(struct eng_task *t, struct eng_vm *vm)
{
    struct job_task *jt = (struct job_task *)t;
    struct eng_orch *o = jt->o;
    struct eng_err err = {0};
    struct eng_store *st = eng_store_thread(o->env.cfg->database_url, &err);
    if (st == NULL) {
        eng_logf(ENG_LOG_ERROR, "sync: a worker cannot open the store: %s", err.msg);
        return; /* the lease expires and the job is taken again */
    }
    struct job_end e = {.id = jt->job.id, .out = ENG_SYNC_GIVE_BACK};
    snprintf(e.owner, sizeof e.owner, "%s", jt->owner);
    if (vm != NULL && !atomic_load(&o->stopping))
        e.out = eng_sync_execute(vm, st, &o->env, &jt->job, jt->owner, &err);
    snprintf(e.error, sizeof e.error, "%.500s", err.msg);
    if (jt->job.run_id != NULL && jt->job.kind != NULL && strcmp(jt->job.kind, "run") == 0)
        snprintf(e.run_id, sizeof e.run_id, "%s", jt->job.run_id);
    struct eng_err qerr = {0};
    int dead = 0;
    int rc = job_record(st, &e, &dead, &qerr);
    if (e.out == ENG_SYNC_RETRY || e.out == ENG_SYNC_FATAL)
        eng_log_kv(dead ? ENG_LOG_ERROR : ENG_LOG_WARN, jt->job.tenant, jt->job.run_id,
                   dead ? "sync job dead" : "sync job will be retried",
                   (const char *const[]){"kind", jt->job.kind, "error", err.msg, NULL});
    if (rc == 0) {
        job_recorded(st, &e, dead);
    } else if (rc != ENG_ENOTFOUND) {
        /* the store refused the write (disk full, read-only): the dispatcher records it once
         * the store takes writes again, rather than the job waiting out its lease */
        eng_logf(ENG_LOG_ERROR,
                 "sync: cannot record the end of job %lld yet: %s; tried again until the store "
                 "can be written",
                 (long long)jt->job.id, qerr.msg);
        job_keep_unrecorded(o, &e);
    }
}

/* On the dispatcher's thread: record the ends that are due again. The due ones leave the list
 * under mu (workers add to it meanwhile), each store call happens outside it, and an end the
 * store still refuses goes back with a longer delay. */
static void orch_record_unrecorded(struct eng_orch *o, struct eng_store *st, int all)
{
    long long now = all ? LLONG_MAX : eng_now_ms();
    pthread_mutex_lock(&o->mu);
    struct job_end *due = NULL, **pp = &o->unrecorded;
    while (*pp != NULL) {
        struct job_end *e = *pp;
        if (e->due_ms <= now) {
            *pp = e->next;
            o->n_unrecorded--;
            e->next = due;
            due = e;
        } else {
            pp = &e->next;
        }
    }
    pthread_mutex_unlock(&o->mu);
    while (due != NULL) {
        struct job_end *e = due;
        due = e->next;
        if (e->out == ENG_SYNC_RETRY && e->run_id[0] != '\0' && !e->run_error_shown)
            e->run_error_shown = job_show_run_error(st, e) == 0;
        struct eng_err qerr = {0};
        int dead = 0;
        int rc = job_record(st, e, &dead, &qerr);
        if (rc == 0 || rc == ENG_ENOTFOUND) {
            if (rc == 0) {
                job_recorded(st, e, dead);
                eng_logf(ENG_LOG_INFO, "sync: the end of job %lld is recorded (attempt %d)",
                         (long long)e->id, e->tries + 1);
            } else {
                eng_logf(ENG_LOG_INFO,
                         "sync: the end of job %lld is not recorded: its lease is gone (the job "
                         "runs again)",
                         (long long)e->id);
            }
            free(e);
            continue;
        }
        e->tries++;
        e->delay_ms =
            e->delay_ms * 2 > ORCH_UNRECORDED_CAP_MS ? ORCH_UNRECORDED_CAP_MS : e->delay_ms * 2;
        e->due_ms = eng_now_ms() + e->delay_ms;
        pthread_mutex_lock(&o->mu);
        e->next = o->unrecorded;
        o->unrecorded = e;
        o->n_unrecorded++;
        pthread_mutex_unlock(&o->mu);
    }
}

static void orch_free(struct eng_orch *o)
{
    while (o->unrecorded != NULL) { /* the next start recovers these jobs (eng_sync_recover) */
        struct job_end *e = o->unrecorded;
        o->unrecorded = e->next;
        free(e);
    }
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    free(o);
}

static void job_task_done(struct eng_task *t)
{
    struct job_task *jt = (struct job_task *)t;
    struct eng_orch *o = jt->o;
    int bulk = jt->bulk;
    eng_queue_job_clear(&jt->job);
    free(jt);
    pthread_mutex_lock(&o->mu);
    o->inflight--;
    o->bulk_inflight -= bulk;
    o->wake = 1; /* a slot is free: claim again at once */
    pthread_cond_broadcast(&o->cv);
    int last = o->abandoned && o->inflight == 0;
    pthread_mutex_unlock(&o->mu);
    if (last) /* the stopper is gone: this job was the dispatcher's last user */
        orch_free(o);
}

static void orch_wait(struct eng_orch *o, long long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&o->mu);
    while (!o->wake && !atomic_load(&o->stopping)) {
        if (pthread_cond_timedwait(&o->cv, &o->mu, &ts) != 0)
            break;
    }
    o->wake = 0;
    pthread_mutex_unlock(&o->mu);
}

static void *orch_main(void *arg)
{
    struct eng_orch *o = arg;
    struct eng_err err = {0};
    struct eng_store *st = NULL;
    while (!atomic_load(&o->stopping) && st == NULL) {
        if (eng_store_open(o->env.cfg->database_url, &st, &err) != 0) {
            eng_logf(ENG_LOG_ERROR, "sync: the dispatcher cannot open the store: %s", err.msg);
            orch_wait(o, 2000);
        }
    }
    long long last_sched = 0, last_retry = eng_now_ms();
    while (!atomic_load(&o->stopping)) {
        if (st != NULL) {
            orch_record_unrecorded(o, st, 0);
            orch_housekeeping(st, o->w, &last_sched, &last_retry);
        }
        pthread_mutex_lock(&o->mu);
        int full = o->inflight >= o->slots;
        int min_priority = o->bulk_inflight >= o->bulk_max ? ENG_QUEUE_LANE_BULK + 1 : INT_MIN;
        pthread_mutex_unlock(&o->mu);
        if (full) {
            orch_wait(o, ORCH_IDLE_MS);
            continue;
        }
        struct job_task *jt = calloc(1, sizeof *jt);
        if (jt == NULL) {
            orch_wait(o, ORCH_IDLE_MS);
            continue;
        }
        snprintf(jt->owner, sizeof jt->owner, "engine-%ld-%llu", (long)getpid(), ++o->seq);
        int rc =
            eng_queue_claim_min(st, jt->owner, ENG_SYNC_LEASE_MS, min_priority, &jt->job, &err);
        if (rc <= 0) {
            if (rc < 0)
                eng_logf(ENG_LOG_WARN, "sync: claiming a job failed: %s", err.msg);
            free(jt);
            orch_wait(o, ORCH_IDLE_MS);
            continue;
        }
        jt->o = o;
        jt->bulk = jt->job.priority <= ENG_QUEUE_LANE_BULK;
        jt->task.run = job_task_run;
        jt->task.done = job_task_done;
        snprintf(jt->what, sizeof jt->what, "sync job %lld (%s%s%.40s)", (long long)jt->job.id,
                 jt->job.kind != NULL ? jt->job.kind : "job", jt->job.entity != NULL ? " " : "",
                 jt->job.entity != NULL ? jt->job.entity : "");
        jt->task.what = jt->what;
        pthread_mutex_lock(&o->mu);
        o->inflight++;
        o->bulk_inflight += jt->bulk;
        pthread_mutex_unlock(&o->mu);
        if (eng_workers_submit(o->w, &jt->task) != 0) {
            int bulk = jt->bulk;
            eng_queue_release(st, jt->job.id, jt->owner, 1000, NULL);
            eng_queue_job_clear(&jt->job);
            free(jt);
            pthread_mutex_lock(&o->mu);
            o->inflight--;
            o->bulk_inflight -= bulk;
            pthread_mutex_unlock(&o->mu);
            orch_wait(o, ORCH_IDLE_MS);
        }
    }
    if (st != NULL) /* a last try; what is left the next start recovers */
        orch_record_unrecorded(o, st, 1);
    eng_store_close(st);
    return NULL;
}

struct eng_orch *eng_orchestrator_start(const struct eng_sync_env *env, struct eng_workers *w,
                                        int slots, struct eng_err *err)
{
    struct eng_store *st = NULL;
    int jobs = 0;
    if (eng_store_open(env->cfg->database_url, &st, err) != 0)
        return NULL;
    int rc = eng_sync_recover(st, &jobs, err);
    eng_store_close(st);
    if (rc != 0)
        return NULL;
    if (jobs > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", jobs);
        eng_log_kv(ENG_LOG_INFO, NULL, NULL, "sync jobs interrupted by a stop resume",
                   (const char *const[]){"jobs", n, NULL});
    }
    struct eng_orch *o = calloc(1, sizeof *o);
    if (o == NULL) {
        eng_err_set(err, ENG_ENOMEM, "out of memory starting the dispatcher");
        return NULL;
    }
    o->env = *env;
    o->env.stopping = &o->stopping;
    o->w = w;
    o->slots = slots > 0 ? slots : 1;
    o->bulk_max = o->slots > 1 ? o->slots - 1 : 1;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    if (pthread_create(&o->th, NULL, orch_main, o) != 0) {
        pthread_cond_destroy(&o->cv);
        pthread_mutex_destroy(&o->mu);
        free(o);
        eng_err_set(err, ENG_EIO, "cannot start the dispatcher thread");
        return NULL;
    }
    o->started = 1;
    return o;
}

void eng_orchestrator_notify(struct eng_orch *o)
{
    if (o == NULL)
        return;
    pthread_mutex_lock(&o->mu);
    o->wake = 1;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

int eng_orchestrator_stop_within(struct eng_orch *o, long long grace_ms)
{
    if (o == NULL)
        return 0;
    atomic_store(&o->stopping, 1);
    eng_orchestrator_notify(o);
    if (o->started)
        pthread_join(o->th, NULL);
    /* jobs in flight see `stopping` between pages and give their work back; one stuck in a
     * call is left to the worker watchdog (its job is recovered at the next start) */
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    if (grace_ms > 0) {
        at.tv_sec += (time_t)(grace_ms / 1000);
        at.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&o->mu);
    while (o->inflight > 0) {
        if (grace_ms < 0)
            pthread_cond_wait(&o->cv, &o->mu);
        else if (pthread_cond_timedwait(&o->cv, &o->mu, &at) == ETIMEDOUT)
            break;
    }
    int left = o->inflight;
    if (left > 0)
        o->abandoned = 1;
    pthread_mutex_unlock(&o->mu);
    if (left == 0)
        orch_free(o);
    return left;
}

void eng_orchestrator_stop(struct eng_orch *o)
{
    (void)eng_orchestrator_stop_within(o, -1);
}
