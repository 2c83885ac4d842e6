/*
 * lmod_json.c - engine.json, the JSON module of every script and mapping (require "engine.json").
 * Owns: the Lua face below and, per lua_State, the json.null sentinel and the array/object marks
 * (kept in the registry under private light-userdata keys). Parsing: json_dec.c; encoding:
 * json_enc.c; C callers use json.h.
 * Must not: hand scripts anything mutable that outlives a record: the sentinel's metatable is
 * hidden and the marks are locked, empty tables.
 *
 * Lua API
 *   json.decode(text)        -> value | nil, "json: <what> at byte N"  (non-string text raises)
 *   json.encode(v [, opts])  -> string; opts = { pretty = true } for 2-space indentation;
 *                               raises "json.encode: <what> at <path>"
 *   json.canonical           -> the same function as json.encode (canonical is the only form)
 *   json.array([t]), json.object([t]) -> t, marked (a new table when t is absent)
 *   json.is_array(v)         -> true if v is a table that encodes as a JSON array
 *   json.null, json.array_mt, json.object_mt
 * Value mapping (both directions; see json.h): integers <-> Lua integers (beyond int64: exact
 * digit strings); fraction/exponent <-> floats (3.0 encodes as "3.0"); null <-> json.null;
 * every decoded table carries array_mt or object_mt; an unmarked empty table encodes as {};
 * strings must be valid UTF-8 both ways; duplicate keys on decode: the last one wins.
 */
#include "lua/vm_int.h"
#include "lua/json.h"
#include "lua/lmods.h"

#include <string.h>

#include <lauxlib.h>

/* Registry keys: the addresses of these three bytes. */
static const char reg_keys[3];
#define REG_NULL (&reg_keys[0])
#define REG_AMT  (&reg_keys[1])
#define REG_OMT  (&reg_keys[2])

/* __tostring of json.null. [-0, +1, m] */
static int null_tostring(lua_State *L)
{
    lua_pushliteral(L, "null");
    return 1;
}

/* __newindex of the marks' own metatable: marks are shared by every record of a VM. */
static int mark_locked(lua_State *L)
{
    return luaL_error(L, "engine.json: json.array_mt and json.object_mt are read-only");
}

/* Push the registry value at key, creating it first if needed. [-0, +1, m] */
static void push_reg(lua_State *L, const void *key)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) != LUA_TNIL)
        return;
    lua_pop(L, 1);
    if (key == REG_NULL) {
        lua_newuserdatauv(L, 0, 0);
        lua_createtable(L, 0, 3);
        lua_pushcfunction(L, null_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "engine.json.null");
        lua_setfield(L, -2, "__name");
        lua_pushliteral(L, "engine.json.null");
        lua_setfield(L, -2, "__metatable");
    } else {
        /* The mark itself stays empty, so it defines no metamethod and cannot be given one. */
        lua_newtable(L);
        lua_createtable(L, 0, 2);
        lua_pushcfunction(L, mark_locked);
        lua_setfield(L, -2, "__newindex");
        lua_pushstring(L, key == REG_AMT ? "engine.json.array_mt" : "engine.json.object_mt");
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

void eng_json_push_state(lua_State *L)
{
    luaL_checkstack(L, 6, "json");
    push_reg(L, REG_NULL);
    push_reg(L, REG_AMT);
    push_reg(L, REG_OMT);
}

void eng_json_push_null(lua_State *L)
{
    luaL_checkstack(L, 4, "json");
    push_reg(L, REG_NULL);
}

int eng_json_is_null(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TUSERDATA)
        return 0;
    luaL_checkstack(L, 1, "json");
    lua_rawgetp(L, LUA_REGISTRYINDEX, REG_NULL);
    int is = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return is;
}

enum eng_json_kind eng_json_mark_of(lua_State *L, int idx)
{
    enum eng_json_kind kind = ENG_JSON_NONE;
    idx = lua_absindex(L, idx);
    int frozen = eng_vm_push_frozen_contents(L, idx); /* its contents carry the mark */
    if (frozen)
        idx = lua_gettop(L);
    if (lua_getmetatable(L, idx)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, REG_AMT);
        if (lua_rawequal(L, -1, -2)) {
            kind = ENG_JSON_ARRAY;
        } else {
            lua_pop(L, 1);
            lua_rawgetp(L, LUA_REGISTRYINDEX, REG_OMT);
            if (lua_rawequal(L, -1, -2))
                kind = ENG_JSON_OBJECT;
        }
        lua_pop(L, 2);
    }
    if (frozen)
        lua_pop(L, 1);
    return kind;
}

void eng_json_mark(lua_State *L, int idx, enum eng_json_kind kind)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 4, "json");
    push_reg(L, kind == ENG_JSON_ARRAY ? REG_AMT : REG_OMT);
    lua_setmetatable(L, idx);
}

/* json.decode(text) -> value | nil, "json: <what> at byte N"   [-0, +(1|2), m] */
static int l_decode(lua_State *L)
{
    struct eng_err err;
    size_t len;
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_typeerror(L, 1, "string");
    const char *text = lua_tolstring(L, 1, &len);
    if (eng_json_decode(L, text, len, &err) == 0)
        return 1;
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
}

/* json.encode(value [, opts]) -> string; raises "json.encode: <what> at <path>"  [-0, +1, e] */
static int l_encode(lua_State *L)
{
    int pretty = 0;
    luaL_checkany(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        eng_vm_frozen_open(L, 2); /* a module's frozen table: read its contents */
        lua_pushnil(L);
        while (lua_next(L, 2) != 0) {
            if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "pretty") != 0)
                return luaL_argerror(L, 2, "unknown option (the only one is 'pretty')");
            if (!lua_isboolean(L, -1))
                return luaL_argerror(L, 2, "'pretty' must be a boolean");
            pretty = lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
    }
    return eng_json_encode_top(L, 1, pretty);
}

/* json.array([t]) / json.object([t]) -> t, marked; a table with a foreign metatable raises. */
static int mark_arg(lua_State *L, enum eng_json_kind kind)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
        if (lua_getmetatable(L, 1)) {
            lua_pop(L, 1);
            if (eng_json_mark_of(L, 1) == ENG_JSON_NONE)
                return luaL_argerror(L, 1, "table already has a metatable");
        }
    }
    eng_json_mark(L, 1, kind);
    return 1;
}

/* json.array([t]) -> t  [-0, +1, m] */
static int l_array(lua_State *L)
{
    return mark_arg(L, ENG_JSON_ARRAY);
}

/* json.object([t]) -> t  [-0, +1, m] */
static int l_object(lua_State *L)
{
    return mark_arg(L, ENG_JSON_OBJECT);
}

/* json.is_array(v) -> boolean  [-0, +1, -] */
static int l_is_array(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, eng_json_kind_of(L, 1) == ENG_JSON_ARRAY);
    return 1;
}

static const luaL_Reg json_funcs[] = {
    {"decode", l_decode}, {"encode", l_encode},     {"array", l_array},
    {"object", l_object}, {"is_array", l_is_array}, {NULL, NULL},
};

/* [-0, +1, m] */
int luaopen_engine_json(lua_State *L)
{
    luaL_newlib(L, json_funcs);
    lua_getfield(L, -1, "encode");
    lua_setfield(L, -2, "canonical");
    eng_json_push_state(L);
    lua_setfield(L, -4, "object_mt");
    lua_setfield(L, -3, "array_mt");
    lua_setfield(L, -2, "null");
    return 1;
}
