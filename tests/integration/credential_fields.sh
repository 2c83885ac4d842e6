#!/usr/bin/env bash
# tests/integration/credential_fields.sh - GET /api/integrations/{platform}/fields, the route the
# console's credentials forms are built from: each connector's declared fields in order (type,
# required, secret, enum, default, description, pattern hint, length limits, URL schemes), the
# account field, nothing stored ever in it (not before, not after credentials are stored, not a
# secret field's default), a connector without credentials, unknown and malformed names, and
# the auth rules (no token, a tenant token).
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl jq

serve_start SYNC_DISPATCHER=off || finish
run_bin "$T/tok" token create --tenant shop-b
TENANT_TOKEN=$(printf '%s' "$OUT" | head -n 1)

http GET /api/integrations/woocommerce/fields
assert_eq "woocommerce: 200" 200 "$CODE"
WOO_FIELDS=$BODY
assert_jq "... the declared fields in their order" "$BODY" \
    '.platform == "woocommerce" and .accountField == "store_url" and [.fields[].name] == ["store_url", "consumer_key", "consumer_secret", "webhook_secret", "auth"]'
assert_jq "... store_url: a required public URL, https or http" "$BODY" \
    '.fields[0] | .type == "url" and .required == true and .secret == false and .schemes == ["https", "http"] and (.description | test("store"))'
assert_jq "... consumer_key: a required secret of at least 8 bytes" "$BODY" \
    '.fields[1] | .secret == true and .required == true and .minLength == 8 and .maxLength == 4096'
assert_jq "... auth: an enum with its default" "$BODY" \
    '.fields[4] | .enum == ["auto", "basic", "oauth1"] and .default == "auto" and .secret == false'
assert_jq "... only the keys of a declaration" "$BODY" \
    '[.fields[] | keys[]] | unique - ["name", "type", "required", "secret", "enum", "default", "description", "patternHint", "minLength", "maxLength", "schemes"] == []'
http GET /api/integrations/quickbooks/fields
assert_jq "quickbooks: realm_id the account field, digits only (its hint), at most 32 bytes" "$BODY" \
    '.accountField == "realm_id" and (.fields[] | select(.name == "realm_id") | (.patternHint | test("digits")) and .maxLength == 32)'
assert_jq "... the token expiry fields are datetimes" "$BODY" \
    '[.fields[] | select(.type == "datetime") | .name] == ["access_token_expires_at", "refresh_token_expires_at"]'
assert_jq "... no secret field carries a default" "$BODY" 'all(.fields[] | select(.secret); has("default") | not)'
http GET /api/integrations/pos/fields
assert_jq "pos: no fields (it needs no credentials)" "$BODY" '.platform == "pos" and .fields == []'

echo "== nothing stored reaches it"
SECRET="cs_$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
http POST /api/integrations/woocommerce/credentials -H 'Content-Type: application/json' \
    --data-binary "{\"store_url\": \"https://fields-test.example.net\", \"consumer_key\": \"ck_abcdefgh\", \"consumer_secret\": \"$SECRET\"}"
assert_eq "credentials stored" 201 "$CODE"
http GET /api/integrations/woocommerce/fields
assert_eq "the fields after storing are the same answer" "$WOO_FIELDS" "$BODY"
assert_not_contains "... without the stored secret" "$BODY" "$SECRET"
assert_not_contains "... or the stored store URL" "$BODY" "fields-test.example.net"

echo "== refusals and auth"
http GET /api/integrations/nope/fields
assert_eq "an unknown connector: 404" 404 "$CODE"
assert_jq "... in the envelope, naming it" "$BODY" '.error.code == "not_found" and (.error.message | test("nope"))'
http GET /api/integrations/..%2Fetc/fields
assert_eq "a name that is no connector name: 404" 404 "$CODE"
http GET /api/integrations/lib.credentials/fields
assert_eq "a module path (a dot) is no connector: 404" 404 "$CODE"
http POST /api/integrations/woocommerce/fields
assert_eq "POST: 405" 405 "$CODE"
HTTP_AUTH=0 http GET /api/integrations/woocommerce/fields
assert_eq "without a token: 401" 401 "$CODE"
HTTP_AUTH=0 http GET /api/integrations/woocommerce/fields -H 'Authorization: Bearer wrong-token'
assert_eq "a wrong token: 401" 401 "$CODE"
HTTP_AUTH=0 http GET /api/integrations/woocommerce/fields -H "Authorization: Bearer $TENANT_TOKEN"
assert_eq "a tenant token: 200 (declarations, the same for every tenant)" 200 "$CODE"
assert_eq "... the same answer" "$WOO_FIELDS" "$BODY"
serve_stop
finish
