#!/usr/bin/env bash
# tools/demo.sh - the newcomer's sandbox (called by `tools/start.sh --demo` after the build):
# starts mock WooCommerce, QuickBooks and Supabase servers on loopback, then the engine on its own
# database (DEMO_DIR/demo.db) with a tenant `sandbox` whose stored credentials point at the
# mocks. Every start is fresh: the mocks keep nothing, so the database is made anew with them.
# One demo per DEMO_DIR: a second start while one runs is refused (flock on DEMO_DIR/.lock)
# before it touches anything. Where secrets go (the QuickBooks hosts, the public webhook URL) is
# stored as operator settings in the demo database, so `tallysync sync` on it reaches the mocks
# too. Requests without a token act as the sandbox tenant (API_ANONYMOUS_TENANT, loopback only),
# so the seed's quick-start curl calls work as written. The first line printed once the engine
# is up is the console's address; then a first orders run fills the console (runs, invoices in
# the mock QuickBooks, one order that fails the way a mapping fix resolves) before the banner.
# Ctrl-C stops everything.
# Environment: API_PORT (default 8923; 0 picks a free port), DEMO_DIR (default ./data/demo).
# The mocks read the vendor fixtures in tests/fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${TALLYSYNC_BIN:-build/tallysync}
demo_dir=${DEMO_DIR:-data/demo}
fixtures=${MOCK_FIXTURES:-tests/fixtures/woocommerce}
py=/usr/bin/python3
[[ -x $py ]] || py=python3

die() {
  echo "demo: $*" >&2
  exit 1
}
[[ $# -eq 0 ]] || die "tools/demo.sh takes no arguments (see the comment at its top)"
[[ -x $bin ]] || die "no engine at $bin: run tools/start.sh --demo"
[[ -d $fixtures ]] || die "the WooCommerce fixtures are not at $fixtures (set MOCK_FIXTURES)"
command -v curl >/dev/null || die "curl is missing (tools/setup.sh --test installs it)"
command -v flock >/dev/null || die "flock is missing (util-linux)"
umask 077
mkdir -p "$demo_dir"
demo_dir=$(cd "$demo_dir" && pwd) # absolute: the banner's commands work from any folder
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

# One demo per folder: take the lock before touching anything. The file keeps the holder's pid
# (opened without truncating, so a refused start does not erase it).
exec 9<>"$demo_dir/.lock"
if ! flock -n 9; then
  holder=$(head -c 32 "$demo_dir/.lock" | tr -cd '0-9')
  die "another demo is running on $demo_dir (pid ${holder:-unknown} holds $demo_dir/.lock); stop it (Ctrl-C in its terminal) first. Nothing was changed."
fi
printf '%s\n' "$$" >"$demo_dir/.lock"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Fresh: the mocks start empty, so the database that remembers what they held goes too.
rm -f "$demo_dir"/demo.db "$demo_dir"/demo.db-wal "$demo_dir"/demo.db-shm \
  "$demo_dir"/webhook_secret "$demo_dir"/*.out "$demo_dir"/*.err "$demo_dir"/engine.log

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
# ok_or_die WHAT: after `out=$(curl -s -w '\n%{http_code}' ...)`, die unless it was 2xx.
ok_or_die() { [[ ${out##*$'\n'} == 2* ]] || die "$1 answered ${out##*$'\n'}: ${out%$'\n'*}"; }

# Random demo credentials: the mocks check them for real (OAuth 1.0a, bearer tokens, apikey).
rand() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }
woo_key="ck_$(rand)"
woo_secret="cs_$(rand)"
woo_hook_secret="wh_$(rand)"
printf '%s' "$woo_hook_secret" >"$demo_dir/webhook_secret" # for the webhook example below
qbo_client="demo-client"
qbo_secret="demo-secret-$(rand)"
realm=9130357766900456
supa_key="sb_secret_$(rand)"

# The children must not hold the lock (fd 9) once this script is gone.
MOCK_WOO_KEY=$woo_key MOCK_WOO_SECRET=$woo_secret MOCK_FIXTURES=$fixtures \
  $py tests/mocks/woocommerce_mock.py >"$demo_dir/woocommerce.out" 2>"$demo_dir/woocommerce.err" 9>&- &
pids+=($!)
# the mock's first listener is a plain-HTTP WordPress: the connector signs with OAuth 1.0a, as it
# does for every http:// store (Basic only over https)
woo_port=$(wait_line "$demo_dir/woocommerce.out" '^[0-9]+ [0-9]+$' | cut -d' ' -f1)
woo="http://127.0.0.1:$woo_port"
# twenty more orders like the fixture order, a month of trading
out=$(curl -s -w '\n%{http_code}' -X POST "$woo/_mock/seed" -H 'Content-Type: application/json' \
  -d '{"entity": "orders", "generate": 20, "start_id": 2001, "start": "2026-11-01T09:00:00",
       "step_s": 86400, "statuses": ["completed", "processing"]}') || true
ok_or_die "the WooCommerce mock's seed"
# a refund on a paid order (a RefundReceipt); fixture order 723, unpaid, has two (CreditMemos)
out=$(curl -s -w '\n%{http_code}' -X POST "$woo/_mock/seed" -H 'Content-Type: application/json' \
  -d '{"entity": "refunds", "order_id": 2005, "records": [{"id": 2105, "amount": "5.00",
       "reason": "Damaged in transit", "date_created": "2026-11-06T10:00:00",
       "date_created_gmt": "2026-11-06T10:00:00", "refunded_payment": true, "line_items": []}]}') || true
ok_or_die "the WooCommerce mock's refund seed"

$py tests/mocks/quickbooks_mock.py --client-id "$qbo_client" --client-secret "$qbo_secret" \
  --realm-id "$realm" >"$demo_dir/quickbooks.out" 2>"$demo_dir/quickbooks.err" 9>&- &
pids+=($!)
qbo_port=$(wait_line "$demo_dir/quickbooks.out" '^port=' | cut -d= -f2)
wait_line "$demo_dir/quickbooks.out" '^ready$' >/dev/null
qbo="http://127.0.0.1:$qbo_port"
tokens=$(curl -sf -X POST "$qbo/_mock/tokens" -H 'Content-Type: application/json' \
  -d '{"expires_in": 3600}') || die "the QuickBooks mock did not mint tokens"

# Supabase: a PostgREST stand-in holding the tables of mappings/supabase/woo.sql.
MOCK_SUPABASE_KEY=$supa_key $py tests/mocks/postgrest_mock.py --tables-sql mappings/supabase/woo.sql \
  >"$demo_dir/supabase.out" 2>"$demo_dir/supabase.err" 9>&- &
pids+=($!)
supa="http://127.0.0.1:$(wait_line "$demo_dir/supabase.out" '^[0-9]+$')"

# The engine's address is needed before it starts (the public webhook URL is stored with it).
port=${API_PORT:-8923}
if [[ $port == 0 ]]; then
  port=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
api="http://127.0.0.1:$port"
export DATABASE_URL="sqlite:$demo_dir/demo.db"
# Where the sandbox's secrets go is the operator's choice, kept in its database.
unset QUICKBOOKS_API_BASE QUICKBOOKS_TOKEN_URL QUICKBOOKS_AUTH_URL OAUTH_REDIRECT_URI WEBHOOK_PUBLIC_URL
for kv in "QUICKBOOKS_API_BASE=$qbo" "QUICKBOOKS_TOKEN_URL=$qbo/oauth2/v1/tokens/bearer" \
  "QUICKBOOKS_AUTH_URL=$qbo/connect/oauth2" "WEBHOOK_PUBLIC_URL=$api" \
  "OAUTH_REDIRECT_URI=$api/api/integrations/quickbooks/callback"; do
  "$bin" operator set "${kv%%=*}" "${kv#*=}" >/dev/null 9>&- || die "cannot store ${kv%%=*}"
done

export API_ANONYMOUS_TENANT=sandbox API_HOST=127.0.0.1 API_PORT=$port
# The mock shops listen on loopback, which outbound requests refuse unless the operator allows it.
export ALLOW_PRIVATE_TARGETS=127.0.0.1
"$bin" serve 2>"$demo_dir/engine.log" 9>&- &
pids+=($!)
wait_line "$demo_dir/engine.log" '"msg":"listening"' >/dev/null
# the first thing said once the engine is up: where the console is
echo "demo: console $api/  (the web console, as tenant 'sandbox'; it fills in as the sandbox is set up)"

# call METHOD PATH [JSON]: as the sandbox tenant; dies with the engine's answer unless 2xx.
call() {
  out=$(curl -s -w '\n%{http_code}' -X "$1" "$api$2" -H 'Content-Type: application/json' \
    ${3:+-d "$3"}) || true
  ok_or_die "$1 $2"
}
call POST /api/integrations/woocommerce/credentials \
  "{\"store_url\": \"$woo\", \"consumer_key\": \"$woo_key\",
    \"consumer_secret\": \"$woo_secret\", \"webhook_secret\": \"$woo_hook_secret\"}"
access=$(printf '%s' "$tokens" | sed -E 's/.*"access_token": *"([^"]+)".*/\1/')
refresh=$(printf '%s' "$tokens" | sed -E 's/.*"refresh_token": *"([^"]+)".*/\1/')
call POST /api/integrations/quickbooks/credentials \
  "{\"client_id\": \"$qbo_client\", \"client_secret\": \"$qbo_secret\", \"realm_id\": \"$realm\",
    \"access_token\": \"$access\", \"refresh_token\": \"$refresh\", \"environment\": \"sandbox\"}"
call POST /api/integrations/supabase/credentials \
  "{\"url\": \"$supa\", \"service_role_key\": \"$supa_key\"}"
for p in woocommerce quickbooks supabase; do
  call POST "/api/integrations/$p/test" '{}'
  [[ $out == *'"ok":true'* ]] || die "the $p connection test failed: ${out%$'\n'*}"
done
# the store delivers order, customer and product changes to this engine
call POST /api/integrations/woocommerce/webhooks/register '{}'

# Something to look at in the console: a first run of the orders into QuickBooks, in which one
# order fails the way a mapping fix resolves. Order 2021 is like the others, but a plugin wrote
# its first line's total with a third decimal, which the invoice mapping refuses (amounts are
# exact); rounding it in the mapping (or at the store) lets it through on a retry.
out=$(curl -s -w '\n%{http_code}' "$woo/_mock/record/orders/2001") || true
ok_or_die "the WooCommerce mock's order 2001"
bad=$(printf '%s' "${out%$'\n'*}" | $py -c '
import json, sys
o = json.load(sys.stdin)
o["id"], o["number"] = 2021, "2021"
for k in ("date_created", "date_created_gmt", "date_modified", "date_modified_gmt"):
    if o.get(k):
        o[k] = "2026-11-21" + o[k][10:]
li = o["line_items"][0]
li["total"] = li["total"] + "1"  # "12.00" -> "12.001"
print(json.dumps({"entity": "orders", "records": [o]}))') || die "cannot build the failing order"
out=$(curl -s -w '\n%{http_code}' -X POST "$woo/_mock/seed" -H 'Content-Type: application/json' \
  -d "$bad") || true
ok_or_die "the WooCommerce mock's seed of order 2021"
call POST /api/sync/orders '{"mode": "full"}'
first_run=$(printf '%s' "${out%$'\n'*}" | sed -E 's/.*"syncId":"([^"]+)".*/\1/')
for _ in $(seq 1200); do
  call GET "/api/sync/status/$first_run"
  [[ $out =~ \"state\":\"(succeeded|partial|failed|cancelled)\" ]] && break
  sleep 0.1
done
[[ ${BASH_REMATCH[1]:-} == partial ]] || die "the first orders run did not end as expected: ${out%$'\n'*}"
created=$(printf '%s' "$out" | sed -nE 's/.*"counts":\{[^}]*"created":([0-9]+).*/\1/p')

cat <<EOF
demo: tallysync is serving $api as tenant 'sandbox' (no token needed; loopback only)
demo: a fresh sandbox: the mocks and the database start empty on every start
demo: a first orders run is done: $created invoices in the mock QuickBooks, and order 2021 failed (its
demo: line total has a third decimal): see the console's Overview, Runs and Failures pages
demo: mock WooCommerce store  $woo/wp-json/wc/v3  (the fixture orders + 21 generated, 3 refunds)
demo: mock QuickBooks company $qbo/v3/company/$realm  (see $qbo/_mock/state)
demo: mock Supabase (PostgREST) $supa/rest/v1  (see $supa/_mock/rows?table=orders)
demo: logs and database in $demo_dir/. Try the seed's quick start:

  curl -X POST $api/api/sync/orders -H "Content-Type: application/json" \\
    -d '{"mode": "full", "dryRun": false}'
  curl $api/api/sync/status
  curl $api/api/sync/history
  curl -s $qbo/_mock/state | jq '.counts'      # the invoices the run created

  # the refunds: of paid orders as RefundReceipts (the default flow), of unpaid ones as CreditMemos
  curl -X POST $api/api/sync/refunds -H "Content-Type: application/json" -d '{"mode": "full"}'
  curl -X POST $api/api/sync/refunds -H "Content-Type: application/json" \\
    -d '{"mode": "full", "flow": "woo_refund_to_qbo_credit_memo"}'

  # the same orders into Supabase
  curl -X POST $api/api/sync/orders -H "Content-Type: application/json" \\
    -d '{"mode": "full", "flow": "woo_order_to_supabase_order"}'
  curl -s "$supa/_mock/rows?table=orders" | jq length

  # a signed WooCommerce delivery (the mock store signs it like WooCommerce) -> one record's sync
  curl -X POST $woo/_mock/webhook -H "Content-Type: application/json" \\
    -d '{"url": "$api/api/webhooks/woocommerce?tenant=sandbox", "topic": "order.updated",
         "id": 2001, "secret": "'"\$(cat $demo_dir/webhook_secret)"'"}'
  curl $api/api/webhooks/events

  # the command line on the same database (its settings point at these mocks too)
  cd $root && DATABASE_URL=sqlite:$demo_dir/demo.db $bin sync orders --mode full --tenant sandbox

demo: Ctrl-C stops the engine and the mocks.
EOF
wait "${pids[3]}"
