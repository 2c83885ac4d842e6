-- 0001: tenants, per-tenant settings, API tokens, the credential vault and OAuth states.
-- Conventions for every schema file: tenant_id on every tenant-owned row; timestamps are
-- ISO-8601 UTC text (strftime('%Y-%m-%dT%H:%M:%fZ','now'), e.g. 2026-01-15T09:30:00.000Z, which
-- sorts as time); money is INTEGER minor units with a currency; JSON columns are checked with
-- json_valid(); enum-like states have a CHECK. tenant_id is deliberately not a foreign key to
-- tenants: rows for a tenant may be written before (or without) its tenants row, as the seed's
-- settings example does. Each file runs in its own transaction: no BEGIN/COMMIT here.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    name        TEXT NOT NULL DEFAULT '',
    is_active   INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO tenants (id, name) VALUES ('default', 'Default tenant');

-- Per-tenant settings, e.g. key 'transformer_config' with value
-- {"shipping_item_id": "SHIPPING", "default_payment_terms_days": 30, ...}.
CREATE TABLE settings (
    tenant_id   TEXT NOT NULL,
    key         TEXT NOT NULL CHECK (key <> ''),
    value       TEXT NOT NULL CHECK (json_valid(value)),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant_id, key)
);

-- Tenant-scoped API tokens: only a hash of the token is stored (the token is shown once).
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    token_hash   TEXT NOT NULL UNIQUE,
    token_prefix TEXT,                 -- first characters, to recognise a token in a list
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at TEXT,
    expires_at   TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);

-- The vault: one encrypted credential set per tenant and platform. ciphertext is what the crypto
-- module produces (AES-256-GCM: nonce, ciphertext and tag, tenant and platform bound as associated
-- data) under the key named key_id, so rotate-key can re-encrypt row by row. public_fields holds
-- the non-secret values status answers may show (store_url, realm_id, environment...);
-- external_account_id is the routing key for webhooks (normalised WooCommerce store URL,
-- QuickBooks realm id).
CREATE TABLE integration_credentials (
    id                  INTEGER PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    platform            TEXT NOT NULL CHECK (platform <> ''),
    ciphertext          BLOB NOT NULL,
    key_id              TEXT NOT NULL,
    public_fields       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(public_fields)),
    external_account_id TEXT,
    is_active           INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    status              TEXT NOT NULL DEFAULT 'untested'
                        CHECK (status IN ('untested', 'connected', 'error', 'expired')),
    last_test_at        TEXT,
    last_test_ok        INTEGER CHECK (last_test_ok IN (0, 1)),
    last_test_message   TEXT,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, platform)
);
CREATE INDEX integration_credentials_account
    ON integration_credentials (platform, external_account_id)
    WHERE external_account_id IS NOT NULL;
CREATE INDEX integration_credentials_key ON integration_credentials (key_id);

-- OAuth 2.0 connect flow: random, single-use, expiring state values (stored hashed).
CREATE TABLE oauth_states (
    state_hash  TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL,
    platform    TEXT NOT NULL DEFAULT 'quickbooks',
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
