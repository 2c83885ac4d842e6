#!/usr/bin/env bash
# tests/integration/api_settings.sh: GET/PUT /api/settings/transformer_config over real HTTP
# against a real SQLite file: defaults when nothing is stored, a valid PUT is stored (only the
# keys given) and mapping dry runs use it, a malformed value is a 422 naming the field and
# changes nothing, tenants do not see each other's settings, and a value stored by hand that
# runs would refuse is shown with the reason.
# shellcheck source=tests/integration/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
require_tools jq curl

export MAPPINGS_DIR=$ENG_SOURCE_DIR/tests/lua/mappings_fixture
serve_start WORKERS=1 || finish
JSON=(-H 'Content-Type: application/json')

echo "== nothing stored: defaults"
http GET /api/settings/transformer_config
assert_eq "GET answers 200" 200 "$CODE"
assert_jq "value is null, effective holds the nine defaults" "$BODY" \
    '.key == "transformer_config" and .value == null and .updatedAt == null and
     .effective == {"shipping_item_id": null, "default_payment_terms_days": 30,
                    "custom_field_mappings": [], "tax_code_mappings": {},
                    "default_tax_code_id": null, "paid_orders_as": "Invoice",
                    "create_missing_items": true, "income_account_id": null,
                    "refund_account_id": null}'

echo "== a valid PUT"
http PUT /api/settings/transformer_config "${JSON[@]}" --data-binary \
    '{"shipping_item_id": "77", "tax_code_mappings": {"75": "TAX"}, "paid_orders_as": "SalesReceipt", "create_missing_items": false}'
assert_eq "PUT answers 200" 200 "$CODE"
assert_jq "PUT answers the stored keys and the effective settings" "$BODY" \
    '.value == {"shipping_item_id": "77", "tax_code_mappings": {"75": "TAX"}, "paid_orders_as": "SalesReceipt", "create_missing_items": false}
     and .effective.default_payment_terms_days == 30 and .effective.paid_orders_as == "SalesReceipt"
     and (.updatedAt | type) == "string"'
stored=$(sq "SELECT value FROM settings WHERE tenant_id = 'default' AND key = 'transformer_config'")
assert_jq "the row holds only the keys given (defaults stay defaults)" "$stored" \
    '(keys | sort) == ["create_missing_items", "paid_orders_as", "shipping_item_id", "tax_code_mappings"]'
http GET /api/settings/transformer_config
assert_jq "GET reads it back" "$BODY" '.value.shipping_item_id == "77" and .effective.create_missing_items == false'

echo "== malformed values: 422 naming the field (malformed text: 400), nothing changes"
put_bad() { # DESCRIPTION BODY FIELD MESSAGE_PART
    http PUT /api/settings/transformer_config "${JSON[@]}" --data-binary "$2"
    assert_eq "$1: 422" 422 "$CODE"
    assert_jq "$1: names the field" "$BODY" \
        ".error.code == \"invalid_setting\" and (.error.details.field // \"\") == \"$3\" and (.error.message | contains(\"$4\"))"
}
put_bad "paid_orders_as out of its set" '{"paid_orders_as": "Receipt"}' paid_orders_as \
    "transformer_config.paid_orders_as must be one of Invoice, SalesReceipt"
put_bad "create_missing_items not a boolean" '{"create_missing_items": "yes"}' create_missing_items \
    "must be a boolean, got string"
put_bad "negative terms" '{"default_payment_terms_days": -5}' default_payment_terms_days "must not be negative"
put_bad "a tax code that is not a string" '{"tax_code_mappings": {"75": 5}}' tax_code_mappings \
    "tax_code_mappings[\\\"75\\\"] must be a QuickBooks TaxCode id string"
put_bad "an unknown setting" '{"shiping_item_id": "S"}' shiping_item_id 'unknown setting \"shiping_item_id\"'
# malformed text and a non-object are 400 malformed_json, as on every route (api_bodies.sh)
http PUT /api/settings/transformer_config "${JSON[@]}" --data-binary '[1, 2]'
assert_jq "not an object: 400 malformed_json" "$BODY" \
    '.error.code == "malformed_json" and (.error.message | contains("must be a JSON object"))'
assert_eq "... status 400" 400 "$CODE"
http PUT /api/settings/transformer_config "${JSON[@]}" --data-binary '{"shipping_item_id": '
assert_jq "malformed JSON: 400 malformed_json naming the byte" "$BODY" \
    '.error.code == "malformed_json" and (.error.message | test("at byte 22"))'
assert_eq "... status 400" 400 "$CODE"
http PUT /api/settings/transformer_config "${JSON[@]}"
assert_eq "an empty body is a 400" 400 "$CODE"
http PUT /api/settings/transformer_config -H 'Content-Type: text/plain' --data-binary '{}'
assert_eq "a non-JSON content type is a 415" 415 "$CODE"
http GET /api/settings/transformer_config
assert_jq "after the refusals the stored value is unchanged" "$BODY" '.value.shipping_item_id == "77"'

echo "== tenants are separate"
http GET /api/settings/transformer_config -H 'X-Tenant-ID: shop2'
assert_jq "another tenant still has the defaults" "$BODY" '.value == null and .effective.shipping_item_id == null'
http PUT /api/settings/transformer_config -H 'X-Tenant-ID: shop2' "${JSON[@]}" --data-binary '{"default_payment_terms_days": 14}'
assert_eq "PUT for shop2" 200 "$CODE"
http GET /api/settings/transformer_config
assert_jq "default's settings are untouched by shop2's" "$BODY" \
    '.value.shipping_item_id == "77" and .effective.default_payment_terms_days == 30'

echo "== a dry run sees the stored settings"
cat >"$T/cfg_probe.json" <<'EOF'
{"id": 1}
EOF
mkdir -p "$T/maps"
cp "$MAPPINGS_DIR"/explained.lua "$T/maps/"
cat >"$T/maps/cfg_probe.lua" <<'EOF'
return { map = function(r, ctx) return { ship = ctx.config.shipping_item_id,
  as = ctx.config.paid_orders_as, terms = ctx.config.default_payment_terms_days } end }
EOF
serve_stop
MAPPINGS_DIR="$T/maps" serve_start WORKERS=1 || finish
http POST /api/mappings/cfg_probe/dry-run "${JSON[@]}" --data-binary @"$T/cfg_probe.json"
assert_jq "the mapping's ctx.config is the stored setting with defaults" "$BODY" \
    '. == {"ship": "77", "as": "SalesReceipt", "terms": 30}'

echo "== a value stored by hand that runs refuse"
sq "UPDATE settings SET value = '{\"paid_orders_as\": \"Bill\"}' WHERE tenant_id = 'default' AND key = 'transformer_config'"
http GET /api/settings/transformer_config
assert_eq "GET still answers 200" 200 "$CODE"
assert_jq "it shows the value, no effective settings, and why" "$BODY" \
    '.value == {"paid_orders_as": "Bill"} and .effective == null and (.error | contains("paid_orders_as must be one of"))'
http POST /api/mappings/cfg_probe/dry-run "${JSON[@]}" --data-binary @"$T/cfg_probe.json"
assert_eq "a dry run refuses the malformed setting" 422 "$CODE"
assert_jq "naming it" "$BODY" '.error.message | contains("transformer_config.paid_orders_as")'
serve_stop

finish
