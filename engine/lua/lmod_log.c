/*
 * lmod_log.c - engine.log: structured log lines from scripts.
 * Values under keys that look secret are redacted at any depth (log.c decides what is secret).
 * The line is built in a buffer owned by a userdata, so an out-of-memory raise leaks nothing.
 */
#include "lua/lmods.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "lua/vm_int.h"

#define LOG_BUF_MT    "engine.log.buf"
#define LOG_MAX_DEPTH 8

/* __gc of the line buffer. [-0, +0, -] */
static int log_buf_gc(lua_State *L)
{
    struct eng_buf *b = luaL_checkudata(L, 1, LOG_BUF_MT);
    eng_buf_free(b);
    return 0;
}

static void log_value(lua_State *L, struct eng_buf *b, int idx, int depth);

/* Keys of the line itself, which fields must not repeat (JSON readers keep the last one). */
static int log_reserved(const char *k, size_t n)
{
    static const char *const names[] = {"time", "level", "msg", "tenant", "run"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
            return 1;
    return 0;
}

/* Write the table at idx as a JSON object (or array when its keys are 1..n). [-0, +0, m] */
static void log_table(lua_State *L, struct eng_buf *b, int idx, int depth)
{
    idx = lua_absindex(L, idx);
    eng_vm_frozen_open(L, idx); /* a module's frozen table: read its contents */
    if (depth >= LOG_MAX_DEPTH) {
        eng_buf_puts(b, "\"[nested too deep]\"");
        return;
    }
    luaL_checkstack(L, 4, "engine.log: nested too deep");
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    int is_array = n > 0;
    lua_Integer count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (!lua_isinteger(L, -2))
            is_array = 0;
        lua_pop(L, 1);
    }
    if (count != n)
        is_array = 0;

    if (is_array) {
        eng_buf_putc(b, '[');
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1)
                eng_buf_putc(b, ',');
            lua_rawgeti(L, idx, i);
            log_value(L, b, -1, depth + 1);
            lua_pop(L, 1);
        }
        eng_buf_putc(b, ']');
        return;
    }
    eng_buf_putc(b, '{');
    int first = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        char numkey[64];
        const char *k;
        size_t klen;
        if (lua_type(L, -2) == LUA_TSTRING) {
            k = lua_tolstring(L, -2, &klen);
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
            /* never lua_tostring the key itself: that would confuse lua_next */
            if (lua_isinteger(L, -2))
                klen = (size_t)snprintf(numkey, sizeof numkey, "%lld",
                                        (long long)lua_tointeger(L, -2));
            else
                klen = (size_t)snprintf(numkey, sizeof numkey, "%.17g", lua_tonumber(L, -2));
            k = numkey;
        } else {
            lua_pop(L, 1);
            continue;
        }
        if (!first)
            eng_buf_putc(b, ',');
        first = 0;
        if (depth == 0 && log_reserved(k, klen)) {
            /* never let a field shadow the line's own time/level/msg/tenant/run */
            eng_buf_puts(b, "\"field.");
            eng_buf_append(b, k, klen);
            eng_buf_putc(b, '"');
        } else {
            eng_buf_json_str(b, k, klen);
        }
        eng_buf_putc(b, ':');
        if (eng_log_key_is_secret(k, klen))
            eng_buf_puts(b, "\"[REDACTED]\"");
        else
            log_value(L, b, -1, depth + 1);
        lua_pop(L, 1);
    }
    eng_buf_putc(b, '}');
}

static void log_value(lua_State *L, struct eng_buf *b, int idx, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        eng_buf_json_str(b, s, n);
        break;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            eng_buf_printf(b, "%lld", (long long)lua_tointeger(L, idx));
        } else {
            double d = lua_tonumber(L, idx);
            if (isfinite(d))
                eng_buf_printf(b, "%.17g", d);
            else
                eng_buf_puts(b, "null");
        }
        break;
    case LUA_TBOOLEAN:
        eng_buf_puts(b, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TTABLE:
        log_table(L, b, idx, depth);
        break;
    case LUA_TNIL:
        eng_buf_puts(b, "null");
        break;
    default:
        eng_buf_printf(b, "\"[%s]\"", luaL_typename(L, idx));
        break;
    }
}

/* Shared body of log.debug/info/warn/error(msg [, fields]) -> nothing.
 * msg must be a string; fields, when given, a table. [-0, +0, v] */
static int log_at(lua_State *L, enum eng_log_level level)
{
    const char *msg = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    if (level < eng_log_get_level())
        return 0;

    struct eng_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    eng_buf_init(b);
    luaL_setmetatable(L, LOG_BUF_MT);
    if (lua_istable(L, 2)) {
        eng_buf_puts(b, "\"fields\":");
        log_table(L, b, 2, 0);
        if (b->len > 10 && b->data[9] == '{') {
            /* an object: its members join the line (strip "fields":{ and }) */
            b->data[b->len - 1] = '\0';
            eng_log_raw(level, eng_vm_tenant_of(L), eng_vm_run_of(L), msg, b->data + 10);
        } else {
            /* a list: kept whole under "fields" */
            eng_log_raw(level, eng_vm_tenant_of(L), eng_vm_run_of(L), msg, b->data);
        }
    } else {
        eng_log_raw(level, eng_vm_tenant_of(L), eng_vm_run_of(L), msg, NULL);
    }
    eng_buf_free(b);
    return 0;
}

/* log.debug(msg [, fields]) */
static int log_debug(lua_State *L)
{
    return log_at(L, ENG_LOG_DEBUG);
}

/* log.info(msg [, fields]) */
static int log_info(lua_State *L)
{
    return log_at(L, ENG_LOG_INFO);
}

/* log.warn(msg [, fields]) */
static int log_warn(lua_State *L)
{
    return log_at(L, ENG_LOG_WARN);
}

/* log.error(msg [, fields]) */
static int log_error(lua_State *L)
{
    return log_at(L, ENG_LOG_ERROR);
}

/* log.is_secret_key(key) -> boolean: would this key's value be redacted? [-0, +1, v] */
static int log_is_secret_key(lua_State *L)
{
    size_t n;
    const char *k = luaL_checklstring(L, 1, &n);
    lua_pushboolean(L, eng_log_key_is_secret(k, n));
    return 1;
}

static const luaL_Reg log_funcs[] = {
    {"debug", log_debug},
    {"info", log_info},
    {"warn", log_warn},
    {"error", log_error},
    {"is_secret_key", log_is_secret_key},
    {NULL, NULL},
};

/* [-0, +1, m] */
int luaopen_engine_log(lua_State *L)
{
    if (luaL_newmetatable(L, LOG_BUF_MT)) {
        lua_pushcfunction(L, log_buf_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    luaL_newlib(L, log_funcs);
    return 1;
}
