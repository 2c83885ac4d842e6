/*
 * json_dec.c - JSON text -> Lua values for engine.json (eng_json_decode, see json.h).
 * Owns: the Lua side of decoding: it pulls tokens from base/json_read (the engine's one JSON
 * reader: syntax, UTF-8, depth, error texts) and builds marked tables, integers, floats, strings
 * and json.null on the Lua stack, iteratively (no C recursion); each table is made at its final
 * size (entries wait on the stack until their container closes).
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

#include "base/json_read.h"

/* Integer token [s, s+n): a Lua integer when it fits int64, else a string of its exact digits. */
static void push_integer(lua_State *L, const char *s, size_t n)
{
    int neg = *s == '-';
    lua_Unsigned limit = (lua_Unsigned)LUA_MAXINTEGER + (neg ? 1u : 0u);
    lua_Unsigned u = 0;
    for (size_t i = (size_t)neg; i < n; i++) {
        unsigned digit = (unsigned)(s[i] - '0');
        if (u > (limit - digit) / 10) {
            lua_pushlstring(L, s, n);
            return;
        }
        u = u * 10 + digit;
    }
    if (!neg)
        lua_pushinteger(L, (lua_Integer)u);
    else
        lua_pushinteger(L, u == 0 ? 0 : -(lua_Integer)(u - 1) - 1);
}

/* Float token [s, s+n), already checked against the grammar. strtod needs a terminated, writable
 * copy (writable to swap in the locale's radix if it is not '.'); long ones go in a userdata.
 * Pushes the number and returns NULL, or pushes nothing and returns what is wrong. */
static const char *push_float(lua_State *L, const char *s, size_t n)
{
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
        return "invalid number";
    if (isinf(v))
        return "number out of range";
    lua_pushnumber(L, (lua_Number)v);
    return NULL;
}

/* Push a KEY/STRING token's decoded text. */
static void push_string(lua_State *L, const struct eng_json_read *r)
{
    if (!r->escaped) {
        lua_pushlstring(L, r->tok, r->tok_len);
        return;
    }
    luaL_Buffer b;
    char *o = luaL_buffinitsize(L, &b, r->tok_len);
    luaL_pushresultsize(&b, eng_json_read_unescape(r->tok, r->tok_len, o, r->tok_len));
}

/* A container's entries wait on the Lua stack above its slot (object: key, value, ...) until it
 * closes, so its table is made once at its final size (no rehash while it fills). Past this
 * many pending slots they are moved into the table early, so the stack stays bounded (depth x
 * this) however long an array or object is. */
#define DEC_PENDING_MAX 256

/* Move the pending entries of the container whose slot is s into its table, making the table
 * first (sized for them) if it is not made yet. Leaves the table on top. [-n, +0, m] */
static void dec_flush(lua_State *L, int s, int is_object, lua_Integer *filled, int amt, int omt)
{
    int top = lua_gettop(L);
    int n = top - s;
    if (lua_isnil(L, s)) {
        if (is_object)
            lua_createtable(L, 0, n / 2);
        else
            lua_createtable(L, n, 0);
        lua_pushvalue(L, is_object ? omt : amt);
        lua_setmetatable(L, -2);
        lua_replace(L, s);
    }
    if (is_object) {
        for (int i = s + 1; i < top; i += 2) {
            lua_pushvalue(L, i);
            lua_pushvalue(L, i + 1);
            lua_rawset(L, s); /* duplicate keys: the last one wins */
        }
    } else {
        for (int i = s + 1; i <= top; i++) {
            lua_pushvalue(L, i);
            lua_rawseti(L, s, ++*filled);
        }
    }
    lua_settop(L, s);
}

int eng_json_decode(lua_State *L, const char *text, size_t len, struct eng_err *err)
{
    int base = lua_gettop(L);
    luaL_checkstack(L, 8, "json.decode");
    eng_json_push_state(L); /* base+1: json.null, base+2: array_mt, base+3: object_mt */
    struct eng_json_read r;
    eng_json_read_init(&r, text, len, ENG_JSON_MAX_DEPTH, 0);
    /* per open container: its stack slot (nil until its table is made), whether it is an
     * object, and how many array elements its table holds */
    int slot[ENG_JSON_MAX_DEPTH + 1];
    unsigned char is_object[ENG_JSON_MAX_DEPTH + 1];
    lua_Integer filled[ENG_JSON_MAX_DEPTH + 1];
    int room = 0; /* stack slots known free */
    const char *what = NULL;
    for (;;) {
        int t = eng_json_read_next(&r);
        if (room < 8) {
            luaL_checkstack(L, 64, "json.decode nesting");
            room = 64;
        }
        room--;
        switch (t) {
        case ENG_JSON_READ_EOF:
            lua_replace(L, base + 1);
            lua_settop(L, base + 1);
            return 0;
        case ENG_JSON_READ_ERROR:
            what = r.what;
            break;
        case ENG_JSON_READ_OBJECT:
        case ENG_JSON_READ_ARRAY:
            lua_pushnil(L); /* the table, made when it closes (or fills up) */
            slot[r.depth] = lua_gettop(L);
            is_object[r.depth] = t == ENG_JSON_READ_OBJECT;
            filled[r.depth] = 0;
            continue;
        case ENG_JSON_READ_KEY:
            push_string(L, &r);
            continue; /* a pending entry with its value */
        case ENG_JSON_READ_OBJECT_END:
        case ENG_JSON_READ_ARRAY_END:
            room += lua_gettop(L) - slot[r.depth + 1];
            dec_flush(L, slot[r.depth + 1], is_object[r.depth + 1], &filled[r.depth + 1], base + 2,
                      base + 3);
            break;
        case ENG_JSON_READ_STRING:
            push_string(L, &r);
            break;
        case ENG_JSON_READ_NUMBER:
            if (!r.is_float)
                push_integer(L, r.tok, r.tok_len);
            else if ((what = push_float(L, r.tok, r.tok_len)) != NULL)
                r.at = r.tok_at;
            break;
        case ENG_JSON_READ_TRUE:
        case ENG_JSON_READ_FALSE:
            lua_pushboolean(L, t == ENG_JSON_READ_TRUE);
            break;
        default: /* ENG_JSON_READ_NULL */
            lua_pushvalue(L, base + 1);
            break;
        }
        if (what != NULL) {
            lua_settop(L, base);
            return eng_err_set(err, ENG_EINVAL, "json: %s at byte %zu", what, r.at + 1);
        }
        /* a value is complete (top of the stack): it waits in its container's pending entries */
        if (r.depth > 0 && lua_gettop(L) - slot[r.depth] >= DEC_PENDING_MAX) {
            room += lua_gettop(L) - slot[r.depth];
            dec_flush(L, slot[r.depth], is_object[r.depth], &filled[r.depth], base + 2, base + 3);
        }
    }
}
