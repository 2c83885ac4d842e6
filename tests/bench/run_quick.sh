#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2054  # jq filters and Markdown in single quotes; --only takes a comma list
# tests/bench/run_quick.sh - `bench/run.sh --quick`: every benchmark script runs once at small N
# with the binary under test, each writes its result in the shape bench/report.py reads (issue
# 14's contract: bench, machine, date, commit, figures with value, unit, goal, met, runs, spread)
# with a measured value for every figure (a null value is a bench that failed), and the report
# renders one table with a row per figure. A smoke check: no timing is asserted (timing lives in
# bench/). Registered in the plain build only (tests/tests.cmake): a sanitizer's slowdown is
# not what the benches measure. Without wrk or nginx (`tools/setup.sh --bench`; the suite's
# setup installs neither) the ingest bench is left out, said so in a line.
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/../integration/lib/common.sh"
require_tools python3 jq node
B=$ENG_SOURCE_DIR/bench
export BENCH_RESULTS_DIR=$T/results BENCH_CACHE=$T/corpus TMPDIR=$T

only=()
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    echo "note: wrk or nginx is not installed: the ingest bench is left out (tools/setup.sh --bench)"
    only=(--only record_path,refused,footprint,backfill)
fi

# ---- the report alone: the shape is checked, other files are left out ----
mkdir -p "$T/r1"
printf '{"target":"old bench","rps":1}\n{"target":"old bench","rps":2}\n' >"$T/r1/old.json"
cat >"$T/r1/one.json" <<'J'
{"bench": "one", "machine": "2 cpu, x, y", "date": "2026-12-07T00:00:00Z", "commit": "abc1234",
 "figures": [{"figure": "a | b", "value": 2.5, "unit": "x", "goal": ">= 2x", "met": true,
   "runs": [2, 2.5, 3], "spread": "2-3", "detail": {}},
  {"figure": "failed one", "value": null, "unit": "ms", "goal": null, "met": false,
   "runs": [null], "spread": null, "detail": {"error": "exit 1"}}]}
J
out=$(python3 "$B/report.py" --results "$T/r1" 2>"$T/r1.err")
assert_eq "report: exit 0 with one result in the shape beside a JSON-lines file" 0 $?
assert_contains "report: a row per figure, | escaped, median and spread shown" "$out" \
    '| one | a \| b | 2.5 x (2-3, 3 runs) | >= 2x | yes |'
assert_contains "report: a failed figure says so" "$out" '| one | failed one | failed: exit 1 |  | **no** |'
assert_contains "report: the bench's machine, date and commit" "$out" \
    '- `one`: 2 cpu, x, y; 2026-12-07T00:00:00Z; commit abc1234'
assert_contains "report: the JSON-lines file is named as left out" "$(cat "$T/r1.err")" "old.json"
check "report: README.md written with the table" grep -qF '| one | a \| b |' "$T/r1/README.md"
printf '{"bench": "bad", "figures": [{"figure": "x"}]}\n' >"$T/r1/bad.json"
python3 "$B/report.py" --results "$T/r1" >/dev/null 2>"$T/r1.err"
assert_eq "report: a file claiming the shape but breaking it fails the report" 1 $?
assert_contains "report: ... naming the file" "$(cat "$T/r1.err")" "bad.json"

bash "$B/run.sh" --only nosuch >/dev/null 2>"$T/only.err"
assert_eq "run.sh --only with an unknown name: exit 2" 2 $?

# ---- the whole quick run ----
snap() { find "$ENG_SOURCE_DIR/bench/results" -type f -printf '%P %s %T@\n' 2>/dev/null | sort | md5sum; }
results_before=$(snap)
bash "$B/run.sh" --quick "${only[@]}" >"$T/run.out" 2>"$T/run.err"
rc=$?
assert_eq "run.sh --quick: exit 0" 0 "$rc"
((rc == 0)) || tail -n 40 "$T/run.err"
cat "$T/run.out"
grep '^bench: [a-z_]*: ' "$T/run.err"

n_figs=0
for name in record_path refused footprint ingest backfill; do
    [[ ${#only[@]} -gt 0 && $name == ingest ]] && continue
    case $name in
    ingest) s=webhooks_bench.sh ;; backfill) s=backfill_bench.sh ;; *) s=$name.sh ;;
    esac
    # a bench not in this checkout yet, or not yet taking --quick, is skipped by run.sh (said so)
    if [[ ! -f $B/$s ]] || ! grep -q -- '--quick' "$B/$s"; then
        assert_match "run.sh: $name skipped, said so" "^bench: $name: skipped" "$(cat "$T/run.err")"
        continue
    fi
    f=$BENCH_RESULTS_DIR/$name.json
    check "$name: wrote $name.json" test -s "$f"
    j=$(cat "$f" 2>/dev/null)
    assert_jq "$name: the contract's shape" "$j" "
        .bench == \"$name\" and (.machine | test(\"^[0-9]+ cpu, .+, .+\"))
        and (.date | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\$\"))
        and (.commit | test(\"^[0-9a-f]{4,}(-dirty)?\$\"))
        and (.figures | length > 0)
        and all(.figures[]; has(\"figure\") and has(\"unit\") and has(\"goal\") and has(\"met\")
            and has(\"spread\") and (.runs | type == \"array\" and length >= 1)
            and (.met == null or (.met | type == \"boolean\")))"
    assert_jq "$name: every figure measured (no null value: no failed run)" "$j" \
        'all(.figures[]; (.value | type == "number") and all(.runs[]; type == "number"))'
    n_figs=$((n_figs + $(jq '.figures | length' <<<"$j" 2>/dev/null || echo 0)))
done
assert_jq "record_path: both mappings and the Node peer, with the ratios and peak RSS" \
    "$(cat "$BENCH_RESULTS_DIR/record_path.json" 2>/dev/null)" '
    [.figures[].figure] as $f
    | ($f | any(test("^trivial mapping.*engine / Node"))) and ($f | any(test("^standard mapping.*engine / Node")))
      and ($f | any(test("^Node peer"))) and ($f | any(test("^peak RSS")))'
assert_jq "refused: refused over accepted and the linearity figure" \
    "$(cat "$BENCH_RESULTS_DIR/refused.json" 2>/dev/null)" '
    [.figures[].figure] as $f | ($f | any(test("^refused over accepted"))) and ($f | any(test("over at")))
    and ((.figures[] | select(.figure | test("^refused records .totals off., 80")) | .detail.refused_lines) == 80)'
readme=$(cat "$BENCH_RESULTS_DIR/README.md" 2>/dev/null)
assert_contains "README.md: the table" "$readme" "| bench | figure | measured (median, spread) | goal | met |"
rows=$(grep -cE '^\| (record_path|refused|footprint|ingest|backfill) \|' <<<"$readme")
assert_eq "README.md: one row per figure of the results" "$n_figs" "$rows"
assert_eq "the checkout's bench/results untouched (results went to BENCH_RESULTS_DIR)" \
    "$results_before" "$(snap)"
finish
