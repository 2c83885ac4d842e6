-- 0002: sync runs, per-record outcomes, cursors, the id map and schedules.

-- One run: a full or incremental pass of one flow (mapping) for one tenant.
CREATE TABLE sync_runs (
    id                  TEXT PRIMARY KEY NOT NULL,      -- the syncId shown by the API
    tenant_id           TEXT NOT NULL,
    entity              TEXT NOT NULL,                  -- orders, customers, products...
    flow                TEXT NOT NULL,                  -- mapping name, e.g. woo_order_to_qbo_invoice
    mode                TEXT NOT NULL CHECK (mode IN ('full', 'incremental')),
    dry_run             INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    state               TEXT NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'running', 'succeeded', 'partial', 'failed',
                                         'cancelled')),
    filters             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(filters)),
    origin              TEXT NOT NULL DEFAULT 'api',   -- api, cli, schedule, webhook, retry
    requested_by        TEXT,                           -- token name, 'schedule:<id>', 'cli'...
    records_total       INTEGER CHECK (records_total >= 0), -- when the source says
    records_read        INTEGER NOT NULL DEFAULT 0 CHECK (records_read >= 0),
    records_created     INTEGER NOT NULL DEFAULT 0 CHECK (records_created >= 0),
    records_updated     INTEGER NOT NULL DEFAULT 0 CHECK (records_updated >= 0),
    records_unchanged   INTEGER NOT NULL DEFAULT 0 CHECK (records_unchanged >= 0),
    records_skipped     INTEGER NOT NULL DEFAULT 0 CHECK (records_skipped >= 0),
    records_failed      INTEGER NOT NULL DEFAULT 0 CHECK (records_failed >= 0),
    progress            REAL NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    cursor_from         TEXT,                           -- sync_state cursor the run started at
    cursor_to           TEXT,                           -- the cursor it will store
    -- reconciliation: sums over the run's records, minor units of currency
    currency            TEXT,
    source_total_minor  INTEGER NOT NULL DEFAULT 0,
    target_total_minor  INTEGER NOT NULL DEFAULT 0,
    reconciled_count    INTEGER NOT NULL DEFAULT 0,
    mismatch_count      INTEGER NOT NULL DEFAULT 0,
    reconciliation      TEXT CHECK (reconciliation IS NULL OR json_valid(reconciliation)),
    error               TEXT,                           -- why the run itself failed
    errors_summary      TEXT CHECK (errors_summary IS NULL OR json_valid(errors_summary)),
    cancel_requested    INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    schedule_id         INTEGER,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at          TEXT,
    finished_at         TEXT,
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX sync_runs_tenant_created ON sync_runs (tenant_id, created_at DESC);
CREATE INDEX sync_runs_state ON sync_runs (state) WHERE state IN ('queued', 'running');
-- At most one queued or running run per tenant and flow: a second request gets 409.
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (tenant_id, flow)
    WHERE state IN ('queued', 'running');

-- One record's outcome within a run (or from a webhook job when run_id is NULL).
CREATE TABLE sync_records (
    id                  INTEGER PRIMARY KEY,
    run_id              TEXT REFERENCES sync_runs (id) ON DELETE CASCADE
                        DEFERRABLE INITIALLY DEFERRED,
    tenant_id           TEXT NOT NULL,
    flow                TEXT NOT NULL,
    source_system       TEXT NOT NULL,
    source_entity       TEXT NOT NULL,
    source_id           TEXT NOT NULL,                  -- external ids are strings
    target_system       TEXT NOT NULL,
    target_type         TEXT NOT NULL,
    target_id           TEXT,
    outcome             TEXT NOT NULL DEFAULT 'pending'
                        CHECK (outcome IN ('pending', 'created', 'updated', 'unchanged',
                                           'skipped', 'failed', 'conflict')),
    dry_run             INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    error               TEXT,
    error_code          TEXT,
    retryable           INTEGER CHECK (retryable IN (0, 1)),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_retry_at       TEXT,
    resolved_at         TEXT,                           -- a failure later cleared
    input               TEXT CHECK (input IS NULL OR json_valid(input)),
    output              TEXT CHECK (output IS NULL OR json_valid(output)),
    diff                TEXT CHECK (diff IS NULL OR json_valid(diff)),
    conflict            TEXT CHECK (conflict IS NULL OR json_valid(conflict)),
    currency            TEXT,
    source_total_minor  INTEGER,
    target_total_minor  INTEGER,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX sync_records_run_source
    ON sync_records (run_id, source_system, source_entity, source_id, target_system, target_type)
    WHERE run_id IS NOT NULL;
CREATE INDEX sync_records_failures ON sync_records (tenant_id, next_retry_at)
    WHERE outcome IN ('failed', 'conflict') AND resolved_at IS NULL;
CREATE INDEX sync_records_source ON sync_records (tenant_id, source_entity, source_id);

-- Where each incremental flow stands. flow '' means the entity as a whole.
CREATE TABLE sync_state (
    tenant_id     TEXT NOT NULL,
    entity_type   TEXT NOT NULL,
    flow          TEXT NOT NULL DEFAULT '',
    last_sync_at  TEXT,                                 -- cursor time, ISO-8601 UTC
    cursor        TEXT,                                 -- opaque cursor when not a time
    last_run_id   TEXT,
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant_id, entity_type, flow)
);

-- Source record <-> target document. A row may be reserved before the remote create
-- (target_id NULL, request_id set) so that a crash between create and commit is resumable.
CREATE TABLE id_map (
    id                 INTEGER PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    source_system      TEXT NOT NULL,
    entity_type        TEXT NOT NULL,                   -- source entity type
    source_id          TEXT NOT NULL,
    target_system      TEXT NOT NULL,
    target_type        TEXT NOT NULL,                   -- e.g. Invoice, Customer, Item
    target_id          TEXT,
    request_id         TEXT,                            -- idempotency key of the create
    content_hash       TEXT,                            -- of the mapped document last written
    sync_token         TEXT,                            -- QuickBooks SyncToken
    target_updated_at  TEXT,
    source_updated_at  TEXT,
    last_run_id        TEXT,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, source_system, entity_type, source_id, target_system, target_type)
);
CREATE INDEX id_map_target ON id_map (tenant_id, target_system, target_type, target_id);

-- Runs the engine starts by itself: every interval_seconds, or on a cron expression.
CREATE TABLE schedules (
    id                INTEGER PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    entity            TEXT NOT NULL,
    flow              TEXT,
    mode              TEXT NOT NULL DEFAULT 'incremental' CHECK (mode IN ('full', 'incremental')),
    dry_run           INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    filters           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(filters)),
    interval_seconds  INTEGER CHECK (interval_seconds > 0),
    cron              TEXT,
    enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    next_run_at       TEXT,
    last_run_at       TEXT,
    last_run_id       TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK ((interval_seconds IS NULL) <> (cron IS NULL))
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled = 1;
CREATE INDEX schedules_tenant ON schedules (tenant_id);
