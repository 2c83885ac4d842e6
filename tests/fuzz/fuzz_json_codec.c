/*
 * fuzz_json_codec.c - libFuzzer target: engine.json's decoder and canonical encoder
 * (lua/json_dec.c, lua/json_enc.c), the mapping every script and the C core share.
 * Input: any bytes, decoded as JSON into a plain Lua state (the json.h C API, as lmod_json.c
 * uses it). When it decodes: the canonical text re-decodes, and encoding that again gives the
 * same bytes (canonical is a fixed point); the pretty text decodes to the same canonical text.
 * Memory is capped (32 MiB) so a document that would grow without bound is refused, not an OOM
 * of the fuzzer. Corpus: tests/fuzz/corpus/json_codec/ (the JSON fixtures, numbers at the edges).
 */
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/json.h"

#define MEM_CAP (32u << 20)

static size_t used;

static void *cap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (ptr == NULL)
        osize = 0;
    if (nsize == 0) {
        used -= osize;
        free(ptr);
        return NULL;
    }
    if (nsize > osize && used + (nsize - osize) > MEM_CAP)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p != NULL)
        used = used - osize + nsize;
    return p;
}

/* decode(text) then encode: pushes the canonical string and returns 0, or returns nonzero with
 * nothing pushed. */
static int canon(lua_State *L, const char *s, size_t n, int pretty)
{
    struct eng_err err = {0};
    if (eng_json_decode(L, s, n, &err) != 0)
        return -1;
    int rc = eng_json_encode(L, -1, pretty, &err);
    lua_remove(L, rc == 0 ? -2 : -1);
    return rc;
}

static int body(lua_State *L)
{
    const char *s = lua_touserdata(L, 1);
    size_t n = (size_t)lua_tointeger(L, 2);
    lua_settop(L, 0);
    if (canon(L, s, n, 0) != 0)
        return 0;
    size_t n1;
    const char *t1 = lua_tolstring(L, 1, &n1);
    /* canonical text is valid JSON and a fixed point */
    int rc = canon(L, t1, n1, 0);
    if (rc == ENG_ENOMEM)
        return 0;
    check(rc == 0);
    size_t n2;
    const char *t2 = lua_tolstring(L, 2, &n2);
    check(n1 == n2 && memcmp(t1, t2, n1) == 0);
    /* pretty text means the same value */
    rc = canon(L, s, n, 1);
    if (rc == ENG_ENOMEM)
        return 0;
    check(rc == 0);
    size_t n3;
    const char *t3 = lua_tolstring(L, 3, &n3);
    rc = canon(L, t3, n3, 0);
    if (rc == ENG_ENOMEM)
        return 0;
    check(rc == 0);
    size_t n4;
    const char *t4 = lua_tolstring(L, 4, &n4);
    check(n1 == n4 && memcmp(t1, t4, n1) == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    used = 0;
    lua_State *L = lua_newstate(cap_alloc, NULL);
    if (L == NULL)
        return 0;
    lua_pushcfunction(L, body);
    lua_pushlightuserdata(L, (void *)data);
    lua_pushinteger(L, (lua_Integer)size);
    lua_pcall(L, 2, 0, 0); /* only a refused allocation can raise */
    lua_close(L);
    return 0;
}
