/*
 * json_dec.c - JSON text -> Lua values for engine.json (eng_json_decode, see json.h).
 * Owns: a strict RFC 8259 parser, one pass, recursive to at most ENG_JSON_MAX_DEPTH, building
 * marked tables, integers, floats, strings and json.null directly on the Lua stack.
 * Must not: raise on malformed text (it reports "json: <what> at byte N"), hold memory that a Lua
 * memory error could leak (every allocation is a Lua object), or call Lua code.
 * Why not cjson.decode: lua-cjson 2.1.0 mallocs a temporary buffer as large as the input and
 * leaks it whenever a Lua allocation inside the decode fails (our capped allocator makes that an
 * ordinary event), aborts on malloc failure, and cannot produce integers or tell [] from {}.
 */
#include "lua/json.h"

#include <langinfo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#define STR_(x) #x
#define STR(x)  STR_(x)

struct dec {
    lua_State *L;
    const unsigned char *start, *p, *end;
    int depth;                      /* containers currently open */
    int null_idx, amt_idx, omt_idx; /* stack slots of json.null, array_mt, object_mt */
    const char *what;               /* the error, once there is one */
    size_t at;                      /* its 0-based offset */
    char what_buf[48];
};

size_t eng_json_utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2) /* stray continuation byte, or an overlong 2-byte form */
        return 0;
    if (c < 0xE0)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0)) /* overlong, surrogate */
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)) /* overlong, > U+10FFFF */
            return 0;
        return 4;
    }
    return 0;
}

static int fail_at(struct dec *d, const unsigned char *at, const char *what)
{
    d->what = what;
    d->at = (size_t)(at - d->start);
    return -1;
}

/* The byte at d->p is not what the grammar allows there. */
static int unexpected(struct dec *d, const char *expected)
{
    if (d->p >= d->end)
        return fail_at(d, d->p, "unexpected end of input");
    if (expected != NULL)
        return fail_at(d, d->p, expected);
    unsigned c = *d->p;
    if (c > 0x20 && c < 0x7F)
        snprintf(d->what_buf, sizeof d->what_buf, "unexpected character '%c'", (int)c);
    else
        snprintf(d->what_buf, sizeof d->what_buf, "unexpected byte 0x%02X", c);
    return fail_at(d, d->p, d->what_buf);
}

static void skip_ws(struct dec *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
        d->p++;
}

static int is_digit(const struct dec *d, const unsigned char *q)
{
    return q < d->end && *q >= '0' && *q <= '9';
}

/* Integer token [s, e): a Lua integer when it fits int64, else a string of its exact digits. */
static void push_integer(struct dec *d, const unsigned char *s, const unsigned char *e)
{
    int neg = *s == '-';
    lua_Unsigned limit = (lua_Unsigned)LUA_MAXINTEGER + (neg ? 1u : 0u);
    lua_Unsigned u = 0;
    for (const unsigned char *q = s + neg; q < e; q++) {
        unsigned digit = (unsigned)(*q - '0');
        if (u > (limit - digit) / 10) {
            lua_pushlstring(d->L, (const char *)s, (size_t)(e - s));
            return;
        }
        u = u * 10 + digit;
    }
    if (!neg)
        lua_pushinteger(d->L, (lua_Integer)u);
    else
        lua_pushinteger(d->L, u == 0 ? 0 : -(lua_Integer)(u - 1) - 1);
}

/* Float token [s, e), already checked against the grammar. strtod needs a terminated, writable
 * copy (writable to swap in the locale's radix if it is not '.'); long ones go in a userdata. */
static int push_float(struct dec *d, const unsigned char *s, const unsigned char *e)
{
    lua_State *L = d->L;
    size_t n = (size_t)(e - s);
    char local[64], *buf = local, *end = NULL;
    if (n >= sizeof local)
        buf = lua_newuserdatauv(L, n + 1, 0);
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, &end);
    if (end != buf + n) { /* not the C locale: retry with its radix character */
        char *dot = strchr(buf, '.');
        if (dot != NULL)
            *dot = nl_langinfo(RADIXCHAR)[0];
        v = strtod(buf, &end);
    }
    int whole = end == buf + n;
    if (buf != local)
        lua_pop(L, 1);
    if (!whole)
        return fail_at(d, s, "invalid number");
    if (isinf(v))
        return fail_at(d, s, "number out of range");
    lua_pushnumber(L, (lua_Number)v);
    return 0;
}

static int parse_number(struct dec *d)
{
    const unsigned char *s = d->p, *q = d->p;
    int is_float = 0;
    if (*q == '-')
        q++;
    if (!is_digit(d, q))
        return fail_at(d, s, "invalid number");
    if (*q == '0') {
        q++;
        if (is_digit(d, q))
            return fail_at(d, s, "invalid number (leading zero)");
    } else {
        while (is_digit(d, q))
            q++;
    }
    if (q < d->end && *q == '.') {
        q++;
        is_float = 1;
        if (!is_digit(d, q))
            return fail_at(d, s, "invalid number");
        while (is_digit(d, q))
            q++;
    }
    if (q < d->end && (*q == 'e' || *q == 'E')) {
        q++;
        is_float = 1;
        if (q < d->end && (*q == '+' || *q == '-'))
            q++;
        if (!is_digit(d, q))
            return fail_at(d, s, "invalid number");
        while (is_digit(d, q))
            q++;
    }
    d->p = q;
    if (is_float)
        return push_float(d, s, q);
    push_integer(d, s, q);
    return 0;
}

static int hex4(const struct dec *d, const unsigned char *q, unsigned *out)
{
    unsigned v = 0;
    if (d->end - q < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned c = q[i];
        if (c >= '0' && c <= '9')
            v = v * 16 + (c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v = v * 16 + ((c | 0x20) - 'a' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Code point of the \u escape at q (q[0] == '\\', q[1] == 'u'), joining a surrogate pair;
 * sets *len to the escape's length (6 or 12). Returns -1 if malformed or unpaired. */
static long unicode_escape(const struct dec *d, const unsigned char *q, size_t *len)
{
    unsigned hi, lo;
    if (hex4(d, q + 2, &hi) != 0)
        return -1;
    *len = 6;
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return -1;
    if (hi < 0xD800 || hi > 0xDBFF)
        return (long)hi;
    if (d->end - q < 12 || q[6] != '\\' || q[7] != 'u' || hex4(d, q + 8, &lo) != 0 || lo < 0xDC00 ||
        lo > 0xDFFF)
        return -1;
    *len = 12;
    return 0x10000L + (((long)hi - 0xD800) << 10) + ((long)lo - 0xDC00);
}

/* Check the string whose opening quote is at d->p; find its closing quote. Nothing is pushed. */
static int scan_string(struct dec *d, const unsigned char **close, int *has_escape)
{
    const unsigned char *q = d->p + 1;
    *has_escape = 0;
    while (q < d->end) {
        unsigned c = *q;
        if (c == '"') {
            *close = q;
            return 0;
        }
        if (c == '\\') {
            size_t len = 2;
            *has_escape = 1;
            if (d->end - q < 2)
                break;
            switch (q[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                break;
            case 'u':
                if (unicode_escape(d, q, &len) < 0)
                    return fail_at(d, q, "invalid \\u escape (bad hex or unpaired surrogate)");
                break;
            default:
                return fail_at(d, q, "invalid escape in string");
            }
            q += len;
        } else if (c < 0x20) {
            return fail_at(d, q, "unescaped control character in string");
        } else if (c < 0x80) {
            q++;
        } else {
            size_t len = eng_json_utf8_seq(q, (size_t)(d->end - q));
            if (len == 0)
                return fail_at(d, q, "invalid UTF-8 in string");
            q += len;
        }
    }
    return fail_at(d, d->p, "unterminated string");
}

static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Push the string at d->p. It is checked first, so no error can happen while a buffer is open;
 * the unescaped form is never longer than the escaped one. */
static int parse_string(struct dec *d)
{
    const unsigned char *close, *q;
    int has_escape;
    if (scan_string(d, &close, &has_escape) != 0)
        return -1;
    q = d->p + 1;
    if (!has_escape) {
        lua_pushlstring(d->L, (const char *)q, (size_t)(close - q));
    } else {
        luaL_Buffer b;
        char *o = luaL_buffinitsize(d->L, &b, (size_t)(close - q));
        size_t n = 0;
        while (q < close) {
            size_t step = 2;
            if (*q != '\\') {
                o[n++] = (char)*q++;
                continue;
            }
            switch (q[1]) {
            case 'b':
                o[n++] = '\b';
                break;
            case 'f':
                o[n++] = '\f';
                break;
            case 'n':
                o[n++] = '\n';
                break;
            case 'r':
                o[n++] = '\r';
                break;
            case 't':
                o[n++] = '\t';
                break;
            case 'u':
                n += put_utf8(o + n, (unsigned long)unicode_escape(d, q, &step));
                break;
            default:
                o[n++] = (char)q[1];
                break; /* '"', '\\', '/' */
            }
            q += step;
        }
        luaL_pushresultsize(&b, n);
    }
    d->p = close + 1;
    return 0;
}

static int parse_value(struct dec *d);

/* Open a container at d->p: check depth and stack, push a table carrying the mark at mt_idx. */
static int open_container(struct dec *d, int mt_idx)
{
    if (d->depth >= ENG_JSON_MAX_DEPTH)
        return fail_at(d, d->p, "nesting deeper than " STR(ENG_JSON_MAX_DEPTH));
    d->depth++;
    luaL_checkstack(d->L, 4, "json.decode nesting");
    lua_newtable(d->L);
    lua_pushvalue(d->L, mt_idx);
    lua_setmetatable(d->L, -2);
    d->p++;
    skip_ws(d);
    return 0;
}

static int parse_array(struct dec *d)
{
    if (open_container(d, d->amt_idx) != 0)
        return -1;
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        d->depth--;
        return 0;
    }
    for (lua_Integer i = 1;; i++) {
        if (parse_value(d) != 0)
            return -1;
        lua_rawseti(d->L, -2, i);
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
        } else if (d->p < d->end && *d->p == ']') {
            d->p++;
            break;
        } else {
            return unexpected(d, "expected ',' or ']'");
        }
    }
    d->depth--;
    return 0;
}

/* Duplicate keys: the last one wins. */
static int parse_object(struct dec *d)
{
    if (open_container(d, d->omt_idx) != 0)
        return -1;
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        d->depth--;
        return 0;
    }
    for (;;) {
        skip_ws(d);
        if (d->p >= d->end || *d->p != '"')
            return unexpected(d, "expected a string key");
        if (parse_string(d) != 0)
            return -1;
        skip_ws(d);
        if (d->p >= d->end || *d->p != ':')
            return unexpected(d, "expected ':'");
        d->p++;
        if (parse_value(d) != 0)
            return -1;
        lua_rawset(d->L, -3);
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
        } else if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        } else {
            return unexpected(d, "expected ',' or '}'");
        }
    }
    d->depth--;
    return 0;
}

static int parse_literal(struct dec *d, const char *word, size_t len)
{
    if ((size_t)(d->end - d->p) < len || memcmp(d->p, word, len) != 0)
        return fail_at(d, d->p, "invalid literal (true, false or null)");
    d->p += len;
    return 0;
}

static int parse_value(struct dec *d)
{
    skip_ws(d);
    if (d->p >= d->end)
        return unexpected(d, NULL);
    switch (*d->p) {
    case '{':
        return parse_object(d);
    case '[':
        return parse_array(d);
    case '"':
        return parse_string(d);
    case 't':
        if (parse_literal(d, "true", 4) != 0)
            return -1;
        lua_pushboolean(d->L, 1);
        return 0;
    case 'f':
        if (parse_literal(d, "false", 5) != 0)
            return -1;
        lua_pushboolean(d->L, 0);
        return 0;
    case 'n':
        if (parse_literal(d, "null", 4) != 0)
            return -1;
        lua_pushvalue(d->L, d->null_idx);
        return 0;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return parse_number(d);
    default:
        return unexpected(d, NULL);
    }
}

int eng_json_decode(lua_State *L, const char *text, size_t len, struct eng_err *err)
{
    static const unsigned char empty[1] = {0};
    const unsigned char *s = text != NULL ? (const unsigned char *)text : empty;
    int base = lua_gettop(L);
    luaL_checkstack(L, 8, "json.decode");
    eng_json_push_state(L);
    struct dec d = {
        .L = L,
        .start = s,
        .p = s,
        .end = s + (text != NULL ? len : 0),
        .null_idx = base + 1,
        .amt_idx = base + 2,
        .omt_idx = base + 3,
    };
    int rc = parse_value(&d);
    if (rc == 0) {
        skip_ws(&d);
        if (d.p < d.end)
            rc = fail_at(&d, d.p, "trailing characters after the value");
    }
    if (rc != 0) {
        lua_settop(L, base);
        return eng_err_set(err, ENG_EINVAL, "json: %s at byte %zu", d.what, d.at + 1);
    }
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
    return 0;
}
