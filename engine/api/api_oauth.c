/*
 * api_oauth.c - the QuickBooks OAuth 2.0 connect flow (issue 3). GET .../quickbooks/connect
 * answers Intuit's authorization URL with a fresh random state, of which only the SHA-256 is
 * stored (oauth_states: tenant, single use, 10 minutes). GET .../quickbooks/callback is public
 * (the browser comes back from Intuit): it consumes the state in one UPDATE ... RETURNING, then a
 * worker exchanges the code with scripts/lib/quickbooks_oauth.lua and stores the tokens in the
 * vault while the connection waits suspended. The callback's path is fixed (ROUTE_CALLBACK):
 * OAUTH_REDIRECT_URI must point at it, directly or through a proxy.
 * Must not: block a server thread on Intuit; write a state, code, token or client secret
 * anywhere but the vault (no log line, answer or error message). The handlers never touch a
 * lua_State; the worker half runs on the worker that owns the VM (like dryrun.c).
 */
#include <lua.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "adapt/crypto.h"
#include "base/log.h"
#include "adapt/store.h"
#include "data/vault.h"

#define ROUTE_CALLBACK     "/api/integrations/quickbooks/callback"
#define OAUTH_PLATFORM     "quickbooks"
#define OAUTH_SCOPE        "com.intuit.quickbooks.accounting"
#define OAUTH_STATE_BYTES  32   /* random bytes of a state: 43 base64url characters */
#define OAUTH_STATE_MAXLEN 256  /* longer "states" are refused without a lookup */
#define OAUTH_CODE_MAXLEN  4096 /* Intuit's codes are ~50 characters */
#define OAUTH_TTL_SQL      "'+600 seconds'"
#define NOW_SQL            "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

/* ---- helpers ---- */

/* Append s percent-encoded (everything but RFC 3986 unreserved characters). */
static void oauth_urlenc(struct eng_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            eng_buf_putc(b, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            eng_buf_append(b, e, 3);
        }
    }
}

/* SHA-256 of the state text as 64 lowercase hex digits: the only form the store sees. */
static void oauth_state_hash(const char *state, char hex[2 * ENG_CRYPTO_SHA256_LEN + 1])
{
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    eng_crypto_sha256(state, strlen(state), d, NULL);
    eng_crypto_hex_encode(d, sizeof d, hex, 2 * ENG_CRYPTO_SHA256_LEN + 1, NULL);
    eng_crypto_wipe(d, sizeof d);
}

/* Warn once when OAUTH_REDIRECT_URI's path is not the callback route (a proxy may rewrite it,
 * so this is a warning, not an error). */
static void oauth_check_redirect_path(const char *uri)
{
    static atomic_int warned;
    const char *p = strstr(uri, "://");
    p = p != NULL ? strchr(p + 3, '/') : NULL;
    size_t n = p != NULL ? strcspn(p, "?#") : 0;
    if (p != NULL && n == strlen(ROUTE_CALLBACK) && strncmp(p, ROUTE_CALLBACK, n) == 0)
        return;
    if (atomic_exchange(&warned, 1) == 0)
        eng_log_kv(ENG_LOG_WARN, NULL, NULL,
                   "OAUTH_REDIRECT_URI does not end in the callback route: Intuit will send the "
                   "browser there, so it must reach this engine's callback",
                   (const char *const[]){"route", ROUTE_CALLBACK, NULL});
}

/* client_id of the stored credentials (the secret part when the connector declares it secret,
 * else the public part, as lib/credentials.lua splits them), read through SQLite's JSON functions
 * (the C core has no JSON parser of its own); and client_secret must be set in the secret part.
 * 1 with client_id copied into out, 0 when either is missing, < 0 on a store error. */
static int oauth_client_id(struct eng_store *st, const char *secret, size_t len, const char *pub,
                           char *out, size_t size, struct eng_err *err)
{
    static const char sql[] =
        "SELECT coalesce(CASE WHEN json_valid(?1) THEN json_extract(?1, '$.client_id') END,"
        " CASE WHEN json_valid(?2) THEN json_extract(?2, '$.client_id') END),"
        " CASE WHEN json_valid(?1) THEN json_type(?1, '$.client_secret') = 'text'"
        " AND length(json_extract(?1, '$.client_secret')) > 0 END";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, secret, len);
    if (rc == 0)
        rc = eng_store_bind_text(s, 2, pub, strlen(pub));
    if (rc == 0)
        rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW) {
        size_t n = 0;
        const char *id =
            eng_store_column_type(s, 0) == ENG_STORE_TEXT ? eng_store_column_text(s, 0, &n) : NULL;
        rc = id != NULL && n > 0 && n < size && eng_store_column_int64(s, 1) == 1;
        if (rc == 1)
            memcpy(out, id, n + 1);
    } else if (rc == ENG_STORE_DONE) {
        rc = 0;
    }
    eng_store_clear_bindings(s);
    eng_store_finalize(s);
    return rc;
}

/* Store a new state for tenant; expires (ISO-8601 UTC) receives its expiry. 0 or < 0. */
static int oauth_state_insert(struct eng_store *st, const char *hash, const char *tenant,
                              char *expires, size_t size, struct eng_err *err)
{
    /* Old rows are useless after their expiry: drop those a day past it as we go. */
    int rc = eng_store_exec(st,
                            "DELETE FROM oauth_states WHERE expires_at < strftime("
                            "'%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')",
                            err);
    static const char sql[] =
        "INSERT INTO oauth_states (state_hash, tenant_id, platform, expires_at)"
        " VALUES (?1, ?2, '" OAUTH_PLATFORM
        "', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', " OAUTH_TTL_SQL ")) RETURNING expires_at";
    struct eng_store_stmt *s = NULL;
    if (rc == 0)
        rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, hash, strlen(hash));
    if (rc == 0)
        rc = eng_store_bind_text(s, 2, tenant, strlen(tenant));
    if (rc == 0)
        rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW) {
        const char *e = eng_store_column_text(s, 0, NULL);
        snprintf(expires, size, "%s", e != NULL ? e : "");
        rc = 0;
    } else if (rc == ENG_STORE_DONE) {
        rc = eng_err_set(err, ENG_EIO, "the new OAuth state was not stored");
    }
    eng_store_finalize(s);
    return rc;
}

/* Consume a state: one statement, so two callbacks racing on one state cannot both win.
 * 1 with its tenant in tenant[65], 0 when unknown, expired or already used, < 0 on error. */
static int oauth_state_consume(struct eng_store *st, const char *hash, char tenant[65],
                               struct eng_err *err)
{
    static const char sql[] =
        "UPDATE oauth_states SET used_at = " NOW_SQL
        " WHERE state_hash = ?1 AND platform = '" OAUTH_PLATFORM
        "' AND used_at IS NULL AND expires_at > " NOW_SQL " RETURNING tenant_id";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, hash, strlen(hash));
    if (rc == 0)
        rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW) {
        size_t n = 0;
        const char *t = eng_store_column_text(s, 0, &n);
        rc = t != NULL && eng_api_id_ok(t, n);
        if (rc == 1)
            memcpy(tenant, t, n + 1);
        /* step to the end so the UPDATE is complete before the statement goes */
        if (eng_store_step(s, err) < 0)
            rc = ENG_EIO;
    } else if (rc == ENG_STORE_DONE) {
        rc = 0;
    }
    eng_store_finalize(s);
    return rc;
}

/* Give a consumed state back (the workers' queue was full: the user may simply retry). */
static void oauth_state_release(struct eng_store *st, const char *hash)
{
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    if (eng_store_prepare(st, "UPDATE oauth_states SET used_at = NULL WHERE state_hash = ?1", -1,
                          ENG_STORE_TRUSTED, &s, &err) == 0 &&
        eng_store_bind_text(s, 1, hash, strlen(hash)) == 0)
        (void)eng_store_step(s, &err);
    eng_store_finalize(s);
}

/* ---- GET /api/integrations/quickbooks/connect ---- */

int eng_api_qbo_connect(struct eng_api_ctx *c)
{
    const struct eng_config *cfg = c->api->cfg;
    if (c->api->keys == NULL || cfg->oauth_redirect_uri == NULL || cfg->quickbooks_auth_url == NULL)
        return eng_api_error(c->resp, 503, "unavailable",
                             "the vault or the QuickBooks OAuth settings are not configured", NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTP_DONE;
    oauth_check_redirect_path(cfg->oauth_redirect_uri);

    /* client_id from the stored credentials (a local decrypt: fine on this thread) */
    struct eng_err err = {0};
    char *secret = NULL, *pub = NULL;
    size_t slen = 0;
    char client_id[256] = "";
    int rc = eng_vault_get(st, c->api->keys, c->tenant, OAUTH_PLATFORM, &secret, &slen, &pub, &err);
    if (rc == 0)
        rc = oauth_client_id(st, secret, slen, pub, client_id, sizeof client_id, &err);
    eng_vault_free_secret(secret, slen);
    free(pub);
    if (rc == 0 || rc == ENG_ENOTFOUND)
        return eng_api_error(c->resp, 409, "credentials_missing",
                             "store the QuickBooks client_id and client_secret first", NULL);
    if (rc == ENG_EAUTH)
        return eng_api_error(c->resp, 409, "credentials_unreadable", err.msg, NULL);
    if (rc != 1) {
        eng_logf(ENG_LOG_ERROR, "oauth connect: cannot read the credentials: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable",
                             "cannot read the stored credentials; retry shortly", NULL);
    }

    /* the state: 32 random bytes, base64url; only its hash is stored */
    unsigned char raw[OAUTH_STATE_BYTES];
    char state[64], hash[2 * ENG_CRYPTO_SHA256_LEN + 1], expires[40] = "";
    rc = eng_crypto_random(raw, sizeof raw, &err);
    if (rc == 0)
        rc = eng_crypto_base64url_encode(raw, sizeof raw, state, sizeof state, NULL, &err);
    eng_crypto_wipe(raw, sizeof raw);
    if (rc == 0) {
        oauth_state_hash(state, hash);
        rc = oauth_state_insert(st, hash, c->tenant, expires, sizeof expires, &err);
    }
    if (rc != 0) {
        eng_crypto_wipe(state, sizeof state);
        eng_logf(ENG_LOG_ERROR, "oauth connect: cannot make a state: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable", "cannot start the connection; retry",
                             NULL);
    }

    struct eng_buf url;
    eng_buf_init(&url);
    const char *auth = cfg->quickbooks_auth_url;
    eng_buf_puts(&url, auth);
    eng_buf_putc(&url, strchr(auth, '?') != NULL ? '&' : '?');
    eng_buf_puts(&url, "client_id=");
    oauth_urlenc(&url, client_id);
    eng_buf_puts(&url, "&response_type=code&scope=");
    oauth_urlenc(&url, OAUTH_SCOPE);
    eng_buf_puts(&url, "&redirect_uri=");
    oauth_urlenc(&url, cfg->oauth_redirect_uri);
    eng_buf_puts(&url, "&state=");
    eng_buf_puts(&url, state); /* base64url needs no encoding */

    struct eng_buf *b = &c->resp->body;
    eng_buf_reset(b);
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    eng_buf_puts(b, "{\"authorizationUrl\":");
    eng_buf_json_str(b, url.data != NULL ? url.data : "", url.len);
    eng_buf_puts(b, ",\"state\":");
    eng_buf_json_str(b, state, strlen(state));
    eng_buf_puts(b, ",\"expiresAt\":");
    eng_buf_json_str(b, expires, strlen(expires));
    eng_buf_putc(b, '}');
    eng_crypto_wipe(state, sizeof state); /* (httpd sends Cache-Control: no-store) */
    int oom = url.oom;
    eng_buf_free(&url);
    if (oom || b->oom)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    eng_log_kv(ENG_LOG_INFO, c->tenant, NULL, "quickbooks oauth: connect started",
               (const char *const[]){"expires_at", expires, NULL});
    return ENG_HTTP_DONE;
}

/* ---- GET /api/integrations/quickbooks/callback: the worker half ---- */

struct oauth_task {
    struct eng_task task; /* first: the worker hands us back this pointer */
    struct eng_http_req *req;
    const struct eng_config *cfg;
    const struct eng_keyring *keys;
    char tenant[65];
    char realm_id[65];
    char *code; /* the authorization code: wiped and freed with the task */
    size_t code_len;
    /* the outcome */
    int status;     /* HTTP status of the answer */
    char ecode[40]; /* error code of the envelope ("" on success) */
    char msg[512];  /* error message: never a secret */
};

static void oauth_fail(struct oauth_task *t, int status, const char *code, const char *msg)
{
    t->status = status;
    snprintf(t->ecode, sizeof t->ecode, "%s", code);
    snprintf(t->msg, sizeof t->msg, "%.500s", msg);
}

/* Map the failure lib/quickbooks_oauth.lua returned (message, code) to the answer. */
static void oauth_script_fail(struct oauth_task *t, const char *msg, const char *code)
{
    msg = msg != NULL ? msg : "the token exchange failed";
    code = code != NULL ? code : "";
    if (strcmp(code, "no_client") == 0)
        oauth_fail(t, 409, "credentials_missing", msg);
    else if (strcmp(code, "bad_credentials") == 0)
        oauth_fail(t, 409, "credentials_invalid", msg);
    else if (strcmp(code, "timeout") == 0)
        oauth_fail(t, 504, "token_exchange_timeout", msg);
    else
        oauth_fail(t, 502, "token_exchange_failed", msg);
    eng_log_kv(ENG_LOG_WARN, t->tenant, NULL, "quickbooks oauth: token exchange failed",
               (const char *const[]){"reason", msg, "code", code, NULL});
}

/* Call lib/quickbooks_oauth.lua's callback(...) with the stored credentials; on success store
 * what it answers. The stack is left as found. */
static void oauth_exchange(struct oauth_task *t, struct eng_vm *vm, struct eng_store *st,
                           const char *secret, size_t slen, const char *pub)
{
    static const char boot[] = "return require('lib.quickbooks_oauth').callback";
    lua_State *L = eng_vm_state(vm);
    int top = lua_gettop(L);
    struct eng_err err = {0};
    if (!lua_checkstack(L, 12)) {
        oauth_fail(t, 500, "internal", "out of memory");
        return;
    }
    int rc = eng_vm_load(vm, "=quickbooks-oauth", boot, sizeof boot - 1, &err);
    if (rc == 0)
        rc = eng_vm_pcall(vm, 0, 1, &err);
    if (rc == 0 && lua_type(L, -1) != LUA_TFUNCTION)
        rc = eng_err_set(&err, ENG_ESCRIPT, "lib/quickbooks_oauth.lua has no callback function");
    const char *args[] = {secret,
                          pub,
                          t->code,
                          t->realm_id,
                          t->cfg->quickbooks_token_url,
                          t->cfg->oauth_redirect_uri};
    const size_t lens[] = {slen,
                           strlen(pub),
                           t->code_len,
                           strlen(t->realm_id),
                           strlen(t->cfg->quickbooks_token_url),
                           strlen(t->cfg->oauth_redirect_uri)};
    for (size_t i = 0; rc == 0 && i < sizeof args / sizeof args[0]; i++)
        rc = eng_vm_push_string(vm, args[i], lens[i], &err);
    if (rc == 0) {
        lua_pushinteger(L, (lua_Integer)t->cfg->connector_timeout_ms);
        rc = eng_vm_pcall_budget(vm, 7, 3, t->cfg->connector_timeout_ms, &err);
    }
    if (rc != 0) {
        lua_settop(L, top);
        eng_logf(ENG_LOG_ERROR, "quickbooks oauth: lib/quickbooks_oauth.lua failed: %s", err.msg);
        if (rc == ENG_EBUDGET)
            oauth_fail(t, 504, "token_exchange_timeout",
                       "the QuickBooks token exchange ran out of time (CONNECTOR_TIMEOUT_MS)");
        else
            oauth_fail(t, 500, "internal", "the token exchange failed inside the engine");
        return;
    }
    /* secret_json, public_json, account_id | nil, message, code */
    size_t nlen = 0;
    const char *nsecret =
        lua_type(L, top + 1) == LUA_TSTRING ? lua_tolstring(L, top + 1, &nlen) : NULL;
    const char *npub = lua_type(L, top + 2) == LUA_TSTRING ? lua_tostring(L, top + 2) : NULL;
    const char *account = lua_type(L, top + 3) == LUA_TSTRING ? lua_tostring(L, top + 3) : NULL;
    if (nsecret == NULL || npub == NULL) {
        const char *m = lua_type(L, top + 2) == LUA_TSTRING ? lua_tostring(L, top + 2) : NULL;
        const char *k = lua_type(L, top + 3) == LUA_TSTRING ? lua_tostring(L, top + 3) : NULL;
        oauth_script_fail(t, m, k);
        lua_settop(L, top);
        return;
    }
    /* realm_id (the connector's account_field) becomes the external account id: webhooks find
     * the tenant by it */
    rc = eng_vault_put(st, t->keys, t->tenant, OAUTH_PLATFORM, nsecret, nlen, npub,
                       account != NULL ? account : t->realm_id, &err);
    lua_settop(L, top);
    if (rc == 0)
        rc = eng_vault_set_status(st, t->tenant, OAUTH_PLATFORM, 1,
                                  "authorized through the QuickBooks OAuth connect flow", &err);
    if (rc != 0) {
        eng_logf(ENG_LOG_ERROR, "quickbooks oauth: cannot store the tokens: %s", err.msg);
        oauth_fail(t, 503, "unavailable",
                   "QuickBooks authorized the connection but the tokens could not be stored; "
                   "connect again");
        return;
    }
    t->status = 200;
    eng_log_kv(ENG_LOG_INFO, t->tenant, NULL, "quickbooks oauth: connected",
               (const char *const[]){"realm_id", t->realm_id, NULL});
}

static void oauth_task_run(struct eng_task *tk, struct eng_vm *vm)
{
    struct oauth_task *t = (struct oauth_task *)tk;
    if (vm == NULL) {
        oauth_fail(t, 503, "unavailable", "the engine is shutting down; connect again");
        return;
    }
    struct eng_err err = {0};
    struct eng_store *st = eng_store_thread(t->cfg->database_url, &err);
    if (st == NULL) {
        eng_logf(ENG_LOG_ERROR, "quickbooks oauth: cannot open the store: %s", err.msg);
        oauth_fail(t, 503, "unavailable", "the store is not reachable; connect again shortly");
        return;
    }
    char *secret = NULL, *pub = NULL;
    size_t slen = 0;
    int rc = eng_vault_get(st, t->keys, t->tenant, OAUTH_PLATFORM, &secret, &slen, &pub, &err);
    if (rc == ENG_ENOTFOUND) {
        oauth_fail(t, 409, "credentials_missing",
                   "store the QuickBooks client_id and client_secret first");
    } else if (rc == ENG_EAUTH) {
        oauth_fail(t, 409, "credentials_unreadable", err.msg);
    } else if (rc != 0) {
        eng_logf(ENG_LOG_ERROR, "quickbooks oauth: cannot read the credentials: %s", err.msg);
        oauth_fail(t, 503, "unavailable", "cannot read the stored credentials; connect again");
    } else {
        eng_vm_set_context(vm, t->tenant, NULL);
        oauth_exchange(t, vm, st, secret, slen, pub);
        eng_vm_set_context(vm, NULL, NULL);
    }
    eng_vault_free_secret(secret, slen);
    free(pub);
}

static void oauth_task_done(struct eng_task *tk)
{
    eng_http_resume(((struct oauth_task *)tk)->req);
}

static void oauth_task_free(void *p)
{
    struct oauth_task *t = p;
    if (t->code != NULL) {
        eng_crypto_wipe(t->code, t->code_len);
        free(t->code);
    }
    free(t);
}

/* ---- GET /api/integrations/quickbooks/callback: the server half ---- */

static int oauth_finish(struct eng_api_ctx *c, const struct oauth_task *t)
{
    if (t->status != 200)
        return eng_api_error(c->resp, t->status, t->ecode, t->msg, NULL);
    struct eng_buf *b = &c->resp->body;
    eng_buf_reset(b);
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    eng_buf_puts(b, "{\"connected\":true,\"realmId\":");
    eng_buf_json_str(b, t->realm_id, strlen(t->realm_id));
    eng_buf_putc(b, '}');
    return ENG_HTTP_DONE;
}

/* A QuickBooks company id: 1-32 digits (connectors/quickbooks.lua's realm_id rule). */
static int oauth_realm_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (r[i] < '0' || r[i] > '9')
            return 0;
    return 1;
}

/* Intuit's ?error= value reduced to a safe token for the message. */
static void oauth_error_name(const char *e, char *out, size_t size)
{
    size_t n = 0;
    for (; e[n] != '\0' && n + 1 < size && n < 64; n++) {
        char ch = e[n];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '-' || ch == '.';
        out[n] = ch;
        if (!ok)
            out[n] = '?';
    }
    out[n] = '\0';
}

int eng_api_qbo_callback(struct eng_api_ctx *c)
{
    struct oauth_task *t = eng_http_state(c->req);
    if (t != NULL) /* resumed: the worker is done */
        return oauth_finish(c, t);
    /* A HEAD (link checkers, prefetchers) must not burn the user's state. */
    if (strcmp(eng_http_method(c->req), "GET") != 0) {
        eng_http_resp_header(c->resp, "Allow", "GET");
        return eng_api_error(c->resp, 405, "method_not_allowed", "the callback answers GET only",
                             NULL);
    }
    const struct eng_config *cfg = c->api->cfg;
    if (c->api->keys == NULL || cfg->oauth_redirect_uri == NULL ||
        cfg->quickbooks_token_url == NULL)
        return eng_api_error(c->resp, 503, "unavailable",
                             "the vault or the QuickBooks OAuth settings are not configured", NULL);

    const char *state = eng_http_query(c->req, "state");
    const char *error = eng_http_query(c->req, "error");
    const char *code = eng_http_query(c->req, "code");
    const char *realm = eng_http_query(c->req, "realmId");
    size_t slen = state != NULL ? strlen(state) : 0;
    if (slen == 0 || slen > OAUTH_STATE_MAXLEN)
        return eng_api_error(c->resp, 400, "invalid_state",
                             "the callback has no valid state: start again with GET "
                             "/api/integrations/quickbooks/connect",
                             NULL);
    if (error == NULL && (code == NULL || *code == '\0' || realm == NULL || *realm == '\0'))
        return eng_api_error(c->resp, 400, "missing_parameter",
                             "the callback needs code and realmId (as QuickBooks sends them)",
                             NULL);
    if (error == NULL && (strlen(code) > OAUTH_CODE_MAXLEN || !oauth_realm_ok(realm)))
        return eng_api_error(c->resp, 400, "invalid_parameter",
                             "realmId must be a QuickBooks company id (1-32 digits) and code at "
                             "most 4096 characters",
                             NULL);

    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTP_DONE;
    struct eng_err err = {0};
    char hash[2 * ENG_CRYPTO_SHA256_LEN + 1], tenant[65];
    oauth_state_hash(state, hash);
    int rc = oauth_state_consume(st, hash, tenant, &err);
    if (rc < 0) {
        eng_logf(ENG_LOG_ERROR, "quickbooks oauth: cannot check the state: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable", "cannot check the state; retry shortly",
                             NULL);
    }
    if (error != NULL) { /* the user said no (the state, if valid, is used up all the same) */
        char name[72], msg[160];
        oauth_error_name(error, name, sizeof name);
        snprintf(msg, sizeof msg, "QuickBooks did not authorize the connection (%s)",
                 name[0] != '\0' ? name : "no reason given");
        if (rc == 1)
            eng_log_kv(ENG_LOG_INFO, tenant, NULL, "quickbooks oauth: authorization refused",
                       (const char *const[]){"error", name, NULL});
        return eng_api_error(c->resp, 400, "authorization_denied", msg, NULL);
    }
    if (rc == 0)
        return eng_api_error(c->resp, 400, "invalid_state",
                             "unknown, expired or already used state: start again with GET "
                             "/api/integrations/quickbooks/connect",
                             NULL);

    t = calloc(1, sizeof *t);
    size_t clen = strlen(code);
    char *copy = t != NULL ? malloc(clen + 1) : NULL;
    if (copy == NULL) {
        free(t);
        oauth_state_release(st, hash);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    memcpy(copy, code, clen + 1);
    t->task.run = oauth_task_run;
    t->task.done = oauth_task_done;
    t->req = c->req;
    t->cfg = cfg;
    t->keys = c->api->keys;
    t->code = copy;
    t->code_len = clen;
    memcpy(t->tenant, tenant, sizeof t->tenant);
    snprintf(t->realm_id, sizeof t->realm_id, "%s", realm);
    eng_http_set_state(c->req, t, oauth_task_free);
    if (eng_workers_submit(c->api->workers, &t->task) != 0) {
        oauth_state_release(st, hash); /* nothing was exchanged: the same link may be retried */
        eng_http_resp_header(c->resp, "Retry-After", "1");
        return eng_api_error(c->resp, 503, "busy", "the workers' queue is full; retry shortly",
                             NULL);
    }
    return ENG_HTTP_PENDING;
}
