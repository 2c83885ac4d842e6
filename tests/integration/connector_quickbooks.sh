#!/usr/bin/env bash
# tests/integration/connector_quickbooks.sh - scripts/connectors/quickbooks.lua against
# tests/mocks/quickbooks_mock.py (the Accounting API v3 and Intuit's token endpoint on loopback).
# The mock itself is checked first with curl (the behaviours the connector relies on: Faults,
# minorversion, bearer check, query language, requestid limits, batch limits), then
# tests/lua/quickbooks_connector.lua runs the connector cases (paging, incremental since, create /
# read / sparse update, stale SyncToken conflict, duplicate name 6240, Fault with HTTP 200, batch
# matched by bId, idempotent retried create, throttling - the realm's per-minute and concurrent
# limits and the batch endpoint's own per-minute limit -, each injected fault, token refresh
# including a token dying mid-paging, rotation and refresh-token expiry), and the mock's state is
# inspected afterwards. The engine's own context (vault, refresh lease): token_refresh.sh.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl python3

CLIENT_ID="qbo-client-$RANDOM$RANDOM"
CLIENT_SECRET="qbo-secret-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
REALM=4620816365

echo "== the mock"
python3 "$ENG_SOURCE_DIR/tests/mocks/quickbooks_mock.py" --client-id "$CLIENT_ID" \
    --client-secret "$CLIENT_SECRET" --realm-id "$REALM" >"$T/mock.out" 2>"$T/mock.err" &
bg_track $!
mock_ready() { grep -q '^ready$' "$T/mock.out"; }
wait_for 10000 mock_ready || { fail "the QuickBooks mock starts" "$(cat "$T/mock.err")"; finish; }
MOCK="http://127.0.0.1:$(sed -n 's/^port=//p' "$T/mock.out")"
pass "the QuickBooks mock listens at $MOCK"

AT=$(curl -s -X POST "$MOCK/_mock/tokens" -d '{}' | jq -r .access_token)
API="$MOCK/v3/company/$REALM"
# q METHOD PATH [CURL_ARGS...]: call the mock API; sets CODE, BODY, HEADERS.
q() {
    local method=$1 path=$2
    shift 2
    CODE=$(curl -s -X "$method" --max-time 10 -o "$T/q.body" -D "$T/q.h" -w '%{http_code}' \
        -H "Authorization: Bearer $AT" -H 'Accept: application/json' "$@" "$API/$path") || true
    BODY=$(cat "$T/q.body")
    HEADERS=$(tr -d '\r' <"$T/q.h")
}

q GET "companyinfo/$REALM"
assert_eq "the mock's companyinfo needs minorversion=75" 400 "$CODE"
q GET "companyinfo/$REALM?minorversion=75"
assert_eq "... and answers with it" 200 "$CODE"
AT_GOOD=$AT
AT=not-a-token
q GET "companyinfo/$REALM?minorversion=75"
assert_eq "an unknown bearer token: 401" 401 "$CODE"
assert_jq "... with the gateway's lower-case Fault (code 3200)" "$BODY" '.fault.error[0].code == "3200"'
assert_contains "... and WWW-Authenticate" "$HEADERS" 'error="invalid_token"'
AT=$AT_GOOD
q GET "query?minorversion=75" --data-urlencode "query=SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'" -G
assert_eq "a query with OR: 400" 400 "$CODE"
assert_jq "... Fault 4000" "$BODY" '.Fault.Error[0].code == "4000"'
q GET "query?minorversion=75" --data-urlencode "query=SELECT * FROM Customer" -G
assert_jq "an empty query result has no entity key" "$BODY" '.QueryResponse == {}'
q POST "customer?minorversion=75&requestid=$(printf 'x%.0s' {1..51})" -H 'Content-Type: application/json' \
    --data-binary '{"DisplayName":"Rid Too Long"}'
assert_eq "a requestid over 50 characters: 400" 400 "$CODE"
ITEMS=$(jq -nc '[range(31) | {bId: ("b\(.)"), operation: "create", Customer: {DisplayName: "Many \(.)"}}] | {BatchItemRequest: .}')
q POST "batch?minorversion=75" -H 'Content-Type: application/json' --data-binary "$ITEMS"
assert_eq "a batch of 31 items: 400" 400 "$CODE"
q POST "customer?minorversion=75" -H 'Content-Type: application/json' --data-binary '{"DisplayName":"Full Update","GivenName":"G","Notes":"n"}'
ID=$(jq -r .Customer.Id <<<"$BODY")
q POST "customer?minorversion=75" -H 'Content-Type: application/json' \
    --data-binary "{\"Id\":\"$ID\",\"SyncToken\":\"0\",\"DisplayName\":\"Full Update\"}"
assert_jq "a full update (no sparse) drops omitted fields" "$BODY" \
    '.Customer.SyncToken == "1" and (.Customer | has("GivenName") | not)'
curl -s -X POST "$MOCK/_mock/config" -d '{"concurrent": 1, "slow_ms": 700, "retry_after": 2}' >/dev/null
for n in 1 2; do
    curl -s -o /dev/null -D "$T/conc.$n.h" -w '%{http_code}' --max-time 10 \
        -H "Authorization: Bearer $AT" "$API/companyinfo/$REALM?minorversion=75" >"$T/conc.$n" &
    bg_track $!
done
wait_for 5000 test -s "$T/conc.2" && wait_for 5000 test -s "$T/conc.1"
assert_eq "over the concurrent limit: one 200 and one 429" "200 429" \
    "$(printf '%s\n%s\n' "$(cat "$T/conc.1")" "$(cat "$T/conc.2")" | sort | paste -sd ' ')"
assert_contains "... with Retry-After" "$(cat "$T"/conc.*.h | tr -d '\r')" "Retry-After: 2"
curl -s -X POST "$MOCK/_mock/reset" -d '{}' >/dev/null

echo "== the connector (tests/lua/quickbooks_connector.lua)"
export SCRIPT_TIMEOUT_MS=120000
run_bin "$T/lua" run "$ENG_SOURCE_DIR/tests/lua/quickbooks_connector.lua" "$MOCK" "$CLIENT_ID" \
    "$CLIENT_SECRET" "$REALM"
while IFS= read -r line; do
    case "$line" in
    "ok   "*) pass "lua: ${line#ok   }" ;;
    "FAIL "*) fail "lua: ${line#FAIL }" ;;
    esac
done <<<"$OUT"
assert_eq "the Lua run exits 0" 0 "$RC"
[[ "$RC" == 0 ]] || fail "lua run output" "$(tail -n 5 <<<"$OUT")" "$ERR"
assert_match "... and reports no failure" '^[0-9]+ passed, 0 failed$' "$(tail -n 1 <<<"$OUT")"
assert_lt "... within 60 s (${ELAPSED_MS} ms)" "$ELAPSED_MS" 60000

echo "== the mock's state afterwards"
STATE=$(curl -s "$MOCK/_mock/state")
assert_eq "one object for the create sent twice with one requestid" 1 \
    "$(jq '[.entities.Customer[] | select(.DisplayName == "Idem Customer")] | length' <<<"$STATE")"
assert_eq "one object for the create whose answer was dropped" 1 \
    "$(jq '[.entities.Customer[] | select(.DisplayName == "Dropped Answer")] | length' <<<"$STATE")"
assert_eq "no object for the duplicate DisplayName" 1 \
    "$(jq '[.entities.Customer[] | select(.DisplayName == "Sparse Test")] | length' <<<"$STATE")"
assert_jq "every connector write carried a requestid" "$STATE" \
    '[.requests[] | select(.method == "POST") | .requestid] | all(. != null)'
assert_jq "... and every read too (test() aside)" "$STATE" \
    '[.requests[] | select(.method == "GET" and (.path | startswith("companyinfo") | not)) | .requestid] | all(. != null)'
assert_ge "the refresh token rotated (refresh tokens issued)" \
    "$(jq '.refresh_tokens | length' <<<"$STATE")" 6
assert_eq "the mock logged no errors" "" "$(cat "$T/mock.err")"

echo "== no secret in the output"
mapfile -t SECRETS < <(jq -r '.access_tokens[], .refresh_tokens[]' <<<"$STATE")
SECRETS+=("$CLIENT_SECRET")
leaks=()
for s in "${SECRETS[@]}"; do
    [[ -n "$s" ]] || continue
    grep -qaF -- "$s" "$T/lua.out" "$T/lua.err" && leaks+=("${s:0:10}...")
done
assert_eq "no token or client secret in the connector run's output" "" "${leaks[*]}"

finish
