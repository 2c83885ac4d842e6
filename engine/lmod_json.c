/* lmod_json.c - engine.json (stub until its owner lands it). */
#include "lmods.h"

#include <lauxlib.h>

/* [-0, +1, m] */
int luaopen_engine_json(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
