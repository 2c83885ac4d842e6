#!/usr/bin/env bash
# tests/integration/realm_ownership.sh - a QuickBooks company (realm) belongs to the one tenant
# that proved it (issue 12, finding 6): the OAuth callback Intuit sent with that realmId, or a
# connection test that passed against that company with the tenant's own tokens. A realm id
# typed into stored credentials proves nothing: a signed webhook for a realm goes to its proven
# owner only (never "the newest row"), another tenant's claim is refused (its connection test,
# its OAuth callback) without naming the owner, and a realm whose owner let go (credentials
# deleted) can be proven by the next tenant. The real binary against tests/mocks/quickbooks_mock.py
# (companyinfo for the test) and tests/mocks/qbo_oauth_mock.py (authorize page, code exchange).
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl jq python3

CLIENT="$ENG_SOURCE_DIR/tests/mocks/webhook_client.py"
CB=/api/integrations/quickbooks/callback
REDIRECT_URI="https://books.example.test$CB"
CLIENT_ID="realm-client-$RANDOM"
CLIENT_SECRET="realm-secret-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
VERIFIER="realm-verifier-$RANDOM$RANDOM"
REALM_A=9130357766100001 # shop-a's company (the API mock serves it)
REALM_C=9130357766300003 # shop-c's, connected through OAuth

sign() { printf '%s' "$2" | python3 "$CLIENT" sign "$1"; }
now_iso() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }
start_mock() { # NAME SCRIPT ARGS...: start a mock, set its URL in the variable NAME
    local name=$1 script=$2
    shift 2
    python3 "$ENG_SOURCE_DIR/tests/mocks/$script" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    bg_track $!
    wait_for 10000 grep -q '^ready$' "$T/$name.out" || { fail "$script starts" "$(cat "$T/$name.err")"; finish; }
    printf -v "$name" 'http://127.0.0.1:%s' "$(sed -n 's/^port=//p' "$T/$name.out")"
}
start_mock API quickbooks_mock.py --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" \
    --realm-id "$REALM_A"
start_mock OAUTH qbo_oauth_mock.py --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" \
    --redirect-uri "$REDIRECT_URI" --realm-id "$REALM_A"
serve_start SYNC_DISPATCHER=off QUICKBOOKS_WEBHOOK_SECRET="$VERIFIER" QUICKBOOKS_API_BASE="$API" \
    QUICKBOOKS_TOKEN_URL="$OAUTH/oauth2/v1/tokens/bearer" QUICKBOOKS_AUTH_URL="$OAUTH/connect/oauth2" \
    OAUTH_REDIRECT_URI="$REDIRECT_URI" CONNECTOR_TIMEOUT_MS=20000 || finish

# store TENANT REALM [ACCESS_TOKEN]: QuickBooks credentials typed in through the API
store() {
    http POST /api/integrations/quickbooks/credentials -H "X-Tenant-ID: $1" \
        -H 'Content-Type: application/json' --data-binary "$(jq -nc --arg id "$CLIENT_ID" \
            --arg s "$CLIENT_SECRET" --arg r "$2" --arg at "${3:-}" \
            '{client_id: $id, client_secret: $s, realm_id: $r} + (if $at == "" then {} else {access_token: $at} end)')"
}
minted() { curl -s -X POST "$API/_mock/tokens" -d '{"expires_in": 86400}' | jq -r .access_token; }
status() { http GET /api/integrations/quickbooks/status -H "X-Tenant-ID: $1"; }
conn_test() { http POST /api/integrations/quickbooks/test -H "X-Tenant-ID: $1"; }
# webhook ID REALM: a QuickBooks CloudEvent for REALM's invoice 130, signed with the verifier
webhook() {
    local body
    body=$(jq -nc --arg id "$1" --arg r "$2" --arg t "$(now_iso)" '[{specversion: "1.0", id: $id,
        source: "intuit.test", type: "qbo.invoice.updated.v1", datacontenttype: "application/json",
        time: $t, intuitentityid: "130", intuitaccountid: $r, data: {}}]')
    HTTP_AUTH=0 http POST /api/webhooks/quickbooks -H 'Content-Type: application/cloudevents+json' \
        -H "intuit-signature: $(sign "$VERIFIER" "$body")" --data-binary "$body"
}
routed() { sq "SELECT coalesce(tenant_id, '-') || '|' || status FROM webhook_events WHERE event_id = '$1'"; }
jobs_of() { sq "SELECT count(*) FROM sync_queue q JOIN webhook_events e ON e.id = q.webhook_event_id WHERE e.event_id = '$1' AND q.tenant_id = '$2'"; }
owner() { sq "SELECT tenant_id || '|' || verified_by FROM realm_owners WHERE realm_id = '$1'"; }
# connect TENANT [REALM]: the OAuth connect flow as the browser plays it, ending at the callback
# with REALM as the realmId Intuit names (default: the mock's)
connect() {
    http GET /api/integrations/quickbooks/connect -H "X-Tenant-ID: $1"
    local url loc
    url=$(jq -r .authorizationUrl <<<"$BODY")
    loc=$(curl -s -o /dev/null -w '%{redirect_url}' --max-time 10 "$url")
    [[ -n "${2:-}" ]] && loc=${loc/realmId=$REALM_A/realmId=$2}
    HTTP_AUTH=0 http GET "$CB?${loc#*\?}"
}
token_calls() { curl -s "$OAUTH/mock/issued" | jq -r .token_calls; }

echo "== a typed realm id proves nothing"
store shop-a "$REALM_A" "$(minted)"
assert_eq "shop-a stores credentials naming its company: 201" 201 "$CODE"
assert_jq "... not yet proven (realmVerified false)" "$BODY" '.realmVerified == false'
webhook ev-typed "$REALM_A"
assert_eq "a signed webhook for that realm: 200" 200 "$CODE"
assert_eq "... kept unrouted: no tenant proved the realm" "-|unrouted" "$(routed ev-typed)"

echo "== proven by a passed connection test"
conn_test shop-a
assert_jq "shop-a's connection test passes (its token reaches the company)" "$BODY" '.ok == true'
assert_eq "... and makes the realm shop-a's" "shop-a|connection_test" "$(owner "$REALM_A")"
status shop-a
assert_jq "... the status says realmVerified" "$BODY" '.realmVerified == true'
webhook ev-1 "$REALM_A"
assert_eq "a webhook for the realm now goes to shop-a" "shop-a|queued" "$(routed ev-1)"
assert_eq "... with its job" 1 "$(jobs_of ev-1 shop-a)"

echo "== tenant shop-b names shop-a's realm"
store shop-b "$REALM_A"
assert_eq "shop-b may store credentials naming any realm: 201" 201 "$CODE"
assert_jq "... unproven" "$BODY" '.realmVerified == false'
webhook ev-2 "$REALM_A"
assert_eq "a signed webhook for the realm still goes to shop-a, not the newest row" "shop-a|queued" "$(routed ev-2)"
assert_eq "... shop-b gets no job" 0 "$(jobs_of ev-2 shop-b)"
assert_eq "... and no job anywhere for shop-b" 0 "$(sq "SELECT count(*) FROM sync_queue WHERE tenant_id = 'shop-b'")"
conn_test shop-b
assert_jq "shop-b's test fails (no token for the company)" "$BODY" '.ok == false'
assert_eq "... the realm stays shop-a's" "shop-a|connection_test" "$(owner "$REALM_A")"
store shop-b "$REALM_A" "$(minted)"
conn_test shop-b
assert_jq "with a token that reaches the company the test passes, but says the company is another tenant's" "$BODY" \
    '.ok == true and (.message | test("already connected to another tenant"))'
assert_not_contains "... without naming that tenant" "$BODY" "shop-a"
assert_eq "... the realm stays shop-a's" "shop-a|connection_test" "$(owner "$REALM_A")"
status shop-b
assert_jq "... shop-b's status: realmVerified false" "$BODY" '.realmVerified == false'
assert_not_contains "... naming no other tenant" "$BODY" "shop-a"
webhook ev-3 "$REALM_A"
assert_eq "webhooks keep going to shop-a" "shop-a|queued" "$(routed ev-3)"

echo "== the OAuth callback for a realm another tenant owns"
CALLS0=$(token_calls)
B_BEFORE=$(sq "SELECT hex(ciphertext) || store_version FROM integration_credentials WHERE tenant_id = 'shop-b'")
connect shop-b
assert_eq "shop-b's callback naming shop-a's realm: 409" 409 "$CODE"
assert_jq "... realm_owned, naming the company" "$BODY" \
    ".error.code == \"realm_owned\" and (.error.message | contains(\"$REALM_A\"))"
assert_not_contains "... and not the tenant that owns it" "$BODY" "shop-a"
assert_eq "... the code was not exchanged" "$CALLS0" "$(token_calls)"
assert_eq "... shop-b's stored credentials are untouched" "$B_BEFORE" \
    "$(sq "SELECT hex(ciphertext) || store_version FROM integration_credentials WHERE tenant_id = 'shop-b'")"
assert_eq "... the realm stays shop-a's" "shop-a|connection_test" "$(owner "$REALM_A")"

echo "== the OAuth callback proves a free realm"
store shop-c 1 # client id and secret first (any realm: the callback names the real one)
connect shop-c "$REALM_C"
assert_eq "shop-c connects company $REALM_C: 200" 200 "$CODE"
assert_eq "... the callback made it shop-c's" "shop-c|oauth_callback" "$(owner "$REALM_C")"
webhook ev-c "$REALM_C"
assert_eq "its webhooks go to shop-c" "shop-c|queued" "$(routed ev-c)"
store shop-b "$REALM_C"
webhook ev-c2 "$REALM_C"
assert_eq "shop-b typing shop-c's realm changes nothing" "shop-c|queued" "$(routed ev-c2)"

echo "== an owner that lets go"
HTTP_AUTH=1 http DELETE /api/integrations/quickbooks/credentials -H "X-Tenant-ID: shop-a"
assert_match "shop-a deletes its QuickBooks credentials" '^20[04]$' "$CODE"
webhook ev-4 "$REALM_A"
assert_eq "the realm's webhooks are unrouted: the claim is stale, shop-b never proved it" "-|unrouted" "$(routed ev-4)"
store shop-b "$REALM_A"
connect shop-b
assert_eq "now shop-b's callback for the realm: 200" 200 "$CODE"
assert_eq "... the realm is shop-b's" "shop-b|oauth_callback" "$(owner "$REALM_A")"
webhook ev-5 "$REALM_A"
assert_eq "... and its webhooks go to shop-b" "shop-b|queued" "$(routed ev-5)"
assert_eq "one owner per realm, one realm per tenant" \
    "$(sq "SELECT count(DISTINCT realm_id) || '|' || count(DISTINCT tenant_id) FROM realm_owners")" \
    "$(sq "SELECT count(*) || '|' || count(*) FROM realm_owners")"

serve_stop
assert_eq "serve stops cleanly" 0 "$STOP_RC"
finish
