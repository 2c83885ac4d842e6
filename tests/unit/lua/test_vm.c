/*
 * test_vm.c - the sandboxed VM: forbidden facilities are absent, budgets and the memory cap
 * stop runaway scripts with a clear error, and the state stays usable afterwards.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "check.h"
#include "lua/vm_int.h"

static struct eng_vm *new_vm(long long budget_ms, long long instr, size_t mem)
{
    struct eng_vm_opts o = {0};
    o.scripts_dir = "scripts";
    o.mappings_dir = "mappings";
    o.budget_ms = budget_ms;
    o.budget_instr = instr;
    o.mem_limit = mem;
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&o, &err);
    if (vm == NULL)
        fprintf(stderr, "eng_vm_new: %s\n", err.msg);
    return vm;
}

/* Load and run src; returns the eng_vm_pcall code and leaves one result on success. */
static int run(struct eng_vm *vm, const char *name, const char *src, struct eng_err *err)
{
    int rc = eng_vm_load(vm, name, src, strlen(src), err);
    if (rc != 0)
        return rc;
    return eng_vm_pcall(vm, 0, 1, err);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_forbidden_names_are_absent(void)
{
    struct eng_vm *vm = new_vm(0, 0, 0);
    REQUIRE(vm != NULL);
    lua_State *L = eng_vm_state(vm);
    static const char *const names[] = {
        "io",        "debug",     "package",    "load",        "loadstring",    "dofile",
        "loadfile",  "rawset",    "coroutine",  "os.execute",  "os.exit",       "os.getenv",
        "os.remove", "os.rename", "os.tmpname", "string.dump", "require('os')", "_G"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char src[200];
        snprintf(src, sizeof src,
                 "local ok, v = pcall(function() return %s end) "
                 "return (not ok) or v == nil",
                 names[i]);
        struct eng_err err = {0};
        int rc = run(vm, "=forbidden", src, &err);
        CHECK_INT(rc, 0);
        if (rc == 0) {
            if (!lua_toboolean(L, -1))
                fprintf(stderr, "  reachable in the sandbox: %s\n", names[i]);
            CHECK(lua_toboolean(L, -1));
            lua_pop(L, 1);
        }
    }
    eng_vm_free(vm);
}

static void test_shared_tables_are_read_only(void)
{
    struct eng_vm *vm = new_vm(0, 0, 0);
    REQUIRE(vm != NULL);
    static const char *const escapes[] = {
        "string.upper = nil",
        "table.insert = print",
        "math.pi = 3",
        "os.time = nil",
        "getmetatable('').__index.upper = nil",
        "setmetatable(string, {})",
        "getmetatable(string).__index = {}",
        "local e = require('engine.json'); e.decode = nil",
    };
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        struct eng_err err = {0};
        int rc = run(vm, "=escape", escapes[i], &err);
        if (rc == 0)
            fprintf(stderr, "  escape succeeded: %s\n", escapes[i]);
        CHECK_INT(rc, ENG_ESCRIPT);
    }
    /* string methods still work and the real string table is intact */
    struct eng_err err = {0};
    REQUIRE(run(vm, "=ok", "return ('abc'):upper() .. string.rep('x', 2)", &err) == 0);
    CHECK_STR(lua_tostring(eng_vm_state(vm), -1), "ABCxx");
    eng_vm_free(vm);
}

static void test_binary_chunks_refused(void)
{
    /* Make bytecode in a plain, unsandboxed state, then offer it to the sandbox. */
    lua_State *P = luaL_newstate();
    REQUIRE(P != NULL);
    luaL_openlibs(P);
    REQUIRE(luaL_dostring(P, "return string.dump(function() return 42 end)") == LUA_OK);
    size_t len;
    const char *bc = lua_tolstring(P, -1, &len);
    struct eng_vm *vm = new_vm(0, 0, 0);
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    int rc = eng_vm_load(vm, "=bytecode", bc, len, &err);
    CHECK_INT(rc, ENG_ESCRIPT);
    CHECK(strstr(err.msg, "binary") != NULL);
    eng_vm_free(vm);
    lua_close(P);
}

static void test_require_stays_in_script_folders(void)
{
    struct eng_vm *vm = new_vm(0, 0, 0);
    REQUIRE(vm != NULL);
    static const char *const bad[] = {"../etc/passwd", "/etc/passwd", "lib..x",
                                      ".hidden",       "io",          "os",
                                      "engine.nope",   "x/../../y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char src[200];
        snprintf(src, sizeof src, "return require(%s)", "...");
        struct eng_err err = {0};
        REQUIRE(eng_vm_load(vm, "=req", src, strlen(src), &err) == 0);
        lua_pushstring(eng_vm_state(vm), bad[i]);
        int rc = eng_vm_pcall(vm, 1, 1, &err);
        if (rc == 0)
            fprintf(stderr, "  require(%s) succeeded\n", bad[i]);
        CHECK_INT(rc, ENG_ESCRIPT);
        CHECK(strstr(err.msg, "not found") != NULL || strstr(err.msg, "module") != NULL);
    }
    /* the engine's own modules and the script library do resolve */
    struct eng_err err = {0};
    CHECK_INT(run(vm, "=ok",
                  "return require('engine.json') ~= nil and "
                  "require('lib.mapping') ~= nil",
                  &err),
              0);
    eng_vm_free(vm);
}

static void test_errors_name_file_and_line(void)
{
    struct eng_vm *vm = new_vm(0, 0, 0);
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    int rc = run(vm, "@mappings/broken.lua", "local x = 1\nerror('the total is off')\n", &err);
    CHECK_INT(rc, ENG_ESCRIPT);
    CHECK(strstr(err.msg, "mappings/broken.lua:2: the total is off") != NULL);

    rc = eng_vm_load(vm, "@mappings/syntax.lua", "return {\n  a = ,\n}", 19, &err);
    CHECK_INT(rc, ENG_ESCRIPT);
    CHECK(strstr(err.msg, "mappings/syntax.lua:2:") != NULL);
    eng_vm_free(vm);
}

static void check_budget_case(const char *src, int want_rc, const char *want_text)
{
    struct eng_vm *vm = new_vm(300, 0, 8u << 20);
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    long long t0 = now_ms();
    int rc = run(vm, "@loop.lua", src, &err);
    long long took = now_ms() - t0;
    CHECK_INT(rc, want_rc);
    if (strstr(err.msg, want_text) == NULL)
        fprintf(stderr, "  got: %s\n", err.msg);
    CHECK(strstr(err.msg, want_text) != NULL);
    CHECK(took < 5000);
    /* The same state works again: the budget is re-armed for the next call. */
    rc = run(vm, "=after", "return 1 + 1", &err);
    CHECK_INT(rc, 0);
    if (rc == 0)
        CHECK_INT(lua_tointeger(eng_vm_state(vm), -1), 2);
    eng_vm_free(vm);
}

static void test_time_budget(void)
{
    check_budget_case("while true do end", ENG_EBUDGET, "loop.lua:1: script exceeded its time");
    /* a script's own pcall cannot swallow the budget error */
    check_budget_case("while true do pcall(function() while true do end end) end", ENG_EBUDGET,
                      "script exceeded its time budget");
    check_budget_case("local ok = pcall(function() while true do end end) return 'escaped'",
                      ENG_EBUDGET, "script exceeded its time budget");
    /* the error names the loop's line, not where the unwinding script happened to be */
    check_budget_case("local ok = pcall(function()\n  while true do end\nend)\nprint('x')\n",
                      ENG_EBUDGET, "loop.lua:2: script exceeded its time budget");
    /* string.rep is one C call: the memory cap stops it */
    check_budget_case("return string.rep('x', 1 << 30)", ENG_ENOMEM, "memory limit");
}

static void test_instruction_budget(void)
{
    struct eng_vm *vm = new_vm(60000, 1000000, 0);
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    int rc = run(vm, "@count.lua", "local n = 0\nwhile true do n = n + 1 end", &err);
    CHECK_INT(rc, ENG_EBUDGET);
    CHECK(strstr(err.msg, "instructions") != NULL);
    /* a modest loop fits */
    rc = run(vm, "=small", "local n = 0 for i = 1, 10000 do n = n + i end return n", &err);
    CHECK_INT(rc, 0);
    eng_vm_free(vm);
}

/* ---- the budget costs nothing until it is hit (vm_watch.c) ---- */

/* f() -> the hook mask of the state running it (0: no hook). [-0, +1, -] */
static int hook_mask(lua_State *L)
{
    lua_pushinteger(L, lua_gethookmask(L));
    return 1;
}

/* Run "return (...)()" with hook_mask as its argument: the call's hook mask, or -1. */
static long long mask_in_call(struct eng_vm *vm)
{
    struct eng_err err = {0};
    static const char src[] = "return (...)()";
    if (eng_vm_load(vm, "=mask", src, sizeof src - 1, &err) != 0)
        return -1;
    lua_State *L = eng_vm_state(vm);
    lua_pushcfunction(L, hook_mask);
    if (eng_vm_pcall(vm, 1, 1, &err) != 0)
        return -1;
    long long m = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return m;
}

static void test_no_hook_while_the_budget_lasts(void)
{
    /* the time budget alone (SCRIPT_MAX_INSTRUCTIONS unset): a call runs with no hook, before
     * and after a call that spent its budget */
    struct eng_vm *vm = new_vm(300, 0, 0);
    REQUIRE(vm != NULL);
    CHECK_INT(mask_in_call(vm), 0);
    struct eng_err err = {0};
    CHECK_INT(run(vm, "@loop.lua", "while true do end", &err), ENG_EBUDGET);
    CHECK_INT(mask_in_call(vm), 0);
    CHECK_INT(lua_gethookmask(eng_vm_state(vm)), 0); /* nor between calls */
    eng_vm_free(vm);
    /* a counted budget keeps its count hook */
    vm = new_vm(300, 1000000, 0);
    REQUIRE(vm != NULL);
    CHECK_INT(mask_in_call(vm), LUA_MASKCOUNT);
    eng_vm_free(vm);
}

static void test_runaway_after_many_calls(void)
{
    /* thousands of calls move the deadline the watchdog sleeps towards; the runaway after them
     * is still stopped, and so is each of several in a row with short calls between */
    struct eng_vm *vm = new_vm(200, 0, 0);
    REQUIRE(vm != NULL);
    lua_State *L = eng_vm_state(vm);
    struct eng_err err = {0};
    int ok = 0;
    for (int i = 0; i < 20000; i++)
        if (run(vm, "=short", "return 1", &err) == 0) {
            ok++;
            lua_pop(L, 1);
        }
    CHECK_INT(ok, 20000);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(run(vm, "@loop.lua", "local n = 0\nwhile true do n = n + 1 end", &err),
                  ENG_EBUDGET);
        CHECK(strstr(err.msg, "loop.lua:2: script exceeded its time budget of 200 ms") != NULL);
        CHECK_INT(run(vm, "=short", "return 2", &err), 0);
        lua_pop(L, 1);
    }
    eng_vm_free(vm);
}

struct spin_job {
    pthread_t th;
    long long budget_ms;
    const char *src; /* run with one argument, poll_stop */
    int rc;
    char msg[1100];
    int short_calls_ok;
};

static atomic_int spin_stop;

/* f() -> true once the test says stop. [-0, +1, -] */
static int poll_stop(lua_State *L)
{
    lua_pushboolean(L, atomic_load(&spin_stop));
    return 1;
}

/* A thread with its own VM: short calls, then src under budget_ms, then a short call. */
static void *spin_thread(void *arg)
{
    struct spin_job *j = arg;
    struct eng_vm *vm = new_vm(j->budget_ms, 0, 0);
    if (vm == NULL) {
        j->rc = -1;
        return NULL;
    }
    lua_State *L = eng_vm_state(vm);
    struct eng_err err = {0};
    for (int i = 0; i < 50; i++)
        if (run(vm, "=short", "return 1", &err) == 0) {
            j->short_calls_ok++;
            lua_pop(L, 1);
        }
    j->rc = eng_vm_load(vm, "@spin.lua", j->src, strlen(j->src), &err);
    if (j->rc == 0) {
        lua_pushcfunction(L, poll_stop);
        j->rc = eng_vm_pcall(vm, 1, 0, &err);
    }
    snprintf(j->msg, sizeof j->msg, "%s", j->rc != 0 ? err.msg : "");
    if (run(vm, "=short", "return 1", &err) == 0) {
        j->short_calls_ok++;
        lua_pop(L, 1);
    }
    eng_vm_free(vm);
    return NULL;
}

static void test_runaways_on_several_threads(void)
{
    /* one watchdog for every VM: each thread's runaway is stopped on its own thread */
    struct spin_job jobs[4];
    atomic_store(&spin_stop, 0);
    for (int i = 0; i < 4; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].budget_ms = 300 + 50 * i;
        jobs[i].src = i % 2 ? "local n = 0\nwhile true do n = n + 1 end"
                            : "local s = ('a'):rep(10000)\nwhile true do s:find('.-.-b') end";
        REQUIRE(pthread_create(&jobs[i].th, NULL, spin_thread, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(jobs[i].th, NULL);
        CHECK_INT(jobs[i].rc, ENG_EBUDGET);
        CHECK(strstr(jobs[i].msg, "spin.lua:2: script exceeded its time budget") != NULL);
        if (jobs[i].rc != ENG_EBUDGET || strstr(jobs[i].msg, "spin.lua:2:") == NULL)
            fprintf(stderr, "  thread %d: %s\n", i, jobs[i].msg);
        CHECK_INT(jobs[i].short_calls_ok, 51);
    }
}

static void test_shorter_budget_wakes_the_watchdog(void)
{
    /* a call with a 60 s budget is in flight (the watchdog sleeps towards its deadline) when a
     * call with 100 ms starts on another VM: that one is stopped at its own deadline, and the
     * long one is not stopped at all (it ends when told to) */
    struct spin_job long_job;
    memset(&long_job, 0, sizeof long_job);
    long_job.budget_ms = 60000;
    long_job.src = "local stop = ...\nwhile not stop() do end";
    atomic_store(&spin_stop, 0);
    REQUIRE(pthread_create(&long_job.th, NULL, spin_thread, &long_job) == 0);
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);

    struct eng_vm *vm = new_vm(60000, 0, 0);
    if (vm != NULL) {
        struct eng_err err = {0};
        static const char src[] = "while true do end";
        CHECK_INT(eng_vm_load(vm, "@short.lua", src, sizeof src - 1, &err), 0);
        CHECK_INT(eng_vm_pcall_budget(vm, 0, 0, 100, &err), ENG_EBUDGET);
        CHECK(strstr(err.msg, "short.lua:1: script exceeded its time budget of 100 ms") != NULL);
        eng_vm_free(vm);
    }
    atomic_store(&spin_stop, 1);
    pthread_join(long_job.th, NULL);
    CHECK_INT(long_job.rc, 0);
    if (long_job.rc != 0)
        fprintf(stderr, "  long call: %s\n", long_job.msg);
    CHECK(vm != NULL);
}

static void memory_cap_with(int fast_alloc)
{
    struct eng_vm_opts o = {0};
    o.scripts_dir = "scripts";
    o.mappings_dir = "mappings";
    o.budget_ms = 10000;
    o.mem_limit = 16u << 20;
    o.fast_alloc = fast_alloc;
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&o, &err);
    REQUIRE(vm != NULL);
    int rc =
        run(vm, "@grow.lua",
            "local t = {} local i = 0 while true do i = i + 1 t[i] = {i, tostring(i)} end", &err);
    CHECK_INT(rc, ENG_ENOMEM);
    CHECK(strstr(err.msg, "memory limit of 16 MiB") != NULL);
    /* everything the runaway script held is collectable: the state is usable */
    rc = run(vm, "=after", "local t = {} for i = 1, 1000 do t[i] = i end return #t", &err);
    CHECK_INT(rc, 0);
    if (rc == 0)
        CHECK_INT(lua_tointeger(eng_vm_state(vm), -1), 1000);
    eng_vm_free(vm);
}

/* the cap holds whichever allocator the state's blocks come from (fast_alloc: mimalloc when
 * the machine has it) */
static void test_memory_cap(void)
{
    memory_cap_with(0);
    memory_cap_with(1);
}

static void test_stack_balanced(void)
{
    struct eng_vm *vm = new_vm(0, 0, 0);
    REQUIRE(vm != NULL);
    lua_State *L = eng_vm_state(vm);
    int top = lua_gettop(L);
    struct eng_err err = {0};
    for (int i = 0; i < 100; i++) {
        if (run(vm, "=x", "error('x')", &err) == 0)
            lua_pop(L, 1);
    }
    CHECK_INT(lua_gettop(L), top);
    eng_vm_free(vm);
}

/* Write DIR/lib/NAME.lua (making DIR/lib when absent). */
static void lib_write(const char *dir, const char *name, const char *src)
{
    char path[256];
    snprintf(path, sizeof path, "%s/lib", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/lib/%s.lua", dir, name);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(src, f);
    fclose(f);
}

/* Remove DIR/lib/NAME.lua for each name, then DIR/lib and DIR. */
static void lib_remove(const char *dir, const char *const *names, size_t n)
{
    char path[256];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/lib/%s.lua", dir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/lib", dir);
    rmdir(path);
    rmdir(dir);
}

/* require (vm.c; engine.trace shares its two halves): a module is loaded once, a nil result
 * becomes true, extra arguments are ignored, a module that requires itself is refused. */
static void test_require_cache(void)
{
    char dir[] = "/tmp/test_vm_req.XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    static const char *const names[] = {"once", "none", "loop"};
    lib_write(dir, "once", "return {}\n");
    lib_write(dir, "none", "local x = 1\n");
    lib_write(dir, "loop", "return require('lib.loop')\n");
    struct eng_vm_opts o = {0};
    o.scripts_dir = dir;
    o.mappings_dir = dir;
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&o, &err);
    REQUIRE(vm != NULL);
    lua_State *L = eng_vm_state(vm);
    CHECK_INT(run(vm, "=once",
                  "local a = require('lib.once'); local b = require('lib.once', 'extra')\n"
                  "return type(a) == 'table' and rawequal(a, b) and require('lib.none') == true",
                  &err),
              0);
    CHECK(lua_toboolean(L, -1));
    lua_pop(L, 1);
    CHECK_INT(run(vm, "=loop", "return require('lib.loop')", &err), ENG_ESCRIPT);
    CHECK(strstr(err.msg, "module 'lib.loop': circular require") != NULL);
    eng_vm_free(vm);
    lib_remove(dir, names, 3);
}

/* eng_vm_call: C values in, C values out, every failure a code and nothing left on the stack. */
static void test_call(void)
{
    char dir[] = "/tmp/test_vm_call.XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    lib_write(dir, "t",
              "local M = {}\n"
              "function M.echo(s, n, b, j) return s, n + 1, not b, j end\n"
              "function M.keep(t) return t end\n"
              "function M.count(t) return #t.items end\n"
              "function M.boom() error('no such thing') end\n"
              "function M.spin() while true do end end\n"
              "function M.big() return string.rep('x', 1 << 20) end\n"
              "return M\n");
    struct eng_vm_opts o = {0};
    o.scripts_dir = dir;
    o.mappings_dir = dir;
    /* roomy: a 1 MiB string.rep under TSan on a loaded machine; the time budget has its own
     * test, and spin below sets its own */
    o.budget_ms = 10000;
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&o, &err);
    REQUIRE(vm != NULL);
    lua_State *L = eng_vm_state(vm);
    int top = lua_gettop(L);

    char *s = NULL, *j = NULL;
    long long n = 0;
    int b = -1;
    CHECK(eng_vm_call(vm, "lib.t", "echo", 0, &err, "sibj>sibj", "a\"b", 41LL, 1,
                      "{\"k\":[1,2.50,null]}", &s, &n, &b, &j) == 0);
    CHECK_STR(s, "a\"b");
    CHECK(n == 42);
    CHECK(b == 0);
    CHECK(j != NULL && strstr(j, "\"k\":[1,") != NULL);
    free(s);
    free(j);
    CHECK(lua_gettop(L) == top);

    /* a value kept across calls */
    int ref = ENG_VM_NOREF;
    CHECK(eng_vm_call(vm, "lib.t", "keep", 0, &err, "j>r", "{\"items\":[1,2,3]}", &ref) == 0);
    CHECK(ref != ENG_VM_NOREF);
    CHECK(eng_vm_call(vm, "lib.t", "count", 0, &err, "r>i", ref, &n) == 0);
    CHECK(n == 3);
    eng_vm_unref(vm, ref);

    /* failures: a code, the script's message, no result handed out, a clean stack */
    s = NULL;
    CHECK(eng_vm_call(vm, "lib.t", "boom", 0, &err, ">s", &s) == ENG_ESCRIPT);
    CHECK(strstr(err.msg, "no such thing") != NULL);
    CHECK(s == NULL);
    CHECK(eng_vm_call(vm, "lib.t", "nope", 0, &err, "") == ENG_ESCRIPT);
    CHECK(strstr(err.msg, "lib.t.nope is not a function") != NULL);
    CHECK(eng_vm_call(vm, "lib.missing", "x", 0, &err, "") == ENG_ESCRIPT);
    CHECK(eng_vm_call(vm, "lib.t", "echo", 0, &err, "sibj>s", "x", 1LL, 0, "{bad", &s) ==
          ENG_EINVAL);
    CHECK(strstr(err.msg, "json") != NULL);
    CHECK(eng_vm_call(vm, "lib.t", "spin", 100, &err, "") == ENG_EBUDGET);
    CHECK(eng_vm_call(vm, "lib.t", "echo", 0, &err, "q") == ENG_EINVAL);
    CHECK(lua_gettop(L) == top);

    /* a result larger than one page comes out whole */
    size_t len = 0;
    CHECK(eng_vm_call(vm, "lib.t", "big", 0, &err, ">S", &s, &len) == 0);
    CHECK(len == 1u << 20);
    free(s);
    CHECK(lua_gettop(L) == top);
    eng_vm_free(vm);
    static const char *const names[] = {"t"};
    lib_remove(dir, names, 1);
}

CHECK_MAIN(CHECK_CASE(test_forbidden_names_are_absent),
           CHECK_CASE(test_shared_tables_are_read_only), CHECK_CASE(test_binary_chunks_refused),
           CHECK_CASE(test_require_stays_in_script_folders), CHECK_CASE(test_require_cache),
           CHECK_CASE(test_errors_name_file_and_line), CHECK_CASE(test_time_budget),
           CHECK_CASE(test_instruction_budget), CHECK_CASE(test_memory_cap),
           CHECK_CASE(test_stack_balanced), CHECK_CASE(test_call),
           CHECK_CASE(test_no_hook_while_the_budget_lasts),
           CHECK_CASE(test_runaway_after_many_calls), CHECK_CASE(test_runaways_on_several_threads),
           CHECK_CASE(test_shorter_budget_wakes_the_watchdog))
