/*
 * test_money.c - unit tier for engine/base/money.c: parse (every rounding), format, checked
 * arithmetic, quantity products, allocation (known cases + a fixed-seed property loop against a
 * slow reference), ISO 4217 decimals. Includes money.c to reach its statics.
 */
#include "check.h"

#include "../../../engine/base/money.c"

#include <stdlib.h>

#define E  ENG_MONEY_EXACT
#define HU ENG_MONEY_HALF_UP
#define HE ENG_MONEY_HALF_EVEN

struct parse_case {
    const char *in;
    int decimals;
    enum eng_money_rounding mode;
    int ok;
    int64_t want;
};

static const struct parse_case parse_cases[] = {
    /* plain amounts */
    {"29.35", 2, E, 1, 2935},
    {"0.00", 2, E, 1, 0},
    {"0", 2, E, 1, 0},
    {"10", 2, E, 1, 1000},
    {"10.", 2, E, 1, 1000},
    {".5", 2, E, 1, 50},
    {"-.5", 2, E, 1, -50},
    {"-16.20", 2, E, 1, -1620},
    {"+3.1", 2, E, 1, 310},
    {"0.9", 2, E, 1, 90},
    {"007.50", 2, E, 1, 750},
    {"  29.35\t\n", 2, E, 1, 2935},
    {"-0.00", 2, E, 1, 0},
    {"29.350", 2, E, 1, 2935},
    {"29.35000000000000000000000000", 2, E, 1, 2935},
    {"1000", 0, E, 1, 1000},
    {"1000.000", 0, E, 1, 1000},
    {"1.234", 3, E, 1, 1234},
    {"1.2345", 4, E, 1, 12345},
    {"0.000000000000000001", 18, E, 1, 1},
    {"9.223372036854775807", 18, E, 1, INT64_MAX},
    {"-9.223372036854775808", 18, E, 1, INT64_MIN},
    {"92233720368547758.07", 2, E, 1, INT64_MAX},
    {"-92233720368547758.08", 2, E, 1, INT64_MIN},
    {"9223372036854775807", 0, E, 1, INT64_MAX},
    {"-9223372036854775808", 0, E, 1, INT64_MIN},
    /* exact refuses lost digits */
    {"29.355", 2, E, 0, 0},
    {"0.352941", 2, E, 0, 0},
    {"0.001", 2, E, 0, 0},
    {"0.5", 0, E, 0, 0},
    {"29.3500001", 2, E, 0, 0},
    /* half up: ties away from zero */
    {"0.352941", 2, HU, 1, 35},
    {"0.125", 2, HU, 1, 13},
    {"-0.125", 2, HU, 1, -13},
    {"0.135", 2, HU, 1, 14},
    {"0.1249999", 2, HU, 1, 12},
    {"0.005", 2, HU, 1, 1},
    {"-0.005", 2, HU, 1, -1},
    {"-0.004", 2, HU, 1, 0},
    {"2.5", 0, HU, 1, 3},
    {"-2.5", 0, HU, 1, -3},
    {"29.35", 2, HU, 1, 2935},
    {"10.7999999999999", 2, HU, 1, 1080},
    /* half even: ties to even */
    {"0.125", 2, HE, 1, 12},
    {"0.135", 2, HE, 1, 14},
    {"0.1250000001", 2, HE, 1, 13},
    {"-0.125", 2, HE, 1, -12},
    {"-0.135", 2, HE, 1, -14},
    {"2.5", 0, HE, 1, 2},
    {"3.5", 0, HE, 1, 4},
    {"0.5", 0, HE, 1, 0},
    {"-0.5", 0, HE, 1, 0},
    {"0.352941", 2, HE, 1, 35},
    /* rounding that crosses the range edge */
    {"92233720368547758.074", 2, HU, 1, INT64_MAX},
    {"92233720368547758.075", 2, HU, 0, 0},
    {"-92233720368547758.084", 2, HU, 1, INT64_MIN},
    {"-92233720368547758.085", 2, HU, 0, 0},
    {"92233720368547758.075", 2, HE, 0, 0},
    /* syntax */
    {"", 2, E, 0, 0},
    {"   ", 2, E, 0, 0},
    {"abc", 2, E, 0, 0},
    {"1e3", 2, E, 0, 0},
    {"1E3", 2, HU, 0, 0},
    {"1,000", 2, E, 0, 0},
    {"1,5", 2, HU, 0, 0},
    {"--1", 2, E, 0, 0},
    {"+-1", 2, E, 0, 0},
    {"-", 2, E, 0, 0},
    {"+", 2, E, 0, 0},
    {".", 2, E, 0, 0},
    {"-.", 2, E, 0, 0},
    {"1..2", 2, E, 0, 0},
    {"1.2.3", 2, E, 0, 0},
    {"NaN", 2, HU, 0, 0},
    {"nan", 2, HU, 0, 0},
    {"inf", 2, HU, 0, 0},
    {"-Infinity", 2, HU, 0, 0},
    {"0x10", 2, E, 0, 0},
    {"1 000", 2, E, 0, 0},
    {"- 1", 2, E, 0, 0},
    {"$10", 2, E, 0, 0},
    {"10 USD", 2, E, 0, 0},
    {"\xc2\xa0"
     "1",
     2, E, 0, 0}, /* U+00A0 is not ASCII whitespace */
    /* overflow */
    {"92233720368547758.08", 2, E, 0, 0},
    {"-92233720368547758.09", 2, E, 0, 0},
    {"9223372036854775808", 0, E, 0, 0},
    {"99999999999999999999999999999", 2, HU, 0, 0},
    {"18446744073709551615", 0, E, 0, 0},
    {"18446744073709551616", 0, E, 0, 0},
    {"10", 18, E, 0, 0},
};

static void test_parse_table(void)
{
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct parse_case *c = &parse_cases[i];
        struct eng_err err = {0};
        int64_t got = 777;
        int rc = eng_money_parse(c->in, c->decimals, c->mode, &got, &err);
        if (c->ok) {
            if (rc != 0 || got != c->want)
                fprintf(stderr, "case %zu \"%s\" dec=%d mode=%d: rc=%d got=%lld want=%lld (%s)\n",
                        i, c->in, c->decimals, (int)c->mode, rc, (long long)got, (long long)c->want,
                        err.msg);
            CHECK_INT(rc, 0);
            CHECK_INT(got, c->want);
        } else {
            if (rc != ENG_EINVAL)
                fprintf(stderr, "case %zu \"%s\": expected EINVAL, got rc=%d value=%lld\n", i,
                        c->in, rc, (long long)got);
            CHECK_INT(rc, ENG_EINVAL);
            CHECK_INT(err.code, ENG_EINVAL);
            CHECK_INT(got, 777); /* never a silent 0: output untouched */
            CHECK(strstr(err.msg, "money: cannot parse \"") == err.msg);
        }
    }
}

static void test_parse_messages(void)
{
    struct eng_err err = {0};
    int64_t v = 0;
    CHECK_INT(eng_money_parse("abc", 2, E, &v, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "money: cannot parse \"abc\" as an amount");
    CHECK_INT(eng_money_parse("29.355", 2, E, &v, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "money: cannot parse \"29.355\" as an amount: more than 2 decimal places "
                       "and rounding is \"exact\"");
    CHECK_INT(eng_money_parse("1e400", 2, E, &v, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "\"1e400\"") != NULL);
    CHECK_INT(eng_money_parse("99999999999999999999", 2, E, &v, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "out of range") != NULL);
    /* long input is truncated, control bytes escaped */
    char longin[200];
    memset(longin, '7', sizeof longin - 1);
    longin[sizeof longin - 1] = '\0';
    longin[3] = '\n';
    CHECK_INT(eng_money_parse(longin, 2, E, &v, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "\"777\\x0a7777") != NULL);
    CHECK(strstr(err.msg, "...") != NULL);
    CHECK(strlen(err.msg) < 200);
    /* embedded NUL with a length: refused, shown escaped */
    CHECK_INT(eng_money_parse_n("1\0002", 3, 2, E, &v, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "money: cannot parse \"1\\x002\" as an amount");
    CHECK_INT(eng_money_parse_n("12.50xyz", 5, 2, E, &v, &err), 0);
    CHECK_INT(v, 1250);
    /* bad decimals and NULL */
    CHECK_INT(eng_money_parse("1", -1, E, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_parse("1", 19, E, &v, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "decimals") != NULL);
    CHECK_INT(eng_money_parse(NULL, 2, E, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_parse("1", 2, E, &v, NULL), 0); /* err is optional */
    CHECK_INT(eng_money_parse("x", 2, E, &v, NULL), ENG_EINVAL);
}

static void test_from_double(void)
{
    struct eng_err err = {0};
    int64_t v = 0;
    CHECK_INT(eng_money_from_double(10.799999999999999, 2, HU, &v, &err), 0);
    CHECK_INT(v, 1080);
    CHECK_INT(eng_money_from_double(10.799999999999999, 2, HE, &v, &err), 0);
    CHECK_INT(v, 1080);
    CHECK_INT(eng_money_from_double(0.1 + 0.2, 2, HU, &v, &err), 0);
    CHECK_INT(v, 30);
    CHECK_INT(eng_money_from_double(3.0, 2, HU, &v, &err), 0);
    CHECK_INT(v, 300);
    CHECK_INT(eng_money_from_double(-16.2, 2, HU, &v, &err), 0);
    CHECK_INT(v, -1620);
    CHECK_INT(eng_money_from_double(0.125, 2, HU, &v, &err), 0); /* a true tie in binary */
    CHECK_INT(v, 13);
    CHECK_INT(eng_money_from_double(0.125, 2, HE, &v, &err), 0);
    CHECK_INT(v, 12);
    CHECK_INT(eng_money_from_double(-0.0, 2, HU, &v, &err), 0);
    CHECK_INT(v, 0);
    CHECK_INT(eng_money_from_double(1234.5, 0, HE, &v, &err), 0);
    CHECK_INT(v, 1234);
    CHECK_INT(eng_money_from_double(12.3456, 3, HU, &v, &err), 0);
    CHECK_INT(v, 12346);
    v = 777;
    CHECK_INT(eng_money_from_double(10.8, 2, E, &v, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "half_up") != NULL);
    CHECK_INT(eng_money_from_double(NAN, 2, HU, &v, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "money: cannot convert NaN to an amount");
    CHECK_INT(eng_money_from_double(-INFINITY, 2, HU, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_from_double(1e19, 2, HU, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_from_double(1e300, 2, HU, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_from_double(1e17, 2, HU, &v, &err), ENG_EINVAL); /* 1e19 cents */
    CHECK_INT(eng_money_from_double(1.0, 19, HU, &v, &err), ENG_EINVAL);
    CHECK_INT(v, 777);
}

static void test_from_units(void)
{
    struct eng_err err = {0};
    int64_t v = 0;
    CHECK_INT(eng_money_from_units(3, 2, &v, &err), 0);
    CHECK_INT(v, 300);
    CHECK_INT(eng_money_from_units(-7, 0, &v, &err), 0);
    CHECK_INT(v, -7);
    CHECK_INT(eng_money_from_units(-9, 18, &v, &err), 0);
    CHECK_INT(v, -9000000000000000000LL);
    CHECK_INT(eng_money_from_units(10, 18, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_from_units(INT64_MAX / 100 + 1, 2, &v, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "overflow") != NULL);
    CHECK_INT(eng_money_from_units(1, 99, &v, &err), ENG_EINVAL);
}

static void test_format(void)
{
    char b[ENG_MONEY_FMT_SIZE];
    struct {
        int64_t v;
        int dec;
        const char *want;
    } cases[] = {
        {2935, 2, "29.35"},
        {-5, 2, "-0.05"},
        {5, 2, "0.05"},
        {0, 2, "0.00"},
        {100, 0, "100"},
        {0, 0, "0"},
        {-1, 0, "-1"},
        {-1620, 2, "-16.20"},
        {1, 3, "0.001"},
        {1234567, 3, "1234.567"},
        {12345, 4, "1.2345"},
        {INT64_MAX, 2, "92233720368547758.07"},
        {INT64_MIN, 2, "-92233720368547758.08"},
        {INT64_MAX, 0, "9223372036854775807"},
        {INT64_MIN, 0, "-9223372036854775808"},
        {INT64_MIN, 18, "-9.223372036854775808"},
        {INT64_MAX, 18, "9.223372036854775807"},
        {-1, 18, "-0.000000000000000001"},
        {1, 1, "0.1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT(eng_money_format(cases[i].v, cases[i].dec, b, sizeof b), 0);
        CHECK_STR(b, cases[i].want);
        /* format then parse (exact) round-trips */
        int64_t back = 0;
        CHECK_INT(eng_money_parse(b, cases[i].dec, E, &back, NULL), 0);
        CHECK_INT(back, cases[i].v);
    }
    /* too small: refused, buffer empty; exactly big enough: fine */
    char small[6];
    CHECK_INT(eng_money_format(2935, 2, small, 5), ENG_EINVAL);
    CHECK_STR(small, "");
    CHECK_INT(eng_money_format(2935, 2, small, 6), 0);
    CHECK_STR(small, "29.35");
    CHECK_INT(eng_money_format(1, -1, b, sizeof b), ENG_EINVAL);
    CHECK_INT(eng_money_format(1, 19, b, sizeof b), ENG_EINVAL);
    CHECK_INT(eng_money_format(1, 2, NULL, 0), ENG_EINVAL);
    CHECK_INT(eng_money_format(1, 2, small, 0), ENG_EINVAL);
}

/* Property: format -> parse round-trips, and one extra digit rounds the way each mode says. */
static uint64_t rt_state = 0x2545f4914f6cdd1dULL;
static uint64_t rt_rng(void)
{
    rt_state ^= rt_state << 13;
    rt_state ^= rt_state >> 7;
    rt_state ^= rt_state << 17;
    return rt_state;
}

static void test_format_parse_property(void)
{
    for (int iter = 0; iter < 20000; iter++) {
        char b[ENG_MONEY_FMT_SIZE + 8];
        int64_t v = (int64_t)rt_rng(), back = 0;
        if (iter % 3 == 0)
            v %= 1000000;
        int dec = (int)(rt_rng() % (ENG_MONEY_MAX_DECIMALS + 1));
        REQUIRE(eng_money_format(v, dec, b, sizeof b) == 0);
        CHECK_INT(eng_money_parse(b, dec, E, &back, NULL), 0);
        CHECK_INT(back, v);
        /* append one more digit d (and sometimes a trailing non-zero) */
        unsigned d = (unsigned)(rt_rng() % 10);
        int tail = (int)(rt_rng() % 2);
        size_t len = strlen(b);
        if (dec == 0)
            b[len++] = '.';
        b[len++] = (char)('0' + d);
        if (tail)
            b[len++] = '1';
        b[len] = '\0';
        int64_t away = v < 0 ? v - 1 : v + 1; /* may overflow: only checked when it fits */
        int fits = v != INT64_MAX && v != INT64_MIN;
        int64_t hu = 0, he = 0, ex = 777;
        int up_hu = d >= 5;
        int up_he = d > 5 || (d == 5 && (tail || (mag_of(v) & 1u)));
        if (fits || (!up_hu && !up_he)) {
            CHECK_INT(eng_money_parse(b, dec, HU, &hu, NULL), 0);
            CHECK_INT(hu, up_hu ? away : v);
            CHECK_INT(eng_money_parse(b, dec, HE, &he, NULL), 0);
            CHECK_INT(he, up_he ? away : v);
        }
        if (d == 0 && !tail) {
            CHECK_INT(eng_money_parse(b, dec, E, &ex, NULL), 0);
            CHECK_INT(ex, v);
        } else {
            CHECK_INT(eng_money_parse(b, dec, E, &ex, NULL), ENG_EINVAL);
            CHECK_INT(ex, 777);
        }
        if (check_current_failed) {
            fprintf(stderr, "iter %d: \"%s\" at %d decimals\n", iter, b, dec);
            return;
        }
    }
}

static void test_checked_arith(void)
{
    struct eng_err err = {0};
    int64_t v = 777;
    CHECK_INT(eng_money_add(1200, 600, &v, &err), 0);
    CHECK_INT(v, 1800);
    CHECK_INT(eng_money_add(INT64_MAX, -1, &v, &err), 0);
    CHECK_INT(v, INT64_MAX - 1);
    v = 777;
    CHECK_INT(eng_money_add(INT64_MAX, 1, &v, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "overflows") != NULL);
    CHECK_INT(eng_money_add(INT64_MIN, -1, &v, &err), ENG_EINVAL);
    CHECK_INT(v, 777);
    CHECK_INT(eng_money_sub(0, INT64_MAX, &v, &err), 0);
    CHECK_INT(v, -INT64_MAX);
    CHECK_INT(eng_money_sub(-2, INT64_MAX, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_sub(0, INT64_MIN, &v, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "money: 0 - -9223372036854775808 overflows 64-bit minor units");
    CHECK_INT(eng_money_sub(INT64_MIN, INT64_MIN, &v, &err), 0);
    CHECK_INT(v, 0);
    CHECK_INT(eng_money_neg(5, &v, &err), 0);
    CHECK_INT(v, -5);
    CHECK_INT(eng_money_neg(INT64_MAX, &v, &err), 0);
    CHECK_INT(v, -INT64_MAX);
    CHECK_INT(eng_money_neg(INT64_MIN, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_mul_int(1080, 3, &v, &err), 0);
    CHECK_INT(v, 3240);
    CHECK_INT(eng_money_mul_int(-1080, 3, &v, &err), 0);
    CHECK_INT(v, -3240);
    CHECK_INT(eng_money_mul_int(INT64_MAX / 2 + 1, 2, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_mul_int(INT64_MIN, -1, &v, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "money: -9223372036854775808 x -1 overflows 64-bit minor units");
}

static void test_mul_qty(void)
{
    struct eng_err err = {0};
    int64_t v = 0;
    CHECK_INT(eng_money_mul_qty(1080, "1.5", HU, &v, &err), 0);
    CHECK_INT(v, 1620);
    CHECK_INT(eng_money_mul_qty(1080, "1.5", E, &v, &err), 0);
    CHECK_INT(v, 1620);
    CHECK_INT(eng_money_mul_qty(1080, "2", E, &v, &err), 0);
    CHECK_INT(v, 2160);
    CHECK_INT(eng_money_mul_qty(1080, "-2", E, &v, &err), 0); /* refund lines */
    CHECK_INT(v, -2160);
    CHECK_INT(eng_money_mul_qty(1080, " 1.50000000000000000000 ", E, &v, &err), 0);
    CHECK_INT(v, 1620);
    CHECK_INT(eng_money_mul_qty(1080, "0", E, &v, &err), 0);
    CHECK_INT(v, 0);
    /* 999 x 0.333 = 332.667 */
    CHECK_INT(eng_money_mul_qty(999, "0.333", HU, &v, &err), 0);
    CHECK_INT(v, 333);
    CHECK_INT(eng_money_mul_qty(999, "0.333", E, &v, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "exact") != NULL);
    /* ties: 5 x 0.5 = 2.5 */
    CHECK_INT(eng_money_mul_qty(5, "0.5", HU, &v, &err), 0);
    CHECK_INT(v, 3);
    CHECK_INT(eng_money_mul_qty(5, "0.5", HE, &v, &err), 0);
    CHECK_INT(v, 2);
    CHECK_INT(eng_money_mul_qty(-5, "0.5", HU, &v, &err), 0);
    CHECK_INT(v, -3);
    CHECK_INT(eng_money_mul_qty(-5, "0.5", HE, &v, &err), 0);
    CHECK_INT(v, -2);
    CHECK_INT(eng_money_mul_qty(7, "0.5", HE, &v, &err), 0);
    CHECK_INT(v, 4);
    CHECK_INT(eng_money_mul_qty(1, "0.000000000000000001", HU, &v, &err), 0);
    CHECK_INT(v, 0);
    /* 128-bit intermediate: a huge price times a small fraction */
    CHECK_INT(eng_money_mul_qty(INT64_MAX, "0.5", HU, &v, &err), 0);
    CHECK_INT(v, INT64_MAX / 2 + 1);
    CHECK_INT(eng_money_mul_qty(INT64_MIN, "0.5", E, &v, &err), 0);
    CHECK_INT(v, INT64_MIN / 2);
    CHECK_INT(eng_money_mul_qty(INT64_MIN, "1", E, &v, &err), 0);
    CHECK_INT(v, INT64_MIN);
    v = 777;
    CHECK_INT(eng_money_mul_qty(INT64_MIN, "-1", E, &v, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "overflows") != NULL);
    CHECK_INT(eng_money_mul_qty(INT64_MAX, "1.5", HU, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_mul_qty(100, "abc", HU, &v, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "money: cannot parse \"abc\" as a quantity");
    CHECK_INT(eng_money_mul_qty(100, "1e2", HU, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_mul_qty(100, "", HU, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_mul_qty(100, "0.0000000000000000001", HU, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_mul_qty(100, "99999999999999999999", HU, &v, &err), ENG_EINVAL);
    CHECK_INT(eng_money_mul_qty(100, NULL, HU, &v, &err), ENG_EINVAL);
    CHECK_INT(v, 777);
}

/* ---- allocation ---- */

static int alloc_ok(int64_t total, const int64_t *w, size_t n, int64_t *out)
{
    struct eng_err err = {0};
    int rc = eng_money_allocate(total, w, n, out, &err);
    if (rc != 0)
        fprintf(stderr, "allocate failed: %s\n", err.msg);
    return rc == 0;
}

#define ALLOC_EXPECT(total, weights, ...)                                                          \
    do {                                                                                           \
        static const int64_t w_[] = weights;                                                       \
        static const int64_t want_[] = __VA_ARGS__;                                                \
        int64_t out_[sizeof w_ / sizeof w_[0]];                                                    \
        REQUIRE(alloc_ok((total), w_, sizeof w_ / sizeof w_[0], out_));                            \
        for (size_t i_ = 0; i_ < sizeof w_ / sizeof w_[0]; i_++)                                   \
            CHECK_INT(out_[i_], want_[i_]);                                                        \
    } while (0)

#define W(...)                                                                                     \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

static void test_allocate_known(void)
{
    ALLOC_EXPECT(100, W(1, 1, 1), {34, 33, 33});
    ALLOC_EXPECT(-100, W(1, 1, 1), {-34, -33, -33});
    ALLOC_EXPECT(101, W(1, 1, 1), {34, 34, 33});
    ALLOC_EXPECT(100, W(1, 1, 1, 1), {25, 25, 25, 25});
    ALLOC_EXPECT(1, W(1, 1, 1), {1, 0, 0});
    ALLOC_EXPECT(2, W(1, 1, 1), {1, 1, 0});
    ALLOC_EXPECT(0, W(5, 7), {0, 0});
    /* zero weights get nothing, even when the others tie */
    ALLOC_EXPECT(100, W(0, 1, 0, 1, 1), {0, 34, 0, 33, 33});
    ALLOC_EXPECT(5, W(0, 3), {0, 5});
    /* largest remainder wins over index order: 10 over 1:2:4 = 1.43, 2.86, 5.71 */
    ALLOC_EXPECT(10, W(1, 2, 4), {1, 3, 6});
    /* a discount of 5.00 over lines 6.00 and 12.00 (order 727) */
    ALLOC_EXPECT(500, W(600, 1200), {167, 333});
    ALLOC_EXPECT(-500, W(600, 1200), {-167, -333});
    /* the 0.01 left over goes to the largest remainder, not the largest line */
    ALLOC_EXPECT(100, W(2, 2, 3), {29, 28, 43});
    /* one weight takes everything, including the extremes */
    ALLOC_EXPECT(INT64_MIN, W(7), {INT64_MIN});
    ALLOC_EXPECT(INT64_MAX, W(INT64_MAX), {INT64_MAX});
    ALLOC_EXPECT(INT64_MIN, W(INT64_MAX, INT64_MAX), {INT64_MIN / 2, INT64_MIN / 2});
    ALLOC_EXPECT(INT64_MAX, W(INT64_MAX, INT64_MAX), {INT64_MAX / 2 + 1, INT64_MAX / 2});
    ALLOC_EXPECT(INT64_MAX, W(1, INT64_MAX), {1, INT64_MAX - 1});
    ALLOC_EXPECT(3, W(INT64_MAX, INT64_MAX - 1, 1), {2, 1, 0});
}

static void test_allocate_errors(void)
{
    struct eng_err err = {0};
    int64_t out[3] = {7, 7, 7};
    const int64_t zeros[3] = {0, 0, 0};
    const int64_t negw[3] = {1, -1, 1};
    CHECK_INT(eng_money_allocate(100, zeros, 3, out, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "all zero") != NULL);
    CHECK_INT(out[0], 7);
    CHECK_INT(eng_money_allocate(100, negw, 3, out, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "weight 2 is negative") != NULL);
    CHECK_INT(out[0], 7);
    CHECK_INT(eng_money_allocate(100, NULL, 0, NULL, &err), ENG_EINVAL);
    CHECK_INT(eng_money_allocate(0, NULL, 0, NULL, &err), 0);
    CHECK_INT(eng_money_allocate(0, zeros, 3, out, &err), 0);
    CHECK_INT(out[0] | out[1] | out[2], 0);
    CHECK_INT(eng_money_allocate(1, NULL, 3, out, &err), ENG_EINVAL);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    uint64_t x = rng_state; /* xorshift64*, fixed seed: reproducible */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Slow reference: floors, then repeatedly give one unit to the largest unused remainder. */
static void ref_allocate(int64_t total, const int64_t *w, size_t n, int64_t *out)
{
    u128 wsum = 0, rem[64];
    uint64_t tmag = mag_of(total), given = 0;
    int used[64] = {0};
    for (size_t i = 0; i < n; i++)
        wsum += (u128)w[i];
    for (size_t i = 0; i < n; i++) {
        u128 p = (u128)tmag * (u128)w[i];
        out[i] = (int64_t)(uint64_t)(p / wsum); /* test only: magnitudes < 2^63 here */
        rem[i] = p % wsum;
        given += (uint64_t)(p / wsum);
    }
    for (uint64_t k = given; k < tmag; k++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!used[i] && (best == n || rem[i] > rem[best]))
                best = i;
        used[best] = 1;
        out[best]++;
    }
    if (total < 0)
        for (size_t i = 0; i < n; i++)
            out[i] = -out[i];
}

static int64_t rand_amount(void)
{
    switch (rng() % 4) {
    case 0:
        return (int64_t)(rng() % 2001) - 1000; /* small */
    case 1:
        return (int64_t)(rng() % 20000001) - 10000000; /* realistic */
    case 2:
        return (int64_t)(rng() >> 2) - (int64_t)(rng() >> 2); /* huge */
    default:
        return (int64_t)(rng() % 2 ? INT64_MAX - (int64_t)(rng() % 5)
                                   : INT64_MIN + (int64_t)(rng() % 5));
    }
}

static int64_t rand_weight(void)
{
    switch (rng() % 5) {
    case 0:
        return 0;
    case 1:
        return (int64_t)(rng() % 4) + 1;
    case 2:
        return (int64_t)(rng() % 100000);
    case 3:
        return (int64_t)(rng() >> 1);
    default:
        return 1000;
    }
}

static void test_allocate_property(void)
{
    int64_t w[64], out[64], ref[64];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(rng() % 12) + 1;
        if (iter % 100 == 0)
            n = (size_t)(rng() % 64) + 1;
        int64_t total = rand_amount();
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            w[i] = rand_weight();
            any |= w[i] != 0;
        }
        if (!any)
            w[rng() % n] = 1;
        REQUIRE(alloc_ok(total, w, n, out));
        /* 1. the parts sum exactly to the total (in 128 bits, so nothing can hide) */
        i128 sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += out[i];
        CHECK(sum == (i128)total);
        /* 2. each part is its exact quota rounded down or up, with the total's sign; 0 for w=0 */
        u128 wsum = 0;
        for (size_t i = 0; i < n; i++)
            wsum += (u128)w[i];
        for (size_t i = 0; i < n; i++) {
            u128 fl = (u128)mag_of(total) * (u128)w[i] / wsum;
            u128 m = (u128)mag_of(out[i]);
            CHECK(m == fl || m == fl + 1);
            CHECK(out[i] == 0 || (out[i] < 0) == (total < 0));
            if (w[i] == 0)
                CHECK_INT(out[i], 0);
        }
        /* 3. identical to the slow reference (when its magnitudes are representable) */
        if (total != INT64_MIN) {
            ref_allocate(total, w, n, ref);
            for (size_t i = 0; i < n; i++)
                if (out[i] != ref[i]) {
                    fprintf(stderr, "iter %d index %zu: got %lld, reference %lld\n", iter, i,
                            (long long)out[i], (long long)ref[i]);
                    CHECK(0);
                    return;
                }
        }
    }
}

static void test_currency_decimals(void)
{
    struct eng_err err = {0};
    CHECK_INT(eng_money_decimals_for_currency("USD", &err), 2);
    CHECK_INT(eng_money_decimals_for_currency("EUR", &err), 2);
    CHECK_INT(eng_money_decimals_for_currency("AED", &err), 2);
    CHECK_INT(eng_money_decimals_for_currency("JPY", &err), 0);
    CHECK_INT(eng_money_decimals_for_currency("KRW", &err), 0);
    CHECK_INT(eng_money_decimals_for_currency("VND", &err), 0);
    CHECK_INT(eng_money_decimals_for_currency("CLP", &err), 0);
    CHECK_INT(eng_money_decimals_for_currency("ISK", &err), 0);
    CHECK_INT(eng_money_decimals_for_currency("XOF", &err), 0);
    static const char *three[] = {"KWD", "BHD", "OMR", "JOD", "TND", "LYD", "IQD"};
    for (size_t i = 0; i < sizeof three / sizeof three[0]; i++)
        CHECK_INT(eng_money_decimals_for_currency(three[i], &err), 3);
    CHECK_INT(eng_money_decimals_for_currency("CLF", &err), 4);
    CHECK_INT(eng_money_decimals_for_currency("UYW", &err), 4);
    CHECK_INT(eng_money_decimals_for_currency("ZZZ", &err), 2); /* unknown but well-formed */
    static const char *bad[] = {"", "US", "USDX", "usd", "Usd", "U$D", "12A", " USD", "USD "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        CHECK_INT(eng_money_decimals_for_currency(bad[i], &err), ENG_EINVAL);
        CHECK(strstr(err.msg, "currency code") != NULL);
    }
    CHECK_INT(eng_money_decimals_for_currency(NULL, &err), ENG_EINVAL);
    CHECK_INT(eng_money_decimals_for_currency("usd", &err), ENG_EINVAL);
    CHECK_STR(err.msg,
              "money: \"usd\" is not an ISO 4217 currency code (three upper-case letters)");
}

CHECK_MAIN(CHECK_CASE(test_parse_table), CHECK_CASE(test_parse_messages),
           CHECK_CASE(test_from_double), CHECK_CASE(test_from_units), CHECK_CASE(test_format),
           CHECK_CASE(test_format_parse_property), CHECK_CASE(test_checked_arith),
           CHECK_CASE(test_mul_qty), CHECK_CASE(test_allocate_known),
           CHECK_CASE(test_allocate_errors), CHECK_CASE(test_allocate_property),
           CHECK_CASE(test_currency_decimals))
