#!/usr/bin/env bash
# tests/integration/connector_supabase.sh - connectors/supabase.lua write() and test() against
# tests/mocks/postgrest_mock.py (a PostgREST-compatible endpoint with declared tables, whole-
# statement failures and fault injection), through the real binary (`tallysync run`) and the
# real engine.http: 10,000 rows in 20 requests, merge-duplicates, bad rows isolated by splitting
# with PostgREST's messages in a logarithmic number of requests, 401, 5xx/drop/timeout retried,
# persistent 5xx retryable, Content-Profile for a non-public schema. The cases themselves are in
# tests/lua/supabase_connector.lua; this script starts the mock and counts its "ok"/"FAIL" lines.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools python3 curl jq

SB_KEY="sbk_test_$RANDOM$RANDOM$RANDOM"
MOCK_SUPABASE_KEY="$SB_KEY" python3 "$ENG_SOURCE_DIR/tests/mocks/postgrest_mock.py" \
    >"$T/mock.out" 2>"$T/mock.err" &
bg_track $!
wait_for 10000 test -s "$T/mock.out" || {
    fail "the PostgREST mock starts" "$(cat "$T/mock.err")"
    finish
}
MOCK="http://127.0.0.1:$(head -n 1 "$T/mock.out")"
echo "mock: $MOCK"

echo "== the mock itself answers like PostgREST"
curl -s -o /dev/null -X POST "$MOCK/_mock/tables" -H 'Content-Type: application/json' \
    --data-binary '{"name":"projects","columns":{"id":{"type":"bigint","not_null":true},
    "name":{"type":"text"},"salary":{"type":"numeric"}},"primary_key":["id"]}'
BODY=$(curl -s -X POST "$MOCK/rest/v1/projects" -H "apikey: $SB_KEY" \
    -H "Authorization: Bearer $SB_KEY" -H 'Content-Type: application/json' \
    --data-binary "@$FIXTURES_DIR/supabase/upsert-on-conflict-request.json")
assert_jq "a bulk insert with a NULL primary key fails whole with 23502 (fixture shape)" "$BODY" \
    '.code == "23502" and (.message | test("violates not-null constraint")) and has("details")
     and has("hint")'
FIX=$(jq -c 'keys' "$FIXTURES_DIR/supabase/error-not-null-violation.json")
assert_eq "... with the fixture's keys" "$FIX" "$(printf '%s' "$BODY" | jq -c 'keys')"
ROWS=$(curl -s "$MOCK/_mock/rows?table=projects")
assert_eq "... and nothing written" "[]" "$ROWS"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$MOCK/rest/v1/projects" \
    -H "apikey: wrong-key" -H 'Content-Type: application/json' --data-binary '[]')
assert_eq "a wrong apikey: 401" 401 "$CODE"
BODY=$(curl -s -X POST "$MOCK/rest/v1/projects" -H "apikey: $SB_KEY" \
    -H 'Prefer: return=representation' -H 'Content-Type: application/json' \
    --data-binary '[{"id":1,"name":"a","salary":"40000.50"}]')
assert_jq "return=representation gives the rows back" "$BODY" '.[0].salary == "40000.50"'
BODY=$(curl -s -X POST "$MOCK/rest/v1/projects" -H "apikey: $SB_KEY" \
    -H 'Content-Type: application/json' --data-binary '[{"id":2,"name":"b"},{"id":3}]')
assert_jq "objects with other keys and no columns=: 400 PGRST102" "$BODY" \
    '.code == "PGRST102" and .message == "All object keys must match"'
curl -s -o /dev/null -X POST "$MOCK/_mock/reset"

echo "== the connector (tests/lua/supabase_connector.lua)"
export SCRIPT_TIMEOUT_MS=120000 SCRIPT_MAX_INSTRUCTIONS=4000000000 SCRIPT_MEMORY_MB=256
timeout -k 5 240 "$TALLYSYNC_BIN" run "$ENG_SOURCE_DIR/tests/lua/supabase_connector.lua" \
    "$MOCK" "$SB_KEY" >"$T/lua.out" 2>"$T/lua.err"
RC=$?
while IFS= read -r line; do
    case "$line" in
    "ok   "*) pass "${line#ok   }" ;;
    "FAIL "*) fail "${line#FAIL }" ;;
    "     "*) printf '%s\n' "$line" ;;
    esac
done <"$T/lua.out"
assert_eq "the Lua cases run to the end and exit 0" 0 "$RC"
assert_match "... with no failure" '^[0-9]+ passed, 0 failed$' "$(tail -n 1 "$T/lua.out")"
[[ $RC == 0 ]] || fail "lua stderr" "$(cat "$T/lua.err")"
assert_not_contains "the key never reaches the output" "$(cat "$T/lua.out" "$T/lua.err")" "$SB_KEY"

finish
