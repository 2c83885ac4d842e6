/* lmod_crypto.c - engine.crypto (stub until its owner lands it). */
#include "lmods.h"

#include <lauxlib.h>

/* [-0, +1, m] */
int luaopen_engine_crypto(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
