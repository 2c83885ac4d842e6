#!/usr/bin/env bash
# tests/integration/webhooks_kill.sh - SIGKILL during a webhook burst loses no acknowledged
# event: a Python client (tests/mocks/webhook_client.py, its own HMAC signatures) sends signed
# WooCommerce and QuickBooks deliveries, forged ones mixed in, over 16 connections; the engine
# is killed with SIGKILL mid-burst; every delivery the client saw answered 200 must be in
# webhook_events (exactly once) when the engine comes back, and no forged one may be.
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl jq python3

CLIENT="$ENG_SOURCE_DIR/tests/mocks/webhook_client.py"
WOO="kill-woo-secret-$RANDOM$RANDOM"
QBO="kill-qbo-verifier-$RANDOM$RANDOM"
OUT="$T/kill.jsonl"
: >"$OUT"

acks() { jq -s '[.[] | select(.status == 200)] | length' "$OUT" 2>/dev/null || echo 0; }
enough_acks() { (($(acks) >= 300)); }

serve_start WOOCOMMERCE_WEBHOOK_SECRET="$WOO" QUICKBOOKS_WEBHOOK_SECRET="$QBO" || finish
python3 "$CLIENT" burst "$BASE" "$WOO" "$QBO" 20000 "$OUT" --forged-every 9 --concurrency 16 \
    --tag kill >"$T/client.summary" 2>"$T/client.err" &
CLIENT_PID=$!
bg_track "$CLIENT_PID"
check "the burst is under way (300 deliveries acknowledged)" wait_for 120000 enough_acks
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
SERVE_PID=""
check "the client stops once the engine is gone" wait_for 60000 pid_gone "$CLIENT_PID"
wait "$CLIENT_PID" 2>/dev/null

SENT=$(wc -l <"$OUT")
ACKED=$(acks)
echo "   client: $SENT answers or failures recorded, $ACKED acknowledged with 200"
assert_lt "the kill came mid-burst (not every delivery was answered)" "$SENT" 20000
assert_ge "... connections failed when it died" "$(jq -s '[.[] | select(.status == 0)] | length' "$OUT")" 1
assert_eq "no 5xx before the kill" 0 "$(jq -s '[.[] | select(.status >= 500)] | length' "$OUT")"
assert_eq "forged deliveries were refused" 0 \
    "$(jq -s '[.[] | select(.forged and .status != 401 and .status != 0)] | length' "$OUT")"

# The engine comes back on the same file (WAL recovery) and the rows are there.
serve_start WOOCOMMERCE_WEBHOOK_SECRET="$WOO" QUICKBOOKS_WEBHOOK_SECRET="$QBO" || finish
jq -r 'select(.status == 200) | .id' "$OUT" | sort >"$T/acked.ids"
sq "SELECT event_id FROM webhook_events WHERE event_id LIKE 'kill-%'" |
    sort >"$T/stored.ids"
MISSING=$(comm -23 "$T/acked.ids" "$T/stored.ids" | wc -l)
assert_eq "every delivery answered 200 is stored after SIGKILL" 0 "$MISSING"
assert_eq "... exactly once" "$(wc -l <"$T/stored.ids")" "$(sort -u "$T/stored.ids" | wc -l)"
jq -r 'select(.forged) | .id' "$OUT" | sort >"$T/forged.ids"
assert_eq "no forged delivery is stored" 0 "$(comm -12 "$T/forged.ids" "$T/stored.ids" | wc -l)"
UNACKED=$(comm -13 "$T/acked.ids" "$T/stored.ids" | wc -l)
echo "   stored but never acknowledged (committed, answer lost in the kill): $UNACKED"
assert_eq "each stored WooCommerce delivery has its job" 0 "$(sq "SELECT COUNT(*) FROM webhook_events e
    WHERE e.source = 'woocommerce' AND e.event_id LIKE 'kill-%' AND NOT EXISTS (
      SELECT 1 FROM sync_queue q WHERE q.webhook_event_id = e.id)")"
serve_stop
assert_eq "the restarted engine stops cleanly" 0 "$STOP_RC"
finish
