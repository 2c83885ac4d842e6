/*
 * test_realm_owners.c - data/realm_owners.c: a realm belongs to the one tenant that proved it;
 * a second tenant's claim is refused while the first is live (its active credentials still name
 * the realm) and succeeds once it is stale; a claim is written only for the very credentials it
 * proved (store_version); a typed realm alone owns nothing.
 */
#include "check.h"
#include "adapt/store.h"
#include "data/realm_owners.h"

#include <stdio.h>
#include <string.h>

#define STORE_FIXTURE_NAME "test_realm_owners"
#include "store_fixture.h"

#define QBO "quickbooks"

/* A credentials row for tenant naming realm (the vault's sealing is not what is tested here). */
static void row(struct eng_store *st, const char *tenant, const char *realm)
{
    struct eng_err err = {0};
    int rc = eng_store_run(
        st,
        "INSERT INTO integration_credentials (tenant_id, platform, ciphertext, "
        "key_id, external_account_id) VALUES (?1, 'quickbooks', x'00', 'k', ?2) "
        "ON CONFLICT (tenant_id, platform) DO UPDATE SET external_account_id = "
        "excluded.external_account_id, store_version = integration_credentials.store_version + 1",
        &err, "ss", tenant, realm);
    REQUIRE(rc == 1);
}

static const char *owner(struct eng_store *st, const char *realm)
{
    static char t[ENG_REALM_MAX + 1];
    struct eng_err err = {0};
    int rc = eng_realm_owner(st, QBO, realm, t, sizeof t, &err);
    return rc == 1 ? t : rc == 0 ? "" : "ERROR";
}

static void test_claims(void)
{
    struct eng_store *st = fresh_store();
    struct eng_err err = {0};
    char realm[ENG_REALM_MAX + 1];
    int64_t v = -1;

    /* a typed realm owns nothing */
    row(st, "shop-a", "111");
    CHECK_STR(owner(st, "111"), "");
    CHECK_INT(eng_realm_verified(st, QBO, "shop-a", &err), 0);
    CHECK_INT(eng_realm_stored(st, QBO, "shop-a", realm, sizeof realm, &v, &err), 1);
    CHECK_STR(realm, "111");

    /* proven: shop-a owns it; proving again is harmless */
    CHECK_INT(eng_realm_claim(st, QBO, "111", "shop-a", ENG_REALM_BY_OAUTH, -1, &err), 0);
    CHECK_INT(eng_realm_claim(st, QBO, "111", "shop-a", ENG_REALM_BY_TEST, v, &err), 0);
    CHECK_STR(owner(st, "111"), "shop-a");
    CHECK_INT(eng_realm_verified(st, QBO, "shop-a", &err), 1);

    /* shop-b types shop-a's realm: routing does not move, and b's proof is refused */
    row(st, "shop-b", "111");
    CHECK_STR(owner(st, "111"), "shop-a");
    CHECK_INT(eng_realm_verified(st, QBO, "shop-b", &err), 0);
    CHECK_INT(eng_realm_claim(st, QBO, "111", "shop-b", ENG_REALM_BY_OAUTH, -1, &err), ENG_EEXIST);
    CHECK(strstr(err.msg, "another tenant") != NULL && strstr(err.msg, "shop-a") == NULL);
    CHECK_STR(owner(st, "111"), "shop-a");

    /* a proof for credentials that were stored again meanwhile is not written */
    row(st, "shop-c", "333");
    CHECK_INT(eng_realm_stored(st, QBO, "shop-c", realm, sizeof realm, &v, &err), 1);
    row(st, "shop-c", "333"); /* stored again: store_version moves */
    CHECK_INT(eng_realm_claim(st, QBO, "333", "shop-c", ENG_REALM_BY_TEST, v, &err), ENG_ENOTFOUND);
    CHECK_STR(owner(st, "333"), "");
    /* ... nor one for a realm the row does not name */
    CHECK_INT(eng_realm_claim(st, QBO, "444", "shop-c", ENG_REALM_BY_OAUTH, -1, &err),
              ENG_ENOTFOUND);

    /* a tenant owns one realm: moving to another company drops the old claim */
    row(st, "shop-a", "222");
    CHECK_STR(owner(st, "111"), ""); /* stale: shop-a's row no longer names 111 */
    CHECK_INT(eng_realm_claim(st, QBO, "222", "shop-a", ENG_REALM_BY_OAUTH, -1, &err), 0);
    CHECK_STR(owner(st, "222"), "shop-a");

    /* the stale claim on 111 gives way to shop-b's proof */
    CHECK_INT(eng_realm_claim(st, QBO, "111", "shop-b", ENG_REALM_BY_TEST, -1, &err), 0);
    CHECK_STR(owner(st, "111"), "shop-b");
    CHECK_INT(eng_realm_verified(st, QBO, "shop-b", &err), 1);

    /* the table itself refuses two owners of one realm */
    CHECK(eng_store_run(st,
                        "INSERT INTO realm_owners (platform, realm_id, tenant_id, verified_by) "
                        "VALUES ('quickbooks', '111', 'shop-z', 'oauth_callback')",
                        &err, "") < 0);
    CHECK_INT(eng_realm_claim(st, QBO, "", "shop-b", ENG_REALM_BY_TEST, -1, &err), ENG_EINVAL);
    done(st);
}

CHECK_MAIN(CHECK_CASE(test_claims))
