#!/usr/bin/env bash
# tools/demo.sh - the newcomer's sandbox (called by `tools/start.sh --demo` after the build):
# starts the WooCommerce and QuickBooks mock servers on loopback, then the engine on its own
# database (./data/demo/demo.db) with a tenant `sandbox` whose stored credentials point at the
# mocks. Requests without a token act as that tenant (API_ANONYMOUS_TENANT, loopback only), so
# the seed's quick-start curl calls work as written and create real invoices in the mock
# QuickBooks. Ctrl-C stops everything. Environment: API_PORT (default 8923; 0 picks a free
# port), DEMO_DIR (default ./data/demo). The mocks read the vendor fixtures in ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TALLYSYNC_BIN:-build/tallysync}
demo_dir=${DEMO_DIR:-data/demo}
fixtures=${MOCK_FIXTURES:-../shared/fixtures/woocommerce}
py=/usr/bin/python3
[[ -x $py ]] || py=python3

die() { echo "demo: $*" >&2; exit 1; }
[[ -x $bin ]] || die "no engine at $bin: run tools/start.sh --demo"
[[ -d $fixtures ]] || die "the WooCommerce fixtures are not at $fixtures (set MOCK_FIXTURES)"
command -v curl >/dev/null || die "curl is missing (tools/setup.sh --test installs it)"
mkdir -p "$demo_dir"
umask 077

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_line FILE PATTERN: until FILE has a line matching PATTERN (30 s), printing it; gives up
# at once when the process started last has exited.
wait_line() {
  for _ in $(seq 300); do
    if grep -m1 -E "$2" "$1" 2>/dev/null; then return 0; fi
    kill -0 "${pids[-1]}" 2>/dev/null || die "$(tail -n 5 "$1" "${1%.*}.err" 2>/dev/null)"
    sleep 0.1
  done
  die "timed out waiting for '$2' in $1: $(tail -n 5 "$1" 2>/dev/null)"
}

# Random demo credentials: the mocks check them for real (OAuth 1.0a, bearer tokens).
rand() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }
woo_key="ck_$(rand)"
woo_secret="cs_$(rand)"
woo_hook_secret="wh_$(rand)"
printf '%s' "$woo_hook_secret" >"$demo_dir/webhook_secret" # for the webhook example below
qbo_client="demo-client"
qbo_secret="demo-secret-$(rand)"
realm=9130357766900456

MOCK_WOO_KEY=$woo_key MOCK_WOO_SECRET=$woo_secret MOCK_FIXTURES=$fixtures \
  $py tests/mocks/woocommerce_mock.py >"$demo_dir/woocommerce.out" 2>"$demo_dir/woocommerce.err" &
pids+=($!)
# the mock's first listener is a plain-HTTP WordPress: the connector signs with OAuth 1.0a, as it
# does for every http:// store (Basic only over https)
woo_port=$(wait_line "$demo_dir/woocommerce.out" '^[0-9]+ [0-9]+$' | cut -d' ' -f1)
# twenty more orders like the fixture order, a month of trading
curl -sf -X POST "http://127.0.0.1:$woo_port/_mock/seed" -H 'Content-Type: application/json' \
  -d '{"entity": "orders", "generate": 20, "start_id": 2001, "start": "2026-11-01T09:00:00",
       "step_s": 86400, "statuses": ["completed", "processing"]}' >/dev/null ||
  die "the WooCommerce mock did not take the demo orders"

$py tests/mocks/quickbooks_mock.py --client-id "$qbo_client" --client-secret "$qbo_secret" \
  --realm-id "$realm" >"$demo_dir/quickbooks.out" 2>"$demo_dir/quickbooks.err" &
pids+=($!)
qbo_port=$(wait_line "$demo_dir/quickbooks.out" '^port=' | cut -d= -f2)
wait_line "$demo_dir/quickbooks.out" '^ready$' >/dev/null
qbo="http://127.0.0.1:$qbo_port"
tokens=$(curl -sf -X POST "$qbo/_mock/tokens" -H 'Content-Type: application/json' \
  -d '{"expires_in": 3600}') || die "the QuickBooks mock did not mint tokens"
# the company's shipping item (a real company makes one, or turns on shipping in its settings)
shipping=$(curl -sf -X POST "$qbo/_mock/seed" -H 'Content-Type: application/json' \
  -d '{"Item": [{"Name": "Shipping", "Type": "Service", "IncomeAccountRef": {"value": "79"}}]}' |
  sed -E 's/.*"Item": *\["([^"]+)".*/\1/') || die "the QuickBooks mock did not take the shipping item"

export DATABASE_URL="sqlite:$demo_dir/demo.db"
export API_ANONYMOUS_TENANT=sandbox API_HOST=127.0.0.1 API_PORT=${API_PORT:-8923}
export QUICKBOOKS_API_BASE=$qbo QUICKBOOKS_TOKEN_URL="$qbo/oauth2/v1/tokens/bearer"
"$bin" serve 2>"$demo_dir/engine.log" &
pids+=($!)
port=$(wait_line "$demo_dir/engine.log" '"msg":"listening"' | sed -E 's/.*"port":"?([0-9]+).*/\1/')
api="http://127.0.0.1:$port"

# post PATH JSON: POST as the sandbox tenant; dies with the engine's answer when it is not 2xx.
post() {
  out=$(curl -s -w '\n%{http_code}' -X POST "$api$1" -H 'Content-Type: application/json' \
    -d "$2") || true
  [[ ${out##*$'\n'} == 2* ]] || die "POST $1 answered ${out##*$'\n'}: ${out%$'\n'*}"
}
post /api/integrations/woocommerce/credentials \
  "{\"store_url\": \"http://127.0.0.1:$woo_port\", \"consumer_key\": \"$woo_key\",
    \"consumer_secret\": \"$woo_secret\", \"webhook_secret\": \"$woo_hook_secret\"}"
access=$(printf '%s' "$tokens" | sed -E 's/.*"access_token": *"([^"]+)".*/\1/')
refresh=$(printf '%s' "$tokens" | sed -E 's/.*"refresh_token": *"([^"]+)".*/\1/')
post /api/integrations/quickbooks/credentials \
  "{\"client_id\": \"$qbo_client\", \"client_secret\": \"$qbo_secret\", \"realm_id\": \"$realm\",
    \"access_token\": \"$access\", \"refresh_token\": \"$refresh\", \"environment\": \"sandbox\"}"
out=$(curl -s -w '\n%{http_code}' -X PUT "$api/api/settings/transformer_config" \
  -H 'Content-Type: application/json' -d "{\"shipping_item_id\": \"$shipping\"}") || true
[[ ${out##*$'\n'} == 2* ]] || die "PUT transformer_config answered: ${out%$'\n'*}"
for p in woocommerce quickbooks; do
  post "/api/integrations/$p/test" '{}'
  [[ $out == *'"ok":true'* ]] || die "the $p connection test failed: ${out%$'\n'*}"
done

cat <<EOF
demo: tallysync is serving $api as tenant 'sandbox' (no token needed; loopback only)
demo: mock WooCommerce store  http://127.0.0.1:$woo_port/wp-json/wc/v3  (the fixture orders + 20 generated)
demo: mock QuickBooks company $qbo/v3/company/$realm  (see $qbo/_mock/state)
demo: logs and database in $demo_dir/. Try the seed's quick start:

  curl -X POST $api/api/sync/orders -H "Content-Type: application/json" \\
    -d '{"mode": "full", "dryRun": false}'
  curl $api/api/sync/status
  curl $api/api/sync/history
  curl -s $qbo/_mock/state | jq '.counts'      # the invoices the run created

  # a signed WooCommerce delivery (the mock store signs it like WooCommerce) -> one record's sync
  curl -X POST http://127.0.0.1:$woo_port/_mock/webhook -H "Content-Type: application/json" \
    -d '{"url": "$api/api/webhooks/woocommerce?tenant=sandbox", "topic": "order.updated",
         "id": 2001, "secret": "'"\$(cat $demo_dir/webhook_secret)"'"}'
  curl $api/api/webhooks/events

demo: Ctrl-C stops the engine and the mocks.
EOF
wait "${pids[2]}"
