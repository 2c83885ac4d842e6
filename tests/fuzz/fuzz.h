/*
 * fuzz.h - what every fuzz target shares: libFuzzer's entry point (one per target, called by
 * libFuzzer in the fuzz build and by replay_main.c in the plain one) and check(), the target's
 * own assertions (abort, which both drivers report as a crash).
 */
#ifndef ENG_FUZZ_H
#define ENG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void check_failed(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    abort();
}

#define check(ok) ((ok) ? (void)0 : check_failed(#ok, __FILE__, __LINE__))

#endif
