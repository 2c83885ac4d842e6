#!/usr/bin/env bash
# tests/integration/connector_woocommerce.sh - connectors/woocommerce.lua and lib/oauth1.lua end to
# end: the real binary runs tests/lua/woocommerce_connector.lua against tests/mocks/woocommerce_mock.py
# (a WooCommerce store on loopback: paging headers, filters, Basic and OAuth 1.0a checked for real,
# injected 500/503/timeouts/dropped connections, write endpoints). Covers paging over 252 orders,
# modified_after / status / ids filters, auth success and failure (no retry on 401), OAuth over
# plain HTTP, each fault, writes visible in the store and a retried PUT that changes things once;
# the store's webhooks resource (webhooks() over pages, register_webhooks() re-activating and
# creating, with the secret the store received checked in the mock); then the mock's signed
# webhook deliveries (signature, headers, WordPress JSON escaping, ping).
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools python3 openssl curl jq base64

rnd() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 28; }
WOO_KEY="ck_$(rnd)"
WOO_SECRET="cs_$(rnd)"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -days 1 \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>"$T/openssl.err" ||
    { fail "a throwaway TLS certificate" "$(cat "$T/openssl.err")"; finish; }

env MOCK_WOO_KEY="$WOO_KEY" MOCK_WOO_SECRET="$WOO_SECRET" MOCK_FIXTURES="$FIXTURES_DIR/woocommerce" \
    python3 "$ENG_SOURCE_DIR/tests/mocks/woocommerce_mock.py" --cert "$T/cert.pem" --key "$T/key.pem" >"$T/mock.out" 2>"$T/mock.err" &
bg_track $!
if ! wait_for 10000 test -s "$T/mock.out"; then
    fail "the WooCommerce mock starts" "$(cat "$T/mock.err")"
    finish
fi
read -r PLAIN_PORT TLS_PORT <"$T/mock.out"
pass "the WooCommerce mock listens (http :$PLAIN_PORT, https :$TLS_PORT)"

echo "== tests/lua/woocommerce_connector.lua"
export SCRIPT_TIMEOUT_MS=120000 ENGINE_HTTP_CA_FILE="$T/cert.pem"
start=$(now_ms)
( cd "$ENG_SOURCE_DIR" && timeout -k 5 150 "$TALLYSYNC_BIN" run tests/lua/woocommerce_connector.lua \
    "https://127.0.0.1:$TLS_PORT" "http://127.0.0.1:$PLAIN_PORT" "$WOO_KEY" "$WOO_SECRET" ) \
    >"$T/run.out" 2>"$T/run.err"
rc=$?
took=$(($(now_ms) - start))
cat "$T/run.out"
assert_eq "the Lua suite exits 0" 0 "$rc"
[[ $rc == 0 ]] || fail "... its stderr" "$(cat "$T/run.err")"
summary=$(tail -n 1 "$T/run.out")
assert_match "... and reports no failure" '^[0-9]+ passed, 0 failed$' "$summary"
# count the Lua cases too (each FAIL line above names one)
if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    PASSED=$((PASSED + BASH_REMATCH[1]))
    FAILED=$((FAILED + BASH_REMATCH[2]))
    assert_ge "... ran its cases (${BASH_REMATCH[1]} passed)" "${BASH_REMATCH[1]}" 20
else
    fail "... prints its summary line" "$(tail -n 5 "$T/run.out")"
fi
assert_lt "... within 60 s (${took} ms)" "$took" 60000
leak=0
for s in "$WOO_KEY" "$WOO_SECRET"; do
    if grep -qF -- "$s" "$T/run.out" "$T/run.err"; then leak=1; fi
done
assert_eq "no key or secret in the output" 0 "$leak"

echo "== the mock fires signed webhooks (for the engine's ingest)"
M="http://127.0.0.1:$PLAIN_PORT"
HOOK_SECRET="whs_$(rnd)"
fire=$(curl -s --max-time 20 -X POST "$M/_mock/webhook" -H 'Content-Type: application/json' \
    --data-binary "$(jq -nc --arg u "$M/_mock/echo" --arg s "$HOOK_SECRET" \
        '{url: $u, secret: $s, topic: "order.updated", id: 723}')")
assert_jq "a delivery reaches the receiver (200)" "$fire" '.status == 200'
echo_=$(curl -s --max-time 10 "$M/_mock/echoes")
printf '%s' "$echo_" | jq -r '.[-1].body_b64' | base64 -d >"$T/hook.body"
want=$(openssl dgst -sha256 -hmac "$HOOK_SECRET" -binary <"$T/hook.body" | base64)
assert_eq "X-WC-Webhook-Signature = base64(HMAC-SHA256(secret, raw body))" "$want" \
    "$(printf '%s' "$echo_" | jq -r '.[-1].headers["x-wc-webhook-signature"]')"
assert_jq "... with the X-WC-Webhook-* headers" "$echo_" \
    '.[-1].headers | .["x-wc-webhook-topic"] == "order.updated" and .["x-wc-webhook-resource"] == "order"
     and .["x-wc-webhook-event"] == "updated" and (.["x-wc-webhook-source"] | endswith("/"))
     and (.["x-wc-webhook-delivery-id"] | length > 0)'
body=$(cat "$T/hook.body")
assert_contains "the body is wp_json_encode: slashes escaped" "$body" '\/'
assert_contains "... non-ASCII as \\uXXXX (order 723, João)" "$body" 'Jo\u00e3o'
vec=$(curl -s --max-time 20 -X POST "$M/_mock/webhook" -H 'Content-Type: application/json' \
    --data-binary "$(jq -nc --arg u "$M/_mock/echo" '{url: $u, secret: "", raw_body: "secret"}')")
assert_jq "WooCommerce's signature vector (empty secret, body 'secret')" "$vec" \
    '.signature == "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs="'
ping=$(curl -s --max-time 20 -X POST "$M/_mock/webhook" -H 'Content-Type: application/json' \
    --data-binary "$(jq -nc --arg u "$M/_mock/echo" '{url: $u, ping: true, webhook_id: 42}')")
assert_jq "a ping is answered 200 by the receiver" "$ping" '.status == 200 and .signature == null'
echo_=$(curl -s --max-time 10 "$M/_mock/echoes")
assert_jq "a ping is the unsigned form body webhook_id=<id>" "$echo_" \
    '(.[-1].body_b64 | @base64d) == "webhook_id=42" and (.[-1].headers | has("x-wc-webhook-signature") | not)'

finish
