/*
 * connctx.c - a connector's context for one tenant (connctx.h): the vault row decrypted in C,
 * handed to lib/credentials.lua's build_context with the engine's settings and a small table of
 * C primitives bound to that row (load / lease / release / store / version), from which the Lua
 * side makes ctx.on_tokens, ctx.refresh_begin, ctx.refresh_end and ctx.reload_credentials.
 * Owns: the "engine.connctx.vault" userdata (tenant, platform, lease owner id, the token_version
 * the context holds, and borrowed pointers to the keyring and the worker's store, which outlive
 * every VM of the worker). Must not: raise while C holds plaintext (secret buffers live in a
 * wiping box userdata first); put a secret into an error; sleep past the caller's budget.
 */
#include "lua/connctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "adapt/crypto.h"
#include "base/clock.h"
#include "lua/vm.h"
#include "lua/vm_int.h"

#define VAULT_MT            "engine.connctx.vault"
#define BOX_MT              "engine.connctx.secret"
#define LEASE_DEFAULT_MS    60000LL
#define LEASE_POLL_MS       100LL
#define LEASE_BUDGET_MARGIN 250LL /* ms left to the caller after a lease wait gives up */

/* The row a context is bound to. */
struct vault_handle {
    char tenant[65];
    char platform[72];
    char owner[33];  /* this context's lease owner id: 32 random hex digits */
    int64_t version; /* token_version of the credentials the context holds */
    const struct eng_keyring *keys;
    struct eng_store *st;
};

/* A plaintext buffer owned by the VM while C works with it: wiped by __gc or box_close. */
struct secret_box {
    char *secret;
    size_t len;
    char *pub;
};

static void box_close(struct secret_box *b)
{
    eng_vault_free_secret(b->secret, b->len);
    free(b->pub);
    b->secret = NULL;
    b->pub = NULL;
    b->len = 0;
}

/* __gc of a secret box. [-0, +0, -] */
static int box_gc(lua_State *L)
{
    box_close(luaL_checkudata(L, 1, BOX_MT));
    return 0;
}

static struct vault_handle *handle_of(lua_State *L)
{
    return luaL_checkudata(L, lua_upvalueindex(1), VAULT_MT);
}

/* nil, message, code: the failure form of every primitive. [-0, +3, m] */
static int fail(lua_State *L, const char *code, const struct eng_err *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg);
    lua_pushstring(L, code);
    return 3;
}

static const char *store_code(int rc)
{
    return rc == ENG_ENOTFOUND ? "no_credentials" : rc == ENG_EAUTH ? "cannot_decrypt" : "store";
}

/* vault.load() -> secret_json, public_json | nil, message, code
 * The active row, decrypted; the context now holds its version. [-0, +2|3, m] */
static int l_load(lua_State *L)
{
    struct vault_handle *h = handle_of(L);
    struct secret_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    luaL_setmetatable(L, BOX_MT);
    struct eng_err err = {0};
    int64_t version = 0;
    int rc = eng_vault_get_versioned(h->st, h->keys, h->tenant, h->platform, &b->secret, &b->len,
                                     &b->pub, &version, &err);
    if (rc != 0)
        return fail(L, store_code(rc), &err);
    eng_vm_note_secrets(eng_vm_of(L));
    lua_pushlstring(L, b->secret, b->len); /* may raise: the box wipes at its collection */
    lua_pushstring(L, b->pub);
    box_close(b);
    h->version = version;
    return 2;
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* vault.lease([lease_ms [, wait_ms]]) -> "acquired" | "changed" | nil, message, code
 * Take the row's refresh lease for lease_ms (default 60 s) for the version the context holds.
 * "changed": newer credentials are stored (load them instead of refreshing). While another
 * holder has it, wait (polling) up to wait_ms (default lease_ms + 2 s, within the caller's
 * budget): code "refresh_busy" when that runs out. [-0, +1|3, m] */
static int l_lease(lua_State *L)
{
    struct vault_handle *h = handle_of(L);
    lua_Integer lease = luaL_optinteger(L, 1, LEASE_DEFAULT_MS);
    luaL_argcheck(L, lease > 0, 1, "lease_ms must be positive");
    lua_Integer wait = luaL_optinteger(L, 2, lease + 2000);
    luaL_argcheck(L, wait >= 0, 2, "wait_ms must not be negative");
    long long budget = eng_vm_remaining_ms(L);
    if (budget > 0 && wait > budget - LEASE_BUDGET_MARGIN)
        wait = budget > LEASE_BUDGET_MARGIN ? budget - LEASE_BUDGET_MARGIN : 0;
    long long deadline = eng_now_ms() + (long long)wait;
    struct eng_err err = {0};
    for (;;) {
        int64_t current = h->version;
        int rc = eng_vault_lease_take(h->st, h->tenant, h->platform, h->owner, h->version, lease,
                                      &current, &err);
        if (rc == 1) {
            lua_pushliteral(L, "acquired");
            return 1;
        }
        if (rc == ENG_EBUSY && eng_now_ms() < deadline) { /* the database is busy: like a lease */
            sleep_ms(LEASE_POLL_MS);
            continue;
        }
        if (rc < 0)
            return fail(L, store_code(rc), &err);
        if (current != h->version) {
            lua_pushliteral(L, "changed");
            return 1;
        }
        long long now = eng_now_ms();
        if (now >= deadline) {
            eng_err_set(&err, ENG_ETIMEOUT,
                        "another worker is refreshing the %.64s tokens and did not finish within "
                        "%lld ms",
                        h->platform, (long long)wait);
            return fail(L, "refresh_busy", &err);
        }
        long long nap = deadline - now < LEASE_POLL_MS ? deadline - now : LEASE_POLL_MS;
        sleep_ms(nap);
    }
}

/* vault.release([expired_message]) -> true | nil, message, code
 * Free this context's lease; with a message, also record that the refresh token was refused
 * (status 'expired', shown as a reconnect_required warning). [-0, +1|3, m] */
static int l_release(lua_State *L)
{
    struct vault_handle *h = handle_of(L);
    const char *msg = luaL_optstring(L, 1, NULL);
    struct eng_err err = {0};
    int rc = eng_vault_lease_release(h->st, h->tenant, h->platform, h->owner, msg, &err);
    if (rc != 0)
        return fail(L, store_code(rc), &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* vault.store(secret_json, public_json [, account_id]) -> version | nil, message, code
 * Seal and write over the version the context holds (compare-and-swap), freeing its lease.
 * code "superseded" when newer credentials are stored (nothing written). [-0, +1|3, m] */
static int l_store(lua_State *L)
{
    struct vault_handle *h = handle_of(L);
    size_t slen = 0;
    const char *secret = luaL_checklstring(L, 1, &slen);
    const char *pub = luaL_checkstring(L, 2);
    const char *account = luaL_optstring(L, 3, NULL);
    struct eng_err err = {0};
    int64_t v = h->version;
    int rc = eng_vault_put_tokens(h->st, h->keys, h->tenant, h->platform, h->version, h->owner,
                                  secret, slen, pub, account, &v, &err);
    if (rc == ENG_EEXIST)
        return fail(L, "superseded", &err);
    if (rc != 0)
        return fail(L, store_code(rc), &err);
    h->version = v;
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* vault.version() -> the token_version the context holds. [-0, +1, -] */
static int l_version(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)handle_of(L)->version);
    return 1;
}

struct build_args {
    const struct eng_connctx_opts *o;
    const char *tenant, *platform;
    int64_t version;
    const char *owner;
};

/* Protected: push the primitives table bound to a new handle. [-1, +1, m] */
static int build_vault(lua_State *L)
{
    const struct build_args *a = lua_touserdata(L, 1);
    static const luaL_Reg fns[] = {{"load", l_load},       {"lease", l_lease},
                                   {"release", l_release}, {"store", l_store},
                                   {"version", l_version}, {NULL, NULL}};
    if (luaL_newmetatable(L, BOX_MT)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__close");
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, VAULT_MT)) {
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 5);
    struct vault_handle *h = lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
    snprintf(h->tenant, sizeof h->tenant, "%s", a->tenant);
    snprintf(h->platform, sizeof h->platform, "%s", a->platform);
    snprintf(h->owner, sizeof h->owner, "%s", a->owner);
    h->version = a->version;
    h->keys = a->o->keys;
    h->st = a->o->st;
    luaL_setmetatable(L, VAULT_MT);
    luaL_setfuncs(L, fns, 1); /* each primitive gets the handle as its upvalue */
    return 1;
}

/* Push s (NULL: nil). [-0, +1, -] */
static int push_opt(struct eng_vm *vm, const char *s, size_t len, struct eng_err *err)
{
    if (s == NULL) {
        lua_pushnil(eng_vm_state(vm));
        return 0;
    }
    return eng_vm_push_string(vm, s, len, err);
}

static const char BOOT[] = "return require('lib.credentials').build_context";

int eng_connctx_push(struct eng_vm *vm, const struct eng_connctx_opts *o, const char *tenant,
                     const char *platform, struct eng_err *err)
{
    lua_State *L = eng_vm_state(vm);
    if (tenant == NULL || tenant[0] == '\0' || strlen(tenant) >= 65 || platform == NULL ||
        platform[0] == '\0' || strlen(platform) >= 72)
        return eng_err_set(err, ENG_EINVAL, "a connector context needs a tenant and a platform");
    if (!lua_checkstack(L, 16)) /* never raises; the pushes below then need no check */
        return eng_err_set(err, ENG_ENOMEM, "out of memory building the %.64s context", platform);
    int top = lua_gettop(L);

    char owner[33];
    unsigned char rnd[16];
    int rc = eng_crypto_random(rnd, sizeof rnd, err);
    if (rc == 0)
        rc = eng_crypto_hex_encode(rnd, sizeof rnd, owner, sizeof owner, err);
    if (rc != 0)
        return rc;

    char *secret = NULL, *pub = NULL;
    size_t slen = 0;
    int64_t version = 0;
    rc = eng_vault_get_versioned(o->st, o->keys, tenant, platform, &secret, &slen, &pub, &version,
                                 err);
    if (rc != 0 && rc != ENG_ENOTFOUND)
        return rc; /* EAUTH names the key id; store errors name no value */
    if (secret != NULL)
        eng_vm_note_secrets(vm);
    struct build_args a = {
        .o = o, .tenant = tenant, .platform = platform, .version = version, .owner = owner};
    const struct eng_config *cfg = o->cfg;
    char timeout[32];
    int tlen = snprintf(timeout, sizeof timeout, "%lld",
                        cfg != NULL ? cfg->connector_timeout_ms : 30000LL);
    const char *base = cfg != NULL ? cfg->quickbooks_api_base : NULL;
    const char *token_url = cfg != NULL ? cfg->quickbooks_token_url : NULL;

    /* build_context(platform, tenant, secret_json|nil, public_json|nil, vault, settings...) */
    rc = eng_vm_load(vm, "=connctx", BOOT, sizeof BOOT - 1, err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, 0, 1, err);
    if (rc == 0)
        rc = eng_vm_push_string(vm, platform, strlen(platform), err);
    if (rc == 0)
        rc = eng_vm_push_string(vm, tenant, strlen(tenant), err);
    if (rc == 0)
        rc = push_opt(vm, secret, slen, err);
    eng_vault_free_secret(secret, slen); /* on every path: Lua has its copy or failed */
    secret = NULL;
    if (rc == 0)
        rc = push_opt(vm, pub, pub != NULL ? strlen(pub) : 0, err);
    free(pub);
    if (rc == 0) {
        lua_pushcfunction(L, build_vault);
        lua_pushlightuserdata(L, &a);
        rc = eng_vm_pcall(vm, 1, 1, err);
    }
    if (rc == 0)
        rc = push_opt(vm, base, base != NULL ? strlen(base) : 0, err);
    if (rc == 0)
        rc = push_opt(vm, token_url, token_url != NULL ? strlen(token_url) : 0, err);
    if (rc == 0)
        rc = eng_vm_push_string(vm, timeout, (size_t)tlen, err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, 8, 3, err);
    if (rc != 0) {
        lua_settop(L, top);
        return rc;
    }
    /* ctx | nil, message, code */
    if (lua_type(L, top + 1) == LUA_TTABLE) {
        lua_settop(L, top + 1);
        return 0;
    }
    const char *code = lua_type(L, top + 3) == LUA_TSTRING ? lua_tostring(L, top + 3) : "";
    const char *msg = lua_type(L, top + 2) == LUA_TSTRING ? lua_tostring(L, top + 2) : NULL;
    if (strcmp(code, "no_credentials") == 0)
        rc = eng_err_set(err, ENG_ENOTFOUND, "no credentials stored for %.64s", platform);
    else
        rc = eng_err_set(err, ENG_ESCRIPT, "lib/credentials.lua cannot build the %.64s context: %s",
                         platform, msg != NULL ? msg : "no context returned");
    lua_settop(L, top);
    return rc;
}
