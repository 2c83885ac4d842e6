/*
 * test_vm_isolation.c - one warm VM, task after task (as a worker runs them): what one task does
 * to the shared tables, a module or its globals never reaches the next task. Issue 12, finding 3:
 * a mapping hooked engine.crypto.base64_encode (through the real table pairs handed out) and the
 * next connection test of another tenant handed it that tenant's key:secret.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "check.h"
#include "lua/vm_int.h"

/* "tenant A's mapping": tries every way it has to leave something for the next task. */
static const char MOD_A[] =
    "local crypto = require 'engine.crypto'\n"

    "local M = { seen = {}, CONST = { a = { 1, 2 }, b = 'x' }, OPTS = { pretty = true } }\n"
    "local function hook(s) seen_secret = s; return 'hooked' end\n"
    "function M.attack()\n"
    "  local tries = {\n"
    "    function() crypto.base64_encode = hook end,\n"
    "    function() local _, real = pairs(crypto); real.base64_encode = hook end,\n"
    "    function() local f, s = pairs(crypto); local k = f(s); s[k] = hook end,\n"
    "    function() local k = next(crypto); crypto[k] = hook end,\n"
    "    function() string.format = hook end,\n"
    "    function() local _, real = pairs(string); real.format = hook end,\n"
    "    function() getmetatable('').__index.format = hook end,\n"
    "    function() require('lib.mapping').QBO_LIMITS.Customer = {} end,\n"
    "    function() M.attack = hook end,\n"
    "    function() M.seen[#M.seen + 1] = 'task 1' end,\n"
    "    function() table.insert(M.seen, 'task 1') end,\n"
    "  }\n"
    "  local refused = 0\n"
    "  for _, f in ipairs(tries) do if not pcall(f) then refused = refused + 1 end end\n"
    "  leaked_global = 'from task 1'\n"
    "  return refused\n"
    "end\n"
    "function M.peek() return tostring(leaked_global) .. '|' .. #M.seen end\n"
    "local json = require 'engine.json'\n"
    "local EMPTY = json.array({})\n"
    "local ERR = { __tostring = function(e) return 'E:' .. e.m end }\n"
    "local hidden = setmetatable({}, { __metatable = 'mine' })\n"
    "function M.err(m) return setmetatable({ m = m }, ERR) end\n"
    "function M.hook_err() getmetatable(M.err('x')).__tostring = function() return 'hooked' end\n"
    "  return tostring(M.err('y')) end\n"
    "function M.objects() return json.encode(EMPTY) .. '|' .. tostring(M.err('z')) .. '|' ..\n"
    "  tostring(pcall(function() hidden.x = 1 end)) end\n"
    "local Base = { hello = function() return 'hi' end }\n"
    "M.Derived = setmetatable({}, { __index = Base })\n"
    "M.Self = setmetatable({ a = 1 }, { __index = function(t, k) return t end,\n"
    "  __tostring = function(t) return 'self' end })\n"
    "function M.classes() local s = M.Self.missing\n"
    "  return M.Derived.hello() .. '|' .. tostring(s == M.Self) .. '|' .. tostring(M.Self) ..\n"
    "    '|' .. tostring(pcall(function() s.a = 2 end)) .. '|' .. M.Self.a end\n"
    "local stash\n"
    "function M.keep(s) stash = s end\n"
    "function M.recall() return tostring(stash) end\n"
    "return M\n";

/* "tenant B's connection test": encodes its key:secret as the WooCommerce connector does. */
static const char MOD_B[] =
    "local crypto = require 'engine.crypto'\n"
    "local M = {}\n"
    "function M.test(secret)\n"
    "  return crypto.base64_encode(secret) .. '|' .. string.format('%s', 'f') .. '|' ..\n"
    "    tostring(seen_secret) .. '|' .. type(require('lib.tenant_a').attack)\n"
    "end\n"
    "return M\n";

static char *source(void *ud, const char *logical, size_t *len)
{
    (void)ud;
    const char *src = NULL;
    if (strcmp(logical, "scripts/lib/tenant_a.lua") == 0)
        src = MOD_A;
    else if (strcmp(logical, "scripts/lib/tenant_b.lua") == 0)
        src = MOD_B;
    if (src == NULL) { /* the real scripts, from the source tree (tests run at its root) */
        FILE *f = fopen(logical, "rb");
        if (f == NULL)
            return NULL;
        char *buf = malloc(1 << 20);
        size_t n = buf != NULL ? fread(buf, 1, (1 << 20) - 1, f) : 0;
        fclose(f);
        if (buf != NULL)
            buf[n] = '\0';
        *len = n;
        return buf;
    }
    *len = strlen(src);
    return strdup(src);
}

static struct eng_vm *new_vm(void)
{
    struct eng_vm_opts o = {0};
    o.source = source;
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&o, &err);
    if (vm == NULL)
        fprintf(stderr, "eng_vm_new: %s\n", err.msg);
    return vm;
}

static void test_a_hook_never_reaches_the_next_task(void)
{
    struct eng_vm *vm = new_vm();
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    long long refused = 0;
    int rc = eng_vm_call(vm, "lib.tenant_a", "attack", 0, &err, ">i", &refused);
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "attack: %s\n", err.msg);
    CHECK(refused == 11); /* every write to a shared table is refused */

    char *seen = NULL;
    rc = eng_vm_call(vm, "lib.tenant_b", "test", 0, &err, "s>s", "ck_b:cs_b", &seen);
    CHECK(rc == 0);
    /* base64("ck_b:cs_b"), the real string.format, no secret seen, the module unchanged */
    CHECK_STR(seen, "Y2tfYjpjc19i|f|nil|function");
    free(seen);
    eng_vm_free(vm);
}

static void test_a_global_or_module_field_is_gone_next_task(void)
{
    struct eng_vm *vm = new_vm();
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    long long refused = 0;
    CHECK(eng_vm_call(vm, "lib.tenant_a", "attack", 0, &err, ">i", &refused) == 0);
    char *peek = NULL;
    CHECK(eng_vm_call(vm, "lib.tenant_a", "peek", 0, &err, ">s", &peek) == 0);
    CHECK_STR(peek, "nil|0"); /* the global was task 1's; the module's list was never written */
    free(peek);
    eng_vm_free(vm);
}

static void test_frozen_tables_read_as_before(void)
{
    struct eng_vm *vm = new_vm();
    REQUIRE(vm != NULL);
    static const char src[] =
        "local n = 0\n"
        "for k, v in pairs(string) do n = n + 1; assert(type(v) == 'function', k) end\n"
        "assert(n > 10 and next(string) ~= nil and rawget(string, 'rep') == string.rep)\n"
        "assert(rawlen(string) == 0 and #table == 0 and getmetatable(string) == false)\n"
        "assert(('x'):rep(3) == 'xxx' and string.format('%d', 7) == '7')\n"
        "local json = require 'engine.json'\n"
        "assert(json.encode(json.array({})) == '[]')\n"
        "local a = require 'lib.tenant_a'\n"
        "assert(json.encode(a.CONST) == '{\"a\":[1,2],\"b\":\"x\"}', json.encode(a.CONST))\n"
        "assert(json.encode({ 1 }, a.OPTS):find('\\n'), 'frozen options are read')\n"
        "return 'ok'";
    struct eng_err err = {0};
    int rc = eng_vm_load(vm, "=frozen", src, sizeof src - 1, &err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, 0, 1, &err);
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    else
        CHECK_STR(lua_tostring(eng_vm_state(vm), -1), "ok");
    eng_vm_free(vm);
}

static void test_a_module_variable_is_put_back_after_each_task(void)
{
    struct eng_vm *vm = new_vm();
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    CHECK(eng_vm_call(vm, "lib.tenant_a", "keep", 0, &err, "s", "ck_a:cs_a") == 0);
    char *got = NULL;
    CHECK(eng_vm_call(vm, "lib.tenant_a", "recall", 0, &err, ">s", &got) == 0);
    CHECK_STR(got, "nil"); /* tenant A's secret did not outlive its task */
    free(got);
    eng_vm_free(vm);
}

static void test_objects_of_a_module_work_and_stay_as_loaded(void)
{
    struct eng_vm *vm = new_vm();
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    char *got = NULL;
    CHECK(eng_vm_call(vm, "lib.tenant_a", "hook_err", 0, &err, ">s", &got) == 0);
    CHECK_STR(got, "hooked"); /* a metatable's own field: assignable within the task... */
    free(got);
    got = NULL;
    CHECK(eng_vm_call(vm, "lib.tenant_a", "objects", 0, &err, ">s", &got) == 0);
    /* ...put back after it; a frozen JSON array keeps its mark; a table whose metatable is
     * protected is frozen too */
    CHECK_STR(got, "[]|E:z|false");
    free(got);
    got = NULL;
    CHECK(eng_vm_call(vm, "lib.tenant_a", "classes", 0, &err, ">s", &got) == 0);
    /* a class's __index table still answers; an __index function gets the frozen table, never
     * its hidden contents, so what it hands out cannot be written */
    CHECK_STR(got, "hi|true|self|false|1");
    free(got);
    eng_vm_free(vm);
}

CHECK_MAIN(CHECK_CASE(test_objects_of_a_module_work_and_stay_as_loaded),
           CHECK_CASE(test_a_module_variable_is_put_back_after_each_task),
           CHECK_CASE(test_a_hook_never_reaches_the_next_task),
           CHECK_CASE(test_a_global_or_module_field_is_gone_next_task),
           CHECK_CASE(test_frozen_tables_read_as_before))
