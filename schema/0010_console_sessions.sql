-- 0010: the web console's sessions (data/console_sessions.c is the owner). A person logs in with
-- an API token once; the browser then holds a random cookie value and the store keeps only its
-- SHA-256 (hex), so a copy of the database cannot be replayed as a cookie. A tenant session
-- keeps the hash of the token it came from (api_tokens.token_hash: revoking or deleting that
-- token ends the session at its next use); an administrator's keeps a fingerprint of API_TOKEN
-- (a changed API_TOKEN ends them all). expires_at is fixed at login (SESSION_TTL_S).
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY NOT NULL CHECK (length(id_hash) = 64),
    tenant_id    TEXT NOT NULL CHECK (tenant_id <> ''),
    is_admin     INTEGER NOT NULL CHECK (is_admin IN (0, 1)),
    token_hash   TEXT,
    admin_fp     TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK ((is_admin = 1 AND admin_fp IS NOT NULL AND token_hash IS NULL) OR
           (is_admin = 0 AND token_hash IS NOT NULL AND admin_fp IS NULL))
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
CREATE INDEX console_sessions_token ON console_sessions (token_hash) WHERE token_hash IS NOT NULL;

-- Every tenant the store knows, for the console's tenant switcher (GET /api/tenants): the
-- tenants rows and every tenant that has a token, settings, credentials or runs. Read through
-- data/console_sessions.c only; the tables keep their own owners.
CREATE VIEW known_tenants AS
    SELECT id AS tenant_id FROM tenants
    UNION SELECT tenant_id FROM api_tokens
    UNION SELECT tenant_id FROM settings
    UNION SELECT tenant_id FROM integration_credentials
    UNION SELECT tenant_id FROM sync_runs;
