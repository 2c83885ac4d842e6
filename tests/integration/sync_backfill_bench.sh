#!/usr/bin/env bash
# sync_backfill_bench.sh - bench/backfill_bench.sh --quick as a smoke check: both shop shapes (60
# orders each, one run with the engine's concurrency and one a request at a time) against the
# QuickBooks mock at Intuit's published limits; the result file has contract.md's shape, and
# every run made every invoice once, lost none, failed none and left no 429 unhandled. No timing
# is asserted (the figures are the bench's).
source "$(dirname "$0")/lib/common.sh"
require_tools jq curl python3

OUTF="$T/backfill.json"
BF_RESULTS="$OUTF" bash "$ENG_SOURCE_DIR/bench/backfill_bench.sh" --quick >"$T/bench.out" 2>"$T/bench.err"
RC=$?
assert_eq "the quick bench exits 0 (every run clean)" 0 "$RC"
[[ $RC == 0 ]] || fail "... its output" "$(tail -n 20 "$T/bench.err")"
assert_jq "the result file: bench, machine, date, commit, figures" "$(cat "$OUTF" 2>/dev/null || echo '{}')" \
    '.bench == "backfill" and (.machine | length > 0) and (.date | test("Z$")) and (.commit | length > 0)
     and (.figures | length) == 6 and all(.figures[]; has("value") and has("unit") and has("runs") and has("spread"))'
assert_jq "... both shapes, each run: 60 invoices, none lost or doubled, no failure, no unhandled 429" \
    "$(cat "$OUTF" 2>/dev/null || echo '{}')" \
    '[.figures[] | .detail.runs_detail // empty | .[]] as $r | ($r | length) == 4 and
     all($r[]; .invoices == 60 and .lost == 0 and .doubled == 0 and .failed == 0 and .unhandled_429 == 0 and .rc == 0)'
# one request at a time: full batches (2 of customers, 4 of items, 2 of invoices); the
# default ten at once: the run fits one pacing window, so its customers and items (6 full
# batches) are spread evenly over the 10 connections (quickbooks.write_all's spread)
assert_jq "... one request at a time: 60 invoices, 60 customers and 120 new items in 8 full batches" \
    "$(cat "$OUTF" 2>/dev/null || echo '{}')" \
    '[.figures[] | .detail.runs_detail // empty | .[] | select(.shape == "new_lines" and .parallel == 1)] | length == 1 and all(.[]; .batches == 8)'
assert_jq "... ten at once: the dependencies spread over 10 batches, the invoices in 2 full ones" \
    "$(cat "$OUTF" 2>/dev/null || echo '{}')" \
    '[.figures[] | .detail.runs_detail // empty | .[] | select(.shape == "new_lines" and .parallel == 10)] | length == 1 and all(.[]; .batches == 12)'
finish
