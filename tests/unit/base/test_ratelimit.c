/*
 * test_ratelimit.c - per-key limits: the burst is granted at once, the next token is refused
 * when it cannot arrive before the deadline, and no more than `concurrent` holders exist at any
 * moment however many threads compete.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"
#include "base/ratelimit.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_burst_then_deadline(void)
{
    struct eng_ratelimit rl = {.key = "test:burst", .per_second = 0.5, .burst = 3};
    struct eng_err err = {0};
    for (int i = 0; i < 3; i++) {
        CHECK_INT(eng_ratelimit_acquire(&rl, now_ms() + 50, &err), 0);
        eng_ratelimit_release(&rl);
    }
    /* the 4th token is 2 s away: refused at once rather than waiting out the deadline */
    long long t0 = now_ms();
    CHECK_INT(eng_ratelimit_acquire(&rl, now_ms() + 100, &err), ENG_ETIMEOUT);
    CHECK(strstr(err.msg, "test:burst") != NULL);
    CHECK(now_ms() - t0 < 100);
    /* another key is independent */
    struct eng_ratelimit other = {.key = "test:other", .per_second = 0.5, .burst = 1};
    CHECK_INT(eng_ratelimit_acquire(&other, now_ms() + 50, &err), 0);
    eng_ratelimit_release(&other);
}

static void test_no_key_means_no_limit(void)
{
    struct eng_ratelimit rl = {.key = NULL, .per_second = 0.001, .burst = 1, .max_concurrent = 1};
    struct eng_err err = {0};
    for (int i = 0; i < 100; i++)
        CHECK_INT(eng_ratelimit_acquire(&rl, now_ms() + 1, &err), 0);
}

static atomic_int holders, most;

static void *contender(void *arg)
{
    const struct eng_ratelimit *rl = arg;
    struct eng_err err = {0};
    for (int i = 0; i < 50; i++) {
        if (eng_ratelimit_acquire(rl, now_ms() + 10000, &err) != 0)
            continue;
        int h = atomic_fetch_add(&holders, 1) + 1;
        int m = atomic_load(&most);
        while (h > m && !atomic_compare_exchange_weak(&most, &m, h))
            ;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
        atomic_fetch_sub(&holders, 1);
        eng_ratelimit_release(rl);
    }
    return NULL;
}

static void test_concurrency_cap_holds(void)
{
    struct eng_ratelimit rl = {.key = "test:concurrent", .burst = 1, .max_concurrent = 2};
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        REQUIRE(pthread_create(&t[i], NULL, contender, &rl) == 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&most) <= 2);
    CHECK(atomic_load(&most) >= 1);
    CHECK_INT(atomic_load(&holders), 0);
}

/* A sliding window grants its whole allowance at once, then nothing until the oldest use is
 * window_ms old: what "N a minute" allows, used to the full and never exceeded. */
static void test_window_all_at_once_then_waits(void)
{
    struct eng_ratelimit rl = {.key = "test:window", .burst = 1, .per_window = 5, .window_ms = 400};
    struct eng_err err = {0, ""};
    long long t0 = now_ms();
    for (int i = 0; i < 5; i++) {
        CHECK_INT(eng_ratelimit_acquire(&rl, t0 + 5000, &err), 0);
        eng_ratelimit_release(&rl);
    }
    CHECK(now_ms() - t0 < 200); /* the five came at once */
    /* the sixth cannot come before the window turns: refused against a nearer deadline */
    CHECK_INT(eng_ratelimit_acquire(&rl, now_ms() + 50, &err), ENG_ETIMEOUT);
    CHECK_INT(eng_ratelimit_acquire(&rl, now_ms() + 5000, &err), 0);
    eng_ratelimit_release(&rl);
    CHECK(now_ms() - t0 >= 400);
}

/* also: a request counts for both keys, taken together; the second key's window binds too. */
static void test_also_counts_both_keys(void)
{
    struct eng_ratelimit realm = {
        .key = "test:realm", .burst = 1, .per_window = 3, .window_ms = 60000};
    struct eng_ratelimit batch = {
        .key = "test:batch", .burst = 1, .per_window = 10, .window_ms = 60000, .also = &realm};
    struct eng_err err = {0, ""};
    long long dl = now_ms() + 100;
    CHECK_INT(eng_ratelimit_acquire(&batch, dl, &err), 0);
    eng_ratelimit_release(&batch);
    CHECK_INT(eng_ratelimit_acquire(&realm, dl, &err), 0);
    eng_ratelimit_release(&realm);
    CHECK_INT(eng_ratelimit_acquire(&batch, dl, &err), 0);
    eng_ratelimit_release(&batch);
    /* the realm's three are used (two through the batch key): neither key gets a fourth */
    CHECK_INT(eng_ratelimit_acquire(&batch, now_ms() + 50, &err), ENG_ETIMEOUT);
    CHECK_INT(eng_ratelimit_acquire(&realm, now_ms() + 50, &err), ENG_ETIMEOUT);
}

/* A held slot counts from its release (the request's answer), not from its acquire: while it
 * is in flight nobody gets it, and after the release it is free again window_ms later, so a
 * request that travelled long never lets the next one land inside the remote's window. The
 * same for also's key. */
static void test_held_slot_counts_from_release(void)
{
    struct eng_ratelimit realm = {
        .key = "test:hrealm", .burst = 1, .per_window = 1, .window_ms = 300};
    struct eng_ratelimit rl = {
        .key = "test:held", .burst = 1, .per_window = 2, .window_ms = 300, .also = &realm};
    struct eng_err err = {0, ""};
    struct eng_ratelimit_hold hold;
    CHECK_INT(eng_ratelimit_acquire_held(&rl, now_ms() + 5000, &hold, &err), 0);
    CHECK(hold.slot >= 0 && hold.also_slot >= 0);
    /* in flight: the realm's one slot is nobody else's, even after its window would turn */
    CHECK_INT(eng_ratelimit_acquire(&realm, now_ms() + 400, &err), ENG_ETIMEOUT);
    eng_ratelimit_release_held(&rl, &hold);
    long long released = now_ms();
    /* answered just now: free again only a window after the answer */
    CHECK_INT(eng_ratelimit_acquire(&realm, released + 100, &err), ENG_ETIMEOUT);
    CHECK_INT(eng_ratelimit_acquire(&realm, released + 5000, &err), 0);
    eng_ratelimit_release(&realm);
    CHECK(now_ms() - released >= 300);
}

CHECK_MAIN(CHECK_CASE(test_burst_then_deadline), CHECK_CASE(test_no_key_means_no_limit),
           CHECK_CASE(test_concurrency_cap_holds), CHECK_CASE(test_window_all_at_once_then_waits),
           CHECK_CASE(test_also_counts_both_keys), CHECK_CASE(test_held_slot_counts_from_release))
