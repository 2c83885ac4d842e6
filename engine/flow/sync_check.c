/*
 * sync_check.c - before a run is queued: does the tenant have usable credentials for both
 * connectors of the flow? The same check the run's start makes (the flow's source and target
 * from lib/sync.lua, each context built by connctx.h), made early so a request without them is
 * refused with the missing connection named instead of queued to fail.
 * Owns: nothing past the call. Must not: keep a context (it holds decrypted secrets) past it.
 */
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "lua/connctx.h"
#include "flow/sync.h"

int eng_sync_check_connections(struct eng_vm *vm, const struct eng_sync_env *env,
                               struct eng_store *st, const char *tenant, const char *flow,
                               struct eng_sync_missing miss[2], int *nmiss, struct eng_err *err)
{
    lua_State *L = eng_vm_state(vm);
    int top = lua_gettop(L);
    *nmiss = 0;
    if (!lua_checkstack(L, 8))
        return eng_err_set(err, ENG_ENOMEM, "out of Lua stack");
    static const char boot[] = "return require('lib.sync').c_platforms";
    int rc = eng_vm_load(vm, "=sync-check", boot, sizeof boot - 1, err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, 0, 1, err);
    if (rc == 0)
        rc = eng_vm_push_string(vm, flow, strlen(flow), err);
    if (rc == 0) /* (source, target) or (nil, message, retryable) */
        rc = eng_vm_pcall(vm, 1, 3, err);
    if (rc != 0) {
        lua_settop(L, top);
        return rc;
    }
    if (lua_type(L, -3) != LUA_TSTRING || lua_type(L, -2) != LUA_TSTRING) {
        const char *m = lua_tostring(L, -2);
        eng_err_set(err, ENG_ESCRIPT, "%s", m != NULL ? m : "the flow names no connectors");
        lua_settop(L, top);
        return ENG_ESCRIPT;
    }
    char platform[2][64];
    snprintf(platform[0], sizeof platform[0], "%s", lua_tostring(L, -3));
    snprintf(platform[1], sizeof platform[1], "%s", lua_tostring(L, -2));
    lua_settop(L, top);
    struct eng_connctx_opts o = {.cfg = env->cfg, .keys = env->keys, .st = st};
    for (int i = 0; i < 2; i++) {
        if (i == 1 && strcmp(platform[0], platform[1]) == 0)
            break;
        struct eng_err e = {0};
        rc = eng_connctx_push(vm, &o, tenant, platform[i], &e);
        if (rc == 0) {
            lua_settop(L, top); /* the context (and its secrets) goes at once */
            continue;
        }
        if (rc != ENG_ENOTFOUND && rc != ENG_EAUTH) {
            eng_err_set(err, rc, "%s", e.msg);
            return rc;
        }
        struct eng_sync_missing *m = &miss[(*nmiss)++];
        snprintf(m->platform, sizeof m->platform, "%s", platform[i]);
        snprintf(m->role, sizeof m->role, "%s", i == 0 ? "source" : "target");
        snprintf(m->reason, sizeof m->reason, "%s",
                 rc == ENG_ENOTFOUND ? "no_credentials" : "cannot_decrypt");
    }
    return 0;
}
