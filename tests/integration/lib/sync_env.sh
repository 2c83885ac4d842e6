# shellcheck shell=bash disable=SC2034  # sourced: the globals it sets are read by the tests
# tests/integration/lib/sync_env.sh - shared set-up of the sync tests (sourced after common.sh):
# the WooCommerce and QuickBooks mocks, credentials stored through the API, and helpers to seed
# orders and wait for runs. The flows are the real mappings of mappings/.
# Must not: touch anything outside $T.

# The helpers below read and write the engine's store with common.sh's sq (lib/store.sh).

rnd() { head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9'; }

sync_mappings() {
    : # the real mappings (mappings/, with requires, match and total) are what the tests run
}

# Start both mocks; sets WOO (control base), WOO_STORE (the store URL the connector uses), QBO.
sync_mocks() {
    WOO_KEY="ck_$(rnd)"
    WOO_SECRET="cs_$(rnd)"
    env MOCK_WOO_KEY="$WOO_KEY" MOCK_WOO_SECRET="$WOO_SECRET" \
        MOCK_FIXTURES="$FIXTURES_DIR/woocommerce" \
        python3 "$ENG_SOURCE_DIR/tests/mocks/woocommerce_mock.py" >"$T/woo.out" 2>"$T/woo.err" &
    bg_track $!
    wait_for 10000 test -s "$T/woo.out" || { fail "the WooCommerce mock starts" "$(cat "$T/woo.err")"; finish; }
    local plain tls
    read -r plain tls <"$T/woo.out"
    # The connector talks to the plain listener, as to any http store: OAuth 1.0a. The second
    # listener (plain HTTP on the wire, but WordPress behind a TLS proxy: Basic honoured) serves
    # the tests' own control calls and curl -u reads.
    WOO="http://127.0.0.1:$tls"
    WOO_STORE="http://127.0.0.1:$plain"
    # the settings below name SHIPPING_ITEM_ID, which QuickBooks takes only with AllowShipping
    python3 "$ENG_SOURCE_DIR/tests/mocks/quickbooks_mock.py" --per-minute 1000000 --concurrent 50 \
        --allow-shipping \
        >"$T/qbo.out" 2>"$T/qbo.err" &
    bg_track $!
    qbo_ready() { grep -q '^ready$' "$T/qbo.out"; }
    wait_for 10000 qbo_ready || { fail "the QuickBooks mock starts" "$(cat "$T/qbo.err")"; finish; }
    QBO="http://127.0.0.1:$(sed -n 's/^port=//p' "$T/qbo.out")"
    export QUICKBOOKS_API_BASE="$QBO" QUICKBOOKS_TOKEN_URL="$QBO/oauth2/v1/tokens/bearer"
}

# Store both connectors' credentials for the default tenant and the transformer settings.
sync_credentials() {
    local tok
    tok=$(curl -s -X POST "$QBO/_mock/tokens" -d '{"expires_in": 3600}')
    QBO_ACCESS_TOKEN=$(jq -r .access_token <<<"$tok")
    http POST /api/integrations/woocommerce/credentials -H 'Content-Type: application/json' \
        --data-binary "$(jq -nc --arg u "$WOO_STORE" --arg k "$WOO_KEY" --arg s "$WOO_SECRET" \
            '{store_url: $u, consumer_key: $k, consumer_secret: $s}')"
    [[ "$CODE" == 20[01] ]] || { fail "store WooCommerce credentials" "$CODE $BODY"; finish; }
    http POST /api/integrations/quickbooks/credentials -H 'Content-Type: application/json' \
        --data-binary "$(jq -c '{client_id: "mock-client", client_secret: "mock-secret",
            realm_id: "9130357766900456", access_token, refresh_token}' <<<"$tok")"
    [[ "$CODE" == 20[01] ]] || { fail "store QuickBooks credentials" "$CODE $BODY"; finish; }
    sq "INSERT INTO settings (tenant_id, key, value) VALUES ('default',
        'transformer_config', '{\"shipping_item_id\": \"SHIPPING_ITEM_ID\", \"income_account_id\": \"79\"}') ON CONFLICT DO
        UPDATE SET value = excluded.value"
}

# woo_total: the number of orders the WooCommerce mock holds (X-WP-Total).
woo_total() {
    curl -s -u "$WOO_KEY:$WOO_SECRET" -D - -o /dev/null "$WOO/wp-json/wc/v3/orders?per_page=1" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-wp-total" { print $2 }'
}

# seed_orders FIRST N CUSTOMERS SKUS [DATE] [TAG]: N orders with ids FIRST.., built from the
# fixture order, customer id % CUSTOMERS, skus from a pool of SKUS, modified at DATE (+1 h each).
seed_orders() {
    python3 - "$FIXTURES_DIR/woocommerce/order.json" "$@" >"$T/seed.json" <<'EOF'
import json, sys, datetime
tmpl = json.load(open(sys.argv[1]))
first, n, ncust, nsku = (int(x) for x in sys.argv[2:6])
date = sys.argv[6] if len(sys.argv) > 6 else "2026-01-01T00:00:00"
tag = sys.argv[7] if len(sys.argv) > 7 else ""
t0 = datetime.datetime.strptime(date, "%Y-%m-%dT%H:%M:%S")
out = []
for i in range(n):
    oid = first + i
    o = json.loads(json.dumps(tmpl))
    o["id"] = oid
    o["number"] = str(oid)
    t = (t0 + datetime.timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S")
    for k in ("date_created", "date_created_gmt", "date_modified", "date_modified_gmt"):
        o[k] = t
    c = oid % ncust
    o["customer_id"] = 1000 + c
    o["billing"]["email"] = "buyer%d@example.com" % c
    o["billing"]["first_name"] = "Buyer"
    o["billing"]["last_name"] = "No%d" % c
    if tag:
        o["billing"]["address_1"] = tag
    for j, li in enumerate(o["line_items"]):
        li["sku"] = "SKU-%d" % ((oid + j) % nsku)
        li["name"] = "Product %s" % li["sku"]  # one item per sku, none named like a fixture's
    out.append(o)
print(json.dumps({"entity": "orders", "records": out}))
EOF
    curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/seed.json" >/dev/null
}

qbo_state() { curl -s "$QBO/_mock/state"; }

# start_run BODY: POST /api/sync/orders; sets SYNC_ID.
start_run() {
    http POST /api/sync/orders -H 'Content-Type: application/json' --data-binary "$1"
    SYNC_ID=$(jq -r '.syncId // empty' <<<"$BODY" 2>/dev/null)
}

_run_over() {
    http GET "/api/sync/status/$SYNC_ID"
    RUN_STATE=$(jq -r '.state // empty' <<<"$BODY" 2>/dev/null)
    [[ "$RUN_STATE" =~ ^(succeeded|partial|failed|cancelled)$ ]]
}

# wait_run [TIMEOUT_MS]: poll the run until it is over; RUN is its JSON.
wait_run() {
    wait_for "${1:-120000}" _run_over
    RUN=$BODY
}
