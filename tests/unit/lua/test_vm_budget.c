/*
 * test_vm_budget.c - no single C call of the sandbox escapes the script budget (issue 12, finding
 * 2): an xpcall message handler that loops after the budget fires, string.rep of nothing a
 * maximal number of times, table.move / insert / remove / concat / sort over huge ranges through
 * C metamethods or a lying __len, backtracking and quadratic patterns in find / match / gmatch /
 * gsub, a plain find's worst case, and __gc finalizers (left by a failed call, at lua_close, by a
 * mapping's top level on the hot-reload thread). Each ends with the budget error (the finalizers
 * with their refusal), and the same VM then serves the next call.
 * Run one case: test_vm_budget NAME (the fails-before check runs each case alone under timeout).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>

#include "check.h"
#include "lua/scripts.h"
#include "lua/vm_int.h"

#define REGISTRY_FIXTURE_NAME "tallysync-budget"
#include "registry_fixture.h"

static struct eng_vm *new_vm(void)
{
    struct eng_vm_opts o = {0};
    o.scripts_dir = "scripts";
    o.mappings_dir = "mappings";
    o.budget_ms = 300;
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&o, &err);
    if (vm == NULL)
        fprintf(stderr, "eng_vm_new: %s\n", err.msg);
    return vm;
}

/* Load and run src; returns the eng_vm_pcall code and leaves one result on success. */
static int run(struct eng_vm *vm, const char *src, struct eng_err *err)
{
    int rc = eng_vm_load(vm, "=escape", src, strlen(src), err);
    if (rc != 0)
        return rc;
    return eng_vm_pcall(vm, 0, 1, err);
}

/* After an escape: the same VM answers a normal call (and its string and table functions). */
static void check_next_call_served(struct eng_vm *vm)
{
    struct eng_err err = {0};
    int rc = run(vm,
                 "local t = {} for i = 1, 100 do t[i] = ('x'):rep(2) end "
                 "table.remove(t, 1) table.insert(t, 1, 'yy') "
                 "return table.concat(t):len() .. ' ' .. ('  a b  '):match('^%s*(.-)%s*$')",
                 &err);
    CHECK_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "  next call: %s\n", err.msg);
        return;
    }
    CHECK_STR(lua_tostring(eng_vm_state(vm), -1), "200 a b");
    lua_pop(eng_vm_state(vm), 1);
}

/* src must end with the budget error; then the VM serves the next call and closes. */
static void expect_budget(const char *src)
{
    struct eng_vm *vm = new_vm();
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    int rc = run(vm, src, &err);
    if (rc != ENG_EBUDGET)
        fprintf(stderr, "  rc %d: %s\n", rc, rc != 0 ? err.msg : "(returned)");
    CHECK_INT(rc, ENG_EBUDGET);
    CHECK(strstr(err.msg, "script exceeded its") != NULL);
    if (rc == 0)
        lua_pop(eng_vm_state(vm), 1);
    check_next_call_served(vm);
    eng_vm_free(vm);
}

static void test_xpcall_handler_loops_after_budget(void)
{
    /* the budget fires in f; on main the handler then ran with hooks off, for ever */
    expect_budget("return xpcall(function() while true do end end, "
                  "function(m) while true do end end)");
}

static void test_xpcall_handler_loops_on_its_own(void)
{
    expect_budget("return xpcall(error, function(m) while true do end end, 'x')");
}

static void test_xpcall_keeps_lua_semantics(void)
{
    struct eng_vm *vm = new_vm();
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    int rc = run(vm,
                 "local a, b, c = xpcall(function(x, y) return x + y, 'k' end, print, 2, 3) "
                 "local d, e = xpcall(error, function(m) return 'h:' .. m end, 'boom', 0) "
                 "local f, g = pcall(xpcall, 1) "
                 "return tostring(a) .. b .. c .. tostring(d) .. e .. tostring(f)",
                 &err);
    CHECK_INT(rc, 0);
    if (rc == 0)
        CHECK_STR(lua_tostring(eng_vm_state(vm), -1), "true5kfalseh:boomfalse");
    else
        fprintf(stderr, "  %s\n", err.msg);
    eng_vm_free(vm);
}

static void test_string_rep_of_nothing(void)
{
    /* one C loop of 2^63 empty copies on main; Lua's answer is "" and it comes at once */
    expect_budget("local n = 0 "
                  "while true do "
                  "  assert(string.rep('', math.maxinteger) == '') "
                  "  assert(string.rep('', math.maxinteger, '') == '') "
                  "  n = n + 1 "
                  "end");
}

static void test_table_move_through_c_metamethods(void)
{
    expect_budget("local t = setmetatable({}, {__index = rawlen, __newindex = rawequal}) "
                  "table.move(t, 1, math.maxinteger - 1, 2)");
}

static void test_table_move_plain_huge_range(void)
{
    expect_budget("table.move({}, 1, math.maxinteger - 1, 2)");
}

static void test_table_remove_lying_len(void)
{
    expect_budget("local t = setmetatable({}, {__len = function() return math.maxinteger end}) "
                  "return table.remove(t, 1)");
}

static void test_table_insert_lying_len(void)
{
    expect_budget("local t = setmetatable({}, {__len = function() return math.maxinteger - 1 "
                  "end}) table.insert(t, 1, 'x')");
}

static void test_table_concat_c_index(void)
{
    expect_budget("local t = setmetatable({}, {__index = rawlen}) "
                  "return #table.concat(t, '', 1, math.maxinteger)");
}

static void test_table_sort_c_comparator(void)
{
    expect_budget("local t = setmetatable({}, {__len = function() return 2^31 - 2 end, "
                  "__index = rawlen, __newindex = rawequal}) table.sort(t, rawequal)");
}

static void test_money_sum_lying_len(void)
{
    expect_budget("local t = setmetatable({}, {__len = function() return math.maxinteger end, "
                  "__index = rawlen}) return require('engine.money').sum(t)");
}

static void test_find_backtracking(void)
{
    expect_budget("return string.find(('a'):rep(1e5), '.-.-.-.-b')");
}

static void test_match_backtracking(void)
{
    expect_budget("return (('a'):rep(1e5)):match('(.-)(.-)(.-)b')");
}

static void test_gmatch_backtracking(void)
{
    expect_budget("local n = 0 for a in (('a'):rep(1e5)):gmatch('.-.-.-b') do n = n + 1 end "
                  "return n");
}

static void test_gsub_backtracking(void)
{
    expect_budget("return (('a'):rep(1e5)):gsub('.-.-.-b', '')");
}

static void test_quadratic_trim_pattern(void)
{
    /* spaces between two letters: (.-) grows one by one and %s* rescans the spaces each time */
    expect_budget("return ('a' .. (' '):rep(100000) .. 'b'):match('^%s*(.-)%s*$')");
}

static void test_plain_find_worst_case(void)
{
    expect_budget("return string.find(('a'):rep(2e6), ('a'):rep(1e6) .. 'b', 1, true)");
}

static void test_patterns_keep_lua_semantics(void)
{
    struct eng_vm *vm = new_vm();
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    int rc = run(vm,
                 "local r = {} "
                 "r[#r+1] = select(2, ('hello world'):gsub('o', '0')) "
                 "r[#r+1] = ('hello world'):gsub('(%w+)', '<%1>') "
                 "r[#r+1] = ('abc'):gsub('', '-') "
                 "r[#r+1] = ('x=1, y=2'):gsub('(%w+)=(%w+)', '%2=%1') "
                 "r[#r+1] = ('$name is $age'):gsub('%$(%w+)', {name='Al', age=3}) "
                 "r[#r+1] = ('THE (quick) fox'):find('%((%a+)%)') "
                 "r[#r+1] = ('  trim me  '):match('^%s*(.-)%s*$') "
                 "r[#r+1] = ('f(a(b)c)d'):match('%b()') "
                 "r[#r+1] = ('THE (quick) fox'):gsub('%f[%a]%a+', string.lower) "
                 "r[#r+1] = tostring(('abc'):find('b', 1, true)) "
                 "r[#r+1] = tostring(('a.b'):find('.', 1, true)) "
                 "r[#r+1] = tostring(('abc'):find('x')) "
                 "r[#r+1] = tostring(('aaa'):match('()a()')) "
                 "for k, v in ('a=1,b=2'):gmatch('(%w)=(%w)') do r[#r+1] = k .. v end "
                 "for w in ('one two'):gmatch('%a+', 4) do r[#r+1] = w end "
                 "r[#r+1] = table.concat({1, 2, 3}, ',') "
                 "local t = {5, 1, 4} table.sort(t) r[#r+1] = table.concat(t) "
                 "table.sort(t, function(a, b) return a > b end) r[#r+1] = table.concat(t) "
                 "r[#r+1] = table.concat(table.move({1, 2, 3}, 1, 3, 2), '') "
                 "r[#r+1] = ('ab'):rep(3, '-') "
                 "r[#r+1] = tostring(pcall(string.rep, 'x', 1 << 40)) "
                 "r[#r+1] = tostring(pcall(string.match, 'x', '%')) "
                 "return table.concat(r, '|')",
                 &err);
    CHECK_INT(rc, 0);
    if (rc == 0)
        CHECK_STR(lua_tostring(eng_vm_state(vm), -1),
                  "2|<hello> <world>|-a-b-c-|1=x, 2=y|Al is 3|5|trim me|(a(b)c)|the (quick) "
                  "fox|2|2|nil|1|a1|b2|two|1,2,3|145|541|1123|ab-ab-ab|false|false");
    else
        fprintf(stderr, "  %s\n", err.msg);
    eng_vm_free(vm);
}

/* __gc: a finalizer runs with hooks off, so no budget can stop it; the sandbox refuses it. */
static void expect_gc_refused(struct eng_vm *vm, const char *src)
{
    struct eng_err err = {0};
    int rc = run(vm, src, &err);
    CHECK_INT(rc, ENG_ESCRIPT);
    if (rc != ENG_ESCRIPT)
        fprintf(stderr, "  rc %d: %s\n", rc, rc != 0 ? err.msg : "(returned)");
    CHECK(strstr(err.msg, "__gc is not allowed") != NULL);
    if (rc == 0)
        lua_pop(eng_vm_state(vm), 1);
}

static void test_gc_finalizer_after_failed_call(void)
{
    /* on main the failed call's lua_gc ran the loop for ever */
    struct eng_vm *vm = new_vm();
    REQUIRE(vm != NULL);
    expect_gc_refused(vm, "setmetatable({}, {__gc = function() while true do end end}) "
                          "error('the call fails')");
    /* swallowing the refusal leaves nothing behind to finalize */
    struct eng_err err = {0};
    CHECK_INT(run(vm,
                  "pcall(setmetatable, {}, {__gc = function() while true do end end}) "
                  "error('the call fails')",
                  &err),
              ENG_ESCRIPT);
    CHECK(strstr(err.msg, "the call fails") != NULL);
    /* a __gc added to the metatable afterwards does not mark the table (Lua 5.4's rule) */
    CHECK_INT(run(vm,
                  "local mt = {} keep = setmetatable({}, mt) "
                  "mt.__gc = function() while true do end end error('the call fails')",
                  &err),
              ENG_ESCRIPT);
    CHECK(strstr(err.msg, "the call fails") != NULL);
    check_next_call_served(vm);
    eng_vm_free(vm);
}

static void test_gc_finalizer_at_close(void)
{
    /* on main the call succeeded and eng_vm_free (lua_close) never returned */
    struct eng_vm *vm = new_vm();
    REQUIRE(vm != NULL);
    expect_gc_refused(vm, "keep = setmetatable({}, {__gc = function() while true do end end}) "
                          "return 1");
    expect_gc_refused(vm, "local mt = {} mt.__gc = false return setmetatable({}, mt)");
    check_next_call_served(vm);
    eng_vm_free(vm);
}

/* ---- the hot-reload thread goes on publishing after a mapping that leaves a finalizer ---- */

/* Wait (up to 30 s: a liveness bound, not a figure) until the status holds needle, or the
 * generation moves past g when needle is NULL. Returns 1 when it did. */
static int wait_for(struct eng_scripts *reg, const char *needle, uint64_t g)
{
    for (int i = 0; i < 3000; i++) {
        if (needle == NULL && eng_scripts_generation(reg) > g)
            return 1;
        if (needle != NULL) {
            char *st = status(reg);
            int found = st != NULL && strstr(st, needle) != NULL;
            free(st);
            if (found)
                return 1;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void test_reload_goes_on_after_a_finalizer(void)
{
    struct eng_scripts *reg = new_registry();
    REQUIRE(reg != NULL);
    write_file(mdir, "w.lua", "return { map = function() return { v = 1 } end }\n");
    struct eng_err err = {0};
    REQUIRE(eng_scripts_start(reg, &err) == 0);
    uint64_t g = eng_scripts_generation(reg);

    /* a top level that leaves a looping finalizer behind (main: the watcher wedged in lua_close
     * of the validation VM, and no edit was published again) */
    write_file(mdir, "w.lua",
               "local keep = setmetatable({}, {__gc = function() while true do end end})\n"
               "return { map = function() return { v = 2 } end }\n");
    CHECK(wait_for(reg, "__gc is not allowed", 0));
    CHECK(eng_scripts_generation(reg) == g);

    /* the same through a swallowed error and a top level that then loops: the budget */
    write_file(mdir, "w.lua",
               "pcall(setmetatable, {}, {__gc = function() while true do end end})\n"
               "while true do end\n");
    CHECK(wait_for(reg, "budget", 0));

    /* the next edit is published */
    write_file(mdir, "w.lua", "return { map = function() return { v = 3 } end }\n");
    CHECK(wait_for(reg, NULL, g));
    size_t len;
    char *src = eng_scripts_source(reg, "mappings/w.lua", &len);
    CHECK(src != NULL && strstr(src, "v = 3") != NULL);
    free(src);

    cleanup(reg);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_xpcall_handler_loops_after_budget),
        CHECK_CASE(test_xpcall_handler_loops_on_its_own),
        CHECK_CASE(test_xpcall_keeps_lua_semantics),
        CHECK_CASE(test_string_rep_of_nothing),
        CHECK_CASE(test_table_move_through_c_metamethods),
        CHECK_CASE(test_table_move_plain_huge_range),
        CHECK_CASE(test_table_remove_lying_len),
        CHECK_CASE(test_table_insert_lying_len),
        CHECK_CASE(test_table_concat_c_index),
        CHECK_CASE(test_table_sort_c_comparator),
        CHECK_CASE(test_money_sum_lying_len),
        CHECK_CASE(test_find_backtracking),
        CHECK_CASE(test_match_backtracking),
        CHECK_CASE(test_gmatch_backtracking),
        CHECK_CASE(test_gsub_backtracking),
        CHECK_CASE(test_quadratic_trim_pattern),
        CHECK_CASE(test_plain_find_worst_case),
        CHECK_CASE(test_patterns_keep_lua_semantics),
        CHECK_CASE(test_gc_finalizer_after_failed_call),
        CHECK_CASE(test_gc_finalizer_at_close),
        CHECK_CASE(test_reload_goes_on_after_a_finalizer),
    };
    size_t n = sizeof cases / sizeof cases[0];
    if (argc > 1) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(cases[i].name, argv[1]) == 0)
                return check_run(&cases[i], 1);
        fprintf(stderr, "no case %s\n", argv[1]);
        return 2;
    }
    return check_run(cases, n);
}
