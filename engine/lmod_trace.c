/*
 * lmod_trace.c - engine.trace: where a mapping's output fields and errors come from, for
 * `dry-run --explain` and for error messages that name the mapping's file and line. The sandbox
 * has no debug library; the few stack facts these need are read here, in C, with lua_getinfo.
 * Owns: nothing beyond the Lua values it creates (a traced output is plain Lua tables).
 * Must not: hand scripts a way to read locals, upvalues or other frames' values (only "file:line"
 * text leaves this file), or change how a traced table's contents encode once unwrapped.
 *
 * Lua API
 *   trace.new(root)    -> proxy, log   root: the real output table (may hold earlier fields).
 *        Writes through proxy (and through any table read back out of it, nested to any depth)
 *        land in the real tables and append { path, "file:line" } to log, where file:line is
 *        the innermost Lua function that made the write. Reads, #, pairs go to the real tables.
 *        Paths: name, a.b, Line[1].Amount (Lua indices), a["odd key"].
 *   trace.unwrap(v)    -> the real table behind a traced proxy; v itself otherwise.
 *   trace.where(f)     -> "file:line" where Lua function f is defined, or nil for a C function.
 *   trace.locate(msg)  -> msg, prefixed with "mappings/x.lua:N: " (the innermost mapping frame
 *        on the stack) unless it already starts with a mapping's position. Meant as an xpcall
 *        message handler: the failing frame is still on the stack. Non-strings are returned as
 *        they are.
 */
#include "lmods.h"

#include <string.h>

#include <lauxlib.h>

/* Fields of a session table (the one upvalue of every metamethod of a trace). */
#define S_REAL  "real"  /* proxy -> real table */
#define S_PATH  "path"  /* proxy -> path text ("" for the root) */
#define S_CACHE "cache" /* real table -> its proxy */
#define S_LOG   "log"   /* array of { path, where } */
#define S_MT    "mt"    /* the proxies' metatable */

static int trace_is_ident(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* Push base path + the segment for key at index k. [-0, +1, m] */
static void trace_push_path(lua_State *L, const char *base, int k)
{
    k = lua_absindex(L, k);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, base);
    if (lua_type(L, k) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, k, &n);
        if (trace_is_ident(s, n)) {
            if (*base != '\0')
                luaL_addchar(&b, '.');
            luaL_addlstring(&b, s, n);
        } else {
            luaL_addstring(&b, "[\"");
            luaL_addlstring(&b, s, n);
            luaL_addstring(&b, "\"]");
        }
    } else if (lua_isinteger(L, k)) {
        lua_pushfstring(L, "[%I]", (LUAI_UACINT)lua_tointeger(L, k));
        luaL_addvalue(&b);
    } else {
        lua_pushfstring(L, "[(%s)]", luaL_typename(L, k));
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
}

/* Push "file:line" of the innermost Lua frame from level 1 up, or "?" when there is none.
 * [-0, +1, m] */
static void trace_push_where(lua_State *L)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
            return;
        }
    }
    lua_pushliteral(L, "?");
}

/* Push sess[field][key at k]. [-0, +1, -] */
static int trace_sess_get(lua_State *L, const char *field, int k)
{
    k = lua_absindex(L, k);
    lua_getfield(L, lua_upvalueindex(1), field);
    lua_pushvalue(L, k);
    int t = lua_rawget(L, -2);
    lua_remove(L, -2);
    return t;
}

/* Push the proxy of real table at index r, whose path is path (created once per table).
 * Uses the session at upvalue 1. [-0, +1, m] */
static void trace_push_proxy(lua_State *L, int r, const char *path)
{
    r = lua_absindex(L, r);
    if (trace_sess_get(L, S_CACHE, r) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L); /* proxy */
    lua_getfield(L, lua_upvalueindex(1), S_MT);
    lua_setmetatable(L, -2);
    lua_getfield(L, lua_upvalueindex(1), S_REAL);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, r);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_getfield(L, lua_upvalueindex(1), S_PATH);
    lua_pushvalue(L, -2);
    lua_pushstring(L, path);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_getfield(L, lua_upvalueindex(1), S_CACHE);
    lua_pushvalue(L, r);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* __index(proxy, k) -> the real value; a table comes back as its own traced proxy. [-0,+1,m] */
static int trace_index(lua_State *L)
{
    trace_sess_get(L, S_REAL, 1); /* real */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TTABLE)
        return 1;
    int stored_proxy = trace_sess_get(L, S_REAL, -1) != LUA_TNIL;
    lua_pop(L, 1);
    if (stored_proxy) /* a proxy stored raw (rawset by the script): give it back */
        return 1;
    trace_sess_get(L, S_PATH, 1);
    trace_push_path(L, lua_tostring(L, -1), 2);
    trace_push_proxy(L, -3, lua_tostring(L, -1));
    return 1;
}

/* __newindex(proxy, k, v): store v (a proxy is stored as its real table) and log the write.
 * [-0, +0, e] */
static int trace_newindex(lua_State *L)
{
    lua_settop(L, 3);
    if (lua_type(L, 3) == LUA_TTABLE && trace_sess_get(L, S_REAL, 3) == LUA_TTABLE)
        lua_replace(L, 3);
    else if (lua_type(L, 3) == LUA_TTABLE)
        lua_pop(L, 1);
    trace_sess_get(L, S_REAL, 1); /* 4: real */
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, 4);         /* raises for a nil or NaN key, like any table */
    lua_createtable(L, 2, 0); /* 5: entry */
    trace_sess_get(L, S_PATH, 1);
    trace_push_path(L, lua_tostring(L, -1), 2);
    lua_rawseti(L, 5, 1);
    lua_pop(L, 1);
    trace_push_where(L);
    lua_rawseti(L, 5, 2);
    lua_getfield(L, lua_upvalueindex(1), S_LOG);
    lua_pushvalue(L, 5);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    return 0;
}

/* __len(proxy) -> #real (raw). [-0, +1, -] */
static int trace_len(lua_State *L)
{
    trace_sess_get(L, S_REAL, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

/* next over the real table, for __pairs. [-2, +2|1, e] */
static int trace_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs(proxy) -> next, real, nil. [-0, +3, -] */
static int trace_pairs(lua_State *L)
{
    lua_pushcfunction(L, trace_next);
    trace_sess_get(L, S_REAL, 1);
    lua_pushnil(L);
    return 3;
}

/* trace.new(root) -> proxy, log   [-0, +2, m] */
static int trace_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_createtable(L, 0, 5); /* 2: session */
    static const char *const maps[] = {S_REAL, S_PATH, S_CACHE};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        lua_newtable(L);
        lua_setfield(L, 2, maps[i]);
    }
    lua_newtable(L);
    lua_setfield(L, 2, S_LOG);

    static const luaL_Reg meta[] = {{"__index", trace_index},
                                    {"__newindex", trace_newindex},
                                    {"__len", trace_len},
                                    {"__pairs", trace_pairs},
                                    {NULL, NULL}};
    lua_createtable(L, 0, 6); /* 3: mt */
    lua_pushvalue(L, 2);
    luaL_setfuncs(L, meta, 1);
    lua_pushliteral(L, "engine.trace.table");
    lua_setfield(L, 3, "__name");
    lua_pushliteral(L, "engine.trace.table");
    lua_setfield(L, 3, "__metatable");
    lua_setfield(L, 2, S_MT);

    lua_newtable(L); /* 3: proxy of the root */
    lua_getfield(L, 2, S_MT);
    lua_setmetatable(L, 3);
    lua_getfield(L, 2, S_REAL);
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_getfield(L, 2, S_PATH);
    lua_pushvalue(L, 3);
    lua_pushliteral(L, "");
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_getfield(L, 2, S_CACHE);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_getfield(L, 2, S_LOG);
    return 2;
}

/* trace.unwrap(v) -> real table | v   [-0, +1, -] */
static int trace_unwrap(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
        if (lua_getfield(L, -1, "__index") == LUA_TFUNCTION &&
            lua_tocfunction(L, -1) == trace_index && lua_getupvalue(L, -1, 1) != NULL) {
            lua_getfield(L, -1, S_REAL);
            lua_pushvalue(L, 1);
            lua_rawget(L, -2);
            return 1;
        }
    }
    lua_settop(L, 1);
    return 1;
}

/* trace.where(f) -> "file:line" | nil   [-0, +1, m] */
static int trace_where(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_Debug ar;
    lua_pushvalue(L, 1);
    if (!lua_getinfo(L, ">S", &ar) || ar.linedefined <= 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushfstring(L, "%s:%d", ar.short_src, ar.linedefined);
    return 1;
}

/* 1 when msg starts with "mappings/<...>.lua:<digits>: ". */
static int trace_has_mapping_pos(const char *msg)
{
    if (strncmp(msg, "mappings/", 9) != 0)
        return 0;
    const char *p = strstr(msg, ".lua:");
    const char *sp = strchr(msg, ' ');
    if (p == NULL || (sp != NULL && sp < p))
        return 0;
    p += 5;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    return p[0] == ':' && p[1] == ' ';
}

/* trace.locate(msg) -> msg with the innermost mapping frame's "file:line: " in front.
 * [-0, +1, m] */
static int trace_locate(lua_State *L)
{
    lua_settop(L, 1);
    if (lua_type(L, 1) != LUA_TSTRING || trace_has_mapping_pos(lua_tostring(L, 1)))
        return 1;
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0)
            continue;
        if (strncmp(ar.source, "@mappings/", 10) == 0) {
            lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, lua_tostring(L, 1));
            return 1;
        }
    }
    return 1;
}

int luaopen_engine_trace(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"new", trace_new},
                                     {"unwrap", trace_unwrap},
                                     {"where", trace_where},
                                     {"locate", trace_locate},
                                     {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
