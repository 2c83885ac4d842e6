#!/usr/bin/env bash
# tests/integration/sync_refusals.sh - a sync that can only fail is refused up front: without
# credentials for the flow's source or target, POST /api/sync/{entity} answers 422
# missing_connection naming each platform (with its role) and the tenant, and queues nothing.
# A run that still fails for a run-level cause (the credentials deleted after it was queued)
# carries the reason in its row and on its "sync run finished" log line.
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools curl jq

serve_start SYNC_DISPATCHER=off || finish

echo "== no credentials at all"
start_run '{"mode": "full"}'
assert_eq "POST /api/sync/orders without credentials: 422" 422 "$CODE"
assert_jq "... missing_connection naming both connections and the tenant" "$BODY" \
    '.error.code == "missing_connection" and .error.details.tenant == "default" and
     (.error.details.missing | map(.platform + "/" + .role + "/" + .reason) | sort) ==
       ["quickbooks/target/no_credentials", "woocommerce/source/no_credentials"]'
assert_jq "... and the message says what to do" "$BODY" \
    '.error.message | test("woocommerce") and test("quickbooks") and test("/api/integrations")'
http GET /api/sync/status
assert_jq "... and no run was queued" "$BODY" '.total == 0'

echo "== only the source connected"
http POST /api/integrations/woocommerce/credentials -H 'Content-Type: application/json' \
    --data-binary '{"store_url": "https://shop.example.com", "consumer_key": "ck_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "consumer_secret": "cs_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}'
assert_eq "WooCommerce credentials stored" 201 "$CODE"
start_run '{"mode": "full"}'
assert_eq "POST /api/sync/orders without QuickBooks: 422" 422 "$CODE"
assert_jq "... naming quickbooks, the target, alone" "$BODY" \
    '.error.details.missing == [{"platform": "quickbooks", "role": "target", "reason": "no_credentials"}]'
http POST /api/sync/orders -H 'Content-Type: application/json' -H 'X-Tenant-ID: shop-b' --data-binary '{}'
assert_jq "another tenant's request names that tenant" "$BODY" \
    '.error.details.tenant == "shop-b" and (.error.details.missing | length) == 2'

echo "== both connected: queued"
http POST /api/integrations/quickbooks/credentials -H 'Content-Type: application/json' \
    --data-binary '{"client_id": "client-id-1", "client_secret": "client-secret-1", "realm_id": "9130357766900456", "access_token": "access-token-1", "refresh_token": "refresh-token-1"}'
assert_eq "QuickBooks credentials stored" 201 "$CODE"
start_run '{"mode": "full"}'
assert_eq "POST /api/sync/orders: 202" 202 "$CODE"

echo "== a run that fails for a run-level cause says why, in its row and its log line"
http DELETE /api/integrations/quickbooks/credentials
assert_eq "QuickBooks credentials deleted while the run waits" 204 "$CODE"
serve_stop
serve_start || finish
wait_run 60000
assert_eq "the run fails" failed "$RUN_STATE"
assert_jq "... its error names the cause" "$RUN" '.error | test("no credentials stored for quickbooks")'
line=$(grep -F '"msg":"sync run finished"' "$SERVE_LOG" | grep -F "$SYNC_ID" | head -n 1)
assert_ne "... a line says the run finished" "" "$line"
assert_jq "... and so does its log line" "$line" \
    '.state == "failed" and (.error | test("no credentials stored for quickbooks"))'
serve_stop
finish
