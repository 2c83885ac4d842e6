/*
 * check.h - a minimal assertion kit for the unit tier (acutest-like, no dependency).
 * CHECK keeps going and counts; REQUIRE stops the current test. Each test file ends with
 * CHECK_MAIN(test_a, test_b, ...), which prints "N passed, N failed" and exits non-zero on failure.
 */
#ifndef CHECK_H
#define CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_current_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            check_failures++;                                                                      \
            check_current_failed = 1;                                                              \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);             \
            check_failures++;                                                                      \
            check_current_failed = 1;                                                              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0) {             \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s\n  got:      %s\n  expected: %s\n", \
                    __FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",                    \
                    check_b_ ? check_b_ : "(null)");                                               \
            check_failures++;                                                                      \
            check_current_failed = 1;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "%s:%d: CHECK_INT failed: %s == %s (%lld != %lld)\n", __FILE__,        \
                    __LINE__, #a, #b, check_a_, check_b_);                                         \
            check_failures++;                                                                      \
            check_current_failed = 1;                                                              \
        }                                                                                          \
    } while (0)

typedef void (*check_fn)(void);
struct check_case {
    const char *name;
    check_fn fn;
};

static inline int check_run(const struct check_case *cases, size_t n)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        check_current_failed = 0;
        cases[i].fn();
        if (check_current_failed) {
            fprintf(stderr, "FAIL %s\n", cases[i].name);
            failed++;
        } else {
            printf("ok   %s\n", cases[i].name);
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && check_failures == 0 ? 0 : 1;
}

#define CHECK_CASE(fn)                                                                             \
    {                                                                                              \
#fn, fn                                                                                    \
    }
#define CHECK_MAIN(...)                                                                            \
    int main(void)                                                                                 \
    {                                                                                              \
        static const struct check_case cases[] = {__VA_ARGS__};                                    \
        return check_run(cases, sizeof cases / sizeof cases[0]);                                   \
    }

#endif
