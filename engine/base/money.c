/*
 * money.c - exact decimal money in int64 minor units (see money.h for every contract).
 * Owns: the decimal scanner, rounding, checked arithmetic, largest-remainder allocation, the
 * ISO 4217 exponent table. Must not: use floating point for money (the one double is an input
 * converted through text in eng_money_from_double), allocate, or keep state.
 * Uses __int128 and __builtin_*_overflow (GCC and Clang) for exact intermediates.
 */
#include "base/money.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

#define QUOTE_MAX 40 /* input bytes quoted in an error message */

static const uint64_t pow10_u64[ENG_MONEY_MAX_DECIMALS + 2] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
    10000000000000000000ULL,
};

#define MAG_LIMIT_POS ((uint64_t)INT64_MAX)
#define MAG_LIMIT_NEG ((uint64_t)INT64_MAX + 1u)

/* ---- small helpers ---- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Write `s` (len bytes) as a quoted, escaped, truncated literal into q (size n). */
static void quote(char *q, size_t n, const char *s, size_t len)
{
    size_t w = 0;
    size_t shown = len > QUOTE_MAX ? QUOTE_MAX : len;
    if (n < 8) {
        if (n > 0)
            q[0] = '\0';
        return;
    }
    q[w++] = '"';
    for (size_t i = 0; i < shown && w + 8 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            q[w++] = '\\';
            q[w++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            q[w++] = (char)c;
        } else {
            static const char hex[] = "0123456789abcdef";
            q[w++] = '\\';
            q[w++] = 'x';
            q[w++] = hex[c >> 4];
            q[w++] = hex[c & 15];
        }
    }
    q[w++] = '"';
    if (shown < len && w + 4 < n) {
        for (int k = 0; k < 3; k++)
            q[w++] = '.';
    }
    q[w] = '\0';
}

/* Magnitude of a signed value, exact for INT64_MIN. */
static uint64_t mag_of(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* Signed value of (neg, mag) where mag <= 2^63 (and mag < 2^63 when !neg). */
static int64_t from_mag(int neg, uint64_t mag)
{
    if (!neg)
        return (int64_t)mag;
    if (mag == 0)
        return 0;
    return -(int64_t)(mag - 1u) - 1;
}

static int bad_decimals(int decimals)
{
    return decimals < 0 || decimals > ENG_MONEY_MAX_DECIMALS;
}

/* ---- the decimal scanner shared by parse and mul_qty ---- */

struct dec {
    int neg;
    const char *ip; /* integer digits */
    size_t ilen;
    const char *fp; /* fraction digits */
    size_t flen;
};

/* Split text into sign, integer digits and fraction digits; -1 when it is not a plain decimal. */
static int scan_decimal(const char *s, size_t len, struct dec *d)
{
    size_t i = 0;
    *d = (struct dec){0};
    while (i < len && is_space(s[i]))
        i++;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        d->neg = s[i] == '-';
        i++;
    }
    d->ip = s + i;
    while (i < len && is_digit(s[i]))
        i++;
    d->ilen = (size_t)(s + i - d->ip);
    d->fp = s + i;
    if (i < len && s[i] == '.') {
        i++;
        d->fp = s + i;
        while (i < len && is_digit(s[i]))
            i++;
        d->flen = (size_t)(s + i - d->fp);
    }
    if (d->ilen + d->flen == 0)
        return -1;
    while (i < len && is_space(s[i]))
        i++;
    return i == len ? 0 : -1;
}

enum conv_result { CONV_OK, CONV_OVERFLOW, CONV_INEXACT };

/* Append one digit to *mag; 0 or -1 on uint64 overflow. */
static int push_digit(uint64_t *mag, unsigned digit)
{
    if (*mag > (UINT64_MAX - digit) / 10u)
        return -1;
    *mag = *mag * 10u + digit;
    return 0;
}

/* Scanned decimal -> minor units at `decimals`, rounding the digits beyond by `mode`. */
static enum conv_result dec_to_minor(const struct dec *d, int decimals,
                                     enum eng_money_rounding mode, int64_t *out)
{
    uint64_t mag = 0;
    size_t keep = (size_t)decimals;
    for (size_t i = 0; i < d->ilen; i++)
        if (push_digit(&mag, (unsigned)(d->ip[i] - '0')) != 0)
            return CONV_OVERFLOW;
    for (size_t i = 0; i < keep; i++) {
        unsigned digit = i < d->flen ? (unsigned)(d->fp[i] - '0') : 0u;
        if (push_digit(&mag, digit) != 0)
            return CONV_OVERFLOW;
    }
    if (d->flen > keep) {
        unsigned first = (unsigned)(d->fp[keep] - '0');
        int rest_nonzero = 0;
        for (size_t i = keep + 1; i < d->flen; i++)
            rest_nonzero |= d->fp[i] != '0';
        int up = 0;
        switch (mode) {
        case ENG_MONEY_EXACT:
            if (first != 0 || rest_nonzero)
                return CONV_INEXACT;
            break;
        case ENG_MONEY_HALF_UP:
            up = first >= 5;
            break;
        case ENG_MONEY_HALF_EVEN:
            up = first > 5 || (first == 5 && (rest_nonzero || (mag & 1u)));
            break;
        }
        if (up) {
            if (mag == UINT64_MAX)
                return CONV_OVERFLOW;
            mag++;
        }
    }
    if (mag > (d->neg ? MAG_LIMIT_NEG : MAG_LIMIT_POS))
        return CONV_OVERFLOW;
    *out = from_mag(d->neg, mag);
    return CONV_OK;
}

/* ---- parse / format ---- */

int eng_money_parse_n(const char *s, size_t len, int decimals, enum eng_money_rounding mode,
                      int64_t *out, struct eng_err *err)
{
    char q[QUOTE_MAX * 4 + 8];
    struct dec d;
    int64_t v = 0;
    if (s == NULL)
        return eng_err_set(err, ENG_EINVAL, "money: cannot parse a missing (NULL) amount");
    if (bad_decimals(decimals))
        return eng_err_set(err, ENG_EINVAL, "money: decimals must be 0..%d, got %d",
                           ENG_MONEY_MAX_DECIMALS, decimals);
    quote(q, sizeof q, s, len);
    if (scan_decimal(s, len, &d) != 0)
        return eng_err_set(err, ENG_EINVAL, "money: cannot parse %s as an amount", q);
    switch (dec_to_minor(&d, decimals, mode, &v)) {
    case CONV_OK:
        *out = v;
        return 0;
    case CONV_INEXACT:
        return eng_err_set(err, ENG_EINVAL,
                           "money: cannot parse %s as an amount: more than %d decimal place%s and "
                           "rounding is \"exact\"",
                           q, decimals, decimals == 1 ? "" : "s");
    case CONV_OVERFLOW:
    default:
        return eng_err_set(err, ENG_EINVAL,
                           "money: cannot parse %s as an amount: out of range for 64-bit minor "
                           "units at %d decimals",
                           q, decimals);
    }
}

int eng_money_parse(const char *s, int decimals, enum eng_money_rounding mode, int64_t *out,
                    struct eng_err *err)
{
    return eng_money_parse_n(s, s != NULL ? strlen(s) : 0, decimals, mode, out, err);
}

int eng_money_from_double(double v, int decimals, enum eng_money_rounding mode, int64_t *out,
                          struct eng_err *err)
{
    char buf[64];
    if (bad_decimals(decimals))
        return eng_err_set(err, ENG_EINVAL, "money: decimals must be 0..%d, got %d",
                           ENG_MONEY_MAX_DECIMALS, decimals);
    if (isnan(v) || isinf(v))
        return eng_err_set(err, ENG_EINVAL, "money: cannot convert %s to an amount",
                           isnan(v) ? "NaN" : (v < 0 ? "-inf" : "inf"));
    if (mode == ENG_MONEY_EXACT)
        return eng_err_set(err, ENG_EINVAL,
                           "money: cannot convert the float %.17g exactly; a binary float is not "
                           "a decimal amount, pass rounding \"half_up\" or \"half_even\"",
                           v);
    if (!(fabs(v) < 1e19))
        return eng_err_set(err, ENG_EINVAL,
                           "money: cannot convert the float %.17g: out of range for 64-bit minor "
                           "units",
                           v);
    int n = snprintf(buf, sizeof buf, "%.*f", decimals + 2, v);
    if (n < 0 || (size_t)n >= sizeof buf)
        return eng_err_set(err, ENG_EINVAL, "money: cannot convert the float %.17g", v);
    /* A non-C LC_NUMERIC may print ',' for the point: normalise it. */
    for (char *p = buf; *p != '\0'; p++)
        if (!is_digit(*p) && *p != '-') {
            *p = '.';
            break;
        }
    return eng_money_parse_n(buf, (size_t)n, decimals, mode, out, err);
}

int eng_money_from_units(int64_t units, int decimals, int64_t *out, struct eng_err *err)
{
    int64_t v;
    if (bad_decimals(decimals))
        return eng_err_set(err, ENG_EINVAL, "money: decimals must be 0..%d, got %d",
                           ENG_MONEY_MAX_DECIMALS, decimals);
    if (__builtin_mul_overflow(units, (int64_t)pow10_u64[decimals], &v))
        return eng_err_set(err, ENG_EINVAL,
                           "money: %lld units overflow 64-bit minor units at %d decimals",
                           (long long)units, decimals);
    *out = v;
    return 0;
}

int eng_money_format(int64_t minor, int decimals, char *buf, size_t n)
{
    char tmp[ENG_MONEY_FMT_SIZE];
    size_t w = sizeof tmp;
    uint64_t mag = mag_of(minor);
    int digits = 0;
    if (buf == NULL)
        return ENG_EINVAL;
    if (n > 0)
        buf[0] = '\0';
    if (bad_decimals(decimals))
        return ENG_EINVAL;
    /* Build right to left: fraction digits, the point, then at least one integer digit. */
    tmp[--w] = '\0';
    do {
        if (decimals > 0 && digits == decimals)
            tmp[--w] = '.';
        tmp[--w] = (char)('0' + (int)(mag % 10u));
        mag /= 10u;
        digits++;
    } while (mag != 0 || digits <= decimals);
    if (minor < 0)
        tmp[--w] = '-';
    if (sizeof tmp - w > n)
        return ENG_EINVAL;
    memcpy(buf, tmp + w, sizeof tmp - w);
    return 0;
}

/* ---- checked arithmetic ---- */

/* The failure of a op b (the result does not fit): ENG_EINVAL with the one sentence for it. */
static int overflows(struct eng_err *err, int64_t a, const char *op, int64_t b)
{
    return eng_err_set(err, ENG_EINVAL, "money: %lld %s %lld overflows 64-bit minor units",
                       (long long)a, op, (long long)b);
}

int eng_money_add(int64_t a, int64_t b, int64_t *out, struct eng_err *err)
{
    int64_t v;
    if (__builtin_add_overflow(a, b, &v))
        return overflows(err, a, "+", b);
    *out = v;
    return 0;
}

int eng_money_sub(int64_t a, int64_t b, int64_t *out, struct eng_err *err)
{
    int64_t v;
    if (__builtin_sub_overflow(a, b, &v))
        return overflows(err, a, "-", b);
    *out = v;
    return 0;
}

int eng_money_neg(int64_t a, int64_t *out, struct eng_err *err)
{
    if (a == INT64_MIN)
        return eng_err_set(err, ENG_EINVAL, "money: -(%lld) overflows 64-bit minor units",
                           (long long)a);
    *out = -a;
    return 0;
}

int eng_money_mul_int(int64_t minor, int64_t qty, int64_t *out, struct eng_err *err)
{
    int64_t v;
    if (__builtin_mul_overflow(minor, qty, &v))
        return overflows(err, minor, "x", qty);
    *out = v;
    return 0;
}

/* num / den rounded by mode (den > 0, |num| < 2^127); -1 when EXACT and not a whole quotient. */
static int div_round(i128 num, u128 den, enum eng_money_rounding mode, i128 *q)
{
    int neg = num < 0;
    u128 mag = neg ? (u128)0 - (u128)num : (u128)num;
    u128 quo = mag / den, rem = mag % den;
    int up = 0;
    if (rem != 0) {
        switch (mode) {
        case ENG_MONEY_EXACT:
            return -1;
        case ENG_MONEY_HALF_UP:
            up = rem >= den - rem;
            break;
        case ENG_MONEY_HALF_EVEN:
            up = rem > den - rem || (rem == den - rem && (quo & 1u));
            break;
        }
    }
    quo += (u128)up;
    *q = neg ? -(i128)quo : (i128)quo;
    return 0;
}

int eng_money_mul_qty_n(int64_t minor, const char *qty, size_t len, enum eng_money_rounding mode,
                        int64_t *out, struct eng_err *err)
{
    char q[QUOTE_MAX * 4 + 8];
    struct dec d;
    int64_t qv = 0;
    i128 res;
    if (qty == NULL)
        return eng_err_set(err, ENG_EINVAL, "money: missing (NULL) quantity");
    quote(q, sizeof q, qty, len);
    if (scan_decimal(qty, len, &d) != 0)
        return eng_err_set(err, ENG_EINVAL, "money: cannot parse %s as a quantity", q);
    while (d.flen > 0 && d.fp[d.flen - 1] == '0') /* "1.50" is "1.5": scale by what matters */
        d.flen--;
    if (d.flen > ENG_MONEY_MAX_DECIMALS)
        return eng_err_set(err, ENG_EINVAL,
                           "money: quantity %s has more than %d significant decimal places", q,
                           ENG_MONEY_MAX_DECIMALS);
    if (dec_to_minor(&d, (int)d.flen, ENG_MONEY_EXACT, &qv) != CONV_OK)
        return eng_err_set(err, ENG_EINVAL, "money: quantity %s is out of range", q);
    /* |minor * qv| <= 2^126: always fits in signed 128 bits. */
    if (div_round((i128)minor * (i128)qv, (u128)pow10_u64[d.flen], mode, &res) != 0)
        return eng_err_set(err, ENG_EINVAL,
                           "money: %lld x %s is not a whole number of minor units and rounding "
                           "is \"exact\"",
                           (long long)minor, q);
    if (res > (i128)INT64_MAX || res < (i128)INT64_MIN)
        return eng_err_set(err, ENG_EINVAL, "money: %lld x %s overflows 64-bit minor units",
                           (long long)minor, q);
    *out = (int64_t)res;
    return 0;
}

int eng_money_mul_qty(int64_t minor, const char *qty, enum eng_money_rounding mode, int64_t *out,
                      struct eng_err *err)
{
    return eng_money_mul_qty_n(minor, qty, qty != NULL ? strlen(qty) : 0, mode, out, err);
}

/* ---- allocation ---- */

/* How many remainders (|total| * w_i mod W) are >= t. */
static size_t count_rem_ge(uint64_t tmag, const int64_t *weights, size_t n, u128 wsum, u128 t)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((u128)tmag * (u128)weights[i]) % wsum >= t)
            c++;
    return c;
}

int eng_money_allocate(int64_t total, const int64_t *weights, size_t n, int64_t *out,
                       struct eng_err *err)
{
    u128 wsum = 0;
    uint64_t tmag = mag_of(total), given = 0;
    int neg = total < 0;
    if (n > 0 && (weights == NULL || out == NULL))
        return eng_err_set(err, ENG_EINVAL, "money: allocate: missing weights or output array");
    for (size_t i = 0; i < n; i++) {
        if (weights[i] < 0)
            return eng_err_set(err, ENG_EINVAL,
                               "money: weight %zu is negative (%lld); weights must be "
                               ">= 0",
                               i + 1, (long long)weights[i]);
        wsum += (u128)weights[i]; /* n < 2^64 weights < 2^63 each: cannot wrap */
    }
    if (wsum == 0) {
        if (total != 0)
            return eng_err_set(err, ENG_EINVAL,
                               "money: cannot split %lld over %zu weight%s that are all "
                               "zero",
                               (long long)total, n, n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            out[i] = 0;
        return 0;
    }
    /* Floors first (signed at once); the leftover is < the number of non-zero remainders. */
    for (size_t i = 0; i < n; i++) {
        uint64_t share = (uint64_t)(((u128)tmag * (u128)weights[i]) / wsum);
        out[i] = from_mag(neg, share);
        given += share;
    }
    uint64_t left = tmag - given;
    if (left > 0) {
        /* Parts stay within [-|total|, |total|], so the +-1 below cannot overflow. */
        int64_t unit = neg ? -1 : 1;
        /* Threshold t = the largest value with at least `left` remainders >= t (t >= 1). */
        u128 lo = 1, hi = wsum - 1;
        while (lo < hi) {
            u128 mid = lo + (hi - lo + 1) / 2;
            if (count_rem_ge(tmag, weights, n, wsum, mid) >= left)
                lo = mid;
            else
                hi = mid - 1;
        }
        /* Everything strictly above t gets one; ties at t fill the rest, earliest index first. */
        for (size_t i = 0; i < n; i++)
            if (((u128)tmag * (u128)weights[i]) % wsum > lo) {
                out[i] += unit;
                left--;
            }
        for (size_t i = 0; i < n && left > 0; i++)
            if (((u128)tmag * (u128)weights[i]) % wsum == lo) {
                out[i] += unit;
                left--;
            }
    }
    return 0;
}

/* ---- ISO 4217 minor units ---- */

/* Codes whose minor unit is not 2 (ISO 4217 list one, 2024). Everything else well-formed is 2. */
static const struct {
    char code[4];
    int decimals;
} currency_exceptions[] = {
    {"BIF", 0}, {"CLP", 0}, {"DJF", 0}, {"GNF", 0}, {"ISK", 0}, {"JPY", 0}, {"KMF", 0},
    {"KRW", 0}, {"PYG", 0}, {"RWF", 0}, {"UGX", 0}, {"UYI", 0}, {"VND", 0}, {"VUV", 0},
    {"XAF", 0}, {"XOF", 0}, {"XPF", 0}, {"BHD", 3}, {"IQD", 3}, {"JOD", 3}, {"KWD", 3},
    {"LYD", 3}, {"OMR", 3}, {"TND", 3}, {"CLF", 4}, {"UYW", 4},
};

int eng_money_decimals_for_currency(const char *code, struct eng_err *err)
{
    char q[QUOTE_MAX * 4 + 8];
    if (code == NULL)
        return eng_err_set(err, ENG_EINVAL, "money: missing (NULL) currency code");
    size_t len = strnlen(code, QUOTE_MAX + 1);
    int ok = len == 3;
    for (size_t i = 0; ok && i < 3; i++)
        ok = code[i] >= 'A' && code[i] <= 'Z';
    if (!ok) {
        quote(q, sizeof q, code, len);
        return eng_err_set(err, ENG_EINVAL,
                           "money: %s is not an ISO 4217 currency code (three upper-case letters)",
                           q);
    }
    for (size_t i = 0; i < sizeof currency_exceptions / sizeof currency_exceptions[0]; i++)
        if (memcmp(code, currency_exceptions[i].code, 3) == 0)
            return currency_exceptions[i].decimals;
    return 2;
}
