#!/usr/bin/env bash
# sync_e2e.sh - the orchestrator end to end: the real binary, the WooCommerce and QuickBooks
# mocks, real SQLite. A full run of N orders creates exactly the customers, items and invoices;
# a second full run writes nothing; an incremental run after K orders change updates those K;
# a dry run changes nothing in the mock or the store; the API's run shapes, 409, 4xx, history.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

N=${SYNC_E2E_ORDERS:-120}
CUSTOMERS=17
SKUS=9
K=7

sync_mappings
sync_mocks
serve_start WORKERS=3 || finish
sync_credentials

echo "== bad requests name the field"
http POST /api/sync/orders -H 'Content-Type: application/json' --data-binary '{"mode": "sometimes"}'
assert_eq "unknown mode: 422 (a well-formed body with a bad field)" 422 "$CODE"
assert_jq "... names mode" "$BODY" '.error.details.field == "mode"'
http POST /api/sync/orders -H 'Content-Type: application/json' --data-binary '{"mode": "full", "filters": {"colour": "red"}}'
assert_jq "unknown filter: 422 naming filters.colour" "$BODY" '(.error.message | test("filters.colour"))'
http POST /api/sync/orders -H 'Content-Type: application/json' --data-binary '{"dryRun": "yes"}'
assert_jq "dryRun not a boolean: 422 naming it" "$BODY" '.error.details.field == "dryRun"'
http POST /api/sync/invoices -H 'Content-Type: application/json' --data-binary '{"mode": "full"}'
assert_eq "unknown entity: 404" 404 "$CODE"
assert_jq "... names the entity" "$BODY" '.error.details.field == "entity"'
http POST /api/sync/orders -H 'Content-Type: application/json' --data-binary '{"mode": "full", "flow": "nope"}'
assert_jq "unknown flow: 404 naming flow" "$BODY" '.error.details.field == "flow"'
http POST /api/sync/orders -H 'Content-Type: application/json' --data-binary '{"mode": "full", "extra": 1}'
assert_jq "unknown body field: 422 naming it" "$BODY" '.error.message | test("extra")'

echo "== a full run of $N orders"
# a vendor already uses buyer 3's name (DisplayName is unique across customers, vendors and
# employees): the customer's create meets 6240 and the mapping's disambiguate names it anew
curl -s -X POST "$QBO/_mock/seed" -H 'Content-Type: application/json' \
    -d '{"Vendor": [{"DisplayName": "Buyer No3"}]}' >/dev/null
FIX=$(woo_total)
assert_match "the WooCommerce mock counts its fixture orders" '^[0-9]+$' "$FIX"
ALL=$((N + FIX))
seed_orders 5000 "$N" "$CUSTOMERS" "$SKUS" 2026-01-01T00:00:00
start_run '{"mode": "full", "dryRun": false}'
assert_eq "POST /api/sync/orders: 202" 202 "$CODE"
assert_match "... with a syncId" '^sync_[0-9a-f]{32}$' "$SYNC_ID"
FIRST=$SYNC_ID
http POST /api/sync/orders -H 'Content-Type: application/json' --data-binary '{"mode": "full"}'
if [[ "$CODE" == 409 ]]; then
    assert_jq "a second run of the flow while one is active: 409 with its syncId" "$BODY" \
        ".error.details.syncId == \"$FIRST\""
else
    # the first run may already be over on a fast machine: then this one is accepted
    assert_eq "a second run while one is active is 409 (or 202 once it finished)" 202 "$CODE"
    SECOND=$(jq -r .syncId <<<"$BODY")
    SYNC_ID=$SECOND wait_run
fi
SYNC_ID=$FIRST
wait_run 180000
assert_eq "the run succeeds" succeeded "$RUN_STATE"
# for the record (not asserted: timing belongs to bench/)
echo "     (full run: $(jq -r '[.startedAt, .finishedAt] | map(sub("\\.[0-9]+Z$"; "Z") | fromdate) | .[1] - .[0]' <<<"$RUN") s for $N orders)"
[[ "$RUN_STATE" == succeeded ]] || fail "... run" "$RUN" "$(grep -v '"level":"debug"' "$SERVE_LOG" | tail -n 20)"
assert_jq "... created $N invoices, read $N, failed 0" "$RUN" \
    ".counts.created == $ALL and .counts.read == $ALL and .counts.failed == 0 and .progress == 1"
assert_jq "... has started/finished times and the cursor it stores" "$RUN" \
    '.startedAt != null and .finishedAt != null and .cursorTo != null'
ST=$(qbo_state)
# the woo mock's fixtures hold 3 more orders (723, 727 and the list): count ours only
assert_eq "QuickBooks holds one invoice per order" "$N" \
    "$(jq '[.entities.Invoice[] | select((.DocNumber | tonumber) >= 5000)] | length' <<<"$ST")"
assert_eq "... no DocNumber twice" "$N" \
    "$(jq '[.entities.Invoice[] | select((.DocNumber | tonumber) >= 5000) | .DocNumber] | unique | length' <<<"$ST")"
assert_eq "... one customer per buyer" "$CUSTOMERS" "$(jq '[.entities.Customer[] | select(.PrimaryEmailAddr.Address // "" | startswith("buyer"))] | length' <<<"$ST")"
assert_eq "... the name clash was disambiguated (6240), the vendor kept" \
    "Buyer No3 (buyer3@example.com)|Buyer No3" \
    "$(jq -r '[(.entities.Customer[] | select(.PrimaryEmailAddr.Address == "buyer3@example.com") | .DisplayName),
              (.entities.Vendor[] | .DisplayName)] | join("|")' <<<"$ST")"
assert_eq "... one item per sku" "$SKUS" "$(jq '[.entities.Item[] | select(.Sku // "" | startswith("SKU-"))] | length' <<<"$ST")"
assert_eq "... every invoice bills the customer of its order" 0 "$(jq --argjson c "$CUSTOMERS" '
    (.entities.Customer | map({key: .Id, value: .PrimaryEmailAddr.Address}) | from_entries) as $m
    | [.entities.Invoice[] | select((.DocNumber | tonumber) >= 5000)
       | select($m[.CustomerRef.value] != ("buyer\((.DocNumber | tonumber) % $c)@example.com"))]
    | length' <<<"$ST")"
assert_jq "reconciliation: $N records reconciled, no mismatch, sums equal" "$RUN" \
    ".reconciliation.reconciled == $ALL and .reconciliation.mismatched == 0 and
     .reconciliation.sourceTotalMinor == .reconciliation.targetTotalMinor and
     .reconciliation.sourceTotalMinor >= ($N * 2935) and .reconciliation.currency == \"USD\""
IDMAP=$(sq "SELECT count(*) FROM id_map WHERE target_type = 'Invoice' AND target_id IS NOT NULL")
assert_eq "the id map holds every order" "$ALL" "$IDMAP"

echo "== a second full run writes nothing"
BEFORE=$(jq -S '.entities' <<<"$ST")
start_run '{"mode": "full"}'
wait_run 120000
assert_jq "every record is unchanged" "$RUN" \
    ".state == \"succeeded\" and .counts.unchanged == $ALL and .counts.created == 0 and .counts.updated == 0"
assert_eq "QuickBooks is untouched (same objects, same SyncTokens)" "$BEFORE" "$(qbo_state | jq -S '.entities')"

echo "== an incremental run after $K orders change updates those $K"
# the cursor is the newest order of the full runs (one hour apart, so the overlap window re-reads
# that one alone); the changed orders are modified later
seed_orders 5010 "$K" "$CUSTOMERS" "$SKUS" 2027-03-01T00:00:00 "1 Changed Street"
start_run '{"mode": "incremental"}'
wait_run 120000
assert_jq "$K updated, nothing created; read: those $K and the one in the overlap window" "$RUN" \
    ".state == \"succeeded\" and .counts.updated == $K and .counts.created == 0 and .counts.read == $((K + 1)) and .counts.unchanged == 1 and .cursorFrom != null"
ST=$(qbo_state)
assert_eq "... exactly those invoices moved to SyncToken 1" \
    "$(seq 5010 $((5010 + K - 1)) | paste -sd, -)" \
    "$(jq -r '[.entities.Invoice[] | select(.SyncToken == "1") | .DocNumber | tonumber] | sort | map(tostring) | join(",")' <<<"$ST")"
assert_eq "... with the new address" "$K" \
    "$(jq '[.entities.Invoice[] | select(.BillAddr.Line1 == "1 Changed Street")] | length' <<<"$ST")"
CURSOR=$(sq "SELECT last_sync_at FROM sync_state WHERE entity_type = 'orders'")
assert_match "the cursor moved to the newest committed record" '^2027-03-01T06:00:00Z$' "$CURSOR"

echo "== a full run never moves the cursor backwards"
start_run '{"mode": "full"}'
wait_run 120000
assert_eq "... (full run over older records)" "$CURSOR" \
    "$(sq "SELECT last_sync_at FROM sync_state WHERE entity_type = 'orders'")"

echo "== a dry run changes nothing"
seed_orders 5020 1 "$CUSTOMERS" "$SKUS" 2026-04-01T00:00:00 "2 Dry Lane"
seed_orders 9000 1 998 998 2026-04-01T00:00:00
BEFORE=$(qbo_state | jq -S '.entities')
DB_BEFORE=$(sq "SELECT group_concat(source_id || ':' || coalesce(target_id, '') || ':' || coalesce(content_hash, ''), ',') FROM (SELECT * FROM id_map ORDER BY id); SELECT group_concat(last_sync_at) FROM sync_state")
start_run '{"mode": "full", "dryRun": true}'
wait_run 120000
assert_jq "the dry run reports 1 would-update and 1 would-create" "$RUN" \
    '.state == "succeeded" and .dryRun == true and .counts.updated == 1 and .counts.created == 1'
assert_eq "QuickBooks is untouched" "$BEFORE" "$(qbo_state | jq -S '.entities')"
assert_eq "the id map and the cursor are untouched" "$DB_BEFORE" \
    "$(sq "SELECT group_concat(source_id || ':' || coalesce(target_id, '') || ':' || coalesce(content_hash, ''), ',') FROM (SELECT * FROM id_map ORDER BY id); SELECT group_concat(last_sync_at) FROM sync_state")"
DIFF=$(sq "SELECT diff FROM sync_records WHERE run_id = '$SYNC_ID' AND source_id = '5020'")
assert_jq "the would-update shows the field difference" "$DIFF" '.BillAddr.to.Line1 == "2 Dry Lane"'
OUT=$(sq "SELECT output FROM sync_records WHERE run_id = '$SYNC_ID' AND source_id = '9000'")
assert_jq "the would-create shows the document with placeholders for new dependencies" "$OUT" \
    '.DocNumber == "9000" and (.CustomerRef.value | startswith("{{customer"))'
http GET "/api/sync/status/$SYNC_ID/records?outcome=updated"
assert_jq "GET .../records?outcome=updated: the would-update with its differences" "$BODY" \
    '.total == 1 and .items[0].source.id == "5020" and .items[0].outcome == "updated" and .items[0].dryRun == true
     and .items[0].differences.BillAddr.to.Line1 == "2 Dry Lane" and .items[0].target.entity == "Invoice"
     and (.items[0].target.id | length > 0) and .items[0].document.BillAddr.Line1 == "2 Dry Lane"'
http GET "/api/sync/status/$SYNC_ID/records?outcome=created,updated&limit=1"
assert_jq "... several outcomes, paged" "$BODY" '.total == 2 and (.items | length) == 1 and .limit == 1'
http GET "/api/sync/status/$SYNC_ID/records?limit=3&offset=2"
assert_jq "... without a filter: every record of the run, paged" "$BODY" \
    "(.total == $(jq .counts.read <<<"$RUN")) and (.items | length) == 3 and .offset == 2"
http GET "/api/sync/status/$SYNC_ID/records?outcome=created"
assert_jq "... the would-create with its document" "$BODY" \
    '.total == 1 and .items[0].source.id == "9000" and .items[0].document.DocNumber == "9000" and .items[0].target.id == null'
http GET "/api/sync/status/$SYNC_ID/records?outcome=sideways"
assert_eq "... an unknown outcome: 400" 400 "$CODE"
http GET "/api/sync/status/$SYNC_ID/records" -H 'X-Tenant-ID: other'
assert_eq "... another tenant's run: 404" 404 "$CODE"

echo "== status, history"
http GET "/api/sync/status?limit=2"
assert_jq "status lists runs newest first, paged" "$BODY" \
    ".items | length == 2 and .[0].syncId == \"$SYNC_ID\""
assert_jq "... with the total" "$BODY" '.total >= 5 and .limit == 2'
http GET "/api/sync/history?mode=incremental"
assert_jq "history filters by mode" "$BODY" '.items | length == 1 and .[0].mode == "incremental"'
http GET "/api/sync/status?limit=0"
assert_eq "a bad limit: 400" 400 "$CODE"
http GET /api/sync/status/sync_nope
assert_eq "an unknown run: 404" 404 "$CODE"
http GET /api/sync/status -H 'X-Tenant-ID: other'
assert_jq "another tenant sees none of these runs" "$BODY" '.total == 0'
http POST "/api/sync/$SYNC_ID/stop"
assert_eq "stopping a finished run: 409" 409 "$CODE"

grep -q '"level":"error"' "$SERVE_LOG" && fail "no error in the engine's log" "$(grep '"level":"error"' "$SERVE_LOG" | head -n 5)"
serve_stop
assert_eq "serve stops cleanly" 0 "$STOP_RC"
finish
