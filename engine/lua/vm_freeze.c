/*
 * vm_freeze.c - what a worker's warm VM shares between tasks, frozen for real, and the one table a
 * task may write its globals to, fresh for each task.
 *
 * A frozen table is frozen in place, so every reference to it (a module's own locals included)
 * sees the same read-only table: its contents move to a hidden table reachable only from C (the
 * frozen table's metatable, itself hidden by __metatable), the table itself is left empty, and
 * its metatable reads through to the hidden one (__index), refuses writes (__newindex), and
 * answers # and pairs (__len, __pairs) from it. Nothing Lua can call returns the hidden table:
 * the sandbox's next / rawget / rawlen read through a frozen table and return its (frozen) values.
 * Freezing is deep: nested tables, the upvalue tables of Lua functions, a module's environment.
 * A module environment's frozen table sends a new global to the current task's table (created
 * by eng_vm_task_begin, dropped by eng_vm_task_end), which the sandbox base reads last, so a
 * global set in one task is gone in the next.
 *
 * A table used as a metatable keeps its "__" fields raw as well (metamethods are looked up raw);
 * those, and the variables (upvalues) of shared Lua functions, are put back after every task.
 *
 * Owns: the frozen tables' metatables and hidden tables, the task table slot in the registry,
 * the lists of what is put back after a task. Must not: hand a hidden table to Lua; walk into
 * what C owns (C closures' upvalues, the sandbox base behind a module's environment).
 */
#include "lua/vm_int.h"

#include <string.h>

#include <lauxlib.h>

/* Registry / metatable keys (addresses: no collision with script strings). */
static const char frz_key_hidden = 'h';  /* frozen metatable: [&frz_key_hidden] = hidden table */
static const char frz_key_envmark = 'e'; /* a module environment's metatable: [&..] = true */
static const char frz_key_task = 't';    /* registry: the current task's globals, or nil */
static const char frz_key_basemt = 'b';  /* registry: the sandbox base's metatable */
static const char frz_key_upvals = 'u';  /* registry: { f1, n1, v1, f2, n2, v2, ... } */
static const char frz_key_upseen = 's';  /* registry: upvalue id (light userdata) -> true */
static const char frz_key_fields = 'f';  /* registry: { t1, k1, v1, ... } raw "__" fields */

#define FRZ_MAX_DEPTH 200

/* Push the hidden table of the frozen table at idx and return 1; 0 (nothing pushed) when the
 * value is not a frozen table. [-0, +(0|1), -] */
static int frz_push_hidden(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx))
        return 0;
    if (lua_rawgetp(L, -1, &frz_key_hidden) != LUA_TTABLE) {
        lua_pop(L, 2);
        return 0;
    }
    lua_remove(L, -2);
    return 1;
}

int eng_vm_push_frozen_contents(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    return lua_checkstack(L, 2) && frz_push_hidden(L, idx);
}

int eng_vm_frozen_open(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 2) || !frz_push_hidden(L, idx))
        return 0;
    lua_replace(L, idx);
    return 1;
}

int eng_vm_is_frozen(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 2) || !frz_push_hidden(L, idx))
        return 0;
    lua_pop(L, 1);
    return 1;
}

/* __newindex of a frozen table. [-0, +0, v] */
static int frz_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only table (key '%s')",
                      luaL_tolstring(L, 2, NULL));
}

/* __len of a frozen table: the length of its contents. [-0, +1, e] */
static int frz_len(lua_State *L)
{
    if (!frz_push_hidden(L, 1))
        return luaL_error(L, "not a frozen table");
    lua_len(L, -1);
    return 1;
}

/* next(t [, k]) -> k2, v2 | nil: the sandbox's next, reading a frozen table's contents (its
 * values are frozen themselves). [-0, +(1|2), e] */
static int frz_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    eng_vm_frozen_open(L, 1);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs of a frozen table: next, t, nil (never the hidden table). [-0, +3, -] */
static int frz_pairs(lua_State *L)
{
    lua_pushcfunction(L, frz_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* rawget(t, k) -> v: the sandbox's rawget, reading through a frozen table. [-0, +1, e] */
static int frz_rawget(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    eng_vm_frozen_open(L, 1);
    lua_rawget(L, 1);
    return 1;
}

/* rawlen(v) -> n: the sandbox's rawlen, reading through a frozen table. [-0, +1, e] */
static int frz_rawlen(lua_State *L)
{
    int t = lua_type(L, 1);
    luaL_argexpected(L, t == LUA_TTABLE || t == LUA_TSTRING, 1, "table or string");
    eng_vm_frozen_open(L, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, 1));
    return 1;
}

/* __newindex of a frozen module environment: a global set at run time goes to the current
 * task's table; a name the module or the sandbox defines cannot be replaced. [-0, +0, e] */
static int frz_env_newindex(lua_State *L)
{
    lua_settop(L, 3);
    if (!frz_push_hidden(L, 1)) /* 4: the module's own globals */
        return luaL_error(L, "not a frozen environment");
    lua_pushvalue(L, 2);
    int mine = lua_rawget(L, 4) != LUA_TNIL;
    eng_vm_push_base(L);
    lua_pushvalue(L, 2);
    if (mine || lua_rawget(L, -2) != LUA_TNIL)
        return luaL_error(L,
                          "cannot set global '%s': a module's globals and the sandbox's are "
                          "shared by every task and read-only (use a local)",
                          luaL_tolstring(L, 2, NULL));
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &frz_key_task) != LUA_TTABLE)
        return luaL_error(L, "cannot set global '%s' outside a task (use a local)",
                          luaL_tolstring(L, 2, NULL));
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
}

static int frz_deep(lua_State *L, int idx, int visited, int depth);

/* Push the registry table at key, creating it. [-0, +1, m] */
static void frz_registry_table(lua_State *L, const void *key)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

/* Keep upvalue n of the Lua function at f, whose value (frozen already) is at v, with that
 * value: a shared function's variable (`local cache` a module assigns at run time) is put back
 * after every task (eng_vm_task_end), so what one task assigns there never reaches the next.
 * Each variable once, however many functions share it. [-0, +0, m] */
static void frz_record_upvalue(lua_State *L, int f, int n, int v)
{
    frz_registry_table(L, &frz_key_upseen);
    lua_pushlightuserdata(L, lua_upvalueid(L, f, n));
    if (lua_rawget(L, -2) != LUA_TNIL) {
        lua_pop(L, 2);
        return;
    }
    lua_pop(L, 1);
    lua_pushlightuserdata(L, lua_upvalueid(L, f, n));
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    frz_registry_table(L, &frz_key_upvals);
    lua_Integer i = (lua_Integer)lua_rawlen(L, -1);
    lua_pushvalue(L, f);
    lua_rawseti(L, -2, i + 1);
    lua_pushinteger(L, n);
    lua_rawseti(L, -2, i + 2);
    if (lua_isnil(L, v)) /* a hole would break the list's length */
        lua_pushlightuserdata(L, (void *)&frz_key_upvals);
    else
        lua_pushvalue(L, v);
    lua_rawseti(L, -2, i + 3);
    lua_pop(L, 1);
}

/* __index of a frozen table whose original metatable had an __index function: the contents
 * first, then that function, called with the frozen table (never the hidden one). Upvalues: the
 * contents, the function. [-0, +1, e] */
static int frz_index_fn(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 1);
    return 1;
}

/* Freeze the table at idx in place (not frozen yet; its metatable, if any, frozen already).
 * [-0, +0, m] */
static void frz_table(lua_State *L, int idx, int is_env)
{
    lua_createtable(L, 0, 0); /* H: the contents */
    int h = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, h);
    }
    lua_pushnil(L);
    while (lua_next(L, h) != 0) { /* clearing fields during a traversal of H, not of t */
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, idx);
    }
    int had_mt = lua_getmetatable(L, idx); /* the original metatable (frozen already) */
    lua_createtable(L, 0, 8);              /* the frozen metatable */
    int mt = lua_gettop(L);
    int index_fn = 0, has_fn = 0;
    if (had_mt) {
        /* keep what the original metatable defines for the table's own behaviour (__tostring,
         * __call, __eq, ...); reads and writes are ours */
        lua_pushnil(L);
        while (lua_next(L, mt - 1) != 0) {
            if (lua_type(L, -1) == LUA_TFUNCTION)
                has_fn = 1;
            if (lua_type(L, -2) == LUA_TSTRING) {
                const char *k = lua_tostring(L, -2);
                static const char *const ours[] = {"__index", "__newindex",  "__len",
                                                   "__pairs", "__metatable", "__gc",
                                                   "__mode",  "__close",     "__name"};
                int skip = 0;
                for (size_t i = 0; i < sizeof ours / sizeof ours[0] && !skip; i++)
                    skip = strcmp(k, ours[i]) == 0;
                index_fn |= strcmp(k, "__index") == 0 && lua_type(L, -1) == LUA_TFUNCTION;
                if (!skip && k[0] == '_' && k[1] == '_') {
                    lua_pushvalue(L, -2);
                    lua_insert(L, -2);
                    lua_rawset(L, mt);
                    continue;
                }
            }
            lua_pop(L, 1);
        }
        /* H reads through the original metatable (an __index table, a JSON mark's identity)
         * only when no function of it could be handed H: otherwise through a copy of its
         * tables, and an __index function is called with the frozen table (below). */
        if (!has_fn) {
            lua_pushvalue(L, mt - 1);
        } else {
            lua_createtable(L, 0, 1);
            lua_pushnil(L);
            while (lua_next(L, mt - 1) != 0) {
                if (lua_type(L, -1) == LUA_TTABLE) {
                    lua_pushvalue(L, -2);
                    lua_insert(L, -2);
                    lua_rawset(L, -4);
                    continue;
                }
                lua_pop(L, 1);
            }
        }
        lua_setmetatable(L, h);
    }
    lua_pushvalue(L, h);
    lua_rawsetp(L, mt, &frz_key_hidden);
    lua_pushvalue(L, h);
    if (index_fn) {
        lua_pushliteral(L, "__index");
        lua_rawget(L, mt - 1);
        lua_pushcclosure(L, frz_index_fn, 2);
    }
    lua_setfield(L, mt, "__index");
    lua_pushcfunction(L, is_env ? frz_env_newindex : frz_newindex);
    lua_setfield(L, mt, "__newindex");
    lua_pushcfunction(L, frz_len);
    lua_setfield(L, mt, "__len");
    lua_pushcfunction(L, frz_pairs);
    lua_setfield(L, mt, "__pairs");
    if (had_mt) { /* keep its owner's __metatable */
        lua_pushliteral(L, "__metatable");
        if (lua_rawget(L, mt - 1) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_pushboolean(L, 0);
        }
    } else {
        lua_pushboolean(L, 0);
    }
    lua_setfield(L, mt, "__metatable");
    lua_setmetatable(L, idx);
    /* A metamethod is looked up raw: a table used as a metatable keeps its "__" fields in
     * itself too. Those can be assigned (an existing field takes no metamethod), so each is
     * put back after every task, like a shared function's variables. */
    frz_registry_table(L, &frz_key_fields);
    int fields = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, h) != 0) {
        size_t kl = 0;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
        if (k != NULL && kl > 2 && k[0] == '_' && k[1] == '_') {
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
            lua_rawset(L, idx);
            lua_Integer i = (lua_Integer)lua_rawlen(L, fields);
            lua_pushvalue(L, idx);
            lua_rawseti(L, fields, i + 1);
            lua_pushvalue(L, -2);
            lua_rawseti(L, fields, i + 2);
            lua_rawseti(L, fields, i + 3); /* pops the value */
            continue;
        }
        lua_pop(L, 1);
    }
    lua_settop(L, h - 1);
}

/* Whether the table at idx is to be frozen: 1 yes, 2 yes as a module environment, 0 no (frozen
 * already). [-0, +0, -] */
static int frz_kind(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 1;
    int frozen = lua_rawgetp(L, -1, &frz_key_hidden) != LUA_TNIL;
    int env = lua_rawgetp(L, -2, &frz_key_envmark) == LUA_TBOOLEAN;
    lua_pop(L, 3);
    return frozen ? 0 : env ? 2 : 1;
}

/* Freeze the values (and keys) of the contents table at t. */
static int frz_values(lua_State *L, int t, int visited, int depth)
{
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        int rc = frz_deep(L, lua_gettop(L), visited, depth + 1);
        lua_pop(L, 1);
        if (rc != 0) {
            lua_pop(L, 1);
            return rc;
        }
        /* a key that is a table is frozen too (it is reachable through pairs) */
        rc = frz_deep(L, lua_gettop(L), visited, depth + 1);
        if (rc != 0) {
            lua_pop(L, 1);
            return rc;
        }
    }
    return 0;
}

/* Freeze the value at idx deeply; visited (a table) holds what was seen. 0, or -1 when nested
 * deeper than FRZ_MAX_DEPTH. [-0, +0, m] */
static int frz_deep(lua_State *L, int idx, int visited, int depth)
{
    int t = lua_type(L, idx);
    if (t != LUA_TTABLE && t != LUA_TFUNCTION)
        return 0;
    if (t == LUA_TFUNCTION && lua_iscfunction(L, idx))
        return 0; /* C closures' upvalues are C's own state */
    if (depth > FRZ_MAX_DEPTH)
        return -1;
    luaL_checkstack(L, 12, "freezing a module");
    lua_pushvalue(L, idx);
    if (lua_rawget(L, visited) != LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, visited);

    if (t == LUA_TFUNCTION) {
        for (int n = 1; lua_getupvalue(L, idx, n) != NULL; n++) {
            int rc = frz_deep(L, lua_gettop(L), visited, depth + 1);
            if (rc == 0)
                frz_record_upvalue(L, idx, n, lua_gettop(L));
            lua_pop(L, 1);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    int kind = frz_kind(L, idx);
    if (kind == 0)
        return 0;
    /* the metatable first (a module's class table, a JSON mark), in place: it keeps its "__"
     * fields raw. Not an environment's: it reads the sandbox base, which C owns. */
    if (kind == 1 && lua_getmetatable(L, idx)) {
        int rc = frz_deep(L, lua_gettop(L), visited, depth + 1);
        lua_pop(L, 1);
        if (rc != 0)
            return rc;
    }
    frz_table(L, idx, kind == 2);
    frz_push_hidden(L, idx);
    int rc = frz_values(L, lua_gettop(L), visited, depth);
    lua_pop(L, 1);
    return rc;
}

void eng_vm_freeze(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 8, "freezing a module");
    lua_newtable(L); /* visited */
    int rc = frz_deep(L, idx, lua_gettop(L), 0);
    lua_pop(L, 1);
    if (rc != 0)
        luaL_error(L, "a shared table is nested more than %d levels deep", FRZ_MAX_DEPTH);
}

void eng_vm_push_env_metatable(lua_State *L, int fallback)
{
    fallback = fallback != 0 ? lua_absindex(L, fallback) : 0;
    lua_createtable(L, 0, 3);
    if (fallback != 0)
        lua_pushvalue(L, fallback);
    else
        eng_vm_push_base(L);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushboolean(L, 1);
    lua_rawsetp(L, -2, &frz_key_envmark);
}

void eng_vm_freeze_base(lua_State *L, int base)
{
    base = lua_absindex(L, base);
    lua_pushcfunction(L, frz_next);
    lua_setfield(L, base, "next");
    lua_pushcfunction(L, frz_rawget);
    lua_setfield(L, base, "rawget");
    lua_pushcfunction(L, frz_rawlen);
    lua_setfield(L, base, "rawlen");
    /* the base reads the current task's globals last (__index set by eng_vm_task_begin) */
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &frz_key_basemt);
    lua_setmetatable(L, base);
}

/* Protected part of eng_vm_task_begin. [-0, +0, m] */
static int task_begin(lua_State *L)
{
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &frz_key_task);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &frz_key_basemt);
    lua_insert(L, -2);
    lua_setfield(L, -2, "__index");
    return 0;
}

int eng_vm_task_begin(lua_State *L)
{
    if (!lua_checkstack(L, 4))
        return -1;
    int t = lua_rawgetp(L, LUA_REGISTRYINDEX, &frz_key_task);
    lua_pop(L, 1);
    if (t != LUA_TNIL)
        return 0; /* a task is running: this call is part of it */
    lua_pushcfunction(L, task_begin);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
        return -1;
    }
    return 1;
}

/* Put back every shared function's variables to their values when their module was frozen. */
static void frz_restore_upvalues(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &frz_key_upvals) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int t = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, t);
    for (lua_Integer i = 1; i + 2 <= n; i += 3) {
        lua_rawgeti(L, t, i);     /* f */
        lua_rawgeti(L, t, i + 2); /* f v */
        if (lua_touserdata(L, -1) == (void *)&frz_key_upvals) {
            lua_pop(L, 1);
            lua_pushnil(L);
        }
        lua_rawgeti(L, t, i + 1);
        int up = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (lua_getupvalue(L, -2, up) == NULL) { /* cannot happen: recorded from this f */
            lua_pop(L, 2);
            continue;
        }
        int same = lua_rawequal(L, -1, -2); /* f v now */
        lua_pop(L, 1);
        if (!same)
            lua_setupvalue(L, -2, up); /* pops v */
        lua_settop(L, t);
    }
    lua_pop(L, 1);
}

/* Put back the raw "__" fields of frozen tables. */
static void frz_restore_fields(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &frz_key_fields) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int t = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, t);
    for (lua_Integer i = 1; i + 2 <= n; i += 3) {
        lua_rawgeti(L, t, i);     /* table */
        lua_rawgeti(L, t, i + 1); /* table key */
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);        /* table key now */
        lua_rawgeti(L, t, i + 2); /* table key now v */
        if (!lua_rawequal(L, -1, -2)) {
            lua_remove(L, -2);
            lua_rawset(L, -3); /* an existing key: no allocation */
        }
        lua_settop(L, t);
    }
    lua_pop(L, 1);
}

/* Protected part of eng_vm_task_end. [-0, +0, m] */
static int task_restore(lua_State *L)
{
    frz_restore_upvalues(L);
    frz_restore_fields(L);
    return 0;
}

void eng_vm_task_end(lua_State *L)
{
    lua_checkstack(L, 8);
    lua_pushcfunction(L, task_restore);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) /* a field put back that needed memory (never seen) */
        lua_pop(L, 1);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &frz_key_task);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &frz_key_basemt) == LUA_TTABLE) {
        lua_pushliteral(L, "__index"); /* a reserved name: interned, no allocation */
        lua_pushnil(L);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
}
