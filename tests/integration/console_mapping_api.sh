#!/usr/bin/env bash
# tests/integration/console_mapping_api.sh - the console's mapping routes through the real API
# (issue 13): the list and a mapping's source; a preview of an unsaved text (a load error names
# file and line; a good text gives the document and each field's origin) that never touches the
# published version; the data tests run; the administrator-only writes (a tenant token previews
# and sees the impact, but PUT source and PUT test case are 403); publish refused while a data
# test fails (the file unchanged on disk), a stale baseVersion refused, a good publish served at
# once (the dry run maps with it); a real dry sync run against the mocks fills the source
# snapshots (pruned to SNAPSHOTS_KEEP, newest first), and the impact of an edit over them
# reports the exact changed count and each field's difference, for the calling tenant's records
# only (IMPACT_RECORDS by default, at most 1000); the limits (source size, names, case names,
# limit values). Every write goes to a scratch copy of mappings/ (copy_script_dirs).
# Output: one line per check, then "N passed, M failed".

source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3 sha256sum

# common.sh's assert_jq tests for an empty answer with a bash substitution, quadratic on the
# 250 KB answers here (every case's expected document): the same check, linear
assert_jq() {
    if grep -q '[^[:space:]]' <<<"$2" && printf '%s' "$2" | jq -e "$3" >/dev/null 2>&1; then
        pass "$1"
    else
        fail "$1" "jq -e '$3' is not true on:" "${2:0:3000}"
    fi
}

copy_script_dirs
M=woo_order_to_qbo_invoice
FILE="$MAPPINGS_DIR/$M.lua"
NTESTS=$(find "$MAPPINGS_DIR/tests/$M" -maxdepth 1 -name '*.json' | wc -l)
sha() { sha256sum "$1" | cut -d' ' -f1; }
ORIG_SHA=$(sha "$FILE")
# JSON bodies; 60 s for an answer (common.sh's 10 s is short for a publish or an impact under the
# TSan tier, which runs this test too)
J=(-H 'Content-Type: application/json' --max-time 60)

sync_mocks
serve_start SNAPSHOTS_KEEP=8 || finish
sync_credentials

run_bin "$T/tok-d" token create --tenant default
TOKEN_D=$(head -n 1 <<<"$OUT")
run_bin "$T/tok-o" token create --tenant other
TOKEN_O=$(head -n 1 <<<"$OUT")
# as_tenant TOKEN METHOD PATH [CURL_ARGS...]: the request with a tenant token instead
as_tenant() {
    local tok=$1
    shift
    HTTP_AUTH=0 http "$@" -H "Authorization: Bearer $tok"
}

# The edits the test makes: line 90 is the mapping's map().
SRC=$(cat "$FILE")
edit_line90() { # LUA: the mapping with line 90 replaced
    awk -v repl="$1" 'NR == 90 { print repl; next } { print }' "$FILE"
}
[[ "$(sed -n 90p "$FILE")" == "  map = function(order, ctx) return woo.build(NAME, order, ctx, \"Invoice\") end," ]] ||
    { fail "line 90 of $M.lua is its map() (the test edits it)" "$(sed -n 88,92p "$FILE")"; finish; }
# edits only orders 900000 and up: no data test has such an id, every test passes
GOOD=$(edit_line90 '  map = function(order, ctx) local d = woo.build(NAME, order, ctx, "Invoice"); if order.id >= 900000 then d.PrivateNote = "edited " .. order.id end; return d end,')
# edits every order: the data tests fail
BREAKS=$(edit_line90 '  map = function(order, ctx) local d = woo.build(NAME, order, ctx, "Invoice"); d.PrivateNote = "edited"; return d end,')
SYNTAX=$(awk 'NR == 81 { print $0 " local x = = 1"; next } { print }' "$FILE")
RECORD=$(jq -c '.input | .id = 900001 | .number = "900001"' "$MAPPINGS_DIR/tests/$M/order-727.json")

echo "== the list and the source"
http GET /api/mappings
assert_eq "GET /api/mappings: 200" 200 "$CODE"
assert_jq "... lists $M loaded, its version the file's sha256, its source and target and its $NTESTS tests" "$BODY" \
    "(.items[] | select(.name == \"$M\")) as \$m | \$m.status == \"loaded\" and \$m.version == \"$ORIG_SHA\"
     and \$m.source == {connector: \"woocommerce\", entity: \"orders\"} and \$m.target.connector == \"quickbooks\"
     and \$m.tests == $NTESTS and \$m.error == null"
http GET "/api/mappings/$M/source"
assert_eq "GET source: 200" 200 "$CODE"
assert_jq "... the text on disk, its path and version" "$BODY" \
    ".path == \"mappings/$M.lua\" and .version == \"$ORIG_SHA\" and .status == \"loaded\""
assert_eq "... byte for byte" "$SRC" "$(jq -r .source <<<"$BODY")"
as_tenant "$TOKEN_D" GET "/api/mappings/$M/source"
assert_eq "a tenant token reads a source too" 200 "$CODE"
http GET /api/mappings/no_such_mapping/source
assert_eq "a name with no mapping: 404" 404 "$CODE"
http GET /api/mappings/..%2F..%2Fetc%2Fpasswd/source
assert_eq "a traversal name: 404" 404 "$CODE"
http GET /api/mappings/README/source
assert_eq "a file that is not a mapping: 404" 404 "$CODE"

echo "== preview"
http POST "/api/mappings/$M/preview" "${J[@]}" --data-binary "$(jq -nc --argjson r "$RECORD" '{record: $r}')"
assert_eq "preview of the published version: 200" 200 "$CODE"
assert_jq "... the document, and each field's origin" "$BODY" \
    '.error == null and .document.DocNumber == "900001" and .document.PrivateNote == "WooCommerce order #900001"
     and (.fields[] | select(.path == "$.PrivateNote") | .by == "map" and (.line | test("^scripts/lib/woo_sales.lua:[0-9]+$")))'
http POST "/api/mappings/$M/preview" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$SYNTAX" --argjson r "$RECORD" '{source: $s, record: $r}')"
assert_eq "an unsaved text that does not compile: 422" 422 "$CODE"
assert_jq "... load_error naming the file and line" "$BODY" \
    ".error.code == \"load_error\" and .error.details.file == \"mappings/$M.lua\" and .error.details.line == 81
     and (.error.details.message | test(\"unexpected symbol\"))"
BOGUS=$(sed 's/^return {$/return { bogus = 1,/' "$FILE")
http POST "/api/mappings/$M/preview" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$BOGUS" --argjson r "$RECORD" '{source: $s, record: $r}')"
assert_jq "a text outside the mapping contract: load_error naming the file and the field" "$BODY" \
    ".error.code == \"load_error\" and .error.details.file == \"mappings/$M.lua\" and (.error.details.message | test(\"bogus\"))"
http POST "/api/mappings/$M/preview" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$GOOD" --argjson r "$RECORD" '{source: $s, record: $r}')"
assert_eq "an unsaved good text: 200" 200 "$CODE"
assert_jq "... its document, the edited field's origin the edited line" "$BODY" \
    ".document.PrivateNote == \"edited 900001\" and
     (.fields[] | select(.path == \"\$.PrivateNote\") | .by == \"map\" and .line == \"mappings/$M.lua:90\")"
dry_run_http "$M" "$RECORD"
assert_jq "the published version is untouched (the dry run maps with it)" "$BODY" \
    '.PrivateNote == "WooCommerce order #900001"'
assert_eq "... and the file too" "$ORIG_SHA" "$(sha "$FILE")"
http POST "/api/mappings/$M/preview" "${J[@]}" --data-binary '{"record": {}, "sauce": "x"}'
assert_jq "an unknown member: 422 naming it" "$BODY" '.error.code == "invalid_field" and .error.details.field == "sauce"'
http POST "/api/mappings/$M/preview" "${J[@]}" --data-binary '{"record": [1, 2]}'
assert_jq "a record that is not an object: 422 naming record" "$BODY" \
    '.error.code == "invalid_field" and .error.details.field == "record"'
http POST "/api/mappings/$M/preview" "${J[@]}" \
    --data-binary "$(jq -nc --argjson r "$RECORD" '{record: $r, config: {paid_orders_as: "Bill"}}')"
assert_jq "settings the contract refuses: 422 naming config" "$BODY" \
    '.error.code == "invalid_field" and .error.details.field == "config" and (.error.message | test("paid_orders_as"))'
# an unpublished text reaches no network, at its top level or in map(): the mock would log it
NET=$(printf 'local http = require "engine.http"\nlocal _, _, top = http.get("%s/wp-json/wc/v3/orders?probe=console-offline")\nassert(top == "offline", "the top level reached the network")\n%s\n' \
    "$WOO_STORE" "$(edit_line90 '  map = function(order, ctx) local d = woo.build(NAME, order, ctx, "Invoice"); local _, msg, code = http.get(ctx.config.shipping_item_id and "http://127.0.0.1:1/" or ""); d.PrivateNote = code .. ": " .. msg; return d end,')")
# the mock lists every request it received (the engine's own connection checks too): none is
# the probe's
woo_probed() { curl -s "$WOO/_mock/state" | grep -c console-offline; }
http POST "/api/mappings/$M/preview" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$NET" --argjson r "$RECORD" '{source: $s, record: $r}')"
assert_jq "an unsaved text gets no network: engine.http answers offline" "$BODY" \
    '.document.PrivateNote | startswith("offline: engine.http is off")'
assert_eq "... and the WooCommerce mock never saw the probe" 0 "$(woo_probed)"
BYTES=$(edit_line90 '  map = function(order, ctx) local d = woo.build(NAME, order, ctx, "Invoice"); d.PrivateNote = "bad " .. string.char(255) .. " byte"; return d end,')
http POST "/api/mappings/$M/preview" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$BYTES" --argjson r "$RECORD" '{source: $s, record: $r}')"
assert_jq "an output that is not UTF-8: 200, the document null and the error saying so" "$BODY" \
    '.document == null and (.error.message | test("cannot be encoded"))'
as_tenant "$TOKEN_D" POST "/api/mappings/$M/preview" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$GOOD" --argjson r "$RECORD" '{source: $s, record: $r}')"
assert_jq "a tenant token may preview an unsaved text" "$BODY" '.document.PrivateNote == "edited 900001"'

echo "== data tests"
http GET "/api/mappings/$M/tests"
assert_jq "GET tests: every case file, as it is" "$BODY" \
    "(.items | length) == $NTESTS and (.items[] | select(.case == \"order-727\") | .input.id == 727 and has(\"expected\"))"
http POST "/api/mappings/$M/tests/run" "${J[@]}" --data-binary '{}'
assert_jq "the published version passes its $NTESTS tests" "$BODY" ".passed == $NTESTS and .failed == 0"
http POST "/api/mappings/$M/tests/run" "${J[@]}" --data-binary "$(jq -nc --arg s "$BREAKS" '{source: $s}')"
assert_jq "a text that breaks them: each failing case with its field difference" "$BODY" \
    '.failed > 0 and (.results[] | select(.case == "order-727") | .ok == false
       and .diff == [{path: "$.PrivateNote", expected: "WooCommerce order #727", actual: "edited"}])'

echo "== who may publish"
BASE_V=$ORIG_SHA
as_tenant "$TOKEN_D" PUT "/api/mappings/$M/source" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$GOOD" --arg v "$BASE_V" '{source: $s, baseVersion: $v}')"
assert_jq "a tenant token: PUT source is 403, only the administrator" "$BODY" \
    '.error.code == "forbidden" and (.error.message | test("administrator"))'
assert_eq "... 403" 403 "$CODE"
as_tenant "$TOKEN_D" PUT "/api/mappings/$M/tests/mine" "${J[@]}" --data-binary '{"input": {}, "expected": {}}'
assert_eq "a tenant token: PUT test case is 403" 403 "$CODE"
check "... and nothing was written" test ! -e "$MAPPINGS_DIR/tests/$M/mine.json"
http PUT "/api/mappings/$M/source" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$BREAKS" --arg v "$BASE_V" '{source: $s, baseVersion: $v}')"
assert_eq "publishing a text that fails a data test: 422" 422 "$CODE"
assert_jq "... tests_failed with the tests result" "$BODY" \
    '.error.code == "tests_failed" and .error.details.failed > 0 and (.error.details.results | length) > 0'
assert_eq "... the file on disk unchanged" "$ORIG_SHA" "$(sha "$FILE")"
http PUT "/api/mappings/$M/source" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$SYNTAX" --arg v "$BASE_V" '{source: $s, baseVersion: $v}')"
assert_jq "publishing a text that does not compile: 422 load_error at its line" "$BODY" \
    '.error.code == "load_error" and .error.details.line == 81'
http PUT "/api/mappings/$M/source" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$GOOD" '{source: $s, baseVersion: "0123abcd"}')"
assert_eq "a stale baseVersion: 409" 409 "$CODE"
assert_jq "... version_conflict naming the published version" "$BODY" \
    ".error.code == \"version_conflict\" and .error.details.version == \"$ORIG_SHA\""
http PUT "/api/mappings/$M/source" "${J[@]}" --data-binary "$(jq -nc --arg s "$GOOD" '{source: $s}')"
assert_jq "no baseVersion: 422 naming it" "$BODY" '.error.details.field == "baseVersion"'
assert_eq "... the file still unchanged" "$ORIG_SHA" "$(sha "$FILE")"

echo "== a real dry run fills the snapshots"
seed_orders 900001 10 3 5 2026-05-01T00:00:00
start_run '{"mode": "full", "dryRun": true}'
wait_run 120000
assert_jq "the dry run over the mock's orders finishes" "$RUN" '.state == "succeeded" or .state == "partial"'
http GET "/api/mappings/$M/records?limit=50"
assert_eq "GET records: 200" 200 "$CODE"
assert_jq "... pruned to SNAPSHOTS_KEEP=8, newest first, each the record as the source gave it" "$BODY" \
    '(.items | length) == 8 and ([.items[].sourceId] == ["900010","900009","900008","900007","900006","900005","900004","900003"])
     and (.items[0].record.id == 900010) and (.items[0].record.billing.email | test("@example.com"))'
assert_eq "the table holds 8 rows for the tenant and flow" 8 \
    "$(sq "SELECT count(*) FROM record_snapshots WHERE tenant_id = 'default' AND flow = '$M'")"
http GET "/api/mappings/$M/records?limit=2"
assert_jq "?limit=2: the newest two" "$BODY" '[.items[].sourceId] == ["900010","900009"]'
as_tenant "$TOKEN_O" GET "/api/mappings/$M/records"
assert_jq "another tenant's token sees none of them" "$BODY" '.items == []'

echo "== impact"
http POST "/api/mappings/$M/impact" "${J[@]}" --data-binary "$(jq -nc --arg s "$GOOD" '{source: $s}')"
assert_eq "impact of the edit: 200" 200 "$CODE"
assert_jq "... its data tests all pass" "$BODY" ".tests.passed == $NTESTS and .tests.failed == 0"
assert_jq "... exactly the 8 snapshots changed, nothing else" "$BODY" \
    '.records.considered == 8 and .records.changed == 8 and .records.unchanged == 0 and .records.nowFailing == 0
     and .records.nowPassing == 0 and .records.truncated == false and (.records.items | length) == 8'
assert_jq "... each with the one field that moves, current against proposed" "$BODY" \
    'all(.records.items[]; .status == "changed" and .diff == [{path: "$.PrivateNote",
        current: ("WooCommerce order #" + .sourceId), proposed: ("edited " + .sourceId)}]
        and .current.document.PrivateNote == ("WooCommerce order #" + .sourceId))'
COMMENT=$(printf -- '-- a comment changes nothing\n%s\n' "$SRC")
http POST "/api/mappings/$M/impact" "${J[@]}" --data-binary "$(jq -nc --arg s "$COMMENT" '{source: $s, limit: 5}')"
assert_jq "a text that changes no document: 5 considered, 5 unchanged, no item" "$BODY" \
    '.records.considered == 5 and .records.unchanged == 5 and .records.changed == 0 and .records.items == []'
FAILS=$(edit_line90 '  map = function(order, ctx) if order.id == 900010 then error("no 900010") end; return woo.build(NAME, order, ctx, "Invoice") end,')
http POST "/api/mappings/$M/impact" "${J[@]}" --data-binary "$(jq -nc --arg s "$FAILS" '{source: $s}')"
assert_jq "a text that fails one record: now_failing with the error naming the line" "$BODY" \
    ".records.nowFailing == 1 and .records.unchanged == 7 and
     (.records.items[0] | .sourceId == \"900010\" and .status == \"now_failing\"
       and (.proposed.error | test(\"mappings/$M.lua:90\")) and (.current.document | type) == \"object\")"
as_tenant "$TOKEN_D" POST "/api/mappings/$M/impact" "${J[@]}" --data-binary "$(jq -nc --arg s "$GOOD" '{source: $s}')"
assert_jq "a tenant token sees the impact over its own records" "$BODY" '.records.changed == 8'
as_tenant "$TOKEN_O" POST "/api/mappings/$M/impact" "${J[@]}" --data-binary "$(jq -nc --arg s "$GOOD" '{source: $s}')"
assert_jq "another tenant's token: none of them" "$BODY" '.records.considered == 0 and .records.items == []'
# 230 snapshots of a third tenant (copies of one real record): the default limit and the cap
sq "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 230)
    INSERT INTO record_snapshots (tenant_id, flow, source_system, source_entity, source_id, record, seq)
    SELECT 'bulk', '$M', 'woocommerce', 'orders', 'b' || i,
           json_set(record, '\$.id', 800000 + i), i FROM n,
           (SELECT record FROM record_snapshots WHERE tenant_id = 'default' AND source_id = '900010')"
http POST "/api/mappings/$M/impact" "${J[@]}" -H 'X-Tenant-ID: bulk' --data-binary "$(jq -nc --arg s "$COMMENT" '{source: $s}')"
assert_jq "no limit: IMPACT_RECORDS (200) of the tenant's 230 snapshots" "$BODY" \
    '.records.considered == 200 and .records.unchanged == 200'
http POST "/api/mappings/$M/impact" "${J[@]}" -H 'X-Tenant-ID: bulk' --data-binary "$(jq -nc --arg s "$GOOD" '{source: $s, limit: 1000}')"
assert_jq "limit 1000: all 230, none of them at or above 900000" "$BODY" \
    '.records.considered == 230 and .records.changed == 0'
# a text that spends 1.5 s of CPU on each of these records (none of the data tests'): the job's
# 20 s wall clock ends it, and the answer says what it had
SLOW=$(edit_line90 '  map = function(order, ctx) if order.id >= 800000 and order.id < 900000 then local t = os.clock(); while os.clock() - t < 1.5 do end end; return woo.build(NAME, order, ctx, "Invoice") end,')
http POST "/api/mappings/$M/impact" "${J[@]}" -H 'X-Tenant-ID: bulk' \
    --data-binary "$(jq -nc --arg s "$SLOW" '{source: $s, limit: 40}')"
assert_jq "past the job's wall clock: 200 with what it had, truncated" "$BODY" \
    '.records.truncated == true and .records.considered < 40 and .records.available == 40'
http POST "/api/mappings/$M/impact" "${J[@]}" --data-binary "$(jq -nc --arg s "$GOOD" '{source: $s, limit: 1001}')"
assert_jq "limit 1001: 422 naming limit" "$BODY" '.error.code == "invalid_field" and .error.details.field == "limit"'
http GET "/api/mappings/$M/records?limit=0"
assert_eq "records?limit=0: 400" 400 "$CODE"
http POST "/api/mappings/$M/impact" "${J[@]}" --data-binary '{}'
assert_jq "impact without a source: 422 naming it" "$BODY" '.error.details.field == "source"'
python3 -c 'print("-- " + "x" * 262200)' >"$T/big.lua"
jq -nc --rawfile s "$T/big.lua" --argjson r "$RECORD" '{source: $s, record: $r}' >"$T/big.json"
http POST "/api/mappings/$M/preview" "${J[@]}" --data-binary @"$T/big.json"
assert_eq "a source over 256 KiB: 413" 413 "$CODE"

echo "== publish"
http PUT "/api/mappings/$M/source" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$GOOD" --arg v "$BASE_V" '{source: $s, baseVersion: $v}')"
assert_eq "publishing the good edit: 200" 200 "$CODE"
NEW_SHA=$(printf '%s' "$GOOD" | sha256sum | cut -d' ' -f1)
assert_jq "... published at once, its version the text's sha256, its tests passed" "$BODY" \
    ".published == true and .version == \"$NEW_SHA\" and .tests.failed == 0"
assert_eq "... the file on disk is the text" "$NEW_SHA" "$(sha "$FILE")"
check "... no temporary file is left" bash -c "! ls -A '$MAPPINGS_DIR' | grep -q '^\\.'"
dry_run_http "$M" "$RECORD"
assert_jq "the hot reload serves it: the dry run maps with the new text" "$BODY" '.PrivateNote == "edited 900001"'
http GET "/api/mappings/$M/source"
assert_jq "GET source: the new version" "$BODY" ".version == \"$NEW_SHA\" and .status == \"loaded\""
http PUT "/api/mappings/$M/source" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$SRC" --arg v "$BASE_V" '{source: $s, baseVersion: $v}')"
assert_eq "the old baseVersion is now a conflict" 409 "$CODE"

echo "== test cases"
# the case runs with the default settings (it has none): its expected output is the preview's
http POST "/api/mappings/$M/preview" "${J[@]}" --data-binary "$(jq -nc --argjson r "$RECORD" '{record: $r, config: {}}')"
EXPECTED=$(jq -c .document <<<"$BODY")
CASE=$(jq -nc --argjson i "$RECORD" --argjson e "$EXPECTED" '{description: "from the console", input: $i, expected: $e}')
http PUT "/api/mappings/$M/tests/console-900001" "${J[@]}" --data-binary "$CASE"
assert_eq "PUT a new test case: 201" 201 "$CODE"
assert_jq "... it passes with the published version" "$BODY" '.created == true and .result.ok == true'
assert_jq "... the file holds the body" "$(cat "$MAPPINGS_DIR/tests/$M/console-900001.json")" \
    '.description == "from the console" and .input.id == 900001'
http PUT "/api/mappings/$M/tests/console-900001" "${J[@]}" --data-binary "$CASE"
assert_eq "PUT it again: 200 (replaced)" 200 "$CODE"
http GET "/api/mappings/$M/tests"
assert_jq "GET tests lists it" "$BODY" '(.items[] | select(.case == "console-900001") | .description) == "from the console"'
http PUT "/api/mappings/$M/tests/bad-case" "${J[@]}" --data-binary '{"input": {"id": 1}}'
assert_jq "a case without expected: 422 invalid_case" "$BODY" '.error.code == "invalid_case"'
check "... nothing written" test ! -e "$MAPPINGS_DIR/tests/$M/bad-case.json"
http PUT "/api/mappings/$M/tests/.hidden" "${J[@]}" --data-binary "$CASE"
assert_eq "a case name starting with '.': 400" 400 "$CODE"
http PUT "/api/mappings/$M/tests/..%2F..%2Fx" "${J[@]}" --data-binary "$CASE"
assert_eq "a traversal case name: no such route (404)" 404 "$CODE"
check "... nothing written outside the tests folder" test ! -e "$MAPPINGS_DIR/x.json"
http PUT "/api/mappings/$M/tests/$(printf 'c%.0s' {1..65})" "${J[@]}" --data-binary "$CASE"
assert_eq "a case name over 64 characters: 400" 400 "$CODE"
# the new case pins the edit: a text that breaks it cannot be published
http PUT "/api/mappings/$M/source" "${J[@]}" \
    --data-binary "$(jq -nc --arg s "$SRC" --arg v "$NEW_SHA" '{source: $s, baseVersion: $v}')"
assert_jq "reverting the edit now fails the new case: tests_failed naming it" "$BODY" \
    '.error.code == "tests_failed" and (.error.details.results[] | select(.case == "console-900001") | .ok == false)'
assert_eq "... the file unchanged" "$NEW_SHA" "$(sha "$FILE")"
check "the repository's mappings/ is untouched" test "$(sha "$ENG_SOURCE_DIR/mappings/$M.lua")" = "$ORIG_SHA"

finish
