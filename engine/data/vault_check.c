/*
 * vault_check.c - does the configured keyring open what the vault holds? One row per stored key
 * id is opened (every tenant), so a wrong INTEGRATION_ENCRYPTION_KEY shows at start and in
 * GET /ready instead of at the first run. Owns nothing past a call. Must not: name a key (only
 * key ids, which reveal nothing) or keep a plaintext: each opened secret is wiped at once.
 */
#include <stdio.h>
#include <string.h>

#include "data/vault.h"

int eng_vault_check_keys(struct eng_store *st, const struct eng_keyring *kr, char *msg, size_t size,
                         struct eng_err *err)
{
    msg[0] = '\0';
    struct eng_store_stmt *s = NULL;
    /* the row with the smallest id stands for its key id */
    int rc = eng_store_row(st,
                           "SELECT c.key_id, c.tenant_id, c.platform, g.n, g.first FROM"
                           " (SELECT key_id, COUNT(*) AS n, MIN(id) AS first"
                           " FROM integration_credentials WHERE is_active = 1 GROUP BY key_id) AS g"
                           " JOIN integration_credentials c ON c.id = g.first ORDER BY c.key_id",
                           &s, err, "");
    size_t used = 0;
    int bad = 0;
    for (; rc == ENG_STORE_ROW; rc = eng_store_step(s, err)) {
        const char *kid = eng_store_column_text(s, 0, NULL);
        const char *tenant = eng_store_column_text(s, 1, NULL);
        const char *platform = eng_store_column_text(s, 2, NULL);
        long long rows = (long long)eng_store_column_int64(s, 3);
        if (kid == NULL || tenant == NULL || platform == NULL)
            continue;
        const char *why = NULL;
        if (!eng_keyring_has(kr, kid)) {
            why = "which is neither INTEGRATION_ENCRYPTION_KEY nor one of "
                  "INTEGRATION_ENCRYPTION_KEY_PREVIOUS";
        } else {
            char *secret = NULL;
            size_t len = 0;
            struct eng_err gerr = {0};
            int g = eng_vault_get(st, kr, tenant, platform, &secret, &len, NULL, &gerr);
            eng_vault_free_secret(secret, len);
            if (g == ENG_EAUTH)
                why = "a configured key, which does not open them (a damaged row?)";
            else if (g != 0 && g != ENG_ENOTFOUND) {
                rc = eng_err_set(err, g, "%s", gerr.msg);
                break;
            }
        }
        if (why == NULL)
            continue;
        int n = snprintf(
            msg + used, size - used,
            "%s%lld stored credential%s (e.g. %.64s for tenant %.64s) sealed under key "
            "id %.32s, %s",
            bad > 0 ? "; " : "", rows, rows == 1 ? " is" : "s are", platform, tenant, kid, why);
        if (n > 0)
            used = (size_t)n < size - used ? used + (size_t)n : size - 1;
        bad++;
    }
    eng_store_finalize(s);
    if (rc < 0)
        return rc;
    if (bad > 0 && used + 1 < size)
        snprintf(msg + used, size - used,
                 ": start with the key they were sealed with (an older one may go in "
                 "INTEGRATION_ENCRYPTION_KEY_PREVIOUS), or store those credentials again");
    return bad > 0;
}
