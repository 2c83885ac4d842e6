/*
 * oauth.c - the flow side of the QuickBooks OAuth connect (oauth.h): the client_id read from
 * the vault's row, and the exchange through lib/quickbooks_oauth.lua's callback (eng_vm_call,
 * under CONNECTOR_TIMEOUT_MS) whose tokens are sealed into the vault.
 * Owns: the decrypted credentials and the tokens for the length of a call (wiped after).
 * Must not: include a Lua header; log or return a code, token or client secret.
 */
#include "flow/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "data/realm_owners.h"
#include "data/vault.h"
#include "lua/vm.h"

/* client_id from the secret part, else the public part (as lib/credentials.lua splits them),
 * read through SQLite's JSON functions; and client_secret must be set in the secret part. */
static int oauth_pick_client_id(struct eng_store *st, const char *secret, size_t len,
                                const char *pub, char *out, size_t size, struct eng_err *err)
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
        rc = eng_store_bind_str(s, 2, pub);
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

int eng_oauth_client_id(struct eng_store *st, const struct eng_keyring *keys, const char *tenant,
                        char *out, size_t size, struct eng_err *err)
{
    char *secret = NULL, *pub = NULL;
    size_t slen = 0;
    int rc = eng_vault_get(st, keys, tenant, ENG_OAUTH_PLATFORM, &secret, &slen, &pub, err);
    if (rc == 0)
        rc = oauth_pick_client_id(st, secret, slen, pub, out, size, err);
    eng_vault_free_secret(secret, slen);
    free(pub);
    return rc == ENG_ENOTFOUND ? 0 : rc;
}

static int oauth_fail(struct eng_oauth_result *r, int rc, enum eng_oauth_stage stage,
                      const char *reason, const char *message)
{
    r->stage = stage;
    snprintf(r->reason, sizeof r->reason, "%s", reason != NULL ? reason : "");
    snprintf(r->message, sizeof r->message, "%.500s", message);
    return rc;
}

/* The refusal of a realm another tenant owns (its name is not the caller's to see). */
static int oauth_realm_owned(struct eng_oauth_result *r, const char *realm)
{
    char msg[300];
    snprintf(msg, sizeof msg,
             "QuickBooks company %.40s is already connected to another tenant of this engine; a "
             "company belongs to one tenant only: disconnect it there first (DELETE "
             "/api/integrations/quickbooks/credentials as that tenant)",
             realm);
    return oauth_fail(r, ENG_EEXIST, ENG_OAUTH_REALM_OWNED, "realm_owned", msg);
}

/* Call callback(secret_json, public_json, code, realm_id, token_url, redirect_uri,
 * timeout_ms) -> secret_json, public_json, account_id | nil, message, code; store on success. */
static int oauth_call(struct eng_vm *vm, const struct eng_config *cfg,
                      const struct eng_keyring *keys, struct eng_store *st, const char *tenant,
                      const char *realm_id, const char *code, size_t code_len, const char *secret,
                      size_t slen, const char *pub, struct eng_oauth_result *r)
{
    struct eng_err err = {0};
    char *nsecret = NULL, *r2 = NULL, *r3 = NULL;
    size_t nlen = 0;
    int rc = eng_vm_call(vm, "lib.quickbooks_oauth", "callback", cfg->connector_timeout_ms, &err,
                         "SsSsssi>Sss", secret, slen, pub, code, code_len, realm_id,
                         cfg->quickbooks_token_url, cfg->oauth_redirect_uri,
                         (long long)cfg->connector_timeout_ms, &nsecret, &nlen, &r2, &r3);
    if (rc != 0) {
        eng_logf(ENG_LOG_ERROR, "quickbooks oauth: lib/quickbooks_oauth.lua failed: %s", err.msg);
        if (rc == ENG_EBUDGET)
            return oauth_fail(
                r, rc, ENG_OAUTH_ENGINE, NULL,
                "the QuickBooks token exchange ran out of time (CONNECTOR_TIMEOUT_MS)");
        return oauth_fail(r, rc, ENG_OAUTH_ENGINE, NULL,
                          "the token exchange failed inside the engine");
    }
    if (nsecret == NULL || r2 == NULL) { /* nil, message, code */
        const char *msg = nsecret == NULL && r2 != NULL ? r2 : "the token exchange failed";
        const char *k = nsecret == NULL && r3 != NULL ? r3 : "";
        oauth_fail(r, ENG_EAUTH, ENG_OAUTH_REFUSED, k, msg);
        eng_log_kv(ENG_LOG_WARN, tenant, NULL, "quickbooks oauth: token exchange failed",
                   (const char *const[]){"reason", msg, "code", k, NULL});
        rc = ENG_EAUTH;
    } else {
        /* realm_id (the connector's account_field) becomes the external account id, and the
         * realm this callback proved becomes the tenant's, in one transaction: webhooks find the
         * tenant by it, and a realm another tenant owns refuses the whole store */
        const char *acct = r3 != NULL ? r3 : realm_id;
        rc = eng_store_exec(st, ENG_STORE_BEGIN_WRITE, &err);
        int in_tx = rc == 0;
        if (rc == 0)
            rc = eng_vault_put(st, keys, tenant, ENG_OAUTH_PLATFORM, nsecret, nlen, r2, acct, &err);
        if (rc == 0)
            rc =
                eng_realm_claim(st, ENG_OAUTH_PLATFORM, acct, tenant, ENG_REALM_BY_OAUTH, -1, &err);
        if (rc == 0)
            rc = eng_vault_set_status(st, tenant, ENG_OAUTH_PLATFORM, 1,
                                      "authorized through the QuickBooks OAuth connect flow", &err);
        if (rc == 0 && in_tx)
            rc = eng_store_exec(st, "COMMIT", &err);
        if (rc != 0 && in_tx && eng_store_in_tx(st))
            eng_store_exec(st, "ROLLBACK", NULL);
        if (rc == ENG_EEXIST) {
            oauth_realm_owned(r, acct);
            eng_log_kv(ENG_LOG_WARN, tenant, NULL,
                       "quickbooks oauth: refused, the realm is another tenant's",
                       (const char *const[]){"realm_id", acct, NULL});
        } else if (rc != 0) {
            eng_logf(ENG_LOG_ERROR, "quickbooks oauth: cannot store the tokens: %s", err.msg);
            oauth_fail(r, rc, ENG_OAUTH_STORING, NULL,
                       "QuickBooks authorized the connection but the tokens could not be "
                       "stored; connect again");
        }
    }
    eng_vault_free_secret(nsecret, nlen);
    free(r2);
    free(r3);
    return rc;
}

int eng_oauth_exchange(struct eng_vm *vm, const struct eng_config *cfg,
                       const struct eng_keyring *keys, struct eng_store *st, const char *tenant,
                       const char *realm_id, const char *code, size_t code_len,
                       struct eng_oauth_result *r)
{
    memset(r, 0, sizeof *r);
    struct eng_err err = {0};
    char *secret = NULL, *pub = NULL;
    size_t slen = 0;
    int rc = eng_vault_get(st, keys, tenant, ENG_OAUTH_PLATFORM, &secret, &slen, &pub, &err);
    if (rc == ENG_ENOTFOUND) {
        oauth_fail(r, rc, ENG_OAUTH_CREDENTIALS, NULL,
                   "store the QuickBooks client_id and client_secret first");
    } else if (rc == ENG_EAUTH) {
        oauth_fail(r, rc, ENG_OAUTH_CREDENTIALS, NULL, err.msg); /* names the key id */
    } else if (rc != 0) {
        eng_logf(ENG_LOG_ERROR, "quickbooks oauth: cannot read the credentials: %s", err.msg);
        oauth_fail(r, rc, ENG_OAUTH_CREDENTIALS, NULL,
                   "cannot read the stored credentials; connect again");
    } else {
        /* a realm another tenant owns is refused before Intuit is asked (and again, atomically,
         * when the tokens are stored) */
        char owner[ENG_REALM_MAX + 1];
        rc = eng_realm_owner(st, ENG_OAUTH_PLATFORM, realm_id, owner, sizeof owner, &err);
        if (rc < 0) {
            eng_logf(ENG_LOG_ERROR, "quickbooks oauth: cannot read the realm's owner: %s", err.msg);
            oauth_fail(r, rc, ENG_OAUTH_STORING, NULL,
                       "cannot check who owns the QuickBooks company; connect again");
        } else if (rc == 1 && strcmp(owner, tenant) != 0) {
            rc = oauth_realm_owned(r, realm_id);
            eng_log_kv(ENG_LOG_WARN, tenant, NULL,
                       "quickbooks oauth: refused, the realm is another tenant's",
                       (const char *const[]){"realm_id", realm_id, NULL});
        } else {
            rc = oauth_call(vm, cfg, keys, st, tenant, realm_id, code, code_len, secret, slen, pub,
                            r);
        }
        eng_vm_collect(vm); /* free the strings that held secrets now */
    }
    eng_vault_free_secret(secret, slen);
    free(pub);
    if (rc == 0)
        eng_log_kv(ENG_LOG_INFO, tenant, NULL, "quickbooks oauth: connected",
                   (const char *const[]){"realm_id", realm_id, NULL});
    return rc;
}

void eng_oauth_realm_before_test(struct eng_store *st, const char *tenant, const char *platform,
                                 struct eng_oauth_realm_proof *p)
{
    memset(p, 0, sizeof *p);
    struct eng_err err = {0};
    if (strcmp(platform, ENG_OAUTH_PLATFORM) == 0 &&
        eng_realm_stored(st, platform, tenant, p->realm, sizeof p->realm, &p->version, &err) == 1)
        p->have = 1;
}

void eng_oauth_realm_after_test(struct eng_store *st, const char *tenant,
                                const struct eng_oauth_realm_proof *p, int ok, char *message,
                                size_t size)
{
    if (!ok || !p->have)
        return;
    struct eng_err err = {0};
    int rc = eng_realm_claim(st, ENG_OAUTH_PLATFORM, p->realm, tenant, ENG_REALM_BY_TEST,
                             p->version, &err);
    if (rc == 0)
        return;
    if (rc == ENG_EEXIST) {
        size_t n = strlen(message);
        snprintf(message + n, size - n,
                 " (but QuickBooks company %.40s is already connected to another tenant of this "
                 "engine: its webhooks are not routed here)",
                 p->realm);
        eng_log_kv(ENG_LOG_WARN, tenant, NULL,
                   "quickbooks: a passed test cannot claim a realm another tenant owns",
                   (const char *const[]){"realm_id", p->realm, NULL});
    } else if (rc == ENG_ENOTFOUND) {
        eng_log_kv(ENG_LOG_INFO, tenant, NULL,
                   "quickbooks: the credentials changed during the test; the realm is not proven",
                   (const char *const[]){"realm_id", p->realm, NULL});
    } else {
        eng_logf(ENG_LOG_ERROR, "quickbooks: cannot record the realm a test proved: %s", err.msg);
    }
}
