#!/usr/bin/env bash
# sync_crash.sh - effectively once across crashes: the engine is killed with SIGKILL while a run
# is in flight (once exactly while QuickBooks executes a batch of creates the engine never hears
# back about, then at random moments), restarted each time with no request from anyone, and the
# run finishes by itself with exactly one invoice per order in the mock QuickBooks.
# SYNC_CRASH_ORDERS / SYNC_CRASH_KILLS scale it (bench/sync_crash_1000x20.sh runs 1,000 x 20).
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

N=${SYNC_CRASH_ORDERS:-200}
KILLS=${SYNC_CRASH_KILLS:-5}
CUSTOMERS=23
SKUS=11

sync_mappings
sync_mocks
serve_start WORKERS=3 || finish
sync_credentials

# one_invoice_each FIRST COUNT: every order FIRST.. has exactly one invoice (prints the number
# of orders that have none or several).
bad_orders() {
    qbo_state | jq --argjson f "$1" --argjson n "$2" '
        [.entities.Invoice[] | .DocNumber | tonumber | select(. >= $f and . < $f + $n)]
        | group_by(.) | map(length) as $g | ($n - ($g | length)) + ($g | map(select(. != 1)) | length)'
}

echo "== killed while QuickBooks executes a batch the engine never hears back about"
seed_orders 5000 60 "$CUSTOMERS" "$SKUS" 2026-01-01T00:00:00
# the page's customers (23) and items (11) go first: the first batch of invoices is delayed
curl -s -X POST "$QBO/_mock/faults" -d '{"kind": "delay", "ms": 2500, "count": 1, "path": "batch", "entity": "Invoice"}' >/dev/null
start_run '{"mode": "full"}'
assert_eq "the run is accepted" 202 "$CODE"
RUN1=$SYNC_ID
batch_in_flight() { qbo_state | jq -e '[.requests[] | select(.path == "batch" and .status == null)] | length > 0' >/dev/null; }
if wait_for 60000 batch_in_flight; then
    kill -KILL "$SERVE_PID"
    wait "$SERVE_PID" 2>/dev/null
    SERVE_PID=""
    pass "SIGKILL while a batch of creates is in flight"
else
    fail "a batch reaches QuickBooks" "$(qbo_state | jq -c '.requests[-5:]')"
fi
batch_done() { qbo_state | jq -e '[.requests[] | select(.path == "batch" and .status == null)] | length == 0' >/dev/null; }
wait_for 20000 batch_done
CREATED=$(qbo_state | jq '[.entities.Invoice[] | select((.DocNumber | tonumber) >= 5000)] | length')
assert_ge "QuickBooks created that batch's invoices after the engine died ($CREATED)" "$CREATED" 1
RESERVED=$(sq "SELECT count(*) FROM id_map WHERE target_type = 'Invoice' AND target_id IS NULL AND request_id IS NOT NULL")
assert_ge "the engine had reserved them in its id map before sending ($RESERVED)" "$RESERVED" "$CREATED"
serve_start WORKERS=3 || finish
SYNC_ID=$RUN1 wait_run 180000
assert_eq "the run resumes by itself and succeeds" succeeded "$RUN_STATE"
assert_eq "exactly one invoice per order" 0 "$(bad_orders 5000 60)"
FIX=$(woo_total)
assert_jq "counts: every order created once (fixture orders included)" "$RUN" \
    ".counts.created == $FIX and .counts.failed == 0"

echo "== $KILLS SIGKILLs at random moments during a run of $N orders"
seed_orders 6000 "$N" "$CUSTOMERS" "$SKUS" 2026-06-01T00:00:00
curl -s -X POST "$QBO/_mock/config" -d '{"slow_ms": 150}' >/dev/null
# small pages: more page boundaries (and more batches) to be killed between and inside
start_run '{"mode": "full", "filters": {"per_page": 10}}'
RUN2=$SYNC_ID
kills=0
for ((i = 0; i < KILLS; i++)); do
    # a random moment 0.2 - 1.5 s into this engine's life
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.2 + (r % 130) / 100 }')"
    SYNC_ID=$RUN2
    if _run_over; then break; fi
    kill -KILL "$SERVE_PID"
    wait "$SERVE_PID" 2>/dev/null
    SERVE_PID=""
    kills=$((kills + 1))
    serve_start WORKERS=3 || finish
done
assert_ge "the engine was killed mid-run $kills times" "$kills" 1
SYNC_ID=$RUN2 wait_run 300000
assert_eq "the run finishes by itself" succeeded "$RUN_STATE"
assert_eq "exactly one invoice per order, none missing" 0 "$(bad_orders 6000 "$N")"
ST=$(qbo_state)
assert_eq "one customer per buyer" "$CUSTOMERS" \
    "$(jq '[.entities.Customer[] | select(.PrimaryEmailAddr.Address // "" | startswith("buyer"))] | length' <<<"$ST")"
assert_eq "one item per sku" "$SKUS" "$(jq '[.entities.Item[] | select(.Sku // "" | startswith("SKU-"))] | length' <<<"$ST")"
assert_eq "the id map has one confirmed row per order" "$N" \
    "$(sq "SELECT count(*) FROM id_map WHERE target_type = 'Invoice' AND target_id IS NOT NULL AND CAST(source_id AS INTEGER) BETWEEN 6000 AND $((6000 + N - 1))")"
assert_eq "no job is left running or pending" 0 \
    "$(sq "SELECT count(*) FROM sync_queue WHERE status IN ('pending', 'running')")"

serve_stop
assert_eq "serve stops cleanly" 0 "$STOP_RC"
finish
