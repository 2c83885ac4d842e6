#!/usr/bin/env bash
# tests/integration/demo.sh - the newcomer's sandbox (tools/start.sh --demo -> tools/demo.sh):
# the mocks and the engine come up, the sandbox tenant's WooCommerce and QuickBooks connections
# test green, and the seed's quick-start calls work without a token, as the seed wrote them.
source "$(dirname "$0")/lib/common.sh"
require_tools python3 curl jq

demo_up() { grep -q "Try the seed's quick start" "$T/demo.out" 2>/dev/null || pid_gone "$DEMO_PID"; }

DEMO_DIR="$T/demo" API_PORT=0 MOCK_FIXTURES="$SHARED_DIR/fixtures/woocommerce" \
    "$ENG_SOURCE_DIR/tools/demo.sh" >"$T/demo.out" 2>"$T/demo.err" &
DEMO_PID=$!
bg_track "$DEMO_PID"
wait_for 60000 demo_up
check "the demo comes up and prints the seed's quick start" grep -q "Try the seed's quick start" "$T/demo.out" ||
    { cat "$T/demo.err" "$T/demo/engine.log" 2>/dev/null | tail -n 20; finish; }
BASE=$(grep -m1 -oE 'serving http://127\.0\.0\.1:[0-9]+' "$T/demo.out" | cut -d' ' -f2)

echo "== the seed's calls, without a token"
HTTP_AUTH=0 http GET /api/integrations
assert_eq "GET /api/integrations answers the sandbox tenant" 200 "$CODE"
assert_jq "WooCommerce is connected (its test passed against the mock store)" "$BODY" \
    '.integrations[] | select(.platform == "woocommerce") | .status == "connected"'
assert_jq "QuickBooks is connected (its test passed against the mock company)" "$BODY" \
    '.integrations[] | select(.platform == "quickbooks") | .status == "connected"'
assert_jq "no secret is shown" "$BODY" \
    '[.integrations[].fields | to_entries[] | select(.key | test("secret|token")) | .value] | all(. == "********")'
HTTP_AUTH=0 http GET /api/integrations/woocommerce/status
assert_eq "the seed's status call: 200" 200 "$CODE"

HTTP_AUTH=0 http POST /api/sync/orders -H "Content-Type: application/json" \
    -d '{"mode": "full", "dryRun": false}'
assert_eq "the seed's sync call is accepted: 202" 202 "$CODE"
SYNC_ID=$(jq -r .syncId <<<"$BODY")
run_done() {
    HTTP_AUTH=0 http GET "/api/sync/status/$SYNC_ID"
    jq -e '.state | IN("succeeded", "partial", "failed", "cancelled")' <<<"$BODY" >/dev/null
}
wait_for 120000 run_done
RUN=$BODY
assert_jq "the run succeeds" "$RUN" '.state == "succeeded" and .counts.failed == 0'
QBO=$(grep -m1 -oE 'see http://127\.0\.0\.1:[0-9]+' "$T/demo.out" | cut -d' ' -f2)
STATE=$(curl -s "$QBO/_mock/state")
assert_jq "it read the store's 22 orders (2 fixtures + 20 generated)" "$RUN" '.counts.read == 22'
assert_eq "the mock QuickBooks holds one invoice per order" 22 "$(jq -r .counts.Invoice <<<"$STATE")"
assert_jq "... and the run says it created them" "$RUN" '.counts.created == 22'
HTTP_AUTH=0 http GET /api/sync/status
assert_jq "the seed's status call lists the run" "$BODY" "[.items[].syncId] | index(\"$SYNC_ID\") != null"
HTTP_AUTH=0 http GET /api/sync/history
assert_jq "the seed's history call lists it once it is finished" "$BODY" \
    "[.items[].syncId] | index(\"$SYNC_ID\") != null"

echo "== a signed WooCommerce webhook syncs one new order"
WOO=$(grep -m1 -oE 'store  http://127\.0\.0\.1:[0-9]+' "$T/demo.out" | awk '{print $2}')
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' -d '{"entity": "orders",
    "generate": 1, "start_id": 3001, "start": "2026-11-25T10:00:00", "statuses": ["processing"]}' >/dev/null
HOOK=$(jq -n --arg url "$BASE/api/webhooks/woocommerce?tenant=sandbox" \
    --arg secret "$(cat "$T/demo/webhook_secret")" \
    '{url: $url, secret: $secret, topic: "order.created", id: 3001}')
FIRED=$(curl -s -X POST "$WOO/_mock/webhook" -H 'Content-Type: application/json' -d "$HOOK")
assert_jq "the engine acknowledges the signed delivery" "$FIRED" '.status == 200'
event_done() {
    HTTP_AUTH=0 http GET /api/webhooks/events
    jq -e '.events[0].status == "processed"' <<<"$BODY" >/dev/null
}
wait_for 60000 event_done
assert_jq "the delivery is kept and marked processed once its job ran" "$BODY" \
    '.events[0] | .status == "processed" and .topic == "order.created"'
assert_eq "... and the new order is the 23rd invoice in the mock QuickBooks" 23 \
    "$(curl -s "$QBO/_mock/state" | jq -r .counts.Invoice)"

kill -TERM "$DEMO_PID"
wait_for 15000 pid_gone "$DEMO_PID"
check "Ctrl-C (SIGTERM) stops the demo" pid_gone "$DEMO_PID"
engine_down() { HTTP_AUTH=0 http GET /health; [[ $CODE == 000 ]]; }
mock_down() { ! curl -s --max-time 2 -o /dev/null "$QBO/_mock/state"; }
wait_for 10000 engine_down
check "... and its engine with it" engine_down
wait_for 10000 mock_down
check "... and the mocks" mock_down
finish
