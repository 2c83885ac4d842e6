/*
 * lmod_text.c - engine.text: text work on data from outside, in C and in linear time. A Lua
 * pattern such as "^%s*(.-)%s*$" backtracks over a run of spaces inside a shopper's name
 * (quadratic: 100,000 spaces held a worker for minutes), and one pattern match is one C call
 * the instruction budget never interrupts; these functions read each byte once.
 *   text.trim(s) -> s without leading and trailing whitespace (Lua's %s: space, \t \n \v \f \r)
 * Owns: nothing (no state). Must not: allocate more than one copy of the result.
 */
#include <lauxlib.h>

#include "lua/lmods.h"

/* Lua's %s in the C locale, without isspace()'s dependence on the locale. */
static int text_is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int text_trim(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    size_t a = 0, b = len;
    while (a < b && text_is_space((unsigned char)s[a]))
        a++;
    while (b > a && text_is_space((unsigned char)s[b - 1]))
        b--;
    if (a == 0 && b == len)
        lua_settop(L, 1); /* already trimmed: the same string, no copy */
    else
        lua_pushlstring(L, s + a, b - a);
    return 1;
}

int luaopen_engine_text(lua_State *L)
{
    static const luaL_Reg fns[] = {{"trim", text_trim}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
