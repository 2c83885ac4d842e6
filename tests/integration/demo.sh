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

kill -TERM "$DEMO_PID"
wait_for 15000 pid_gone "$DEMO_PID"
check "Ctrl-C (SIGTERM) stops the demo" pid_gone "$DEMO_PID"
QBO=$(grep -m1 -oE 'see http://127\.0\.0\.1:[0-9]+' "$T/demo.out" | cut -d' ' -f2)
engine_down() { HTTP_AUTH=0 http GET /health; [[ $CODE == 000 ]]; }
mock_down() { ! curl -s --max-time 2 -o /dev/null "$QBO/_mock/state"; }
wait_for 10000 engine_down
check "... and its engine with it" engine_down
wait_for 10000 mock_down
check "... and the mocks" mock_down
finish
