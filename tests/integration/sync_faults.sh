#!/usr/bin/env bash
# sync_faults.sh - runs under faults, and the routes that act on them: QuickBooks answering 500s,
# 429s, dropping a connection and expiring the token mid-run (the run still syncs everything);
# faults that outlast the retries (the records are failures with their cause, the run is
# partial) and POST /api/sync/retry clearing the transient ones but not a mapping error; a run
# stopped between records; a single-record job from the webhook lane.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

sync_mappings
sync_mocks
WH_SECRET="whs-faults-$RANDOM$RANDOM"
serve_start WORKERS=3 WOOCOMMERCE_WEBHOOK_SECRET="$WH_SECRET" || finish
sync_credentials
fault() { curl -s -X POST "$QBO/_mock/faults" -d "$1" >/dev/null; }
bad_orders() {
    qbo_state | jq --argjson f "$1" --argjson n "$2" '
        [.entities.Invoice[] | .DocNumber | tonumber | select(. >= $f and . < $f + $n)]
        | group_by(.) | map(length) as $g | ($n - ($g | length)) + ($g | map(select(. != 1)) | length)'
}

echo "== transient faults mid-run: 500s, 429s, a dropped connection, an expired token"
seed_orders 5000 50 13 7 2026-01-01T00:00:00
curl -s -X POST "$QBO/_mock/expire" -d "{\"access_token\": \"$QBO_ACCESS_TOKEN\"}" >/dev/null
fault '{"kind": "500", "count": 2, "path": "batch"}'
# (a page's dependencies are looked up with queries and created in batches: the faults meet those)
fault '{"kind": "429", "count": 2, "path": "query"}'
fault '{"kind": "drop", "count": 1, "path": "batch"}'
start_run '{"mode": "full"}'
wait_run 180000
assert_eq "the run succeeds" succeeded "$RUN_STATE"
assert_jq "... every record created, none failed" "$RUN" '.counts.failed == 0 and .counts.created == .counts.read'
assert_eq "... one invoice per order" 0 "$(bad_orders 5000 50)"
ST=$(qbo_state)
assert_ge "the expired token was refreshed at the token endpoint" "$(jq .token_calls <<<"$ST")" 1
assert_jq "the run met every injected fault (two 500s, two 429s, a 401)" "$ST" \
    '([.requests[] | select(.status == 500)] | length) >= 2 and
     ([.requests[] | select(.status == 429)] | length) >= 2 and
     ([.requests[] | select(.status == 401)] | length) >= 1'
assert_jq "... and the dropped connection (its request has no status)" "$ST" \
    '[.requests[] | select(.path == "batch") | select(.status == null)] | length >= 1' 

echo "== faults that outlast the retries, and a record the mapping refuses"
seed_orders 6000 20 13 7 2026-02-01T00:00:00
# an order whose lines do not add up to its total: the mapping refuses it (not retryable)
python3 - "$FIXTURES_DIR/woocommerce/order.json" >"$T/bad.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
o.update(id=6100, number="6100", total="999.00", date_modified_gmt="2026-02-02T00:00:00")
print(json.dumps({"entity": "orders", "records": [o]}))
PY
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/bad.json" >/dev/null
# every batch attempt of this run answers 500 (3 attempts per batch)
fault '{"kind": "500", "count": 3, "path": "batch"}'
start_run '{"mode": "incremental"}'
wait_run 180000
assert_eq "the run ends partial" partial "$RUN_STATE"
assert_jq "... 21 failed (20 by QuickBooks, 1 by the mapping)" "$RUN" '.counts.failed == 21'
assert_jq "... the errors summary names both causes" "$RUN" \
    '[.errorsSummary[].code] | (index("mapping") != null) and (map(select(test("^10000$|^http_500$"))) | length == 1)'
http GET "/api/sync/failures?limit=100"
assert_jq "failures list each record with its cause, attempts and next retry" "$BODY" \
    '.total == 21 and ([.items[] | select(.sourceId == "6005")][0] | .retryable == true and .attempts == 1 and .nextRetryAt != null and (.error | test("500")))'
assert_jq "... and the mapping's refusal, not retryable, naming the file and the order once" "$BODY" \
    '[.items[] | select(.sourceId == "6100")][0] | .retryable == false and (.error | test("^mappings/woo_order_to_qbo_invoice\\.lua(:[0-9]+)?: order 6100: does not reconcile")) and (.error | test("6100.*6100") | not)'
http POST /api/sync/retry -H 'Content-Type: application/json' --data-binary '{"colour": 1}'
assert_eq "retry with an unknown field: 422" 422 "$CODE"
http POST /api/sync/retry -H 'Content-Type: application/json' --data-binary "{\"runId\": \"$SYNC_ID\"}"
assert_eq "POST /api/sync/retry: 202" 202 "$CODE"
assert_jq "... queues the 21 records" "$BODY" '.records == 21 and (.jobs | length) == 1'
only_mapping_left() {
    http GET /api/sync/failures
    jq -e '.total == 1 and .items[0].sourceId == "6100"' <<<"$BODY" >/dev/null
}
wait_for 120000 only_mapping_left
assert_jq "retry clears the transient failures; the mapping's stays" "$BODY" \
    '.total == 1 and .items[0].sourceId == "6100" and .items[0].attempts == 2'
assert_eq "... and QuickBooks has one invoice per retried order" 0 "$(bad_orders 6000 20)"
http GET "/api/sync/status/$SYNC_ID"
assert_jq "the run still says what it did (partial, 21 failed) and what became of its failures" "$BODY" \
    '.state == "partial" and .counts.failed == 21 and .failures.failed == 21 and .failures.resolved == 20
     and .failures.open == 1 and .failures.resolution == "some" and (.failures.summary | test("20 resolved since, 1 still failing"))'
RUN_PARTIAL=$SYNC_ID

echo "== conflicts: an invoice edited in QuickBooks since the last sync"
policy() {
    sq "INSERT INTO settings (tenant_id, key, value) VALUES ('default',
        'sync_conflict_policy', '{\"woo_order_to_qbo_invoice\": \"$1\"}') ON CONFLICT DO
        UPDATE SET value = excluded.value"
}
inv() { qbo_state | jq -c '[.entities.Invoice[] | select(.DocNumber == "5001")][0]'; }
EDITED=$(inv | jq -c '.PrivateNote = "edited in QuickBooks" | .SyncToken = "5"')
curl -s -X POST "$QBO/_mock/seed" -d "{\"Invoice\": [$EDITED]}" >/dev/null
seed_orders 5001 1 13 7 2026-05-01T00:00:00 "3 Conflict Road"
policy manual
start_run '{"mode": "incremental"}'
wait_run 60000
# (order 6100, refused by the mapping, is read again by every incremental run: it never synced)
assert_jq "manual: the record is parked as a conflict" "$RUN" \
    '.state == "partial" and .counts.failed == 2 and ([.errorsSummary[] | select(.code == "conflict")] | length == 1)'
assert_jq "... the reconciliation explains the difference: records not written" "$RUN" \
    '.reconciliation.notWritten == 1 and .reconciliation.notWrittenSourceMinor == 2935 and .reconciliation.differenceMinor == -2935'
http GET "/api/sync/failures?runId=$SYNC_ID"
assert_jq "... in failures with both versions" "$BODY" \
    '[.items[] | select(.sourceId == "5001")][0] | .outcome == "conflict" and .conflict.ours.BillAddr.Line1 == "3 Conflict Road" and .conflict.theirs.PrivateNote == "edited in QuickBooks"'
assert_jq "... and QuickBooks keeps its edit" "$(inv)" '.PrivateNote == "edited in QuickBooks" and .SyncToken == "5"'
policy target_wins
seed_orders 5001 1 13 7 2026-05-02T00:00:00 "3 Conflict Road"
start_run '{"mode": "incremental"}'
wait_run 60000
assert_jq "target_wins: skipped, QuickBooks keeps its edit" "$RUN" '.counts.skipped == 1 and .counts.updated == 0'
assert_jq "..." "$(inv)" '.PrivateNote == "edited in QuickBooks"'
policy source_wins
seed_orders 5001 1 13 7 2026-05-03T00:00:00 "3 Conflict Road"
start_run '{"mode": "incremental"}'
wait_run 60000
assert_jq "source_wins: updated over the edit" "$RUN" '.counts.updated == 1 and .state == "succeeded"'
assert_jq "... QuickBooks has the order's version" "$(inv)" '.BillAddr.Line1 == "3 Conflict Road" and .SyncToken == "6"'
http GET /api/sync/failures
assert_jq "... and the parked conflict is resolved" "$BODY" '[.items[] | select(.sourceId == "5001")] | length == 0'
policy sometimes
seed_orders 5001 1 13 7 2026-05-04T00:00:00 "4 Conflict Road"
start_run '{"mode": "incremental"}'
wait_run 60000
assert_jq "a bad policy fails the run, naming it" "$RUN" '.state == "failed" and (.error | test("sometimes"))'
policy source_wins

echo "== a webhook's single-record job overtakes a running backfill; stop"
seed_orders 7000 60 13 7 2026-06-01T00:00:00
seed_orders 7500 1 13 7 2026-06-05T00:00:00
# each batch of 5 takes 5 s and 2 are in flight at once: the run's 13 pages to create last
# half a minute, well past the record job (whose plain create is not slowed), and the stop
# finds pages in flight (recorded before the run ends)
curl -s -X POST "$QBO/_mock/config" -d '{"item_ms": 1000}' >/dev/null
sq "INSERT INTO settings (tenant_id, key, value) VALUES ('default', 'sync_parallel_requests', '2')"
CURSOR=$(sq "SELECT last_sync_at FROM sync_state")
start_run '{"mode": "full", "filters": {"per_page": 5}}'
RUN3=$SYNC_ID
some_done() {
    http GET "/api/sync/status/$RUN3"
    jq -e '.state == "running" and .counts.read > 0' <<<"$BODY" >/dev/null
}
wait_for 60000 some_done
# what POST /api/webhooks/woocommerce queues (another issue): a record job in the record lane
sq "INSERT INTO sync_queue (tenant_id, kind, entity, payload, priority) VALUES
    ('default', 'record', 'orders', '{\"source\": \"woocommerce\", \"entity\": \"orders\", \"id\": \"7500\", \"event\": \"updated\"}', 10)"
job_done() { [[ "$(sq "SELECT status FROM sync_queue WHERE kind = 'record'")" == done ]]; }
wait_for 60000 job_done
assert_eq "the record job is done" done "$(sq "SELECT status FROM sync_queue WHERE kind = 'record'")"
http GET "/api/sync/status/$RUN3"
assert_jq "... while the backfill is still running" "$BODY" '.state == "running"'
assert_eq "... the order's invoice is created" 0 "$(bad_orders 7500 1)"
assert_eq "... its outcome is recorded outside any run" "created" \
    "$(sq "SELECT outcome FROM sync_records WHERE source_id = '7500' AND run_id IS NULL")"
http POST "/api/sync/$RUN3/stop"
assert_eq "POST /api/sync/{id}/stop: 202" 202 "$CODE"
assert_jq "... cancel requested" "$BODY" '.cancelRequested == true'
SYNC_ID=$RUN3 wait_run 60000
assert_eq "the run ends cancelled" cancelled "$RUN_STATE"
TOTAL=$(woo_total)
assert_jq "... with what it did recorded (some, not all)" "$RUN" \
    ".counts.read > 0 and .counts.read < $TOTAL and .finishedAt != null"
assert_eq "... and the cursor did not move" "$CURSOR" "$(sq "SELECT last_sync_at FROM sync_state")"
curl -s -X POST "$QBO/_mock/config" -d '{"item_ms": 0}' >/dev/null
sq "DELETE FROM settings WHERE tenant_id = 'default' AND key = 'sync_parallel_requests'"

echo "== a webhook job racing a run on the same new order never creates it twice"
seed_orders 7600 2 13 7 2026-07-01T00:00:00
fault '{"kind": "delay", "ms": 4000, "count": 1, "path": "batch"}'
start_run '{"mode": "full", "filters": {"ids": [7600, 7601]}}'
RUN4=$SYNC_ID
batch_in_flight() { qbo_state | jq -e '[.requests[] | select(.path == "batch" and .status == null)] | length > 0' >/dev/null; }
wait_for 60000 batch_in_flight
sq "INSERT INTO sync_queue (tenant_id, kind, entity, payload, priority) VALUES
    ('default', 'record', 'orders', '{\"source\": \"woocommerce\", \"entity\": \"orders\", \"id\": \"7600\"}', 10)"
race_job_done() { [[ "$(sq "SELECT status FROM sync_queue WHERE kind = 'record' AND payload LIKE '%7600%'")" == done ]]; }
wait_for 60000 race_job_done
SYNC_ID=$RUN4 wait_run 60000
assert_eq "the run succeeds" succeeded "$RUN_STATE"
assert_eq "one invoice for each of the two orders" 0 "$(bad_orders 7600 2)"
assert_eq "the webhook job left the record to the run (in_flight, retryable)" "failed|in_flight|1" \
    "$(sq "SELECT outcome || '|' || error_code || '|' || retryable FROM sync_records WHERE source_id = '7600' AND run_id IS NULL")"
http POST /api/sync/retry -H 'Content-Type: application/json' --data-binary '{"entity": "orders", "flow": "woo_order_to_qbo_invoice"}'
race_resolved() { [[ "$(sq "SELECT count(*) FROM sync_records WHERE source_id = '7600' AND outcome = 'failed' AND resolved_at IS NULL")" == 0 ]]; }
wait_for 60000 race_resolved
assert_eq "a retry finds it synced and clears the failure" 0 \
    "$(sq "SELECT count(*) FROM sync_records WHERE source_id = '7600' AND outcome = 'failed' AND resolved_at IS NULL")"
assert_eq "... still one invoice" 0 "$(bad_orders 7600 1)"

echo "== webhook jobs of other kinds: a sweep after downtime, a QuickBooks change"
seed_orders 7700 1 13 7 2027-09-01T00:00:00
sq "INSERT INTO sync_queue (tenant_id, kind, payload, priority, dedupe_key) VALUES ('default', 'sweep',
    '{\"source\": \"woocommerce\", \"reason\": \"startup\", \"since\": \"2027-08-31T00:00:00.000Z\"}', 5, 'sweep:woocommerce')"
sq "INSERT INTO sync_queue (tenant_id, kind, entity, payload, priority) VALUES ('default', 'record', 'Invoice',
    '{\"source\": \"quickbooks\", \"entity\": \"Invoice\", \"id\": \"134\", \"operation\": \"Update\", \"realmId\": \"9130357766900456\"}', 10)"
jobs_done() { [[ "$(sq "SELECT count(*) FROM sync_queue WHERE kind IN ('sweep', 'record') AND status IN ('pending', 'running')")" == 0 ]]; }
wait_for 60000 jobs_done
assert_eq "the sweep re-read what changed since the downtime: the new order's invoice exists" 0 "$(bad_orders 7700 1)"
assert_eq "... only that (outcomes recorded outside any run since the sweep's time)" "7700" \
    "$(sq "SELECT group_concat(source_id) FROM sync_records WHERE run_id IS NULL AND source_id >= '7700' AND source_id < '7800'")"
assert_eq "both jobs are done, none dead" "done|done" \
    "$(sq "SELECT group_concat(status, '|') FROM (SELECT status FROM sync_queue WHERE kind = 'sweep' OR entity = 'Invoice' ORDER BY id)")"

echo "== a signed WooCommerce delivery: its event shows what it did, and to which document"
seed_orders 7900 1 13 7 2027-10-01T00:00:00
deliver() { # DELIVERY_ID: a signed order.updated delivery for order 7900
    local body='{"id":7900,"status":"processing"}'
    http POST /api/webhooks/woocommerce -H 'Content-Type: application/json' \
        -H "X-WC-Webhook-Source: $WOO_STORE/" -H 'X-WC-Webhook-Topic: order.updated' \
        -H 'X-WC-Webhook-Resource: order' -H 'X-WC-Webhook-Event: updated' -H 'X-WC-Webhook-ID: 9' \
        -H "X-WC-Webhook-Delivery-ID: $1" \
        -H "X-WC-Webhook-Signature: $(printf '%s' "$body" | python3 "$ENG_SOURCE_DIR/tests/mocks/webhook_client.py" sign "$WH_SECRET")" \
        --data-binary "$body"
}
event_of() { # DELIVERY_ID: the event's JSON once its job has settled it
    http GET /api/webhooks/events
    EVENT=$(jq -c --arg d "$1" '[.events[] | select(.eventId == $d)][0]' <<<"$BODY")
    jq -e '.status == "processed" or .status == "failed"' <<<"$EVENT" >/dev/null
}
deliver wh-7900-a
assert_eq "the delivery is accepted" 200 "$CODE"
wait_for 60000 event_of wh-7900-a
INV=$(qbo_state | jq -r '[.entities.Invoice[] | select(.DocNumber == "7900")][0].Id')
assert_jq "the event shows its outcome (created) and the invoice it made" "$EVENT" \
    ".status == \"processed\" and .outcome == \"created\" and .target == {\"system\": \"quickbooks\", \"entity\": \"Invoice\", \"id\": \"$INV\"}"
deliver wh-7900-b
wait_for 60000 event_of wh-7900-b
assert_jq "the same order again: unchanged, the same invoice" "$EVENT" \
    ".outcome == \"unchanged\" and .target.id == \"$INV\" and .result.flow == \"woo_order_to_qbo_invoice\""
http GET /api/webhooks/events
assert_jq "... and the first event still shows created" "$BODY" \
    '[.events[] | select(.eventId == "wh-7900-a")][0].outcome == "created"'
seed_orders 7900 1 13 7 2027-10-02T00:00:00 "4 Replay Road"
EV_A=$(jq -r '[.events[] | select(.eventId == "wh-7900-a")][0].id' <<<"$BODY")
http POST "/api/webhooks/events/$EV_A/replay"
assert_eq "the first delivery replayed after the order changed" 200 "$CODE"
wait_for 60000 event_of wh-7900-a
assert_jq "... now shows what the replay did: updated, the same invoice" "$EVENT" \
    ".outcome == \"updated\" and .target.id == \"$INV\" and .replayCount == 1"

echo "== the refused order fixed at its source and retried: the partial run shows every failure resolved"
python3 - "$FIXTURES_DIR/woocommerce/order.json" >"$T/fixed.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
o.update(id=6100, number="6100", date_modified_gmt="2026-02-03T00:00:00")
print(json.dumps({"entity": "orders", "records": [o]}))
PY
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/fixed.json" >/dev/null
http POST /api/sync/retry -H 'Content-Type: application/json' --data-binary "{\"runId\": \"$RUN_PARTIAL\"}"
none_left() { http GET /api/sync/failures; jq -e '.total == 0' <<<"$BODY" >/dev/null; }
wait_for 120000 none_left
http GET "/api/sync/status/$RUN_PARTIAL"
assert_jq "after the fix and a retry: partial, every failure resolved, and when" "$BODY" \
    '.state == "partial" and .failures.resolution == "all" and .failures.open == 0 and .failures.resolved == 21
     and (.failures.lastResolvedAt | test("^20")) and (.failures.summary | test("all 21 resolved since, the last at 20"))'
http GET "/api/sync/history?state=partial&limit=500"
assert_jq "... the history shows it too" "$BODY" \
    "[.items[] | select(.syncId == \"$RUN_PARTIAL\")][0].failures.resolution == \"all\""

serve_stop
assert_eq "serve stops cleanly" 0 "$STOP_RC"
finish
