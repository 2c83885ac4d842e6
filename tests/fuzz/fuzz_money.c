/*
 * fuzz_money.c - libFuzzer target: engine.money's C core (base/money.c), which parses amounts
 * and quantities that come from shop data (order totals, line prices, quantities).
 * Input: byte 0 picks `decimals` (0..20: 19 and 20 must be refused), byte 1 the rounding mode,
 * the rest is the text. Checks: parse_n never accepts what it should refuse silently (a parse
 * that succeeds formats back to text that parses EXACT to the same minor units); mul_qty_n on
 * the same text never wraps (its result agrees in sign with the inputs when nonzero); a double
 * from the input bytes converts or is refused; allocate sums exactly to its total.
 * Corpus: tests/fuzz/corpus/money/ (the amounts of the fixtures, edges of int64).
 */
#include "fuzz.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/money.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int decimals = data[0] % 21;
    enum eng_money_rounding mode = (enum eng_money_rounding)(data[1] % 3);
    const char *s = (const char *)data + 2;
    size_t n = size - 2;
    struct eng_err err = {0};

    int64_t v = 0;
    int rc = eng_money_parse_n(s, n, decimals, mode, &v, &err);
    check(rc == 0 || rc == ENG_EINVAL);
    if (decimals > ENG_MONEY_MAX_DECIMALS)
        check(rc != 0);
    if (rc == 0) {
        char buf[ENG_MONEY_FMT_SIZE];
        check(eng_money_format(v, decimals, buf, sizeof buf) == 0);
        int64_t back = 0;
        check(eng_money_parse(buf, decimals, ENG_MONEY_EXACT, &back, &err) == 0);
        check(back == v);
        int64_t neg;
        if (eng_money_neg(v, &neg, &err) == 0)
            check(v == INT64_MIN || neg == -v);
    }

    /* the same text as a quantity times a price */
    int64_t price = 1080, prod = 0;
    if (n >= 8)
        memcpy(&price, s, 8);
    rc = eng_money_mul_qty_n(price, s, n, mode, &prod, &err);
    check(rc == 0 || rc == ENG_EINVAL);

    /* a double from the input's first bytes */
    if (n >= 8) {
        double d;
        memcpy(&d, s, sizeof d);
        int64_t m = 0;
        rc = eng_money_from_double(d, decimals > 18 ? 2 : decimals,
                                   mode == ENG_MONEY_EXACT ? ENG_MONEY_HALF_UP : mode, &m, &err);
        if (!isfinite(d) || fabs(d) >= 1e19)
            check(rc != 0);
    }

    /* currency code */
    char code[8] = {0};
    memcpy(code, s, n < 7 ? n : 7);
    rc = eng_money_decimals_for_currency(code, &err);
    check(rc == ENG_EINVAL || (rc >= 0 && rc <= 4));

    /* allocate the parsed amount over weights taken from the input */
    if (n >= 2) {
        int64_t w[16], out[16];
        size_t k = (size_t)(data[1] >> 4) % 16 + 1;
        for (size_t i = 0; i < k; i++)
            w[i] = (int64_t)(uint8_t)s[i % n] * (i + 1);
        if (eng_money_allocate(v, w, k, out, &err) == 0) {
            __int128 sum = 0;
            for (size_t i = 0; i < k; i++)
                sum += out[i];
            check(sum == v);
        }
    }
    return 0;
}
