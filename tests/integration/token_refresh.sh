#!/usr/bin/env bash
# tests/integration/token_refresh.sh - QuickBooks token rotation through the engine's own
# connector context (engine/lua/connctx.c, lib/credentials.lua, connectors/quickbooks.lua) against
# tests/mocks/quickbooks_mock.py behaving like Intuit with strict rotation (a used refresh token
# dies at once, so a second refresh with it would fail with invalid_grant):
#   - two processes (`tallysync run --ctx quickbooks`, released together by a barrier in the mock)
#     and two workers of one engine refresh one company at once: exactly one refresh grant at the
#     token endpoint, both continue with the newest tokens, the vault holds the newest refresh
#     token;
#   - the access token expires in the middle of a paged read: refreshed once, the read goes on;
#   - a process killed while it holds the refresh lease (stuck at the token endpoint) blocks the
#     others only until the lease lapses;
#   - a refused refresh token: reconnect_required, and the status warns the person.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl python3 sha256sum

CLIENT_ID="tok-client-$RANDOM"
CLIENT_SECRET="tok-secret-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
REALM=4620816365
export SCRIPT_TIMEOUT_MS=60000

python3 "$ENG_SOURCE_DIR/tests/mocks/quickbooks_mock.py" --client-id "$CLIENT_ID" \
    --client-secret "$CLIENT_SECRET" --realm-id "$REALM" --strict-rotation \
    >"$T/mock.out" 2>"$T/mock.err" &
bg_track $!
mock_ready() { grep -q '^ready$' "$T/mock.out"; }
wait_for 10000 mock_ready || { fail "the QuickBooks mock starts" "$(cat "$T/mock.err")"; finish; }
MOCK="http://127.0.0.1:$(sed -n 's/^port=//p' "$T/mock.out")"
export QUICKBOOKS_API_BASE="$MOCK" QUICKBOOKS_TOKEN_URL="$MOCK/oauth2/v1/tokens/bearer"
serve_start WORKERS=2 CONNECTOR_TIMEOUT_MS=30000 || finish

mockc() { curl -s -X POST "$MOCK/_mock/$1" -d "${2:-{\}}"; }
mstate() { curl -s "$MOCK/_mock/state"; }
grants() { mstate | jq .refresh_grants; }
iso() { date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
newest_rt() { mstate | jq -r '.refresh_tokens[-1]'; }

# store_expired: store credentials whose access token is expired (at the mock and by its
# stored expiry time) and whose refresh token is a fresh one; sets RT0.
store_expired() {
    local tok at
    tok=$(mockc tokens)
    at=$(jq -r .access_token <<<"$tok")
    RT0=$(jq -r .refresh_token <<<"$tok")
    mockc expire "$(jq -nc --arg t "$at" '{access_token: $t}')" >/dev/null
    http POST /api/integrations/quickbooks/credentials -H 'Content-Type: application/json' \
        --data-binary "$(jq -nc --arg id "$CLIENT_ID" --arg s "$CLIENT_SECRET" --arg r "$REALM" \
            --arg at "$at" --arg rt "$RT0" --arg ae "$(iso -60)" --arg re "$(iso 8640000)" \
            '{client_id: $id, client_secret: $s, realm_id: $r, access_token: $at,
              refresh_token: $rt, access_token_expires_at: $ae, refresh_token_expires_at: $re}')"
    [[ "$CODE" == 200 || "$CODE" == 201 ]] || fail "credentials stored" "$CODE $BODY"
}

# The read a sync run does, with the engine's ctx. Args: barrier ("" for none), page size,
# quickbooks_timeout_ms ("" for the default). Prints ROWS/PAGES and the tokens' hashes.
cat >"$T/read.lua" <<'LUA'
local ctx, mock, barrier, page_size, timeout_ms = ...
local http = require "engine.http"
local crypto = require "engine.crypto"
local qbo = require "connectors.quickbooks"
if timeout_ms ~= "" then ctx.config.quickbooks_timeout_ms = math.tointeger(tonumber(timeout_ms)) end
if barrier ~= "" then
  local r = http.request{ method = "POST", url = mock .. "/_mock/wait",
    json = { name = barrier }, timeout_ms = 40000 }
  assert(r and r.json.released, "the barrier was not released")
end
local rows, info = qbo.query(ctx, "SELECT * FROM Customer", { page_size = tonumber(page_size) })
if not rows then
  print("ERR " .. tostring(info.code) .. ": " .. tostring(info))
  return
end
print(("ROWS %d PAGES %d"):format(#rows, info.pages))
print("AT " .. crypto.hex(crypto.sha256(ctx.credentials.access_token)))
print("RT " .. crypto.hex(crypto.sha256(ctx.credentials.refresh_token)))
LUA
# What the vault holds now, as hashes (a fresh process reads it).
cat >"$T/vault.lua" <<'LUA'
local ctx = ...
local crypto = require "engine.crypto"
print("RT " .. crypto.hex(crypto.sha256(ctx.credentials.refresh_token)))
print("AT " .. crypto.hex(crypto.sha256(ctx.credentials.access_token)))
LUA
vault_rt() { "$TALLYSYNC_BIN" run --ctx quickbooks "$T/vault.lua" 2>/dev/null | sed -n 's/^RT //p'; }

mockc seed '{"Customer": [{"DisplayName": "C1"}, {"DisplayName": "C2"}, {"DisplayName": "C3"}]}' \
    >/dev/null

echo "== two processes refresh one company at once"
store_expired
mockc config '{"token_delay_ms": 1500}' >/dev/null
G0=$(grants)
for n in 1 2; do
    "$TALLYSYNC_BIN" run --ctx quickbooks "$T/read.lua" "$MOCK" go 1000 "" \
        >"$T/p$n.out" 2>"$T/p$n.err" &
    eval "P$n=\$!"
    bg_track $!
done
both_waiting() { [[ "$(curl -s "$MOCK/_mock/waiting" | jq '.go // 0')" == 2 ]]; }
check "both processes wait at the barrier with the expired token" wait_for 30000 both_waiting
mockc release '{"name": "go"}' >/dev/null
wait_for 60000 pid_gone "$P1"
wait_for 60000 pid_gone "$P2"
wait "$P1"
RC1=$?
wait "$P2"
RC2=$?
assert_eq "both exit 0" "0 0" "$RC1 $RC2"
assert_eq "both read every row" "ROWS 3 PAGES 1|ROWS 3 PAGES 1" \
    "$(grep -h '^ROWS\|^ERR' "$T/p1.out" "$T/p2.out" | paste -sd '|')"
assert_eq "exactly one refresh grant at the token endpoint" $((G0 + 1)) "$(grants)"
assert_eq "... and no refused one (nobody refreshed with the used refresh token)" 0 \
    "$(mstate | jq .invalid_grants)"
NEWEST=$(newest_rt)
assert_ne "the mock issued a new refresh token" "$RT0" "$NEWEST"
assert_eq "both processes continued with the newest tokens" \
    "$(sha "$NEWEST")|$(sha "$NEWEST")" "$(sed -n 's/^RT //p' "$T/p1.out" "$T/p2.out" | paste -sd '|')"
assert_eq "... the same access token" 1 "$(sed -n 's/^AT //p' "$T/p1.out" "$T/p2.out" | sort -u | wc -l)"
assert_eq "the vault holds the newest refresh token" "$(sha "$NEWEST")" "$(vault_rt)"
http GET /api/integrations/quickbooks/status
assert_jq "the status shows the renewed expiry times, no warning" "$BODY" \
    "(.accessTokenExpiresAt > \"$(iso 3000)\") and (.refreshTokenExpiresAt > \"$(iso 8000000)\")
     and .warnings == []"

echo "== two workers of one engine refresh one company at once"
store_expired
G0=$(grants)
for n in 1 2; do
    curl -s -X POST --max-time 60 -H "$AUTH_HEADER" "$BASE/api/integrations/quickbooks/test" \
        >"$T/w$n.json" &
    eval "W$n=\$!"
    bg_track $!
done
wait "$W1"
wait "$W2"
assert_jq "worker 1's test connects" "$(cat "$T/w1.json")" '.ok == true'
assert_jq "worker 2's test connects" "$(cat "$T/w2.json")" '.ok == true'
assert_eq "exactly one refresh grant" $((G0 + 1)) "$(grants)"
assert_eq "no refused grant" 0 "$(mstate | jq .invalid_grants)"
assert_eq "the vault holds the newest refresh token" "$(sha "$(newest_rt)")" "$(vault_rt)"
mockc config '{"token_delay_ms": 0}' >/dev/null

echo "== the access token expires in the middle of a paged read"
mockc seed "$(jq -nc '{Customer: [range(9) | {DisplayName: "Paged \(.)"}]}')" >/dev/null
G0=$(grants)
# the token in use dies at the second page's request: 401, as an access token running out
mockc faults '{"kind": "expire", "path": "query", "skip": 1, "count": 1}' >/dev/null
run_bin "$T/paged" run --ctx quickbooks "$T/read.lua" "$MOCK" "" 5 ""
assert_eq "the run exits 0" 0 "$RC"
assert_eq "it read every row across the pages" "ROWS 12 PAGES 3" "$(grep '^ROWS\|^ERR' <<<"$OUT")"
assert_eq "one refresh on the way" $((G0 + 1)) "$(grants)"
assert_jq "the mock answered that page 401 once" "$(mstate)" \
    '[.requests[] | select(.path == "query" and .status == 401)] | length == 1'
assert_eq "the vault holds the newest refresh token" "$(sha "$(newest_rt)")" "$(vault_rt)"

echo "== a process killed while it holds the refresh lease"
store_expired
G0=$(grants)
CALLS0=$(mstate | jq .token_calls)
mockc config '{"token_delay_ms": 120000}' >/dev/null # the token endpoint hangs
# quickbooks_timeout_ms 4000: its lease lasts 2 * 4000 + 5000 ms (room for the probe below)
"$TALLYSYNC_BIN" run --ctx quickbooks "$T/read.lua" "$MOCK" "" 1000 4000 \
    >"$T/dead.out" 2>"$T/dead.err" &
DEAD=$!
bg_track $DEAD
at_token_endpoint() { (($(mstate | jq .token_calls) > CALLS0)); }
check "the process reaches the token endpoint holding the lease" wait_for 30000 at_token_endpoint
kill -KILL $DEAD
wait $DEAD 2>/dev/null
mockc config '{"token_delay_ms": 0}' >/dev/null
cat >"$T/probe.lua" <<'LUA'
local ctx = ...
local got, msg, code = ctx.refresh_begin{ lease_ms = 1000, wait_ms = 0 }
print(tostring(got) .. " " .. tostring(code))
if got == "acquired" then ctx.refresh_end() end
LUA
run_bin "$T/probe" run --ctx quickbooks "$T/probe.lua"
assert_eq "right after the kill the lease is still held (no waiting: refresh_busy)" \
    "nil refresh_busy" "$OUT"
run_bin "$T/after" run --ctx quickbooks "$T/read.lua" "$MOCK" "" 1000 ""
assert_eq "a later refresh waits for the lease to lapse, then succeeds" "0 ROWS 12 PAGES 1" \
    "$RC $(grep '^ROWS\|^ERR' <<<"$OUT")"
assert_eq "one refresh grant (the dead process got none)" $((G0 + 1)) "$(grants)"
assert_eq "the vault holds the newest refresh token" "$(sha "$(newest_rt)")" "$(vault_rt)"

echo "== a refused refresh token"
store_expired
mockc config '{"refresh_ttl": 8640000}' >/dev/null
# use the stored refresh token up behind the engine's back: it dies (strict rotation)
curl -s -X POST -u "$CLIENT_ID:$CLIENT_SECRET" -H 'Accept: application/json' \
    --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$RT0" \
    "$MOCK/oauth2/v1/tokens/bearer" >/dev/null
run_bin "$T/refused" run --ctx quickbooks "$T/read.lua" "$MOCK" "" 1000 ""
assert_match "the read fails with reconnect_required, saying how to reconnect" \
    '^ERR reconnect_required: .*invalid_grant.*/api/integrations/quickbooks/connect' "$OUT"
http GET /api/integrations/quickbooks/status
assert_jq "the status says expired and warns: reconnect_required" "$BODY" \
    '.status == "expired" and [.warnings[].code] == ["reconnect_required"]'
run_bin "$T/probe2" run --ctx quickbooks "$T/probe.lua"
assert_eq "the lease was given back" "acquired nil" "$OUT"

echo "== no secret in the output"
mapfile -t SECRETS < <(mstate | jq -r '.access_tokens[], .refresh_tokens[]')
SECRETS+=("$CLIENT_SECRET")
leaks=()
for s in "${SECRETS[@]}"; do
    grep -qaF -- "$s" "$SERVE_LOG" "$T"/*.out "$T"/*.err "$T"/*.json && leaks+=("${s:0:10}...")
done
assert_eq "no token or client secret in the engine's log or the runs' output" "" "${leaks[*]}"
finish
