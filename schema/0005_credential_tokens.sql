-- 0005: token rotation for OAuth connectors (issue 4). Each credentials row gets a version and a
-- refresh lease, so that one refresher at a time (across workers and across engines sharing the
-- database) renews a company's tokens, and an older token set never overwrites a newer one.
--   token_version        bumped by every write of the sealed secret (a store, the connect flow,
--                        a refresh); a refresh writes only if the version is still the one it
--                        read (compare-and-swap in one UPDATE)
--   refresh_lease_owner  a random id of the worker holding the lease (NULL: free)
--   refresh_lease_until  when the lease lapses (ISO-8601 UTC): a refresher that crashed blocks
--                        the others only until then
-- The lease is taken with one UPDATE ... WHERE the lease is free or lapsed, so two takers never
-- both win (engine/data/vault.c, eng_vault_lease_take).

ALTER TABLE integration_credentials ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE integration_credentials ADD COLUMN refresh_lease_owner TEXT;
ALTER TABLE integration_credentials ADD COLUMN refresh_lease_until TEXT;
