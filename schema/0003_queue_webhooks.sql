-- 0003: raw webhook events and the durable job queue they (and runs) feed.

-- Every delivery kept for audit and replay. tenant_id is NULL for a validly signed event no
-- tenant owns ("unrouted"). event_id is WooCommerce's X-WC-Webhook-Delivery-ID or the
-- QuickBooks CloudEvents id; account_id is the sender's account (WooCommerce store URL,
-- QuickBooks realm id) because WooCommerce delivery ids are counters per site, so two stores can
-- send the same one. Without an account, '' keeps the key (source, event_id).
CREATE TABLE webhook_events (
    id               INTEGER PRIMARY KEY,
    source           TEXT NOT NULL CHECK (source IN ('woocommerce', 'quickbooks')),
    format           TEXT,                              -- woocommerce, ping, qbo_classic, qbo_cloudevents
    tenant_id        TEXT,
    account_id       TEXT NOT NULL DEFAULT '',
    event_id         TEXT,
    topic            TEXT,                              -- e.g. order.updated, Invoice.Update
    resource         TEXT,
    resource_id      TEXT,
    event_time       TEXT,                              -- the sender's timestamp, when it has one
    status           TEXT NOT NULL DEFAULT 'received'
                     CHECK (status IN ('received', 'queued', 'processed', 'ignored', 'unrouted',
                                       'rejected', 'failed')),
    signature_valid  INTEGER NOT NULL DEFAULT 0 CHECK (signature_valid IN (0, 1)),
    headers          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(headers)),
    body             BLOB,                              -- raw bytes as received
    received_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    processed_at     TEXT,
    replay_count     INTEGER NOT NULL DEFAULT 0 CHECK (replay_count >= 0),
    last_replayed_at TEXT,
    error            TEXT
);
CREATE UNIQUE INDEX webhook_events_dedupe ON webhook_events (source, account_id, event_id)
    WHERE event_id IS NOT NULL;
CREATE INDEX webhook_events_tenant ON webhook_events (tenant_id, received_at DESC);
CREATE INDEX webhook_events_status ON webhook_events (status, received_at DESC);

-- Jobs: whole runs, single-record syncs from webhooks, retries. Workers claim with one
-- UPDATE ... RETURNING on (status, priority, next_attempt_at); a lease that expires makes the job
-- claimable again. Higher priority first (webhooks and retries ahead of bulk runs).
CREATE TABLE sync_queue (
    id                INTEGER PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind <> ''),  -- run, record, retry, sweep...
    entity            TEXT,
    flow              TEXT,
    payload           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'running', 'done', 'failed', 'dead')),
    priority          INTEGER NOT NULL DEFAULT 0,
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts      INTEGER NOT NULL DEFAULT 8 CHECK (max_attempts > 0),
    next_attempt_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    lease_owner       TEXT,
    lease_expires_at  TEXT,
    dedupe_key        TEXT,
    run_id            TEXT REFERENCES sync_runs (id) ON DELETE SET NULL
                      DEFERRABLE INITIALLY DEFERRED,
    webhook_event_id  INTEGER REFERENCES webhook_events (id) ON DELETE SET NULL
                      DEFERRABLE INITIALLY DEFERRED,
    last_error        TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at       TEXT,
    CHECK (status <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);
-- The same job is never pending or running twice.
CREATE UNIQUE INDEX sync_queue_dedupe ON sync_queue (tenant_id, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('pending', 'running');
CREATE INDEX sync_queue_claim ON sync_queue (priority DESC, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX sync_queue_lease ON sync_queue (lease_expires_at) WHERE status = 'running';
CREATE INDEX sync_queue_run ON sync_queue (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX sync_queue_tenant ON sync_queue (tenant_id, status);
