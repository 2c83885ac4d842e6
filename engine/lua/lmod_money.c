/*
 * lmod_money.c - engine.money: exact money for scripts, as Lua integers of minor units.
 * Owns: argument checking and the Lua face of money.c (all arithmetic lives there).
 * Must not: hand a script a float amount, or accept one where minor units are expected.
 * Errors: a wrong argument type or option is the caller's bug and raises
 * "<script>:<line>: money.<fn>: argument N is a float, expected integer minor units"; bad data
 * (text that is not an amount, a float without a rounding mode, a bad currency code, weights that
 * cannot be split) returns nil, message. Overflow of add/sub/neg/sum raises (no real order gets
 * near 9.2e16).
 */
#include "lua/lmods.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/json.h"
#include "lua/vm_int.h"
#include "base/money.h"

_Static_assert(sizeof(lua_Integer) == sizeof(int64_t), "engine.money needs 64-bit Lua integers");

#define DEFAULT_DECIMALS 2

static const char *const rounding_names[] = {"exact", "half_up", "half_even", NULL};
static const enum eng_money_rounding rounding_modes[] = {ENG_MONEY_EXACT, ENG_MONEY_HALF_UP,
                                                         ENG_MONEY_HALF_EVEN};

/* Raise "<script>:<line>: money.<fn>: <formatted>" (luaL_error adds the caller's position). [-0,
 * +0, v] */
static int money_raise(lua_State *L, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int money_raise(lua_State *L, const char *fn, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return luaL_error(L, "money.%s: %s", fn, msg);
}

/* "a float", "a string", "missing"... for the value at idx. [-0, +0, -] */
static const char *what_is(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNONE:
    case LUA_TNIL:
        return "missing";
    case LUA_TNUMBER:
        return lua_isinteger(L, idx) ? "an integer" : "a float";
    case LUA_TBOOLEAN:
        return "a boolean";
    case LUA_TSTRING:
        return "a string";
    case LUA_TTABLE:
        return "a table";
    case LUA_TFUNCTION:
        return "a function";
    case LUA_TUSERDATA:
    case LUA_TLIGHTUSERDATA:
        return "a userdata";
    case LUA_TTHREAD:
        return "a coroutine";
    default:
        return "an unknown value";
    }
}

/* Integer minor units at arg, or raise. Strings and floats are refused, even "12" or 12.0. [-0, +0,
 * v] */
static int64_t check_minor(lua_State *L, int arg, const char *fn)
{
    if (!lua_isinteger(L, arg))
        money_raise(L, fn, "argument %d is %s, expected integer minor units", arg, what_is(L, arg));
    return (int64_t)lua_tointeger(L, arg);
}

/* Optional decimals (0..18) at arg, default def. [-0, +0, v] */
static int opt_decimals(lua_State *L, int arg, const char *fn, int def)
{
    if (lua_isnoneornil(L, arg))
        return def;
    if (!lua_isinteger(L, arg))
        money_raise(L, fn, "argument %d (decimals) is %s, expected an integer 0..%d", arg,
                    what_is(L, arg), ENG_MONEY_MAX_DECIMALS);
    lua_Integer d = lua_tointeger(L, arg);
    if (d < 0 || d > ENG_MONEY_MAX_DECIMALS)
        money_raise(L, fn, "argument %d (decimals) is %lld, expected an integer 0..%d", arg,
                    (long long)d, ENG_MONEY_MAX_DECIMALS);
    return (int)d;
}

/* Optional rounding name at arg ("exact", "half_up", "half_even"), default def. [-0, +0, v] */
static enum eng_money_rounding opt_rounding(lua_State *L, int arg, const char *fn,
                                            enum eng_money_rounding def)
{
    if (lua_isnoneornil(L, arg))
        return def;
    if (lua_type(L, arg) == LUA_TSTRING) {
        const char *s = lua_tostring(L, arg);
        for (int i = 0; rounding_names[i] != NULL; i++)
            if (strcmp(s, rounding_names[i]) == 0)
                return rounding_modes[i];
    }
    money_raise(L, fn, "argument %d (rounding) must be \"exact\", \"half_up\" or \"half_even\"",
                arg);
    return def; /* not reached */
}

/* Push nil, message; returns 2. [-0, +2, m] */
static int push_fail(lua_State *L, const struct eng_err *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg);
    return 2;
}

/*
 * money.parse(v [, decimals=2 [, rounding="exact"]]) -> integer | nil, message   [-0, +(1|2), v]
 * v: decimal text ("29.35", " -16.20 ", "0.352941" with a rounding mode); a Lua integer meaning
 * whole units (3 -> 300); or a float, accepted only with "half_up"/"half_even" (WooCommerce's
 * line price 10.799999999999999 -> 1080; see eng_money_from_double: printed at decimals+2 digits,
 * then rounded). nil or json.null (WooCommerce sends null or "" for unset fields) is data:
 * nil, message. Other types raise.
 */
static int money_parse(lua_State *L)
{
    struct eng_err err = {0};
    int64_t v = 0;
    int rc;
    int t = lua_type(L, 1);
    int decimals = opt_decimals(L, 2, "parse", DEFAULT_DECIMALS);
    enum eng_money_rounding mode = opt_rounding(L, 3, "parse", ENG_MONEY_EXACT);

    if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, 1, &len);
        rc = eng_money_parse_n(s, len, decimals, mode, &v, &err);
    } else if (t == LUA_TNUMBER && lua_isinteger(L, 1)) {
        rc = eng_money_from_units((int64_t)lua_tointeger(L, 1), decimals, &v, &err);
    } else if (t == LUA_TNUMBER) {
        rc = eng_money_from_double((double)lua_tonumber(L, 1), decimals, mode, &v, &err);
    } else if (t == LUA_TNIL) {
        rc = eng_err_set(&err, ENG_EINVAL, "money: cannot parse nil as an amount");
    } else if (eng_json_is_null(L, 1)) {
        rc = eng_err_set(&err, ENG_EINVAL, "money: cannot parse null as an amount");
    } else {
        return money_raise(L, "parse", "argument 1 is %s, expected a string or a number",
                           what_is(L, 1));
    }
    if (rc != 0)
        return push_fail(L, &err);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* money.format(minor [, decimals=2]) -> string ("29.35", "-0.05")   [-0, +1, v] */
static int money_format(lua_State *L)
{
    char buf[ENG_MONEY_FMT_SIZE];
    int64_t minor = check_minor(L, 1, "format");
    int decimals = opt_decimals(L, 2, "format", DEFAULT_DECIMALS);
    if (eng_money_format(minor, decimals, buf, sizeof buf) != 0)
        return money_raise(L, "format", "cannot format %lld", (long long)minor); /* unreachable */
    lua_pushstring(L, buf);
    return 1;
}

/* money.add(a, b, ...) -> integer; raises on overflow.   [-0, +1, v] */
static int money_add(lua_State *L)
{
    int n = lua_gettop(L);
    int64_t acc = check_minor(L, 1, "add");
    check_minor(L, 2, "add");
    for (int i = 3; i <= n; i++)
        check_minor(L, i, "add");
    for (int i = 2; i <= n; i++)
        if (eng_money_add(acc, (int64_t)lua_tointeger(L, i), &acc, NULL) != 0)
            return money_raise(L, "add", "the sum overflows 64-bit minor units at argument %d", i);
    lua_pushinteger(L, (lua_Integer)acc);
    return 1;
}

/* money.sub(a, b) -> integer a - b; raises on overflow.   [-0, +1, v] */
static int money_sub(lua_State *L)
{
    int64_t a = check_minor(L, 1, "sub"), b = check_minor(L, 2, "sub"), v;
    if (eng_money_sub(a, b, &v, NULL) != 0)
        return money_raise(L, "sub", "%lld - %lld overflows 64-bit minor units", (long long)a,
                           (long long)b);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* money.neg(a) -> integer -a; raises for math.mininteger.   [-0, +1, v] */
static int money_neg(lua_State *L)
{
    int64_t a = check_minor(L, 1, "neg"), v;
    if (eng_money_neg(a, &v, NULL) != 0)
        return money_raise(L, "neg", "-(%lld) overflows 64-bit minor units", (long long)a);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* Length of the list at arg (honours __len, so read-only proxies work), or raise. [-0, +0, e] */
static lua_Integer check_list(lua_State *L, int arg, const char *fn, const char *what)
{
    if (lua_type(L, arg) != LUA_TTABLE)
        money_raise(L, fn, "argument %d is %s, expected a list of %s", arg, what_is(L, arg), what);
    lua_Integer n = luaL_len(L, arg);
    if (n < 0)
        money_raise(L, fn, "argument %d has a negative length", arg);
    return n;
}

/* money.sum(list) -> integer (0 for {}); raises on a non-integer element or overflow. [-0, +1, e]
 */
static int money_sum(lua_State *L)
{
    lua_Integer n = check_list(L, 1, "sum", "integer minor units");
    int64_t acc = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        eng_vm_charge(L, 1); /* n is the list's __len: the script's word */
        lua_geti(L, 1, i);
        if (!lua_isinteger(L, -1))
            return money_raise(L, "sum",
                               "element %lld of argument 1 is %s, expected integer minor units",
                               (long long)i, what_is(L, -1));
        int64_t v = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (eng_money_add(acc, v, &acc, NULL) != 0)
            return money_raise(L, "sum", "the sum overflows 64-bit minor units at element %lld",
                               (long long)i);
    }
    lua_pushinteger(L, (lua_Integer)acc);
    return 1;
}

/*
 * money.mul(minor, qty [, rounding="half_up"]) -> integer | nil, message   [-0, +(1|2), v]
 * qty: a Lua integer (exact) or decimal text ("1.5", "-2"); a float qty raises. Returns nil,
 * message when the text is not a quantity, the product is not whole under "exact", or it
 * does not fit in 64 bits.
 */
static int money_mul(lua_State *L)
{
    struct eng_err err = {0};
    int64_t minor = check_minor(L, 1, "mul"), v = 0;
    enum eng_money_rounding mode = opt_rounding(L, 3, "mul", ENG_MONEY_HALF_UP);
    int rc;
    if (lua_isinteger(L, 2)) {
        rc = eng_money_mul_int(minor, (int64_t)lua_tointeger(L, 2), &v, &err);
    } else if (lua_type(L, 2) == LUA_TSTRING) {
        size_t len;
        const char *q = lua_tolstring(L, 2, &len);
        rc = eng_money_mul_qty_n(minor, q, len, mode, &v, &err);
    } else {
        return money_raise(L, "mul",
                           "argument 2 is %s, expected an integer or a decimal string quantity",
                           what_is(L, 2));
    }
    if (rc != 0)
        return push_fail(L, &err);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/*
 * money.allocate(total, weights) -> list | nil, message   [-0, +(1|2), e]
 * Splits total over #weights parts proportional to the integer weights, parts summing exactly to
 * total (largest remainder, ties to the earlier index): allocate(100, {1, 1, 1}) -> {34, 33, 33}.
 * nil, message for a negative weight, or all-zero weights with a non-zero total.
 */
static int money_allocate(lua_State *L)
{
    struct eng_err err = {0};
    int64_t total = check_minor(L, 1, "allocate");
    lua_Integer n = check_list(L, 2, "allocate", "integer weights");
    if ((uint64_t)n > SIZE_MAX / (2 * sizeof(int64_t)) || n > INT32_MAX)
        return money_raise(L, "allocate", "argument 2 has too many weights (%lld)", (long long)n);
    size_t count = (size_t)n;
    /* Scratch in a userdata: Lua owns it, so nothing leaks if anything below raises. */
    int64_t *w = lua_newuserdatauv(L, 2 * count * sizeof(int64_t), 0);
    int64_t *out = w + count;
    for (size_t i = 0; i < count; i++) {
        lua_geti(L, 2, (lua_Integer)i + 1);
        if (!lua_isinteger(L, -1))
            return money_raise(L, "allocate",
                               "element %zu of argument 2 is %s, expected an integer weight", i + 1,
                               what_is(L, -1));
        w[i] = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    if (eng_money_allocate(total, w, count, out, &err) != 0)
        return push_fail(L, &err);
    lua_createtable(L, (int)count, 0);
    for (size_t i = 0; i < count; i++) {
        lua_pushinteger(L, (lua_Integer)out[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/*
 * money.decimals(currency) -> integer | nil, message   [-0, +(1|2), v]
 * ISO 4217 minor units: "USD" -> 2, "JPY" -> 0, "KWD" -> 3, "CLF" -> 4, unknown "ZZZ" -> 2.
 * A string that is not three upper-case letters, nil or json.null returns nil, message; other
 * types raise.
 */
static int money_decimals(lua_State *L)
{
    struct eng_err err = {0};
    int t = lua_type(L, 1);
    int d;
    if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, 1, &len);
        if (strlen(s) != len)
            d = eng_err_set(&err, ENG_EINVAL, "money: currency code contains a NUL byte");
        else
            d = eng_money_decimals_for_currency(s, &err);
    } else if (t == LUA_TNIL || eng_json_is_null(L, 1)) {
        d = eng_err_set(&err, ENG_EINVAL, "money: missing currency code (nil or null)");
    } else {
        return money_raise(L, "decimals", "argument 1 is %s, expected a currency code string",
                           what_is(L, 1));
    }
    if (d < 0)
        return push_fail(L, &err);
    lua_pushinteger(L, d);
    return 1;
}

static const luaL_Reg money_funcs[] = {
    {"parse", money_parse}, {"format", money_format},     {"add", money_add},
    {"sub", money_sub},     {"neg", money_neg},           {"sum", money_sum},
    {"mul", money_mul},     {"allocate", money_allocate}, {"decimals", money_decimals},
    {NULL, NULL},
};

/* require "engine.money" -> module table   [-0, +1, m] */
int luaopen_engine_money(lua_State *L)
{
    luaL_newlib(L, money_funcs);
    return 1;
}
