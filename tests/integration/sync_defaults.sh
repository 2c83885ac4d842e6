#!/usr/bin/env bash
# tests/integration/sync_defaults.sh - the first day with nothing but the defaults: WooCommerce
# orders with shipping, coupons, fees and several tax rates (the mapping cases' USD orders, a
# two-rate US order, and the WooCommerce mock's generator) into a mock QuickBooks company whose
# AllowShipping is off, then into a fresh one where it is on. No transformer_config is stored, no
# shipping item is seeded: every order must be posted and reconciled from the defaults and what
# the connection reads (the company's Preferences). Also: the connection test and status warn
# shipping_item_missing exactly when orders with shipping could not be posted.
# The transformer_config defaults this exercises without setting them: shipping_item_id (null:
# the company decides), default_payment_terms_days (DueDate), custom_field_mappings (none),
# tax_code_mappings + default_tax_code_id (TAX in a US company), paid_orders_as (Invoice),
# create_missing_items (items and the Shipping item created), income_account_id (the account
# named Sales of Product Income). refund_account_id: the refund mappings' data cases.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

GENERATED=${SYNC_DEFAULTS_GENERATED:-20}

echo "== without a company, the tools say what they assumed"
run_bin "$T/dry" dry-run --mapping woo_order_to_qbo_invoice --input "$FIXTURES_DIR/woocommerce/order.json"
assert_eq "dry-run of an order with shipping: exit 0" 0 "$RC"
assert_jq "... the shipping line posts to the item named Shipping" "$OUT" \
    '[.Line[] | select(.Description == "Flat Rate") | .SalesItemLineDetail.ItemRef.value] == ["{{item name:Shipping}}"]'
assert_contains "... and stderr says AllowShipping was assumed off" "$ERR" \
    "note: no QuickBooks company was read: assuming AllowShipping off"
pushd "$ENG_SOURCE_DIR" >/dev/null && run_bin "$T/maptest" test woo_order_to_qbo_invoice && popd >/dev/null
assert_eq "tallysync test: exit 0" 0 "$RC"
assert_contains "... and it says what cases without \"company\" assume" "$ERR" \
    'cases without "company" assume: no QuickBooks company was read'

# the orders: every USD order of the invoice mapping's data cases that maps (ids renumbered), the
# GST+PST case made a US state + county order, and GENERATED copies of the fixture order
python3 - "$ENG_SOURCE_DIR/mappings/tests/woo_order_to_qbo_invoice" >"$T/orders.json" <<'EOF'
import glob, json, os, sys
out = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    case = json.load(open(path, encoding="utf-8"))
    o = case["input"]
    if "expected" not in case or not isinstance(o, dict) or "line_items" not in o:
        continue
    if o.get("currency") == "CAD" and len(o.get("tax_lines") or []) == 2:
        o["currency"] = "USD"  # GST + PST -> a US state + county rate: one line, two rates
        for t, label in zip(o["tax_lines"], ("US-WA-STATE TAX", "US-WA-KING COUNTY TAX")):
            t["rate_code"] = t["label"] = label
    if o.get("currency") != "USD":
        continue
    oid = 8001 + len(out)
    o["id"] = oid
    if len(str(o.get("number", ""))) <= 21:
        o["number"] = str(oid)
    out.append(o)
print(json.dumps({"entity": "orders", "records": out}))
EOF
MINE=$(jq '.records | length' "$T/orders.json")
assert_ge "the data cases give orders to post" "$MINE" 15
jq -e '[.records[] | select((.shipping_lines | length) > 0)] | length > 10' "$T/orders.json" >/dev/null &&
    jq -e '[.records[] | select((.coupon_lines | length) > 0)] | length > 1' "$T/orders.json" >/dev/null &&
    jq -e '[.records[] | select((.fee_lines | length) > 0)] | length > 1' "$T/orders.json" >/dev/null &&
    jq -e '[.records[] | select((.tax_lines | length) > 1)] | length > 0' "$T/orders.json" >/dev/null
check "... with shipping, coupons, fees and several tax rates"

sync_mocks
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/orders.json" >/dev/null
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' \
    -d "{\"entity\": \"orders\", \"generate\": $GENERATED, \"start_id\": 9001}" >/dev/null
ALL=$(woo_total)
assert_eq "the WooCommerce mock holds them all" "$((MINE + GENERATED + 2))" "$ALL"

# phase ALLOW_SHIPPING: a fresh QuickBooks company and a fresh engine database
phase() {
    local allow=$1
    echo "== AllowShipping $allow: nothing but the defaults"
    curl -s -X POST "$QBO/_mock/reset" -d '{}' >/dev/null
    curl -s -X POST "$QBO/_mock/preferences" -d "{\"AllowShipping\": $allow}" >/dev/null
    rm -f "$T/pos.db" "$T/pos.db-wal" "$T/pos.db-shm"
    serve_start WORKERS=2 || finish
    sync_credentials
    sq "DELETE FROM settings WHERE key = 'transformer_config'" # sync_env's own settings: none here
    http GET /api/settings/transformer_config
    assert_jq "no transformer_config stored: shipping_item_id null by default" "$BODY" \
        '.value == null and .effective.shipping_item_id == null and .effective.create_missing_items == true'

    http POST /api/integrations/quickbooks/test
    assert_jq "the connection test passes without a warning" "$BODY" \
        '.ok == true and (.message | test("warning") | not)'
    http GET /api/integrations/quickbooks/status
    assert_jq "... and the status has no warning" "$BODY" '.warnings == []'

    if [[ $allow == false ]]; then
        # what the status says when shipping cannot be posted: no AllowShipping, no item named
        # Shipping, and items may not be created
        sq "INSERT INTO settings (tenant_id, key, value) VALUES ('default', 'transformer_config',
            '{\"create_missing_items\": false}')"
        http POST /api/integrations/quickbooks/test
        assert_jq "create_missing_items false: the test warns shipping_item_missing" "$BODY" \
            '.ok == true and (.message | test("warning shipping_item_missing: .*AllowShipping preference is off.*create_missing_items is false.*no item is named \"Shipping\""))'
        http GET /api/integrations/quickbooks/status
        assert_jq "... and so does the status, saying why" "$BODY" \
            '[.warnings[] | select(.code == "shipping_item_missing" and (.message | test("AllowShipping")))] | length == 1'
        sq "DELETE FROM settings WHERE key = 'transformer_config'"
        http POST /api/integrations/quickbooks/test
        http GET /api/integrations/quickbooks/status
        assert_jq "back to the defaults: the warning is gone" "$BODY" '.warnings == []'
    fi

    start_run '{"mode": "full"}'
    assert_eq "POST /api/sync/orders: 202" 202 "$CODE"
    wait_run 240000
    assert_jq "every order posted: succeeded, $ALL created, none failed" "$RUN" \
        ".state == \"succeeded\" and .counts.created == $ALL and .counts.failed == 0"
    assert_jq "... and reconciled: source and target totals equal" "$RUN" \
        ".reconciliation.reconciled == $ALL and .reconciliation.mismatched == 0 and
         .reconciliation.sourceTotalMinor == .reconciliation.targetTotalMinor"
    if ! jq -e '.counts.failed == 0' <<<"$RUN" >/dev/null; then
        fail "the failed records" "$(sq "SELECT source_id || ': ' || coalesce(error, '') FROM sync_records WHERE outcome = 'failed' LIMIT 5")"
    fi

    local st ship
    st=$(qbo_state)
    assert_jq "QuickBooks holds $ALL invoices, no SalesReceipt (paid_orders_as Invoice)" "$st" \
        ".counts.Invoice == $ALL and .counts.SalesReceipt == 0"
    assert_jq "no CustomField (custom_field_mappings [])" "$st" \
        '[.entities.Invoice[] | select(.CustomField != null and (.CustomField | length) > 0)] == []'
    assert_jq "every item was created (create_missing_items) on Sales of Product Income (income_account_id null)" "$st" \
        '(.entities.Item | length) > 5 and ([.entities.Item[] | .IncomeAccountRef.value] | unique == ["79"])'
    ship=$(jq -r '[.entities.Item[] | select(.Name == "Shipping") | .Id] | join(",")' <<<"$st")
    # the shipping lines' ItemRefs
    jq -r '[.entities.Invoice[].Line[] | select(.Description != null and .DetailType == "SalesItemLineDetail")
            | .SalesItemLineDetail.ItemRef.value] | unique | .[]' <<<"$st" >"$T/refs.$allow"
    if [[ $allow == true ]]; then
        assert_eq "no item named Shipping was created" "" "$ship"
        assert_jq "shipping lines post to SHIPPING_ITEM_ID" "$st" \
            '[.entities.Invoice[] | select(any(.Line[]; .SalesItemLineDetail.ItemRef.value == "SHIPPING_ITEM_ID"))] | length > 10'
    else
        assert_match "one item named Shipping was created" '^[0-9]+$' "$ship"
        assert_jq "... a NonInventory item with the income account" "$st" \
            ".entities.Item[] | select(.Id == \"$ship\") | .Type == \"NonInventory\" and .IncomeAccountRef.value == \"79\""
        assert_jq "shipping lines post to it, none to SHIPPING_ITEM_ID" "$st" \
            "([.entities.Invoice[] | select(any(.Line[]; .SalesItemLineDetail.ItemRef.value == \"$ship\"))] | length > 10) and
             ([.entities.Invoice[].Line[] | select(.SalesItemLineDetail.ItemRef.value == \"SHIPPING_ITEM_ID\")] | length == 0)"
    fi
    assert_jq "coupons became discount lines" "$st" \
        '[.entities.Invoice[].Line[] | select(.DetailType == "DiscountLineDetail")] | length > 1'
    assert_jq "taxed lines carry TAX in this US company (default_tax_code_id null)" "$st" \
        '[.entities.Invoice[].Line[] | .SalesItemLineDetail.TaxCodeRef.value? // empty] | unique == ["TAX"]'
    assert_jq "every DueDate is TxnDate + 30 days (default_payment_terms_days)" "$st" \
        '[.entities.Invoice[] | ((.TxnDate + "T00:00:00Z" | fromdate) + 30 * 86400
          | strftime("%Y-%m-%d")) == .DueDate] | all'

    # The customers flow after the orders: the orders' runs created John Doe as a dependency
    # (keyed by e-mail); WooCommerce customer 25 is the same person and must be found by the
    # flow's match, not created a second time (QuickBooks refuses the name: 6240).
    if [[ $allow == false ]]; then
        local before after
        before=$(jq '.counts.Customer' <<<"$st")
        http POST /api/sync/customers -H 'Content-Type: application/json' --data-binary '{"mode": "full"}'
        SYNC_ID=$(jq -r '.syncId // empty' <<<"$BODY" 2>/dev/null)
        assert_eq "POST /api/sync/customers: 202" 202 "$CODE"
        wait_run 120000
        assert_jq "the customers run succeeds with none failed (an existing customer is matched, not created again)" "$RUN" \
            '.state == "succeeded" and .counts.failed == 0 and .counts.updated >= 1'
        after=$(qbo_state | jq '.counts.Customer')
        assert_eq "... and QuickBooks holds no second John Doe" "$before" "$after"
    fi
    serve_stop
}

phase false
phase true
finish
