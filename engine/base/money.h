/*
 * money.h - exact decimal money as int64 minor units (cents, yen, fils...). Never a float.
 * Owns: parsing decimal text, formatting, checked arithmetic, proportional allocation and the
 * ISO 4217 minor-unit table. Pure functions: no allocation, no I/O, no global state, thread-safe.
 * Must not: round silently (every rounding is an explicit mode), or turn bad input into 0.
 * Every function returns 0 or a negative ENG_E* code and, given a struct eng_err, a sentence that
 * names the bad input. Outputs are written only on success.
 */
#ifndef ENG_MONEY_H
#define ENG_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Largest `decimals` accepted anywhere (10^18 is the largest power of ten in an int64). */
#define ENG_MONEY_MAX_DECIMALS 18
/* A buffer this size always holds eng_money_format's output ("-9.223372036854775808" + NUL). */
#define ENG_MONEY_FMT_SIZE 32

enum eng_money_rounding {
    ENG_MONEY_EXACT,     /* refuse any digit that would be lost (extra zeros are fine) */
    ENG_MONEY_HALF_UP,   /* ties away from zero: 0.125 -> 0.13, -0.125 -> -0.13 */
    ENG_MONEY_HALF_EVEN, /* ties to the even neighbour (banker's): 0.125 -> 0.12, 0.135 -> 0.14 */
};

/*
 * Parse decimal text into minor units at `decimals` (0..18) places.
 * Grammar: [ws] [+|-] digits [. digits] [ws], or [ws] [+|-] . digits [ws]; at least one digit;
 * ws is ASCII space, \t \n \v \f \r. No exponent, no thousands separator, no NaN/inf, no hex.
 * Digits past `decimals` are rounded by `mode`; ENG_MONEY_EXACT accepts them only when all zero
 * ("29.350" at 2). "-0.001" rounds to 0 (there is no negative zero).
 * Errors: ENG_EINVAL for bad syntax, lost digits under EXACT, a result outside int64, or a bad
 * `decimals`; the message quotes the input (escaped, truncated to 40 bytes).
 * parse_n takes a length (embedded NUL bytes are rejected); parse takes a C string.
 */
int eng_money_parse(const char *s, int decimals, enum eng_money_rounding mode, int64_t *out,
                    struct eng_err *err);
int eng_money_parse_n(const char *s, size_t len, int decimals, enum eng_money_rounding mode,
                      int64_t *out, struct eng_err *err);

/*
 * Convert a binary double (e.g. WooCommerce's line_items[].price, 10.799999999999999) to minor
 * units. A double is never exact decimal money, so `mode` must be HALF_UP or HALF_EVEN (EXACT ->
 * EINVAL). Method: print it with decimals+2 fraction digits ("%.*f", correctly rounded by glibc),
 * then parse that text with `mode`. The two guard digits absorb binary noise (10.799999999999999 ->
 * "10.8000"
 * -> 1080) while a real half-cent tie in the data (0.125 -> "0.1250") is still rounded by `mode`.
 * Consequence (documented, intended): a value within 0.005 minor units of a tie rounds as the tie.
 * NaN, infinities and |v| >= 1e19 -> EINVAL.
 */
int eng_money_from_double(double v, int decimals, enum eng_money_rounding mode, int64_t *out,
                          struct eng_err *err);

/* Whole units to minor units: units * 10^decimals, checked (3 at 2 decimals -> 300). */
int eng_money_from_units(int64_t units, int decimals, int64_t *out, struct eng_err *err);

/*
 * Write `minor` as decimal text with exactly `decimals` fraction digits into buf (size n):
 * 2935 -> "29.35", -5 -> "-0.05", 100 at 0 decimals -> "100", INT64_MIN works.
 * Returns 0, or ENG_EINVAL when decimals is out of range or n is too small (buf then holds ""
 * when n > 0). ENG_MONEY_FMT_SIZE is always enough. No locale is consulted.
 */
int eng_money_format(int64_t minor, int decimals, char *buf, size_t n);

/* Checked arithmetic: ENG_EINVAL ("... overflows 64-bit minor units") instead of wrapping. */
int eng_money_add(int64_t a, int64_t b, int64_t *out, struct eng_err *err);
int eng_money_sub(int64_t a, int64_t b, int64_t *out, struct eng_err *err);
int eng_money_neg(int64_t a, int64_t *out, struct eng_err *err);
/* minor * qty for an integer quantity (exact, checked). */
int eng_money_mul_int(int64_t minor, int64_t qty, int64_t *out, struct eng_err *err);

/*
 * minor * qty where qty is decimal text ("1.5", "-2", "0.333"; same grammar as parse, at most 18
 * significant fraction digits), rounded to whole minor units by `mode` (EXACT refuses a product
 * that is not a whole number of minor units). 1080 x "1.5" -> 1620. Computed in 128 bits, so only
 * the final result has to fit in int64. qty_n takes a length.
 */
int eng_money_mul_qty(int64_t minor, const char *qty, enum eng_money_rounding mode, int64_t *out,
                      struct eng_err *err);
int eng_money_mul_qty_n(int64_t minor, const char *qty, size_t len, enum eng_money_rounding mode,
                        int64_t *out, struct eng_err *err);

/*
 * Split `total` over n parts in proportion to `weights`, writing out[0..n-1] that sum EXACTLY to
 * total. Largest-remainder (Hamilton) method on |total| with 128-bit intermediates: each part gets
 * floor(|total| * w_i / sum(w)), then the units left over go one each to the largest remainders,
 * ties to the earlier index; a negative total mirrors the positive split (-100 over 1:1:1 ->
 * -34,-33,-33). Parts with weight 0 get 0. 100 over 1:1:1 -> 34,33,33.
 * Errors (ENG_EINVAL, out untouched): a negative weight; all weights zero (or n == 0) while
 * total != 0 - there is no proportional answer and an even split would invent one, so the caller
 * must decide. All weights zero (or n == 0) with total == 0 gives all zeros.
 * out may not alias weights. No allocation; O(n * 128) time.
 */
int eng_money_allocate(int64_t total, const int64_t *weights, size_t n, int64_t *out,
                       struct eng_err *err);

/*
 * ISO 4217 minor-unit digits for a currency code: JPY, KRW, VND, CLP, ISK... -> 0; USD, EUR... ->
 * 2; BHD, IQD, JOD, KWD, LYD, OMR, TND -> 3; CLF, UYW -> 4; any other 3 upper-case ASCII letters
 * -> 2. Returns the digits (>= 0), or ENG_EINVAL when code is NULL or not exactly [A-Z]{3} (lower
 * case is refused: WooCommerce and QuickBooks both send upper case, so lower case means a bug
 * upstream).
 */
int eng_money_decimals_for_currency(const char *code, struct eng_err *err);

#endif
