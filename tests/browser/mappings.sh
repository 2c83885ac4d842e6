#!/usr/bin/env bash
# tests/browser/mappings.sh - the Mappings page in headless chromium against the real engine and
# the mocks, over a scratch copy of mappings/ (the page publishes files): the list shows a broken
# mapping rejected with its file and line; the editor highlights Lua and marks the line of the
# load error; the preview of an unsaved edit on a real record shows the changed document and the
# line that wrote a field; the tests run from the page and fail on that edit; the impact check
# over the snapshots a real run kept gives the exact count of changed documents and a field
# diff; publish is refused while a test fails (page and API); a tenant token previews but cannot
# publish. Screenshots (`mappings` = the impact view, `mappings-list`) at both sizes.
source "$(dirname "$0")/../integration/lib/common.sh"
source "$(dirname "$0")/../integration/lib/sync_env.sh"
source "$(dirname "$0")/lib/browser_env.sh"
require_tools jq curl python3
browser_require

FLOW=woo_order_to_qbo_invoice
OTHER=woo_product_to_qbo_item # published by "someone else" while the page edits it
copy_script_dirs
# a mapping that does not load: a syntax error on line 7 (the file and line the page must show)
cat >"$MAPPINGS_DIR/zz_broken.lua" <<'LUA'
-- mappings/zz_broken.lua: a copy of a mapping left half-edited (browser test fixture)
local woo = require "lib.woo_sales"

return {
  name = "zz_broken",
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "quickbooks" entity = "Invoice" },
  key = "id",
  map = function(order, ctx) return woo.build("zz_broken", order, ctx, "Invoice") end,
}
LUA
ORIGINAL_SUM=$(sha256sum "$MAPPINGS_DIR/$FLOW.lua" | cut -d' ' -f1)

sync_mocks
browser_serve || finish
sync_credentials
seed_orders 6100 6 3 2 2026-03-01T00:00:00

echo "== a real run, so the engine keeps the orders' last source snapshots"
start_run '{"mode": "full"}'
[[ -n "$SYNC_ID" ]] || { fail "a full run starts" "$CODE $BODY"; finish; }
wait_run
assert_jq "the run is over and created invoices" "$RUN" '.state == "succeeded" or .state == "partial"'

echo "== what the impact count must be, found without the impact route"
http GET "/api/mappings/$FLOW/records?limit=1000"
assert_eq "GET records: 200" 200 "$CODE"
printf '%s' "$BODY" >"$T/records.json"
RECORDS=$(jq '.items | length' "$T/records.json")
assert_ge "the run left snapshots of the orders it read" "$RECORDS" 6
# every record the published mapping maps gets the edited PrivateNote: one dry run per record
MAPPED=0
for i in $(seq 0 $((RECORDS - 1))); do
    dry_run_http "$FLOW" "$(jq -c ".items[$i].record" "$T/records.json")"
    [[ "$CODE" == 200 ]] && MAPPED=$((MAPPED + 1))
done
assert_ge "the published mapping maps most of them" "$MAPPED" 6

echo "== a tenant token"
run_bin "$T/tok" token create --tenant shop-b --name browser
TENANT_TOKEN=$(printf '%s' "$OUT" | head -n 1)
[[ -n "$TENANT_TOKEN" ]] || { fail "token create gives a tenant token" "$ERR"; finish; }

browser_run "$ENG_SOURCE_DIR/tests/browser/mappings.mjs" FLOW="$FLOW" OTHER="$OTHER" EXPECT_CHANGED="$MAPPED" \
    TENANT_TOKEN="$TENANT_TOKEN" MAPPINGS_DIR="$MAPPINGS_DIR" \
    SECRETS="$(printf '%s\n' "$WOO_SECRET" "$QBO_ACCESS_TOKEN" mock-secret "$TENANT_TOKEN")" \
    OUT="$T/edited.lua"

echo "== what the engine holds after the page's actions"
check "the page refused to publish: $FLOW.lua is unchanged on disk" \
    test "$(sha256sum "$MAPPINGS_DIR/$FLOW.lua" | cut -d' ' -f1)" = "$ORIGINAL_SUM"
if [[ -s "$T/edited.lua" ]]; then
    http GET "/api/mappings/$FLOW/source"
    VERSION=$(jq -r .version <<<"$BODY")
    http PUT "/api/mappings/$FLOW/source" -H 'Content-Type: application/json' \
        --data-binary "$(jq -Rsc --arg v "$VERSION" '{source: ., baseVersion: $v}' "$T/edited.lua")"
    assert_eq "the API refuses the page's edit too: 422" 422 "$CODE"
    assert_jq "... tests_failed, with the failing cases" "$BODY" \
        '.error.code == "tests_failed" and (.error.details.failed > 0)'
    HTTP_AUTH=0 http PUT "/api/mappings/$FLOW/source" -H "Authorization: Bearer $TENANT_TOKEN" \
        -H 'Content-Type: application/json' \
        --data-binary "$(jq -Rsc --arg v "$VERSION" '{source: ., baseVersion: $v}' "$T/edited.lua")"
    assert_eq "a tenant token cannot publish through the API: 403" 403 "$CODE"
    assert_jq "... forbidden" "$BODY" '.error.code == "forbidden"'
else
    fail "the browser script saved the edited text it tried to publish"
fi
check "the version conflict left the other publisher's text on disk" grep -q 'published elsewhere meanwhile' "$MAPPINGS_DIR/$OTHER.lua"
check "... and not the page's stale edit" bash -c "! grep -q -- '-- my edit' '$MAPPINGS_DIR/$OTHER.lua'"
finish
