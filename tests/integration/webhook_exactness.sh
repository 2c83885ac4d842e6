#!/usr/bin/env bash
# tests/integration/webhook_exactness.sh - every webhook delivery answered 200 is in
# webhook_events, exactly once, the moment the answer is sent (issue 12, finding 10), in both
# durability modes, round after round under load: two clients (tests/mocks/webhook_client.py,
# their own HMAC signatures, each answer known by delivery id) send signed WooCommerce and
# QuickBooks deliveries with forged ones mixed in over 32 connections, while the dispatcher and
# workers take the jobs the deliveries queue and another process checkpoints the WAL. After each
# round the file is read at once, with the engine still running (a 200 is sent only after the
# commit), and again after a clean stop; the next round restarts on the same file in the other
# WEBHOOK_SYNC mode.
#   WEBHOOK_EXACTNESS_ROUNDS (default 6)   rounds, alternating WEBHOOK_SYNC=full and normal
#   WEBHOOK_EXACTNESS_COUNT  (default 600) deliveries per client per round
# (a longer run: WEBHOOK_EXACTNESS_ROUNDS=40 WEBHOOK_EXACTNESS_COUNT=3000; README, Tests)
# Round times are printed, never asserted.
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl jq python3 sqlite3

CLIENT="$ENG_SOURCE_DIR/tests/mocks/webhook_client.py"
DB="$T/pos.db"
WOO="exact-woo-secret-$RANDOM$RANDOM"
QBO="exact-qbo-verifier-$RANDOM$RANDOM"
ROUNDS=${WEBHOOK_EXACTNESS_ROUNDS:-6}
COUNT=${WEBHOOK_EXACTNESS_COUNT:-600}
export LC_ALL=C

stored() { # TAG: the event ids stored for the round's tag, sorted
    sq "SELECT event_id FROM webhook_events WHERE event_id LIKE '$1-%'" | sort
}
# checkpoint the WAL under the writer's feet until told to stop: another process's checkpoint
# of SQLite's WAL file (a SQLite-only line, so the sqlite3 command)
checkpointer() {
    while [[ ! -e "$T/stop.checkpoints" ]]; do
        sqlite3 -cmd '.timeout 2000' "$DB" 'PRAGMA wal_checkpoint(PASSIVE);' >/dev/null 2>&1
        sleep 0.05
    done
}

TOTAL_ACKED=0
for r in $(seq 1 "$ROUNDS"); do
    mode=full
    ((r % 2 == 0)) && mode=normal
    echo "== round $r of $ROUNDS: WEBHOOK_SYNC=$mode, 2 x $COUNT deliveries over 32 connections"
    serve_start WEBHOOK_SYNC="$mode" WORKERS=2 WOOCOMMERCE_WEBHOOK_SECRET="$WOO" \
        QUICKBOOKS_WEBHOOK_SECRET="$QBO" || finish
    rm -f "$T/stop.checkpoints"
    checkpointer &
    CK_PID=$!
    bg_track "$CK_PID"
    out="$T/round$r"
    start=$(now_ms)
    for c in a b; do
        python3 "$CLIENT" burst "$BASE" "$WOO" "$QBO" "$COUNT" "$out.$c.jsonl" --forged-every 7 \
            --concurrency 16 --tag "ex$r$c" >"$out.$c.summary" 2>"$out.$c.err" &
        bg_track $!
        eval "CLIENT_$c=\$!"
    done
    wait "$CLIENT_a" "$CLIENT_b"
    ms=$(($(now_ms) - start))
    # at once, the engine running: every 200 already committed
    cat "$out.a.jsonl" "$out.b.jsonl" >"$out.jsonl"
    jq -r 'select(.status == 200) | .id' "$out.jsonl" | sort >"$out.acked"
    { stored "ex${r}a"; stored "ex${r}b"; } | sort >"$out.stored"
    touch "$T/stop.checkpoints"
    wait "$CK_PID" 2>/dev/null
    acked=$(wc -l <"$out.acked")
    TOTAL_ACKED=$((TOTAL_ACKED + acked))
    echo "   $acked acknowledged in $ms ms"
    assert_eq "every delivery got an answer" $((2 * COUNT)) "$(wc -l <"$out.jsonl")"
    assert_eq "... no 5xx and no failed connection" 0 \
        "$(jq -s '[.[] | select(.status >= 500 or .status == 0)] | length' "$out.jsonl")"
    assert_eq "... every valid one 200, every forged one 401" 0 \
        "$(jq -s '[.[] | select(.status != (if .forged then 401 else 200 end))] | length' "$out.jsonl")"
    assert_eq "every delivery answered 200 is stored the moment it is answered" "" \
        "$(comm -23 "$out.acked" "$out.stored" | head -n 5)"
    assert_eq "... exactly once" "$(wc -l <"$out.stored")" "$(sort -u "$out.stored" | wc -l)"
    jq -r 'select(.forged) | .id' "$out.jsonl" | sort >"$out.forged"
    assert_eq "... and no forged one is" "" "$(comm -12 "$out.forged" "$out.stored" | head -n 5)"
    serve_stop 30000
    assert_eq "serve stops cleanly (exit 0)" 0 "$STOP_RC"
    { stored "ex${r}a"; stored "ex${r}b"; } | sort >"$out.stored2"
    assert_eq "... and after the stop the same rows are there" "$(cat "$out.stored")" "$(cat "$out.stored2")"
done
echo "   $TOTAL_ACKED deliveries acknowledged and found in $ROUNDS rounds"

# The bench's own check (bench/webhooks_bench.sh, where valid_missing: 1 was reported): before
# the fix it counted wrk's pre-start request() call as a send and reported thread 0's first
# delivery missing whenever that thread did not wrap around its slice, as in any 2-second run.
if command -v wrk >/dev/null; then
    echo "== the bench's check, 2 s per mode over 8 connections (no yardstick)"
    WH_YARDSTICK=0 WH_MODES="full normal" WH_RESULTS="$T/bench.json" \
        bash "$ENG_SOURCE_DIR/bench/webhooks_bench.sh" --quick 2 8 >"$T/bench.out" 2>&1
    assert_eq "bench/webhooks_bench.sh passes its correctness check" 0 "$?"
    [[ -s "$T/bench.json" ]] || cat "$T/bench.out"
    assert_eq "... in both modes, each having checked answered deliveries" "true|true" \
        "$(jq -r '[.figures[] | .detail.checks // empty | .[] | .ok and .valid_checked > 0 | tostring] | join("|")' "$T/bench.json" 2>/dev/null)"
else
    echo "   (wrk is not installed: the bench's check is not run here; tools/setup.sh --bench)"
fi
finish
