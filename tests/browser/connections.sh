#!/usr/bin/env bash
# tests/browser/connections.sh - the Connections page in headless chromium against the real
# engine, the WooCommerce mock and the QuickBooks OAuth mock (tests/mocks/qbo_oauth_mock.py as
# Intuit's authorize page and token endpoint). WooCommerce and QuickBooks credentials stored
# through the forms built from the connectors' declared fields (a field the API refuses shows its
# message on the field); no secret in the DOM or in any answer the page fetched, not even
# masked; test connection against the mock; the OAuth connect flow followed by the browser
# through the mock and back to the engine's callback, the page then showing QuickBooks
# connected with the tokens in the vault; WooCommerce webhook check and register against the
# mock (the store then holds the webhooks); delete. (The fields route the forms are built from
# is tested through the API in tests/integration/credential_fields.sh.)
source "$(dirname "$0")/../integration/lib/common.sh"
source "$(dirname "$0")/../integration/lib/sync_env.sh"
source "$(dirname "$0")/lib/browser_env.sh"
source "$(dirname "$0")/lib/ops_env.sh"
require_tools jq curl python3
browser_require

sync_mocks # the WooCommerce store (and QuickBooks' API, unused here)
WH_SECRET="whs_$(rnd)"
CLIENT_ID="ABconsole$RANDOM$RANDOM"
CLIENT_SECRET="csecret-$(rnd)"
REALM=9130357766900456

# The engine's port is chosen first: Intuit (the mock) redirects the browser to the callback
# at OAUTH_REDIRECT_URI, which must be this engine's address.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
REDIRECT="http://127.0.0.1:$PORT/api/integrations/quickbooks/callback"
python3 "$ENG_SOURCE_DIR/tests/mocks/qbo_oauth_mock.py" --client-id "$CLIENT_ID" \
    --client-secret "$CLIENT_SECRET" --redirect-uri "$REDIRECT" --realm-id "$REALM" \
    >"$T/oauth.out" 2>"$T/oauth.err" &
bg_track $!
oauth_ready() { grep -q '^ready$' "$T/oauth.out"; }
wait_for 10000 oauth_ready || { fail "the OAuth mock starts" "$(cat "$T/oauth.err")"; finish; }
OAUTH="http://127.0.0.1:$(sed -n 's/^port=//p' "$T/oauth.out")"

browser_serve API_PORT="$PORT" OAUTH_REDIRECT_URI="$REDIRECT" \
    QUICKBOOKS_AUTH_URL="$OAUTH/connect/oauth2" QUICKBOOKS_TOKEN_URL="$OAUTH/oauth2/v1/tokens/bearer" \
    WEBHOOK_PUBLIC_URL="https://sync.example.com/" WEBHOOK_CHECK_INTERVAL_S=0 || finish
[[ "$SERVE_PORT" == "$PORT" ]] || { fail "serve listens on the port chosen for the redirect" "$SERVE_PORT"; finish; }
TENANT_TOKEN=$(tenant_token shop-b)

browser_run "$ENG_SOURCE_DIR/tests/browser/connections.mjs" TENANT_TOKEN="$TENANT_TOKEN" \
    WOO_STORE="$WOO_STORE" WOO_KEY="$WOO_KEY" WOO_SECRET="$WOO_SECRET" WH_SECRET="$WH_SECRET" \
    CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" REALM="$REALM" OAUTH="$OAUTH" WOO="$WOO"

echo "== what the engine and the store hold after the page's actions"
ISSUED=$(curl -s "$OAUTH/mock/issued")
# The code was exchanged once, by the engine. A refresh may follow: the WooCommerce webhooks
# registered above queue a catch-up sweep into QuickBooks, and when that job runs after the
# connect (a loaded machine) the QuickBooks API mock refuses the OAuth mock's token and the
# engine refreshes once, as it must on a 401; every token either grant issued is scanned below.
assert_jq "the OAuth mock saw one authorization-code exchange (the engine's, from the callback)" "$ISSUED" \
    '.code_grants == 1 and (.codes | length) == 1'
assert_jq "... and issued no token but by that exchange and refreshes of its own refresh tokens" "$ISSUED" \
    '(.access_tokens | length) == .code_grants + .refresh_grants and .refresh_grants <= 1'
mapfile -t TOKENS < <(jq -r '.access_tokens[], .refresh_tokens[]' <<<"$ISSUED")
for s in "$WOO_KEY" "$WOO_SECRET" "$WH_SECRET" "$CLIENT_SECRET" "${TOKENS[@]}"; do
    [[ -n "$s" && "$s" != null ]] || continue
    if grep -qaF -- "$s" "$SERVE_LOG"; then fail "the log holds a stored secret (…${s: -4})"; else pass "the log holds no stored secret (…${s: -4})"; fi
done
hooks=$(curl -s "$WOO/_mock/webhooks")
assert_jq "the store holds the engine's webhooks for every topic, active, signed with the stored secret" "$hooks" \
    "[.[] | select(.delivery_url | startswith(\"https://sync.example.com/api/webhooks/woocommerce\")) | select(.status == \"active\" and .secret == \"$WH_SECRET\") | .topic] | length == 7"
http GET /api/integrations/quickbooks/status
assert_jq "QuickBooks: deleted from the page at the end" "$BODY" '.configured == false'
http GET /api/integrations/woocommerce/status
assert_jq "WooCommerce: stored, tested ok" "$BODY" '.configured == true and .lastTestOk == true'
finish
