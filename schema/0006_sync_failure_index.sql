-- 0006: open failures by record. A record that goes through clears its earlier failures, and a
-- retry that fails again updates its open failure: both look them up by tenant, flow and source
-- id, once per record, which without this index is a scan of every outcome ever recorded.
CREATE INDEX sync_records_open_by_source ON sync_records (tenant_id, flow, source_id)
    WHERE outcome IN ('failed', 'conflict') AND resolved_at IS NULL;
