#!/usr/bin/env bash
# tests/integration/dryrun_stream.sh - the dry run is a stream (issue 14):
#   - memory is flat in the number of records: the CLI's peak RSS over 20,000 records is within
#     1.3x + 4 MB of its peak over the first 2,000 of the same input (the input is never held
#     whole; before issue 14: 83 MB at 2,000, 716 MB at 20,000);
#   - bad records interleaved in 20,000 realistic orders (malformed lines, orders whose totals the
#     standard mapping refuses, a record that is not an order): every good document comes out, in
#     input order, every bad record is named on stderr (its number; its id when it has one), exit
#     status 1; the same for a JSON array (the output array lacks the failed elements);
#   - the API's dry run on mixed input: 422 mapping_failed naming each bad record in
#     details.errors, their numbers in details.failed and the good documents, in input order, in
#     details.documents.
# Orders: tests/tools/gen_order_corpus.py (fixed seed), 2,000 of them repeated with new ids and
# numbers up to DRYRUN_STREAM_COUNT (20,000; 2,000 under the sanitizers, where RSS is not
# compared: DRYRUN_STREAM_RSS=0). No timing is asserted.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq python3 curl
unset DRY_RUN_MAX_RECORDS
# This is about streaming, not the script budget: a 160-line order on a machine at load 20
# (under a sanitizer) may outlast the 2 s default, so the budget is set out of the way.
export SCRIPT_TIMEOUT_MS=60000

MAPPING=woo_order_to_qbo_invoice
COUNT=${DRYRUN_STREAM_COUNT:-20000}
SMALL=$((COUNT / 10))

python3 "$ENG_SOURCE_DIR/tests/tools/gen_order_corpus.py" --count 2000 --seed 20260301 \
    --out "$T/corpus.json" --config "$T/config.json" || fail "the corpus generator ran"

# mixed.ndjson / mixed.json: COUNT records; every 97th is malformed (in NDJSON alternately a
# line cut in half and a balanced but invalid object; in the array only the latter, which keeps
# the array's framing), every 89th an order whose total is 500 more than its parts (the mapping
# refuses it), every 211th the number 42. good.txt: the DocNumbers expected, in order;
# bad.txt: "N KIND ID" per bad record.
python3 - "$T" "$COUNT" <<'EOF'
import json, sys
from decimal import Decimal
t, count = sys.argv[1], int(sys.argv[2])
orders = json.load(open(f"{t}/corpus.json"))
nd, arr, good, bad = [], [], [], []
for i in range(1, count + 1):
    o = dict(orders[(i - 1) % len(orders)])
    o["id"] = 500000 + i
    o["number"] = str(500000 + i)
    line = json.dumps(o, separators=(",", ":"), ensure_ascii=False)
    if i % 97 == 5:
        cut = '{"id": %d, "broken": }' % o["id"]
        nd.append(line[: len(line) // 2] if i % 2 else cut)
        arr.append(cut)
        bad.append(f"{i} malformed -")
    elif i % 89 == 7:
        o["total"] = str(Decimal(o["total"]) + 500)
        text = json.dumps(o, separators=(",", ":"), ensure_ascii=False)
        nd.append(text)
        arr.append(text)
        bad.append(f"{i} refused {o['id']}")
    elif i % 211 == 3:
        nd.append("42")
        arr.append("42")
        bad.append(f"{i} not-an-order -")
    else:
        nd.append(line)
        arr.append(line)
        good.append(o["number"])
open(f"{t}/mixed.ndjson", "w").write("\n".join(nd) + "\n")
open(f"{t}/mixed.json", "w").write("[\n" + ",\n".join(arr) + "\n]\n")
open(f"{t}/good.txt", "w").write("\n".join(good) + "\n")
open(f"{t}/bad.txt", "w").write("\n".join(bad) + "\n")
EOF
head -n "$SMALL" "$T/mixed.ndjson" >"$T/small.ndjson"
nbad=$(grep -c '' "$T/bad.txt")
echo "     ($COUNT records, $nbad bad; $(wc -c <"$T/mixed.ndjson") bytes of NDJSON)"


# check_named ERR: every bad record named on stderr, nothing else failing.
check_named() {
    local err=$1 what=$2
    grep -oE '^tallysync dry-run: record [0-9]+' "$err" | awk '{print $4}' >"$T/named.txt"
    # a record that failed and should not have: its line, for the failure's detail
    awk 'NR == FNR {bad[$1] = 1; next} $3 == "record" {n = $4; sub(/[^0-9].*/, "", n); if (!(n in bad)) print}' \
        "$T/bad.txt" "$err" | head -n 3 | cut -c 1-300
    assert_eq "$what: one line on stderr per bad record, naming it, in order" \
        "$(awk '{print $1}' "$T/bad.txt" | tr '\n' ' ')" "$(tr '\n' ' ' <"$T/named.txt")"
    local missing
    missing=$(awk '$2 == "refused" {print "record " $1 " (id " $3 "): "}' "$T/bad.txt" |
        grep -vFf <(sed 's/^tallysync dry-run: //' "$err" | grep -o '^record [0-9]* (id [0-9]*): ') |
        head -n 3)
    assert_eq "$what: each refused order named with its id" "" "$missing"
    assert_eq "$what: ... and why (does not reconcile)" \
        "$(grep -c ' refused ' "$T/bad.txt")" "$(grep -c 'does not reconcile' "$err")"
    assert_eq "$what: the malformed ones say so" \
        "$(grep -c ' malformed ' "$T/bad.txt")" "$(grep -c ': malformed JSON: ' "$err")"
}

cd_args=(dry-run --mapping "$MAPPING" --config "$T/config.json")

echo "== NDJSON, $COUNT records with bad ones interleaved"
peak "$T/nd.out" "$T/nd.err" "$TALLYSYNC_BIN" "${cd_args[@]}" --input "$T/mixed.ndjson"
big_nd=$PEAK
assert_eq "exit status 1 (some records failed)" 1 "$RC"
jq -r '.DocNumber' "$T/nd.out" >"$T/nd.numbers" 2>"$T/nd.jq"
assert_eq "every good document out, one line each, in input order" \
    "$(md5sum <"$T/good.txt")" "$(md5sum <"$T/nd.numbers")"
assert_eq "... as many lines as good records" "$(grep -c '' "$T/good.txt")" "$(grep -c '' "$T/nd.out")"
check_named "$T/nd.err" "NDJSON"

echo "== JSON array, the same records"
peak "$T/arr.out" "$T/arr.err" "$TALLYSYNC_BIN" "${cd_args[@]}" --input "$T/mixed.json"
big_arr=$PEAK
assert_eq "exit status 1 (some records failed)" 1 "$RC"
jq -r '.[].DocNumber' "$T/arr.out" >"$T/arr.numbers" 2>"$T/arr.jq"
assert_eq "one JSON array of every good document, in input order (the failed ones left out)" \
    "$(md5sum <"$T/good.txt")" "$(md5sum <"$T/arr.numbers")"
check_named "$T/arr.err" "array"
assert_contains "a malformed element is named with its line" "$(cat "$T/arr.err")" \
    "mixed.json line "

echo "== the record path's allocator"
# Lua's blocks come from mimalloc (Debian's libmimalloc2.0, which tools/setup.sh installs) for
# states that map many records: engine/lua/vm.c loads it with dlopen when the first is made, so
# a dry run maps it (and an idle serve never does: serve.sh). Sanitizer builds keep their own.
if ! grep -q '^ENG_SANITIZE:STRING=.\+' "$(dirname "$TALLYSYNC_BIN")/CMakeCache.txt" 2>/dev/null; then
    head -n 1 "$T/mixed.ndjson" >"$T/good1.ndjson" # record 1 is a good one
    LD_DEBUG=files "$TALLYSYNC_BIN" "${cd_args[@]}" --input "$T/good1.ndjson" >"$T/ld.out" 2>"$T/ld.err"
    assert_contains "a dry run's states allocate with mimalloc (loaded, not linked)" \
        "$(grep -E 'file=libmimalloc\.so\.2 .*dynamically loaded' "$T/ld.err" | head -n 1)" "libmimalloc"
    assert_eq "... and the document is the same as ever" "$(jq -r .DocNumber "$T/ld.out")" \
        "$(head -n 1 "$T/good.txt")"
fi

echo "== memory is flat in the number of records"
peak "$T/small.out" "$T/small.err" "$TALLYSYNC_BIN" "${cd_args[@]}" --input "$T/small.ndjson"
small_nd=$PEAK
echo "     (peak RSS: $SMALL records $small_nd KB; $COUNT records: NDJSON $big_nd KB, array $big_arr KB)"
if [[ "${DRYRUN_STREAM_RSS:-1}" == 1 ]]; then
    limit=$((small_nd * 13 / 10 + 4096))
    assert_lt "NDJSON: peak RSS at $COUNT records < 1.3x + 4 MB of that at $SMALL" "$big_nd" "$limit"
    assert_lt "array: peak RSS at $COUNT records < 1.3x + 4 MB of NDJSON at $SMALL" "$big_arr" "$limit"
else
    pass "peak RSS not compared (sanitizer build: DRYRUN_STREAM_RSS=0)"
fi

echo "== the API's dry run on mixed input"
FIX="$FIXTURES_DIR/woocommerce"
{
    jq -c '.[0]' "$FIX/orders-list.json"
    echo '{"id": 5, "broken": }'
    jq -c '.[1]' "$FIX/orders-list.json"
    jq -c '.' "$FIX/order-ios-coupon-fee-tax.json"
    echo '42'
    jq -c '.' "$FIX/order.json"
} >"$T/api.ndjson"
want=$(jq -c '[.[0], .[1]] | map(.number | tostring)' "$FIX/orders-list.json" |
    jq -c --arg n "$(jq -r '.number | tostring' "$FIX/order.json")" '. + [$n]')
refused_id=$(jq -r '.id' "$FIX/order-ios-coupon-fee-tax.json")
run_bin "$T/tok" token create --tenant shop-a --name stream
TOKEN=$(printf '%s' "$OUT" | grep -oE 'ts_[A-Za-z0-9_-]{43}' | head -n 1)
serve_start WORKERS=1 || finish
DRY_RUN_AUTH="Authorization: Bearer $TOKEN" dry_run_file "$MAPPING" "$T/api.ndjson" application/x-ndjson
assert_eq "NDJSON with bad records: 422" 422 "$CODE"
assert_jq "... mapping_failed, details.failed names records 2, 4 and 5" "$BODY" \
    '.error.code == "mapping_failed" and .error.details.failed == [2, 4, 5]'
assert_jq "... details.errors: one line per bad record, naming it" "$BODY" \
    "(.error.details.errors | length) == 3
     and (.error.details.errors[0] | startswith(\"record 2 (request body line 2): malformed JSON\"))
     and (.error.details.errors[1] | startswith(\"record 4 (id $refused_id): \"))
     and (.error.details.errors[2] | startswith(\"record 5: \"))"
assert_jq "... details.documents: the good documents, in input order" "$BODY" \
    "[.error.details.documents[].DocNumber] == $want"
jq -s '.' "$T/api.ndjson" 2>/dev/null >/dev/null || true
{
    echo '['
    jq -c '.[0]' "$FIX/orders-list.json"
    echo ', {"id": 5, "broken": }, '
    jq -c '.[1]' "$FIX/orders-list.json"
    echo ','
    jq -c '.' "$FIX/order-ios-coupon-fee-tax.json"
    echo ', 42,'
    jq -c '.' "$FIX/order.json"
    echo ']'
} >"$T/api.json"
DRY_RUN_AUTH="Authorization: Bearer $TOKEN" dry_run_file "$MAPPING" "$T/api.json"
assert_eq "a JSON array with bad elements: 422" 422 "$CODE"
assert_jq "... the same records failed, the good documents in input order" "$BODY" \
    ".error.code == \"mapping_failed\" and .error.details.failed == [2, 4, 5]
     and [.error.details.documents[].DocNumber] == $want"
printf '[\n{"id": 1,\n' >"$T/unclosed.json"
DRY_RUN_AUTH="Authorization: Bearer $TOKEN" dry_run_file "$MAPPING" "$T/unclosed.json"
assert_eq "an array that is never closed: 400" 400 "$CODE"
assert_jq "... malformed_json saying so" "$BODY" \
    '.error.code == "malformed_json" and (.error.message | test("the array is not closed"))'
serve_stop
finish
