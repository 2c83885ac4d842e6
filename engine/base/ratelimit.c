/*
 * ratelimit.c - token buckets and in-flight caps per key (see ratelimit.h). One mutex and one
 * condition variable guard the table: limits are checked a few times per request, never in a
 * hot loop, so a finer lock would buy nothing.
 */
#include "base/ratelimit.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

#define RL_MAX_KEYS 4096

struct rl_entry {
    char *key;
    double tokens;
    long long refilled_ms;
    int inflight;
    /* per_window's slots: when each was last used (RL_FREE: never; RL_HELD: in flight, its
     * time set when its answer came, eng_ratelimit_release_held). A slot is free again
     * window_ms after its time; an acquire takes the one used longest ago. */
    long long *log;
    int log_cap;
};

#define RL_FREE LLONG_MIN
#define RL_HELD LLONG_MAX

static pthread_mutex_t rl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rl_cv;
static pthread_once_t rl_once = PTHREAD_ONCE_INIT;
static struct rl_entry *rl_table;
static size_t rl_n, rl_cap;

static void rl_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&rl_cv, &a);
    pthread_condattr_destroy(&a);
}

/* Caller holds rl_mu. */
static struct rl_entry *rl_find(const char *key, int burst)
{
    for (size_t i = 0; i < rl_n; i++)
        if (strcmp(rl_table[i].key, key) == 0)
            return &rl_table[i];
    if (rl_n == RL_MAX_KEYS)
        return NULL;
    if (rl_n == rl_cap) {
        size_t cap = rl_cap ? rl_cap * 2 : 16;
        struct rl_entry *p = realloc(rl_table, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        rl_table = p, rl_cap = cap;
    }
    char *k = strdup(key);
    if (k == NULL)
        return NULL;
    struct rl_entry *e = &rl_table[rl_n++];
    e->key = k;
    e->tokens = burst;
    e->refilled_ms = eng_now_ms();
    e->inflight = 0;
    e->log = NULL;
    e->log_cap = 0;
    return e;
}

/* Caller holds rl_mu. The entry's log sized for per_window (a changed size starts afresh).
 * 0, or -1 on OOM. */
static int rl_log_size(struct rl_entry *e, int per_window)
{
    if (per_window <= 0 || e->log_cap == per_window)
        return 0;
    long long *p = realloc(e->log, (size_t)per_window * sizeof *p);
    if (p == NULL)
        return -1;
    e->log = p;
    e->log_cap = per_window;
    for (int i = 0; i < per_window; i++)
        p[i] = RL_FREE;
    return 0;
}

/* Caller holds rl_mu. The index of the window slot used longest ago (RL_HELD when every one is
 * in flight). */
static int rl_oldest(const struct rl_entry *e)
{
    int k = 0;
    for (int i = 1; i < e->log_cap; i++)
        if (e->log[i] < e->log[k])
            k = i;
    return k;
}

/* Caller holds rl_mu. 0 when one more acquire fits every limit of rl at now; else the time
 * (ms) it may fit at, or -1 when only a concurrency slot or a window slot still in flight is
 * missing (a release wakes us). */
static long long rl_due(const struct eng_ratelimit *rl, struct rl_entry *e, long long now)
{
    long long due = 0;
    int burst = rl->burst >= 1 ? rl->burst : 1;
    if (rl->per_second > 0) {
        e->tokens += (double)(now - e->refilled_ms) * rl->per_second / 1000.0;
        if (e->tokens > burst)
            e->tokens = burst;
        if (e->tokens < 1.0)
            due = now + (long long)((1.0 - e->tokens) * 1000.0 / rl->per_second) + 1;
    }
    e->refilled_ms = now;
    if (rl->per_window > 0 && e->log_cap > 0) {
        long window = rl->window_ms > 0 ? rl->window_ms : 60000;
        long long used = e->log[rl_oldest(e)];
        if (used == RL_HELD)
            return due > 0 ? due : -1;
        long long free_at = used == RL_FREE ? 0 : used + window;
        if (free_at > now && free_at > due)
            due = free_at;
    }
    if (due == 0 && rl->max_concurrent > 0 && e->inflight >= rl->max_concurrent)
        return -1;
    return due;
}

/* Caller holds rl_mu; rl_due(rl, e, now) was 0. The window slot taken (-1: none), marked in
 * flight when held, else used now. */
static int rl_take(const struct eng_ratelimit *rl, struct rl_entry *e, long long now, int held)
{
    int k = -1;
    if (rl->per_second > 0)
        e->tokens -= 1.0;
    if (rl->per_window > 0 && e->log_cap > 0) {
        k = rl_oldest(e);
        e->log[k] = held ? RL_HELD : now;
    }
    e->inflight++;
    return k;
}

int eng_ratelimit_acquire(const struct eng_ratelimit *rl, long long deadline_ms,
                          struct eng_err *err)
{
    return eng_ratelimit_acquire_held(rl, deadline_ms, NULL, err);
}

int eng_ratelimit_acquire_held(const struct eng_ratelimit *rl, long long deadline_ms,
                               struct eng_ratelimit_hold *hold, struct eng_err *err)
{
    if (hold != NULL)
        hold->slot = hold->also_slot = -1, hold->cap = hold->also_cap = 0;
    if (rl == NULL || rl->key == NULL || rl->key[0] == '\0')
        return 0;
    pthread_once(&rl_once, rl_init);
    const struct eng_ratelimit *r2 =
        rl->also != NULL && rl->also->key != NULL && rl->also->key[0] != '\0' ? rl->also : NULL;
    int rc = 0;
    pthread_mutex_lock(&rl_mu);
    struct rl_entry *e = rl_find(rl->key, rl->burst >= 1 ? rl->burst : 1);
    struct rl_entry *e2 = NULL;
    if (e != NULL && rl_log_size(e, rl->per_window) != 0)
        e = NULL;
    if (e != NULL && r2 != NULL) {
        /* rl_find may move the table: find the second, then the first again */
        e2 = rl_find(r2->key, r2->burst >= 1 ? r2->burst : 1);
        if (e2 == NULL || rl_log_size(e2, r2->per_window) != 0)
            e = NULL;
        else
            e = rl_find(rl->key, 1);
    }
    if (e == NULL) {
        pthread_mutex_unlock(&rl_mu);
        return eng_err_set(err, ENG_ENOMEM, "rate limiter: too many keys");
    }
    for (;;) {
        long long now = eng_now_ms();
        long long d1 = rl_due(rl, e, now);
        long long d2 = e2 != NULL ? rl_due(r2, e2, now) : 0;
        if (e2 == e)
            d2 = d1; /* one key named twice: one limit */
        if (d1 == 0 && d2 == 0) {
            int k = rl_take(rl, e, now, hold != NULL);
            int k2 = e2 != NULL && e2 != e ? rl_take(r2, e2, now, hold != NULL) : -1;
            if (hold != NULL)
                hold->slot = k, hold->cap = e->log_cap, hold->also_slot = k2,
                hold->also_cap = k2 >= 0 ? e2->log_cap : 0;
            break;
        }
        /* Sleep until the later of the due times (a release wakes us for a slot), but not past
         * the deadline. */
        long long due = d1 > d2 ? d1 : d2;
        int timed = due > 0;
        long long wake = timed ? due : now + 1000;
        if (deadline_ms != 0 && wake > deadline_ms) {
            if (now >= deadline_ms || timed) {
                rc = eng_err_set(err, ENG_ETIMEOUT,
                                 "rate limit of %s: no request slot before the call's deadline",
                                 rl->key);
                break;
            }
            wake = deadline_ms;
        }
        struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000L};
        int w = pthread_cond_timedwait(&rl_cv, &rl_mu, &ts);
        if (w != 0 && w != ETIMEDOUT && w != EINTR) {
            rc = eng_err_set(err, ENG_EIO, "rate limiter wait failed");
            break;
        }
    }
    pthread_mutex_unlock(&rl_mu);
    return rc;
}

/* Caller holds rl_mu. A held window slot (slot >= 0, of a log of cap slots) is used now. */
static void rl_release_key(const char *key, int slot, int cap, long long now)
{
    for (size_t i = 0; i < rl_n; i++) {
        struct rl_entry *e = &rl_table[i];
        if (strcmp(e->key, key) == 0) {
            if (e->inflight > 0)
                e->inflight--;
            /* (a log resized meanwhile started afresh: its slots are not this one's) */
            if (slot >= 0 && cap == e->log_cap && slot < e->log_cap && e->log[slot] == RL_HELD)
                e->log[slot] = now;
            break;
        }
    }
}

void eng_ratelimit_release(const struct eng_ratelimit *rl)
{
    eng_ratelimit_release_held(rl, NULL);
}

void eng_ratelimit_release_held(const struct eng_ratelimit *rl,
                                const struct eng_ratelimit_hold *hold)
{
    if (rl == NULL || rl->key == NULL || rl->key[0] == '\0')
        return;
    pthread_mutex_lock(&rl_mu);
    long long now = eng_now_ms();
    rl_release_key(rl->key, hold != NULL ? hold->slot : -1, hold != NULL ? hold->cap : 0, now);
    if (rl->also != NULL && rl->also->key != NULL && rl->also->key[0] != '\0' &&
        strcmp(rl->also->key, rl->key) != 0)
        rl_release_key(rl->also->key, hold != NULL ? hold->also_slot : -1,
                       hold != NULL ? hold->also_cap : 0, now);
    pthread_cond_broadcast(&rl_cv);
    pthread_mutex_unlock(&rl_mu);
}
