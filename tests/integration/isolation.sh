#!/usr/bin/env bash
# tests/integration/isolation.sh - nothing of one task reaches the next on a warm worker (issue 12,
# finding 3). One worker (WORKERS=1), so every task runs in the same VM: tenant A's dry run of a
# mapping that tries to hook engine.crypto and string (through the real tables that pairs handed
# out, the string metatable, plain assignment), to keep a global and to fill its own module
# table; then tenant B's connection test of its WooCommerce store on that same worker. B's test
# must connect with B's own secrets, and no hook may see them (a hook writes every argument it
# sees to the log), and A's next dry run must find nothing of the first.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl python3

rnd() { head -c 12 /dev/urandom | base64 | tr -d '/+='; }
WOO_KEY="ck_b_$(rnd)"
WOO_SECRET="cs_b_$(rnd)"

env MOCK_WOO_KEY="$WOO_KEY" MOCK_WOO_SECRET="$WOO_SECRET" MOCK_QBO_TOKEN="unused-$(rnd)" \
    MOCK_QBO_REALM=1 MOCK_SUPABASE_KEY="unused-$(rnd)" \
    python3 "$ENG_SOURCE_DIR/tests/mocks/saas_mock.py" >"$T/mock.out" 2>"$T/mock.err" &
bg_track $!
wait_for 10000 test -s "$T/mock.out" || {
    fail "the SaaS mock starts" "$(cat "$T/mock.err")"
    finish
}
MOCK="http://127.0.0.1:$(head -n 1 "$T/mock.out")"

copy_script_dirs
cat >"$T/mappings/isolation_probe.lua" <<'LUA'
-- A mapping that tries to leave something behind for the next task (tests/integration/isolation.sh).
local crypto = require "engine.crypto"
local log = require "engine.log"
local M = { seen = {} }
local stash

local function spy(name, real)
  return function(...)
    local args = table.pack(...)
    for i = 1, args.n do
      if type(args[i]) == "string" then log.warn("probe saw an argument", { fn = name, arg = args[i] }) end
    end
    return real(...)
  end
end

local function attack()
  local hooked = 0
  local tries = {}
  for _, lib in ipairs({ { "crypto", crypto }, { "string", string } }) do
    local label, t = lib[1], lib[2]
    tries[#tries + 1] = function() -- the state pairs hands out
      local _, real = pairs(t)
      for k, v in pairs(real) do if type(v) == "function" then real[k] = spy(label .. "." .. k, v) end end
    end
    tries[#tries + 1] = function() -- plain assignment
      for k, v in pairs(t) do if type(v) == "function" then t[k] = spy(label .. "." .. k, v) end end
    end
  end
  tries[#tries + 1] = function() getmetatable("").__index.format = spy("format", string.format) end
  for _, f in ipairs(tries) do if pcall(f) then hooked = hooked + 1 end end
  return hooked
end

local function map(p)
  local before = tostring(probe_global) .. "|" .. #M.seen .. "|" .. tostring(stash)
  local hooked = attack()
  probe_global = "task " .. tostring(p.id)
  pcall(function() M.seen[#M.seen + 1] = p.id end)
  stash = p.id
  return { id = p.id, before = before, hooked = hooked }
end

return {
  name = "isolation_probe",
  source = { connector = "woocommerce", entity = "products" },
  target = { connector = "supabase", entity = "products" },
  key = "id",
  map = map,
}
LUA

run_bin "$T/tok-a" token create --tenant shop-a
TOKEN_A=$(printf '%s' "$OUT" | head -n 1)
run_bin "$T/tok-b" token create --tenant shop-b
TOKEN_B=$(printf '%s' "$OUT" | head -n 1)
serve_start WORKERS=1 CONNECTOR_TIMEOUT_MS=5000 LOG_LEVEL=debug || finish

as() { # as TOKEN METHOD PATH [CURL_ARGS...]
    local tok=$1
    shift
    HTTP_AUTH=0 http "$@" -H "Authorization: Bearer $tok"
}

echo "== tenant B stores its WooCommerce credentials"
as "$TOKEN_B" POST /api/integrations/woocommerce/credentials -H 'Content-Type: application/json' \
    --data-binary "$(jq -nc --arg u "$MOCK/" --arg k "$WOO_KEY" --arg s "$WOO_SECRET" \
        '{store_url: $u, consumer_key: $k, consumer_secret: $s, webhook_secret: "whsec-b-0123456789"}')"
assert_eq "stored: 201" 201 "$CODE"

echo "== tenant A's dry run tries to hook the shared tables"
as "$TOKEN_A" POST /api/mappings/isolation_probe/dry-run -H 'Content-Type: application/json' \
    --data-binary '{"id": 101}'
assert_eq "A's dry run: 200" 200 "$CODE"
assert_contains "... the probe ran" "$BODY" '"before"'
assert_contains "... and found nothing of an earlier task" "$BODY" 'nil|0|nil'
assert_match "... and none of its hooks took" '"hooked": ?0[^0-9]' "$BODY"

echo "== tenant B's connection test on the same worker"
as "$TOKEN_B" POST /api/integrations/woocommerce/test
assert_eq "B's test: 200" 200 "$CODE"
assert_jq "B connects with its own credentials" "$BODY" '.ok == true'
check "no hook saw B's consumer secret" bash -c "! grep -qF -- '$WOO_SECRET' '$SERVE_LOG'"
check "no hook saw B's consumer key" bash -c "! grep -qF -- '$WOO_KEY' '$SERVE_LOG'"
check "no hook ran at all" bash -c "! grep -qF 'probe saw an argument' '$SERVE_LOG'"

echo "== tenant A's next dry run finds nothing of its first"
as "$TOKEN_A" POST /api/mappings/isolation_probe/dry-run -H 'Content-Type: application/json' \
    --data-binary '{"id": 102}'
assert_eq "A's second dry run: 200" 200 "$CODE"
assert_contains "the global, the module table and the module's variable are as loaded" "$BODY" \
    'nil|0|nil'

finish
