#!/usr/bin/env bash
# tests/integration/security_routes.sh - the security regression suite, generated from the
# OpenAPI document the running engine serves (GET /api/openapi.json), so that a route added to
# the document is covered without a new test (issue 12, Suites). For every /api route and
# method: no token and a wrong token are 401, a route documented without authentication must be
# on the short public list below; another tenant's token on that tenant's resources is 403/404
# and never answers with its data; SQL injection strings in every path, query and header
# parameter and every string body field never give a 5xx or an SQL error, and the database
# stays intact (a canary row survives, integrity_check ok); path traversal in every path
# parameter (mapping names included) is refused; oversized and deeply nested JSON bodies get a
# clean 4xx with the engine alive; the canary secrets stored as credentials never appear, in
# plain text or base64, in the log, any answer, the database file or its -wal/-shm.
# The checks themselves are in lib/security_routes.py; this file seeds two tenants with real data
# (a real run through the WooCommerce and QuickBooks mocks, a schedule, a webhook event,
# settings) and hands the identifiers over.
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
source "$ENG_SOURCE_DIR/tests/integration/lib/sync_env.sh"
require_tools jq curl python3 sqlite3

CLIENT="$ENG_SOURCE_DIR/tests/mocks/webhook_client.py"
ANSWERS="$T/answers.txt" # every answer body this file receives (the helper adds its own)
: >"$ANSWERS"
canary() { printf 'CANARY%s%s' "$1" "$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"; }

# The canary secrets: every secret field of every connector, for both tenants.
A_WOO_KEY="ck_$(canary wk)"
A_WOO_SECRET="cs_$(canary ws)"
A_WOO_HOOK=$(canary wh)
B_WOO_KEY="ck_$(canary bk)"
B_WOO_SECRET="cs_$(canary bs)"
B_WOO_HOOK=$(canary bh)
QBO_CLIENT_SECRET=$(canary qs)
A_SUPA_KEY=$(canary sk)
# Tenant A's identifiers: they must never reach tenant B's answers.
A_TAG="atag$(rnd)"
A_REALM="91303577$((RANDOM % 9000 + 1000))$((RANDOM % 9000 + 1000))"
A_DELIVERY="adelivery-$(rnd)"

# The mocks, with the canaries as the keys they accept (so connection tests and the run send the
# real secrets over the wire, as in production).
env MOCK_WOO_KEY="$A_WOO_KEY" MOCK_WOO_SECRET="$A_WOO_SECRET" MOCK_FIXTURES="$FIXTURES_DIR/woocommerce" \
    python3 "$ENG_SOURCE_DIR/tests/mocks/woocommerce_mock.py" >"$T/woo.out" 2>"$T/woo.err" &
bg_track $!
wait_for 10000 test -s "$T/woo.out" || { fail "the WooCommerce mock starts" "$(cat "$T/woo.err")"; finish; }
read -r WOO_PLAIN WOO_TLS <"$T/woo.out"
# shellcheck disable=SC2034 # read by sync_env.sh's seed_orders and woo_total
WOO="http://127.0.0.1:$WOO_TLS" WOO_KEY=$A_WOO_KEY WOO_SECRET=$A_WOO_SECRET
python3 "$ENG_SOURCE_DIR/tests/mocks/quickbooks_mock.py" --per-minute 1000000 --concurrent 50 \
    --allow-shipping --client-secret "$QBO_CLIENT_SECRET" --realm-id "$A_REALM" \
    >"$T/qbo.out" 2>"$T/qbo.err" &
bg_track $!
qbo_ready() { grep -q '^ready$' "$T/qbo.out"; }
wait_for 10000 qbo_ready || { fail "the QuickBooks mock starts" "$(cat "$T/qbo.err")"; finish; }
QBO="http://127.0.0.1:$(sed -n 's/^port=//p' "$T/qbo.out")"
export QUICKBOOKS_API_BASE="$QBO" QUICKBOOKS_TOKEN_URL="$QBO/oauth2/v1/tokens/bearer"
TOK=$(curl -s -X POST "$QBO/_mock/tokens" -d '{"expires_in": 3600}')
QBO_ACCESS=$(jq -r .access_token <<<"$TOK")
QBO_REFRESH=$(jq -r .refresh_token <<<"$TOK")

run_bin "$T/tok-a" token create --tenant shop-a --name a
TOKEN_A=$(head -n 1 <<<"$OUT")
run_bin "$T/tok-b" token create --tenant shop-b --name b
TOKEN_B=$(head -n 1 <<<"$OUT")
[[ -n "$TOKEN_A" && -n "$TOKEN_B" ]] || { fail "tenant tokens are created" "$ERR"; finish; }

# The engine works on copies of scripts/ and mappings/: the generated requests include every
# write route the document lists, as the administrator, and must never reach the source tree.
copy_script_dirs
serve_start WORKERS=2 LOG_LEVEL=debug MAX_BODY_BYTES=65536 || finish
# http as tenant A / B (their own tokens), keeping every answer body
as_a() { HTTP_AUTH=0 http "$@" -H "Authorization: Bearer $TOKEN_A"; printf '%s\n' "$BODY" >>"$ANSWERS"; }
as_b() { HTTP_AUTH=0 http "$@" -H "Authorization: Bearer $TOKEN_B"; printf '%s\n' "$BODY" >>"$ANSWERS"; }
JSON=(-H 'Content-Type: application/json')

echo "== seed: tenant A (credentials, a real run, a schedule, a webhook event, settings)"
as_a POST /api/integrations/woocommerce/credentials "${JSON[@]}" --data-binary "$(jq -nc \
    --arg u "http://127.0.0.1:$WOO_PLAIN" --arg k "$A_WOO_KEY" --arg s "$A_WOO_SECRET" --arg h "$A_WOO_HOOK" \
    '{store_url: $u, consumer_key: $k, consumer_secret: $s, webhook_secret: $h}')"
assert_eq "A stores WooCommerce credentials" 201 "$CODE"
as_a POST /api/integrations/quickbooks/credentials "${JSON[@]}" --data-binary "$(jq -nc \
    --arg s "$QBO_CLIENT_SECRET" --arg r "$A_REALM" --arg a "$QBO_ACCESS" --arg f "$QBO_REFRESH" \
    '{client_id: "mock-client", client_secret: $s, realm_id: $r, access_token: $a, refresh_token: $f}')"
assert_eq "A stores QuickBooks credentials" 201 "$CODE"
as_a POST /api/integrations/supabase/credentials "${JSON[@]}" --data-binary "$(jq -nc \
    --arg u "http://127.0.0.1:$WOO_PLAIN" --arg k "$A_SUPA_KEY" '{url: $u, service_role_key: $k}')"
assert_eq "A stores Supabase credentials" 201 "$CODE"
as_a PUT /api/settings/transformer_config "${JSON[@]}" --data-binary "$(jq -nc --arg t "$A_TAG" \
    '{shipping_item_id: "SHIPPING_ITEM_ID", income_account_id: "79", tax_code_mappings: {($t): "TAX"}}')"
assert_eq "A stores its transformer settings" 200 "$CODE"
as_a POST /api/integrations/woocommerce/test
as_a POST /api/integrations/quickbooks/test
assert_eq "A's QuickBooks connection test reaches the mock" 200 "$CODE"
seed_orders 7345001 3 2 2 2026-01-01T00:00:00 "$A_TAG"
as_a POST /api/sync/orders "${JSON[@]}" --data-binary '{"mode": "full"}'
assert_eq "A starts a run" 202 "$CODE"
SYNC_ID=$(jq -r '.syncId // empty' <<<"$BODY")
A_RUN=$SYNC_ID
_a_over() {
    as_a GET "/api/sync/status/$A_RUN"
    [[ "$(jq -r '.state // empty' <<<"$BODY")" =~ ^(succeeded|partial|failed|cancelled)$ ]]
}
wait_for 120000 _a_over
assert_jq "A's run is over and wrote its orders" "$BODY" '.state == "succeeded" or .state == "partial"'
as_a POST /api/sync/schedules "${JSON[@]}" --data-binary '{"entity": "orders", "intervalSeconds": 86400, "enabled": false}'
assert_eq "A creates a schedule" 201 "$CODE"
A_SCHED=$(jq -r '.id // empty' <<<"$BODY")
body=$(jq -nc --arg t "$A_TAG" '{id: 7345999, status: "processing", total: "1.00", billing: {address_1: $t}}')
HTTP_AUTH=0 http POST "/api/webhooks/woocommerce?tenant=shop-a" "${JSON[@]}" \
    -H "X-WC-Webhook-Source: http://127.0.0.1:$WOO_PLAIN/" -H 'X-WC-Webhook-Topic: order.updated' \
    -H 'X-WC-Webhook-Resource: order' -H 'X-WC-Webhook-Event: updated' -H 'X-WC-Webhook-ID: 1' \
    -H "X-WC-Webhook-Delivery-ID: $A_DELIVERY" \
    -H "X-WC-Webhook-Signature: $(printf '%s' "$body" | python3 "$CLIENT" sign "$A_WOO_HOOK")" \
    --data-binary "$body"
assert_eq "A's signed webhook delivery is accepted" 200 "$CODE"
A_EVENT=$(sq "SELECT id FROM webhook_events WHERE tenant_id = 'shop-a' ORDER BY id DESC LIMIT 1")
[[ -n "$A_RUN" && -n "$A_SCHED" && -n "$A_EVENT" ]] || { fail "tenant A's run, schedule and event exist"; finish; }

# The leak checks look for these identifiers: tenant A's own answers must show them, or a
# check that B never sees them could not fail.
as_a GET "/api/sync/status/$A_RUN/records"
assert_contains "A's run records name its order 7345001" "$BODY" "7345001"
as_a GET /api/webhooks/events
assert_contains "A's webhook events show its delivery id" "$BODY" "$A_DELIVERY"
as_a GET /api/sync/history
assert_contains "A's history shows its run" "$BODY" "$A_RUN"
as_a GET /api/integrations/quickbooks/status
assert_contains "A's QuickBooks status names its realm" "$BODY" "$A_REALM"

echo "== seed: tenant B (its own credentials and schedule) and the canary row"
as_b POST /api/integrations/woocommerce/credentials "${JSON[@]}" --data-binary "$(jq -nc \
    --arg u "http://localhost:$WOO_PLAIN" --arg k "$B_WOO_KEY" --arg s "$B_WOO_SECRET" --arg h "$B_WOO_HOOK" \
    '{store_url: $u, consumer_key: $k, consumer_secret: $s, webhook_secret: $h}')"
assert_eq "B stores WooCommerce credentials" 201 "$CODE"
as_b POST /api/integrations/woocommerce/test
assert_jq "B's connection test (wrong keys at the mock) fails cleanly" "$BODY" '.ok == false or .error != null'
as_b POST /api/sync/schedules "${JSON[@]}" --data-binary '{"entity": "orders", "intervalSeconds": 86400, "enabled": false}'
assert_eq "B creates a schedule" 201 "$CODE"
CANARY_TENANT="canary-$(rnd)"
sq "INSERT INTO tenants (id, name) VALUES ('$CANARY_TENANT', 'the canary row')"

# Error answers that name a secret field: wrong types, a bad URL, an unknown platform.
as_b POST /api/integrations/woocommerce/credentials "${JSON[@]}" --data-binary "$(jq -nc \
    --arg k "$B_WOO_KEY" --arg s "$B_WOO_SECRET" '{store_url: "not a url", consumer_key: $k, consumer_secret: $s}')"
assert_eq "a bad store_url next to canary secrets: 4xx" 4 "${CODE:0:1}"
as_b POST /api/integrations/quickbooks/credentials "${JSON[@]}" --data-binary "$(jq -nc \
    --arg s "$QBO_CLIENT_SECRET" '{client_id: 7, client_secret: $s, realm_id: "x y"}')"
assert_eq "malformed QuickBooks credentials with a canary secret: 4xx" 4 "${CODE:0:1}"
as_b POST /api/integrations/supabase/credentials "${JSON[@]}" --data-binary "$(jq -nc \
    --arg k "$A_SUPA_KEY" '{url: "ftp://x", service_role_key: $k, extra: $k}')"
assert_eq "Supabase credentials with an unknown field holding a canary: 4xx" 4 "${CODE:0:1}"
as_b POST /api/mappings/woo_order_to_qbo_invoice/dry-run "${JSON[@]}" --data-binary "$(jq -nc \
    --arg s "$A_WOO_SECRET" '{id: 1, billing: {first_name: $s}, line_items: "no"}')"
as_a POST /api/integrations/woocommerce/webhooks/check
as_a GET /api/integrations
as_a GET /api/integrations/quickbooks/status

cat >"$T/security.json" <<EOF
$(jq -n --arg base "$BASE" --arg admin "$API_TOKEN" --arg ta "$TOKEN_A" --arg tb "$TOKEN_B" \
    --arg run "$A_RUN" --arg sched "$A_SCHED" --arg event "$A_EVENT" --arg db "$T/pos.db" \
    --arg log "$SERVE_LOG" --arg out "$T/serve.$SERVE_N.out" --arg answers "$ANSWERS" \
    --arg canary_tenant "$CANARY_TENANT" \
    --argjson a_ids "$(jq -nc --arg t "$A_TAG" --arg r "$A_REALM" --arg d "$A_DELIVERY" --arg run "$A_RUN" \
        '[$t, $r, $d, $run, "7345001", "7345002", "7345003", "7345999"]')" \
    --argjson secrets "$(jq -nc '$ARGS.positional' --args "$A_WOO_KEY" "$A_WOO_SECRET" "$A_WOO_HOOK" \
        "$B_WOO_KEY" "$B_WOO_SECRET" "$B_WOO_HOOK" "$QBO_CLIENT_SECRET" "$A_SUPA_KEY" "$QBO_ACCESS" "$QBO_REFRESH")" \
    '{base: $base, admin: $admin, token_a: $ta, token_b: $tb, tenant_a: "shop-a", tenant_b: "shop-b",
      a_run: $run, a_schedule: $sched, a_event: $event, a_ids: $a_ids, secrets: $secrets,
      db: $db, logs: [$log, $out], answers: $answers, canary_tenant: $canary_tenant,
      public: ["GET /health", "GET /ready", "GET /metrics", "GET /api/openapi.json",
               "GET /api/integrations/quickbooks/callback", "POST /api/webhooks/woocommerce",
               "POST /api/webhooks/quickbooks", "POST /api/webhooks/quickbooks/cloudevents",
               "POST /api/session"]}')
EOF

python3 "$ENG_SOURCE_DIR/tests/integration/lib/security_routes.py" "$T/security.json" routes >"$T/py.out" 2>"$T/py.err"
cat "$T/py.out"
[[ -s "$T/py.err" ]] && fail "the route checks ran without a Python error" "$(cat "$T/py.err")"

echo "== after everything: the engine is alive, tenant A's data intact"
HTTP_AUTH=0 http GET /health
assert_eq "the engine still answers /health" 200 "$CODE"
check "the engine process is alive" pid_alive "$SERVE_PID"
assert_eq "A's run is still there, unchanged" "1" "$(sq "SELECT COUNT(*) FROM sync_runs WHERE id = '$A_RUN' AND tenant_id = 'shop-a' AND state IN ('succeeded', 'partial')")"
assert_eq "A's schedule is still there" "1" "$(sq "SELECT COUNT(*) FROM schedules WHERE id = $A_SCHED AND tenant_id = 'shop-a'")"
assert_eq "A's three credentials are still active" "3" "$(sq "SELECT COUNT(*) FROM integration_credentials WHERE tenant_id = 'shop-a' AND is_active = 1")"
assert_eq "A's webhook event was replayed by nobody" "1" "$(sq "SELECT COUNT(*) FROM webhook_events WHERE tenant_id = 'shop-a'")"
assert_eq "the canary row survives" "1" "$(sq "SELECT COUNT(*) FROM tenants WHERE id = '$CANARY_TENANT'")"
assert_eq "only the two tenant tokens exist" "2" "$(sq "SELECT COUNT(*) FROM api_tokens")"
as_a GET /api/settings/transformer_config
assert_contains "A's settings are A's own still" "$BODY" "$A_TAG"
mkdir -p "$T/snap" && cp "$T"/pos.db* "$T/snap/" # the WAL as it is while the engine runs
serve_stop
assert_eq "SIGTERM stops the engine cleanly" 0 "$STOP_RC"
# SQLite's own check of its file (a SQLite-only line: the sqlite3 command reads the file as
# SQLite itself, not through the engine's store)
assert_eq "PRAGMA integrity_check" ok "$(sqlite3 -cmd '.timeout 20000' "$T/pos.db" 'PRAGMA integrity_check')"

echo "== secrets: the log, every answer, the database and its WAL"
python3 "$ENG_SOURCE_DIR/tests/integration/lib/security_routes.py" "$T/security.json" secrets >"$T/py2.out" 2>"$T/py2.err"
cat "$T/py2.out"
[[ -s "$T/py2.err" ]] && fail "the secret scan ran without a Python error" "$(cat "$T/py2.err")"

# fold the helper's counts into ours
while read -r _ p f; do
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
done < <(grep -h '^#counts ' "$T/py.out" "$T/py2.out")
finish
