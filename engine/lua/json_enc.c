/*
 * json_enc.c - Lua values -> canonical JSON text for engine.json (eng_json_encode*, json.h).
 * Owns: the one canonical form (keys sorted bytewise, no whitespace or 2-space pretty form,
 * integers as integers, floats in their shortest round-trip form) and the table shape rules.
 * Must not: run Lua code (tables are read raw, metamethods ignored), emit anything that is not
 * valid JSON (it raises instead, naming the path), or hold memory a raise could leak: the output
 * buffer and the sorted keys are Lua userdata. (luaL_Buffer cannot be used here: its box must stay
 * at the top of the stack, and the recursion keeps the tables it walks there.)
 */
#include "lua/vm_int.h"
#include "lua/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "base/json_read.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

struct seg {         /* one step of the path to the value being encoded */
    const char *key; /* object key (points into the sorted-keys userdata), or NULL */
    size_t klen;
    lua_Integer idx; /* 1-based array index when key is NULL */
};

struct enc {
    lua_State *L;
    int pretty;
    int box;                        /* stack slot of the output buffer (a userdata) */
    int null_idx, amt_idx, omt_idx; /* stack slots of json.null, array_mt, object_mt */
    char *b;
    size_t n, cap;
    int depth; /* tables open; open[] holds them, for cycle detection */
    const void *open[ENG_JSON_MAX_DEPTH];
    int nseg;
    struct seg path[ENG_JSON_MAX_DEPTH + 1];
};

/* ---- output buffer ---- */

static void grow(struct enc *e, size_t need)
{
    size_t cap = e->cap;
    if (need > (size_t)-1 / 2 - e->n)
        luaL_error(e->L, "json.encode: output too large");
    while (cap - e->n < need)
        cap *= 2;
    char *nb = lua_newuserdatauv(e->L, cap, 0);
    memcpy(nb, e->b, e->n);
    lua_replace(e->L, e->box);
    e->b = nb;
    e->cap = cap;
}

static void put(struct enc *e, const char *s, size_t len)
{
    if (e->cap - e->n < len)
        grow(e, len);
    memcpy(e->b + e->n, s, len);
    e->n += len;
}

static void put_char(struct enc *e, char c)
{
    if (e->n == e->cap)
        grow(e, 1);
    e->b[e->n++] = c;
}

static void put_newline(struct enc *e, int level)
{
    size_t w = 1 + 2 * (size_t)level;
    if (e->cap - e->n < w)
        grow(e, w);
    e->b[e->n] = '\n';
    memset(e->b + e->n + 1, ' ', w - 1);
    e->n += w;
}

/* ---- errors ---- */

static int ident_like(const char *s, size_t len)
{
    if (len == 0 || len > 64 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
            return 0;
    }
    return 1;
}

/* One path step: ".key", ["odd key"] (shortened, non-printables as '?') or "[3]". */
static size_t format_seg(const struct seg *s, char *out, size_t size)
{
    size_t n = 0;
    if (s->key == NULL)
        return (size_t)snprintf(out, size, "[%lld]", (long long)s->idx);
    if (ident_like(s->key, s->klen)) {
        out[n++] = '.';
        memcpy(out + n, s->key, s->klen);
        return n + s->klen;
    }
    out[n++] = '[';
    out[n++] = '"';
    for (size_t k = 0; k < s->klen && k < 40; k++) {
        unsigned char c = (unsigned char)s->key[k];
        out[n++] = (char)(c >= 0x20 && c < 0x7F && c != '"' ? c : '?');
    }
    for (int dot = 0; s->klen > 40 && dot < 3; dot++)
        out[n++] = '.';
    out[n++] = '"';
    out[n++] = ']';
    return n;
}

/* "$.Line[3].Amount"; past PATH_KEEP * 2 steps, the middle ones become "...". */
#define PATH_KEEP 8
static void format_path(const struct enc *e, char *out, size_t size)
{
    char step[80]; /* the longest step is 2 + 40 + 3 + 2 or 1 + 64 bytes */
    size_t n = 0;
    out[n++] = '$';
    for (int i = 0; i < e->nseg; i++) {
        size_t len;
        if (e->nseg > 2 * PATH_KEEP && i >= PATH_KEEP && i < e->nseg - PATH_KEEP) {
            if (i > PATH_KEEP)
                continue;
            step[0] = step[1] = step[2] = '.';
            len = 3;
        } else {
            len = format_seg(&e->path[i], step, sizeof step);
        }
        if (n + len >= size)
            break;
        memcpy(out + n, step, len);
        n += len;
    }
    out[n] = '\0';
}

/* Raise "json.encode: <what> at <path of the value being encoded>". Never returns. */
static int fail(const struct enc *e, const char *what)
{
    char path[2 * PATH_KEEP * 80 + 8];
    format_path(e, path, sizeof path);
    return luaL_error(e->L, "json.encode: %s at %s", what, path);
}

/* ---- scalars ---- */

static void put_integer(struct enc *e, lua_Integer v)
{
    char num[24];
    char *end = num + sizeof num, *q = end;
    lua_Unsigned u = v < 0 ? 0u - (lua_Unsigned)v : (lua_Unsigned)v;
    do {
        *--q = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--q = '-';
    put(e, q, (size_t)(end - q));
}

/* The fast path of put_float: v = m / 10^k exactly as strtod would read it back, for the
 * smallest k, m of at most 15 digits (significant ones), 1e-4 <= |v| < 1e15. That is what "%.15g"
 * prints (v lies within half an ulp of m / 10^k, far inside half a step of the 15-digit grid; this
 * range is %g's fixed notation), so the text is the same as the slow path's, byte for byte. Writes
 * it to num and returns its length, or 0 when v is outside the fast path. */
static int float_short(double v, char *num)
{
    static const double p10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    double a = v < 0 ? -v : v;
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    for (int k = 0; k <= 15; k++) {
        double scaled = a * p10[k];
        if (scaled >= 9007199254740992.0) /* 2^53 */
            return 0;
        double m = nearbyint(scaled);
        if (m >= 1e15) /* more than 15 significant digits */
            return 0;
        if (m / p10[k] != a)
            continue;
        unsigned long long mi = (unsigned long long)m;
        char digits[24];
        int nd = 0;
        do {
            digits[nd++] = (char)('0' + (int)(mi % 10));
            mi /= 10;
        } while (mi != 0);
        int n = 0;
        if (v < 0)
            num[n++] = '-';
        if (nd <= k) { /* 0.000ddd */
            num[n++] = '0';
            num[n++] = '.';
            for (int z = 0; z < k - nd; z++)
                num[n++] = '0';
            while (nd > 0)
                num[n++] = digits[--nd];
            while (num[n - 1] == '0')
                n--;
            return n;
        }
        while (nd > k)
            num[n++] = digits[--nd];
        if (k == 0) {
            num[n++] = '.';
            num[n++] = '0';
            return n;
        }
        num[n++] = '.';
        while (nd > 0)
            num[n++] = digits[--nd];
        while (num[n - 1] == '0') /* not reached for the smallest k; as %g would */
            n--;
        if (num[n - 1] == '.')
            num[n++] = '0';
        return n;
    }
    return 0;
}

/* Shortest of %.15g/%.16g/%.17g that reads back to the same double (%.17g always does).
 * An integral float keeps a ".0" so that it decodes back as a float: 3.0 -> "3.0". */
static void put_float(struct enc *e, double v)
{
    char num[40];
    int len = 0;
    if (isnan(v) || isinf(v))
        fail(e, "cannot encode NaN/inf");
    if ((len = float_short(v, num)) > 0) {
        put(e, num, (size_t)len);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(num, sizeof num, "%.*g", prec, v);
        if (prec == 17 || strtod(num, NULL) == v)
            break;
    }
    int plain = 1;
    for (int i = 0; i < len; i++) {
        if (num[i] >= '0' && num[i] <= '9')
            continue;
        if (num[i] == '-' || num[i] == '+')
            continue;
        if (num[i] != 'e')
            num[i] = '.'; /* the radix, whatever the locale says */
        plain = 0;
    }
    put(e, num, (size_t)len);
    if (plain)
        put(e, ".0", 2);
}

/* RFC 8259 string: escape '"', '\\' and C0 controls (short forms where they exist); '/' and
 * valid UTF-8 pass through unchanged; invalid UTF-8 raises. */
static void put_string(struct enc *e, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;
    if (e->cap - e->n < len + 2) /* room for the common case: nothing to escape */
        grow(e, len + 2);
    e->b[e->n++] = '"';
    while (p < end) {
        while (eng_json_plain_byte[*p] && ++p < end) /* the common run, one test a byte */
            ;
        if (p == end)
            break;
        unsigned c = *p;
        if (c >= 0x80) {
            size_t n = eng_json_read_utf8(p, (size_t)(end - p));
            if (n == 0)
                fail(e, "invalid UTF-8 in string");
            p += n;
            continue;
        }
        put(e, (const char *)run, (size_t)(p - run));
        char esc[6] = {'\\', 0, '0', '0', 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
            break;
        }
        put(e, esc, elen);
        run = ++p;
    }
    put(e, (const char *)run, (size_t)(p - run));
    put_char(e, '"');
}

/* ---- tables ---- */

/* Like eng_json_mark_of, against the marks already on the stack. [-0, +0, -] */
static enum eng_json_kind mark_at(const struct enc *e, int idx)
{
    enum eng_json_kind kind = ENG_JSON_NONE;
    if (lua_getmetatable(e->L, idx)) {
        if (lua_rawequal(e->L, -1, e->amt_idx))
            kind = ENG_JSON_ARRAY;
        else if (lua_rawequal(e->L, -1, e->omt_idx))
            kind = ENG_JSON_OBJECT;
        lua_pop(e->L, 1);
    }
    return kind;
}

enum shape {
    SHAPE_ARRAY,
    SHAPE_OBJECT,
    SHAPE_SPARSE,       /* integer keys that are not exactly 1..n */
    SHAPE_MIXED,        /* string and integer keys */
    SHAPE_BADKEY,       /* a key that is neither a string nor an integer */
    SHAPE_STR_IN_ARRAY, /* array_mt-marked, with a string key */
    SHAPE_INT_IN_OBJECT /* object_mt-marked, with an integer key */
};

/* One raw pass over the table at idx (absolute). *count: elements (array) or keys (object);
 * *keybytes: total length of the string keys. The first `keep` string keys are left on the
 * stack above the caller's top, in traversal order (the caller pops them; on SHAPE_BADKEY the
 * pass stops there). Needs keep + 2 stack slots. [-0, +(0..keep), -] */
static enum shape table_shape(lua_State *L, int idx, enum eng_json_kind mark, int keep,
                              lua_Integer *count, size_t *keybytes)
{
    lua_Integer nint = 0, maxint = 0, nstr = 0;
    int below_one = 0;
    *count = 0;
    *keybytes = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            nstr++;
            *keybytes += lua_rawlen(L, -1);
            if (nstr <= keep)
                lua_pushvalue(L, -1); /* the copy below stays; the top one iterates */
        } else if (lua_isinteger(L, -1)) {
            lua_Integer k = lua_tointeger(L, -1);
            nint++;
            if (k < 1)
                below_one = 1;
            else if (k > maxint)
                maxint = k;
        } else {
            lua_pop(L, 1);
            return SHAPE_BADKEY;
        }
    }
    int sparse = below_one || nint != maxint;
    *count = nint != 0 ? nint : nstr;
    if (mark == ENG_JSON_ARRAY)
        return nstr != 0 ? SHAPE_STR_IN_ARRAY : sparse ? SHAPE_SPARSE : SHAPE_ARRAY;
    if (mark == ENG_JSON_OBJECT)
        return nint != 0 ? SHAPE_INT_IN_OBJECT : SHAPE_OBJECT;
    if (nint != 0 && nstr != 0)
        return SHAPE_MIXED;
    if (nint != 0)
        return sparse ? SHAPE_SPARSE : SHAPE_ARRAY;
    return SHAPE_OBJECT; /* all string keys, or empty: an unmarked empty table is {} */
}

enum eng_json_kind eng_json_kind_of(lua_State *L, int idx)
{
    lua_Integer count;
    size_t keybytes;
    if (lua_type(L, idx) != LUA_TTABLE || !lua_checkstack(L, 3))
        return ENG_JSON_NONE;
    idx = lua_absindex(L, idx);
    switch (table_shape(L, idx, eng_json_mark_of(L, idx), 0, &count, &keybytes)) {
    case SHAPE_ARRAY:
        return ENG_JSON_ARRAY;
    case SHAPE_OBJECT:
        return ENG_JSON_OBJECT;
    default:
        return ENG_JSON_NONE;
    }
}

static void enc_value(struct enc *e, int idx);

static void enc_array(struct enc *e, int idx, lua_Integer n)
{
    lua_State *L = e->L;
    put_char(e, '[');
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1)
            put_char(e, ',');
        if (e->pretty)
            put_newline(e, e->depth);
        lua_rawgeti(L, idx, i);
        e->path[e->nseg++] = (struct seg){NULL, 0, i};
        enc_value(e, lua_gettop(L));
        e->nseg--;
        lua_pop(L, 1);
    }
    if (e->pretty && n > 0)
        put_newline(e, e->depth - 1);
    put_char(e, ']');
}

struct okey {
    const char *s; /* a copy, inside the keys userdata */
    size_t len;
};

static int okey_cmp(const void *a, const void *b)
{
    const struct okey *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = m != 0 ? memcmp(x->s, y->s, m) : 0;
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Keys are copied into one userdata (so the pointers sorted stay valid by the API's own rules),
 * sorted bytewise (= code point order), then each value is fetched raw. */
/* Member i of the object at idx: `,` before all but the first, the key, `:` and the value the
 * key (pushed by the caller, on top of the stack) reads raw; pops the key. */
static void enc_member(struct enc *e, int idx, size_t i, const char *key, size_t len)
{
    lua_State *L = e->L;
    if (i > 0)
        put_char(e, ',');
    if (e->pretty)
        put_newline(e, e->depth);
    e->path[e->nseg++] = (struct seg){key, len, 0};
    put_string(e, key, len);
    put_char(e, ':');
    if (e->pretty)
        put_char(e, ' ');
    lua_rawget(L, idx);
    enc_value(e, lua_gettop(L));
    lua_pop(L, 1);
    e->nseg--;
}

static void enc_object(struct enc *e, int idx, lua_Integer n, size_t keybytes)
{
    lua_State *L = e->L;
    size_t nk = (size_t)n;
    if (nk > ((size_t)-1 - keybytes) / sizeof(struct okey))
        luaL_error(L, "json.encode: object too large");
    struct okey *keys = lua_newuserdatauv(L, nk * sizeof *keys + keybytes, 0);
    char *bytes = (char *)(keys + nk);
    size_t k = 0, used = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (k < nk) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len); /* a string: shape checked */
            memcpy(bytes + used, s, len);
            keys[k].s = bytes + used;
            keys[k].len = len;
            used += len;
            k++;
        }
    }
    if (k > 1)
        qsort(keys, k, sizeof *keys, okey_cmp);
    put_char(e, '{');
    for (size_t i = 0; i < k; i++) {
        lua_pushlstring(L, keys[i].s, keys[i].len);
        enc_member(e, idx, i, keys[i].s, keys[i].len);
    }
    if (e->pretty && k > 0)
        put_newline(e, e->depth - 1);
    put_char(e, '}');
    lua_pop(L, 1); /* the keys */
}

/* Objects with up to this many keys are encoded from one pass: the keys stay on the Lua stack
 * (so their bytes stay valid by the API's rules), sorted in a C array; larger ones take the
 * two-pass path of enc_object. */
#define ENC_STACK_KEYS 48

struct skey {
    const char *s;
    size_t len;
    int slot; /* stack slot of the key */
};

/* Encode the object whose nk sorted-to-be keys are at stack slots first..first+nk-1. */
static void enc_object_stacked(struct enc *e, int idx, int first, int nk)
{
    lua_State *L = e->L;
    struct skey keys[ENC_STACK_KEYS];
    for (int i = 0; i < nk; i++) {
        keys[i].s = lua_tolstring(L, first + i, &keys[i].len);
        keys[i].slot = first + i;
        /* insertion sort, bytewise (= code point order) */
        int j = i;
        while (j > 0) {
            const struct skey *x = &keys[j - 1];
            size_t m = x->len < keys[i].len ? x->len : keys[i].len;
            int c = m != 0 ? memcmp(x->s, keys[i].s, m) : 0;
            if (c < 0 || (c == 0 && x->len <= keys[i].len))
                break;
            j--;
        }
        if (j != i) {
            struct skey k = keys[i];
            memmove(&keys[j + 1], &keys[j], (size_t)(i - j) * sizeof k);
            keys[j] = k;
        }
    }
    put_char(e, '{');
    for (int i = 0; i < nk; i++) {
        lua_pushvalue(L, keys[i].slot);
        enc_member(e, idx, (size_t)i, keys[i].s, keys[i].len);
    }
    if (e->pretty && nk > 0)
        put_newline(e, e->depth - 1);
    put_char(e, '}');
}

static void enc_table(struct enc *e, int idx)
{
    static const char *const why[] = {
        [SHAPE_SPARSE] = "sparse array (integer keys are not exactly 1..n)",
        [SHAPE_MIXED] = "table mixes string and integer keys",
        [SHAPE_BADKEY] = "table key is neither a string nor an integer",
        [SHAPE_STR_IN_ARRAY] = "string key in a table marked as an array",
        [SHAPE_INT_IN_OBJECT] = "integer key in a table marked as an object",
    };
    lua_State *L = e->L;
    enum eng_json_kind mark = ENG_JSON_NONE;
    if (lua_getmetatable(L, idx)) { /* a json mark, or maybe a module's frozen table */
        if (lua_rawequal(L, -1, e->amt_idx))
            mark = ENG_JSON_ARRAY;
        else if (lua_rawequal(L, -1, e->omt_idx))
            mark = ENG_JSON_OBJECT;
        lua_pop(L, 1);
        if (mark == ENG_JSON_NONE && eng_vm_frozen_open(L, idx)) /* encode its contents */
            mark = mark_at(e, idx);
    }
    const void *self = lua_topointer(L, idx);
    for (int i = 0; i < e->depth; i++)
        if (e->open[i] == self)
            fail(e, "cycle (a table contains itself)");
    if (e->depth >= ENG_JSON_MAX_DEPTH)
        fail(e, "nesting deeper than " STR(ENG_JSON_MAX_DEPTH));
    luaL_checkstack(L, ENC_STACK_KEYS + 8, "json.encode nesting");
    /* One raw pass: the shape, and the first string keys kept on the stack. */
    int top = lua_gettop(L);
    lua_Integer n = 0;
    size_t keybytes = 0;
    enum shape shape = table_shape(L, idx, mark, ENC_STACK_KEYS, &n, &keybytes);
    if (shape != SHAPE_ARRAY && shape != SHAPE_OBJECT)
        fail(e, why[shape]);
    e->open[e->depth++] = self;
    if (shape == SHAPE_ARRAY) {
        lua_settop(L, top);
        enc_array(e, idx, n);
    } else if (n <= ENC_STACK_KEYS) {
        enc_object_stacked(e, idx, top + 1, (int)n);
        lua_settop(L, top);
    } else {
        lua_settop(L, top);
        enc_object(e, idx, n, keybytes);
    }
    e->depth--;
}

static void enc_value(struct enc *e, int idx)
{
    lua_State *L = e->L;
    char what[64];
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            put(e, "true", 4);
        else
            put(e, "false", 5);
        return;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            put_integer(e, lua_tointeger(L, idx));
        else
            put_float(e, (double)lua_tonumber(L, idx));
        return;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        put_string(e, s, len);
        return;
    }
    case LUA_TTABLE:
        enc_table(e, idx);
        return;
    case LUA_TUSERDATA:
        if (lua_rawequal(L, idx, e->null_idx)) {
            put(e, "null", 4);
            return;
        }
        break;
    case LUA_TNIL:
        fail(e, "cannot encode nil (JSON null is json.null)");
        return;
    default:
        break;
    }
    snprintf(what, sizeof what, "cannot encode a %s", luaL_typename(L, idx));
    fail(e, what);
}

int eng_json_encode_top(lua_State *L, int idx, int pretty)
{
    struct enc e;
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 8, "json.encode");
    int base = lua_gettop(L);
    e.L = L;
    e.pretty = pretty != 0;
    e.cap = 256;
    e.n = 0;
    e.b = lua_newuserdatauv(L, e.cap, 0);
    e.box = base + 1;
    eng_json_push_state(L);
    e.null_idx = base + 2;
    e.amt_idx = base + 3;
    e.omt_idx = base + 4;
    e.depth = 0;
    e.nseg = 0;
    enc_value(&e, idx);
    lua_pushlstring(L, e.b, e.n);
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
    return 1;
}

/* [-2, +1, e] (value, pretty) -> string */
static int encode_protected(lua_State *L)
{
    return eng_json_encode_top(L, 1, lua_toboolean(L, 2));
}

int eng_json_encode(lua_State *L, int idx, int pretty, struct eng_err *err)
{
    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 3))
        return eng_err_set(err, ENG_ENOMEM, "json.encode: no Lua stack space left");
    lua_pushcfunction(L, encode_protected);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, pretty);
    int status = lua_pcall(L, 2, 1, 0);
    if (status == LUA_OK)
        return 0;
    const char *msg = lua_tostring(L, -1);
    int code = status == LUA_ERRMEM ? ENG_ENOMEM : ENG_EINVAL;
    eng_err_set(err, code, "%s", msg != NULL ? msg : "json.encode failed");
    lua_pop(L, 1);
    return code;
}
