/*
 * lmod_trace_table.c - the `table` library code traced for `dry-run --explain` sees: the
 * sandbox's own functions, with insert, remove, move and sort wrapped so that the origins of the
 * elements they write or shift follow the elements (lmod_trace.c records the origins).
 * Owns: nothing. Must not: change what these functions do or return.
 */
#include <lauxlib.h>

#include "lua/lmod_trace_int.h"
#include "lua/vm_int.h"

/* ---- table.insert / remove / move / sort as traced code sees them: the same functions (the
 * originals, upvalue 1), and the origins of the elements they write or shift follow them. */

/* Call the original with this function's n arguments; its results end above them. Returns
 * how many. [-0, +r, e] */
static int trace_call_original(lua_State *L, int n)
{
    luaL_checkstack(L, n + 2, "lineage");
    lua_pushvalue(L, lua_upvalueindex(1));
    for (int i = 1; i <= n; i++)
        lua_pushvalue(L, i);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L) - n;
}

/* Push origins and origins[t] for the table at index 1; 0 (nothing pushed) when no explain
 * runs or arg 1 is not a table. [-0, +0|2, m] */
static int trace_push_km1(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TTABLE || !eng_trace_push_session(L))
        return 0;
    eng_trace_push_keymap(L, -1, 1);
    return 1;
}

/* Push the entry of a write made by the calling Lua function at its current line. [-0,+1,m] */
static void trace_push_caller_entry(lua_State *L)
{
    lua_Debug ar;
    lua_Integer line = 0;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
        line = ar.currentline;
    eng_trace_push_writer(L);
    eng_trace_push_entry(L, -2, -1, line);
    lua_replace(L, -3);
    lua_pop(L, 1);
}

/* table.insert(t, [pos,] v): the new element is written at the caller's line; the elements
 * it shifts keep their origins. [-n, +0, e] */
static int trace_tinsert(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pop(L, trace_call_original(L, n));
    if (!trace_push_km1(L))
        return 0;
    int km = lua_gettop(L);
    lua_Integer len = luaL_len(L, 1);
    lua_Integer pos = n >= 3 ? lua_tointeger(L, 2) : len;
    for (lua_Integer i = len; i > pos; i--) {
        eng_vm_charge(L, 1);
        lua_rawgeti(L, km, i - 1);
        lua_rawseti(L, km, i);
    }
    trace_push_caller_entry(L);
    lua_rawseti(L, km, pos);
    return 0;
}

/* table.remove(t [, pos]) -> the removed value; later elements keep their origins. */
static int trace_tremove(lua_State *L)
{
    int n = lua_gettop(L);
    lua_Integer before = lua_type(L, 1) == LUA_TTABLE ? luaL_len(L, 1) : 0;
    int r = trace_call_original(L, n);
    int top = lua_gettop(L);
    lua_Integer pos = n >= 2 ? lua_tointeger(L, 2) : before;
    if (pos >= 1 && pos <= before && trace_push_km1(L)) {
        int km = lua_gettop(L);
        for (lua_Integer i = pos; i < before; i++) {
            eng_vm_charge(L, 1);
            lua_rawgeti(L, km, i + 1);
            lua_rawseti(L, km, i);
        }
        lua_pushnil(L);
        lua_rawseti(L, km, before);
        lua_settop(L, top);
    }
    return r;
}

/* table.move(a1, f, e, t [, a2]) -> a2: each element moved is written at the caller's line. */
static int trace_tmove(lua_State *L)
{
    int n = lua_gettop(L);
    int r = trace_call_original(L, n);
    int top = lua_gettop(L);
    lua_Integer f = lua_tointeger(L, 2), e = lua_tointeger(L, 3), t = lua_tointeger(L, 4);
    int dst = n >= 5 ? 5 : 1;
    if (e >= f && e - f < LUA_MAXINTEGER && lua_type(L, dst) == LUA_TTABLE &&
        eng_trace_push_session(L)) {
        eng_trace_push_keymap(L, -1, dst);
        int km = lua_gettop(L);
        trace_push_caller_entry(L);
        for (lua_Integer i = 0; i <= e - f; i++) {
            eng_vm_charge(L, 1);
            lua_pushvalue(L, -1);
            lua_rawseti(L, km, t + i);
        }
    }
    lua_settop(L, top);
    return r;
}

/* The comparator sort gets in trace_tsort: compares the values of two { v, origin } pairs
 * with the script's function (upvalue 1) or <. [-2, +1, e] */
static int trace_sort_cmp(lua_State *L)
{
    lua_rawgeti(L, 1, 1);
    lua_rawgeti(L, 2, 1);
    if (lua_isnil(L, lua_upvalueindex(1))) {
        lua_pushboolean(L, lua_compare(L, 3, 4, LUA_OPLT));
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 3);
    lua_call(L, 2, 1);
    return 1;
}

/* table.sort(t [, cmp]): while an explain runs, sorts { value, origin } pairs with the
 * original sort and writes both back, so each element keeps its origin. */
static int trace_tsort(lua_State *L)
{
    int n = lua_gettop(L);
    if (lua_type(L, 1) != LUA_TTABLE || !eng_trace_push_session(L)) {
        lua_settop(L, n);
        lua_pop(L, trace_call_original(L, n));
        return 0;
    }
    lua_pop(L, 1);
    lua_settop(L, 2);
    eng_trace_push_session(L);      /* 3: origins */
    eng_trace_push_keymap(L, 3, 1); /* 4: keymap */
    lua_Integer len = luaL_len(L, 1);
    lua_createtable(L, len > 0 && len < (1 << 24) ? (int)len : 0, 0); /* 5: pairs */
    for (lua_Integer i = 1; i <= len; i++) {
        eng_vm_charge(L, 1); /* len is the table's __len: the script's word */
        lua_createtable(L, 2, 0);
        lua_geti(L, 1, i);
        lua_rawseti(L, -2, 1);
        lua_rawgeti(L, 4, i);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, 5, i);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 5);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, trace_sort_cmp, 1);
    lua_call(L, 2, 0);
    for (lua_Integer i = 1; i <= len; i++) {
        eng_vm_charge(L, 1);
        lua_rawgeti(L, 5, i);
        lua_rawgeti(L, -1, 1);
        lua_seti(L, 1, i);
        lua_rawgeti(L, -1, 2);
        lua_rawseti(L, 4, i);
        lua_pop(L, 1);
    }
    return 0;
}

/* Push the traced code's `table`: the sandbox's, with insert, remove, move and sort wrapped.
 * [-0, +1, m] */
void eng_trace_push_table_lib(lua_State *L)
{
    static const char *const keep[] = {"concat", "pack", "unpack"};
    static const luaL_Reg wrap[] = {{"insert", trace_tinsert},
                                    {"remove", trace_tremove},
                                    {"move", trace_tmove},
                                    {"sort", trace_tsort},
                                    {NULL, NULL}};
    eng_vm_push_base(L);
    lua_getfield(L, -1, "table"); /* base table */
    lua_createtable(L, 0, 8);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        lua_getfield(L, -2, keep[i]);
        lua_setfield(L, -2, keep[i]);
    }
    for (const luaL_Reg *w = wrap; w->name != NULL; w++) {
        lua_getfield(L, -2, w->name);
        lua_pushcclosure(L, w->func, 1);
        lua_setfield(L, -2, w->name);
    }
    eng_vm_make_readonly(L); /* shared by every traced module, like the sandbox's own */
    lua_replace(L, -3);
    lua_pop(L, 1);
}
