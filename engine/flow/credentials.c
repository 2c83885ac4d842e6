/*
 * credentials.c - lib/credentials.lua's prepare_store and test_ctx, called from C on the worker
 * that owns the VM (credentials.h). Every entry into Lua is a protected call; the stack is left
 * as found and the VM collected afterwards, so strings that held secrets do not linger.
 * Owns: the copies it makes of prepare_store's results. Must not: log or return a value.
 */
#include "flow/credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

#include "data/vault.h"
#include "lua/connctx.h"
#include "lua/vm.h"

/* Copy a message, cut on a UTF-8 character boundary. */
static void copy_message(char *dst, size_t size, const char *s, size_t n)
{
    if (size == 0)
        return;
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Push lib.credentials' function `fn`. [-0, +1 | 0, -] */
static int lib_fn(struct eng_vm *vm, const char *fn, struct eng_err *err)
{
    char boot[96];
    int n = snprintf(boot, sizeof boot, "return require('lib.credentials').%s", fn);
    if (eng_vm_load(vm, "=credentials", boot, (size_t)n, err) != 0)
        return err->code;
    return eng_vm_pcall(vm, 0, 1, err);
}

static char *dup_or_null(lua_State *L, int idx, size_t *len)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        return NULL;
    size_t n = 0;
    const char *s = lua_tolstring(L, idx, &n);
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n + 1);
        if (len != NULL)
            *len = n;
    }
    return d;
}

void eng_cred_prepared_free(struct eng_cred_prepared *p)
{
    eng_vault_free_secret(p->secret_json, p->secret_len);
    free(p->public_json);
    free(p->account_id);
    free(p->notes_json);
    p->secret_json = p->public_json = p->account_id = p->notes_json = NULL;
    p->secret_len = 0;
}

int eng_credentials_prepare(struct eng_vm *vm, const char *platform, const char *body, size_t len,
                            struct eng_cred_prepared *out, struct eng_err *err)
{
    memset(out, 0, sizeof *out);
    lua_State *L = eng_vm_state(vm);
    if (!lua_checkstack(L, 12))
        return eng_err_set(err, ENG_ENOMEM, "the worker is out of memory");
    int top = lua_gettop(L);
    int rc = lib_fn(vm, "prepare_store", err);
    if (rc == 0)
        rc = eng_vm_push_string(vm, platform, strlen(platform), err);
    if (rc == 0)
        rc = eng_vm_push_string(vm, body != NULL ? body : "", body != NULL ? len : 0, err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, 2, 5, err);
    if (rc != 0) {
        lua_settop(L, top);
        return rc;
    }
    int r = top + 1; /* ok, then four values */
    if (!lua_toboolean(L, r)) {
        /* false, status, code, message, field */
        int status = (int)lua_tointeger(L, r + 1);
        out->status = status == 400 ? 400 : 422;
        const char *code = lua_type(L, r + 2) == LUA_TSTRING ? lua_tostring(L, r + 2) : NULL;
        snprintf(out->code, sizeof out->code, "%s",
                 code != NULL ? code : (status == 400 ? "malformed_json" : "invalid_field"));
        size_t mlen = 0;
        const char *msg = lua_type(L, r + 3) == LUA_TSTRING ? lua_tolstring(L, r + 3, &mlen) : NULL;
        copy_message(out->message, sizeof out->message, msg != NULL ? msg : "invalid body",
                     msg != NULL ? mlen : 12);
        if (lua_type(L, r + 4) == LUA_TSTRING)
            snprintf(out->field, sizeof out->field, "%s", lua_tostring(L, r + 4));
    } else if (lua_type(L, r + 1) != LUA_TSTRING || lua_type(L, r + 2) != LUA_TSTRING) {
        rc = eng_err_set(err, ENG_ESCRIPT, "lib/credentials.lua: prepare_store returned no JSON");
    } else {
        /* true, secret_json, public_json, account_id | nil, notes_json | nil */
        out->secret_json = dup_or_null(L, r + 1, &out->secret_len);
        out->public_json = dup_or_null(L, r + 2, NULL);
        out->account_id = dup_or_null(L, r + 3, NULL);
        out->notes_json = dup_or_null(L, r + 4, NULL);
        if (out->secret_json == NULL || out->public_json == NULL ||
            (lua_type(L, r + 3) == LUA_TSTRING && out->account_id == NULL) ||
            (lua_type(L, r + 4) == LUA_TSTRING && out->notes_json == NULL)) {
            eng_cred_prepared_free(out);
            rc = eng_err_set(err, ENG_ENOMEM, "out of memory copying the credentials");
        } else {
            out->ok = 1;
        }
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT); /* free the strings that held secrets now */
    return rc;
}

int eng_credentials_test(struct eng_vm *vm, const struct eng_config *cfg,
                         const struct eng_keyring *keys, struct eng_store *st, const char *tenant,
                         const char *platform, long long budget_ms, int *ok, char *message,
                         size_t size, struct eng_err *err)
{
    const struct eng_connctx_opts ctx = {.cfg = cfg, .keys = keys, .st = st}, *o = &ctx;
    *ok = 0;
    if (size > 0)
        message[0] = '\0';
    lua_State *L = eng_vm_state(vm);
    if (!lua_checkstack(L, 12))
        return eng_err_set(err, ENG_ENOMEM, "the worker is out of memory");
    int top = lua_gettop(L);
    int rc = lib_fn(vm, "test_ctx", err);
    if (rc == 0)
        rc = eng_vm_push_string(vm, platform, strlen(platform), err);
    if (rc == 0)
        rc = eng_connctx_push(vm, o, tenant, platform, err);
    if (rc == ENG_EAUTH) {
        /* a key problem is a failed test, not a server error: the message names the key id */
        copy_message(message, size, err->msg, strlen(err->msg));
        lua_settop(L, top);
        return 0;
    }
    if (rc == 0)
        rc = eng_vm_pcall_budget(vm, 2, 2, budget_ms, err);
    if (rc == 0) {
        size_t mlen = 0;
        const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &mlen) : NULL;
        *ok = lua_toboolean(L, -2);
        copy_message(message, size, m != NULL ? m : "", mlen);
    } else if (rc == ENG_EBUDGET) {
        /* "connectors/x.lua:9: script exceeded its time budget of N ms" (or instructions): the
         * VM's own words, a position and a limit, never a value */
        size_t n = strcspn(err->msg, "\n");
        snprintf(message, size,
                 "the connection test did not finish: %.*s (CONNECTOR_TIMEOUT_MS is %lld ms)",
                 (int)(n < 400 ? n : 400), err->msg, budget_ms);
        rc = 0;
    } else if (rc == ENG_ENOMEM) {
        snprintf(message, size, "the connection test ran out of memory (SCRIPT_MEMORY_MB)");
        rc = 0;
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT); /* free the strings that held secrets now */
    return rc;
}
