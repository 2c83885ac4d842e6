-- 0008: who owns a QuickBooks company (issue 12, finding 6). A webhook names its company by
-- realm id only, so a realm must belong to one tenant, and only to one that proved it: the
-- tenant whose OAuth callback Intuit sent with that realmId, or whose connection test passed
-- against that company with its own tokens. A realm id typed into stored credentials proves
-- nothing until then. Ingest routes a realm to its owner and to no one else.
--   realm_owners    one row per (platform, realm): UNIQUE, so two tenants can never both own one
--                   realm; a tenant owns at most one realm per platform (its one credentials
--                   row). A claim is live while the owner's active credentials row still names
--                   the realm (external_account_id); a stale one (the owner deleted or re-stored
--                   its credentials for another company) gives way to the next proven claim.
--   store_version   on integration_credentials: bumped by every full store of a row (not by a
--                   token refresh), so a connection test's proof is written only for the very
--                   credentials it tested (engine/data/realm_owners.c).
-- Realms claimed before this file existed: a realm named by exactly one tenant whose stored
-- credentials passed their last test (status 'connected') keeps routing to it.

ALTER TABLE integration_credentials ADD COLUMN store_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE realm_owners (
    platform     TEXT NOT NULL CHECK (platform <> ''),
    realm_id     TEXT NOT NULL CHECK (realm_id <> ''),
    tenant_id    TEXT NOT NULL CHECK (tenant_id <> ''),
    verified_by  TEXT NOT NULL CHECK (verified_by IN ('oauth_callback', 'connection_test',
                                                      'migration')),
    verified_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (platform, realm_id),
    UNIQUE (platform, tenant_id)
);

INSERT INTO realm_owners (platform, realm_id, tenant_id, verified_by)
SELECT platform, external_account_id, min(tenant_id), 'migration'
  FROM integration_credentials
 WHERE platform = 'quickbooks' AND is_active = 1 AND external_account_id IS NOT NULL
   AND external_account_id <> ''
 GROUP BY platform, external_account_id
HAVING count(*) = 1 AND min(status) = 'connected';
