/*
 * test_connctx.c - unit tier for engine/lua/connctx.c: eng_connctx_push against a real, migrated
 * SQLite file and the real scripts (lib/credentials.lua, connectors/) in a real VM. The
 * context's shape, its errors (nothing stored, unknown connector, wrong key) with the stack left
 * as found, and the token functions of two contexts of one company: the lease (one holder, the
 * other told at once or after waiting no longer than its budget), on_tokens' compare-and-swap
 * (a stale context is superseded and reloads the newer tokens), refresh_begin's "reloaded".
 * No remote system is involved (tests/integration/token_refresh.sh drives the mock).
 * Owns only its scratch folder.
 */
#include "check.h"
#include "lua/connctx.h"
#include "adapt/crypto.h"
#include "api/api.h"
#include "adapt/store.h"
#include "data/vault.h"
#include "lua/vm_int.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lua.h>

#define QBO_SECRET                                                                                 \
    "{\"client_secret\":\"qbo-secret-0123456789\",\"access_token\":\"at-version-one\","            \
    "\"refresh_token\":\"rt-version-one\"}"
#define QBO_PUBLIC                                                                                 \
    "{\"client_id\":\"cid\",\"realm_id\":\"9130\",\"environment\":\"sandbox\","                    \
    "\"client_secret\":\"********\",\"access_token\":\"********\",\"refresh_token\":\"********\"}"

static char tmproot[64];
static char dbpath[128];
static struct eng_store *st;
static struct eng_keyring *keys;
static struct eng_config cfg;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(tmproot, sizeof tmproot, "/tmp/test_connctx.XXXXXX");
    if (mkdtemp(tmproot) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(dbpath, sizeof dbpath, "%s/ctx.db", tmproot);
    const char *schema = getenv("SCHEMA_DIR");
    struct eng_err err = {0};
    if (eng_store_open(dbpath, &st, &err) != 0 ||
        eng_store_migrate(st, schema != NULL ? schema : "schema", NULL, &err) != 0 ||
        eng_keyring_parse("oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE=", NULL, &keys, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        exit(2);
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.connector_timeout_ms = 4321;
    cfg.quickbooks_api_base = "http://127.0.0.1:9";
    cfg.quickbooks_token_url = "http://127.0.0.1:9/oauth2/v1/tokens/bearer";
}

static void teardown(void)
{
    eng_store_close(st);
    eng_keyring_free(keys);
    nftw(tmproot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct eng_vm *new_vm(void)
{
    const char *scripts = getenv("SCRIPTS_DIR");
    struct eng_vm_opts o = {.scripts_dir = scripts != NULL ? scripts : "scripts",
                            .mappings_dir = "mappings",
                            .database_path = dbpath};
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&o, &err);
    if (vm == NULL) {
        fprintf(stderr, "eng_vm_new: %s\n", err.msg);
        exit(2);
    }
    return vm;
}

static int push(struct eng_vm *vm, const char *platform, struct eng_err *err)
{
    struct eng_connctx_opts o = {.cfg = &cfg, .keys = keys, .st = st};
    return eng_connctx_push(vm, &o, "default", platform, err);
}

/* Run `src` with the nargs values on top of the stack as `...`; its one string result into out
 * (budget_ms 0: the VM's default). Returns the pcall's code. */
static int run(struct eng_vm *vm, const char *src, int nargs, long long budget_ms, char *out,
               size_t cap)
{
    lua_State *L = eng_vm_state(vm);
    struct eng_err err = {0};
    out[0] = '\0';
    int rc = eng_vm_load(vm, "=test", src, strlen(src), &err);
    if (rc != 0) {
        lua_pop(L, nargs);
        snprintf(out, cap, "load: %.900s", err.msg);
        return rc;
    }
    lua_insert(L, -(nargs + 1));
    rc = eng_vm_pcall_budget(vm, nargs, 1, budget_ms, &err);
    if (rc != 0) {
        snprintf(out, cap, "error: %.900s", err.msg);
        return rc;
    }
    snprintf(out, cap, "%s", lua_tostring(L, -1) != NULL ? lua_tostring(L, -1) : "(not a string)");
    lua_pop(L, 1);
    return 0;
}

static void store_qbo(void)
{
    struct eng_err err = {0};
    if (eng_vault_put(st, keys, "default", "quickbooks", QBO_SECRET, strlen(QBO_SECRET), QBO_PUBLIC,
                      "9130", &err) != 0) {
        fprintf(stderr, "put: %s\n", err.msg);
        exit(2);
    }
}

static void test_shape_and_errors(void)
{
    struct eng_vm *vm = new_vm();
    lua_State *L = eng_vm_state(vm);
    struct eng_err err = {0};
    char out[1024];
    int top = lua_gettop(L);

    /* pos declares no credentials: {} and no token functions */
    REQUIRE(push(vm, "pos", &err) == 0);
    CHECK_INT(lua_gettop(L), top + 1);
    CHECK_INT(run(vm,
                  "local c = ...; return c.tenant .. ' ' .. c.platform .. ' ' .. "
                  "tostring(next(c.credentials)) .. ' ' .. type(c.on_tokens) .. ' ' .. "
                  "c.config.connector_timeout_ms",
                  1, 0, out, sizeof out),
              0);
    CHECK_STR(out, "default pos nil nil 4321");

    /* nothing stored for a connector that declares credentials; unknown connector */
    CHECK_INT(push(vm, "quickbooks", &err), ENG_ENOTFOUND);
    CHECK_STR(err.msg, "no credentials stored for quickbooks");
    CHECK_INT(lua_gettop(L), top);
    CHECK_INT(push(vm, "nope", &err), ENG_ESCRIPT);
    CHECK(strstr(err.msg, "nope") != NULL);
    CHECK_INT(lua_gettop(L), top);
    CHECK_INT(push(vm, "", &err), ENG_EINVAL);

    /* the merged credentials and the engine's settings */
    store_qbo();
    REQUIRE(push(vm, "quickbooks", &err) == 0);
    CHECK_INT(run(vm,
                  "local c = ...; local k = c.credentials; return table.concat({k.client_id, "
                  "k.client_secret, k.realm_id, k.access_token, k.refresh_token, k.environment, "
                  "c.config.quickbooks_api_base, c.config.quickbooks_token_url, "
                  "type(c.on_tokens), type(c.refresh_begin), type(c.refresh_end), "
                  "type(c.reload_credentials)}, ' ')",
                  1, 0, out, sizeof out),
              0);
    CHECK_STR(out, "cid qbo-secret-0123456789 9130 at-version-one rt-version-one sandbox "
                   "http://127.0.0.1:9 http://127.0.0.1:9/oauth2/v1/tokens/bearer function "
                   "function function function");

    /* a row the configured keys cannot open */
    struct eng_keyring *other = NULL;
    REQUIRE(eng_keyring_parse("srKysrKysrKysrKysrKysrKysrKysrKysrKysrKysrI=", NULL, &other, &err) ==
            0);
    struct eng_connctx_opts o = {.cfg = &cfg, .keys = other, .st = st};
    CHECK_INT(eng_connctx_push(vm, &o, "default", "quickbooks", &err), ENG_EAUTH);
    CHECK(strstr(err.msg, "cannot be decrypted with the configured keys (key id ") != NULL);
    CHECK(strstr(err.msg, "qbo-secret") == NULL);
    CHECK_INT(lua_gettop(L), top);
    eng_keyring_free(other);
    eng_vm_free(vm);
}

#define ON_TOKENS                                                                                  \
    "local c, at, rt = ...; local ok, msg, code = c.on_tokens{access_token = at, "                 \
    "refresh_token = rt, access_token_expires_at = '2030-01-01T00:00:00.000Z', "                   \
    "refresh_token_expires_at = '2030-04-01T00:00:00.000Z'}; return tostring(ok) .. ' ' .. "       \
    "tostring(code) .. ' ' .. c.credentials.refresh_token"

static void test_tokens_two_contexts(void)
{
    struct eng_vm *vm = new_vm();
    lua_State *L = eng_vm_state(vm);
    struct eng_err err = {0};
    char out[1024];
    store_qbo();
    int top = lua_gettop(L);

    /* two contexts of one company, both at the stored version */
    REQUIRE(push(vm, "quickbooks", &err) == 0);
    int c1 = lua_gettop(L);
    REQUIRE(push(vm, "quickbooks", &err) == 0);
    int c2 = lua_gettop(L);

    /* one lease holder; the other is told at once with wait_ms 0 */
    lua_pushvalue(L, c1);
    CHECK_INT(run(vm, "return (...).refresh_begin()", 1, 0, out, sizeof out), 0);
    CHECK_STR(out, "acquired");
    lua_pushvalue(L, c2);
    CHECK_INT(run(vm,
                  "local got, msg, code = (...).refresh_begin{lease_ms = 5000, wait_ms = 0};"
                  "return tostring(got) .. ' ' .. code .. ' ' .. msg",
                  1, 0, out, sizeof out),
              0);
    CHECK(strncmp(out, "nil refresh_busy another worker is refreshing the quickbooks tokens", 66) ==
          0);
    /* waiting is bounded by the call's budget: refresh_busy, not a budget error */
    lua_pushvalue(L, c2);
    CHECK_INT(run(vm,
                  "local got, msg, code = (...).refresh_begin{lease_ms = 60000, wait_ms = 600000};"
                  "return tostring(got) .. ' ' .. code",
                  1, 1500, out, sizeof out),
              0);
    CHECK_STR(out, "nil refresh_busy");

    /* the holder stores: the lease is freed and the version moves on */
    lua_pushvalue(L, c1);
    lua_pushstring(L, "at-version-two");
    lua_pushstring(L, "rt-version-two");
    CHECK_INT(run(vm, ON_TOKENS, 3, 0, out, sizeof out), 0);
    CHECK_STR(out, "true nil rt-version-two");
    char *secret = NULL;
    size_t len = 0;
    int64_t version = -1;
    REQUIRE(eng_vault_get_versioned(st, keys, "default", "quickbooks", &secret, &len, NULL,
                                    &version, &err) == 0);
    CHECK(strstr(secret, "rt-version-two") != NULL);
    CHECK(strstr(secret, "qbo-secret-0123456789") != NULL); /* the other fields are kept */
    eng_vault_free_secret(secret, len);

    /* the stale context cannot write over it: superseded, and it now holds the newer tokens */
    lua_pushvalue(L, c2);
    lua_pushstring(L, "at-stale");
    lua_pushstring(L, "rt-stale");
    CHECK_INT(run(vm, ON_TOKENS, 3, 0, out, sizeof out), 0);
    CHECK_STR(out, "nil superseded rt-version-two");
    int64_t after = -1;
    REQUIRE(eng_vault_get_versioned(st, keys, "default", "quickbooks", &secret, &len, NULL, &after,
                                    &err) == 0);
    CHECK_INT(after, version);
    CHECK(strstr(secret, "rt-stale") == NULL);
    eng_vault_free_secret(secret, len);

    /* c2 (now current) stores; c1 (stale again) asks for the lease: "reloaded", no lease */
    lua_pushvalue(L, c2);
    lua_pushstring(L, "at-version-three");
    lua_pushstring(L, "rt-version-three");
    CHECK_INT(run(vm, ON_TOKENS, 3, 0, out, sizeof out), 0);
    CHECK_STR(out, "true nil rt-version-three");
    lua_pushvalue(L, c1);
    CHECK_INT(run(vm,
                  "local c = ...; local got = c.refresh_begin(); return got .. ' ' .. "
                  "c.credentials.access_token .. ' ' .. c.credentials.refresh_token_expires_at",
                  1, 0, out, sizeof out),
              0);
    CHECK_STR(out, "reloaded at-version-three 2030-04-01T00:00:00.000Z");
    lua_pushvalue(L, c2);
    CHECK_INT(run(vm, "return (...).refresh_begin{wait_ms = 0}", 1, 0, out, sizeof out), 0);
    CHECK_STR(out, "acquired");
    /* refresh_end with expired: the status says so */
    lua_pushvalue(L, c2);
    CHECK_INT(run(vm,
                  "local c = ...; return tostring(c.refresh_end{expired = 'refused (invalid_grant) "
                  "for ' .. c.credentials.client_secret})",
                  1, 0, out, sizeof out),
              0);
    CHECK_STR(out, "true");
    struct eng_buf b;
    eng_buf_init(&b);
    CHECK_INT(eng_api_credentials_status(st, NULL, "default", "quickbooks", &b, &err), 0);
    CHECK(b.data != NULL && strstr(b.data, "\"code\":\"reconnect_required\"") != NULL);
    CHECK(b.data != NULL &&
          strstr(b.data, "\"refreshTokenExpiresAt\":\"2030-04-01T00:00:00.000Z\"") != NULL);
    CHECK(b.data != NULL && strstr(b.data, "rt-version") == NULL);
    /* the recorded message is scrubbed of secret values */
    CHECK(b.data != NULL && strstr(b.data, "refused (invalid_grant) for [redacted]") != NULL);
    CHECK(b.data != NULL && strstr(b.data, "qbo-secret-0123456789") == NULL);
    eng_buf_free(&b);

    /* tokens breaking the connector's rules are refused, nothing stored */
    lua_pushvalue(L, c1);
    CHECK_INT(run(vm,
                  "local c = ...; local ok, msg, code = c.on_tokens{access_token = 'x', "
                  "access_token_expires_at = 'tomorrow'}; return tostring(ok) .. ' ' .. code",
                  1, 0, out, sizeof out),
              0);
    CHECK_STR(out, "nil bad_tokens");

    lua_settop(L, top);
    eng_vm_free(vm);
}

/* A VM notes when stored credentials enter it (eng_vm_note_secrets): a context without any
 * (nothing stored, a connector that declares none) leaves no note, so a job that never opened a
 * secret skips the full collection; one with them is noted, and eng_vm_collect_secrets frees
 * the context once nothing holds it. */
static void test_secrets_noted(void)
{
    struct eng_vm *vm = new_vm();
    lua_State *L = eng_vm_state(vm);
    struct eng_err err = {0};
    char out[256];
    int top = lua_gettop(L);

    /* lua_* directly: values built here are built inside no protected call, as in the other
     * cases of this file (a test may; the engine may not) */
    CHECK_INT(eng_vm_secrets_noted(vm), 0);
    REQUIRE(push(vm, "pos", &err) == 0);
    lua_settop(L, top);
    CHECK_INT(push(vm, "quickbooks", &err), ENG_ENOTFOUND);
    CHECK_INT(eng_vm_secrets_noted(vm), 0);

    store_qbo();
    REQUIRE(push(vm, "quickbooks", &err) == 0);
    CHECK_INT(eng_vm_secrets_noted(vm), 1);
    /* held only by a weak table: the collection takes it and forgets the note */
    lua_createtable(L, 1, 0); /* weak, below the context */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_insert(L, -2);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, 1);
    CHECK_INT(run(vm, "return (...).credentials.client_secret", 1, 0, out, sizeof out), 0);
    CHECK_STR(out, "qbo-secret-0123456789");
    CHECK_INT(lua_gettop(L), top + 1);
    eng_vm_collect_secrets(vm);
    CHECK_INT(eng_vm_secrets_noted(vm), 0);
    CHECK_INT(lua_rawgeti(L, -1, 1), LUA_TNIL);
    lua_settop(L, top);
    eng_vm_free(vm);
}

static void test_all(void)
{
    setup();
    test_shape_and_errors();
    teardown();
    setup();
    test_tokens_two_contexts();
    teardown();
    setup();
    test_secrets_noted();
    teardown();
}

CHECK_MAIN(CHECK_CASE(test_all))
