#!/usr/bin/env bash
# tests/integration/slow_clients.sh - slow and greedy clients cannot stop the API or the webhooks
# (issue 12, item 8). 1,030 connections from 127.0.0.1 trickling header bytes (more than the
# server's 1,024 connection slots) while /health and a signed webhook still answer; a request's
# headers and its body each have a total deadline however slowly they trickle; one address gets
# at most HTTP_CONNECTIONS_PER_ADDRESS API requests in progress (429 beyond) while webhook
# deliveries from it still go through; X-Forwarded-For counts only from TRUSTED_PROXIES.
# How long /health took under the flood goes to bench/results/slow_clients.txt (no assertion).
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl jq python3

SLOW="$ENG_SOURCE_DIR/tests/mocks/slow_client.py"
CLIENT="$ENG_SOURCE_DIR/tests/mocks/webhook_client.py"
WOO_SECRET="slow-woo-$RANDOM$RANDOM"
# 1,030 client sockets and as many on the server's side, in this test's processes
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

woo_hook() { # a signed WooCommerce delivery; sets CODE
    local body='{"id": 4242, "status": "processing", "total": "9.99"}'
    http POST /api/webhooks/woocommerce -H 'Content-Type: application/json' \
        -H 'X-WC-Webhook-Source: https://shop.example.com/' -H 'X-WC-Webhook-Topic: order.updated' \
        -H 'X-WC-Webhook-Resource: order' -H 'X-WC-Webhook-Event: updated' \
        -H 'X-WC-Webhook-ID: 142' -H "X-WC-Webhook-Delivery-ID: d-$RANDOM$RANDOM" \
        -H "X-WC-Webhook-Signature: $(printf '%s' "$body" | python3 "$CLIENT" sign "$WOO_SECRET")" \
        --data-binary "$body"
}

# start_bg NAME COMMAND...: run COMMAND in the background, its stdout to $T/NAME.out, its stdin
# a fifo kept open by this shell (closing fd 7 tells `hold` to let go).
start_bg() {
    local name=$1
    shift
    rm -f "$T/$name.in"
    mkfifo "$T/$name.in"
    "$@" <"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" &
    BG_PID=$!
    bg_track "$BG_PID"
    exec 7>"$T/$name.in"
}
ready() { grep -q '^ready' "$T/$1.out" 2>/dev/null; }

echo "== 1,030 trickling connections from one address: /health and webhooks still answer"
serve_start SYNC_DISPATCHER=off WOOCOMMERCE_WEBHOOK_SECRET="$WOO_SECRET" || finish
start_bg trickle python3 "$SLOW" trickle "$SERVE_PORT" 1030 14
wait_for 60000 ready trickle
assert_match "the 1,030 connections are open" '^ready 10[0-9][0-9]$' "$(head -n 1 "$T/trickle.out")"
t0=$(now_ms)
HTTP_AUTH=0 http GET /health
health_ms=$(($(now_ms) - t0))
assert_eq "GET /health answers during the flood" 200 "$CODE"
t0=$(now_ms)
woo_hook
hook_ms=$(($(now_ms) - t0))
assert_eq "a signed webhook is answered during the flood" 200 "$CODE"
http GET /api/integrations
assert_eq "an authenticated API request is answered during the flood" 200 "$CODE"
exec 7>&-
summary_in() { [[ $(wc -l <"$T/trickle.out") -ge 2 ]]; }
wait_for 60000 summary_in
SUMMARY=$(tail -n 1 "$T/trickle.out")
assert_jq "the server closed the trickling connections (the oldest for newer ones, then on the deadline)" \
    "$SUMMARY" '.closed_by_server >= .opened - 32'
RESULTS=${BENCH_RESULTS_DIR:-$ENG_SOURCE_DIR/bench/results}
mkdir -p "$RESULTS"
printf '%s slow_clients (%s): 1030 trickling connections; /health %d ms, signed webhook %d ms; %s\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(basename "$(dirname "$TALLYSYNC_BIN")")" "$health_ms" \
    "$hook_ms" "$SUMMARY" \
    >>"$RESULTS/slow_clients.txt"
serve_stop
assert_eq "serve stops cleanly after the flood" 0 "$STOP_RC"

echo "== deadlines for a request's headers and its body, however they trickle"
serve_start SYNC_DISPATCHER=off HTTP_HEADERS_TIMEOUT_S=2 HTTP_BODY_TIMEOUT_S=2 || finish
assert_eq "trickled headers: the connection is closed (idle timeout 30 s never fires)" closed \
    "$(python3 "$SLOW" deadline "$SERVE_PORT" headers 15)"
assert_eq "a trickled body: the connection is closed" closed \
    "$(python3 "$SLOW" deadline "$SERVE_PORT" body 15)"
HTTP_AUTH=0 http GET /health
assert_eq "a prompt request is unaffected" 200 "$CODE"
serve_stop

echo "== HTTP_CONNECTIONS_PER_ADDRESS=4: the fifth API request is 429, webhooks still pass"
serve_start SYNC_DISPATCHER=off WOOCOMMERCE_WEBHOOK_SECRET="$WOO_SECRET" \
    HTTP_CONNECTIONS_PER_ADDRESS=4 || finish
start_bg hold python3 "$SLOW" hold "$SERVE_PORT" 4 60 "$AUTH_HEADER" "X-Forwarded-For: 203.0.113.7"
wait_for 20000 ready hold
HTTP_AUTH=0 http GET /health
assert_eq "a fifth request in progress from the address: 429" 429 "$CODE"
assert_jq "... with the error envelope" "$BODY" '.error.code == "too_many_requests"'
assert_eq "... and Retry-After" 1 "$(header Retry-After)"
HTTP_AUTH=0 http GET /health -H 'X-Forwarded-For: 203.0.113.8'
assert_eq "X-Forwarded-For from an untrusted peer changes nothing: 429" 429 "$CODE"
woo_hook
assert_eq "a signed webhook from the same address: 200" 200 "$CODE"
exec 7>&-
wait_for 20000 grep -q '^closed' "$T/hold.out"
wait_for 10000 bash -c "curl -s -o /dev/null -w '%{http_code}' --max-time 5 $BASE/health | grep -qx 200"
HTTP_AUTH=0 http GET /health
assert_eq "once they end, the address is served again" 200 "$CODE"
serve_stop

echo "== TRUSTED_PROXIES=127.0.0.1: the client is the X-Forwarded-For address"
serve_start SYNC_DISPATCHER=off HTTP_CONNECTIONS_PER_ADDRESS=4 TRUSTED_PROXIES=127.0.0.1 || finish
start_bg hold2 python3 "$SLOW" hold "$SERVE_PORT" 4 60 "$AUTH_HEADER" "X-Forwarded-For: 203.0.113.7"
wait_for 20000 ready hold2
HTTP_AUTH=0 http GET /health -H 'X-Forwarded-For: 203.0.113.7'
assert_eq "the client with 4 requests in progress: 429" 429 "$CODE"
HTTP_AUTH=0 http GET /health -H 'X-Forwarded-For: 198.51.100.1, 203.0.113.7'
assert_eq "... also behind a forged first hop (the nearest untrusted address counts)" 429 "$CODE"
HTTP_AUTH=0 http GET /health -H 'X-Forwarded-For: 203.0.113.8'
assert_eq "another client behind the same proxy: 200" 200 "$CODE"
HTTP_AUTH=0 http GET /health
assert_eq "the proxy's own request: 200" 200 "$CODE"
exec 7>&-
serve_stop

echo "== a malformed TRUSTED_PROXIES stops serve, naming it"
SERVE_N=$((SERVE_N + 1))
env API_PORT=0 TRUSTED_PROXIES=10.0.0.0/40 timeout -k 5 30 "$TALLYSYNC_BIN" serve \
    >"$T/bad.out" 2>"$T/bad.err"
assert_ne "exit status non-zero" 0 "$?"
assert_contains "... naming TRUSTED_PROXIES" "$(cat "$T/bad.err")" "TRUSTED_PROXIES"

finish
