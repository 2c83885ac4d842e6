#!/usr/bin/env bash
# tests/integration/log_caps.sh - engine.log builds its line under a cap (issue 12, finding 5):
# a table holding one 8 MiB string 512 times (4 GiB of text if written out; main built it and
# reached 8.4 GB RSS) logs one bounded line that says it was cut, and the call returns; a long
# message is cut too; small lines are unchanged (redaction, reserved keys). README documents the
# caps: the message at 1 KiB, the fields at 16 KiB of JSON.
# The run's time and peak RSS go to bench/results/log_caps.md (BENCH_RESULTS_DIR), not into an
# assertion. Outside the sanitizer builds the run gets a 3 GiB address-space limit, so that a
# regression fails here instead of taking the machine's memory.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq

LINE_MAX=20000 # 1 KiB message + 16 KiB fields + the line's own keys and a cut string's escapes

cat >"$T/big.lua" <<'EOF'
local log = require "engine.log"
local s = string.rep("x", 8 << 20)
local t = {}
for i = 1, 512 do t[i] = s end
log.info("big", { t = t })
log.info("list", t)
log.info(string.rep("m", 5000))
log.info("escapes", { v = string.rep("\1", 40000) })
log.info("small", { a = 1, password = "hunter2", time = "x", list = { 1, 2 } })
print("returned")
EOF

limit=()
# a here-string, not a pipe: under pipefail, grep -q leaving at the first match can fail ldd
# with SIGPIPE, and the sanitizer binary would then get the limit it cannot start under
if ! grep -q 'libasan\|libtsan' <<<"$(ldd "$TALLYSYNC_BIN" 2>/dev/null)"; then
    limit=(prlimit --as=$((3 << 30)) --)
fi
timer=()
[[ -x /usr/bin/time ]] && timer=(/usr/bin/time -f 'maxrss_kb %M' -o "$T/rss")
start=$(now_ms)
timeout -k 5 120 "${timer[@]}" "${limit[@]}" "$TALLYSYNC_BIN" run "$T/big.lua" >"$T/out" 2>"$T/err"
RC=$?
ms=$(($(now_ms) - start))

assert_eq "the script runs to the end (exit 0)" 0 "$RC"
assert_eq "engine.log returned to the script" "returned" "$(cat "$T/out")"
for msg in big list escapes; do
    line=$(grep -F "\"msg\":\"$msg\"" "$T/err" | head -n 1)
    assert_ne "a \"$msg\" line was logged" "" "$line"
    assert_lt "the \"$msg\" line is bounded (${#line} bytes)" "${#line}" "$LINE_MAX"
    # (a line over the bound is not shown whole)
    ((${#line} < LINE_MAX)) || line="${line:0:200}..."
    assert_jq "the \"$msg\" line is one JSON object that says it was cut" "$line" \
        '.log_truncated == true'
done
line=$(grep -F '"msg":"mmmm' "$T/err" | head -n 1)
((${#line} < LINE_MAX)) || line="${line:0:200}..."
assert_jq "a 5,000-byte message is cut at 1 KiB and says so" "$line" \
    '(.msg | length) == 1024 and .log_truncated == true'
line=$(grep -F '"msg":"small"' "$T/err" | head -n 1)
assert_jq "a small line is whole: redacted secret, shadowed reserved key, no cut mark" "$line" \
    '.a == 1 and .password == "[REDACTED]" and ."field.time" == "x" and .list == [1, 2]
     and (has("log_truncated") | not)'

rss=$(awk '/maxrss_kb/ {print $2}' "$T/rss" 2>/dev/null)
RESULTS=${BENCH_RESULTS_DIR:-$ENG_SOURCE_DIR/bench/results}
mkdir -p "$RESULTS"
{
    echo "# engine.log caps (tests/integration/log_caps.sh)"
    echo
    echo "One 8 MiB string referenced 512 times, logged by \`tallysync run\` (plus four smaller lines)."
    echo
    echo "| date (UTC) | elapsed ms | peak RSS KiB |"
    echo "|---|---|---|"
    echo "| $(date -u +%Y-%m-%dT%H:%MZ) | $ms | ${rss:-n/a} |"
} >"$RESULTS/log_caps.md"
echo "     (${ms} ms, peak RSS ${rss:-n/a} KiB)"
finish
