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
    return e;
}

int eng_ratelimit_acquire(const struct eng_ratelimit *rl, long long deadline_ms,
                          struct eng_err *err)
{
    if (rl == NULL || rl->key == NULL || rl->key[0] == '\0')
        return 0;
    pthread_once(&rl_once, rl_init);
    int burst = rl->burst >= 1 ? rl->burst : 1;
    int rc = 0;
    pthread_mutex_lock(&rl_mu);
    struct rl_entry *e = rl_find(rl->key, burst);
    if (e == NULL) {
        pthread_mutex_unlock(&rl_mu);
        return eng_err_set(err, ENG_ENOMEM, "rate limiter: too many keys");
    }
    for (;;) {
        long long now = rl_now_ms();
        if (rl->per_second > 0) {
            e->tokens += (double)(now - e->refilled_ms) * rl->per_second / 1000.0;
            if (e->tokens > burst)
                e->tokens = burst;
        }
        e->refilled_ms = now;
        int have_token = rl->per_second <= 0 || e->tokens >= 1.0;
        int have_slot = rl->max_concurrent <= 0 || e->inflight < rl->max_concurrent;
        if (have_token && have_slot) {
            if (rl->per_second > 0)
                e->tokens -= 1.0;
            e->inflight++;
            break;
        }
        /* Sleep until a token is due (or a slot is released), but not past the deadline. */
        long long wake = now + 1000;
        if (!have_token)
            wake = now + (long long)((1.0 - e->tokens) * 1000.0 / rl->per_second) + 1;
        if (deadline_ms != 0 && wake > deadline_ms) {
            if (now >= deadline_ms || !have_token) {
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

void eng_ratelimit_release(const struct eng_ratelimit *rl)
{
    if (rl == NULL || rl->key == NULL || rl->key[0] == '\0')
        return;
    pthread_mutex_lock(&rl_mu);
    for (size_t i = 0; i < rl_n; i++) {
        if (strcmp(rl_table[i].key, rl->key) == 0) {
            if (rl_table[i].inflight > 0)
                rl_table[i].inflight--;
            break;
        }
    }
    pthread_cond_broadcast(&rl_cv);
    pthread_mutex_unlock(&rl_mu);
}
