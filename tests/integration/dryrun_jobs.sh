#!/usr/bin/env bash
# tests/integration/dryrun_jobs.sh - `tallysync dry-run --jobs N` maps on N threads (issue 14)
# and gives exactly what one thread gives:
#   - --jobs 4 against --jobs 1, byte for byte (stdout, stderr, exit status): NDJSON and a JSON
#     array with bad records interleaved (malformed lines and elements, orders the standard
#     mapping refuses, a record that is not an order), --explain and --explain --json, and
#     records whose cost varies a hundredfold, some of which blow the script budget (a
#     `while true do end`), so results come back out of order;
#   - small inputs (fewer records than threads; one document, malformed or not; an empty
#     array; a mapping that does not load) the same way;
#   - memory stays flat with jobs: peak RSS of --jobs 4 over DRYRUN_JOBS_BIG records (a slow
#     record every 500 holding the writer) within 1.3x + 4 MB of its peak over a tenth of them;
#   - --jobs outside 1..64 is a usage error.
# Counts: DRYRUN_JOBS_COUNT (600) mixed standard orders, DRYRUN_JOBS_BIG (10,000) for the memory
# check (DRYRUN_JOBS_RSS=0 under the sanitizers: RSS not compared). No timing is asserted.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq python3
unset DRY_RUN_MAX_RECORDS
# a budget a loop blows quickly, far above what one order costs (~2M instructions); the clock
# out of the way of a loaded machine
export SCRIPT_MAX_INSTRUCTIONS=20000000 SCRIPT_TIMEOUT_MS=20000

COUNT=${DRYRUN_JOBS_COUNT:-600}
BIG=${DRYRUN_JOBS_BIG:-10000}
MAPPING=woo_order_to_qbo_invoice

copy_script_dirs
# probe: a small mapping whose cost the record chooses (spin: that many loop turns; loop: never
# ends, the budget stops it; fail: raises)
cat >"$MAPPINGS_DIR/jobs_probe.lua" <<'EOF'
return {
  name = "jobs_probe",
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "quickbooks", entity = "Invoice" },
  key = "id",
  map = function(o, ctx)
    local x = 0
    for k = 1, tonumber(o.spin) or 0 do x = x + k % 7 end
    if o.loop then while true do end end
    if o.fail then error("probe refuses order " .. tostring(o.id)) end
    local lines = {}
    for _, li in ipairs(o.line_items or {}) do
      lines[#lines + 1] = { Description = li.name, Amount = tonumber(li.total) or 0 }
    end
    return { DocNumber = o.number, Spun = x, Line = lines }
  end,
}
EOF
printf 'return {\n  name = "jobs_broken",\n  map = function(o)\n' >"$MAPPINGS_DIR/jobs_broken.lua"

python3 "$ENG_SOURCE_DIR/tests/tools/gen_order_corpus.py" --count 300 --seed 20260314 \
    --out "$T/corpus.json" --config "$T/config.json" || fail "the corpus generator ran"

# mixed.ndjson / mixed.json: COUNT standard orders, every 37th malformed, every 41st refused
# (total 500 more than its parts), every 53rd the number 42. probe.ndjson: COUNT probe records,
# every 7th spinning 200,000 turns, every 61st looping, every 67th failing.
# big.ndjson: BIG probe records, every 500th spinning 3,000,000 turns.
python3 - "$T" "$COUNT" "$BIG" <<'EOF'
import json, sys
from decimal import Decimal
t, count, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
orders = json.load(open(f"{t}/corpus.json"))
dump = lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False)
nd, arr, probe = [], [], []
for i in range(1, count + 1):
    o = dict(orders[(i - 1) % len(orders)])
    o["id"] = 700000 + i
    o["number"] = str(700000 + i)
    line = dump(o)
    if i % 37 == 5:
        nd.append(line[: len(line) // 2] if i % 2 else '{"id": %d, "broken": }' % o["id"])
        arr.append('{"id": %d, "broken": }' % o["id"])
    elif i % 41 == 7:
        o["total"] = str(Decimal(o["total"]) + 500)
        nd.append(dump(o))
        arr.append(dump(o))
    elif i % 53 == 3:
        nd.append("42")
        arr.append("42")
    else:
        nd.append(line)
        arr.append(line)
    p = {"id": o["id"], "number": o["number"], "line_items": o["line_items"][:3]}
    if i % 7 == 1:
        p["spin"] = 200000
    if i % 61 == 10:
        p["loop"] = True
    if i % 67 == 20:
        p["fail"] = True
    probe.append(dump(p))
open(f"{t}/mixed.ndjson", "w").write("\n".join(nd) + "\n")
open(f"{t}/mixed.json", "w").write("[\n" + ",\n".join(arr) + "\n]\n")
open(f"{t}/probe.ndjson", "w").write("\n".join(probe) + "\n")
with open(f"{t}/big.ndjson", "w") as f:
    for i in range(1, big + 1):
        o = orders[(i - 1) % len(orders)]
        p = {"id": 800000 + i, "number": str(800000 + i), "line_items": o["line_items"]}
        if i % 500 == 250:
            p["spin"] = 3000000
        f.write(dump(p) + "\n")
EOF
head -n $((BIG / 10)) "$T/big.ndjson" >"$T/big-small.ndjson"
good_nd=$(python3 -c "print(sum(1 for i in range(1, $COUNT + 1) if not (i % 37 == 5 or i % 41 == 7 or i % 53 == 3)))")

# same NAME MIN_DOCS ARGS...: the dry run with --jobs 1 and with --jobs 4 gives the same stdout,
# stderr and exit status; MIN_DOCS: lines the output must have at least (so that two empty
# outputs do not pass).
same() {
    local name=$1 min=$2
    shift 2
    run_bin "$T/j1" dry-run "$@" --jobs 1
    local rc1=$RC
    run_bin "$T/j4" dry-run "$@" --jobs 4
    assert_eq "$name: the same exit status" "$rc1" "$RC"
    assert_eq "$name: the same output, byte for byte ($(wc -c <"$T/j1.out") bytes)" \
        "$(md5sum <"$T/j1.out")" "$(md5sum <"$T/j4.out")"
    assert_eq "$name: the same lines on stderr, in the same order ($(wc -l <"$T/j1.err") lines)" \
        "$(md5sum <"$T/j1.err")" "$(md5sum <"$T/j4.err")"
    if (($(wc -l <"$T/j4.out") < min)); then
        fail "$name: at least $min lines out (got $(wc -l <"$T/j4.out"))"
        head -n 3 "$T/j4.err" | cut -c 1-300
    fi
}

std=(--mapping "$MAPPING" --config "$T/config.json")
echo "== --jobs 4 against --jobs 1, $COUNT standard orders with bad ones interleaved"
same "NDJSON" "$good_nd" "${std[@]}" --input "$T/mixed.ndjson"
assert_eq "NDJSON: exit status 1 (some records failed)" 1 "$RC"
assert_eq "NDJSON: one document per good record" "$good_nd" "$(grep -c '' "$T/j4.out")"
assert_contains "NDJSON: a malformed line named with its line and byte" "$(cat "$T/j4.err")" \
    "mixed.ndjson line 5): malformed JSON: "
assert_contains "NDJSON: a refused order named with its id" "$(cat "$T/j4.err")" \
    "record 7 (id 700007): "
same "JSON array" "$good_nd" "${std[@]}" --input "$T/mixed.json"
assert_jq "JSON array: one array of the good documents" "$(cat "$T/j4.out")" "length == $good_nd"
same "--explain" "$good_nd" "${std[@]}" --input "$T/mixed.ndjson" --explain
same "--explain --json" "$good_nd" "${std[@]}" --input "$T/mixed.json" --explain --json

echo "== records of uneven cost, some blowing the budget"
same "probe" $((COUNT / 2)) --mapping jobs_probe --input "$T/probe.ndjson"
assert_contains "probe: a looping record stops at the budget, named" "$(cat "$T/j4.err")" \
    "record 10: "
assert_contains "... by the budget" "$(grep '^tallysync dry-run: record 10: ' "$T/j4.err")" \
    "budget"
assert_contains "probe: a failing record named" "$(cat "$T/j4.err")" \
    "record 20 (id 700020): "
assert_contains "probe: what the mapping assumed, last (no --config)" "$(tail -n 1 "$T/j4.err")" \
    "tallysync dry-run: note: "
assert_eq "probe: every other record out" \
    "$(python3 -c "print(sum(1 for i in range(1, $COUNT + 1) if not (i % 61 == 10 or i % 67 == 20)))")" \
    "$(grep -c '' "$T/j4.out")"

echo "== small inputs"
head -n 3 "$T/mixed.ndjson" >"$T/three.ndjson"
same "three records, four threads" 2 "${std[@]}" --input "$T/three.ndjson"
jq '.' <(head -n 1 "$T/mixed.ndjson") >"$T/one.json"
same "one document over several lines" 10 "${std[@]}" --input "$T/one.json"
printf '{"id": 1,\n "total": }\n' >"$T/bad-one.json"
same "one malformed document" 0 "${std[@]}" --input "$T/bad-one.json"
assert_eq "... exit status 1" 1 "$RC"
assert_contains "... the input named as not JSON" "$ERR" "bad-one.json: malformed JSON: "
printf '[ ]\n' >"$T/empty.json"
same "an empty array" 1 "${std[@]}" --input "$T/empty.json"
assert_eq "... gives an empty array" "[]" "$OUT"
same "a mapping that does not load" 0 --mapping jobs_broken --input "$T/three.ndjson"
assert_eq "... exit status 1" 1 "$RC"
assert_contains "... one line naming the mapping" "$ERR" "tallysync dry-run: mapping jobs_broken: "
assert_eq "... and nothing else" 1 "$(grep -c '' "$T/j4.err")"

echo "== memory is flat with jobs"
peak "$T/big-small.out" "$T/big-small.err" "$TALLYSYNC_BIN" dry-run --mapping jobs_probe \
    --input "$T/big-small.ndjson" --jobs 4
small=$PEAK
assert_eq "$((BIG / 10)) records, --jobs 4: exit status 0" 0 "$RC"
peak "$T/big.out" "$T/big.err" "$TALLYSYNC_BIN" dry-run --mapping jobs_probe \
    --input "$T/big.ndjson" --jobs 4
big=$PEAK
assert_eq "$BIG records, --jobs 4: exit status 0" 0 "$RC"
assert_eq "... every record out, in input order" \
    "$(seq 800001 $((800000 + BIG)) | md5sum)" "$(jq -r '.DocNumber' "$T/big.out" | md5sum)"
echo "     (peak RSS, --jobs 4: $((BIG / 10)) records $small KB, $BIG records $big KB)"
if [[ "${DRYRUN_JOBS_RSS:-1}" == 1 ]]; then
    assert_lt "peak RSS at $BIG records < 1.3x + 4 MB of that at $((BIG / 10))" "$big" \
        $((small * 13 / 10 + 4096))
else
    pass "peak RSS not compared (sanitizer build: DRYRUN_JOBS_RSS=0)"
fi

echo "== --jobs outside 1..64"
for bad in 0 65 x 2x ""; do
    run_bin "$T/bad" dry-run "${std[@]}" --input "$T/three.ndjson" --jobs "$bad"
    assert_eq "--jobs '$bad': usage error (exit 2)" 2 "$RC"
    assert_contains "... saying what it takes" "$ERR" "--jobs takes a number from 1 to 64"
done
finish
