#!/usr/bin/env bash
# tests/integration/operator_settings.sh - the operator settings (issue 10, item 20): where the
# engine sends tenants' secrets, kept in the store so that every entry point on one database
# uses the same values. The CLI checks what it stores; the environment wins over the store and
# the log says so; serve (/connect) and run --ctx use the stored values; the API is the
# administrator's only (a tenant token gets 403) and checks every value before writing any.
# shellcheck source=tests/integration/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
require_tools jq curl
unset QUICKBOOKS_AUTH_URL OAUTH_REDIRECT_URI WEBHOOK_PUBLIC_URL
JSON=(-H 'Content-Type: application/json')

echo "== the CLI"
run_bin "$T/list0" operator list
assert_eq "operator list on a new database exits 0" 0 "$RC"
assert_contains "... the token URL is Intuit's by default" "$OUT" \
    "QUICKBOOKS_TOKEN_URL=https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer  (default)"
run_bin "$T/bad" operator set QUICKBOOKS_API_BASE http://qbo.example.com
assert_eq "plain http to another machine is refused" 1 "$RC"
assert_contains "... naming the setting and the rule" "$ERR" \
    "QUICKBOOKS_API_BASE must use https:// (plain http is allowed for loopback hosts only, not qbo.example.com)"
run_bin "$T/bad2" operator set QUICKBOOKS_TOKEN_URL 'https://user@evil.example/token'
assert_eq "a URL with a user name is refused" 1 "$RC"
run_bin "$T/unknown" operator set QUICKBOOKS_API_BAS https://x.example
assert_eq "an unknown name is a usage error" 2 "$RC"
assert_contains "... naming it" "$ERR" "no setting named 'QUICKBOOKS_API_BAS'"
run_bin "$T/verb" operator sett QUICKBOOKS_API_BASE https://x.example
assert_eq "an unknown action is a usage error" 2 "$RC"
assert_eq "nothing was stored by the refused calls" 0 \
    "$(sq 'SELECT count(*) FROM operator_settings')"

run_bin "$T/set" operator set QUICKBOOKS_API_BASE http://127.0.0.1:9/
assert_eq "a loopback base is stored" 0 "$RC"
run_bin "$T/get" operator get QUICKBOOKS_API_BASE
assert_eq "get prints it (trailing '/' removed)" "http://127.0.0.1:9" "$OUT"
run_bin "$T/auth" operator set QUICKBOOKS_AUTH_URL https://auth.example.com/connect/oauth2
assert_eq "an https auth URL is stored" 0 "$RC"
run_bin "$T/list1" operator list
assert_contains "list says where each value comes from" "$OUT" \
    "QUICKBOOKS_API_BASE=http://127.0.0.1:9  (store)"
QUICKBOOKS_API_BASE=http://127.0.0.1:7 run_bin "$T/env" operator get QUICKBOOKS_API_BASE
assert_eq "the environment wins over the store" "http://127.0.0.1:7" "$OUT"
assert_contains "... and the log says so" "$ERR" \
    '"msg":"operator setting: the environment'"'"'s value wins over the stored one","setting":"QUICKBOOKS_API_BASE"'

echo "== run --ctx reads the stored settings"
cat >"$T/ctx.lua" <<'LUA'
local ctx = ...
print(ctx.config.quickbooks_api_base)
LUA
serve_start WORKERS=1 || finish
http POST /api/integrations/quickbooks/credentials "${JSON[@]}" -d '{"client_id": "cid",
    "client_secret": "csecret-0123456789", "realm_id": "123", "environment": "sandbox"}'
assert_eq "QuickBooks credentials stored" 201 "$CODE"
run_bin "$T/ctx" run --ctx quickbooks "$T/ctx.lua"
assert_eq "run --ctx sees the stored QUICKBOOKS_API_BASE" "http://127.0.0.1:9" "$OUT"

echo "== serve reads them at start: /connect points at the stored auth URL"
http GET /api/integrations/quickbooks/connect
assert_eq "connect: 200" 200 "$CODE"
assert_jq "the consent URL is the stored QUICKBOOKS_AUTH_URL" "$BODY" \
    '.authorizationUrl | startswith("https://auth.example.com/connect/oauth2?")'

echo "== the API: the administrator's only"
http GET /api/operator/settings
assert_eq "GET with API_TOKEN: 200" 200 "$CODE"
assert_jq "... each setting with its value in use and source" "$BODY" \
    '(.settings[] | select(.name == "QUICKBOOKS_API_BASE")) as $b
     | $b.value == "http://127.0.0.1:9" and $b.source == "store" and $b.stored == "http://127.0.0.1:9"
     and (.settings[] | select(.name == "QUICKBOOKS_TOKEN_URL") | .source == "default")
     and .restartRequired == false'
run_bin "$T/tok" token create --tenant shop-a --name ci
TENANT_TOKEN=$(grep -oE '[A-Za-z0-9_-]{32,}' <<<"$OUT" | head -n 1)
for m in GET PUT; do
    HTTP_AUTH=0 http "$m" /api/operator/settings -H "Authorization: Bearer $TENANT_TOKEN" \
        "${JSON[@]}" -d '{"QUICKBOOKS_API_BASE": "https://evil.example"}'
    assert_eq "$m with a tenant token: 403" 403 "$CODE"
done
http PUT /api/operator/settings "${JSON[@]}" -d '{"QUICKBOOKS_TOKEN_URL": "https://t.example/token",
    "QUICKBOOKS_API_BASE": "http://10.0.0.5"}'
assert_eq "a value to a non-loopback http host: 422" 422 "$CODE"
assert_jq "... naming the setting" "$BODY" '.error.details.field == "QUICKBOOKS_API_BASE"'
http PUT /api/operator/settings "${JSON[@]}" -d '{"QUICKBOOKS_API": "https://x.example"}'
assert_jq "an unknown name: 422 naming it" "$BODY" \
    '.error.code == "invalid_setting" and .error.details.field == "QUICKBOOKS_API"'
http PUT /api/operator/settings "${JSON[@]}" -d '{"QUICKBOOKS_API_BASE": 5}'
assert_eq "a number: 422" 422 "$CODE"
http PUT /api/operator/settings "${JSON[@]}" -d '["x"'
assert_jq "malformed JSON: 400 malformed_json" "$BODY" '.error.code == "malformed_json"'
assert_eq "nothing of the refused PUTs was written" "" \
    "$(sq "SELECT value FROM operator_settings WHERE name = 'QUICKBOOKS_TOKEN_URL'")"
http PUT /api/operator/settings "${JSON[@]}" -d '{"QUICKBOOKS_TOKEN_URL": "https://t.example/token",
    "QUICKBOOKS_AUTH_URL": null}'
assert_eq "a valid PUT: 200" 200 "$CODE"
assert_jq "... stored, used from the next start" "$BODY" \
    '.restartRequired == true and (.settings[] | select(.name == "QUICKBOOKS_TOKEN_URL")
     | .stored == "https://t.example/token" and .value == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer")
     and (.settings[] | select(.name == "QUICKBOOKS_AUTH_URL") | .stored == null)'
serve_stop
serve_start WORKERS=1 || finish
http GET /api/operator/settings
assert_jq "after a restart the engine uses them" "$BODY" \
    '.restartRequired == false and (.settings[] | select(.name == "QUICKBOOKS_TOKEN_URL")
     | .value == "https://t.example/token" and .source == "store")
     and (.settings[] | select(.name == "QUICKBOOKS_AUTH_URL") | .source == "default")'
serve_stop

echo "== a value stored by hand that the check refuses stops the start, naming it"
sq "UPDATE operator_settings SET value = 'http://evil.example' WHERE name = 'QUICKBOOKS_API_BASE'"
run_bin "$T/handbad" operator get QUICKBOOKS_API_BASE
assert_eq "the command refuses it" 1 "$RC"
assert_contains "... saying which and how to fix it" "$ERR" \
    "QUICKBOOKS_API_BASE must use https://"
run_bin "$T/fix" operator set QUICKBOOKS_API_BASE https://quickbooks.api.intuit.com
assert_eq "... and tallysync operator set can still fix it" 0 "$RC"
finish
