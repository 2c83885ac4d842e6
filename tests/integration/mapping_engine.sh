#!/usr/bin/env bash
# tests/integration/mapping_engine.sh: the mapping engine through the real binary, with the
# test-only mappings of tests/lua/mappings_fixture/ (MAPPINGS_DIR points there):
#   - `dry-run --explain` (text and --json) names, for every output field (0-based JSONPath),
#     the rule and the input it read, or the line that wrote it (lines found by their @markers,
#     not numbers), through table.insert/sort/remove/move and merges; never a value guess
#   - broken mappings (runtime error, error(msg, 0), wrong return type, syntax error, contract
#     error) give one line naming file, line and record, in the CLI and over the API
#   - `tallysync test` passes good cases, and a wrong case prints path/expected/got and exits 1
#   - the API dry-run takes ?explain=true
# shellcheck source=tests/integration/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
require_tools jq curl

FIXDIR=$ENG_SOURCE_DIR/tests/lua/mappings_fixture
export MAPPINGS_DIR=$FIXDIR

# line_of FILE MARKER: the line number of "-- @MARKER" in the fixture mapping FILE
line_of() { grep -n -- "-- @$2\$" "$FIXDIR/$1.lua" | cut -d: -f1; }

cat >"$T/order.json" <<'EOF'
{"id": 727, "number": " 727 ", "total": "29.35", "currency": "USD",
 "date_created_gmt": "2017-03-22T03:10:00", "billing": {"email": " John.Doe@Example.com "},
 "line_items": [{"name": "Woo Single #1", "quantity": 2}, {"name": "Ship Your Idea", "quantity": 1}]}
EOF

echo "== dry-run --explain --json"
run_bin "$T/ej" dry-run --mapping explained --input "$T/order.json" --explain --json
assert_eq "explain --json exits 0" 0 "$RC"
field() { printf '%s' "$OUT" | jq -c --arg p "$1" '.fields[] | select(.path == $p)'; }
L_CUST=$(line_of explained customer)
L_LINE=$(line_of explained line)
L_QTY=$(line_of explained qty)
L_DOC=$(line_of explained docnumber)
assert_jq "the output is the mapped document" "$OUT" \
    '.output.DocNumber == "WC-727" and .output.TotalAmt == 29.35 and .output.TxnDate == "2017-03-21"'
assert_jq "TotalAmt: rule 2, read \$.total = \"29.35\"" "$(field '$.TotalAmt')" \
    '.by == "rule" and (.rule | startswith("rules[2] (TotalAmt <- total)")) and .from == "$.total" and .input == "29.35"'
assert_jq "TxnDate: rule 3 and the GMT input it read" "$(field '$.TxnDate')" \
    '.rule | startswith("rules[3]")'
assert_jq "TxnDate read date_created_gmt" "$(field '$.TxnDate')" '.input == "2017-03-22T03:10:00"'
assert_jq "BillEmail.Address: rule 4 read the untrimmed input" "$(field '$.BillEmail.Address')" \
    '.by == "rule" and .input == " John.Doe@Example.com " and .value == "john.doe@example.com"'
assert_jq "CustomerRef.value: the line that wrote it (a constructor)" "$(field '$.CustomerRef.value')" \
    ".by == \"map\" and .line == \"mappings/explained.lua:$L_CUST\""
assert_jq "DocNumber: map() overrode the rule, at its line" "$(field '$.DocNumber')" \
    ".by == \"map\" and .line == \"mappings/explained.lua:$L_DOC\""
assert_jq "Line[1].Description: written by a constructor at its line, no value guess" \
    "$(field '$.Line[1].Description')" \
    ".line == \"mappings/explained.lua:$L_LINE\" and (has(\"same_as\") | not)"
assert_jq "Line[0].Qty: a write into a nested table, at its own line" "$(field '$.Line[0].Qty')" \
    ".line == \"mappings/explained.lua:$L_QTY\""
assert_jq "every output leaf is explained, none unknown, paths are 0-based JSONPath" "$OUT" \
    '(.fields | length) == 9 and all(.fields[]; .by != "unknown" and (.path | startswith("$.")))
     and ([.fields[].path | select(test("\\[[0-9]+\\]"))] | sort) ==
         ["$.Line[0].Description", "$.Line[0].Qty", "$.Line[1].Description", "$.Line[1].Qty"]'
assert_jq "no field is attributed by comparing values" "$OUT" \
    'all(.fields[]; (has("same_as") | not) and (.by == "rule" or (.line | type) == "string"))'

echo "== dry-run --explain (text)"
run_bin "$T/et" dry-run --mapping explained --input "$T/order.json" --explain
assert_eq "explain exits 0" 0 "$RC"
assert_contains "text names the record" "$OUT" "record 1 (id 727): order 727, 9 fields"
assert_contains "text shows a rule and its input" "$OUT" \
    '<- rule rules[2] (TotalAmt <- total), read $.total = "29.35"'
assert_contains "text shows the writing line" "$OUT" "\$.DocNumber = \"WC-727\""$'\n'"      <- mappings/explained.lua:$L_DOC"
assert_not_contains "text has no value guess" "$OUT" "same value as input"

echo "== explain of today's form (map returns the document)"
run_bin "$T/er" dry-run --mapping returned --input "$T/order.json" --explain
L_RET=$(line_of returned return)
assert_contains "a returned field names the constructor's line" "$OUT" \
    "\$.DocNumber = \" 727 \""$'\n'"      <- mappings/returned.lua:$L_RET"
run_bin "$T/erj" dry-run --mapping returned --input "$T/order.json" --explain --json
assert_jq "returned fields: written by map at the return" "$OUT" \
    "[.fields[] | .by + \" \" + .line] == [\"map mappings/returned.lua:$L_RET\", \"map mappings/returned.lua:$L_RET\"]"

echo "== explain follows table.insert/sort/remove/move, C-made tables and merges"
run_bin "$T/el" dry-run --mapping lineage --input "$T/order.json" --explain --json
assert_eq "explain of the lineage fixture exits 0" 0 "$RC"
lf() { printf '%s' "$OUT" | jq -r --arg p "$1" '.fields[] | select(.path == $p) | .line + (if .part_of then " part_of " + .part_of else "" end)'; }
assert_eq "an item built by a helper's constructor: its own line" \
    "mappings/lineage.lua:$(line_of lineage ctor-qty)" "$(lf '$.Line[1].Qty')"
assert_eq "sorted and shifted elements keep their writer (a)" \
    "mappings/lineage.lua:$(line_of lineage tag-a)" "$(lf '$.Tags[0]')"
assert_eq "sorted and shifted elements keep their writer (c)" \
    "mappings/lineage.lua:$(line_of lineage tag-c)" "$(lf '$.Tags[1]')"
assert_eq "table.move writes at its line" "mappings/lineage.lua:$(line_of lineage move)" "$(lf '$.Copy[0]')"
assert_eq "a table made by C is written whole where it is attached" \
    "mappings/lineage.lua:$(line_of lineage raw) part_of \$.Raw" "$(lf '$.Raw.a.b')"
assert_eq "a returned document's field wins over the rule's, with its line" \
    "mappings/lineage.lua:$(line_of lineage return)" "$(lf '$.Memo')"
assert_jq "a rule's field the map left alone stays the rule's" "$OUT" \
    '.fields[] | select(.path == "$.Kept") | .by == "rule" and .from == "$.total"'
run_bin "$T/elp" dry-run --mapping lineage --input "$T/order.json"
assert_jq "explain does not change the document" "$OUT" \
    '.Tags == ["a", "c"] and .Copy == ["a"] and .Memo == "from map" and .Line[1].Name == "Ship Your Idea"'
run_bin "$T/jsonalone" dry-run --mapping returned --input "$T/order.json" --json
assert_eq "--json without --explain is a usage error" 2 "$RC"

echo "== the traced copy is as sandboxed as the normal one"
run_bin "$T/bt" dry-run --mapping broken_table --input "$T/order.json"
run_bin "$T/bte" dry-run --mapping broken_table --input "$T/order.json" --explain
assert_contains "plain: the shared table library is read-only" "$(cat "$T/bt.err")" \
    "mappings/broken_table.lua:$(line_of broken_table write): order 727: attempt to modify a read-only table (key 'sort')"
assert_eq "explain: the same refusal" "$(cat "$T/bt.err")" "$ERR"

echo "== broken mappings name file, line and record"
printf '%s\n' '{"id": 1, "billing": {}}' '{"id": 2}' '{"id": 5}' >"$T/three.ndjson"
run_bin "$T/rt" dry-run --mapping broken_runtime --input "$T/three.ndjson"
assert_eq "runtime error exits 1" 1 "$RC"
assert_eq "only order 2 fails" 1 "$(grep -c '' "$T/rt.err")"
assert_contains "runtime error: file, line, record" "$ERR" \
    "record 2 (id 2): mappings/broken_runtime.lua:$(line_of broken_runtime nil-index): order 2: attempt to index a nil value"
run_bin "$T/rs" dry-run --mapping broken_raise --input "$T/three.ndjson"
assert_contains "error(msg, 0): the raising line is put in front" "$ERR" \
    "mappings/broken_raise.lua:$(line_of broken_raise raise): order 5: total: missing amount"
run_bin "$T/ty" dry-run --mapping broken_type --input "$T/three.ndjson"
assert_eq "wrong return type: every record fails" 3 "$(grep -c '' "$T/ty.err")"
assert_contains "wrong return type: file, line of map, record" "$ERR" \
    "mappings/broken_type.lua:$(line_of broken_type map): order 5: map() returned string, expected a table"
run_bin "$T/sy" dry-run --mapping broken_syntax --input "$T/three.ndjson"
assert_eq "syntax error exits 1" 1 "$RC"
assert_contains "syntax error: file and line" "$ERR" \
    "mapping broken_syntax: mappings/broken_syntax.lua:$(line_of broken_syntax syntax): unexpected symbol"
run_bin "$T/co" dry-run --mapping broken_contract --input "$T/three.ndjson"
assert_contains "contract error at load time: file, rule, transform" "$ERR" \
    "mappings/broken_contract.lua: rules[2] (PrivateNote <- customer_note): unknown transform 'shout'"

echo "== tallysync test"
run_bin "$T/t1" test explained
assert_eq "the fixture's cases pass" 0 "$RC"
assert_contains "both cases ran (one expected_error)" "$OUT" "2 passed, 0 failed"
mkdir -p "$T/maps/tests/explained"
cp "$FIXDIR/explained.lua" "$T/maps/"
jq '.expected.Line[1].Qty = 3 | .expected.TotalAmt = 29.3 | .expected["Odd key"] = 1' \
    "$FIXDIR/tests/explained/order-727.json" >"$T/maps/tests/explained/wrong.json"
jq 'del(.refs)' "$FIXDIR/tests/explained/order-727.json" >"$T/maps/tests/explained/no-refs.json"
jq '.input.total = "1.00"' "$FIXDIR/tests/explained/bad-money.json" >"$T/maps/tests/explained/no-error.json"
printf '%s' '{"input": {}, "expect": {}}' >"$T/maps/tests/explained/typo.json"
MAPPINGS_DIR="$T/maps" run_bin "$T/t2" test explained
assert_eq "failing cases exit 1" 1 "$RC"
assert_contains "counts" "$OUT" "0 passed, 4 failed"
assert_contains "diff: path, expected, got" "$OUT" \
    "$.Line[1].Qty"$'\n'"         expected: 3"$'\n'"         got:      1"
assert_contains "diff: a money field" "$OUT" "expected: 29.3"
assert_contains "diff: a key that is no identifier, quoted JSONPath" "$OUT" \
    '$["Odd key"]'$'\n''         expected: 1'$'\n''         got:      (absent)'
assert_contains "without refs the dry-run marker shows in the diff" "$OUT" \
    'got:      "{{customer  John.Doe@Example.com }}"'
assert_contains "expected_error that does not happen fails" "$OUT" \
    'expected an error containing "mappings/explained.lua: rules[2] (TotalAmt <- total): order 9: money:", got a result'
assert_contains "a misspelt key is refused" "$OUT" 'unknown key "expect" in the case'

echo "== API dry-run: ?explain=true and a broken mapping"
serve_start WORKERS=1 || finish
http POST '/api/mappings/explained/dry-run?explain=true' -H 'Content-Type: application/json' \
    --data-binary @"$T/order.json"
assert_eq "explain over the API answers 200" 200 "$CODE"
assert_jq "API explain names the map() line" "$BODY" \
    ".fields[] | select(.path == \"\$.DocNumber\") | .line == \"mappings/explained.lua:$L_DOC\""
http POST '/api/mappings/explained/dry-run' -H 'Content-Type: application/json' \
    --data-binary @"$T/order.json"
assert_jq "without explain the API answers the document" "$BODY" '.DocNumber == "WC-727" and (has("fields") | not)'
http POST '/api/mappings/broken_runtime/dry-run' -H 'Content-Type: application/json' \
    --data-binary '{"id": 2}'
assert_eq "broken mapping over the API: 422" 422 "$CODE"
assert_jq "API error: file, line, record" "$BODY" \
    ".error.message | contains(\"mappings/broken_runtime.lua:$(line_of broken_runtime nil-index): order 2:\")"
http GET /api/scripts
assert_jq "the contract-breaking mapping is rejected by the registry, naming the rule" "$BODY" \
    '.scripts[] | select(.path == "mappings/broken_contract.lua") | .error | contains("rules[2] (PrivateNote <- customer_note): unknown transform")'
serve_stop

finish
