#!/usr/bin/env bash
# tests/browser/shell.sh - the console's shell in headless chromium against the real engine and
# the mocks: a wrong token reads as a sentence (no raw JSON); sign-in keeps the token in no
# storage (localStorage, sessionStorage, document.cookie, the DOM); every page is reachable from
# the nav; signing out returns to the login and the old session cookie is dead (API); a tenant
# token sees its own tenant's runs only, on Runs and on Overview, and has no tenant switcher; the
# administrator switches tenant and sees that tenant's runs; at 390 px no page scrolls sideways
# and the Tab key reaches the nav. Screenshots: the login page at both sizes.
HERE=$(cd "$(dirname "$0")" && pwd) # common.sh moves into the scratch folder
source "$HERE/../integration/lib/common.sh"
source "$HERE/../integration/lib/sync_env.sh"
source "$HERE/lib/browser_env.sh"
require_tools jq curl python3
browser_require

# two tenants with tokens of their own (shop-a, shop-b), each with its own run
run_bin "$T/tok-a" token create --tenant shop-a --name console
TOKEN_A=$(head -n 1 <<<"$OUT")
assert_match "a tenant token for shop-a" '^ts_' "$TOKEN_A"

sync_mocks
browser_serve WORKERS=2 || finish
sync_credentials

# tenant_credentials TENANT: the same shop and company for another tenant (typed, not proven:
# enough to run), stored through the API as the administrator acting for TENANT
tenant_credentials() {
    local tenant=$1 tok
    tok=$(curl -s -X POST "$QBO/_mock/tokens" -d '{"expires_in": 3600}')
    http POST /api/integrations/woocommerce/credentials -H "X-Tenant-ID: $tenant" -H 'Content-Type: application/json' \
        --data-binary "$(jq -nc --arg u "$WOO_STORE" --arg k "$WOO_KEY" --arg s "$WOO_SECRET" \
            '{store_url: $u, consumer_key: $k, consumer_secret: $s}')"
    [[ "$CODE" == 20[01] ]] || fail "store $tenant's WooCommerce credentials" "$CODE $BODY"
    http POST /api/integrations/quickbooks/credentials -H "X-Tenant-ID: $tenant" -H 'Content-Type: application/json' \
        --data-binary "$(jq -c '{client_id: "mock-client", client_secret: "mock-secret",
            realm_id: "9130357766900456", access_token, refresh_token}' <<<"$tok")"
    [[ "$CODE" == 20[01] ]] || fail "store $tenant's QuickBooks credentials" "$CODE $BODY"
    SECRETS+=("$(jq -r .access_token <<<"$tok")" "$(jq -r .refresh_token <<<"$tok")")
    http PUT /api/settings/transformer_config -H "X-Tenant-ID: $tenant" -H 'Content-Type: application/json' \
        --data-binary '{"shipping_item_id": "SHIPPING_ITEM_ID", "income_account_id": "79"}'
    [[ "$CODE" == 200 ]] || fail "store $tenant's transformer settings" "$CODE $BODY"
}
SECRETS=("$WOO_SECRET" "$QBO_ACCESS_TOKEN" mock-secret)
tenant_credentials shop-a
tenant_credentials shop-b

# tenant_run TENANT FIRST: a real run of 3 new orders for TENANT, waited for; sets RUN_ID
tenant_run() {
    local tenant=$1 first=$2
    RUN_ID=""
    seed_orders "$first" 3 5 4 2026-03-01T00:00:00
    http POST /api/sync/orders -H "X-Tenant-ID: $tenant" -H 'Content-Type: application/json' \
        --data-binary "{\"mode\": \"full\", \"filters\": {\"ids\": [$first, $((first + 1)), $((first + 2))]}}"
    [[ "$CODE" == 202 ]] || { fail "start $tenant's run" "$CODE $BODY"; return; }
    RUN_ID=$(jq -r .syncId <<<"$BODY")
    TENANT=$tenant
    tenant_run_over() {
        http GET "/api/sync/status/$RUN_ID" -H "X-Tenant-ID: $TENANT"
        jq -e '.state | test("succeeded|partial|failed|cancelled")' <<<"$BODY" >/dev/null
    }
    wait_for 120000 tenant_run_over || fail "$tenant's run ends" "$BODY"
}
tenant_run shop-a 6100
RUN_A=$RUN_ID
tenant_run shop-b 6200
RUN_B=$RUN_ID
assert_match "shop-a has a run" '^sync_' "$RUN_A"
assert_match "shop-b has a run" '^sync_' "$RUN_B"
http GET "/api/sync/status/$RUN_A" -H "X-Tenant-ID: shop-a"
assert_jq "... which succeeded" "$BODY" '.state == "succeeded"'

mkdir -p "$T/shots"
browser_run "$ENG_SOURCE_DIR/tests/browser/shell.mjs" TOKEN_A="$TOKEN_A" RUN_A="$RUN_A" RUN_B="$RUN_B" \
    SECRETS="$(printf '%s\n' "${SECRETS[@]}")"
finish
