#!/usr/bin/env bash
# tests/browser/story.sh - the console's main story (issue 13's "Done when"), in one browser
# session against the real engine and the mocks, over a scratch copy of mappings/ (publishing
# writes files): sign in; start a full run of the orders from the Runs page and watch its
# progress move until it finishes; open the one failure; turn it into a test case (the expected
# document edited in place); fix the mapping in the editor; see the preview, the tests and the
# impact diff; publish; retry the failure and see it succeed.
#
# The failure a mapping edit can honestly fix: a guest order (WooCommerce "guest checkout") whose
# billing has neither an e-mail address nor a name. woo_order_to_qbo_invoice refuses it
# ("billing: no e-mail address or name to find or create the customer by", lib/woo_sales.lua):
# an Invoice needs a CustomerRef and there is nobody to find or create. The shop's decision, made
# in the editor: such orders post to one catch-all customer, "Web guest" (the usual practice for
# anonymous sales in QuickBooks). The edit gives the order that name before requires and map run,
# so the customer is found or created like any other; orders with an e-mail or a name are
# untouched (the impact check shows no other document changes). The order is on hold and unpaid,
# so it is the Invoice flow's alone (no Payment, no SalesReceipt).
source "$(dirname "$0")/../integration/lib/common.sh"
source "$(dirname "$0")/../integration/lib/sync_env.sh"
source "$(dirname "$0")/lib/browser_env.sh"
require_tools jq curl python3
browser_require

FLOW=woo_order_to_qbo_invoice
GUEST=7990
N=${STORY_ORDERS:-300}
copy_script_dirs
sync_mocks
browser_serve WORKERS=2 || finish
sync_credentials

seed_orders 7000 "$N" 23 11 2026-04-01T00:00:00
python3 - "$FIXTURES_DIR/woocommerce/order.json" "$GUEST" >"$T/guest.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
gid = int(sys.argv[2])
o.update(id=gid, number=str(gid), status="on-hold", customer_id=0, date_paid=None, date_paid_gmt=None,
         transaction_id="")
for k in ("date_created", "date_created_gmt", "date_modified", "date_modified_gmt"):
    o[k] = "2026-04-20T10:00:00"
for k in ("first_name", "last_name", "company", "email"):
    o["billing"][k] = ""
for k in ("first_name", "last_name", "company"):
    if isinstance(o.get("shipping"), dict):
        o["shipping"][k] = ""
for j, li in enumerate(o["line_items"]):
    li["sku"] = "SKU-%d" % j
    li["name"] = "Product SKU-%d" % j
print(json.dumps({"entity": "orders", "records": [o]}))
PY
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/guest.json" >/dev/null
# QuickBooks answers a little slowly (each document of a batch too), so the run lasts long enough
# for the page to show it moving (what is asserted is what the page shows, not a time)
curl -s -X POST "$QBO/_mock/config" -d '{"slow_ms": 60, "item_ms": 60}' >/dev/null
# and two batches at a time: with QuickBooks' ten, a few hundred orders are all in flight at once
# and answered together, so the page would see only the start and the end
sq "INSERT INTO settings (tenant_id, key, value) VALUES ('default', 'sync_parallel_requests', '2')"

browser_run "$ENG_SOURCE_DIR/tests/browser/story.mjs" FLOW="$FLOW" GUEST="$GUEST" \
    GUEST_ORDER="$T/guest.json" SECRETS="$(printf '%s\n' "$WOO_SECRET" "$QBO_ACCESS_TOKEN" mock-secret)" \
    OUT="$T/story.json"

echo "== what the engine, the files and QuickBooks hold after the story"
[[ -s "$T/story.json" ]] || { fail "the browser script names the failure and the case it saved"; finish; }
FAILURE=$(jq -r .failure "$T/story.json")
CASE=$(jq -r .case "$T/story.json")
check "the test case the page saved is a file in the mapping's tests" test -s "$MAPPINGS_DIR/tests/$FLOW/$CASE.json"
assert_jq "... holding the failed order as input and the document the person expects" \
    "$(cat "$MAPPINGS_DIR/tests/$FLOW/$CASE.json" 2>/dev/null || echo '{}')" \
    ".input.id == $GUEST and (.expected | type == \"object\") and (.expected.CustomerRef.value | tostring | contains(\"Web guest\"))"
check "the published mapping is the edited file" grep -q 'Web guest' "$MAPPINGS_DIR/$FLOW.lua"
http GET "/api/mappings/$FLOW/source"
assert_jq "the engine loaded the published edit" "$BODY" '.status == "loaded" and (.source | contains("with_guest"))'
http GET "/api/mappings/$FLOW/tests" # large (every case's input): jq, not assert_jq's shell scan
assert_eq "the engine lists the new test case" true "$(jq --arg c "$CASE" '[.items[].case] | index($c) != null' <<<"$BODY")"
http GET "/api/sync/failures?limit=200"
assert_jq "the retried failure is no longer open" "$BODY" \
    "[.items[] | select((.id | tostring) == \"$FAILURE\" or (.sourceId | tostring) == \"$GUEST\")] | length == 0"
qbo_state >"$T/qbo_state.json" # large: read with jq from the file, not through shell strings
GUEST_CUSTOMER=$(jq -r '[.entities.Customer[]? | select(.DisplayName == "Web guest")][0].Id // empty' "$T/qbo_state.json")
check "QuickBooks holds the catch-all customer Web guest" test -n "$GUEST_CUSTOMER"
assert_eq "QuickBooks holds the guest order's invoice, billed to Web guest" 1 \
    "$(jq --arg d "$GUEST" --arg c "$GUEST_CUSTOMER" \
        '[.entities.Invoice[]? | select(.DocNumber == $d and .CustomerRef.value == $c)] | length' "$T/qbo_state.json")"
finish
