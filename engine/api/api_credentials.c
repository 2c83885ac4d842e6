/*
 * api_credentials.c - the credentials status as the API shows it (api.h:
 * eng_api_credentials_status): data/vault_status.h's structs rendered as camelCase JSON, with
 * the warnings' sentences and the routes they point at.
 * Owns: nothing past a call. Must not: show a secret (the status holds none) or a key.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "data/realm_owners.h"
#include "data/vault.h"
#include "data/vault_status.h"

/* One warning object, after a comma when it is not the first. */
static void cs_warning(struct eng_buf *out, int *n, const char *code, const char *msg,
                       const char *expires_at)
{
    if ((*n)++ > 0)
        eng_buf_putc(out, ',');
    eng_buf_puts(out, "{\"code\":");
    eng_buf_json_str(out, code, strlen(code));
    eng_buf_puts(out, ",\"message\":");
    eng_buf_json_str(out, msg, strlen(msg));
    if (expires_at != NULL) {
        eng_buf_puts(out, ",\"expiresAt\":");
        eng_buf_json_str(out, expires_at, strlen(expires_at));
    }
    eng_buf_putc(out, '}');
}

/* The warnings: a key id the keyring lacks, a refused refresh token (connect again), what the
 * last passed test warned about, a refresh token past or near its expiry. */
static void cs_warnings(struct eng_buf *out, const struct eng_vault_status *s,
                        const struct eng_keyring *kr)
{
    const char *platform = s->platform != NULL ? s->platform : "";
    char msg[512];
    int n = 0;
    if (s->key_unknown && kr != NULL) {
        snprintf(msg, sizeof msg,
                 "the stored %.64s credentials are sealed under key id %.32s, which is neither "
                 "INTEGRATION_ENCRYPTION_KEY (key id %s) nor one of "
                 "INTEGRATION_ENCRYPTION_KEY_PREVIOUS: nothing can use them until the engine "
                 "starts with that key, or they are stored again",
                 platform, s->key_id, eng_keyring_current_id(kr));
        cs_warning(out, &n, "key_mismatch", msg, NULL);
    }
    if (s->status != NULL && strcmp(s->status, "expired") == 0) {
        snprintf(msg, sizeof msg,
                 "%.64s refused the stored refresh token: connect again "
                 "(GET /api/integrations/%.64s/connect)",
                 platform, platform);
        cs_warning(out, &n, "reconnect_required", msg, NULL);
    }
    if (s->test_warning_code != NULL && s->test_warning_text != NULL)
        cs_warning(out, &n, s->test_warning_code, s->test_warning_text, NULL);
    if (!s->refresh_days_known || s->refresh_days >= ENG_VAULT_REFRESH_WARN_DAYS)
        return;
    const char *rt = s->refresh_expires_at;
    if (s->refresh_days < 0) {
        snprintf(msg, sizeof msg,
                 "the %.64s refresh token expired at %.40s: syncing stops until you connect "
                 "again (GET /api/integrations/%.64s/connect)",
                 platform, rt, platform);
    } else {
        int whole = (int)s->refresh_days;
        snprintf(msg, sizeof msg,
                 "the %.64s refresh token expires at %.40s (in %d day%s): connect again before "
                 "then (GET /api/integrations/%.64s/connect)",
                 platform, rt, whole, whole == 1 ? "" : "s", platform);
    }
    cs_warning(out, &n, s->refresh_days < 0 ? "refresh_token_expired" : "refresh_token_expiring",
               msg, rt);
}

void eng_api_credentials_status_json(struct eng_buf *out, const struct eng_vault_status *s,
                                     const struct eng_keyring *kr)
{
    eng_api_json_member(out, "{\"platform\":", s->platform);
    eng_buf_puts(out, s->configured ? ",\"configured\":true" : ",\"configured\":false");
    eng_api_json_member(out, ",\"keyId\":", s->key_id);
    eng_api_json_member(out, ",\"account\":", s->account);
    eng_api_json_member(out, ",\"status\":", s->status);
    eng_api_json_member(out, ",\"lastTestAt\":", s->last_test_at);
    eng_buf_puts(out, ",\"lastTestOk\":");
    eng_buf_puts(out, s->last_test_ok < 0 ? "null" : s->last_test_ok ? "true" : "false");
    eng_api_json_member(out, ",\"lastTestMessage\":", s->last_test_message);
    eng_api_json_member(out, ",\"updatedAt\":", s->updated_at);
    eng_buf_puts(out, ",\"fields\":");
    eng_buf_puts(out, s->fields != NULL ? s->fields : "{}");
    eng_api_json_member(out, ",\"accessTokenExpiresAt\":", s->access_expires_at);
    eng_api_json_member(out, ",\"refreshTokenExpiresAt\":", s->refresh_expires_at);
    eng_buf_puts(out, ",\"warnings\":[");
    cs_warnings(out, s, kr);
    eng_buf_puts(out, "]}");
}

/* One status object, with realmVerified for QuickBooks: whether the tenant owns the company its
 * credentials name (data/realm_owners.h), i.e. whether that company's webhooks reach it. */
static void cs_status(struct eng_buf *out, struct eng_store *st, const char *tenant,
                      const struct eng_vault_status *s, const struct eng_keyring *kr)
{
    size_t start = out->len;
    eng_api_credentials_status_json(out, s, kr);
    if (!s->configured || s->platform == NULL || strcmp(s->platform, "quickbooks") != 0 ||
        out->oom || out->len <= start || out->data[out->len - 1] != '}')
        return;
    int v = eng_realm_verified(st, s->platform, tenant, NULL);
    out->len--;
    eng_buf_puts(out, v == 1 ? ",\"realmVerified\":true}" : ",\"realmVerified\":false}");
}

int eng_api_credentials_status(struct eng_store *st, const struct eng_keyring *kr,
                               const char *tenant, const char *platform, struct eng_buf *out,
                               struct eng_err *err)
{
    size_t start = out->len;
    int rc;
    if (platform != NULL) {
        struct eng_vault_status s;
        rc = eng_vault_status_get(st, kr, tenant, platform, &s, err);
        if (rc == 0)
            cs_status(out, st, tenant, &s, kr);
        eng_vault_status_free(&s);
    } else {
        struct eng_vault_status *rows = NULL;
        size_t n = 0;
        rc = eng_vault_status_list(st, kr, tenant, &rows, &n, err);
        if (rc == 0) {
            eng_buf_putc(out, '[');
            for (size_t i = 0; i < n; i++) {
                if (i > 0)
                    eng_buf_putc(out, ',');
                cs_status(out, st, tenant, &rows[i], kr);
            }
            eng_buf_putc(out, ']');
        }
        eng_vault_status_list_free(rows, n);
    }
    if (rc == 0 && out->oom)
        rc = eng_err_set(err, ENG_ENOMEM, "out of memory writing the credentials status");
    if (rc != 0 && !out->oom) {
        out->len = start;
        if (out->data != NULL)
            out->data[start] = '\0';
    }
    return rc;
}
