/*
 * realm_owners.c - every SQL statement on the realm_owners table (realm_owners.h).
 * Owns: nothing past a call. Must not: name a tenant in an error message.
 */
#include "data/realm_owners.h"

#include <stdio.h>
#include <string.h>

/* The claim's owner still names the realm in an active credentials row: the claim is live. */
#define REALM_LIVE(o)                                                                              \
    "EXISTS (SELECT 1 FROM integration_credentials c WHERE c.tenant_id = " o ".tenant_id AND "     \
    "c.platform = " o ".platform AND c.is_active = 1 AND c.external_account_id = " o ".realm_id)"

int eng_realm_owner_with(struct eng_store *st, struct eng_store_stmt **slot, const char *platform,
                         const char *realm, char *tenant, size_t size, struct eng_err *err)
{
    static const char sql[] = "SELECT o.tenant_id FROM realm_owners o WHERE o.platform = ?1 AND "
                              "o.realm_id = ?2 AND " REALM_LIVE("o");
    tenant[0] = '\0';
    int rc = eng_store_row_kept(st, sql, slot, err, "ss", platform, realm);
    struct eng_store_stmt *s = *slot;
    if (rc == ENG_STORE_ROW)
        rc = eng_store_column_copy(s, 0, tenant, size) == 1 ? 1 : 0;
    if (rc != 1)
        tenant[0] = '\0';
    if (s != NULL)
        eng_store_reset(s);
    return rc;
}

int eng_realm_owner(struct eng_store *st, const char *platform, const char *realm, char *tenant,
                    size_t size, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_realm_owner_with(st, &s, platform, realm, tenant, size, err);
    eng_store_finalize(s);
    return rc;
}

int eng_realm_stored(struct eng_store *st, const char *platform, const char *tenant, char *realm,
                     size_t size, int64_t *version, struct eng_err *err)
{
    static const char sql[] =
        "SELECT external_account_id, store_version FROM integration_credentials WHERE "
        "tenant_id = ?1 AND platform = ?2 AND is_active = 1 AND external_account_id IS NOT NULL "
        "AND external_account_id <> ''";
    realm[0] = '\0';
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "ss", tenant, platform);
    if (rc == ENG_STORE_ROW) {
        rc = eng_store_column_copy(s, 0, realm, size) == 1 ? 1 : 0;
        if (version != NULL)
            *version = eng_store_column_int64(s, 1);
    }
    if (rc != 1)
        realm[0] = '\0';
    eng_store_finalize(s);
    return rc;
}

/* The claim's statements, inside the savepoint. */
static int realm_claim_in(struct eng_store *st, const char *platform, const char *realm,
                          const char *tenant, const char *how, int64_t version, struct eng_err *err)
{
    /* the credentials being proven are still the tenant's active ones */
    static const char mine[] =
        "SELECT 1 FROM integration_credentials WHERE tenant_id = ?1 AND platform = ?2 AND "
        "is_active = 1 AND external_account_id = ?3 AND (?4 < 0 OR store_version = ?4)";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, mine, &s, err, "sssi", tenant, platform, realm, version);
    eng_store_finalize(s);
    if (rc == ENG_STORE_DONE)
        return eng_err_set(err, ENG_ENOTFOUND,
                           "the stored %.32s credentials changed while they were being proven: "
                           "prove them again",
                           platform);
    if (rc < 0)
        return rc;
    /* stale claims give way: another tenant's on this realm, this tenant's on another one */
    static const char drop[] =
        "DELETE FROM realm_owners WHERE platform = ?1 AND ((realm_id = ?2 AND tenant_id <> ?3 "
        "AND NOT " REALM_LIVE("realm_owners") ") OR (tenant_id = ?3 AND realm_id <> ?2))";
    rc = eng_store_run(st, drop, err, "sss", platform, realm, tenant);
    if (rc < 0)
        return rc;
    static const char claim[] =
        "INSERT INTO realm_owners (platform, realm_id, tenant_id, verified_by) VALUES (?1, ?2, "
        "?3, ?4)" ENG_STORE_UPSERT(
            "platform, realm_id") " verified_by = excluded.verified_by, "
                                  "verified_at = " ENG_STORE_NOW
                                  " WHERE realm_owners.tenant_id = excluded.tenant_id";
    rc = eng_store_run(st, claim, err, "ssss", platform, realm, tenant, how);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return eng_err_set(err, ENG_EEXIST,
                           "%.32s company %.40s is already connected to another tenant of this "
                           "engine",
                           platform, realm);
    return 0;
}

int eng_realm_claim(struct eng_store *st, const char *platform, const char *realm,
                    const char *tenant, const char *how, int64_t version, struct eng_err *err)
{
    if (platform == NULL || *platform == '\0' || realm == NULL || *realm == '\0' ||
        tenant == NULL || *tenant == '\0' || how == NULL)
        return eng_err_set(err, ENG_EINVAL, "a realm claim needs a platform, realm and tenant");
    int rc = eng_store_exec(st, "SAVEPOINT realm_claim", err);
    if (rc != 0)
        return rc;
    rc = realm_claim_in(st, platform, realm, tenant, how, version, err);
    if (rc != 0)
        eng_store_exec(st, "ROLLBACK TO realm_claim", NULL);
    int rel = eng_store_exec(st, "RELEASE realm_claim", rc == 0 ? err : NULL);
    return rc != 0 ? rc : rel;
}

int eng_realm_verified(struct eng_store *st, const char *platform, const char *tenant,
                       struct eng_err *err)
{
    static const char sql[] =
        "SELECT 1 FROM realm_owners o JOIN integration_credentials c ON c.tenant_id = o.tenant_id "
        "AND c.platform = o.platform AND c.is_active = 1 AND c.external_account_id = o.realm_id "
        "WHERE o.platform = ?1 AND o.tenant_id = ?2";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, "ss", platform, tenant);
    eng_store_finalize(s);
    return rc == ENG_STORE_ROW ? 1 : rc;
}
