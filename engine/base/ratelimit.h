/*
 * ratelimit.h - per-key request limits shared by every thread of the process: a token bucket
 * (requests per second with a burst) and a cap on requests in flight. A key names what the
 * remote side limits: "quickbooks:<realm>", "woocommerce:<store>". Waiting never runs past the
 * caller's deadline. Thread-safe; owns a small table of keys that lives for the process.
 */
#ifndef ENG_RATELIMIT_H
#define ENG_RATELIMIT_H

#include "base/err.h"

struct eng_ratelimit {
    const char *key;    /* NULL or "" = no limit */
    double per_second;  /* <= 0: no rate limit */
    int burst;          /* bucket size (>= 1) */
    int max_concurrent; /* <= 0: no concurrency cap */
    int per_window;     /* > 0: at most this many acquires in any window_ms (a sliding log: the
                         * whole allowance at once, then each slot again window_ms after its use;
                         * what a limit counted "per minute" allows, used to the full) */
    long window_ms;     /* the window of per_window (<= 0: 60000) */
    const struct eng_ratelimit *also; /* a second key taken together with this one, all or
                                       * nothing (a QuickBooks batch counts for the batch
                                       * endpoint and for the realm); its own also is ignored */
};

/* Wait for a token, a window slot and a concurrency slot (of key and of also's key).
 * deadline_ms is a CLOCK_MONOTONIC time in ms (0 = none). 0 when acquired (call
 * eng_ratelimit_release once the request is done), ENG_ETIMEOUT when the deadline would pass
 * first, ENG_ENOMEM. */
int eng_ratelimit_acquire(const struct eng_ratelimit *rl, long long deadline_ms,
                          struct eng_err *err);
/* Give back the concurrency slot taken by a successful acquire. */
void eng_ratelimit_release(const struct eng_ratelimit *rl);
/* The window slots a held acquire took (filled by eng_ratelimit_acquire_held). */
struct eng_ratelimit_hold {
    int slot, cap;           /* rl's window slot (-1: none) in a log of cap slots */
    int also_slot, also_cap; /* also's */
};
/* As eng_ratelimit_acquire, but the window slots taken count from when the request is over
 * (eng_ratelimit_release_held), not from now: the remote side saw the request somewhere in
 * between, so a slot used again window_ms after its answer came is past the remote's window
 * however long the request travelled, and a window of exactly the remote's length is safe. A
 * slot in flight is never given to another acquire. */
int eng_ratelimit_acquire_held(const struct eng_ratelimit *rl, long long deadline_ms,
                               struct eng_ratelimit_hold *hold, struct eng_err *err);
/* Give back what eng_ratelimit_acquire_held took; its window slots count from now. */
void eng_ratelimit_release_held(const struct eng_ratelimit *rl,
                                const struct eng_ratelimit_hold *hold);

#endif
