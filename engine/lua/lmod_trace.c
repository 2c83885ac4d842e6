/*
 * lmod_trace.c - engine.trace: where a mapping's output fields and errors come from, for
 * `dry-run --explain` and for error messages that name the mapping's file and line. The sandbox
 * has no debug library; the few stack facts these need are read here, in C, with lua_getinfo.
 * Lineage: `dry-run --explain` runs a second copy of the mapping and of every script module it
 * requires, loaded from source rewritten by trace_rewrite.c so that each table constructor and
 * each field assignment reports itself (file:line, and the callers up to the mapping). The
 * normal copies never see this: lineage costs nothing when explain is off. Nothing guesses.
 * Owns: per state, the traced modules, the recording session and the hooks' tables.
 * Must not: hand scripts a way to read locals, upvalues or other frames' values (only "file:line"
 * text leaves this file), or change what a traced module computes.
 *
 * Lua API
 *   trace.require(name) -> the traced copy of script module name (cached per state; what it
 *        requires is traced too; engine.* modules are the normal ones).
 *   trace.begin()      -> origins: from now on, origins[t][k] = { where = "file:line", via =
 *        { caller "file:line", ... up to the mapping's frame } } for every field k a traced
 *        module writes into table t (weak in t). trace.finish() stops it.
 *   trace.rewrite(src) -> the rewritten text | nil, line (source it cannot follow), for tests.
 *   trace.where(f)     -> "file:line" where Lua function f is defined, or nil for a C function.
 *   trace.locate(msg)  -> msg, prefixed with "mappings/x.lua:N: " (the innermost mapping frame
 *        on the stack) unless it already starts with a mapping's position. Meant as an xpcall
 *        message handler: the failing frame is still on the stack. Non-strings are returned as
 *        they are.
 */
#include "lua/lmods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/lmod_trace_int.h"
#include "lua/trace_rewrite.h"
#include "lua/vm_int.h"

/* Registry keys (addresses: unique). */
static const char trace_key_session = 's';  /* the origins table of the explain running, or nil */
static const char trace_key_loaded = 'l';   /* traced modules: name -> module (or a marker) */
static const char trace_key_env = 'e';      /* what traced chunks' environments fall back to */
static const char trace_key_store_mt = 'm'; /* metatable of __lineage_s's recording proxies */

#define TRACE_VIA_MAX 8 /* callers kept in an entry's `via` */

/* Push the origins table of the running explain; 0 (and nothing pushed) when none. [-0,+0|1,-] */
int eng_trace_push_session(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &trace_key_session) == LUA_TTABLE)
        return 1;
    lua_pop(L, 1);
    return 0;
}

/* Push origins[t] (t at index ti), created when absent; origins at index oi. [-0, +1, m] */
void eng_trace_push_keymap(lua_State *L, int oi, int ti)
{
    oi = lua_absindex(L, oi), ti = lua_absindex(L, ti);
    lua_pushvalue(L, ti);
    if (lua_rawget(L, oi) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, ti);
    lua_pushvalue(L, -2);
    lua_rawset(L, oi);
}

/* Push the file of the Lua function at level 1 (the writer) and the array of its callers'
 * "file:line", innermost first, up to the mapping's own frame. The chain ends early, saying
 * why, at a C frame ("(through a C function)": pcall, a callback) and after a tail call, whose
 * caller's frame Lua has already dropped ("(tail call)"). [-0, +2, m] */
void eng_trace_push_writer(lua_State *L)
{
    lua_Debug ar;
    int stop = 0;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "St", &ar)) {
        lua_pushstring(L, ar.short_src);
        stop = strncmp(ar.source, "@mappings/", 10) == 0;
    } else {
        lua_pushliteral(L, "?");
        stop = 1;
    }
    lua_createtable(L, stop ? 0 : 4, 0);
    int n = 0;
    for (int level = 1; !stop && n < TRACE_VIA_MAX; level++) {
        int tail = (unsigned char)ar.istailcall; /* of the frame below: its caller is gone */
        if (tail) {
            lua_pushliteral(L, "(tail call)");
            lua_rawseti(L, -2, ++n);
            break;
        }
        if (!lua_getstack(L, level + 1, &ar) || !lua_getinfo(L, "Slt", &ar))
            break;
        if (ar.currentline <= 0) { /* pcall, a gsub or sort callback: its caller is beyond */
            lua_pushliteral(L, "(through a C function)");
            lua_rawseti(L, -2, ++n);
            break;
        }
        lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
        lua_rawseti(L, -2, ++n);
        stop = strncmp(ar.source, "@mappings/", 10) == 0;
    }
}

/* Push a new entry { where = file:line, via = via } (file, via at fi, vi). [-0, +1, m] */
void eng_trace_push_entry(lua_State *L, int fi, int vi, lua_Integer line)
{
    fi = lua_absindex(L, fi), vi = lua_absindex(L, vi);
    lua_createtable(L, 0, 2);
    lua_pushfstring(L, "%s:%I", lua_tostring(L, fi), (LUAI_UACINT)line);
    lua_setfield(L, -2, "where");
    lua_pushvalue(L, vi);
    lua_setfield(L, -2, "via");
}

/* __lineage_c(t, line, key1, line1, ...) -> t: t was just built by a constructor at `line`,
 * the item with key k at line k. [-n, +1, m] */
static int trace_hook_ctor(lua_State *L)
{
    int n = lua_gettop(L);
    if (n < 2 || lua_type(L, 1) != LUA_TTABLE || !eng_trace_push_session(L)) {
        lua_settop(L, 1);
        return 1;
    }
    luaL_checkstack(L, 8, "lineage");
    int origins = lua_gettop(L);
    eng_trace_push_keymap(L, origins, 1);
    int keymap = lua_gettop(L);
    eng_trace_push_writer(L);
    int file = keymap + 1, via = keymap + 2;
    eng_trace_push_entry(L, file, via, lua_tointeger(L, 2));
    int entry0 = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) { /* every key: the constructor's line */
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushvalue(L, entry0);
        lua_rawset(L, keymap);
    }
    for (int i = 3; i + 1 <= n; i += 2) { /* the items the rewrite could name: their own line */
        lua_pushvalue(L, i);
        if (lua_rawget(L, 1) == LUA_TNIL) {
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        lua_pushvalue(L, i);
        eng_trace_push_entry(L, file, via, lua_tointeger(L, i + 1));
        lua_rawset(L, keymap);
    }
    lua_settop(L, 1);
    return 1;
}

/* proxy.__newindex(p, k, v): t[k] = v (t's own metamethods apply), then record the write.
 * [-0, +0, e] */
static int trace_store_newindex(lua_State *L)
{
    lua_settop(L, 3);
    lua_getiuservalue(L, 1, 1); /* 4: t */
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_settable(L, 4);
    if (!eng_trace_push_session(L)) /* 5: origins */
        return 0;
    eng_trace_push_keymap(L, 5, 4);
    lua_pushvalue(L, 2);
    lua_getiuservalue(L, 1, 2); /* the entry */
    lua_rawset(L, -3);
    return 0;
}

/* __lineage_s(t, line) -> t, or (while an explain runs) a proxy whose one write lands in t
 * and is recorded as made at line of the calling file. [-2, +1, m] */
static int trace_hook_store(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_type(L, 1) != LUA_TTABLE || !eng_trace_push_session(L)) {
        lua_settop(L, 1);
        return 1;
    }
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 2); /* 3: proxy (a userdata: every key reaches __newindex) */
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 3, 1);
    eng_trace_push_writer(L); /* 4 file, 5 via */
    eng_trace_push_entry(L, 4, 5, lua_tointeger(L, 2));
    lua_setiuservalue(L, 3, 2);
    lua_settop(L, 3);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &trace_key_store_mt);
    lua_setmetatable(L, 3);
    return 1;
}

/* Push the table traced chunks' environments fall back to: require = trace.require, the two
 * hooks, then the sandbox's base. Created once per state. [-0, +1, m] */
static int trace_require(lua_State *L);
static void trace_push_env_base(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &trace_key_env) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, trace_require);
    lua_setfield(L, -2, "require");
    lua_pushcfunction(L, trace_hook_ctor);
    lua_setfield(L, -2, ENG_TRACE_HOOK_CTOR);
    lua_pushcfunction(L, trace_hook_store);
    lua_setfield(L, -2, ENG_TRACE_HOOK_STORE);
    eng_trace_push_table_lib(L);
    lua_setfield(L, -2, "table");
    lua_createtable(L, 0, 2);
    eng_vm_push_base(L);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &trace_key_env);

    lua_createtable(L, 0, 2); /* the proxies' metatable */
    lua_pushcfunction(L, trace_store_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "engine.trace.store");
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &trace_key_store_mt);
}

/* trace.require(name) -> module: like require, but a script module is loaded from its source
 * rewritten for lineage (trace_rewrite.c), once per state, and what it requires is traced too.
 * Engine modules are the normal ones. [-1, +1, e] */
static int trace_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    if (strncmp(name, "engine.", 7) == 0) {
        eng_vm_push_base(L);
        lua_getfield(L, -1, "require");
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        return 1;
    }
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &trace_key_loaded) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &trace_key_loaded);
    } /* 2: loaded */
    if (eng_vm_require_cached(L, name))
        return 1;
    trace_push_env_base(L); /* 3 */
    char logical[1024];
    size_t len = 0;
    char *src = eng_vm_module_source(L, name, logical, sizeof logical, &len);
    if (src == NULL)
        return luaL_error(L, "module '%s' not found (looked for %s)", name, logical);
    char *text = NULL;
    size_t tlen = 0;
    int line = 0;
    int rc = eng_trace_rewrite(src, len, &text, &tlen, &line);
    free(src);
    if (rc == -2)
        return luaL_error(L, "%s: out of memory rewriting it for --explain", logical);
    if (rc != 0)
        return luaL_error(L,
                          "%s:%d: --explain cannot follow this source (an unclosed string, "
                          "comment or bracket?)",
                          logical, line);
    /* text is held: build the chunk name in a fixed buffer, then load without raising */
    char chunk[1100];
    snprintf(chunk, sizeof chunk, "@%s", logical);
    int st = luaL_loadbufferx(L, text, tlen, chunk, "t");
    free(text);
    if (st != LUA_OK)
        return lua_error(L);
    lua_createtable(L, 0, 8);        /* the module's own environment */
    eng_vm_push_env_metatable(L, 3); /* frozen with the module, like require's */
    lua_setmetatable(L, -2);
    if (lua_setupvalue(L, -2, 1) == NULL)
        lua_pop(L, 1);
    eng_vm_require_run(L, name);
    return 1;
}

/* trace.begin() -> origins: start recording (origins[t][k] = { where, via } | a rule's entry,
 * weak in t). [-0, +1, m] */
static int trace_begin(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &trace_key_session);
    return 1;
}

/* trace.finish(): stop recording. [-0, +0, -] */
static int trace_finish(lua_State *L)
{
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &trace_key_session);
    return 0;
}

/* The box that owns a rewritten text while it is copied into Lua. */
static int trace_box_close(lua_State *L)
{
    char **box = luaL_checkudata(L, 1, "engine.trace.text");
    free(*box);
    *box = NULL;
    return 0;
}

/* trace.rewrite(text) -> text | nil, line: the source as traced modules run it (for tests).
 * [-1, +1|2, m] */
static int trace_rewrite_text(lua_State *L)
{
    size_t len;
    const char *src = luaL_checklstring(L, 1, &len);
    lua_settop(L, 1);
    eng_lmod_handle_mt(L, "engine.trace.text", trace_box_close, "engine.trace.text");
    char **box = lua_newuserdatauv(L, sizeof *box, 0); /* 2 */
    *box = NULL;
    luaL_setmetatable(L, "engine.trace.text");
    size_t tlen = 0;
    int line = 0;
    int rc = eng_trace_rewrite(src, len, box, &tlen, &line);
    if (rc == -2)
        return luaL_error(L, "out of memory");
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushinteger(L, line);
        return 2;
    }
    lua_pushlstring(L, *box, tlen); /* a raise here leaves the text to the box's __gc */
    free(*box);
    *box = NULL;
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
    static const luaL_Reg funcs[] = {{"require", trace_require},
                                     {"begin", trace_begin},
                                     {"finish", trace_finish},
                                     {"rewrite", trace_rewrite_text},
                                     {"where", trace_where},
                                     {"locate", trace_locate},
                                     {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
