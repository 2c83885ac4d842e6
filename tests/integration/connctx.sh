#!/usr/bin/env bash
# tests/integration/connctx.sh - the connector context the engine builds (engine/lua/connctx.c +
# scripts/lib/credentials.lua build_context), seen from Lua through `tallysync run --ctx`, and
# the credential routes that use it: its shape for an OAuth connector (quickbooks), a connector
# without credentials (pos), a missing row, a wrong key; ctx.on_tokens persisting rotated tokens
# (read back by a second process), the compare-and-swap that keeps newer tokens from being
# overwritten (a barrier in the mock holds one process while the row changes), and the status
# answer's token expiry times and warnings.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl python3

CLIENT_ID="ctx-client-$RANDOM"
CLIENT_SECRET="ctx-secret-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
REALM=4620816365
export SCRIPT_TIMEOUT_MS=60000

python3 "$ENG_SOURCE_DIR/tests/mocks/quickbooks_mock.py" --client-id "$CLIENT_ID" \
    --client-secret "$CLIENT_SECRET" --realm-id "$REALM" >"$T/mock.out" 2>"$T/mock.err" &
bg_track $!
mock_ready() { grep -q '^ready$' "$T/mock.out"; }
wait_for 10000 mock_ready || { fail "the QuickBooks mock starts" "$(cat "$T/mock.err")"; finish; }
MOCK="http://127.0.0.1:$(sed -n 's/^port=//p' "$T/mock.out")"
export QUICKBOOKS_API_BASE="$MOCK" QUICKBOOKS_TOKEN_URL="$MOCK/oauth2/v1/tokens/bearer"
serve_start CONNECTOR_TIMEOUT_MS=20000 || finish

iso() { date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ; }
# store_qbo ACCESS REFRESH AT_EXPIRES RT_EXPIRES: POST the QuickBooks credentials.
store_qbo() {
    http POST /api/integrations/quickbooks/credentials -H 'Content-Type: application/json' \
        --data-binary "$(jq -nc --arg id "$CLIENT_ID" --arg s "$CLIENT_SECRET" --arg r "$REALM" \
            --arg at "$1" --arg rt "$2" --arg ae "$3" --arg re "$4" \
            '{client_id: $id, client_secret: $s, realm_id: $r, access_token: $at,
              refresh_token: $rt, access_token_expires_at: $ae, refresh_token_expires_at: $re}')"
}
mint() { curl -s -X POST "$MOCK/_mock/tokens" -d '{}'; }

echo "== the context of an OAuth connector"
TOK=$(mint)
AT1=$(jq -r .access_token <<<"$TOK")
RT1=$(jq -r .refresh_token <<<"$TOK")
AT_EXP=$(iso 3600)
RT_EXP=$(iso $((100 * 86400)))
store_qbo "$AT1" "$RT1" "$AT_EXP" "$RT_EXP"
assert_eq "credentials stored: 201" 201 "$CODE"
http POST /api/integrations/quickbooks/test
assert_jq "the test route builds its ctx through connctx and connects" "$BODY" \
    '.ok == true and (.message | contains("Mock Company"))'

cat >"$T/shape.lua" <<'LUA'
local ctx, at, rt = ...
local json = require "engine.json"
local keys = {}
for k in pairs(ctx.credentials) do keys[#keys + 1] = k end
table.sort(keys)
local fns = {}
for _, f in ipairs({ "on_tokens", "refresh_begin", "refresh_end", "reload_credentials" }) do
  fns[#fns + 1] = type(ctx[f])
end
print(json.encode({
  tenant = ctx.tenant, platform = ctx.platform, keys = keys,
  access_ok = ctx.credentials.access_token == at, refresh_ok = ctx.credentials.refresh_token == rt,
  environment = ctx.credentials.environment, config = ctx.config, fns = fns,
}))
LUA
run_bin "$T/shape" run --ctx quickbooks "$T/shape.lua" "$AT1" "$RT1"
assert_eq "run --ctx quickbooks exits 0" 0 "$RC"
assert_jq "ctx: tenant, platform, every declared field merged (secret and public)" "$OUT" \
    '.tenant == "default" and .platform == "quickbooks" and .keys == ["access_token",
     "access_token_expires_at", "client_id", "client_secret", "environment", "realm_id",
     "refresh_token", "refresh_token_expires_at"] and .access_ok and .refresh_ok and
     .environment == "sandbox"'
assert_jq "ctx.config carries the engine's QuickBooks settings" "$OUT" \
    ".config.quickbooks_api_base == \"$MOCK\" and .config.quickbooks_token_url ==
     \"$MOCK/oauth2/v1/tokens/bearer\" and (.config.connector_timeout_ms | type == \"number\")"
assert_jq "ctx has on_tokens, refresh_begin, refresh_end, reload_credentials" "$OUT" \
    '.fns == ["function", "function", "function", "function"]'

run_bin "$T/pos" run --ctx pos "$T/shape.lua"
assert_jq "a connector without credentials (pos): credentials {} and no token functions" \
    "$OUT" '(.keys | length) == 0 and .platform == "pos" and .fns == ["nil", "nil", "nil", "nil"]'
run_bin "$T/woo" run --ctx woocommerce "$T/shape.lua"
assert_eq "a connector with nothing stored: exit 1" 1 "$RC"
assert_contains "... saying so" "$ERR" "no credentials stored for woocommerce"
run_bin "$T/nope" run --ctx nope "$T/shape.lua"
assert_eq "an unknown connector: exit 1" 1 "$RC"
assert_contains "... naming it" "$ERR" "connectors.nope"
INTEGRATION_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" \
    run_bin "$T/key" run --ctx quickbooks "$T/shape.lua"
assert_eq "another key: exit 1" 1 "$RC"
assert_match "... cannot be decrypted, naming the key id" \
    'cannot be decrypted with the configured keys \(key id [0-9a-f]{16}\)' "$ERR"

echo "== ctx.on_tokens persists rotated tokens"
cat >"$T/rotate.lua" <<'LUA'
local ctx, at, rt, ae, re = ...
local ok, msg, code = ctx.on_tokens{ access_token = at, refresh_token = rt,
  access_token_expires_at = ae, refresh_token_expires_at = re }
print(tostring(ok) .. " " .. tostring(code) .. " "
  .. tostring(ctx.credentials.refresh_token == rt) .. " " .. tostring(msg))
LUA
AT2="ctxAT_$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
RT2="ctxRT_$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
AT_EXP2=$(iso 7200)
RT_EXP2=$(iso $((90 * 86400)))
run_bin "$T/rot" run --ctx quickbooks "$T/rotate.lua" "$AT2" "$RT2" "$AT_EXP2" "$RT_EXP2"
assert_eq "on_tokens answers true and updates ctx.credentials" "true nil true nil" "$OUT"
run_bin "$T/shape2" run --ctx quickbooks "$T/shape.lua" "$AT2" "$RT2"
assert_jq "a second process reads the rotated tokens from the vault" "$OUT" \
    '.access_ok and .refresh_ok'
http GET /api/integrations/quickbooks/status
assert_jq "the status shows the new expiry times and keeps its test result" "$BODY" \
    ".accessTokenExpiresAt == \"$AT_EXP2\" and .refreshTokenExpiresAt == \"$RT_EXP2\" and
     .status == \"connected\" and .warnings == []"
assert_not_contains "... and no token" "$BODY" "$RT2"

echo "== an older token set never overwrites a newer one"
cat >"$T/stale.lua" <<'LUA'
local ctx, mock, rt, newer = ...
local http = require "engine.http"
-- hold this ctx (it read the row before the change) until the test has changed the row
local r = http.request{ method = "POST", url = mock .. "/_mock/wait",
  json = { name = "stale" }, timeout_ms = 40000 }
assert(r and r.json.released, "the barrier was not released")
local ok, msg, code = ctx.on_tokens{ access_token = "staleAT-0123456789", refresh_token = rt }
print(tostring(ok) .. " " .. tostring(code) .. " "
  .. tostring(ctx.credentials.refresh_token == newer))
LUA
RT_OLD="ctxRTold_$RANDOM$RANDOM"
TOK=$(mint)
AT3=$(jq -r .access_token <<<"$TOK")
RT3=$(jq -r .refresh_token <<<"$TOK")
"$TALLYSYNC_BIN" run --ctx quickbooks "$T/stale.lua" "$MOCK" "$RT_OLD" "$RT3" \
    >"$T/stale.out" 2>"$T/stale.err" &
STALE_PID=$!
bg_track $STALE_PID
waiting() { [[ "$(curl -s "$MOCK/_mock/waiting" | jq '.stale // 0')" == 1 ]]; }
check "the process holding the old version waits at the barrier" wait_for 30000 waiting
store_qbo "$AT3" "$RT3" "$(iso 3600)" "$(iso $((100 * 86400)))"
assert_eq "meanwhile the credentials are stored again: 200" 200 "$CODE"
curl -s -X POST "$MOCK/_mock/release" -d '{"name":"stale"}' >/dev/null
wait_for 30000 pid_gone $STALE_PID
wait $STALE_PID
assert_eq "the stale process exits 0" 0 "$?"
assert_eq "its on_tokens answers superseded and ctx.credentials holds the newer tokens" \
    "nil superseded true" "$(cat "$T/stale.out")"
run_bin "$T/shape3" run --ctx quickbooks "$T/shape.lua" "$AT3" "$RT3"
assert_jq "the vault still holds the newer tokens" "$OUT" '.access_ok and .refresh_ok'

echo "== status: refresh token expiry warnings"
store_qbo "$AT3" "$RT3" "$(iso 3600)" "$(iso $((5 * 86400 + 3600)))"
http GET /api/integrations/quickbooks/status
assert_jq "5 days before: refresh_token_expiring, with the day count and the way out" "$BODY" \
    '.warnings | length == 1 and .[0].code == "refresh_token_expiring" and
     (.[0].message | contains("in 5 days")) and (.[0].message | contains("/connect")) and
     (.[0].expiresAt | type == "string")'
store_qbo "$AT3" "$RT3" "$(iso 3600)" "$(iso $((15 * 86400)))"
http GET /api/integrations/quickbooks/status
assert_jq "15 days before: no warning" "$BODY" '.warnings == []'
store_qbo "$AT3" "$RT3" "$(iso -3600)" "$(iso -60)"
http GET /api/integrations/quickbooks/status
assert_jq "after it: refresh_token_expired" "$BODY" \
    '[.warnings[].code] == ["refresh_token_expired"] and .refreshTokenExpiresAt != null'
http GET /api/integrations/woocommerce/status
assert_jq "a connector without tokens: null expiry times, no warnings" "$BODY" \
    '.accessTokenExpiresAt == null and .refreshTokenExpiresAt == null and .warnings == []'
http GET /api/integrations
assert_jq "the list carries the same fields" "$BODY" \
    '[.integrations[] | select(.platform == "quickbooks") | .warnings[].code] ==
     ["refresh_token_expired"]'

echo "== no secret in the output"
leaks=()
for s in "$CLIENT_SECRET" "$AT1" "$RT1" "$AT2" "$RT2" "$AT3" "$RT3"; do
    grep -qaF -- "$s" "$SERVE_LOG" "$T"/*.err && leaks+=("${s:0:8}...")
done
assert_eq "no token or client secret in the engine's log or the runs' stderr" "" "${leaks[*]}"
finish
