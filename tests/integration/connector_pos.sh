#!/usr/bin/env bash
# tests/integration/connector_pos.sh - connectors/pos.lua over the engine's own store: `tallysync
# migrate`, then orders and order_items seeded straight into DATABASE_URL's store (sq)
# (two tenants, inactive orders and items, timestamps shared by several orders so that the id
# breaks ties), then tests/lua/pos_connector.lua through `tallysync run`: keyset pages across
# more than one page, page_size, since, tenant and is_active filters, money as integers, an order
# changed during paging. This script counts the Lua's "ok"/"FAIL" lines.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools

run_bin "$T/migrate" migrate
assert_eq "tallysync migrate: exit 0" 0 "$RC"
[[ $RC == 0 ]] || { fail "migrate stderr" "$ERR"; finish; }

# shop-a: A0001..A0250 active (3 orders per second of updated_at, inserted in descending id
# order so that neither rowid nor insertion order gives the expected order), X0001..X0005 inactive; shop-b: B0001..B0010.
# Items first touch updated_at (triggers); the final UPDATE sets the seeded timestamps.
sq <<'SQL' || fail "seeding the orders"
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250)
INSERT INTO orders (id, tenant_id, order_number, status, currency, subtotal_minor, tax_minor,
                    total_minor, paid_minor, customer_name)
SELECT printf('A%04d', i), 'shop-a', printf('#%d', 1000 + i), 'completed', 'USD', i * 100, 0,
       i * 100, i * 100, 'Customer ' || i FROM n ORDER BY i DESC;
UPDATE orders SET currency = 'EUR', subtotal_minor = 1680, tax_minor = 319, total_minor = 1999,
       paid_minor = 1999, customer_name = 'Ada', billing_address = '{"city":"Berlin"}'
 WHERE id = 'A0007';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5)
INSERT INTO orders (id, tenant_id, is_active) SELECT printf('X%04d', i), 'shop-a', 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
INSERT INTO orders (id, tenant_id) SELECT printf('B%04d', i), 'shop-b' FROM n;
INSERT INTO order_items (order_id, tenant_id, line_no, sku, name, quantity, unit_price_minor,
                         total_minor, is_active) VALUES
  ('A0007', 'shop-a', 2, 'SKU-2', 'Mug', 1, 680, 680, 1),
  ('A0007', 'shop-a', 1, 'SKU-1', 'Tee', 1, 1000, 1000, 1),
  ('A0007', 'shop-a', 3, 'SKU-3', 'Removed', 1, 500, 500, 0);
UPDATE orders SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', '2026-03-01 10:00:00',
       '+' || ((CAST(substr(id, 2) AS INTEGER) - 1) / 3) || ' seconds')
 WHERE tenant_id = 'shop-a';
UPDATE orders SET updated_at = '2026-03-02T09:00:00.000Z' WHERE tenant_id = 'shop-b';
SQL

EXPECTED=$(sq "SELECT group_concat(id, ',') FROM (SELECT id FROM orders
    WHERE tenant_id = 'shop-a' AND is_active = 1 ORDER BY updated_at, id)")
SINCE=$(sq "SELECT updated_at FROM orders WHERE id = 'A0200'")
SINCE_COUNT=$(sq "SELECT count(*) FROM orders WHERE tenant_id = 'shop-a'
    AND is_active = 1 AND updated_at > '$SINCE'")
assert_eq "seeded: 250 active orders for shop-a" 250 "$(tr ',' '\n' <<<"$EXPECTED" | wc -l)"
assert_match "... ties on updated_at broken by id" '^A0001,A0002,A0003,A0004' "$EXPECTED"
assert_eq "... since A0200's time (shared by A0199..A0201) leaves 49 orders" 49 "$SINCE_COUNT"

timeout -k 5 120 "$TALLYSYNC_BIN" run "$ENG_SOURCE_DIR/tests/lua/pos_connector.lua" \
    "$EXPECTED" "$SINCE" "$SINCE_COUNT" >"$T/lua.out" 2>"$T/lua.err"
RC=$?
while IFS= read -r line; do
    case "$line" in
    "ok   "*) pass "${line#ok   }" ;;
    "FAIL "*) fail "${line#FAIL }" ;;
    "     "*) printf '%s\n' "$line" ;;
    esac
done <"$T/lua.out"
assert_eq "the Lua cases run to the end and exit 0" 0 "$RC"
assert_match "... with no failure" '^[0-9]+ passed, 0 failed$' "$(tail -n 1 "$T/lua.out")"
[[ $RC == 0 ]] || fail "lua stderr" "$(cat "$T/lua.err")"

finish
