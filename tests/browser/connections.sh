#!/usr/bin/env bash
# tests/browser/connections.sh - the Connections page in headless chromium against the real
# engine, the WooCommerce mock and the QuickBooks OAuth mock (tests/mocks/qbo_oauth_mock.py as
# Intuit's authorize page and token endpoint). WooCommerce and QuickBooks credentials stored
# through the forms built from the connectors' declared fields (a field the API refuses shows its
# message on the field); no secret in the DOM or in any answer the page fetched, not even
# masked; test connection against the mock; the OAuth connect flow followed by the browser
# through the mock and back to the engine's callback, the page then showing QuickBooks
# connected with the tokens in the vault; WooCommerce webhook check and register against the
# mock (the store then holds the webhooks); delete. Also GET /api/integrations/{platform}/fields
# through the API (the route the form is built from): shape, no value, auth, unknown platform.
source "$(dirname "$0")/../integration/lib/common.sh"
source "$(dirname "$0")/../integration/lib/sync_env.sh"
source "$(dirname "$0")/lib/browser_env.sh"
source "$(dirname "$0")/lib/ops_env.sh"
require_tools jq curl python3 sqlite3
browser_require
schema_dir_usable

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

echo "== GET /api/integrations/{platform}/fields"
http GET /api/integrations/woocommerce/fields
assert_eq "woocommerce: 200" 200 "$CODE"
assert_jq "... the declared fields in order, with types, rules and descriptions" "$BODY" \
    '.platform == "woocommerce" and ([.fields[].name] == ["store_url", "consumer_key", "consumer_secret", "webhook_secret", "auth"])
     and (.fields[0] | .type == "url" and .required == true and .secret == false and .schemes == ["https", "http"])
     and (.fields[1] | .secret == true and .required == true and (.description | length > 0))
     and (.fields[4] | .enum == ["auto", "basic", "oauth1"] and .default == "auto")'
assert_jq "... no secret field carries a default" "$BODY" 'all(.fields[] | select(.secret); has("default") | not)'
http GET /api/integrations/quickbooks/fields
assert_jq "quickbooks: realm_id is the account field, with its pattern hint" "$BODY" \
    '.accountField == "realm_id" and (.fields[] | select(.name == "realm_id") | .patternHint | test("digits"))'
http GET /api/integrations/pos/fields
assert_jq "pos: no fields (it needs no credentials)" "$BODY" '.fields == []'
http GET /api/integrations/nope/fields
assert_eq "an unknown connector: 404" 404 "$CODE"
assert_jq "... in the envelope" "$BODY" '.error.code == "not_found"'
http GET /api/integrations/..%2Fetc/fields
assert_eq "a name that is no connector name: 404" 404 "$CODE"
HTTP_AUTH=0 http GET /api/integrations/woocommerce/fields
assert_eq "without a token: 401" 401 "$CODE"
HTTP_AUTH=0 http GET /api/integrations/woocommerce/fields -H "Authorization: Bearer $TENANT_TOKEN"
assert_eq "a tenant token reads them too (declarations, no values): 200" 200 "$CODE"

browser_run "$ENG_SOURCE_DIR/tests/browser/connections.mjs" TENANT_TOKEN="$TENANT_TOKEN" \
    WOO_STORE="$WOO_STORE" WOO_KEY="$WOO_KEY" WOO_SECRET="$WOO_SECRET" WH_SECRET="$WH_SECRET" \
    CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" REALM="$REALM" OAUTH="$OAUTH" WOO="$WOO"

echo "== what the engine and the store hold after the page's actions"
ISSUED=$(curl -s "$OAUTH/mock/issued")
assert_jq "the OAuth mock issued tokens once (the code was exchanged by the engine)" "$ISSUED" '(.access_tokens | length) == 1'
AT=$(jq -r '.access_tokens[0]' <<<"$ISSUED")
RT=$(jq -r '.refresh_tokens[0]' <<<"$ISSUED")
for s in "$WOO_KEY" "$WOO_SECRET" "$WH_SECRET" "$CLIENT_SECRET" "$AT" "$RT"; do
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
