/*
 * clock.h - the engine's one monotonic clock, in milliseconds: deadlines, timeouts, rate
 * limits and watchdogs all measure with it (never the wall clock, which can jump).
 * Owns: nothing.
 */
#ifndef ENG_CLOCK_H
#define ENG_CLOCK_H

/* CLOCK_MONOTONIC in milliseconds. Async-signal-safe (clock_gettime is): vm_watch.c's signal
 * handler calls it. */
long long eng_now_ms(void);

#endif
