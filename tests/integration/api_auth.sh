#!/usr/bin/env bash
# tests/integration/api_auth.sh - who may call what: no token, a wrong token, the administrator
# (API_TOKEN, tenant chosen with X-Tenant-ID), tenant tokens from `tallysync token create`
# (their own tenant only, revocable), the shared request rules (415, 413 at MAX_BODY_BYTES,
# 405 with Allow), /metrics in Prometheus text and /api/openapi.json.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl

ENVELOPE='(.error | type == "object") and (.error | has("code") and has("message") and has("details"))'

echo "== tenant tokens from the CLI"
run_bin "$T/tok-a" token create --tenant shop-a --name ci
assert_eq "token create exits 0" 0 "$RC"
TOKEN_A=$(printf '%s' "$OUT" | head -n 1)
assert_match "it prints one opaque token" '^ts_[A-Za-z0-9_-]{43}$' "$TOKEN_A"
assert_contains "stderr says it is shown once" "$ERR" "only this once"
run_bin "$T/tok-b" token create --tenant shop-b
TOKEN_B=$(printf '%s' "$OUT" | head -n 1)
check "the database keeps no token in plain text" \
    bash -c "! grep -qaF '$TOKEN_A' '$T/pos.db' '$T/pos.db-wal' 2>/dev/null"
run_bin "$T/tok-bad" token create --tenant 'bad tenant!'
assert_eq "a malformed tenant id is refused (usage)" 2 "$RC"
run_bin "$T/tok-none" token create
assert_eq "token create without --tenant is refused" 2 "$RC"

serve_start MAX_BODY_BYTES=4096 || finish

echo "== authentication"
HTTP_AUTH=0 http GET /api/scripts
assert_eq "no token: 401" 401 "$CODE"
assert_jq "... with the error envelope" "$BODY" "$ENVELOPE and .error.code == \"unauthorized\""
assert_match "... and a WWW-Authenticate challenge" '^Bearer' "$(header WWW-Authenticate)"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Bearer wrong-token-wrong-token"
assert_eq "wrong token: 401" 401 "$CODE"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Basic $(printf 'a:b' | base64)"
assert_eq "another scheme: 401" 401 "$CODE"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Bearer ${API_TOKEN}x"
assert_eq "the admin token with one more character: 401" 401 "$CODE"
http GET /api/scripts
assert_eq "the administrator's token: 200" 200 "$CODE"
http GET /api/scripts -H "X-Tenant-ID: shop-b"
assert_eq "the administrator may pick any tenant" 200 "$CODE"
http GET /api/scripts -H "X-Tenant-ID: not a tenant"
assert_eq "a malformed X-Tenant-ID: 400" 400 "$CODE"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Bearer $TOKEN_A"
assert_eq "a tenant token: 200" 200 "$CODE"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Bearer $TOKEN_A" -H "X-Tenant-ID: shop-a"
assert_eq "a tenant token naming its own tenant: 200" 200 "$CODE"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Bearer $TOKEN_A" -H "X-Tenant-ID: shop-b"
assert_eq "a tenant token naming another tenant: 403" 403 "$CODE"
assert_jq "... with the error envelope" "$BODY" "$ENVELOPE and .error.code == \"forbidden\""

run_bin "$T/tok-list" token list --tenant shop-b
assert_contains "token list shows shop-b's token" "$OUT" "shop-b"
assert_match "... with when it was last used (never, so far)" 'shop-b .* never' "$OUT"
assert_not_contains "token list never shows the token itself" "$OUT" "$TOKEN_B"
id_b=$(printf '%s\n' "$OUT" | awk '$2 == "shop-b" {print $1; exit}')
run_bin "$T/tok-list-a" token list --tenant shop-a
assert_match "shop-a's token shows its last use" 'shop-a .* 20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T' "$OUT"
run_bin "$T/tok-rev" token revoke "$id_b"
assert_eq "token revoke exits 0" 0 "$RC"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Bearer $TOKEN_B"
assert_eq "a revoked token: 401 at once, no restart" 401 "$CODE"

echo "== public routes need no token"
for p in /health /ready /metrics /api/openapi.json; do
    HTTP_AUTH=0 http GET "$p"
    assert_eq "GET $p without a token: 200" 200 "$CODE"
done

echo "== request rules"
http POST /api/mappings/woo_order_to_qbo_invoice/dry-run -H 'Content-Type: text/plain' \
    --data-binary '{"id": 1}'
assert_eq "a text/plain body: 415" 415 "$CODE"
assert_jq "... with the error envelope" "$BODY" "$ENVELOPE"
http POST /api/mappings/woo_order_to_qbo_invoice/dry-run --data-binary '{"id": 1}'
assert_eq "a form-encoded body (curl's default): 415" 415 "$CODE"
head -c 5000 /dev/zero | tr '\0' ' ' >"$T/big.json"
http POST /api/mappings/woo_order_to_qbo_invoice/dry-run -H 'Content-Type: application/json' \
    --data-binary @"$T/big.json"
assert_eq "a body over MAX_BODY_BYTES=4096: 413" 413 "$CODE"
http DELETE /api/scripts
assert_eq "DELETE on a GET route: 405" 405 "$CODE"
assert_eq "... Allow names GET" "GET" "$(header Allow)"
HTTP_AUTH=0 http DELETE /api/scripts
assert_eq "405 comes before authentication is asked for" 405 "$CODE"

echo "== /metrics and the OpenAPI document"
HTTP_AUTH=0 http GET /metrics
assert_match "metrics are Prometheus text" '^text/plain; version=0.0.4' "$(header Content-Type)"
assert_contains "metrics count requests by route and status class" "$BODY" \
    'tallysync_http_requests_total{route="GET /api/scripts",status="4xx"}'
assert_contains "metrics count 2xx answers too" "$BODY" \
    'tallysync_http_requests_total{route="GET /api/scripts",status="2xx"}'
assert_contains "metrics show the workers' queue" "$BODY" "tallysync_worker_tasks_queued 0"
assert_contains "metrics have a HELP line for queue jobs" "$BODY" "# HELP tallysync_queue_jobs"
HTTP_AUTH=0 http GET /api/openapi.json
assert_jq "the OpenAPI document is 3.1 and lists /api/scripts" "$BODY" \
    '.openapi == "3.1.0" and (.paths | has("/api/scripts"))'

serve_stop

echo "== API_ANONYMOUS_TENANT: the local demo's sandbox tenant"
API_HOST=0.0.0.0 API_ANONYMOUS_TENANT=sandbox run_bin "$T/anon-wide" serve
assert_eq "anonymous access on a non-loopback host is refused at start" 1 "$RC"
assert_contains "... naming the setting and the host" "$ERR" "API_ANONYMOUS_TENANT"
serve_start API_ANONYMOUS_TENANT=sandbox
HTTP_AUTH=0 http GET /api/integrations
assert_eq "a request without a token is the sandbox tenant: 200" 200 "$CODE"
HTTP_AUTH=0 http GET /api/integrations -H "X-Tenant-ID: default"
assert_eq "... and cannot pick another tenant: 403" 403 "$CODE"
HTTP_AUTH=0 http GET /api/scripts -H "Authorization: Bearer wrong-token-wrong-token"
assert_eq "a wrong token is still 401 (anonymous means no Authorization at all)" 401 "$CODE"
serve_stop
finish
