#!/usr/bin/env bash
# tests/browser/runs.sh - the Runs and Overview pages in headless chromium against the real engine
# and the mocks: a full run of a few hundred orders started from the page, its progress moving
# live until it succeeds, its detail (outcomes, reconciliation) matching what the engine and
# QuickBooks hold; a dry run's per-record differences side by side (and nothing written); the
# history's dry-run filter (page and API); a running run stopped from the page. Screenshots of
# Overview, Runs and a run's detail at both sizes.
HERE=$(cd "$(dirname "$0")" && pwd) # common.sh moves into the scratch folder
source "$HERE/../integration/lib/common.sh"
source "$HERE/../integration/lib/sync_env.sh"
source "$HERE/lib/browser_env.sh"
require_tools jq curl python3
browser_require

N=${RUNS_ORDERS:-300}

sync_mocks
browser_serve WORKERS=2 || finish
sync_credentials

# the orders the first run takes; QuickBooks answers a little slowly (each document of a batch
# too), so the run lasts long enough for the page to show it moving (what is asserted is what
# the page shows, not a time)
seed_orders 5000 "$N" 23 11 2026-01-01T00:00:00
curl -s -X POST "$QBO/_mock/config" -d '{"slow_ms": 40, "item_ms": 40}' >/dev/null
# and two batches at a time: with QuickBooks' ten, a few hundred orders are all in flight at once
# and answered together, so the page would see only the start and the end
sq "INSERT INTO settings (tenant_id, key, value) VALUES ('default', 'sync_parallel_requests', '2')"

browser_run "$ENG_SOURCE_DIR/tests/browser/runs.mjs" ORDERS="$N" WOO="$WOO" QBO="$QBO" \
    ORDER_TEMPLATE="$FIXTURES_DIR/woocommerce/order.json" \
    SECRETS="$(printf '%s\n' "$WOO_SECRET" "$QBO_ACCESS_TOKEN" mock-secret)" \
    OUT="$T/runs.json"

echo "== what the engine and QuickBooks hold after the page's actions"
[[ -s "$T/runs.json" ]] || { fail "the browser script names the runs it started"; finish; }
FULL=$(jq -r .full "$T/runs.json")
DRY=$(jq -r .dry "$T/runs.json")
STOPPED=$(jq -r .stopped "$T/runs.json")
http GET "/api/sync/status/$FULL"
assert_jq "the run started from the page was a real full run of the orders, and succeeded" "$BODY" \
    ".entity == \"orders\" and .mode == \"full\" and .dryRun == false and .state == \"succeeded\" and .counts.read >= $N"
http GET "/api/sync/status/$DRY"
assert_jq "the dry run started from the page was a dry run that found the changed orders" "$BODY" \
    '.dryRun == true and .state == "succeeded" and .counts.updated == 5'
http GET "/api/sync/status/$STOPPED"
assert_jq "the run stopped from the page ended cancelled, part done" "$BODY" \
    '.state == "cancelled" and .cancelRequested == true and .counts.read < .counts.total'

echo "== GET /api/sync/history?dryRun="
http GET "/api/sync/history?dryRun=true"
assert_jq "dryRun=true: the dry run only" "$BODY" "[.items[].syncId] == [\"$DRY\"] and .total == 1"
http GET "/api/sync/history?dryRun=false"
assert_jq "dryRun=false: the real runs, not the dry one" "$BODY" \
    "([.items[].syncId] | index(\"$FULL\") != null and index(\"$DRY\") == null) and all(.items[]; .dryRun == false)"
http GET "/api/sync/history?dryRun=yes"
assert_eq "dryRun=yes: 400" 400 "$CODE"
assert_jq "... invalid_parameter naming dryRun" "$BODY" '.error.code == "invalid_parameter" and (.error.message | test("dryRun"))'
http GET "/api/sync/history?dryRun=true" -H "X-Tenant-ID: other-shop"
assert_jq "another tenant's history holds none of these runs" "$BODY" '.total == 0'
finish
