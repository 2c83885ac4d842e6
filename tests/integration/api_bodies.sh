#!/usr/bin/env bash
# tests/integration/api_bodies.sh - every route that takes a body (read from engine/api/openapi.json,
# so a new route is covered the day it is added) answers hostile bodies the same way: truncated
# JSON, NUL bytes, invalid UTF-8, deep nesting, not-an-object, wrong types, huge numbers. Never a
# 5xx; always the error envelope; malformed text is 400 malformed_json, a well-formed body with a
# bad field is 400/422 naming it. Webhook receivers get each body signed with the right secret.
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl jq python3

CLIENT="$ENG_SOURCE_DIR/tests/mocks/webhook_client.py"
WOO_SECRET="fuzz-woo-$RANDOM$RANDOM"
QBO_SECRET="fuzz-qbo-$RANDOM$RANDOM"
ENVELOPE='(.error | type == "object") and (.error | has("code") and has("message") and has("details"))'

serve_start SYNC_DISPATCHER=off WOOCOMMERCE_WEBHOOK_SECRET="$WOO_SECRET" \
    QUICKBOOKS_WEBHOOK_SECRET="$QBO_SECRET" MAX_BODY_BYTES=262144 || finish

# METHOD PATH for each operation with a requestBody, path parameters filled in
mapfile -t ROUTES < <(jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[]
    | select(.value | type == "object") | select(.value.requestBody) | "\(.key | ascii_upcase) \($p)"' \
    "$ENG_SOURCE_DIR/engine/api/openapi.json" | sed -e 's/{entity}/orders/' -e 's/{platform}/woocommerce/' \
    -e 's/{name}/woo_order_to_qbo_invoice/')
assert_ge "openapi.json lists the routes that take a body" "${#ROUTES[@]}" 9

# Hostile bodies, one file each. Malformed text first (expect 400 malformed_json), then
# well-formed bodies that are wrong for every route (400/422).
mkdir -p "$T/bodies"
printf '{"mode": "full"' >"$T/bodies/m-truncated"
printf '{"mode": "fu' >"$T/bodies/m-truncated-string"
printf '{"mode":\x00 "full"}' >"$T/bodies/m-nul-byte"
printf '{"mode": "f\x00ull"}' >"$T/bodies/m-nul-in-string"
printf '{"mode": "\xff\xfe"}' >"$T/bodies/m-invalid-utf8"
printf '{"mode": "\xc0\xaf"}' >"$T/bodies/m-overlong-utf8"
printf '{"mode": "\xed\xa0\x80"}' >"$T/bodies/m-surrogate-utf8"
printf '{"a": %s1%s}' "$(printf '[%.0s' $(seq 5000))" "$(printf ']%.0s' $(seq 5000))" >"$T/bodies/m-deep"
printf '{mode: "full"}' >"$T/bodies/m-bare-key"
printf "{'mode': 'full'}" >"$T/bodies/m-single-quotes"
printf '{"mode": "full",}' >"$T/bodies/m-trailing-comma"
printf '{"a": 01}' >"$T/bodies/m-leading-zero"
printf '{"a": 1} {"b": 2}' >"$T/bodies/m-two-values"
printf '{"a": "\\x41"}' >"$T/bodies/m-bad-escape"
printf '{"a": NaN}' >"$T/bodies/m-nan"
printf '[]' >"$T/bodies/n-array"
printf '"text"' >"$T/bodies/n-string"
printf '42' >"$T/bodies/n-number"
printf 'null' >"$T/bodies/n-null"
printf '{"mode": 1e999999, "intervalSeconds": 123456789012345678901234567890, "ids": [1e400]}' \
    >"$T/bodies/w-huge-numbers"
printf '{"mode": ["full"], "dryRun": "yes", "filters": 7, "flow": {}, "entity": 3, "ids": "x"}' \
    >"$T/bodies/w-wrong-types"
printf '{"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x": 1}' \
    >"$T/bodies/w-unknown-utf8-key"
printf '{"a\\"b": 1}' >"$T/bodies/w-unknown-quoted-key"

sign() { python3 "$CLIENT" sign "$1" <"$2"; }

send() { # METHOD PATH FILE
    local extra=()
    case "$2" in
    /api/webhooks/woocommerce)
        extra=(-H "X-WC-Webhook-Source: https://fuzz.example.com/" -H 'X-WC-Webhook-Topic: order.updated'
            -H 'X-WC-Webhook-Resource: order' -H 'X-WC-Webhook-Event: updated' -H 'X-WC-Webhook-ID: 1'
            -H "X-WC-Webhook-Delivery-ID: fuzz-$RANDOM$RANDOM" -H "X-WC-Webhook-Signature: $(sign "$WOO_SECRET" "$3")") ;;
    /api/webhooks/quickbooks*) extra=(-H "intuit-signature: $(sign "$QBO_SECRET" "$3")") ;;
    esac
    http "$1" "$2" -H 'Content-Type: application/json' "${extra[@]}" --data-binary "@$3"
}

for route in "${ROUTES[@]}"; do
    method=${route%% *} path=${route#* }
    echo "== $method $path"
    worst=""
    for f in "$T"/bodies/*; do
        name=$(basename "$f")
        send "$method" "$path" "$f"
        ok=1
        if [[ "$path" == */dry-run && "$name" == n-array ]]; then
            [[ "$CODE" == 200 && "$BODY" == "[]" ]] || ok=0 # a list of no records maps to none
        elif [[ ! "$CODE" =~ ^4[0-9][0-9]$ ]]; then
            ok=0 # never 5xx, never accepted (2xx): each body is wrong for every route
        elif ! printf '%s' "$BODY" | jq -e "$ENVELOPE" >/dev/null 2>&1; then
            ok=0
        elif [[ "$path" == /api/webhooks/* ]]; then
            # vendors get a 400 for a body they signed but that is not a notification
            [[ "$CODE" == 400 ]] || ok=0
        elif [[ "$name" == m-* ]]; then
            [[ "$CODE" == 400 ]] && printf '%s' "$BODY" | jq -e '.error.code == "malformed_json"
                and (.error.message | test("byte [0-9]+|JSON"))' >/dev/null || ok=0
        elif [[ "$name" == n-* ]]; then
            [[ "$CODE" == 400 || "$CODE" == 422 ]] && printf '%s' "$BODY" | jq -e '.error.code ==
                "malformed_json" or .error.code == "mapping_failed" or .error.code == "invalid_field"' >/dev/null || ok=0
        else
            [[ "$CODE" == 400 || "$CODE" == 422 ]] || ok=0
        fi
        ((ok)) || worst+="$name -> $CODE $BODY"$'\n'
    done
    if [[ -z "$worst" ]]; then pass "$method $path: every hostile body answered with a 4xx envelope"; else fail "$method $path" "$worst"; fi
done

echo "== the same malformed body, the same answer on every JSON route"
answers=""
for route in "POST /api/sync/orders" "POST /api/sync/retry" "POST /api/sync/schedules" \
    "PUT /api/settings/transformer_config" "POST /api/integrations/woocommerce/credentials"; do
    send "${route%% *}" "${route#* }" "$T/bodies/m-truncated"
    answers+="$CODE $(printf '%s' "$BODY" | jq -r .error.code)"$'\n'
done
assert_eq "five routes, one answer: 400 malformed_json" "1" "$(printf '%s' "$answers" | sort -u | wc -l)"
assert_contains "... and it is 400 malformed_json" "$answers" "400 malformed_json"

echo "== a bad field is named (422, details.field)"
http POST /api/sync/orders -H 'Content-Type: application/json' --data-binary '{"mode": "sometimes"}'
assert_eq "sync start, bad mode: 422" 422 "$CODE"
assert_jq "... details.field is mode" "$BODY" '.error.code == "invalid_field" and .error.details.field == "mode"'
http POST /api/sync/retry -H 'Content-Type: application/json' --data-binary '{"a\"b": 1}'
assert_eq "retry, unknown field with a quote: 422" 422 "$CODE"
assert_jq "... details.field is the key, escaped" "$BODY" '.error.details.field == "a\"b"'
http POST /api/sync/schedules -H 'Content-Type: application/json' --data-binary '{"entity": "orders", "intervalSeconds": 1e999}'
assert_eq "schedules, an infinite interval: 422" 422 "$CODE"
assert_jq "... details.field is intervalSeconds" "$BODY" '.error.details.field == "intervalSeconds"'
http POST /api/sync/orders -H 'Content-Type: application/json'
assert_jq "sync start with no body passes the body check (the body is optional)" "$BODY" \
    '.error.code == "missing_connection"'
grep -q '"level":"error"' "$SERVE_LOG" && fail "no error was logged" "$(grep '"level":"error"' "$SERVE_LOG" | head -5)" || pass "no error was logged"

serve_stop
finish
