/*
 * realm_owners.h - which tenant owns a QuickBooks company (table realm_owners, schema 0008):
 * the one tenant a webhook naming that realm is routed to. A tenant owns a realm only after
 * proving it (the OAuth callback Intuit sent with that realmId, or a connection test that
 * passed against that company with the tenant's own tokens); a realm id typed into stored
 * credentials proves nothing. Two tenants never both own one realm (the table's key): a second
 * claim is refused while the first is live, i.e. while the owner's active credentials row
 * still names the realm. The one owner of every SQL statement on realm_owners; it reads
 * integration_credentials (the vault's table) only to tell a live claim from a stale one.
 * Owns: nothing past a call. Must not: name a tenant in an error (callers show refusals to
 * other tenants).
 */
#ifndef ENG_REALM_OWNERS_H
#define ENG_REALM_OWNERS_H

#include <stddef.h>
#include <stdint.h>

#include "adapt/store.h"
#include "base/err.h"

#define ENG_REALM_MAX 64 /* a realm id's longest form (QuickBooks: 1-32 digits) */

/* How a claim was proven (realm_owners.verified_by). */
#define ENG_REALM_BY_OAUTH "oauth_callback"
#define ENG_REALM_BY_TEST  "connection_test"

/* The live owner of (platform, realm) into tenant[size]: 1 found, 0 none (never claimed, or the
 * claim is stale), < 0 on a store error. */
int eng_realm_owner(struct eng_store *st, const char *platform, const char *realm, char *tenant,
                    size_t size, struct eng_err *err);
/* The same with the statement kept in *slot (NULL: prepared here on st) for the next call on
 * st; reset after each call; the caller finalizes it before closing st (the webhook writer's
 * hot path, issue 14). */
int eng_realm_owner_with(struct eng_store *st, struct eng_store_stmt **slot, const char *platform,
                         const char *realm, char *tenant, size_t size, struct eng_err *err);

/* The realm (external account id) tenant's active (platform) row names, into realm[size], and
 * that row's store_version (bumped by every full store, not by a token refresh) into *version
 * (may be NULL). 1 found, 0 no active row or no account id, < 0 on a store error. */
int eng_realm_stored(struct eng_store *st, const char *platform, const char *tenant, char *realm,
                     size_t size, int64_t *version, struct eng_err *err);

/* Record that tenant proved (platform, realm) (`how`: ENG_REALM_BY_*), in one savepoint: a stale
 * claim of another tenant on the realm and tenant's own claim on another realm are dropped, then
 * the claim is written. Only while tenant's active row names realm and, when version >= 0, is
 * still at that store_version (the credentials a test proved were not replaced meanwhile).
 * 0 claimed (or already tenant's); ENG_EEXIST when another tenant's live claim holds the realm;
 * ENG_ENOTFOUND when tenant's row no longer names the realm or moved past version (nothing is
 * written either way); store errors. Works inside the caller's transaction too. */
int eng_realm_claim(struct eng_store *st, const char *platform, const char *realm,
                    const char *tenant, const char *how, int64_t version, struct eng_err *err);

/* Does tenant own the realm its active (platform) row names? 1 yes, 0 no (or no row), < 0 on a
 * store error. */
int eng_realm_verified(struct eng_store *st, const char *platform, const char *tenant,
                       struct eng_err *err);

#endif
