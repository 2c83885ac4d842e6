#!/usr/bin/env bash
# tests/browser/failures.sh - the Failures page in headless chromium against the real engine and
# the mocks. A real full run in which the mapping refuses three orders (a line total with three
# decimals) leaves real failures; the page shows each one's error, cause in words, attempts,
# next retry and input; retry one, a selection and all from the page, and the API then shows
# exactly those records retried (their attempts go up); the Tab order of the list; the link to
# the mapping; a failure turned into a mapping test case from the page, saved as a file in a
# scratch MAPPINGS_DIR that `tallysync test` then runs and passes; a tenant token sees the draft
# and why it cannot save. Screenshots of the list and a failure at both sizes.
source "$(dirname "$0")/../integration/lib/common.sh"
source "$(dirname "$0")/../integration/lib/sync_env.sh"
source "$(dirname "$0")/lib/browser_env.sh"
source "$(dirname "$0")/lib/ops_env.sh"
require_tools jq curl python3
browser_require
copy_script_dirs # the test case is written into $T/mappings/tests/...

sync_mocks
browser_serve || finish
sync_credentials
TENANT_TOKEN=$(tenant_token default)
OTHER_TOKEN=$(tenant_token shop-b)

# three good orders and three the mapping refuses: a line total with a third decimal
seed_orders 5000 3 3 3 2026-01-01T00:00:00
python3 - "$FIXTURES_DIR/woocommerce/order.json" >"$T/bad.json" <<'PY'
import json, sys
tmpl = json.load(open(sys.argv[1]))
out = []
for i, oid in enumerate((7001, 7002, 7003)):
    o = json.loads(json.dumps(tmpl))
    o["id"] = oid
    o["number"] = str(oid)
    for k in ("date_created", "date_created_gmt", "date_modified", "date_modified_gmt"):
        o[k] = "2026-01-02T0%d:00:00" % i
    o["line_items"][0]["total"] = "6.001"
    out.append(o)
print(json.dumps({"entity": "orders", "records": out}))
PY
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/bad.json" >/dev/null

start_run '{"mode": "full"}'
[[ -n "$SYNC_ID" ]] || { fail "a full run starts" "$CODE $BODY"; finish; }
wait_run 180000
assert_eq "the run ends partial (three orders refused)" partial "$RUN_STATE"
http GET /api/sync/failures
assert_jq "the API holds the three refused orders as open failures" "$BODY" \
    '([.items[].sourceId | tostring] | sort) == ["7001", "7002", "7003"] and .total == 3'

browser_run "$ENG_SOURCE_DIR/tests/browser/failures.mjs" TENANT_TOKEN="$TENANT_TOKEN" OTHER_TOKEN="$OTHER_TOKEN" \
    RUN_ID="$SYNC_ID" OUT="$T/failures.json" BAD_ORDERS="$T/bad.json" WOO="$WOO" \
    SECRETS="$(printf '%s\n' "$WOO_SECRET" "$WOO_KEY" "$QBO_ACCESS_TOKEN" mock-secret "$TENANT_TOKEN" "$API_TOKEN")"

echo "== the test case saved from the page, run by tallysync test"
[[ -s "$T/failures.json" ]] || { fail "the browser script names the case it saved"; finish; }
MAPPING=$(jq -r .mapping "$T/failures.json")
CASE=$(jq -r .case "$T/failures.json")
FAILURE=$(jq -r .failure "$T/failures.json")
FILE="$MAPPINGS_DIR/tests/$MAPPING/$CASE.json"
check "the page wrote $MAPPING/$CASE.json into the scratch MAPPINGS_DIR" test -s "$FILE"
http GET "/api/sync/failures/$FAILURE"
assert_jq "... its input is the failed record's input" "$(jq -c --argjson f "$BODY" '{a: .input, b: $f.input}' "$FILE")" '.a == .b'
assert_jq "... with the settings the tenant ran with and the refusal the page entered" "$(cat "$FILE")" \
    '.settings.shipping_item_id == "SHIPPING_ITEM_ID" and .expected_error == "$.line_items[0].total"'
run_bin "$T/maptest" test "$MAPPING"
assert_eq "tallysync test $MAPPING passes, the new case included" 0 "$RC"
assert_contains "... and names it" "$OUT$ERR" "$CASE"
# the same case with an expectation the mapping does not meet fails: the file is really run
jq '.expected_error = "no such text in the error"' "$FILE" >"$T/wrong.json" && cp "$T/wrong.json" "$FILE"
run_bin "$T/maptest2" test "$MAPPING"
assert_eq "... and fails once its expectation is wrong" 1 "$RC"
finish
