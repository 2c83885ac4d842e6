/*
 * fuzz.h - what every fuzz target shares: libFuzzer's entry point (one per target, called by
 * libFuzzer in the fuzz build and by replay_main.c in the plain one) and check(), the target's
 * own assertions (abort, which both drivers report as a crash).
 */
#ifndef ENG_FUZZ_H
#define ENG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void check(int ok)
{
    if (!ok)
        abort();
}

#endif
