#!/usr/bin/env bash
# tests/integration/webhook_refusals.sh - a flood of forged webhook deliveries cannot flood the
# log: each refusal is counted in the metric, the first ones are logged (route, delivery id,
# source, reason), then one line says the rest are counted, not logged. No timing: the bound
# holds however long the flood takes (one more burst per minute at most).
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl jq

serve_start SYNC_DISPATCHER=off WOOCOMMERCE_WEBHOOK_SECRET="flood-secret-$RANDOM$RANDOM" || finish
N=200
start=$(now_ms)
for i in $(seq "$N"); do
    curl -s -o /dev/null -X POST "$BASE/api/webhooks/woocommerce" -H 'Content-Type: application/json' \
        -H 'X-WC-Webhook-Source: https://attacker.example.com/' -H 'X-WC-Webhook-Topic: order.updated' \
        -H "X-WC-Webhook-Delivery-ID: flood-$i" -H 'X-WC-Webhook-Signature: Zm9yZ2VkIHNpZ25hdHVyZQ==' \
        --data-binary "{\"id\": $i, \"secret_marker\": \"body-$i\"}"
done
minutes=$((($(now_ms) - start) / 60000 + 1))
refused=$(curl -s "$BASE/metrics" | awk '$1 == "tallysync_webhook_refused_total{source=\"woocommerce\"}" { print $2 }')
assert_eq "every forged delivery is counted" "$N" "$refused"
lines=$(grep -cF '"msg":"webhook refused"' "$SERVE_LOG")
assert_ge "the first refusals are logged" "$lines" 20
assert_lt "... but at most 20 a minute, not $N" "$lines" $((20 * minutes + 1))
assert_ge "one line says the rest are counted, not logged" \
    "$(grep -cF 'the rest are counted, not logged' "$SERVE_LOG")" 1
line=$(grep -F '"delivery":"flood-1"' "$SERVE_LOG" | head -n 1)
assert_ne "the first forged delivery is logged" "" "$line"
assert_jq "a logged refusal names route, delivery, source and reason" "$line" \
    '.route == "/api/webhooks/woocommerce" and .source == "https://attacker.example.com/" and (.reason | length > 0)'
check "no body reaches the log" bash -c "! grep -q 'body-' '$SERVE_LOG'"
check "no signature reaches the log" bash -c "! grep -q 'Zm9yZ2Vk' '$SERVE_LOG'"
serve_stop
finish
