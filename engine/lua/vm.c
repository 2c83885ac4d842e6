/*
 * vm.c - the sandboxed Lua state: capped allocator, budget hook, allow-listed environment and a
 * `require` that only reaches engine modules and files under the script folders. The budget
 * costs nothing while it lasts: a call runs without a hook and vm_watch.c arms it when the
 * deadline passes; only a counted instruction budget (budget_instr) keeps a count hook set.
 * Owns: the lua_State and everything in its registry. Must not: run Lua outside lua_pcall, or
 * be used from a thread other than its creator's.
 */
#include "lua/vm_int.h"

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "base/buf.h"
#include "base/clock.h"
#include "lua/chunks.h"
#include "lua/lmods.h"
#include "base/log.h"

#define VM_DEFAULT_MEM       ((size_t)64 << 20)
#define VM_DEFAULT_BUDGET_MS 2000
#define VM_HOOK_EVERY        10000 /* instructions between two checks of a count hook */
#define VM_CHARGE_EVERY      4096  /* units charged from C between two clock reads */
#define VM_MAX_SOURCE        ((size_t)8 << 20)

/* Registry keys (addresses are unique, no string collisions with scripts). */
static const char vm_key_base = 'b';    /* the allow-listed base environment (__index target) */
static const char vm_key_engmods = 'e'; /* loaded engine.* proxies */
static const char vm_key_scripts = 's'; /* loaded script modules */

struct eng_vm {
    lua_State *L;
    struct eng_vm_opts opts; /* strings below are private copies */
    char *scripts_dir, *mappings_dir, *database_path;
    size_t mem_used;
    int mem_hit;
    int depth; /* nesting of eng_vm_pcall */
    long long deadline_ms;
    long long call_budget_ms; /* wall-clock budget of the current outer call */
    long long instr_left;     /* LLONG_MAX when instructions are not counted */
    long long charge_pending; /* units eng_vm_charge took since it last read the clock */
    int budget_hit;
    char budget_msg[400]; /* the first budget error, with where the script was looping */
    char tenant[128];
    char run[128];
    int db_readonly; /* eng_vm_set_db_readonly */
    pthread_t owner;
    int counted; /* budget_instr > 0: a count hook counts every call's instructions */
    int hooked;  /* the count hook is set for every call: counted, or no watchdog could run */
    struct eng_vm_watch watch; /* otherwise: the deadline, watched without a hook */
    int secrets_in;            /* eng_vm_note_secrets since the last eng_vm_collect */
};

void eng_vm_note_secrets(struct eng_vm *vm)
{
    vm->secrets_in = 1;
}

int eng_vm_secrets_noted(const struct eng_vm *vm)
{
    return vm->secrets_in;
}

void eng_vm_forget_secrets_note(struct eng_vm *vm)
{
    vm->secrets_in = 0;
}

static void vm_hook(lua_State *L, lua_Debug *ar);

static struct eng_vm *vm_of(lua_State *L)
{
    return *(struct eng_vm **)lua_getextraspace(L);
}

struct eng_vm *eng_vm_of(lua_State *L)
{
    return vm_of(L);
}

/* The allocators refuse growth past the cap and always allow frees and shrinks. vm_alloc takes
 * blocks from the C library; vm_alloc_fast (eng_vm_opts.fast_alloc) from mimalloc when Debian's
 * libmimalloc2.0 is installed: a state that maps many records makes many small, short-lived
 * blocks, which mimalloc serves from thread-local pages without the atomics of glibc's arenas
 * (a fifth of a dry run's time). It is loaded with dlopen and RTLD_LOCAL, never linked: linked,
 * it replaces malloc for the whole process, and serve's start-up garbage would then stay
 * resident (mimalloc keeps the pages of threads that ended); loaded locally, only these states
 * use it, and a process with none (an idle serve) never maps it. Not in sanitizer builds, whose
 * allocator must see every block. */
static inline void *vm_alloc_with(struct eng_vm *vm, void *ptr, size_t osize, size_t nsize,
                                  void *(*alloc)(size_t), void *(*grow)(void *, size_t),
                                  void (*release)(void *))
{
    size_t old = ptr != NULL ? osize : 0;

    if (nsize == 0) {
        release(ptr);
        vm->mem_used -= old;
        return NULL;
    }
    if (nsize > old && vm->mem_used - old + nsize > vm->opts.mem_limit) {
        vm->mem_hit = 1;
        return NULL;
    }
    void *p = ptr != NULL ? grow(ptr, nsize) : alloc(nsize); /* most are new blocks */
    if (p == NULL)
        return NULL;
    vm->mem_used = vm->mem_used - old + nsize;
    return p;
}

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    return vm_alloc_with(ud, ptr, osize, nsize, malloc, realloc, free);
}

static struct {
    void *(*alloc)(size_t);
    void *(*grow)(void *, size_t);
    void (*release)(void *);
} mi;
static pthread_once_t mi_once = PTHREAD_ONCE_INIT;

static void mi_load(void)
{
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    void *lib = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        return;
    void *a = dlsym(lib, "mi_malloc"), *g = dlsym(lib, "mi_realloc"), *r = dlsym(lib, "mi_free");
    if (a == NULL || g == NULL || r == NULL)
        return; /* the handle stays open: harmless, and never used */
    /* POSIX guarantees the data/function pointer round trip */
    memcpy(&mi.alloc, &a, sizeof a);
    memcpy(&mi.grow, &g, sizeof g);
    memcpy(&mi.release, &r, sizeof r);
#endif
}

static void *vm_alloc_fast(void *ud, void *ptr, size_t osize, size_t nsize)
{
    return vm_alloc_with(ud, ptr, osize, nsize, mi.alloc, mi.grow, mi.release);
}

/* The allocator for a new state: vm_alloc_fast only when mimalloc was loaded (once a process). */
static lua_Alloc vm_allocator(const struct eng_vm_opts *opts)
{
    if (!opts->fast_alloc)
        return vm_alloc;
    pthread_once(&mi_once, mi_load);
    return mi.alloc != NULL ? vm_alloc_fast : vm_alloc;
}

static int vm_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    eng_logf(ENG_LOG_ERROR, "lua panic (engine bug): %s", msg ? msg : "(no message)");
    abort();
}

/* The budget is spent: note it once (with where the script was: the innermost frame with a
 * line, which is the interrupted function in a hook and the Lua caller of a C loop), then raise
 * it. The hook is re-armed to fire on every instruction, so a script's own pcall cannot swallow
 * the error and go on. [-0, +1, v] */
static int vm_budget_raise(lua_State *L, struct eng_vm *vm)
{
    if (!vm->budget_hit) {
        vm->budget_hit = vm->instr_left > 0 ? 1 : 2;
        /* Said once: later re-raises happen wherever the unwinding script is, and would point
         * at its pcall instead of its loop. */
        lua_Debug where;
        char at[300] = "";
        for (int level = 0; level < 3 && at[0] == '\0' && lua_getstack(L, level, &where); level++)
            if (lua_getinfo(L, "Sl", &where) && where.currentline > 0)
                snprintf(at, sizeof at, "%s:%d: ", where.short_src, where.currentline);
        if (vm->budget_hit == 1)
            snprintf(vm->budget_msg, sizeof vm->budget_msg,
                     "%sscript exceeded its time budget of %lld ms", at, vm->call_budget_ms);
        else
            snprintf(vm->budget_msg, sizeof vm->budget_msg,
                     "%sscript exceeded its budget of %lld instructions", at,
                     vm->opts.budget_instr);
    }
    lua_sethook(L, vm_hook, LUA_MASKCOUNT, 1);
    lua_pushstring(L, vm->budget_msg);
    return lua_error(L);
}

/* Count hook: checks wall time and (when counted) instructions. Set for every call when
 * instructions are counted; otherwise armed with a count of 1 by vm_watch.c's signal handler or
 * eng_vm_budget_arm once the deadline has passed, and removed when the call ends. Once
 * the budget is spent it re-arms itself to fire on every instruction, so a script's own pcall
 * cannot swallow the error and go on. */
static void vm_hook(lua_State *L, lua_Debug *ar)
{
    struct eng_vm *vm = vm_of(L);
    (void)ar;
    if (vm->depth == 0) {
        if (!vm->hooked)
            lua_sethook(L, NULL, 0, 0);
        return;
    }
    if (!vm->budget_hit) {
        if (vm->counted)
            vm->instr_left -= lua_gethookcount(L);
        vm->charge_pending = 0;
        if (vm->instr_left > 0 && eng_now_ms() < vm->deadline_ms) {
            /* armed with time left (not by the watchdog, which arms past the deadline): check
             * now and then, not at every instruction, until the call ends; removing the hook
             * here could drop an arming signal taken meanwhile */
            if (!vm->hooked && lua_gethookcount(L) == 1)
                lua_sethook(L, vm_hook, LUA_MASKCOUNT, VM_HOOK_EVERY);
            return;
        }
    }
    vm_budget_raise(L, vm);
}

void eng_vm_budget_arm(lua_State *L)
{
    struct eng_vm *vm = vm_of(L);
    if (vm->depth > 0 && (vm->budget_hit || eng_now_ms() >= vm->deadline_ms))
        lua_sethook(L, vm_hook, LUA_MASKCOUNT, 1);
}

void eng_vm_charge(lua_State *L, long long n)
{
    struct eng_vm *vm = vm_of(L);
    if (vm->depth == 0)
        return;
    if (!vm->budget_hit) {
        if (vm->counted)
            vm->instr_left -= n;
        vm->charge_pending += n;
        if (vm->instr_left > 0 && vm->charge_pending < VM_CHARGE_EVERY)
            return;
        vm->charge_pending = 0;
        if (vm->instr_left > 0 && eng_now_ms() < vm->deadline_ms)
            return;
    }
    vm_budget_raise(L, vm);
}

int eng_vm_budget_spent(lua_State *L)
{
    return vm_of(L)->budget_hit != 0;
}

/* ---------- sandbox library functions ---------- */

/* print(...) -> (nothing). Writes to stdout in CLI `run`, to the log elsewhere. [-0,+0,m] */
static int vm_print(lua_State *L)
{
    struct eng_vm *vm = vm_of(L);
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    if (vm->opts.print_to_stdout) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        fwrite(s, 1, len, stdout);
        fputc('\n', stdout);
    } else {
        eng_log_kv(ENG_LOG_INFO, vm->tenant[0] ? vm->tenant : NULL, vm->run[0] ? vm->run : NULL,
                   lua_tostring(L, -1), NULL);
    }
    return 0;
}

/* collectgarbage(["count"]) -> kilobytes in use. Nothing else is allowed. [-0,+1,v] */
static int vm_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "count");
    if (strcmp(opt, "count") != 0)
        return luaL_argerror(L, 1, "only \"count\" is allowed in the sandbox");
    int kb = lua_gc(L, LUA_GCCOUNT, 0);
    int rem = lua_gc(L, LUA_GCCOUNTB, 0);
    lua_pushnumber(L, (lua_Number)kb + (lua_Number)rem / 1024.0);
    return 1;
}

/* Freeze the table at the top in place (vm_freeze.c): read-only for real, deeply. [-0, +0, m] */
static void vm_make_readonly(lua_State *L)
{
    eng_vm_freeze(L, -1);
}

static const struct {
    const char *name;
    lua_CFunction open;
} vm_engine_modules[] = {
    {"engine.crypto", luaopen_engine_crypto}, {"engine.db", luaopen_engine_db},
    {"engine.http", luaopen_engine_http},     {"engine.idmap", luaopen_engine_idmap},
    {"engine.json", luaopen_engine_json},     {"engine.log", luaopen_engine_log},
    {"engine.money", luaopen_engine_money},   {"engine.queue", luaopen_engine_queue},
    {"engine.text", luaopen_engine_text},     {"engine.trace", luaopen_engine_trace},
};

/* Read a script's source from the publisher or from disk. Returns malloc'd bytes or NULL. */
static char *vm_read_source(struct eng_vm *vm, const char *logical, size_t *len)
{
    if (vm->opts.source != NULL)
        return vm->opts.source(vm->opts.source_ud, logical, len);

    const char *root;
    const char *rest;
    if (strncmp(logical, "mappings/", 9) == 0) {
        root = vm->mappings_dir, rest = logical + 9;
    } else if (strncmp(logical, "scripts/", 8) == 0) {
        root = vm->scripts_dir, rest = logical + 8;
    } else {
        return NULL;
    }
    char path[4096];
    if (root == NULL || snprintf(path, sizeof path, "%s/%s", root, rest) >= (int)sizeof path)
        return NULL;
    struct eng_buf b;
    eng_buf_init(&b);
    if (eng_buf_read_file(&b, path, VM_MAX_SOURCE, NULL) != 0) {
        eng_buf_free(&b);
        return NULL;
    }
    return eng_buf_take(&b, len);
}

/* Give the function at the top a fresh environment whose misses fall back to the sandbox base.
 * [-0, +0, m] */
static void vm_setenv(lua_State *L)
{
    lua_createtable(L, 0, 8);             /* f env */
    eng_vm_push_env_metatable(L, 0);      /* f env mt */
    lua_setmetatable(L, -2);              /* f env */
    if (lua_setupvalue(L, -2, 1) == NULL) /* main chunks have _ENV as upvalue 1 */
        lua_pop(L, 1);
}

static int vm_name_ok(const char *name)
{
    if (name[0] == '\0' || name[0] == '.')
        return 0;
    for (const char *p = name; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '_' || *p == '-' || (*p == '.' && p[1] != '.' && p[1] != '\0');
        if (!ok)
            return 0;
    }
    return 1;
}

/* "lib.x" -> "scripts/lib/x.lua", "mappings.x" -> "mappings/x.lua" into logical; 0 or -1
 * (a name that does not fit). */
static int vm_logical(const char *name, char *logical, size_t size)
{
    const char *rest = name;
    const char *root = "scripts/";
    if (strncmp(name, "mappings.", 9) == 0)
        root = "mappings/", rest = name + 9;
    size_t n = (size_t)snprintf(logical, size, "%s%s.lua", root, rest);
    if (n >= size) {
        logical[0] = '\0';
        return -1;
    }
    for (char *p = logical + strlen(root); p < logical + n - 4; p++)
        if (*p == '.')
            *p = '/';
    return 0;
}

char *eng_vm_module_source(lua_State *L, const char *name, char *logical, size_t size, size_t *len)
{
    if (vm_logical(name, logical, size) != 0 || !vm_name_ok(name) ||
        strncmp(name, "engine.", 7) == 0)
        return NULL;
    return vm_read_source(vm_of(L), logical, len);
}

void eng_vm_make_readonly(lua_State *L)
{
    vm_make_readonly(L);
}

void eng_vm_push_base(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &vm_key_base);
}

static const char vm_key_loading = 'l'; /* a module's mark in a require cache while it loads */

int eng_vm_require_cached(lua_State *L, const char *name)
{
    int t = lua_getfield(L, 2, name);
    if (t == LUA_TLIGHTUSERDATA)
        return luaL_error(L, "module '%s': circular require", name);
    if (t != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    return 0;
}

void eng_vm_require_run(lua_State *L, const char *name)
{
    lua_pushlightuserdata(L, (void *)&vm_key_loading);
    lua_setfield(L, 2, name);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    eng_vm_freeze(L, -1); /* shared by every task that requires it: frozen, deeply */
    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name);
}

/* require(name) -> module. "engine.x" gives a read-only engine module; "mappings.x" loads
 * MAPPINGS_DIR/x.lua; any other dotted name loads SCRIPTS_DIR/a/b.lua. Raises when absent.
 * [-1, +1, e] */
static int vm_require(lua_State *L)
{
    struct eng_vm *vm = vm_of(L);
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1); /* the cache below is index 2 whatever else the script passed */

    if (strncmp(name, "engine.", 7) == 0) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &vm_key_engmods);
        if (lua_getfield(L, -1, name) != LUA_TNIL)
            return 1;
        lua_pop(L, 1);
        for (size_t i = 0; i < sizeof vm_engine_modules / sizeof vm_engine_modules[0]; i++) {
            if (strcmp(vm_engine_modules[i].name, name) != 0)
                continue;
            lua_pushcfunction(L, vm_engine_modules[i].open);
            lua_pushstring(L, name);
            lua_call(L, 1, 1);
            vm_make_readonly(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, name);
            return 1;
        }
        return luaL_error(L, "module '%s' not found: no such engine module", name);
    }
    if (!vm_name_ok(name))
        return luaL_error(L,
                          "module '%s' not found: names are dotted words under the script "
                          "folders",
                          name);

    lua_rawgetp(L, LUA_REGISTRYINDEX, &vm_key_scripts); /* name loaded */
    if (eng_vm_require_cached(L, name))
        return 1;

    /* logical path: mappings/x.lua or scripts/a/b.lua */
    char logical[1024];
    if (vm_logical(name, logical, sizeof logical) != 0)
        return luaL_error(L, "module '%s' not found: the name is too long", name);
    lua_pushstring(L, logical);         /* name loaded logical */
    lua_pushfstring(L, "@%s", logical); /* name loaded logical chunkname */
    size_t len = 0;
    char *src = vm_read_source(vm, logical, &len); /* nothing below raises before the free */
    if (src == NULL)
        return luaL_error(L, "module '%s' not found (looked for %s)", name, logical);
    int st = eng_chunks_load(L, src, len, lua_tostring(L, -1)); /* lua/chunks.h */
    free(src);                                                  /* nothing below can leak it */
    if (st != LUA_OK)
        return lua_error(L);
    vm_setenv(L);                /* name loaded logical chunkname f */
    eng_vm_require_run(L, name); /* ... result */
    return 1;
}

/* Build the allow-listed base environment. Runs protected from eng_vm_new. [-0, +0, m] */
static int vm_init(lua_State *L)
{
    static const char *const base_names[] = {
        "assert",   "error",  "ipairs",       "next",         "pairs",    "pcall",
        "rawequal", "rawget", "rawlen",       "select",       "tonumber", "tostring",
        "type",     "xpcall", "setmetatable", "getmetatable", "_VERSION"};
    static const struct {
        const char *name;
        lua_CFunction open;
    } libs[] = {{LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
                {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_OSLIBNAME, luaopen_os}};

    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        luaL_requiref(L, libs[i].name, libs[i].open, 0);
        lua_pop(L, 1);
    }
    eng_vm_bounded_open(L); /* budget-honouring string, table, xpcall, setmetatable */

    lua_newtable(L); /* base */
    lua_pushglobaltable(L);
    for (size_t i = 0; i < sizeof base_names / sizeof base_names[0]; i++) {
        lua_getfield(L, -1, base_names[i]);
        lua_setfield(L, -3, base_names[i]);
    }
    lua_pop(L, 1); /* base */

    /* string: no dump; the string metatable is hidden so ("").x cannot reach the real table. */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    vm_make_readonly(L);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    eng_vm_push_frozen_contents(L, -3); /* ("").x reads the contents directly */
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
    lua_setfield(L, -3, "string"); /* base loaded */

    static const char *const libnames[] = {LUA_TABLIBNAME, LUA_MATHLIBNAME, LUA_UTF8LIBNAME};
    for (size_t i = 0; i < 3; i++) {
        lua_getfield(L, -1, libnames[i]);
        vm_make_readonly(L);
        lua_setfield(L, -3, libnames[i]);
    }

    /* os: only time, clock and date; the real os table is dropped from package.loaded. */
    lua_getfield(L, -1, LUA_OSLIBNAME);
    lua_createtable(L, 0, 3);
    static const char *const osnames[] = {"time", "clock", "date"};
    for (size_t i = 0; i < 3; i++) {
        lua_getfield(L, -2, osnames[i]);
        lua_setfield(L, -2, osnames[i]);
    }
    vm_make_readonly(L);
    lua_setfield(L, -4, "os");
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_setfield(L, -2, LUA_OSLIBNAME);
    lua_pushglobaltable(L);
    lua_pushnil(L);
    lua_setfield(L, -2, LUA_OSLIBNAME);
    lua_pop(L, 2); /* base */

    lua_pushcfunction(L, vm_print);
    lua_setfield(L, -2, "print");
    lua_pushcfunction(L, vm_collectgarbage);
    lua_setfield(L, -2, "collectgarbage");
    lua_pushcfunction(L, vm_require);
    lua_setfield(L, -2, "require");
    eng_vm_freeze_base(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &vm_key_base);

    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &vm_key_engmods);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &vm_key_scripts);
    return 0;
}

static char *vm_strdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

struct eng_vm *eng_vm_new(const struct eng_vm_opts *opts, struct eng_err *err)
{
    struct eng_vm *vm = calloc(1, sizeof *vm);
    if (vm == NULL) {
        eng_err_set(err, ENG_ENOMEM, "out of memory creating a Lua state");
        return NULL;
    }
    vm->opts = *opts;
    if (vm->opts.mem_limit == 0)
        vm->opts.mem_limit = VM_DEFAULT_MEM;
    if (vm->opts.budget_ms <= 0)
        vm->opts.budget_ms = VM_DEFAULT_BUDGET_MS;
    if (vm->opts.budget_instr < 0)
        vm->opts.budget_instr = 0;
    vm->counted = vm->opts.budget_instr > 0;
    vm->scripts_dir = vm_strdup(opts->scripts_dir);
    vm->mappings_dir = vm_strdup(opts->mappings_dir);
    vm->database_path = vm_strdup(opts->database_path);
    vm->opts.scripts_dir = vm->scripts_dir;
    vm->opts.mappings_dir = vm->mappings_dir;
    vm->opts.database_path = vm->database_path;
    vm->owner = pthread_self();

    vm->L = lua_newstate(vm_allocator(&vm->opts), vm);
    if (vm->L == NULL) {
        eng_vm_free(vm);
        eng_err_set(err, ENG_ENOMEM, "out of memory creating a Lua state");
        return NULL;
    }
    *(struct eng_vm **)lua_getextraspace(vm->L) = vm;
    lua_atpanic(vm->L, vm_panic);
    /* Counted: the hook stays installed for the life of the state, inert outside eng_vm_pcall.
     * Otherwise the watchdog arms it when a deadline passes (and without one, the hook is
     * what checks the clock, as when counted). */
    vm->hooked = vm->counted || eng_vm_watch_add(&vm->watch, vm->L, vm_hook) != 0;
    if (vm->hooked)
        lua_sethook(vm->L, vm_hook, LUA_MASKCOUNT, VM_HOOK_EVERY);
    lua_pushcfunction(vm->L, vm_init);
    if (lua_pcall(vm->L, 0, 0, 0) != LUA_OK) {
        eng_err_set(err, ENG_ENOMEM, "cannot initialise the Lua sandbox: %s",
                    lua_tostring(vm->L, -1));
        eng_vm_free(vm);
        return NULL;
    }
    return vm;
}

void eng_vm_free(struct eng_vm *vm)
{
    if (vm == NULL)
        return;
    assert(pthread_equal(vm->owner, pthread_self()));
    eng_vm_watch_remove(&vm->watch); /* nothing when it was never added */
    if (vm->L != NULL)
        lua_close(vm->L);
    free(vm->scripts_dir);
    free(vm->mappings_dir);
    free(vm->database_path);
    free(vm);
}

lua_State *eng_vm_state(struct eng_vm *vm)
{
    return vm->L;
}

/* Protected part of eng_vm_load: wrap the loaded chunk with its environment. */
static int vm_setenv_protected(lua_State *L)
{
    vm_setenv(L);
    return 1;
}

int eng_vm_load(struct eng_vm *vm, const char *chunkname, const char *src, size_t len,
                struct eng_err *err)
{
    lua_State *L = vm->L;
    assert(pthread_equal(vm->owner, pthread_self()));
    int st = eng_chunks_load(L, src, len, chunkname); /* text only (lua/chunks.h) */
    if (st != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        int code = st == LUA_ERRMEM ? ENG_ENOMEM : ENG_ESCRIPT;
        eng_err_set(err, code, "%s", m ? m : "cannot load chunk");
        lua_pop(L, 1);
        return code;
    }
    lua_pushcfunction(L, vm_setenv_protected);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        eng_err_set(err, ENG_ENOMEM, "cannot set up the chunk's environment: %s",
                    lua_tostring(L, -1));
        lua_pop(L, 1);
        return ENG_ENOMEM;
    }
    return 0;
}

int eng_vm_loadfile(struct eng_vm *vm, const char *path, struct eng_err *err)
{
    struct eng_buf b;
    eng_buf_init(&b);
    int rc = eng_buf_read_file(&b, path, VM_MAX_SOURCE, err);
    if (rc == 0) {
        char chunkname[4200];
        snprintf(chunkname, sizeof chunkname, "@%s", path);
        rc = eng_vm_load(vm, chunkname, b.data ? b.data : "", b.len, err);
    }
    eng_buf_free(&b);
    return rc;
}

/* Message handler: keep the message (it already says file:line) and add a short traceback.
 * Once the budget is spent it runs nothing of the script's (no __tostring): a handler raised
 * from the hook runs with hooks off. */
static int vm_msgh(lua_State *L)
{
    struct eng_vm *vm = vm_of(L);
    if (vm->budget_hit) {
        lua_pushstring(L, vm->budget_msg);
        return 1;
    }
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int eng_vm_pcall(struct eng_vm *vm, int nargs, int nres, struct eng_err *err)
{
    return eng_vm_pcall_budget(vm, nargs, nres, 0, err);
}

int eng_vm_pcall_budget(struct eng_vm *vm, int nargs, int nres, long long budget_ms,
                        struct eng_err *err)
{
    lua_State *L = vm->L;
    assert(pthread_equal(vm->owner, pthread_self()));
    int fidx = lua_gettop(L) - nargs;
    char where[256] = "";
    lua_Debug ar;

    lua_pushvalue(L, fidx);
    if (lua_getinfo(L, ">S", &ar) && ar.source != NULL)
        snprintf(where, sizeof where, "%s", ar.short_src);

    int outer = vm->depth == 0;
    if (outer) {
        vm->call_budget_ms = budget_ms > 0 ? budget_ms : vm->opts.budget_ms;
        vm->deadline_ms = eng_now_ms() + vm->call_budget_ms;
        vm->instr_left = vm->counted ? vm->opts.budget_instr : LLONG_MAX;
        vm->charge_pending = 0;
        vm->budget_hit = 0;
        vm->mem_hit = 0;
        if (vm->hooked)
            lua_sethook(L, vm_hook, LUA_MASKCOUNT, VM_HOOK_EVERY);
        else
            eng_vm_watch_begin(&vm->watch, vm->deadline_ms);
    }
    vm->depth++;
    lua_pushcfunction(L, vm_msgh);
    lua_insert(L, fidx);
    int st = lua_pcall(L, nargs, nres, fidx);
    lua_remove(L, fidx);
    vm->depth--;
    if (st == LUA_OK && vm->budget_hit) {
        /* the script caught the budget error and returned at once (`return pcall(loop)`, a
         * tail call, runs no instruction after it): the call still failed */
        lua_settop(L, fidx - 1);
        lua_pushstring(L, vm->budget_msg);
        st = LUA_ERRRUN;
    }

    int rc = 0;
    if (st != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        if (vm->budget_hit) {
            rc = ENG_EBUDGET;
            eng_err_set(err, rc, "%s", vm->budget_msg);
        } else if (st == LUA_ERRMEM || vm->mem_hit) {
            rc = ENG_ENOMEM;
            if (st == LUA_ERRMEM || m == NULL) {
                eng_err_set(err, rc, "%s: script exceeded its memory limit of %zu MiB", where,
                            vm->opts.mem_limit >> 20);
            } else {
                /* the script caught the allocation failure and raised its own error: keep its
                 * message, say why, and keep the traceback last */
                const char *tb = strstr(m, "\nstack traceback:");
                int head = tb != NULL ? (int)(tb - m) : (int)strlen(m);
                eng_err_set(err, rc, "%.*s (script exceeded its memory limit of %zu MiB)%s", head,
                            m, vm->opts.mem_limit >> 20, tb != NULL ? tb : "");
            }
        } else {
            rc = ENG_ESCRIPT;
            eng_err_set(err, rc, "%s", m ? m : "script error");
        }
        lua_pop(L, 1);
    }
    if (outer) {
        if (vm->hooked) {
            if (rc != 0)
                lua_sethook(L, vm_hook, LUA_MASKCOUNT, VM_HOOK_EVERY);
        } else {
            eng_vm_watch_end(&vm->watch); /* no signal arms the hook after this */
            if (lua_gethookmask(L) != 0)
                lua_sethook(L, NULL, 0, 0);
        }
        vm->deadline_ms = 0;
        /* Give back what a runaway script grabbed. Only a runaway: a full collection walks the
         * whole heap, so one after every ordinary error (a record the mapping refuses) made a
         * dry run's cost quadratic in its records (issue 14). Garbage an ordinary error leaves
         * is the incremental collector's, and an allocation at the cap collects first. */
        if (rc == ENG_EBUDGET || rc == ENG_ENOMEM)
            lua_gc(L, LUA_GCCOLLECT);
    }
    return rc;
}

static int vm_push_string_protected(lua_State *L)
{
    const char *s = lua_touserdata(L, 1);
    size_t len = *(const size_t *)lua_touserdata(L, 2);
    lua_pushlstring(L, s, len);
    return 1;
}

int eng_vm_push_string(struct eng_vm *vm, const char *s, size_t len, struct eng_err *err)
{
    lua_State *L = vm->L;
    if (!lua_checkstack(L, 4))
        return eng_err_set(err, ENG_ENOMEM, "Lua stack overflow");
    lua_pushcfunction(L, vm_push_string_protected);
    lua_pushlightuserdata(L, (void *)s);
    lua_pushlightuserdata(L, &len);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        return eng_err_set(err, ENG_ENOMEM,
                           "the input (%zu bytes) does not fit the script memory limit of %zu MiB",
                           len, vm->opts.mem_limit >> 20);
    }
    return 0;
}

void eng_vm_set_context(struct eng_vm *vm, const char *tenant, const char *run)
{
    snprintf(vm->tenant, sizeof vm->tenant, "%s", tenant ? tenant : "");
    snprintf(vm->run, sizeof vm->run, "%s", run ? run : "");
}

int eng_vm_set_db_readonly(struct eng_vm *vm, int on)
{
    int was = vm->db_readonly;
    vm->db_readonly = on != 0;
    return was;
}

int eng_vm_db_readonly_of(lua_State *L)
{
    return vm_of(L)->db_readonly;
}

const struct eng_vm_opts *eng_vm_opts_of(lua_State *L)
{
    return &vm_of(L)->opts;
}

long long eng_vm_remaining_ms(lua_State *L)
{
    struct eng_vm *vm = vm_of(L);
    if (vm->depth == 0)
        return -1;
    long long left = vm->deadline_ms - eng_now_ms();
    return left > 0 ? left : 1;
}

const char *eng_vm_tenant_of(lua_State *L)
{
    struct eng_vm *vm = vm_of(L);
    return vm->tenant[0] ? vm->tenant : NULL;
}

const char *eng_vm_run_of(lua_State *L)
{
    struct eng_vm *vm = vm_of(L);
    return vm->run[0] ? vm->run : NULL;
}
