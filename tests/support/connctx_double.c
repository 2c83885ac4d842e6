/*
 * connctx_double.c - TEST ONLY: a stand-in for engine/connctx.c (issue 4, another branch) so
 * the sync tests can run the real binary before that lands. Builds the same context shape from
 * the vault row (lib/credentials.lua merge + context), adds the QuickBooks token URL; rotated
 * tokens are not written back (on_tokens is absent). Linked only into tallysync_ctxdouble
 * (tests/tests.cmake) while engine/connctx.c does not exist.
 */
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "connctx.h"

static const char boot[] =
    "local c = require('lib.credentials')\n"
    "return function(p, s, pub, tenant, base, token_url)\n"
    "  local conn = c.connector(p)\n"
    "  local creds = c.merge(conn, s, pub)\n"
    "  local ctx = c.context(tenant, creds, { quickbooks_api_base = base })\n"
    "  ctx.platform = p\n"
    "  ctx.config.quickbooks_token_url = token_url\n"
    "  return ctx\n"
    "end\n";

int eng_connctx_push(struct eng_vm *vm, const struct eng_connctx_opts *o, const char *tenant,
                     const char *platform, struct eng_err *err)
{
    char *secret = NULL, *pub = NULL;
    size_t slen = 0;
    int rc = eng_vault_get(o->st, o->keys, tenant, platform, &secret, &slen, &pub, err);
    if (rc == ENG_ENOTFOUND) {
        secret = NULL, pub = NULL;
        if (strcmp(platform, "pos") != 0)
            return eng_err_set(err, ENG_ENOTFOUND, "no credentials stored for %s", platform);
    } else if (rc != 0) {
        return rc;
    }
    lua_State *L = eng_vm_state(vm);
    rc = eng_vm_load(vm, "=connctx-double", boot, sizeof boot - 1, err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, 0, 1, err);
    if (rc == 0) {
        lua_pushstring(L, platform);
        lua_pushlstring(L, secret != NULL ? secret : "{}", secret != NULL ? slen : 2);
        lua_pushstring(L, pub != NULL ? pub : "{}");
        lua_pushstring(L, tenant);
        const char *base = o->cfg->quickbooks_api_base, *tok = o->cfg->quickbooks_token_url;
        if (base != NULL)
            lua_pushstring(L, base);
        else
            lua_pushnil(L);
        if (tok != NULL)
            lua_pushstring(L, tok);
        else
            lua_pushnil(L);
        rc = eng_vm_pcall(vm, 6, 1, err);
    }
    if (secret != NULL)
        eng_vault_free_secret(secret, slen);
    free(pub);
    return rc;
}
