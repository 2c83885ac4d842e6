#!/usr/bin/env bash
# console_ops_api.sh - the console's operations routes through the real API (issue 13): the
# overview (connections and their health, a running run, the queue, open failures, the last
# reconciliation; no secret anywhere in it), records per hour (zero-filled, then the counts of a
# real run against the mocks), a failure's detail with its cause in words (a mapping's refusal
# and a QuickBooks Fault), the draft test case of each (what `tallysync test` then runs, as
# drafted and once expected is edited), and tenant isolation (another tenant's failure is 404,
# its overview and counts are its own).
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

FLOW=woo_order_to_qbo_invoice
copy_script_dirs # the drafts are saved as test files into this copy of mappings/
sync_mocks
run_bin "$T/tok-b" token create --tenant shop-b
TOKEN_B=$(printf '%s' "$OUT" | head -n 1)
# no scheduled webhook check: the test makes the one it looks at
serve_start WORKERS=2 WEBHOOK_CHECK_INTERVAL_S=0 || finish
sync_credentials
# order 5101's tax rate maps to a TaxCode the company does not have: QuickBooks refuses it (2500)
SETTINGS='{"shipping_item_id": "SHIPPING_ITEM_ID", "income_account_id": "79", "tax_code_mappings": {"76": "999"}}'
sq "UPDATE settings SET value = '$SETTINGS' WHERE tenant_id = 'default' AND key = 'transformer_config'"

as_b() { HTTP_AUTH=0 http "$@" -H "Authorization: Bearer $TOKEN_B"; }

echo "== the routes need a token"
for r in "GET /api/overview" "GET /api/sync/stats/hourly" "GET /api/sync/failures/1" \
    "POST /api/sync/failures/1/test-case"; do
    HTTP_AUTH=0 http ${r% *} "${r#* }" -H 'Content-Type: application/json'
    assert_eq "$r without a token: 401" 401 "$CODE"
done

echo "== records per hour before anything ran: zero-filled"
http GET /api/sync/stats/hourly
assert_eq "GET /api/sync/stats/hourly: 200" 200 "$CODE"
assert_jq "7 days by default: 168 hours, every count 0" "$BODY" \
    '.days == 7 and (.hours | length) == 168 and all(.hours[]; .created + .updated + .unchanged + .skipped + .failed == 0)'
assert_jq "... whole hours, oldest first, one hour apart, from 'from' to 'to'" "$BODY" \
    '(.hours | map(.hour | fromdateiso8601)) as $h | all(.hours[]; .hour | test(":00:00Z$"))
     and ([range(1; $h | length) | $h[.] - $h[. - 1]] | all(. == 3600))
     and $h[0] == (.from | fromdateiso8601) and $h[-1] + 3600 == (.to | fromdateiso8601)'
assert_jq "... the last is the current hour" "$BODY" \
    "(.hours[-1].hour | fromdateiso8601) == ($(date +%s) / 3600 | floor) * 3600"
http GET '/api/sync/stats/hourly?days=1'
assert_jq "days=1: 24 hours" "$BODY" '(.hours | length) == 24'
for bad in 0 32 -1 x 7.5 ''; do
    http GET "/api/sync/stats/hourly?days=$bad"
    assert_eq "days=$bad: 400" 400 "$CODE"
done
assert_jq "... naming the range" "$BODY" '.error.code == "invalid_parameter" and (.error.message | test("1 to 31"))'

echo "== the connections' health in the overview"
for p in woocommerce quickbooks; do
    http POST "/api/integrations/$p/test" -H 'Content-Type: application/json' -d '{}'
    assert_jq "$p's connection test passes" "$BODY" '.ok == true'
done
http GET /api/overview
assert_eq "GET /api/overview: 200" 200 "$CODE"
OVERVIEW=$BODY
assert_jq "both connections, connected, with their account" "$BODY" \
    "[.connections[] | {platform, connected, account}] | sort_by(.platform) ==
     [{platform: \"quickbooks\", connected: true, account: \"9130357766900456\"},
      {platform: \"woocommerce\", connected: true, account: \"$WOO_STORE\"}]"
http GET /api/integrations
INTEGRATIONS=$BODY
assert_jq "token and refresh-token expiry are those GET /api/integrations shows" "$OVERVIEW" \
    "[.connections[] | {platform, tokenExpiresAt, refreshTokenExpiresAt}] | sort_by(.platform) ==
     ($INTEGRATIONS | [.integrations[] | select(.configured) | {platform, tokenExpiresAt: .accessTokenExpiresAt,
       refreshTokenExpiresAt}] | sort_by(.platform))"
assert_jq "WooCommerce's webhooks: not checked yet; QuickBooks has no webhook member" "$OVERVIEW" \
    '(.connections[] | select(.platform == "woocommerce") | .webhook.status) == "unchecked"
     and (.connections[] | select(.platform == "quickbooks") | .webhook) == null'
assert_jq "no error, no run, an empty queue, no failure, no reconciliation yet" "$OVERVIEW" \
    'all(.connections[]; .lastError == null) and .running == [] and .queue == {depth: 0, priority: 0, bulk: 0, running: 0}
     and .failures.open == 0 and .reconciliation == []'
http POST /api/integrations/woocommerce/webhooks/check -H 'Content-Type: application/json' -d '{}'
http GET /api/overview
assert_jq "after a check: the webhooks are failing, each missing topic a warning" "$BODY" \
    '(.connections[] | select(.platform == "woocommerce") | .webhook) as $w | $w.status == "failing"
     and ($w.warnings | length) > 0 and all($w.warnings[]; .code == "webhook_missing")'

echo "== a real run: 4 orders go through, 2 fail (the mapping refuses one, QuickBooks the other)"
seed_orders 5000 4 2 2 2026-01-01T00:00:00
python3 - "$FIXTURES_DIR/woocommerce/order.json" >"$T/bad.json" <<'EOF'
import json, sys
tmpl = json.load(open(sys.argv[1]))
out = []
for oid in (5100, 5101):
    o = json.loads(json.dumps(tmpl))
    o["id"], o["number"] = oid, str(oid)
    for k in ("date_created", "date_created_gmt", "date_modified", "date_modified_gmt"):
        o[k] = "2026-01-02T00:00:00"
    o["billing"]["email"] = "buyer0@example.com"
    o["billing"]["first_name"], o["billing"]["last_name"] = "Buyer", "No0"
    for li in o["line_items"]:
        li["sku"] = "SKU-0"
        li["name"] = "Product SKU-0"
    if oid == 5100:  # a plugin wrote a third decimal
        o["line_items"][0]["total"] = "6.001"
    else:  # another tax rate, mapped (by the settings) to a TaxCode QuickBooks lacks
        for li in o["line_items"]:
            for t in li["taxes"]:
                t["id"] = 76
        o["tax_lines"][0]["rate_id"] = 76
    out.append(o)
print(json.dumps({"entity": "orders", "records": out}))
EOF
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/bad.json" >/dev/null
ORDERS=$(woo_total)
# the store answers its first reads slowly: the run is seen running in the overview meanwhile
curl -s -X POST "$WOO/_mock/fault" -H 'Content-Type: application/json' -d '{"kind": "delay", "count": 2, "delay_ms": 3000}' >/dev/null
start_run '{"mode": "full"}'
assert_eq "the run is accepted" 202 "$CODE"
RUN_ID=$SYNC_ID
seen_running() {
    http GET /api/overview
    jq -e --arg id "$RUN_ID" '.running | any(.syncId == $id)' <<<"$BODY" >/dev/null
}
wait_for 20000 seen_running
assert_jq "the overview lists the run while it is queued or running, with its progress" "$BODY" \
    "[.running[] | select(.syncId == \"$RUN_ID\")][0] | .flow == \"$FLOW\" and .entity == \"orders\" and .mode == \"full\"
     and .dryRun == false and (.state | IN(\"queued\", \"running\")) and (.processed | type) == \"number\"
     and (.progress | type) == \"number\" and has(\"total\") and has(\"startedAt\")"
wait_run 180000
assert_jq "the run ends partial: all but 2 created, 2 failed" "$RUN" \
    ".state == \"partial\" and .counts.read == $ORDERS and .counts.created == $ORDERS - 2 and .counts.failed == 2"

echo "== records per hour after the run"
http GET /api/sync/stats/hourly
EXPECT=$(sq "SELECT json_group_object(h, json_object('created', c, 'failed', f)) FROM (SELECT
    substr(created_at, 1, 13) || ':00:00Z' AS h, sum(outcome = 'created') AS c,
    sum(outcome IN ('failed', 'conflict')) AS f FROM sync_records WHERE tenant_id = 'default'
    AND dry_run = 0 GROUP BY h)")
assert_jq "the hours with records are the store's, with its counts (the run's dependencies too)" "$BODY" \
    "[.hours[] | select(.created + .updated + .unchanged + .skipped + .failed > 0) | {key: .hour,
      value: {created, failed}}] | from_entries == $EXPECT"
assert_jq "... in all: the run's invoices and more (its customers and items), its 2 failures" "$BODY" \
    ".totals.created >= $ORDERS - 2 and .totals.failed == 2 and .totals.updated == 0"
echo "== the overview after the run"
http GET /api/overview
assert_jq "nothing running, the two failures open" "$BODY" '.running == [] and .failures.open == 2'
assert_jq "the flow's last reconciliation is this run's" "$BODY" \
    "[.reconciliation[] | select(.flow == \"$FLOW\")][0] | .syncId == \"$RUN_ID\" and .currency == \"USD\"
     and .differenceMinor == .targetTotalMinor - .sourceTotalMinor and (.finishedAt | type) == \"string\""
assert_jq "the queue holds nothing for the tenant now (retries wait on the records, not as jobs)" "$BODY" '.queue.running == 0'
ALL_ANSWERS="$OVERVIEW $BODY"

echo "== the failures list carries flow and cause"
http GET /api/sync/failures
assert_jq "two failures, each with its flow and a cause" "$BODY" \
    ".total == 2 and all(.items[]; .flow == \"$FLOW\" and (.cause | type) == \"string\" and (.cause | length) > 40)"
REFUSED=$(jq -r '.items[] | select(.sourceId == "5100") | .id' <<<"$BODY")
FAULT=$(jq -r '.items[] | select(.sourceId == "5101") | .id' <<<"$BODY")
assert_match "the mapping's refusal is listed" '^[0-9]+$' "$REFUSED"
assert_match "QuickBooks' refusal is listed" '^[0-9]+$' "$FAULT"
ALL_ANSWERS="$ALL_ANSWERS $BODY"

echo "== one failure: the error, its cause in words, attempts, next retry, the input"
http GET "/api/sync/failures/$REFUSED"
assert_eq "GET /api/sync/failures/{id}: 200" 200 "$CODE"
assert_jq "the mapping's refusal: code mapping, the field in the error, the record's input" "$BODY" \
    ".id == $REFUSED and .code == \"mapping\" and (.error | test(\"line_items\\\\[0\\\\].total\"))
     and .input.id == 5100 and .input.line_items[0].total == \"6.001\" and .flow == \"$FLOW\"
     and .runId == \"$RUN_ID\" and .sourceId == \"5100\" and .attempts == 1 and .retryable == false
     and has(\"nextRetryAt\") and .resolvedAt == null and .dryRun == false"
assert_jq "... its cause: too many decimals, fixed at the source or by a mapping that rounds" "$BODY" \
    '.cause | test("more decimals than its currency allows") and test("mapping")'
ALL_ANSWERS="$ALL_ANSWERS $BODY"
http GET "/api/sync/failures/$FAULT"
assert_jq "QuickBooks' refusal: Fault 2500 with its message, the input kept, retried later or not" "$BODY" \
    '.code == "2500" and (.error | test("Invalid Reference")) and .input.id == 5101 and .attempts == 1'
assert_jq "... its cause names the reference and where to fix it" "$BODY" \
    '.cause | test("Invalid Reference") and test("settings")'
ALL_ANSWERS="$ALL_ANSWERS $BODY"
for id in 0 999999 abc 1x 12345678901234567890; do
    http GET "/api/sync/failures/$id"
    assert_eq "failure '$id': 404" 404 "$CODE"
done
SUCCESS=$(sq "SELECT id FROM sync_records WHERE tenant_id = 'default' AND outcome = 'created' LIMIT 1")
http GET "/api/sync/failures/$SUCCESS"
assert_eq "a record that went through is not a failure: 404" 404 "$CODE"

echo "== a failure turned into a test case (a draft; nothing written)"
BEFORE=$(find "$MAPPINGS_DIR" -type f | sort | xargs md5sum)
http POST "/api/sync/failures/$REFUSED/test-case" -H 'Content-Type: application/json' -d '{}'
assert_eq "POST /api/sync/failures/{id}/test-case: 200" 200 "$CODE"
assert_jq "the refused record's draft: the mapping, failure-<sourceId>, the refusal form" "$BODY" \
    ".mapping == \"$FLOW\" and .case == \"failure-5100\" and .expects == \"error\" and .passesNow == true
     and (.body | keys) == [\"description\", \"expected_error\", \"input\", \"settings\"]
     and (.body.expected_error | test(\"line_items\\\\[0\\\\].total\"))"
assert_jq "... with the record as input and the tenant's settings" "$BODY" \
    ".body.input.id == 5100 and .body.settings == $SETTINGS"
DRAFT_REFUSED=$BODY
http POST "/api/sync/failures/$FAULT/test-case"
assert_eq "the QuickBooks refusal's draft (no body): 200" 200 "$CODE"
assert_jq "... expects a document: what the mapping makes now, the reference QuickBooks refused in it" "$BODY" \
    '.case == "failure-5101" and .expects == "document" and .passesNow == true and .body.expected.DocNumber == "5101"
     and ([.body.expected.Line[] | .SalesItemLineDetail.TaxCodeRef.value? // empty] | index("999") != null)'
DRAFT_FAULT=$BODY
ALL_ANSWERS="$ALL_ANSWERS $DRAFT_REFUSED $DRAFT_FAULT"
assert_eq "nothing was written under mappings/" "$BEFORE" "$(find "$MAPPINGS_DIR" -type f | sort | xargs md5sum)"

echo "== the drafts, saved as files, are what tallysync test runs"
mkdir -p "$MAPPINGS_DIR/tests/$FLOW"
jq .body <<<"$DRAFT_REFUSED" >"$MAPPINGS_DIR/tests/$FLOW/failure-5100.json"
jq .body <<<"$DRAFT_FAULT" >"$MAPPINGS_DIR/tests/$FLOW/failure-5101.json"
run_bin "$T/test1" test "$FLOW"
assert_eq "tallysync test passes with both drafts as drafted" 0 "$RC"
assert_contains "... running the refusal's case" "$OUT" "ok   $FLOW/failure-5100.json"
assert_contains "... and the document's" "$OUT" "ok   $FLOW/failure-5101.json"
# the person edits expected to what the mapping should make: the tax code that exists
jq '.body.expected.Line |= map(if .SalesItemLineDetail.TaxCodeRef? then .SalesItemLineDetail.TaxCodeRef.value = "TAX" else . end) | .body' \
    <<<"$DRAFT_FAULT" >"$MAPPINGS_DIR/tests/$FLOW/failure-5101.json"
# and for the refused record, the invoice it should become (the line rounded to 6.00)
jq '.body | del(.expected_error) | .expected = {DocNumber: "5100"}' <<<"$DRAFT_REFUSED" \
    >"$MAPPINGS_DIR/tests/$FLOW/failure-5100.json"
run_bin "$T/test2" test "$FLOW"
assert_eq "with expected edited, tallysync test fails until the mapping or settings change" 1 "$RC"
assert_contains "... the edited document's case, naming the field" "$OUT" "FAIL $FLOW/failure-5101.json"
assert_contains "... at the tax code" "$OUT" "TaxCodeRef.value"
assert_contains "... and the refused record's case" "$OUT" "FAIL $FLOW/failure-5100.json"

echo "== tenant isolation"
as_b GET "/api/sync/failures/$REFUSED"
assert_eq "another tenant's token: the failure is 404" 404 "$CODE"
as_b POST "/api/sync/failures/$REFUSED/test-case" -H 'Content-Type: application/json' -d '{}'
assert_eq "... and so is its test case" 404 "$CODE"
assert_not_contains "... which says nothing of it" "$BODY" "5100"
http GET "/api/sync/failures/$FAULT" -H 'X-Tenant-ID: shop-b'
assert_eq "the administrator acting as shop-b: 404 too" 404 "$CODE"
as_b GET /api/sync/failures
assert_jq "shop-b's failures list is empty" "$BODY" '.total == 0 and .items == []'
as_b GET /api/overview
assert_jq "shop-b's overview: its own (no connection, run, failure or reconciliation)" "$BODY" \
    '.tenant == "shop-b" and .connections == [] and .running == [] and .failures.open == 0 and .reconciliation == []'
as_b GET /api/sync/stats/hourly
assert_jq "shop-b's records per hour: all zero" "$BODY" '.totals | .created + .updated + .failed == 0'

echo "== no secret in any answer"
for s in "$WOO_KEY" "$WOO_SECRET" "$QBO_ACCESS_TOKEN" mock-secret "$API_TOKEN" "$INTEGRATION_ENCRYPTION_KEY" "$TOKEN_B"; do
    assert_not_contains "the answers never hold ${s:0:6}..." "$ALL_ANSWERS" "$s"
done
finish
