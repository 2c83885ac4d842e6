-- 0007 on PostgreSQL (schema/pg/: used instead of schema/0007_operator_settings.sql, whose
-- checksum is the one recorded): GLOB is SQLite's; the same name check as a regular expression.
-- 0007: operator settings (issue 10, item 20). Where the engine sends tenants' secrets (the
-- QuickBooks API and token hosts, the OAuth pages, the public URL stores deliver webhooks to)
-- is the administrator's choice, kept in the store so that every entry point (serve, sync,
-- run --ctx) reads the same values. Not tenant-owned: no tenant_id, and only the administrator
-- (CLI `tallysync operator`, admin token on /api/operator/settings) writes them. Names and their
-- checks live in engine/data/operator_settings.c; values are URLs, never secrets.
CREATE TABLE operator_settings (
    name        TEXT PRIMARY KEY NOT NULL CHECK (name ~ '^[A-Z][A-Z0-9_]*$'),
    value       TEXT NOT NULL CHECK (value <> '' AND length(value) <= 512),
    updated_by  TEXT NOT NULL DEFAULT 'cli' CHECK (updated_by IN ('cli', 'api')),
    updated_at  TEXT NOT NULL DEFAULT (ts_strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
