#!/usr/bin/env bash
# tests/integration/budget_escapes.sh - the escapes from the script budget of issue 12 (finding 2,
# and finding 1's patterns over shop data) under `serve` with one worker (SCRIPT_TIMEOUT_MS=1000),
# so the worker that ran an escape is the one that must serve the next dry run:
#   - a mapping whose map() runs one long C call on the record (a backtracking find, the
#     quadratic trim pattern over a shopper's run of spaces, gsub, string.rep of nothing,
#     table.move / remove / insert / concat / sort through C metamethods or a lying __len) or an
#     xpcall whose message handler loops: the dry run answers 422 with the budget error, and a
#     good mapping's dry run then answers 200 on the same worker;
#   - a map() that leaves a __gc finalizer and fails: 422 naming the refusal, then 200;
#   - a mapping whose top level leaves a looping finalizer is refused by the hot-reload thread
#     (GET /api/scripts shows why), and the thread goes on publishing the next edit;
#   - SIGTERM then stops serve with exit 0.
# Elapsed times go to $BUDGET_BENCH_OUT (default: the scratch folder) for bench/results, never
# into an assertion. Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl

BENCH_OUT=${BUDGET_BENCH_OUT:-$T/budget_escapes.tsv}
: >"$BENCH_OUT"

mkdir -p "$T/maps"
export MAPPINGS_DIR="$T/maps"

mapping() { # NAME BODY_OF_MAP: a mapping whose map(record) runs BODY
    printf 'return {\n  map = function(record)\n%s\n  end,\n}\n' "$2" >"$T/maps/$1.lua"
}

cat >"$T/maps/good.lua" <<'EOF'
return {
  map = function(record)
    local name = record.name and record.name:match("^%s*(.-)%s*$") or ""
    return { ok = true, id = record.id, name = name }
  end,
}
EOF
mapping trim_map '    return { name = record.name:match("^%s*(.-)%s*$") }'
mapping find_map '    return { at = string.find(record.name, ".-.-.-.-b") }'
mapping gsub_map '    return { name = (record.name:gsub(".-.-.-b", "")) }'
mapping rep_map '    while true do string.rep("", math.maxinteger, record.sep) end'
mapping xpcall_map '    return { r = xpcall(function() while true do end end, function(m) while true do end end) }'
mapping move_map '    local t = setmetatable({}, {__index = rawlen, __newindex = rawequal})
    table.move(t, 1, math.maxinteger - 1, 2)'
mapping remove_map '    local t = setmetatable({}, {__len = function() return record.n end})
    return { v = table.remove(t, 1) }'
mapping insert_map '    local t = setmetatable({}, {__len = function() return record.n - 1 end})
    table.insert(t, 1, record.id)'
mapping concat_map '    local t = setmetatable({}, {__index = rawlen})
    return { s = table.concat(t, "", 1, record.n) }'
mapping sort_map '    local t = setmetatable({}, {__len = function() return 2^31 - 2 end,
      __index = rawlen, __newindex = rawequal})
    table.sort(t, rawequal)'
mapping gc_call_map '    setmetatable({}, {__gc = function() while true do end end})
    error("this record fails")'

# 100,000 spaces between two letters (the shopper's name of finding 1) and 100,000 letters.
spaces=$(printf '%*s' 100000 '')
letters=$(printf '%*s' 100000 '' | tr ' ' a)
printf '{"id": 1, "name": "a%sb"}' "$spaces" >"$T/spaces.json"
printf '{"id": 1, "name": "%s"}' "$letters" >"$T/letters.json"
MAXINT=9223372036854775807

serve_start WORKERS=1 SCRIPT_TIMEOUT_MS=1000 || finish

dry_run_http good '{"id": 7, "name": "  Ann  "}'
assert_eq "good mapping answers 200 before the escapes" 200 "$CODE"

# escape NAME BODY...: the dry run ends with the budget error (422), then the same worker
# serves the good mapping.
escape() {
    local name=$1 body=$2 start ms
    start=$(now_ms)
    http POST "/api/mappings/$name/dry-run" -H 'Content-Type: application/json' \
        --data-binary "$body" --max-time 60
    ms=$(($(now_ms) - start))
    printf '%s\t%s\t%s\n' "$name" "$ms" "$CODE" >>"$BENCH_OUT"
    assert_eq "$name: the dry run answers 422" 422 "$CODE"
    assert_jq "$name: with the budget error" "$BODY" \
        '.error.code == "mapping_failed" and (.error.message | test("script exceeded its"))'
    dry_run_http good '{"id": 8, "name": " Bo "}'
    assert_eq "$name: then the worker serves the next dry run (200)" 200 "$CODE"
    assert_jq "$name: and its answer is right" "$BODY" '. == {"ok": true, "id": 8, "name": "Bo"}'
    echo "     ($name answered after ${ms} ms)"
}

echo "== one long C call on record data"
escape trim_map "@$T/spaces.json"
escape find_map "@$T/letters.json"
escape gsub_map "@$T/letters.json"
escape rep_map '{"id": 1, "sep": ""}'
escape xpcall_map '{"id": 1}'
escape move_map '{"id": 1}'
escape remove_map "{\"id\": 1, \"n\": $MAXINT}"
escape insert_map "{\"id\": 1, \"n\": $MAXINT}"
escape concat_map "{\"id\": 1, \"n\": $MAXINT}"
escape sort_map '{"id": 1}'

echo "== finalizers"
dry_run_http gc_call_map '{"id": 1}'
assert_eq "map() leaving a finalizer: the dry run answers 422" 422 "$CODE"
assert_jq "map() leaving a finalizer: the refusal is named" "$BODY" \
    '.error.message | test("__gc is not allowed")'
dry_run_http good '{"id": 9}'
assert_eq "map() leaving a finalizer: then the worker serves the next dry run (200)" 200 "$CODE"

script_error_matches() { # LOGICAL_PATH REGEX
    http GET /api/scripts
    printf '%s' "$BODY" | jq -e --arg p "$1" --arg re "$2" \
        '.scripts[] | select(.path == $p) | .error != null and (.error | test($re))' \
        >/dev/null 2>&1
}
good_v_is() { # V: the dry run of gc_top answers 200 with v == V
    dry_run_http gc_top '{"id": 1}'
    [[ "$CODE" == 200 ]] && printf '%s' "$BODY" | jq -e ".v == $1" >/dev/null 2>&1
}

printf 'return {\n  map = function(record) return { v = 1 } end,\n}\n' >"$T/maps/gc_top.lua"
check "a new mapping is published by the reload thread" wait_for 30000 good_v_is 1
cat >"$T/maps/gc_top.lua" <<'EOF'
local keep = setmetatable({}, {__gc = function() while true do end end})
return {
  map = function(record) return { v = 2 } end,
}
EOF
check "a top level leaving a looping finalizer is refused (GET /api/scripts says why)" \
    wait_for 30000 script_error_matches mappings/gc_top.lua '__gc is not allowed'
check "the previous version keeps serving" good_v_is 1
printf 'return {\n  map = function(record) return { v = 3 } end,\n}\n' >"$T/maps/gc_top.lua"
check "the reload thread publishes the next edit" wait_for 30000 good_v_is 3

http GET /health
assert_eq "after the escapes /health answers 200" 200 "$CODE"
check "the serve process is still the same, alive one" pid_alive "$SERVE_PID"

serve_stop 30000
assert_eq "SIGTERM stops serve with exit 0 after the escapes" 0 "$STOP_RC"
printf 'sigterm\t%s\t%s\n' "$STOP_MS" "$STOP_RC" >>"$BENCH_OUT"

finish
