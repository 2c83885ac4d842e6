/*
 * worker.c - the worker pool (see worker.h). Owns the threads, the queue, each thread's VM and
 * each worker's heartbeat. A VM is created, used, replaced and closed on its own thread only;
 * other threads read the heartbeats (under the pool's mutex) and never touch a VM.
 */
#include "flow/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "lua/scripts.h"
#include "lua/vm.h"

#define WORKERS_MAX_QUEUE 4096

struct eng_workers;

/* One worker's heartbeat and counters, guarded by the pool's mutex. */
struct slot {
    struct eng_workers *w;
    int index;              /* 1-based */
    long long beat_ms;      /* monotonic ms of the heartbeat; 0 = idle */
    long long beat_wall_ms; /* the same instant on the wall clock */
    int stuck_logged;       /* this stuck episode was logged */
    int overran;            /* the current task overran the threshold: replace the VM after it */
    unsigned long long tasks, replaced;
    char what[96];
    char tenant[65];
};

struct eng_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* a task was queued, or stopping */
    pthread_cond_t exit_cv; /* a thread left worker_main (CLOCK_MONOTONIC) */
    struct eng_task *head, *tail;
    int queued;
    int stopping;
    int abandoned; /* the stopper gave up waiting: the last thread out frees the pool */
    int live;      /* threads inside worker_main */
    int n;
    pthread_t *threads;
    struct slot *slots;
    atomic_llong stuck_ms;
    struct eng_vm_opts vmopts;
    struct eng_workers_scripts scripts;
};

/* The worker this thread is (NULL off the pool): eng_workers_beat's target. */
static _Thread_local struct slot *tl_slot;

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "2026-12-07T06:30:00Z" for a wall-clock ms. */
static void iso_time(long long ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void pool_free(struct eng_workers *w)
{
    pthread_cond_destroy(&w->exit_cv);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->slots);
    free(w->threads);
    free(w);
}

/* With w->mu held: the heartbeat restarts now, running what. */
static void slot_beat(struct slot *s, const char *what, const char *tenant)
{
    s->beat_ms = eng_now_ms();
    s->beat_wall_ms = wall_ms();
    s->stuck_logged = 0;
    if (what != NULL)
        snprintf(s->what, sizeof s->what, "%s", what);
    if (tenant != NULL)
        snprintf(s->tenant, sizeof s->tenant, "%s", tenant);
}

/* With w->mu held: when the heartbeat is older than the threshold the task overran (its VM is
 * replaced after it); returns the overrun in ms (0 when none) for the caller to log unlocked. */
static long long slot_overrun(struct eng_workers *w, struct slot *s)
{
    if (s->beat_ms == 0)
        return 0;
    long long took = eng_now_ms() - s->beat_ms;
    if (took < atomic_load(&w->stuck_ms))
        return 0;
    s->overran = 1;
    return took;
}

static void log_came_back(const struct slot *s, const char *what, long long took)
{
    eng_logf(ENG_LOG_WARN,
             "worker %d came back after %lld ms in %s (over WORKER_STUCK_MS): its VM is replaced "
             "before its next task",
             s->index, took, what);
}

void eng_workers_beat(const char *what)
{
    struct slot *s = tl_slot;
    if (s == NULL)
        return;
    struct eng_workers *w = s->w;
    char was[sizeof s->what];
    pthread_mutex_lock(&w->mu);
    long long took = slot_overrun(w, s);
    memcpy(was, s->what, sizeof was);
    slot_beat(s, what, NULL);
    pthread_mutex_unlock(&w->mu);
    if (took > 0)
        log_came_back(s, was, took);
}

/* The next task, with this worker marked busy on it; NULL when stopping and nothing is left. */
static struct eng_task *next_task(struct eng_workers *w, struct slot *me, int *stopping)
{
    pthread_mutex_lock(&w->mu);
    while (w->head == NULL && !w->stopping)
        pthread_cond_wait(&w->cv, &w->mu);
    struct eng_task *t = w->head;
    if (t != NULL) {
        w->head = t->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->queued--;
        t->next = NULL;
        me->tenant[0] = '\0';
        slot_beat(me, t->what != NULL ? t->what : "a task", t->tenant);
    }
    *stopping = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return t;
}

/* After a task's done(): 1 when the task overran and the VM must be replaced now (the worker
 * stays busy, "replacing its VM"), else the worker is idle. */
static int task_end(struct eng_workers *w, struct slot *me)
{
    char was[sizeof me->what];
    pthread_mutex_lock(&w->mu);
    long long took = slot_overrun(w, me);
    memcpy(was, me->what, sizeof was);
    me->tasks++;
    int replace = me->overran;
    me->overran = 0;
    if (replace) {
        me->tenant[0] = '\0';
        slot_beat(me, "replacing its VM after a stuck task", NULL);
    } else {
        me->beat_ms = 0;
    }
    pthread_mutex_unlock(&w->mu);
    if (took > 0)
        log_came_back(me, was, took);
    return replace;
}

static void *worker_main(void *arg)
{
    struct slot *me = arg;
    struct eng_workers *w = me->w;
    struct eng_vm *vm = NULL;
    uint64_t gen = 0;
    struct eng_task *t;
    int stopping;

    tl_slot = me;
    while ((t = next_task(w, me, &stopping)) != NULL) {
        uint64_t now = w->scripts.generation(w->scripts.ud);
        if (!stopping && (vm == NULL || now != gen)) {
            /* Between tasks: build the new VM first, close the old one only if that worked. */
            struct eng_err err = {0};
            struct eng_vm *fresh = eng_vm_new(&w->vmopts, &err);
            if (fresh != NULL) {
                eng_vm_free(vm);
                vm = fresh;
                gen = now;
            } else {
                eng_logf(ENG_LOG_ERROR, "worker: cannot build a VM: %s", err.msg);
            }
        }
        struct eng_vm *use = stopping ? NULL : vm;
        if (use != NULL && t->tenant != NULL)
            eng_vm_set_context(use, t->tenant, NULL);
        t->run(t, use);
        if (use != NULL && t->tenant != NULL)
            eng_vm_set_context(use, NULL, NULL);
        t->done(t);
        if (task_end(w, me)) {
            /* The safe point after a stuck task: whatever the overrun left in the state goes
             * with it; free first (the old state is not to be kept), then build afresh. */
            eng_vm_free(vm);
            vm = NULL;
            struct eng_err err = {0};
            uint64_t g = w->scripts.generation(w->scripts.ud);
            pthread_mutex_lock(&w->mu);
            int stop_now = w->stopping;
            pthread_mutex_unlock(&w->mu);
            if (!stop_now) {
                vm = eng_vm_new(&w->vmopts, &err);
                gen = g;
                if (vm == NULL) /* the next task tries again */
                    eng_logf(ENG_LOG_ERROR, "worker %d: cannot build a VM: %s", me->index, err.msg);
            }
            pthread_mutex_lock(&w->mu);
            me->replaced++;
            me->beat_ms = 0;
            pthread_mutex_unlock(&w->mu);
        }
    }
    if (vm != NULL) { /* closing runs the state's finalizers: under the heartbeat too */
        pthread_mutex_lock(&w->mu);
        me->tenant[0] = '\0';
        slot_beat(me, "closing its VM", NULL);
        pthread_mutex_unlock(&w->mu);
        eng_vm_free(vm);
    }
    tl_slot = NULL;
    pthread_mutex_lock(&w->mu);
    me->beat_ms = 0;
    w->live--;
    pthread_cond_broadcast(&w->exit_cv);
    int last = w->abandoned && w->live == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) /* the stopper is gone: this thread was the pool's last user */
        pool_free(w);
    return NULL;
}

struct eng_workers *eng_workers_start(int n, const struct eng_vm_opts *vmopts,
                                      const struct eng_workers_scripts *scripts,
                                      struct eng_err *err)
{
    struct eng_workers *w = calloc(1, sizeof *w);
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    struct slot *slots = calloc((size_t)n, sizeof *slots);
    if (w == NULL || threads == NULL || slots == NULL) {
        free(w);
        free(threads);
        free(slots);
        eng_err_set(err, ENG_ENOMEM, "out of memory starting the workers");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->exit_cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&w->stuck_ms, ENG_WORKERS_STUCK_MS_DEFAULT);
    w->threads = threads;
    w->slots = slots;
    w->vmopts = *vmopts;
    w->scripts = *scripts;
    w->vmopts.source = scripts->source;
    w->vmopts.source_ud = scripts->ud;
    for (int i = 0; i < n; i++) {
        w->slots[i].w = w;
        w->slots[i].index = i + 1;
        pthread_mutex_lock(&w->mu);
        w->live++;
        pthread_mutex_unlock(&w->mu);
        if (pthread_create(&w->threads[i], NULL, worker_main, &w->slots[i]) != 0) {
            pthread_mutex_lock(&w->mu);
            w->live--;
            pthread_mutex_unlock(&w->mu);
            eng_err_set(err, ENG_EIO, "cannot start worker thread %d", i + 1);
            eng_workers_stop(w);
            return NULL;
        }
        w->n++;
    }
    return w;
}

int eng_workers_submit(struct eng_workers *w, struct eng_task *t)
{
    int rc = 0;
    t->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        rc = ENG_EINVAL;
    } else if (w->queued >= WORKERS_MAX_QUEUE) {
        rc = ENG_EBUSY;
    } else {
        if (w->tail != NULL)
            w->tail->next = t;
        else
            w->head = t;
        w->tail = t;
        w->queued++;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int eng_workers_queued(struct eng_workers *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->queued;
    pthread_mutex_unlock(&w->mu);
    return n;
}

int eng_workers_count(const struct eng_workers *w)
{
    return w->n; /* written only by eng_workers_start, before the pointer is shared */
}

void eng_workers_set_stuck_ms(struct eng_workers *w, long long ms)
{
    if (w != NULL && ms > 0)
        atomic_store(&w->stuck_ms, ms);
}

/* With w->mu held: worker i's state; *newly set when it is stuck and not yet logged. */
static void slot_state(struct eng_workers *w, int i, struct eng_worker_state *out, int *newly)
{
    struct slot *s = &w->slots[i];
    memset(out, 0, sizeof *out);
    out->index = s->index;
    out->tasks = s->tasks;
    out->vm_replacements = s->replaced;
    *newly = 0;
    if (s->beat_ms == 0)
        return;
    out->busy = 1;
    out->since_ms = s->beat_wall_ms;
    out->for_ms = eng_now_ms() - s->beat_ms;
    out->stuck = out->for_ms >= atomic_load(&w->stuck_ms);
    memcpy(out->what, s->what, sizeof out->what);
    memcpy(out->tenant, s->tenant, sizeof out->tenant);
    if (out->stuck && !s->stuck_logged) {
        s->stuck_logged = 1;
        *newly = 1;
    }
}

static void log_stuck(const struct eng_worker_state *st, const char *how)
{
    char idx[16], ms[24], since[32];
    snprintf(idx, sizeof idx, "%d", st->index);
    snprintf(ms, sizeof ms, "%lld", st->for_ms);
    iso_time(st->since_ms, since);
    eng_log_kv(
        ENG_LOG_ERROR, st->tenant[0] != '\0' ? st->tenant : NULL, NULL, how,
        (const char *const[]){"worker", idx, "task", st->what, "since", since, "for_ms", ms, NULL});
}

int eng_workers_state(struct eng_workers *w, int i, struct eng_worker_state *out)
{
    if (w == NULL || i < 0 || i >= w->n)
        return ENG_EINVAL;
    int newly;
    pthread_mutex_lock(&w->mu);
    slot_state(w, i, out, &newly);
    pthread_mutex_unlock(&w->mu);
    if (newly)
        log_stuck(out, "worker stuck");
    return 0;
}

int eng_workers_check(struct eng_workers *w)
{
    int stuck = 0;
    struct eng_worker_state st;
    for (int i = 0; w != NULL && i < w->n; i++)
        if (eng_workers_state(w, i, &st) == 0 && st.stuck)
            stuck++;
    return stuck;
}

/* Run tasks handed back (vm == NULL) so their submitters hear back. */
static void hand_back(struct eng_task *t)
{
    while (t != NULL) {
        struct eng_task *next = t->next;
        t->run(t, NULL);
        t->done(t);
        t = next;
    }
}

/* With w->mu held: 1 when a worker is busy (running, building or closing a VM). */
static int pool_busy(const struct eng_workers *w)
{
    for (int i = 0; i < w->n; i++)
        if (w->slots[i].beat_ms != 0)
            return 1;
    return 0;
}

int eng_workers_stop_within(struct eng_workers *w, long long grace_ms)
{
    if (w == NULL)
        return 0;
    pthread_t *ids = calloc((size_t)(w->n > 0 ? w->n : 1), sizeof *ids);
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    if (grace_ms >= 0) {
        at.tv_sec += (time_t)(grace_ms / 1000);
        at.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    /* without the id copy the pool cannot be left behind: wait for ever then */
    int expired = 0;
    while (w->live > 0) {
        if (grace_ms < 0 || ids == NULL || (expired && !pool_busy(w)))
            /* past the deadline, threads that are not busy are on their way out: wait */
            pthread_cond_wait(&w->exit_cv, &w->mu);
        else if (expired || pthread_cond_timedwait(&w->exit_cv, &w->mu, &at) == ETIMEDOUT) {
            expired = 1;
            if (pool_busy(w))
                break;
        }
    }
    int left = w->live;
    if (left == 0) {
        pthread_mutex_unlock(&w->mu);
        free(ids);
        for (int i = 0; i < w->n; i++)
            pthread_join(w->threads[i], NULL);
        /* No thread is left: hand any remaining task back to its submitter. */
        struct eng_task *rest = w->head;
        w->head = w->tail = NULL;
        hand_back(rest);
        pool_free(w);
        return 0;
    }
    /* The grace is over: the busy workers are abandoned. What they run stays theirs; the
     * tasks still queued go back to their submitters; the last thread out frees the pool. */
    w->abandoned = 1;
    struct eng_task *rest = w->head;
    w->head = w->tail = NULL;
    w->queued = 0;
    int n = w->n;
    memcpy(ids, w->threads, (size_t)n * sizeof *ids);
    struct eng_worker_state *busy = calloc((size_t)n, sizeof *busy);
    int nb = 0, newly;
    for (int i = 0; busy != NULL && i < n; i++) {
        slot_state(w, i, &busy[nb], &newly);
        if (busy[nb].busy)
            nb++;
    }
    pthread_mutex_unlock(&w->mu);
    /* w may be freed from here on by a thread that comes back */
    for (int i = 0; i < n; i++)
        pthread_detach(ids[i]);
    free(ids);
    for (int i = 0; i < nb; i++)
        log_stuck(&busy[i], "worker abandoned: it did not finish within SHUTDOWN_GRACE_MS");
    free(busy);
    hand_back(rest);
    return left;
}

void eng_workers_stop(struct eng_workers *w)
{
    (void)eng_workers_stop_within(w, -1);
}
