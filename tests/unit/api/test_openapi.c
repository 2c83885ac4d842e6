/*
 * test_openapi.c - the OpenAPI document and the router agree: every route is documented with
 * its method, every documented operation is routed, public routes say `security: []`, and
 * every protected one documents its 401.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "api/api.h"
#include "check.h"
#include "lua/json.h"

static lua_State *doc_state(void)
{
    lua_State *L = luaL_newstate();
    if (L == NULL)
        return NULL;
    struct eng_err err = {0};
    if (eng_json_decode(L, eng_openapi_json, eng_openapi_json_len, &err) != 0) {
        fprintf(stderr, "openapi.json does not parse: %s\n", err.msg);
        lua_close(L);
        return NULL;
    }
    return L;
}

static void lower(const char *in, char *out, size_t n)
{
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static void test_document_is_openapi_31(void)
{
    lua_State *L = doc_state();
    REQUIRE(L != NULL);
    lua_getfield(L, 1, "openapi");
    CHECK_STR(lua_tostring(L, -1), "3.1.0");
    lua_pop(L, 1);
    CHECK(lua_getfield(L, 1, "paths") == LUA_TTABLE);
    lua_close(L);
}

static void test_every_route_is_documented(void)
{
    lua_State *L = doc_state();
    REQUIRE(L != NULL);
    lua_getfield(L, 1, "paths"); /* 2 */
    for (size_t i = 0; i < eng_api_nroutes; i++) {
        const struct eng_api_route *r = &eng_api_routes[i];
        char m[16];
        lower(r->method, m, sizeof m);
        int ok =
            lua_getfield(L, 2, r->pattern) == LUA_TTABLE && lua_getfield(L, -1, m) == LUA_TTABLE;
        if (!ok)
            fprintf(stderr, "  routed but not documented: %s %s\n", r->method, r->pattern);
        CHECK(ok);
        if (ok) {
            CHECK(lua_getfield(L, -1, "responses") == LUA_TTABLE);
            lua_pop(L, 1);
            int t = lua_getfield(L, -1, "security");
            int public_doc = t == LUA_TTABLE && lua_rawlen(L, -1) == 0;
            lua_pop(L, 1);
            int public_route = (r->flags & ENG_ROUTE_PUBLIC) != 0;
            if (public_doc != public_route)
                fprintf(stderr, "  %s %s: documented %s but routed %s\n", r->method, r->pattern,
                        public_doc ? "public" : "protected", public_route ? "public" : "protected");
            CHECK(public_doc == public_route);
            if (!public_route) {
                lua_getfield(L, -1, "responses");
                int has401 = lua_getfield(L, -1, "401") == LUA_TTABLE;
                if (!has401)
                    fprintf(stderr, "  %s %s does not document 401\n", r->method, r->pattern);
                CHECK(has401);
                lua_pop(L, 2);
            }
        }
        lua_settop(L, 2);
    }
    lua_close(L);
}

static void test_every_documented_operation_is_routed(void)
{
    lua_State *L = doc_state();
    REQUIRE(L != NULL);
    lua_getfield(L, 1, "paths"); /* 2 */
    static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        const char *path = lua_tostring(L, -2);
        for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
            if (lua_getfield(L, -1, methods[k]) == LUA_TTABLE) {
                int found = 0;
                for (size_t i = 0; i < eng_api_nroutes; i++) {
                    char m[16];
                    lower(eng_api_routes[i].method, m, sizeof m);
                    found |=
                        strcmp(eng_api_routes[i].pattern, path) == 0 && strcmp(m, methods[k]) == 0;
                }
                if (!found)
                    fprintf(stderr, "  documented but not routed: %s %s\n", methods[k], path);
                CHECK(found);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_close(L);
}

CHECK_MAIN(CHECK_CASE(test_document_is_openapi_31), CHECK_CASE(test_every_route_is_documented),
           CHECK_CASE(test_every_documented_operation_is_routed))
