/*
 * test_chunks.c - the scan's compiled-chunk table (lua/chunks.h): a text compiled once behaves
 * in every later state as if compiled there (same results, same error lines), an edited text
 * under the same name is compiled anew, and only texts are ever accepted from the caller.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "check.h"
#include "lua/chunks.h"

static const char LIB_V1[] = "local M = {}\n"
                             "function M.v() return 1 end\n"
                             "function M.boom() error('boom') end\n"
                             "return M\n";
static const char LIB_V2[] = "local M = {}\n"
                             "function M.v() return 2 end\n"
                             "\n"
                             "function M.boom() error('boom') end\n"
                             "return M\n";

/* Load text under "@lib/x.lua" in a fresh state, run it, call M[fn]; the number it returns, or
 * -1 with the error message in msg. */
static long call_in_fresh(const char *text, const char *fn, char *msg, size_t size)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    long out = -1;
    msg[0] = '\0';
    if (eng_chunks_load(L, text, strlen(text), "@lib/x.lua") != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK) {
        snprintf(msg, size, "%s", lua_tostring(L, -1));
        lua_close(L);
        return -1;
    }
    lua_getfield(L, -1, fn);
    if (lua_pcall(L, 0, 1, 0) == LUA_OK)
        out = (long)lua_tointeger(L, -1);
    else
        snprintf(msg, size, "%s", lua_tostring(L, -1));
    lua_close(L);
    return out;
}

static void test_same_text_same_function(void)
{
    char m1[256], m2[256];
    eng_chunks_open();
    CHECK_INT(call_in_fresh(LIB_V1, "v", m1, sizeof m1), 1);
    CHECK_INT(call_in_fresh(LIB_V1, "v", m1, sizeof m1), 1); /* from the table */
    /* the error names the file and line, as a fresh compile does */
    CHECK_INT(call_in_fresh(LIB_V1, "boom", m1, sizeof m1), -1);
    CHECK_STR(m1, "lib/x.lua:3: boom");
    /* an edit under the same name is a new text */
    CHECK_INT(call_in_fresh(LIB_V2, "v", m2, sizeof m2), 2);
    CHECK_INT(call_in_fresh(LIB_V2, "boom", m2, sizeof m2), -1);
    CHECK_STR(m2, "lib/x.lua:4: boom");
    CHECK_INT(call_in_fresh(LIB_V1, "v", m1, sizeof m1), 1);
    eng_chunks_close();
    /* no window: compiled as always */
    CHECK_INT(call_in_fresh(LIB_V2, "v", m2, sizeof m2), 2);
}

static int dump_cat(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    luaL_addlstring((luaL_Buffer *)ud, p, n);
    return 0;
}

static void test_binary_refused(void)
{
    /* a caller's bytes that are a dump are refused, window open or not, even after the same
     * function's text was compiled into the table */
    lua_State *L = luaL_newstate();
    eng_chunks_open();
    REQUIRE(eng_chunks_load(L, LIB_V1, strlen(LIB_V1), "@lib/x.lua") == LUA_OK);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushvalue(L, -2);
    lua_dump(L, dump_cat, &b, 0);
    lua_pop(L, 1);
    luaL_pushresult(&b);
    size_t n = 0;
    const char *bin = lua_tolstring(L, -1, &n);
    CHECK(eng_chunks_load(L, bin, n, "@lib/x.lua") != LUA_OK);
    CHECK(strstr(lua_tostring(L, -1), "binary") != NULL);
    eng_chunks_close();
    lua_close(L);
}

static void test_syntax_error_reported(void)
{
    char m[256];
    eng_chunks_open();
    CHECK_INT(call_in_fresh("return {\n", "v", m, sizeof m), -1);
    CHECK(strstr(m, "lib/x.lua:") != NULL);
    CHECK_INT(call_in_fresh("return {\n", "v", m, sizeof m), -1); /* never kept */
    CHECK(strstr(m, "lib/x.lua:") != NULL);
    eng_chunks_close();
}

CHECK_MAIN(CHECK_CASE(test_same_text_same_function), CHECK_CASE(test_binary_refused),
           CHECK_CASE(test_syntax_error_reported))
