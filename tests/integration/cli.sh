#!/usr/bin/env bash
# tests/integration/cli.sh - the command line, end to end with the real binary: version, help
# and --help on every command, unknown commands, keygen, migrate (twice, WAL, recorded rows),
# run (errors with file:line, ARGS as ..., engine.log redaction) and dry-run (single document,
# JSON array, NDJSON, stdin, unknown mapping, malformed JSON, a failing record, and proof that
# it writes no database file).
# Environment (set by ctest): TALLYSYNC_BIN, ENG_SOURCE_DIR, SCRIPTS_DIR, MAPPINGS_DIR,
# SCHEMA_DIR, FIXTURES_DIR. Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq sqlite3 base64 curl

FIX="$FIXTURES_DIR/woocommerce"
MAPPING=woo_order_to_qbo_invoice
[[ -f "$FIX/order.json" && -f "$FIX/orders-list.json" ]] ||
    { fail "fixtures at $FIX (set FIXTURES_DIR)"; finish; }

echo "== version, help, unknown commands"
run_bin "$T/version" version
assert_eq "version exits 0" 0 "$RC"
assert_match "version prints 'tallysync X.Y.Z'" '^tallysync [0-9]+\.[0-9]+' "$OUT"
# issue 10 item 16: each library with the version loaded at run time, one per line
for lib in 'SQLite 3\.[0-9]+' 'libcurl [0-9]+\.[0-9.]+ \([A-Za-z]+' 'mbed TLS 2\.[0-9]+' \
    'libmicrohttpd [0-9]+\.[0-9]+' 'Lua 5\.4\.[0-9]+'; do
    assert_match "version names ${lib%% *} with its version" "^  $lib" "$OUT"
done
assert_eq "version prints the engine and five libraries" 6 "$(printf '%s\n' "$OUT" | wc -l)"

run_bin "$T/test-nosuch" test nosuchmapping
assert_eq "test nosuchmapping exits 2 (a usage error, not a failed case)" 2 "$RC"
assert_contains "... saying there is no such mapping" "$ERR" "no such mapping 'nosuchmapping'"
assert_contains "... naming the file it looked for" "$ERR" "nosuchmapping.lua"
assert_not_contains "... without running a case" "$OUT" "passed"

run_bin "$T/help" help
assert_eq "help exits 0" 0 "$RC"
assert_match "help mentions usage" '[Uu]sage' "$OUT"
assert_contains "help lists dry-run" "$OUT" "dry-run"

run_bin "$T/dash-help" --help
assert_eq "--help exits 0" 0 "$RC"
assert_match "--help mentions usage" '[Uu]sage' "$OUT"

# Every command `help` lists, and at least the issue's own.
listed=$(sed -nE '/^commands:/,/^$/s/^  ([a-z][a-z-]*) .*/\1/p' "$T/help.out")
for cmd in version help keygen migrate run dry-run serve; do
    assert_match "help lists the '$cmd' command" "^$cmd\$" "$listed"
done
for cmd in $(printf '%s\n' $listed version help keygen migrate run dry-run serve | sort -u); do
    run_bin "$T/help-$cmd" "$cmd" --help
    assert_eq "$cmd --help exits 0" 0 "$RC"
    assert_match "$cmd --help mentions usage on stdout" '[Uu]sage' "$OUT"
done
run_bin "$T/help-run2" help dry-run
assert_eq "help dry-run exits 0" 0 "$RC"
assert_contains "help dry-run shows the dry-run usage" "$OUT" "--mapping"

run_bin "$T/unknown" no-such-command
assert_eq "unknown command exits 2" 2 "$RC"
assert_contains "unknown command is named on stderr" "$ERR" "no-such-command"
run_bin "$T/none"
assert_eq "no command at all exits 2" 2 "$RC"
# the option parsing dry-run and sync share (eng_cli_option_value)
run_bin "$T/opt-unknown" dry-run --bogus
assert_eq "dry-run --bogus exits 2" 2 "$RC"
assert_contains "... naming the argument" "$ERR" "tallysync dry-run: unknown argument '--bogus' (see --help)"
run_bin "$T/opt-novalue" sync orders --mode
assert_eq "sync --mode without a value exits 2" 2 "$RC"
assert_contains "... naming the option" "$ERR" "tallysync sync: --mode needs a value"

echo "== keygen"
run_bin "$T/key1" keygen
key1=$OUT
assert_eq "keygen exits 0" 0 "$RC"
run_bin "$T/key2" keygen
key2=$OUT
assert_eq "keygen exits 0 (second run)" 0 "$RC"
assert_match "keygen prints one base64 line" '^[A-Za-z0-9+/]+={0,2}$' "$key1"
nbytes=$(printf '%s' "$key1" | base64 -d 2>/dev/null | wc -c)
assert_eq "keygen key decodes to exactly 32 bytes" 32 "$nbytes"
assert_ne "two keygen runs give different keys" "$key1" "$key2"

echo "== migrate"
db="$T/migrate/pos.db"
mkdir -p "$T/migrate"
nfiles=$(find "$SCHEMA_DIR" -maxdepth 1 -name '[0-9]*.sql' | wc -l)
DATABASE_URL="sqlite:$db" run_bin "$T/mig1" migrate
assert_eq "migrate exits 0" 0 "$RC"
n1=$(printf '%s\n' "$OUT" | sed -nE 's/.*: ([0-9]+) migrations? applied.*/\1/p')
assert_ge "first migrate applies N > 0 migrations ($OUT)" "${n1:-0}" 1
assert_eq "first migrate applies every file of SCHEMA_DIR" "$nfiles" "${n1:-}"
DATABASE_URL="sqlite:$db" run_bin "$T/mig2" migrate
assert_eq "second migrate exits 0" 0 "$RC"
n2=$(printf '%s\n' "$OUT" | sed -nE 's/.*: ([0-9]+) migrations? applied.*/\1/p')
assert_eq "second migrate applies 0 ($OUT)" 0 "${n2:-}"
# SQLite's own word on the file, before anything else opens it (a SQLite-only line: the sqlite3
# command, since the engine's store would set WAL mode itself on opening it)
assert_eq "the database is in WAL mode" wal "$(sqlite3 "$db" 'PRAGMA journal_mode' 2>&1)"
assert_eq "schema_migrations has N rows" "${n1:-}" \
    "$(sq_at "$db" 'SELECT count(*) FROM schema_migrations' 2>&1)"
run_bin "$T/mig3" migrate extra-arg
assert_ne "migrate with an unexpected argument fails" 0 "$RC"

echo "== run"
mkdir -p "$T/lua"
cat >"$T/lua/raises.lua" <<'EOF'
local x = 1
local function inner() error("kaboom: the script failed on purpose") end
inner()
EOF
run_bin "$T/raises" run "$T/lua/raises.lua"
assert_eq "run of a raising script exits 1" 1 "$RC"
assert_contains "run names file:line of the error" "$ERR" "raises.lua:2:"
assert_contains "run prints the error message" "$ERR" "kaboom: the script failed on purpose"

cat >"$T/lua/args.lua" <<'EOF'
local json = require "engine.json"
print(json.encode({ n = select("#", ...), args = { ... } }))
EOF
run_bin "$T/args" run "$T/lua/args.lua" one "two words" "" 4
assert_eq "run with ARGS exits 0" 0 "$RC"
assert_jq "run passes ARGS as ... (count and values, in order)" "$OUT" \
    '.n == 4 and .args == ["one", "two words", "", "4"]'

run_bin "$T/missing" run "$T/lua/does-not-exist.lua"
assert_eq "run of a missing file exits 1" 1 "$RC"
assert_contains "run names the missing file" "$ERR" "does-not-exist.lua"

cat >"$T/lua/log.lua" <<'EOF'
local log = require "engine.log"
log.info("x", { consumer_secret = "s3cr3t", nested = { password = "p" }, ok = "visible" })
EOF
run_bin "$T/log" run "$T/lua/log.lua"
assert_eq "run of the logging script exits 0" 0 "$RC"
assert_eq "engine.log writes exactly one line on stderr" 1 "$(grep -c '' "$T/log.err")"
line=$(head -n 1 "$T/log.err")
assert_jq "the log line is one JSON object with level, time and msg" "$line" \
    'type == "object" and .level == "info" and .msg == "x" and (.time | type == "string")'
assert_jq "consumer_secret is redacted" "$line" '.consumer_secret == "[REDACTED]"'
assert_jq "a nested password is redacted" "$line" '.nested.password == "[REDACTED]"'
assert_jq "a harmless value stays visible" "$line" '.ok == "visible"'
assert_not_contains "the secret value never reaches stderr" "$ERR" "s3cr3t"
assert_jq "no logged value equals the nested password" "$line" \
    '[.. | strings] | index("p") == null'

cat >"$T/lua/log2.lua" <<'EOF'
local log = require "engine.log"
log.warn("list", { 1, 2, 3 })
log.info("clash", { level = "error", msg = "other", monkey = "banana" })
EOF
run_bin "$T/log2" run "$T/lua/log2.lua"
assert_eq "two log calls write two lines" 2 "$(grep -c '' "$T/log2.err")"
assert_jq "list fields are kept under \"fields\"" "$(sed -n 1p "$T/log2.err")" \
    '.level == "warn" and .fields == [1,2,3]'
assert_jq "a field cannot shadow the line's level or msg" "$(sed -n 2p "$T/log2.err")" \
    '.level == "info" and .msg == "clash" and .["field.level"] == "error" and .["field.msg"] == "other"'
assert_jq "a key merely ending in the letters key is not redacted" "$(sed -n 2p "$T/log2.err")" \
    '.monkey == "banana"'

echo "== dry-run: good inputs"
run_bin "$T/single" dry-run --mapping "$MAPPING" --input "$FIX/order.json"
assert_eq "dry-run of order.json exits 0" 0 "$RC"
assert_jq "dry-run of one order prints one JSON object" "$OUT" 'type == "object"'
want=$(jq -r '.number | tostring' "$FIX/order.json")
assert_jq "its DocNumber is the order's number ($want)" "$OUT" ".DocNumber == \"$want\""

run_bin "$T/array" dry-run --mapping "$MAPPING" --input "$FIX/orders-list.json"
assert_eq "dry-run of orders-list.json exits 0" 0 "$RC"
assert_jq "an array input gives a JSON array" "$OUT" 'type == "array"'
want=$(jq -c '[.[].number | tostring]' "$FIX/orders-list.json")
got=$(printf '%s' "$OUT" | jq -c '[.[].DocNumber]' 2>&1)
assert_eq "same length and order as the input (DocNumber vs number)" "$want" "$got"

jq -c '.[]' "$FIX/orders-list.json" >"$T/orders.ndjson"
nrec=$(grep -c '' "$T/orders.ndjson")
run_bin "$T/ndjson" dry-run --mapping "$MAPPING" --input "$T/orders.ndjson"
assert_eq "dry-run of NDJSON exits 0" 0 "$RC"
assert_eq "NDJSON gives one line per record" "$nrec" "$(grep -c '' "$T/ndjson.out")"
got=$(jq -c '.DocNumber' "$T/ndjson.out" 2>&1 | jq -sc . 2>&1)
assert_eq "NDJSON lines are objects in input order" "$want" "$got"

run_bin "$T/stdin" dry-run --mapping "$MAPPING" --input - <"$FIX/order.json"
assert_eq "dry-run --input - (stdin) exits 0" 0 "$RC"
assert_jq "stdin input gives the same document as the file" "$OUT" \
    ".DocNumber == \"$(jq -r '.number | tostring' "$FIX/order.json")\""
assert_eq "stdin and file inputs give identical output" "$(cat "$T/single.out")" "$OUT"

run_bin "$T/stdin-nd" dry-run --mapping "$MAPPING" --input - <"$T/orders.ndjson"
assert_eq "NDJSON on stdin gives one line per record" "$nrec" "$(grep -c '' "$T/stdin-nd.out")"

echo "== dry-run: failures"
run_bin "$T/unknown-map" dry-run --mapping no_such_mapping --input "$FIX/order.json"
assert_ne "unknown mapping exits non-zero" 0 "$RC"
assert_eq "unknown mapping: exactly one line on stderr" 1 "$(grep -c '' "$T/unknown-map.err")"
assert_contains "unknown mapping: the line names it" "$ERR" "no_such_mapping"

printf '{"id": 1, "number": "1",\n' >"$T/malformed.json"
run_bin "$T/malformed" dry-run --mapping "$MAPPING" --input "$T/malformed.json"
assert_ne "malformed JSON exits non-zero" 0 "$RC"
assert_eq "malformed JSON: exactly one line on stderr" 1 "$(grep -c '' "$T/malformed.err")"
assert_contains "malformed JSON: stderr names the input" "$ERR" "$T/malformed.json"
assert_eq "malformed JSON: nothing on stdout" "" "$OUT"

run_bin "$T/malformed-stdin" dry-run --mapping "$MAPPING" --input - <"$T/malformed.json"
assert_ne "malformed JSON on stdin exits non-zero" 0 "$RC"
assert_contains "malformed JSON on stdin: stderr names stdin" "$ERR" "stdin"

{ head -n 1 "$T/orders.ndjson"; echo '{"id": 9, "broken": }'; } >"$T/bad.ndjson"
run_bin "$T/bad-nd" dry-run --mapping "$MAPPING" --input "$T/bad.ndjson"
assert_ne "NDJSON with a malformed line exits non-zero" 0 "$RC"
assert_match "NDJSON error names the input and line 2" "bad\.ndjson.*line 2" "$ERR"

run_bin "$T/no-input" dry-run --mapping "$MAPPING" --input "$T/nope.json"
assert_ne "a missing input file exits non-zero" 0 "$RC"
assert_contains "a missing input file is named" "$ERR" "$T/nope.json"

mkdir -p "$T/maps"
cat >"$T/maps/picky.lua" <<'EOF'
return {
  map = function(record)
    if record.id == 2 then error("record two is not welcome") end
    return { id = record.id }
  end,
}
EOF
echo '[{"id": 1}, {"id": 2}, {"id": 3}]' >"$T/three.json"
MAPPINGS_DIR="$T/maps" run_bin "$T/picky" dry-run --mapping picky --input "$T/three.json"
assert_ne "a mapping that raises for one record exits non-zero" 0 "$RC"
assert_eq "one line on stderr (only record 2 fails)" 1 "$(grep -c '' "$T/picky.err")"
assert_contains "stderr names record 2 (id 2)" "$ERR" "record 2 (id 2)"
assert_contains "stderr carries the mapping's message" "$ERR" "record two is not welcome"
assert_contains "stderr names the mapping file" "$ERR" "picky.lua:3"

echo '[{"id": 1}, {"id": 3}]' >"$T/two.json"
MAPPINGS_DIR="$T/maps" run_bin "$T/picky-ok" dry-run --mapping picky --input "$T/two.json"
assert_eq "the same temp mapping succeeds without record 2" 0 "$RC"
assert_jq "its output is the mapped array" "$OUT" '. == [{"id": 1}, {"id": 3}]'

echo "== dry-run writes nothing"
mkdir -p "$T/empty-cwd"
nodb="$T/empty-cwd/data/never.db"
(cd "$T/empty-cwd" && DATABASE_URL="sqlite:$nodb" \
    "$TALLYSYNC_BIN" dry-run --mapping "$MAPPING" --input "$FIX/order.json" \
    >"$T/nodb.out" 2>"$T/nodb.err")
assert_eq "dry-run in an empty cwd exits 0" 0 "$?"
if [[ ! -e "$nodb" && ! -e "$T/empty-cwd/data" ]]; then
    pass "dry-run created no database file (nor its folder)"
else
    fail "dry-run created no database file" "$(ls -laR "$T/empty-cwd")"
fi
left=$(find "$T/empty-cwd" -mindepth 1 | head -n 5)
assert_eq "dry-run left the empty cwd empty" "" "$left"

finish
