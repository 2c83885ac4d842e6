#!/usr/bin/env bash
# tests/browser/settings.sh - the Settings page in headless chromium against the real engine and
# the mocks: the transformer_config form shows every field's default (the same defaults the API
# fills in) and the tenant's values; a bad value shows the API's own message on its field; a
# good save is read back through the API and the page; a schedule created, paused, resumed and
# deleted from the page (and a refused one's message on its field); a real WooCommerce webhook event listed,
# filtered and replayed from the page (the API then counts the replay). Screenshots at both sizes.
source "$(dirname "$0")/../integration/lib/common.sh"
source "$(dirname "$0")/../integration/lib/sync_env.sh"
source "$(dirname "$0")/lib/browser_env.sh"
source "$(dirname "$0")/lib/ops_env.sh"
require_tools jq curl python3
browser_require

WH_SECRET="whs_$(rnd)"
sync_mocks
browser_serve WOOCOMMERCE_WEBHOOK_SECRET="$WH_SECRET" || finish
sync_credentials
seed_orders 5000 1 1 1 2026-01-01T00:00:00

echo "== a real webhook event: order 5000 updated, signed as WooCommerce signs"
ORDER=$(jq -c '.records[0]' "$T/seed.json")
SIG=$(printf '%s' "$ORDER" | python3 "$ENG_SOURCE_DIR/tests/mocks/webhook_client.py" sign "$WH_SECRET")
http POST "/api/webhooks/woocommerce?tenant=default" -H 'Content-Type: application/json' \
    -H "X-WC-Webhook-Source: $WOO_STORE/" -H 'X-WC-Webhook-Topic: order.updated' \
    -H 'X-WC-Webhook-Resource: order' -H 'X-WC-Webhook-Event: updated' -H 'X-WC-Webhook-ID: 142' \
    -H "X-WC-Webhook-Delivery-ID: d-$RANDOM" -H "X-WC-Webhook-Signature: $SIG" --data-binary "$ORDER"
assert_match "the delivery is accepted" '^20[02]$' "$CODE"
_processed() {
    http GET /api/webhooks/events
    jq -e '.events[0].status == "processed"' <<<"$BODY" >/dev/null 2>&1
}
wait_for 60000 _processed
assert_jq "the event is processed" "$BODY" '.events | length == 1 and .[0].status == "processed" and .[0].replayCount == 0'
EVENT=$(jq -r '.events[0].id' <<<"$BODY")

http PUT /api/settings/transformer_config -H 'Content-Type: application/json' -H 'X-Tenant-ID: fresh-shop' \
    --data-binary '{"default_payment_terms_days": -5}'
BAD_MSG=$(jq -r .error.message <<<"$BODY")
assert_eq "the API's own message for a negative payment term (what the page must show)" \
    "transformer_config.default_payment_terms_days must not be negative" "$BAD_MSG"
http GET /api/settings/transformer_config -H 'X-Tenant-ID: fresh-shop'
DEFAULTS=$(jq -c .effective <<<"$BODY")

browser_run "$ENG_SOURCE_DIR/tests/browser/settings.mjs" EVENT="$EVENT" BAD_MSG="$BAD_MSG" \
    DEFAULTS="$DEFAULTS" SECRETS="$(printf '%s\n' "$WOO_SECRET" "$WOO_KEY" "$WH_SECRET" "$QBO_ACCESS_TOKEN" mock-secret)"

echo "== what the engine holds after the page's actions"
http GET /api/settings/transformer_config
assert_jq "the settings saved from the page (and the ones it did not touch kept)" "$BODY" \
    '.value.default_payment_terms_days == 14 and .value.paid_orders_as == "SalesReceipt"
     and .value.custom_field_mappings == [{"source_field": "customer_note", "target_field": "Note"}]
     and .value.tax_code_mappings == {"standard": "7"} and .value.shipping_item_id == "SHIPPING_ITEM_ID"
     and .value.income_account_id == "79" and (.value | has("create_missing_items") | not)'
http GET /api/sync/schedules
assert_jq "the schedule made from the page was deleted from it" "$BODY" '.items == []'
http GET /api/webhooks/events
assert_jq "the event was replayed once, from the page" "$BODY" ".events[] | select(.id == $EVENT) | .replayCount == 1"
finish
