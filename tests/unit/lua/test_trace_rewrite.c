/*
 * test_trace_rewrite.c - unit tier for engine/lua/trace_rewrite.c: the exact text added around
 * constructors and field assignments (call forms, multiple targets, computed keys, method-call
 * prefixes), what is left alone (strings, long strings, comments, locals, for headers), refusals
 * naming the line, and every shipped script and mapping: rewritten with the same line count,
 * and still Lua that compiles.
 */
#include "check.h"

#include "../../../engine/lua/trace_rewrite.c"

#include <dirent.h>
#include <lauxlib.h>
#include <lualib.h>

static char *rw(const char *src, int *rc, int *line)
{
    char *out = NULL;
    size_t n = 0;
    *rc = eng_trace_rewrite(src, strlen(src), &out, &n, line);
    if (out != NULL)
        CHECK_INT(strlen(out), n);
    return out;
}

static void expect(const char *src, const char *want)
{
    int rc, line;
    char *got = rw(src, &rc, &line);
    CHECK_INT(rc, 0);
    CHECK_STR(got, want);
    free(got);
}

static void test_constructors(void)
{
    expect("local t = {}", "local t = __lineage_c({}, 1)");
    expect("local t = { a = 1,\n  b = 2, [k] = 3, 'p', f() }",
           "local t = __lineage_c({ a = 1,\n  b = 2, [k] = 3, 'p', f() }, 1, \"a\", 1, \"b\", 2, "
           "1, 2, 2, 2)");
    /* a call with a table argument keeps being a call */
    expect("f{1}", "f(__lineage_c({1}, 1, 1, 1))");
    expect("json.object { x = y }", "json.object (__lineage_c({ x = y }, 1, \"x\", 1))");
    expect("o:m{ }", "o:m(__lineage_c({ }, 1))");
    /* nested, and a function inside a constructor with commas of its own */
    expect("x = { { 1 }, f = function(a, b) local c, d = a, b end }",
           "x = __lineage_c({ __lineage_c({ 1 }, 1, 1, 1), f = function(a, b) local c, d = a, b "
           "end }, 1, 1, 1, \"f\", 1)");
}

static void test_assignments(void)
{
    expect("t.x = 1", "__lineage_s(t, 1).x = 1");
    expect("t[#t + 1] = v", "__lineage_s(t, 1)[#t + 1] = v");
    expect("a.b[c].d = 1", "__lineage_s(a.b[c], 1).d = 1");
    expect("obj:m(1).y['z'] = 2", "__lineage_s(obj:m(1).y, 1)['z'] = 2");
    expect("f(x).y = 1", "__lineage_s(f(x), 1).y = 1");
    expect("(a).b = 1", "__lineage_s((a), 1).b = 1");
    expect("t.x, u[1], v = 1, 2, 3", "__lineage_s(t, 1).x, __lineage_s(u, 1)[1], v = 1, 2, 3");
    expect("\n\nt.x =\n 1", "\n\n__lineage_s(t, 3).x =\n 1");
    /* not field writes: locals, globals, for headers, attributes, comparisons */
    expect(
        "local a, b = 1, 2\nx = y\nfor i = 1, 2 do end\nlocal c <const> = 1\nif a == b then end",
        "local a, b = 1, 2\nx = y\nfor i = 1, 2 do end\nlocal c <const> = 1\nif a == b then end");
    /* writes inside a function inside a constructor */
    expect("t = { f = function() o.k = 1 end }",
           "t = __lineage_c({ f = function() __lineage_s(o, 1).k = 1 end }, 1, \"f\", 1)");
}

static void test_left_alone(void)
{
    const char *src = "local s = \"{ a.b = 1 }\" .. 'x.y = {' .. [==[ t.z = { ]==]\n"
                      "-- t.c = { \n"
                      "--[[ q.w = {\n ]] local n = 0x1p-4 + 1e-5 + .5\n"
                      "local e = \"\\\"{\" .. 'it\\'s'";
    expect(src, src);
}

static void test_refusals(void)
{
    int rc, line;
    char *out = rw("local a = 1\nlocal s = \"open", &rc, &line);
    CHECK_INT(rc, -1);
    CHECK_INT(line, 2);
    CHECK(out == NULL);
    out = rw("x = 1\n--[[ never closed\n\n", &rc, &line);
    CHECK_INT(rc, -1);
    CHECK_INT(line, 2);
    out = rw("x = { 1 \n\n", &rc, &line);
    CHECK_INT(rc, -1);
    CHECK_INT(line, 1);
    out = rw("x = 1 }", &rc, &line);
    CHECK_INT(rc, -1);
    CHECK_INT(line, 1);
    out = rw("function f()\n  return 1\n", &rc, &line);
    CHECK_INT(rc, -1);
    CHECK_INT(line, 1);
}

static int count_lines(const char *s, size_t n)
{
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += s[i] == '\n';
    return lines;
}

/* Every .lua file of dir: rewrites, keeps its lines, and compiles. Returns the files seen. */
static int check_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0 ||
            strcmp(e->d_name, "broken_syntax.lua") == 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        static char src[1 << 20];
        size_t n = fread(src, 1, sizeof src - 1, f);
        fclose(f);
        src[n] = '\0';
        char *out = NULL;
        size_t outlen = 0;
        int line = 0;
        int rc = eng_trace_rewrite(src, n, &out, &outlen, &line);
        if (rc != 0)
            fprintf(stderr, "%s:%d: not rewritten (%d)\n", path, line, rc);
        CHECK_INT(rc, 0);
        if (out == NULL)
            continue;
        CHECK_INT(count_lines(out, outlen), count_lines(src, n));
        lua_State *L = luaL_newstate();
        if (L == NULL) {
            free(out);
            break;
        }
        int st = luaL_loadbufferx(L, out, outlen, path, "t");
        if (st != LUA_OK)
            fprintf(stderr, "%s: rewritten text does not compile: %s\n", path, lua_tostring(L, -1));
        CHECK_INT(st, LUA_OK);
        lua_close(L);
        free(out);
        seen++;
    }
    closedir(d);
    return seen;
}

static void test_every_shipped_script(void)
{
    CHECK(check_dir("scripts/lib") >= 10);
    CHECK(check_dir("scripts/connectors") >= 3);
    CHECK_INT(check_dir("mappings"), 11);
    CHECK(check_dir("tests/lua/mappings_fixture") >= 5);
}

/* Deep nesting and long input: the stacks grow on the heap, nothing recurses. */
static void test_large(void)
{
    size_t depth = 100000;
    char *src = malloc(depth * 2 + 8);
    REQUIRE(src != NULL);
    memcpy(src, "x=", 2);
    for (size_t i = 0; i < depth; i++)
        src[2 + i] = '{', src[2 + depth + i] = '}';
    src[2 + 2 * depth] = '\0';
    int rc, line;
    char *out = rw(src, &rc, &line);
    CHECK_INT(rc, 0);
    CHECK(out != NULL && strncmp(out, "x=__lineage_c({__lineage_c({", 28) == 0);
    free(out);
    free(src);
}

CHECK_MAIN(CHECK_CASE(test_constructors), CHECK_CASE(test_assignments), CHECK_CASE(test_left_alone),
           CHECK_CASE(test_refusals), CHECK_CASE(test_every_shipped_script), CHECK_CASE(test_large))
