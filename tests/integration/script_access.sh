#!/usr/bin/env bash
# tests/integration/script_access.sh - what a script may touch through engine.db (issue 12,
# finding 4), end to end with the real binary:
#   - in a sync run (a worker's VM, writes allowed): a mapping that inserts an api_tokens row for
#     another tenant is refused, and the token it tried to mint does not open the API; reading
#     integration_credentials and calling fts3_tokenizer() are refused; the scripts' own tables
#     (orders) stay readable and writable;
#   - in a dry sync run (`sync --dry-run`) and a dry run through the API (a tenant token): no
#     write at all: not to the security tables, not to the scripts' own orders, not to a TEMP
#     table, not through engine.queue; the tables are unchanged afterwards, and the minted token
#     does not work either.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl sha256sum

# A token a script tries to mint for tenant "victim": only its hash would be stored.
MINTED="ts_minted_$RANDOM$RANDOM$RANDOM"
MINTED_HASH=$(printf '%s' "$MINTED" | sha256sum | cut -d' ' -f1)
MINTED_DRY="ts_minted_dry_$RANDOM$RANDOM$RANDOM"
MINTED_DRY_HASH=$(printf '%s' "$MINTED_DRY" | sha256sum | cut -d' ' -f1)

# Scripts of our own (the real lib/ beside two small connectors) and the mappings under test.
mkdir -p "$T/scripts/connectors" "$T/maps"
cp -R "$SCRIPTS_DIR/lib" "$T/scripts/lib"
cat >"$T/scripts/connectors/t_src.lua" <<'EOF'
local M = { name = 't_src', credentials = {} }
function M.read(ctx, entity, opts)
  local done = false
  return function()
    if done then return nil end
    done = true
    return { { id = 1 } }, { total = 1 }
  end
end
return M
EOF
# The target keeps what the mapping found in the id it answers: sync_records.target_id.
cat >"$T/scripts/connectors/t_dst.lua" <<'EOF'
local M = { name = 't_dst', credentials = {} }
function M.create(ctx, entity, doc, rid) return { Id = doc.Found } end
function M.update(ctx, entity, body) return { Id = body.Id } end
return M
EOF
# Each attempt is pcall'd: "ok <value>" or the refusal's text, all in one JSON object.
cat >"$T/scripts/lib/probe_lib.lua" <<'EOF'
local db = require "engine.db"
local json = require "engine.json"
local M = {}
function M.probe(hash, tenant)
  local found = {}
  local function try(key, fn, ...)
    local ok, v = pcall(fn, ...)
    found[key] = ok and ("ok " .. tostring(v)) or tostring(v)
  end
  try("mint", db.exec, "INSERT INTO api_tokens (tenant_id, name, token_hash) VALUES (?, 'minted', ?)",
    tenant, hash)
  -- (no row matches: refused or not, no real token is touched)
  try("revoke", db.exec, "UPDATE api_tokens SET revoked_at = '2000-01-01T00:00:00.000Z' "
    .. "WHERE tenant_id = 'nobody'")
  try("creds", db.value, "SELECT count(*) FROM integration_credentials")
  try("creds_blob", db.value, "SELECT hex(ciphertext) FROM integration_credentials LIMIT 1")
  try("fts", db.value, "SELECT hex(fts3_tokenizer('simple'))")
  try("orders_read", db.value, "SELECT count(*) FROM orders")
  try("orders_write", db.exec,
    "INSERT INTO orders (id, tenant_id, notes) VALUES (?, 'shop-a', 'written by a script')",
    "script-order-" .. require("engine.crypto").hex(require("engine.crypto").random_bytes(8)))
  try("temp", db.exec, "CREATE TEMP TABLE IF NOT EXISTS scratch (x)")
  try("queue", function()
    local q = require "engine.queue"
    local id, msg = q.enqueue({ kind = "run", tenant = "shop-a", entity = "things" })
    if id == nil then error(msg, 0) end
    return id
  end)
  return json.encode(found)
end
return M
EOF
cat >"$T/maps/t_flow.lua" <<EOF
return { name = 't_flow',
  source = { connector = 't_src', entity = 'things' },
  target = { connector = 't_dst', entity = 'Thing' },
  map = function(rec)
    return { Found = require("lib.probe_lib").probe("$MINTED_HASH", "victim") }
  end }
EOF
cat >"$T/maps/dry_probe.lua" <<EOF
return {
  map = function(rec)
    return { found = require("lib.probe_lib").probe("$MINTED_DRY_HASH", "victim-dry") }
  end }
EOF
export SCRIPTS_DIR="$T/scripts" MAPPINGS_DIR="$T/maps"

run_bin "$T/migrate" migrate
assert_eq "migrate exits 0" 0 "$RC"
# A stored credential row, so that a read that got through would have something to read.
sq "INSERT INTO integration_credentials (tenant_id, platform, ciphertext, key_id)
    VALUES ('shop-b', 'woocommerce', x'00112233445566778899', 'k1')"
run_bin "$T/tok-a" token create --tenant shop-a --name probe
TOKEN_A=$(printf '%s' "$OUT" | grep -oE 'ts_[A-Za-z0-9_-]{43}' | head -n 1)
assert_match "a tenant token for shop-a" '^ts_' "$TOKEN_A"

echo "== a sync run: the worker's engine.db"
run_bin "$T/sync" sync things --mode full --flow t_flow --tenant shop-a
assert_eq "the sync run exits 0 (the mapping catches every refusal)" 0 "$RC"
FOUND=$(sq "SELECT target_id FROM sync_records WHERE flow = 't_flow' AND dry_run = 0")
echo "     found: $FOUND"
assert_jq "inserting an api_tokens row for another tenant is refused" "$FOUND" \
    '.mint | test("writing table api_tokens is not allowed")'
assert_jq "updating api_tokens is refused" "$FOUND" \
    '.revoke | test("writing table api_tokens is not allowed")'
assert_jq "reading integration_credentials is refused" "$FOUND" \
    '.creds | test("reading table integration_credentials is not allowed")'
assert_jq "reading a stored ciphertext is refused" "$FOUND" \
    '.creds_blob | test("not allowed")'
assert_jq "fts3_tokenizer() is refused" "$FOUND" '.fts | test("fts3_tokenizer\\(\\) is not allowed")'
assert_jq "the scripts' own orders may be read" "$FOUND" '.orders_read == "ok 0"'
assert_jq "... and written outside a dry run" "$FOUND" '.orders_write | startswith("ok ")'
assert_eq "no api_tokens row for tenant victim" 0 \
    "$(sq "SELECT count(*) FROM api_tokens WHERE tenant_id = 'victim'")"

echo "== a dry sync run (--dry-run): the mapping writes nothing either"
ORDERS_BEFORE=$(sq "SELECT count(*) FROM orders")
run_bin "$T/sync-dry" sync things --mode full --flow t_flow --tenant shop-c --dry-run
assert_eq "the dry sync run exits 0" 0 "$RC"
FOUND_DRY=$(sq "SELECT output FROM sync_records WHERE flow = 't_flow' AND dry_run = 1" | jq -r '.Found')
echo "     found: $FOUND_DRY"
assert_jq "dry sync run: writing the scripts' own orders is refused" "$FOUND_DRY" \
    '.orders_write | test("a dry run writes nothing")'
assert_jq "dry sync run: engine.queue.enqueue is refused" "$FOUND_DRY" '.queue | test("a dry run writes nothing")'
assert_jq "dry sync run: reading the scripts' own orders still works" "$FOUND_DRY" '.orders_read | startswith("ok ")'
assert_eq "dry sync run: orders unchanged" "$ORDERS_BEFORE" "$(sq "SELECT count(*) FROM orders")"

echo "== a dry run through the API: nothing written"
serve_start WORKERS=1 || finish
ORDERS_BEFORE=$(sq "SELECT count(*) FROM orders")
TOKENS_BEFORE=$(sq "SELECT count(*) FROM api_tokens")
QUEUE_BEFORE=$(sq "SELECT count(*) FROM sync_queue")
http POST /api/mappings/dry_probe/dry-run -H "Authorization: Bearer $TOKEN_A" \
    -H 'Content-Type: application/json' --data-binary '{"id": 1}'
assert_eq "the dry run answers 200 (the mapping catches every refusal)" 200 "$CODE"
DRY=$(printf '%s' "$BODY" | jq -r '.found')
echo "     found: $DRY"
assert_jq "dry run: minting a token is refused" "$DRY" '.mint | test("not allowed")'
assert_jq "dry run: reading integration_credentials is refused" "$DRY" \
    '.creds | test("reading table integration_credentials is not allowed")'
assert_jq "dry run: fts3_tokenizer() is refused" "$DRY" '.fts | test("not allowed")'
assert_jq "dry run: reading the scripts' own orders still works" "$DRY" '.orders_read | startswith("ok ")'
assert_jq "dry run: writing even the scripts' own orders is refused" "$DRY" \
    '.orders_write | test("a dry run writes nothing")'
assert_jq "dry run: creating a TEMP table is refused" "$DRY" '.temp | test("a dry run writes nothing")'
assert_jq "dry run: engine.queue.enqueue is refused" "$DRY" '.queue | test("a dry run writes nothing")'
assert_eq "dry run: orders unchanged" "$ORDERS_BEFORE" "$(sq "SELECT count(*) FROM orders")"
assert_eq "dry run: api_tokens unchanged" "$TOKENS_BEFORE" "$(sq "SELECT count(*) FROM api_tokens")"
assert_eq "dry run: sync_queue unchanged" "$QUEUE_BEFORE" "$(sq "SELECT count(*) FROM sync_queue")"

echo "== the tokens the scripts tried to mint do not work"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Bearer $MINTED"
assert_eq "the token the sync run's mapping tried to mint: 401" 401 "$CODE"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Bearer $MINTED_DRY"
assert_eq "the token the dry run's mapping tried to mint: 401" 401 "$CODE"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Bearer $TOKEN_A"
assert_eq "the real tenant token still works: 200" 200 "$CODE"

serve_stop
finish
