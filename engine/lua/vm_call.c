/*
 * vm_call.c - the one door into script code for C outside engine/lua (vm.h: eng_vm_call,
 * eng_vm_unref, eng_vm_run_file). A call's arguments are read from the varargs into slots first;
 * one protected C function then requires the module, pushes the arguments, calls the script
 * function and copies the results out, so no Lua value is built outside a protected call.
 * Owns: the malloc'd copies of results until the call succeeds (then the caller owns them).
 * Must not: leave anything on the Lua stack; hand out a partial result on failure.
 */
#include "lua/vm_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/connctx.h"
#include "lua/json.h"

#define CALL_MAX_SLOTS 16

struct call_slot {
    char code;
    const char *str; /* s S j J c(tenant) */
    size_t len;      /* S J */
    long long num;   /* i b r */
    const struct eng_connctx_opts *ctx;
    const char *platform; /* c */
    void *out, *out_len;  /* results */
};

struct call {
    struct eng_vm *vm;
    const char *module, *fn;
    struct call_slot args[CALL_MAX_SLOTS], res[CALL_MAX_SLOTS];
    int nargs, nres;
    char *copies[CALL_MAX_SLOTS]; /* malloc'd results, freed unless the call succeeds */
    size_t copy_len[CALL_MAX_SLOTS];
    int refs[CALL_MAX_SLOTS]; /* refs taken, released unless the call succeeds */
    struct eng_err inner;     /* an argument's own error (connector context) */
    int inner_rc;
};

/* Parse sig and the varargs into c. Returns 0, or ENG_EINVAL for a malformed signature. */
static int call_read_sig(struct call *c, const char *sig, va_list ap, struct eng_err *err)
{
    int in_results = 0;
    for (const char *p = sig; *p != '\0'; p++) {
        if (*p == '>' && !in_results) {
            in_results = 1;
            continue;
        }
        struct call_slot *sl;
        if (!in_results) {
            if (c->nargs == CALL_MAX_SLOTS)
                return eng_err_set(err, ENG_EINVAL, "eng_vm_call: too many arguments in \"%s\"",
                                   sig);
            sl = &c->args[c->nargs++];
        } else {
            if (c->nres == CALL_MAX_SLOTS)
                return eng_err_set(err, ENG_EINVAL, "eng_vm_call: too many results in \"%s\"", sig);
            sl = &c->res[c->nres++];
        }
        memset(sl, 0, sizeof *sl);
        sl->code = *p;
        if (!in_results) {
            switch (*p) {
            case 's':
            case 'j':
                sl->str = va_arg(ap, const char *);
                sl->len = sl->str != NULL ? strlen(sl->str) : 0;
                break;
            case 'S':
            case 'J':
                sl->str = va_arg(ap, const char *);
                sl->len = va_arg(ap, size_t);
                break;
            case 'i':
                sl->num = va_arg(ap, long long);
                break;
            case 'b':
            case 'r':
                sl->num = va_arg(ap, int);
                break;
            case 'c':
                sl->ctx = va_arg(ap, const struct eng_connctx_opts *);
                sl->str = va_arg(ap, const char *);
                sl->platform = va_arg(ap, const char *);
                break;
            default:
                return eng_err_set(err, ENG_EINVAL, "eng_vm_call: unknown argument '%c' in \"%s\"",
                                   *p, sig);
            }
        } else {
            switch (*p) {
            case 's':
            case 'j':
            case 'i':
            case 'b':
            case 'r':
                sl->out = va_arg(ap, void *);
                break;
            case 'S':
                sl->out = va_arg(ap, void *);
                sl->out_len = va_arg(ap, void *);
                break;
            default:
                return eng_err_set(err, ENG_EINVAL, "eng_vm_call: unknown result '%c' in \"%s\"",
                                   *p, sig);
            }
        }
    }
    return 0;
}

/* Push one argument. Raises on a memory error or a bad argument. [-0, +1, e] */
static void call_push_arg(lua_State *L, struct call *c, const struct call_slot *sl)
{
    switch (sl->code) {
    case 's':
    case 'S':
        if (sl->str == NULL)
            lua_pushnil(L);
        else
            lua_pushlstring(L, sl->str, sl->len);
        break;
    case 'j':
    case 'J':
        if (sl->str == NULL) {
            lua_pushnil(L);
        } else if (eng_json_decode(L, sl->str, sl->len, &c->inner) != 0) {
            c->inner_rc = ENG_EINVAL;
            luaL_error(L, "%s.%s: argument: %s", c->module, c->fn, c->inner.msg);
        }
        break;
    case 'i':
        lua_pushinteger(L, (lua_Integer)sl->num);
        break;
    case 'b':
        lua_pushboolean(L, sl->num != 0);
        break;
    case 'r':
        if (sl->num == ENG_VM_NOREF)
            lua_pushnil(L);
        else
            lua_rawgeti(L, LUA_REGISTRYINDEX, (lua_Integer)sl->num);
        break;
    case 'c': {
        int rc = eng_connctx_push(c->vm, sl->ctx, sl->str, sl->platform, &c->inner);
        if (rc != 0) {
            c->inner_rc = rc;
            luaL_error(L, "%s", c->inner.msg);
        }
        break;
    }
    default:
        luaL_error(L, "eng_vm_call: unknown argument '%c'", sl->code);
    }
}

/* Copy result i (at stack index idx) out to C. Raises on a memory error. */
static void call_take_result(lua_State *L, struct call *c, int i, int idx)
{
    const struct call_slot *sl = &c->res[i];
    switch (sl->code) {
    case 's':
    case 'S': {
        size_t n = 0;
        const char *v = NULL;
        if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER)
            v = lua_tolstring(L, idx, &n);
        else if (lua_toboolean(L, idx))
            luaL_error(L, "%s.%s: result %d is a %s, not a string", c->module, c->fn, i + 1,
                       luaL_typename(L, idx));
        if (v != NULL) {
            c->copies[i] = malloc(n + 1);
            if (c->copies[i] == NULL)
                luaL_error(L, "out of memory");
            memcpy(c->copies[i], v, n);
            c->copies[i][n] = '\0';
            c->copy_len[i] = n;
        }
        break;
    }
    case 'j': {
        if (lua_isnil(L, idx))
            break;
        eng_json_encode_top(L, idx, 0);
        size_t n;
        const char *v = lua_tolstring(L, -1, &n);
        c->copies[i] = malloc(n + 1);
        if (c->copies[i] == NULL)
            luaL_error(L, "out of memory");
        memcpy(c->copies[i], v, n + 1);
        lua_pop(L, 1);
        break;
    }
    case 'i':
        if (lua_isinteger(L, idx))
            *(long long *)sl->out = (long long)lua_tointeger(L, idx);
        else if (lua_type(L, idx) == LUA_TNUMBER)
            *(long long *)sl->out = (long long)lua_tonumber(L, idx);
        else
            *(long long *)sl->out = 0;
        break;
    case 'b':
        *(int *)sl->out = lua_toboolean(L, idx);
        break;
    case 'r':
        lua_pushvalue(L, idx);
        c->refs[i] = luaL_ref(L, LUA_REGISTRYINDEX);
        break;
    default:
        break;
    }
}

/* The protected body: require, push, call, copy out. [-0, +0, e] */
static int call_protected(lua_State *L)
{
    struct call *c = lua_touserdata(L, 1);
    lua_settop(L, 0);
    luaL_checkstack(L, c->nargs + c->nres + 8, "eng_vm_call");
    eng_vm_push_base(L);
    lua_getfield(L, -1, "require");
    lua_remove(L, -2);
    lua_pushstring(L, c->module);
    lua_call(L, 1, 1);
    if (lua_getfield(L, -1, c->fn) != LUA_TFUNCTION)
        return luaL_error(L, "%s.%s is not a function", c->module, c->fn);
    lua_remove(L, -2);
    for (int i = 0; i < c->nargs; i++)
        call_push_arg(L, c, &c->args[i]);
    lua_call(L, c->nargs, c->nres);
    for (int i = 0; i < c->nres; i++)
        call_take_result(L, c, i, i + 1);
    lua_settop(L, 0);
    return 0;
}

/* Hand the copies and refs to the caller's pointers. */
static void call_deliver(struct call *c)
{
    for (int i = 0; i < c->nres; i++) {
        struct call_slot *sl = &c->res[i];
        switch (sl->code) {
        case 's':
        case 'j':
            *(char **)sl->out = c->copies[i];
            break;
        case 'S':
            *(char **)sl->out = c->copies[i];
            *(size_t *)sl->out_len = c->copy_len[i];
            break;
        case 'r':
            *(int *)sl->out = c->refs[i];
            break;
        default:
            break;
        }
    }
}

static void call_discard(struct call *c)
{
    lua_State *L = eng_vm_state(c->vm);
    for (int i = 0; i < c->nres; i++) {
        free(c->copies[i]);
        if (c->refs[i] != ENG_VM_NOREF && c->refs[i] != LUA_NOREF)
            luaL_unref(L, LUA_REGISTRYINDEX, c->refs[i]);
    }
}

int eng_vm_call(struct eng_vm *vm, const char *module, const char *fn, long long budget_ms,
                struct eng_err *err, const char *sig, ...)
{
    struct call *c = calloc(1, sizeof *c);
    if (c == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory");
    c->vm = vm;
    c->module = module;
    c->fn = fn;
    va_list ap;
    va_start(ap, sig);
    int rc = call_read_sig(c, sig, ap, err);
    va_end(ap);
    if (rc != 0) {
        free(c);
        return rc;
    }
    lua_State *L = eng_vm_state(vm);
    if (!lua_checkstack(L, 4)) {
        free(c);
        return eng_err_set(err, ENG_ENOMEM, "Lua stack overflow");
    }
    int task = eng_vm_task_begin(L); /* a fresh table for the globals this call sets */
    if (task < 0) {
        free(c);
        return eng_err_set(err, ENG_ENOMEM, "out of memory");
    }
    lua_pushcfunction(L, call_protected);
    lua_pushlightuserdata(L, c);
    rc = eng_vm_pcall_budget(vm, 1, 0, budget_ms, err);
    if (task == 1)
        eng_vm_task_end(L);
    if (rc != 0 && c->inner_rc != 0) { /* the argument's own error, not the wrapper's text */
        rc = c->inner_rc;
        if (err != NULL)
            *err = c->inner;
    }
    if (rc == 0)
        call_deliver(c);
    else
        call_discard(c);
    int had_ctx = 0;
    for (int i = 0; i < c->nargs; i++)
        had_ctx |= c->args[i].code == 'c';
    free(c);
    /* A connector context held the tenant's secrets: what the call did not keep by an 'r'
     * result is garbage now; free it now rather than at some later task's collection. The note
     * stays: a context the call kept (a run's state) is collected at the end of its task. */
    if (had_ctx && task == 1 && eng_vm_secrets_noted(vm))
        lua_gc(eng_vm_state(vm), LUA_GCCOLLECT);
    return rc;
}

void eng_vm_unref(struct eng_vm *vm, int ref)
{
    if (vm != NULL && ref != ENG_VM_NOREF)
        luaL_unref(eng_vm_state(vm), LUA_REGISTRYINDEX, ref);
}

void eng_vm_collect(struct eng_vm *vm)
{
    if (vm != NULL) {
        eng_vm_forget_secrets_note(vm);
        lua_gc(eng_vm_state(vm), LUA_GCCOLLECT);
    }
}

void eng_vm_collect_secrets(struct eng_vm *vm)
{
    if (vm != NULL && eng_vm_secrets_noted(vm))
        eng_vm_collect(vm);
}

struct run_file {
    struct eng_vm *vm;
    const struct eng_connctx_opts *ctx;
    const char *tenant, *platform;
    int argc;
    char **argv;
    struct eng_err inner;
    int inner_rc;
};

/* Push the chunk's arguments: the connector context (when asked for), then the strings; they
 * are the results. The chunk itself is then called by eng_vm_pcall, so its errors name the
 * script's own file and line (a C function in between would be the "where" of a memory error). */
static int run_file_args(lua_State *L)
{
    struct run_file *rf = lua_touserdata(L, 1);
    lua_settop(L, 0);
    luaL_checkstack(L, rf->argc + 8, "too many arguments");
    int n = 0;
    if (rf->ctx != NULL) {
        int rc = eng_connctx_push(rf->vm, rf->ctx, rf->tenant, rf->platform, &rf->inner);
        if (rc != 0) {
            rf->inner_rc = rc;
            return luaL_error(L, "%s", rf->inner.msg);
        }
        n++;
    }
    for (int i = 0; i < rf->argc; i++, n++)
        lua_pushstring(L, rf->argv[i]);
    return n;
}

int eng_vm_run_file(struct eng_vm *vm, const char *path, const struct eng_connctx_opts *ctx,
                    const char *tenant, const char *platform, int argc, char **argv,
                    int *ctx_failed, struct eng_err *err)
{
    if (ctx_failed != NULL)
        *ctx_failed = 0;
    lua_State *L = eng_vm_state(vm);
    if (!lua_checkstack(L, 4))
        return eng_err_set(err, ENG_ENOMEM, "Lua stack overflow");
    int rc = eng_vm_loadfile(vm, path, err); /* pushes the chunk */
    if (rc != 0)
        return rc;
    int chunk = lua_gettop(L);
    struct run_file rf = {vm, ctx, tenant, platform, argc, argv, {0}, 0};
    int task = eng_vm_task_begin(L);
    if (task < 0) {
        lua_settop(L, chunk - 1);
        return eng_err_set(err, ENG_ENOMEM, "out of memory");
    }
    lua_pushcfunction(L, run_file_args);
    lua_pushlightuserdata(L, &rf);
    rc = eng_vm_pcall(vm, 1, LUA_MULTRET, err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, lua_gettop(L) - chunk, 0, err);
    else if (rf.inner_rc != 0) {
        if (err != NULL)
            *err = rf.inner;
        rc = rf.inner_rc;
        if (ctx_failed != NULL)
            *ctx_failed = 1;
    }
    lua_settop(L, chunk - 1);
    if (task == 1)
        eng_vm_task_end(L);
    return rc;
}

const char *eng_vm_lua_release(void)
{
    return LUA_RELEASE;
}
