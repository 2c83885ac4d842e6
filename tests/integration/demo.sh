#!/usr/bin/env bash
# tests/integration/demo.sh - the newcomer's sandbox (tools/start.sh --demo -> tools/demo.sh):
# the mocks and the engine come up, the sandbox tenant's WooCommerce, QuickBooks and Supabase
# connections test green and its webhooks are registered and healthy, and the seed's quick-start
# calls work without a token, as the seed wrote them. Also (issue 10, items 17-21): each start
# is fresh (database and mocks agree), a second demo on the same folder is refused and leaves
# the first untouched, the command line on the demo database reaches the mocks (operator
# settings), /connect completes against the mock, the Supabase flow writes rows in the stand-in,
# the banner's commands work as printed from another folder, and tools/start.sh refuses what it
# does not know. Issue 13: the console's address is the first line once the engine is up, and
# the demo's own first run leaves runs, invoices and a failure a mapping fix resolves for the
# console to show (through the API: history, failures with their cause, the overview).
source "$(dirname "$0")/lib/common.sh"
require_tools python3 curl jq flock

N=0
demo_up() { grep -q "Try the seed's quick start" "$T/demo.$N.out" 2>/dev/null || pid_gone "$DEMO_PID"; }
# start_demo: start tools/demo.sh on $T/demo; sets DEMO_PID, BASE, QBO, WOO, SUPA.
start_demo() {
    N=$((N + 1))
    DEMO_DIR="$T/demo" API_PORT=0 MOCK_FIXTURES="$FIXTURES_DIR/woocommerce" \
        "$ENG_SOURCE_DIR/tools/demo.sh" >"$T/demo.$N.out" 2>"$T/demo.$N.err" &
    DEMO_PID=$!
    bg_track "$DEMO_PID"
    wait_for 60000 demo_up
    check "demo #$N comes up and prints the seed's quick start" grep -q "Try the seed's quick start" "$T/demo.$N.out" ||
        { cat "$T/demo.$N.err" "$T/demo/engine.log" 2>/dev/null | tail -n 20; finish; }
    BASE=$(grep -m1 -oE 'serving http://127\.0\.0\.1:[0-9]+' "$T/demo.$N.out" | cut -d' ' -f2)
    CONSOLE_LINE=$(head -n 1 "$T/demo.$N.out")
    QBO=$(grep -m1 -oE 'see http://127\.0\.0\.1:[0-9]+' "$T/demo.$N.out" | cut -d' ' -f2)
    WOO=$(grep -m1 -oE 'store  http://127\.0\.0\.1:[0-9]+' "$T/demo.$N.out" | awk '{print $2}')
    SUPA=$(grep -m1 -oE 'PostgREST\) http://127\.0\.0\.1:[0-9]+' "$T/demo.$N.out" | awk '{print $2}')
}
engine_down() { HTTP_AUTH=0 http GET /health; [[ $CODE == 000 ]]; }
mock_down() { ! curl -s --max-time 2 -o /dev/null "$QBO/_mock/state"; }
stop_demo() {
    kill -TERM "$DEMO_PID"
    wait_for 15000 pid_gone "$DEMO_PID"
    check "Ctrl-C (SIGTERM) stops demo #$N" pid_gone "$DEMO_PID"
    wait_for 10000 engine_down
    check "... and its engine with it" engine_down
    wait_for 10000 mock_down
    check "... and the mocks" mock_down
}
# quick_start: the seed's sync call; sets RUN (the finished run).
quick_start() {
    HTTP_AUTH=0 http POST /api/sync/orders -H "Content-Type: application/json" \
        -d '{"mode": "full", "dryRun": false}'
    assert_eq "the seed's sync call is accepted: 202" 202 "$CODE"
    SYNC_ID=$(jq -r .syncId <<<"$BODY")
    wait_for 120000 run_done
    RUN=$BODY
}
run_done() {
    HTTP_AUTH=0 http GET "/api/sync/status/$SYNC_ID"
    jq -e '.state | IN("succeeded", "partial", "failed", "cancelled")' <<<"$BODY" >/dev/null
}

echo "== tools/start.sh refuses what it does not know (and starts nothing)"
out=$(timeout 20 "$ENG_SOURCE_DIR/tools/start.sh" --help 2>&1)
assert_eq "start.sh --help exits 0" 0 "$?"
assert_contains "... and prints the usage" "$out" "usage: tools/start.sh [--demo]"
out=$(timeout 20 "$ENG_SOURCE_DIR/tools/start.sh" --dmeo 2>&1)
assert_eq "start.sh --dmeo exits 2" 2 "$?"
assert_contains "... naming the argument" "$out" "start: unknown argument '--dmeo' (did you mean --demo?)"
assert_not_contains "... before setting anything up or building" "$out" "building"
out=$(timeout 20 "$ENG_SOURCE_DIR/tools/start.sh" --demo extra 2>&1)
assert_eq "start.sh --demo extra exits 2" 2 "$?"

start_demo
echo "== the console's address comes first, then the demo's own first run"
assert_eq "the first line is the console's address (the engine's, with a trailing /)" \
    "demo: console $BASE/" "${CONSOLE_LINE%%  (*}"
HTTP_AUTH=0 http GET /api/sync/history
assert_jq "the history shows the demo's first run: partial, 22 invoices, 1 failure" "$BODY" \
    '(.items | length) == 1 and .items[0].state == "partial" and .items[0].counts.created == 22
     and .items[0].counts.failed == 1 and .items[0].flow == "woo_order_to_qbo_invoice"'
FIRST_RUN=$(jq -r '.items[0].syncId' <<<"$BODY")
assert_eq "the mock QuickBooks holds its 22 invoices" 22 "$(curl -s "$QBO/_mock/state" | jq -r .counts.Invoice)"
HTTP_AUTH=0 http GET /api/sync/failures
assert_jq "one failure: order 2021, refused by the mapping (a third decimal), with its cause" "$BODY" \
    '.total == 1 and .items[0].sourceId == "2021" and .items[0].code == "mapping"
     and (.items[0].error | test("decimal places")) and (.items[0].cause | test("round it"))'
FAILURE=$(jq -r '.items[0].id' <<<"$BODY")
HTTP_AUTH=0 http POST "/api/sync/failures/$FAILURE/test-case" -H 'Content-Type: application/json' -d '{}'
assert_jq "... which drafts a test case (the refusal, passing as drafted)" "$BODY" \
    '.case == "failure-2021" and .expects == "error" and .passesNow == true and .body.input.id == 2021'
HTTP_AUTH=0 http GET /api/overview
assert_jq "the overview: three connections up, the webhooks healthy, 1 open failure, the run's reconciliation" "$BODY" \
    "(.connections | length) == 3 and all(.connections[]; .connected)
     and (.connections[] | select(.platform == \"woocommerce\") | .webhook.status) == \"ok\"
     and .failures.open == 1 and .reconciliation[0].syncId == \"$FIRST_RUN\" and .reconciliation[0].differenceMinor == 0"
HTTP_AUTH=0 http GET /api/sync/stats/hourly
assert_jq "records per hour: the run's 22 created and 1 failed" "$BODY" '.totals.created == 22 and .totals.failed == 1'

echo "== the seed's calls, without a token"
HTTP_AUTH=0 http GET /api/integrations
assert_eq "GET /api/integrations answers the sandbox tenant" 200 "$CODE"
for p in woocommerce quickbooks supabase; do
    assert_jq "$p is connected (its test passed against its mock)" "$BODY" \
        ".integrations[] | select(.platform == \"$p\") | .status == \"connected\""
done
assert_jq "no secret is shown" "$BODY" \
    '[.integrations[].fields | to_entries[] | select(.key | test("secret|token|key")) | .value] | all(. == "********")'
HTTP_AUTH=0 http GET /api/integrations/woocommerce/status
assert_eq "the seed's status call: 200" 200 "$CODE"
assert_jq "WooCommerce's webhooks are registered with the mock and healthy" "$BODY" \
    '.warnings == [] and .webhooks.ok == true and .webhooks.warnings == []
     and (.webhooks.topics | length) == 7 and all(.webhooks.topics[]; .status == "active")'
assert_eq "... the mock store holds the 7 webhooks, delivering to this engine" \
    "7 $BASE/api/webhooks/woocommerce?tenant=sandbox" \
    "$(curl -s "$WOO/_mock/webhooks" | jq -r '"\(length) \(.[0].delivery_url)"')"

quick_start
assert_jq "the run goes through but for order 2021, still failing" "$RUN" '.state == "partial" and .counts.failed == 1'
STATE=$(curl -s "$QBO/_mock/state")
assert_jq "it read the store's 23 orders (2 fixtures + 20 generated + 2021)" "$RUN" '.counts.read == 23'
assert_eq "the mock QuickBooks holds one invoice per order but 2021" 22 "$(jq -r .counts.Invoice <<<"$STATE")"
assert_jq "... which the first run created: this one finds them unchanged" "$RUN" '.counts.created == 0 and .counts.unchanged == 22'
HTTP_AUTH=0 http GET /api/sync/status
assert_jq "the seed's status call lists the run" "$BODY" "[.items[].syncId] | index(\"$SYNC_ID\") != null"
HTTP_AUTH=0 http GET /api/sync/history
assert_jq "the seed's history call lists it once it is finished" "$BODY" \
    "[.items[].syncId] | index(\"$SYNC_ID\") != null"

echo "== the banner's refund runs: RefundReceipts and CreditMemos"
# its lines, run by bash as printed: the default flow (paid orders' refunds), then credit memos
awk '/# the refunds:/{f=1; next} f && /^$/{exit} f' "$T/demo.$N.out" >"$T/refunds.sh"
assert_eq "the refund example is two commands over three lines" 3 "$(wc -l <"$T/refunds.sh")"
IDS=$(cd / && bash "$T/refunds.sh" 2>/dev/null | jq -rs '[.[].syncId] | join(" ")')
refunds_done() {
    local id
    for id in $IDS; do SYNC_ID=$id run_done || return 1; done
}
SYNC_ID=
wait_for 120000 refunds_done
read -r RR_ID CM_ID <<<"$IDS"
HTTP_AUTH=0 http GET "/api/sync/status/$RR_ID"
assert_jq "the refunds run (default flow): the paid order's refund posted, reconciled" "$BODY" \
    '.state == "succeeded" and .flow == "woo_refund_to_qbo_refund_receipt" and .counts.created == 1
     and .counts.failed == 0 and .reconciliation.reconciled == 1 and .reconciliation.mismatched == 0'
HTTP_AUTH=0 http GET "/api/sync/status/$CM_ID"
assert_jq "the credit memo run: the unpaid fixture order's 2 refunds posted, reconciled" "$BODY" \
    '.state == "succeeded" and .counts.created == 2 and .counts.failed == 0
     and .reconciliation.reconciled == 2 and .reconciliation.mismatched == 0'
assert_jq "the mock QuickBooks holds 1 RefundReceipt (5.00) and 2 CreditMemos (10.00, 9.00)" \
    "$(curl -s "$QBO/_mock/state")" \
    '([.entities.RefundReceipt[].TotalAmt] == [5]) and ([.entities.CreditMemo[].TotalAmt] | sort == [9, 10])'

echo "== a second demo on the same folder is refused and touches nothing"
SECRET_SUM=$(md5sum <"$T/demo/webhook_secret")
LOG_LINES=$(wc -l <"$T/demo/engine.log")
DB_SUM=$(md5sum <"$T/demo/demo.db")
DEMO_DIR="$T/demo" API_PORT=0 MOCK_FIXTURES="$FIXTURES_DIR/woocommerce" \
    timeout 30 "$ENG_SOURCE_DIR/tools/demo.sh" >"$T/second.out" 2>"$T/second.err"
assert_eq "the second demo exits 1" 1 "$?"
assert_contains "... saying which pid holds the folder" "$(cat "$T/second.err")" \
    "another demo is running on $T/demo (pid $DEMO_PID holds $T/demo/.lock)"
assert_eq "the running demo's webhook secret is untouched" "$SECRET_SUM" "$(md5sum <"$T/demo/webhook_secret")"
assert_ge "... its log is not truncated" "$(wc -l <"$T/demo/engine.log")" "$LOG_LINES"
assert_eq "... nor its database" "$DB_SUM" "$(md5sum <"$T/demo/demo.db")"
HTTP_AUTH=0 http GET /health
assert_eq "... and it still serves" 200 "$CODE"

echo "== the banner's commands work as printed, from another folder"
# the webhook example: its lines, run by bash from / (the secret's path is absolute)
awk '/# a signed WooCommerce delivery/{f=1; next} f && /^  curl .*webhooks\/events/{exit} f' \
    "$T/demo.$N.out" >"$T/hook.sh"
assert_eq "the webhook example is one command over two lines (a line break kept)" 3 "$(wc -l <"$T/hook.sh")"
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' -d '{"entity": "orders",
    "generate": 1, "start_id": 3001, "start": "2026-11-25T10:00:00", "statuses": ["processing"]}' >/dev/null
sed -i 's/"id": 2001/"id": 3001/; s/order.updated/order.created/' "$T/hook.sh"
FIRED=$(cd / && bash "$T/hook.sh" 2>/dev/null)
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

echo "== the command line on the demo database reaches the mocks (operator settings)"
CLI=$(grep -m1 -E '^  cd .* sync orders --mode full --tenant sandbox$' "$T/demo.$N.out")
check "the banner prints the sync command" test -n "$CLI"
# the customer of order 2001 moved: the run must update that invoice in the mock company
ORDER=$(curl -s "$WOO/_mock/record/orders/2001" | jq -c '.shipping.address_1 = "1 New Street"')
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' \
    -d "{\"entity\": \"orders\", \"records\": [$ORDER]}" >/dev/null
SYNC_OUT=$(cd / && timeout 120 bash -c "$CLI" 2>"$T/cli-sync.err")
assert_match "tallysync sync on the demo database succeeds, updating the moved order" \
    "sync sync_[0-9a-f]+ partial: read 24, created 0, updated 1, unchanged 22, skipped 0, failed 1" "$SYNC_OUT"
assert_eq "... in the mock QuickBooks" "1 New Street" "$(curl -s "$QBO/_mock/state" |
    jq -r '.entities.Invoice[] | select(.DocNumber == "2001") | .ShipAddr.Line1')"
assert_not_contains "... and never Intuit" "$(cat "$T/cli-sync.err")" "intuit.com"
assert_eq "the stored QUICKBOOKS_API_BASE is the mock's" "$QBO" \
    "$(DATABASE_URL="sqlite:$T/demo/demo.db" "$TALLYSYNC_BIN" operator get QUICKBOOKS_API_BASE)"

echo "== /connect goes to the mock company and completes"
HTTP_AUTH=0 http GET /api/integrations/quickbooks/connect
assert_jq "the consent URL is the mock's" "$BODY" ".authorizationUrl | startswith(\"$QBO/connect/oauth2?\")"
LOC=$(curl -s -o /dev/null -w '%{redirect_url}' "$(jq -r .authorizationUrl <<<"$BODY")")
assert_match "the mock approves and sends the browser to this engine's callback" \
    "^$BASE/api/integrations/quickbooks/callback\?code=" "$LOC"
assert_eq "the callback stores the new tokens" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$LOC")"
HTTP_AUTH=0 http POST /api/integrations/quickbooks/test -H 'Content-Type: application/json' -d '{}'
assert_jq "... which the mock company accepts" "$BODY" '.ok == true'
assert_eq "the callback cannot be replayed (the state and the code are single-use)" 400 \
    "$(curl -s -o /dev/null -w '%{http_code}' "$LOC")"
CONSENT=$(HTTP_AUTH=0 http GET /api/integrations/quickbooks/connect; jq -r .authorizationUrl <<<"$BODY")
assert_eq "the mock's consent page refuses another client_id, as Intuit's does" 400 \
    "$(curl -s -o /dev/null -w '%{http_code}' "${CONSENT/client_id=demo-client/client_id=other}")"
assert_eq "... and a request without the accounting scope" 400 \
    "$(curl -s -o /dev/null -w '%{http_code}' "${CONSENT/com.intuit.quickbooks.accounting/openid}")"

echo "== the Supabase flow writes rows in the stand-in"
HTTP_AUTH=0 http POST /api/sync/orders -H "Content-Type: application/json" \
    -d '{"mode": "full", "flow": "woo_order_to_supabase_order"}'
assert_eq "the Supabase sync is accepted: 202" 202 "$CODE"
SYNC_ID=$(jq -r .syncId <<<"$BODY")
wait_for 120000 run_done
assert_jq "the Supabase run writes every order but 2021 (its mapping refuses the third decimal too)" "$BODY" \
    '.state == "partial" and .counts.failed == 1 and .counts.read == 24 and .counts.created == 23'
assert_eq "the stand-in holds one row per order but 2021" 23 \
    "$(curl -s "$SUPA/_mock/rows?table=orders" | jq length)"

stop_demo

echo "== restarts are fresh: the database starts empty with the mocks"
for _ in 1 2; do
    start_demo
    HTTP_AUTH=0 http GET /api/sync/history
    assert_jq "demo #$N: no run from an earlier start, only this start's first run, creating every invoice again" \
        "$BODY" '(.items | length) == 1 and .items[0].counts.created == 22 and .items[0].counts.unchanged == 0'
    HTTP_AUTH=0 http GET /api/webhooks/events
    assert_jq "demo #$N: no webhook event from an earlier start" "$BODY" '.events == []'
    assert_contains "demo #$N: the banner says so" "$(cat "$T/demo.$N.out")" \
        "a fresh sandbox: the mocks and the database start empty on every start"
    quick_start
    assert_jq "demo #$N: the quick start finds them made (and order 2021 still failing)" "$RUN" \
        '.state == "partial" and .counts.created == 0 and .counts.unchanged == 22 and .counts.failed == 1'
    assert_eq "demo #$N: ... and the mock QuickBooks holds them" 22 \
        "$(curl -s "$QBO/_mock/state" | jq -r .counts.Invoice)"
    stop_demo
done
finish
