/*
 * ratelimit.c - token buckets and in-flight caps per key (see ratelimit.h). One mutex and one
 * condition variable guard the table: limits are checked a few times per request, never in a
 * hot loop, so a finer lock would buy nothing.
 */
#include "base/ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RL_MAX_KEYS 4096

struct rl_entry {
    char *key;
    double tokens;
    long long refilled_ms;
    int inflight;
    long long *log; /* the last log_cap acquire times (per_window), a ring from log_head */
    int log_cap, log_head, log_n;
};

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

static long long rl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    e->refilled_ms = rl_now_ms();
    e->inflight = 0;
    e->log = NULL;
    e->log_cap = e->log_head = e->log_n = 0;
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
    e->log_head = e->log_n = 0;
    return 0;
}

/* Caller holds rl_mu. 0 when one more acquire fits every limit of rl at now; else the time
 * (ms) it may fit at, or -1 when only a concurrency slot is missing (a release wakes us). */
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
    if (rl->per_window > 0 && e->log_n >= e->log_cap) {
        long window = rl->window_ms > 0 ? rl->window_ms : 60000;
        long long free_at = e->log[e->log_head] + window;
        if (free_at > now && free_at > due)
            due = free_at;
    }
    if (due == 0 && rl->max_concurrent > 0 && e->inflight >= rl->max_concurrent)
        return -1;
    return due;
}

/* Caller holds rl_mu; rl_due(rl, e, now) was 0. */
static void rl_take(const struct eng_ratelimit *rl, struct rl_entry *e, long long now)
{
    if (rl->per_second > 0)
        e->tokens -= 1.0;
    if (rl->per_window > 0) {
        if (e->log_n < e->log_cap) {
            e->log[(e->log_head + e->log_n) % e->log_cap] = now;
            e->log_n++;
        } else {
            e->log[e->log_head] = now;
            e->log_head = (e->log_head + 1) % e->log_cap;
        }
    }
    e->inflight++;
}

int eng_ratelimit_acquire(const struct eng_ratelimit *rl, long long deadline_ms,
                          struct eng_err *err)
{
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
        long long now = rl_now_ms();
        long long d1 = rl_due(rl, e, now);
        long long d2 = e2 != NULL ? rl_due(r2, e2, now) : 0;
        if (e2 == e)
            d2 = d1; /* one key named twice: one limit */
        if (d1 == 0 && d2 == 0) {
            rl_take(rl, e, now);
            if (e2 != NULL && e2 != e)
                rl_take(r2, e2, now);
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

/* Caller holds rl_mu. */
static void rl_release_key(const char *key)
{
    for (size_t i = 0; i < rl_n; i++) {
        if (strcmp(rl_table[i].key, key) == 0) {
            if (rl_table[i].inflight > 0)
                rl_table[i].inflight--;
            break;
        }
    }
}

void eng_ratelimit_release(const struct eng_ratelimit *rl)
{
    if (rl == NULL || rl->key == NULL || rl->key[0] == '\0')
        return;
    pthread_mutex_lock(&rl_mu);
    rl_release_key(rl->key);
    if (rl->also != NULL && rl->also->key != NULL && rl->also->key[0] != '\0' &&
        strcmp(rl->also->key, rl->key) != 0)
        rl_release_key(rl->also->key);
    pthread_cond_broadcast(&rl_cv);
    pthread_mutex_unlock(&rl_mu);
}
