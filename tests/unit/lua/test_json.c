/*
 * test_json.c - unit tier for engine/lua/json_dec.c, json_enc.c, lmod_json.c (the C API of json.h):
 * stack contracts, the protected encoder, values scripts cannot build in the sandbox (threads,
 * foreign userdata), every-allocation fault injection
 * (run under ASan: nothing may leak), the shared fixtures round-tripping, and a mutation fuzz loop.
 * The Lua-visible behaviour is pinned by tests/lua/json_spec.lua.
 */
#include "check.h"

#include "base/buf.h"
#include "lua/json.h"
#include "lua/lmods.h"

#include <dirent.h>
#include <math.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>

/* ---- a Lua state whose allocator can refuse the Nth growth ---- */

struct fault {
    long countdown; /* growths left before refusing; < 0: never refuse */
};

static void *fault_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct fault *f = ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (ptr == NULL || nsize > osize) {
        if (f->countdown == 0)
            return NULL;
        if (f->countdown > 0)
            f->countdown--;
    }
    return realloc(ptr, nsize);
}

static struct fault no_fault = {-1};

static lua_State *new_state(struct fault *f)
{
    lua_State *L = lua_newstate(fault_alloc, f != NULL ? f : &no_fault);
    luaL_openlibs(L);
    return L;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (fp == NULL)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf != NULL && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else if (buf != NULL) {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(fp);
    return buf;
}

static const char *fixtures_dir(void)
{
    const char *d = getenv("FIXTURES_DIR");
    return d != NULL && d[0] != '\0' ? d : "tests/fixtures";
}

/* ---- stack contracts and error codes ---- */

static void test_decode_stack_and_errors(void)
{
    lua_State *L = new_state(NULL);
    struct eng_err err = {0};
    lua_pushinteger(L, 42);
    CHECK_INT(eng_json_decode(L, "{\"a\":[1,2.5,null]}", 18, &err), 0);
    CHECK_INT(lua_gettop(L), 2);
    CHECK(lua_istable(L, -1));
    lua_pop(L, 1);

    CHECK_INT(eng_json_decode(L, "[1,2", 4, &err), ENG_EINVAL);
    CHECK_INT(err.code, ENG_EINVAL);
    CHECK_STR(err.msg, "json: unexpected end of input at byte 5");
    CHECK_INT(lua_gettop(L), 1);

    /* deep garbage fails cleanly and leaves the stack as it was */
    size_t n = 200000;
    char *deep = malloc(n);
    REQUIRE(deep != NULL);
    memset(deep, '[', n);
    CHECK_INT(eng_json_decode(L, deep, n, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "json: nesting deeper than 256 at byte 257");
    CHECK_INT(lua_gettop(L), 1);
    free(deep);

    /* NULL text is empty text; NULL err is allowed */
    CHECK_INT(eng_json_decode(L, NULL, 0, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "json: unexpected end of input at byte 1");
    CHECK_INT(eng_json_decode(L, "x", 1, NULL), ENG_EINVAL);

    /* the length is honoured: bytes after it are not read */
    CHECK_INT(eng_json_decode(L, "12garbage", 2, &err), 0);
    CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == 12);
    lua_pop(L, 1);
    CHECK_INT(lua_gettop(L), 1);
    CHECK_INT(lua_tointeger(L, 1), 42);
    lua_close(L);
}

/* The decoder builds from base/json_read's tokens without C recursion: every array slot, member
 * and nesting level lands where it belongs, at the depth limit and on large inputs. */
static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_decode_shapes(void)
{
    lua_State *L = new_state(NULL);
    struct eng_err err = {0};
    /* 100000 elements, each an object with an array: indices 1..n in order */
    size_t n = 100000;
    struct eng_buf b;
    eng_buf_init(&b);
    eng_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++)
        eng_buf_printf(&b, "%s{\"i\":%zu,\"a\":[%zu,\"x\"],\"e\":{}}", i ? "," : "", i + 1, i);
    eng_buf_putc(&b, ']');
    REQUIRE(!b.oom);
    REQUIRE(eng_json_decode(L, b.data, b.len, &err) == 0);
    CHECK_INT(lua_rawlen(L, -1), n);
    long bad = 0;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        lua_getfield(L, -1, "i");
        bad += lua_tointeger(L, -1) != (lua_Integer)i;
        lua_getfield(L, -2, "a");
        bad += lua_rawlen(L, -1) != 2;
        lua_rawgeti(L, -1, 1);
        bad += lua_tointeger(L, -1) != (lua_Integer)i - 1;
        lua_getfield(L, -4, "e");
        bad += eng_json_kind_of(L, -1) != ENG_JSON_OBJECT;
        lua_pop(L, 5);
    }
    CHECK_INT(bad, 0);
    CHECK_INT(lua_gettop(L), 1);
    lua_pop(L, 1);
    eng_buf_free(&b);

    /* exactly ENG_JSON_MAX_DEPTH levels, alternating arrays and objects, a value at the bottom */
    eng_buf_init(&b);
    for (int d = 0; d < ENG_JSON_MAX_DEPTH; d++)
        eng_buf_puts(&b, d % 2 ? "{\"k\":" : "[");
    eng_buf_puts(&b, "\"bottom\"");
    for (int d = ENG_JSON_MAX_DEPTH - 1; d >= 0; d--)
        eng_buf_puts(&b, d % 2 ? "}" : "]");
    REQUIRE(!b.oom);
    REQUIRE(eng_json_decode(L, b.data, b.len, &err) == 0);
    for (int d = 0; d < ENG_JSON_MAX_DEPTH; d++) {
        if (d % 2)
            lua_getfield(L, -1, "k");
        else
            lua_rawgeti(L, -1, 1);
    }
    CHECK_STR(lua_tostring(L, -1), "bottom");
    lua_settop(L, 0);
    eng_buf_free(&b);

    /* an object far past the decoder's pending entries (256 slots) and the encoder's stacked
     * keys (48), a duplicate key after the first flush: the last one wins; encoded back in
     * bytewise key order */
    eng_buf_init(&b);
    eng_buf_putc(&b, '{');
    for (int i = 0; i < 1000; i++)
        eng_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    eng_buf_puts(&b, ",\"k5\":\"again\"}");
    REQUIRE(!b.oom);
    REQUIRE(eng_json_decode(L, b.data, b.len, &err) == 0);
    lua_getfield(L, -1, "k5");
    CHECK_STR(lua_tostring(L, -1), "again");
    lua_getfield(L, -2, "k999");
    CHECK_INT(lua_tointeger(L, -1), 999);
    lua_pop(L, 2);
    REQUIRE(eng_json_encode(L, -1, 0, &err) == 0);
    char names[1000][8];
    const char *sorted[1000];
    for (int i = 0; i < 1000; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        sorted[i] = names[i];
    }
    qsort(sorted, 1000, sizeof sorted[0], cmp_cstr);
    struct eng_buf want;
    eng_buf_init(&want);
    eng_buf_putc(&want, '{');
    for (int i = 0; i < 1000; i++) {
        if (strcmp(sorted[i], "k5") == 0)
            eng_buf_printf(&want, "%s\"k5\":\"again\"", i ? "," : "");
        else
            eng_buf_printf(&want, "%s\"%s\":%s", i ? "," : "", sorted[i], sorted[i] + 1);
    }
    eng_buf_putc(&want, '}');
    eng_buf_putc(&want, '\0');
    REQUIRE(!want.oom);
    CHECK_STR(lua_tostring(L, -1), want.data);
    lua_settop(L, 0);
    eng_buf_free(&want);
    eng_buf_free(&b);

    /* duplicate keys: the last wins; numbers: int64 edges, wider integers as exact text */
    const char *nums = "{\"k\":1,\"k\":2,\"max\":9223372036854775807,\"min\":"
                       "-9223372036854775808,\"wide\":9223372036854775808,\"f\":1.5e0}";
    REQUIRE(eng_json_decode(L, nums, strlen(nums), &err) == 0);
    lua_getfield(L, -1, "k");
    CHECK_INT(lua_tointeger(L, -1), 2);
    lua_getfield(L, -2, "max");
    CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == LUA_MAXINTEGER);
    lua_getfield(L, -3, "min");
    CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == LUA_MININTEGER);
    lua_getfield(L, -4, "wide");
    CHECK(lua_type(L, -1) == LUA_TSTRING);
    CHECK_STR(lua_tostring(L, -1), "9223372036854775808");
    lua_getfield(L, -5, "f");
    CHECK(!lua_isinteger(L, -1) && lua_tonumber(L, -1) == 1.5);
    lua_close(L);
}

static void test_encode_top_and_protected(void)
{
    lua_State *L = new_state(NULL);
    struct eng_err err = {0};
    REQUIRE(eng_json_decode(L, "{\"b\":[],\"a\":{\"y\":1,\"x\":null}}", 29, &err) == 0);
    CHECK_INT(eng_json_encode_top(L, -1, 0), 1);
    CHECK_STR(lua_tostring(L, -1), "{\"a\":{\"x\":null,\"y\":1},\"b\":[]}");
    CHECK_INT(lua_gettop(L), 2);
    lua_pop(L, 1);

    CHECK_INT(eng_json_encode(L, 1, 1, &err), 0);
    CHECK_STR(lua_tostring(L, -1),
              "{\n  \"a\": {\n    \"x\": null,\n    \"y\": 1\n  },\n  \"b\": []\n}");
    lua_pop(L, 1);

    /* protected form: unencodable value -> ENG_EINVAL, message, nothing pushed */
    lua_newtable(L);
    lua_pushnumber(L, 0.0 / 0.0);
    lua_setfield(L, -2, "amount");
    CHECK_INT(eng_json_encode(L, -1, 0, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "json.encode: cannot encode NaN/inf at $.amount");
    CHECK_INT(lua_gettop(L), 2);

    /* a coroutine and a foreign userdata */
    lua_newtable(L);
    lua_newthread(L);
    lua_setfield(L, -2, "co");
    CHECK_INT(eng_json_encode(L, -1, 0, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "json.encode: cannot encode a thread at $.co");
    lua_pop(L, 1);
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, 1);
    lua_rawseti(L, -2, 1);
    lua_newuserdatauv(L, 8, 0);
    lua_rawseti(L, -2, 2);
    CHECK_INT(eng_json_encode(L, -1, 0, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "json.encode: cannot encode a userdata at $[2]");
    lua_pushlightuserdata(L, NULL); /* cjson's null is not ours */
    lua_rawseti(L, -2, 2);
    CHECK_INT(eng_json_encode(L, -1, 0, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "json.encode: cannot encode a userdata at $[2]");
    lua_pop(L, 1);
    CHECK_INT(lua_gettop(L), 2);
    lua_close(L);
}

static void test_null_marks_kinds(void)
{
    lua_State *L = new_state(NULL);
    struct eng_err err = {0};
    eng_json_push_null(L);
    CHECK(eng_json_is_null(L, -1));
    REQUIRE(eng_json_decode(L, "null", 4, &err) == 0);
    CHECK(lua_rawequal(L, -1, -2)); /* one sentinel per state */
    lua_pushlightuserdata(L, NULL);
    CHECK(!eng_json_is_null(L, -1));
    lua_pushboolean(L, 0);
    CHECK(!eng_json_is_null(L, -1));
    lua_settop(L, 0);

    /* the module exposes the same sentinel and marks that C uses */
    luaL_requiref(L, "engine.json", luaopen_engine_json, 0);
    lua_getfield(L, -1, "null");
    CHECK(eng_json_is_null(L, -1));
    lua_pop(L, 1);

    lua_newtable(L);
    CHECK_INT(eng_json_kind_of(L, -1), ENG_JSON_OBJECT);
    CHECK_INT(eng_json_mark_of(L, -1), ENG_JSON_NONE);
    eng_json_mark(L, -1, ENG_JSON_ARRAY);
    CHECK_INT(eng_json_kind_of(L, -1), ENG_JSON_ARRAY);
    CHECK_INT(eng_json_mark_of(L, -1), ENG_JSON_ARRAY);
    lua_getfield(L, 1, "array_mt");
    lua_getmetatable(L, -2);
    CHECK(lua_rawequal(L, -1, -2));
    lua_pop(L, 2);
    CHECK_INT(eng_json_encode(L, -1, 0, &err), 0);
    CHECK_STR(lua_tostring(L, -1), "[]");
    lua_pop(L, 1);
    eng_json_mark(L, -1, ENG_JSON_OBJECT);
    CHECK_INT(eng_json_mark_of(L, -1), ENG_JSON_OBJECT);
    lua_pushinteger(L, 1);
    lua_rawseti(L, -2, 1);
    CHECK_INT(eng_json_kind_of(L, -1), ENG_JSON_NONE); /* integer key in an object */
    lua_pushinteger(L, 7);
    CHECK_INT(eng_json_kind_of(L, -1), ENG_JSON_NONE);
    CHECK_INT(lua_gettop(L), 3);
    lua_close(L);
}

/* ---- fault injection: every allocation in decode + encode refused once ---- */

static const char *fault_text;
static size_t fault_len;

/* [-0, +1, e] decode fault_text, then encode it both ways */
static int fault_body(lua_State *L)
{
    struct eng_err err;
    if (eng_json_decode(L, fault_text, fault_len, &err) != 0)
        return luaL_error(L, "unexpected data error: %s", err.msg);
    eng_json_encode_top(L, -1, 1);
    eng_json_encode_top(L, -2, 0);
    return 1;
}

static void test_fault_injection(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/woocommerce/order.json", fixtures_dir());
    char *text = read_file(path, &fault_len);
    REQUIRE(text != NULL);
    fault_text = text;
    long n, ok_at = -1, other = 0;
    for (n = 0; n < 100000 && ok_at < 0; n++) {
        struct fault f = {-1};
        lua_State *L = new_state(&f);
        lua_pushcfunction(L, fault_body);
        f.countdown = n;
        int st = lua_pcall(L, 0, 1, 0);
        if (st == LUA_OK)
            ok_at = n;
        else if (st != LUA_ERRMEM)
            other++;
        f.countdown = -1;
        lua_close(L);
    }
    free(text);
    CHECK(ok_at > 50); /* the loop really walked through the allocations */
    CHECK_INT(other, 0);

    /* the protected encoder reports ENG_ENOMEM */
    struct fault f = {-1};
    lua_State *L = new_state(&f);
    struct eng_err err = {0};
    lua_createtable(L, 100, 0);
    for (int i = 1; i <= 100; i++) {
        lua_pushstring(L, "a string long enough to make the buffer grow a few times");
        lua_rawseti(L, -2, i);
    }
    f.countdown = 2;
    CHECK_INT(eng_json_encode(L, -1, 0, &err), ENG_ENOMEM);
    CHECK_INT(lua_gettop(L), 1);
    f.countdown = -1;
    CHECK_INT(eng_json_encode(L, -1, 0, &err), 0);
    lua_close(L);
}

/* ---- every shared fixture: decode, canonical form is a fixed point, pretty agrees ---- */

static int roundtrip_one(lua_State *L, const char *text, size_t len, struct eng_err *err)
{
    int top = lua_gettop(L), rc = -1;
    if (eng_json_decode(L, text, len, err) != 0)
        return -1;
    if (eng_json_encode(L, -1, 0, err) == 0 && eng_json_encode(L, -2, 1, err) == 0) {
        size_t n1, n2;
        const char *canon = lua_tolstring(L, -2, &n1);
        const char *pretty = lua_tolstring(L, -1, &n2);
        if (eng_json_decode(L, pretty, n2, err) == 0 && eng_json_encode(L, -1, 0, err) == 0) {
            size_t n3;
            const char *again = lua_tolstring(L, -1, &n3);
            if (eng_json_decode(L, canon, n1, err) == 0 && eng_json_encode(L, -1, 0, err) == 0) {
                size_t n4;
                const char *again2 = lua_tolstring(L, -1, &n4);
                rc = (n3 == n1 && memcmp(again, canon, n1) == 0 && n4 == n1 &&
                      memcmp(again2, canon, n1) == 0)
                         ? 0
                         : 1;
            }
        }
    }
    lua_settop(L, top);
    return rc;
}

static void test_fixtures_roundtrip(void)
{
    static const char *const dirs[] = {"woocommerce", "quickbooks", "supabase"};
    lua_State *L = new_state(NULL);
    int files = 0;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", fixtures_dir(), dirs[i]);
        DIR *dp = opendir(dir);
        struct dirent *de;
        if (dp == NULL)
            continue;
        while ((de = readdir(dp)) != NULL) {
            size_t nl = strlen(de->d_name), len = 0;
            char path[2048];
            if (nl < 5 || strcmp(de->d_name + nl - 5, ".json") != 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            char *text = read_file(path, &len);
            struct eng_err err = {0};
            if (text == NULL)
                continue;
            int rc = roundtrip_one(L, text, len, &err);
            if (rc != 0)
                fprintf(stderr, "  %s: %s\n", path, rc < 0 ? err.msg : "canonical form moved");
            CHECK_INT(rc, 0);
            files++;
            free(text);
        }
        closedir(dp);
    }
    CHECK(files >= 40);
    CHECK_INT(lua_gettop(L), 0);
    lua_close(L);
}

/* ---- mutation fuzz: any bytes either decode (and then round-trip) or fail with a position ---- */

static unsigned long long fuzz_state = 0x9E3779B97F4A7C15ULL;
static unsigned fuzz_next(void)
{
    fuzz_state ^= fuzz_state << 13;
    fuzz_state ^= fuzz_state >> 7;
    fuzz_state ^= fuzz_state << 17;
    return (unsigned)(fuzz_state >> 11);
}

static void test_mutation_fuzz(void)
{
    static const char alphabet[] = "[]{}\",:\\/-+.eE0123456789 \ntrufalsnu\x01\x7f\xc3\xa9\xed\xff";
    char path[1024];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/woocommerce/order-refund.json", fixtures_dir());
    char *orig = read_file(path, &len);
    REQUIRE(orig != NULL && len > 0);
    char *buf = malloc(len + 16);
    REQUIRE(buf != NULL);
    lua_State *L = new_state(NULL);
    long decoded = 0, rejected = 0, bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = len;
        memcpy(buf, orig, len);
        for (int m = 1 + (int)(fuzz_next() % 3); m > 0 && n > 1; m--) {
            size_t at = fuzz_next() % n;
            char c = alphabet[fuzz_next() % (sizeof alphabet - 1)];
            switch (fuzz_next() % 4) {
            case 0:
                buf[at] = c;
                break;
            case 1:
                memmove(buf + at, buf + at + 1, n - at - 1), n--;
                break;
            case 2:
                if (n < len + 16) {
                    memmove(buf + at + 1, buf + at, n - at), n++;
                    buf[at] = c;
                }
                break;
            default:
                n = at + 1;
                break;
            }
        }
        struct eng_err err = {0};
        int rc = roundtrip_one(L, buf, n, &err);
        if (rc == 0) {
            decoded++;
        } else if (rc < 0 && strncmp(err.msg, "json: ", 6) == 0 && strstr(err.msg, " at byte ")) {
            rejected++;
        } else {
            bad++;
            fprintf(stderr, "  fuzz %d: rc %d: %s\n", iter, rc, err.msg);
        }
    }
    CHECK_INT(bad, 0);
    CHECK(decoded > 100 && rejected > 100);
    CHECK_INT(lua_gettop(L), 0);
    lua_close(L);
    free(buf);
    free(orig);
}

/* The reference form of a float: the shortest of %.15g/%.16g/%.17g that reads back, ".0" on an
 * integral one (json_enc.c's slow path; its fast path must give the same bytes). */
static void float_reference(double v, char *out, size_t size)
{
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(out, size, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v)
            break;
    }
    if (strpbrk(out, ".e") == NULL)
        snprintf(out + len, size - (size_t)len, ".0");
}

static void test_encode_floats_canonical(void)
{
    lua_State *L = new_state(NULL);
    struct eng_err err = {0};
    unsigned long long x = 88172645463325252ull; /* xorshift64 */
    int bad = 0;
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e12, 1e15};
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        switch (i % 4) {
        case 0: /* money-like: m / 10^k */
            v = (double)(long long)(x % 100000000000ull) / p10[(x >> 40) % 13];
            break;
        case 1: /* a few digits at any scale */
            v = (double)(x % 100000) * pow(10, (int)((x >> 32) % 40) - 20);
            break;
        case 2: { /* any bits (finite) */
            unsigned long long b = x;
            memcpy(&v, &b, sizeof v);
            if (isnan(v) || isinf(v))
                v = 1.5;
            break;
        }
        default: /* edges of the fast path */
            v = nextafter(((x & 1) ? 1e15 : 1e-4), ((x & 2) ? 0 : 1e300)) *
                ((x & 4) ? 1 : (double)((x >> 8) % 7 + 1));
            break;
        }
        if (x & 8)
            v = -v;
        char want[64];
        float_reference(v, want, sizeof want);
        lua_pushnumber(L, v);
        REQUIRE(eng_json_encode(L, -1, 0, &err) == 0);
        if (strcmp(lua_tostring(L, -1), want) != 0 && bad++ < 5)
            fprintf(stderr, "  %.17g: got %s, want %s\n", v, lua_tostring(L, -1), want);
        lua_pop(L, 2);
    }
    CHECK_INT(bad, 0);
    lua_close(L);
}

CHECK_MAIN(CHECK_CASE(test_decode_stack_and_errors), CHECK_CASE(test_decode_shapes),
           CHECK_CASE(test_encode_top_and_protected), CHECK_CASE(test_null_marks_kinds),
           CHECK_CASE(test_fault_injection), CHECK_CASE(test_fixtures_roundtrip),
           CHECK_CASE(test_mutation_fuzz), CHECK_CASE(test_encode_floats_canonical))
