/*
 * lmod_util.c - small pieces the engine's Lua modules share.
 */
#include <lauxlib.h>

#include "lua/lmods.h"

void eng_lmod_handle_mt(lua_State *L, const char *tname, lua_CFunction close, const char *label)
{
    if (luaL_newmetatable(L, tname)) {
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__close");
        lua_pushstring(L, label);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
}
