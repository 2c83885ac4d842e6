-- 0009: the last source snapshot of each record a flow read (issue 13: the console's impact
-- preview runs an edited mapping over the last N real records of the calling tenant).
--   record_snapshots  one row per (tenant, flow, source system, source entity, source id): the
--                     record as the source connector gave it (JSON text), replaced each time a
--                     run, a dry run or a record job reads it again (seq then moves to the
--                     newest). The page transaction of a run writes it (engine/flow/sync_page.c
--                     through engine/data/record_snapshots.c) and keeps the newest
--                     SNAPSHOTS_KEEP per tenant and flow.
--   seq               the order of writes within one tenant and flow (newest = highest), so the
--                     newest-first reading and the pruning never depend on clock resolution.
-- Scripts never reach this table (adapt/store.c's authorizer lists only the POS tables).

CREATE TABLE record_snapshots (
    id                INTEGER PRIMARY KEY,
    tenant_id         TEXT NOT NULL CHECK (tenant_id <> ''),
    flow              TEXT NOT NULL CHECK (flow <> ''),
    source_system     TEXT NOT NULL,
    source_entity     TEXT NOT NULL,
    source_id         TEXT NOT NULL,
    record            TEXT NOT NULL,
    source_updated_at TEXT,
    run_id            TEXT,
    seq               INTEGER NOT NULL,
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, flow, source_system, source_entity, source_id)
);

CREATE INDEX record_snapshots_newest ON record_snapshots (tenant_id, flow, seq);
