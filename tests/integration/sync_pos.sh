#!/usr/bin/env bash
# sync_pos.sh - the POS's own orders (schema 0004, connectors/pos.lua: one page per call, the
# next asked for with next_cursor) synced into QuickBooks by `tallysync sync orders --flow
# pos_order_to_qbo_sales_receipt`: every active order of the tenant, across more than one of the
# connector's pages, becomes one sales receipt (none of another tenant's, none inactive); an
# incremental run right after writes nothing. (lib/sync.lua once took the connector's page object
# for the record list, so such a run read nothing and still succeeded.)
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

sync_mocks
serve_start WORKERS=2 || finish
sync_credentials
serve_stop # the command runs the sync itself

N=230 # the connector's page is 100: three pages
sq <<SQL || fail "seeding the POS orders"
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO orders (id, tenant_id, order_number, status, currency, subtotal_minor, tax_minor,
                    total_minor, paid_minor, payment_method, customer_name, updated_at)
SELECT printf('P%04d', i), 'default', printf('#P%d', i), 'completed', 'USD', 1000 + i, 0,
       1000 + i, 1000 + i, 'card', 'Walk-in ' || (i % 7),
       strftime('%Y-%m-%dT%H:%M:%fZ', '2026-03-01 10:00:00', '+' || (i / 4) || ' seconds')
  FROM n;
INSERT INTO order_items (order_id, tenant_id, line_no, sku, name, quantity, unit_price_minor,
                         total_minor)
SELECT id, tenant_id, 1, 'POS-' || (CAST(substr(id, 2) AS INTEGER) % 5), 'Thing',
       1, subtotal_minor, subtotal_minor FROM orders WHERE id LIKE 'P%';
INSERT INTO orders (id, tenant_id, status, total_minor, is_active)
    VALUES ('X0001', 'default', 'completed', 500, 0);
INSERT INTO orders (id, tenant_id, status, total_minor) VALUES ('B0001', 'shop-b', 'completed', 700);
-- the items' triggers moved updated_at: put the seeded times back
UPDATE orders SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', '2026-03-01 10:00:00',
       '+' || (CAST(substr(id, 2) AS INTEGER) / 4) || ' seconds') WHERE id LIKE 'P%';
SQL

run_bin "$T/full" sync orders --mode full --flow pos_order_to_qbo_sales_receipt
assert_eq "a full run of the POS flow: exit 0" 0 "$RC"
[[ $RC == 0 ]] || fail "... its stderr" "$ERR"
assert_match "... read and created every active order of the tenant" \
    "succeeded: read $N, created $N, updated 0" "$OUT"
receipts=$(qbo_state | jq '[.entities.SalesReceipt // {} | .[]] | length')
assert_eq "QuickBooks holds one sales receipt per POS order" "$N" "$receipts"
assert_eq "... each order once (its DocNumber)" "$N" \
    "$(qbo_state | jq '[.entities.SalesReceipt // {} | .[] | .DocNumber] | unique | length')"
assert_eq "id_map: one row per order" "$N" \
    "$(sq "SELECT count(*) FROM id_map WHERE tenant_id = 'default' AND source_id LIKE 'P%'")"
assert_eq "... none for the inactive order or the other tenant's" 0 \
    "$(sq "SELECT count(*) FROM id_map WHERE source_id IN ('X0001', 'B0001')")"

run_bin "$T/again" sync orders --mode incremental --flow pos_order_to_qbo_sales_receipt
assert_eq "an incremental run right after: exit 0" 0 "$RC"
assert_match "... creates and updates nothing" "created 0, updated 0" "$OUT"
finish
