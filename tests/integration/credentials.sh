#!/usr/bin/env bash
# tests/integration/credentials.sh - the credential routes end to end: the real binary over real
# HTTP, connectors testing against tests/mocks/saas_mock.py (WooCommerce, QuickBooks, Supabase
# stand-ins on one local port). Covers store / status / list / test / delete for every platform,
# wrong secrets, every validation error (400, 422 per rule naming the field, 404), tenant
# isolation (tenant tokens vs the administrator with X-Tenant-ID), a bounded test against a host
# that never answers, a restart that needs nothing re-entered, `rotate-key` (new key + previous,
# new key alone, old key alone -> a clear failed test), and the secret scan: no secret value in
# the SQLite file (-wal, -shm), the server's logs or any HTTP answer.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl python3 base64 sha256sum

ENVELOPE='(.error | type == "object") and (.error | has("code") and has("message") and has("details"))'
ANSWERS="$T/answers.log"
: >"$ANSWERS"

# A unique random token (letters and digits), for secrets the scan looks for.
rnd() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 28; }

# The documented key id of a base64 key (vault.h), computed without the engine.
key_id() {
    { printf 'tallysync key id\0'; printf '%s' "$1" | base64 -d; } | sha256sum | cut -c1-16
}

# call METHOD PATH [CURL_ARGS...]: `http`, keeping every answer (headers and body) for the scan.
call() {
    http "$@"
    printf '%s\n%s\n' "$HEADERS" "$BODY" >>"$ANSWERS"
}

# store PLATFORM JSON [CURL_ARGS...]: POST the credentials.
store() {
    local p=$1 body=$2
    shift 2
    call POST "/api/integrations/$p/credentials" -H 'Content-Type: application/json' \
        --data-binary "$body" "$@"
}

# stop: serve_stop, and check the exit status (a sanitizer report makes it non-zero).
stop() {
    local n=$SERVE_N
    serve_stop
    assert_eq "serve #$n stops cleanly (exit 0)" 0 "$STOP_RC"
}

run_test() { # PLATFORM [CURL_ARGS...]
    local p=$1
    shift
    call POST "/api/integrations/$p/test" "$@"
}

# ---- the secrets (all unique; the scan looks for each) and the mock that knows the good ones

WOO_KEY="ck_$(rnd)"
WOO_SECRET="cs_$(rnd)"
WOO_HOOK="whs_$(rnd)"
QBO_CLIENT_SECRET="qcs_$(rnd)"
QBO_TOKEN="qat_$(rnd)"
QBO_REFRESH="qrt_$(rnd)"
QBO_REALM="9130357766$((RANDOM % 900000 + 100000))"
SB_KEY="sbk_$(rnd)"
WRONG_WOO_SECRET="cs_wrong_$(rnd)"
WRONG_QBO_TOKEN="qat_wrong_$(rnd)"
WRONG_SB_KEY="sbk_wrong_$(rnd)"
X_WOO_KEY="ck_x_$(rnd)" # tenant shop-x's own credentials
X_WOO_SECRET="cs_x_$(rnd)"
LEAKY_TOKEN="lk_$(rnd)" # given to a connector that tries to leak it
SECRETS=("$LEAKY_TOKEN" "$WOO_KEY" "$WOO_SECRET" "$WOO_HOOK" "$QBO_CLIENT_SECRET" "$QBO_TOKEN"
    "$QBO_REFRESH" "$SB_KEY" "$WRONG_WOO_SECRET" "$WRONG_QBO_TOKEN" "$WRONG_SB_KEY" "$X_WOO_KEY"
    "$X_WOO_SECRET")

env MOCK_WOO_KEY="$WOO_KEY" MOCK_WOO_SECRET="$WOO_SECRET" MOCK_QBO_TOKEN="$QBO_TOKEN" \
    MOCK_QBO_REALM="$QBO_REALM" MOCK_SUPABASE_KEY="$SB_KEY" MOCK_SLOW_MS=15000 \
    python3 "$ENG_SOURCE_DIR/tests/mocks/saas_mock.py" >"$T/mock.out" 2>"$T/mock.err" &
bg_track $!
wait_for 10000 test -s "$T/mock.out" || {
    fail "the SaaS mock starts" "$(cat "$T/mock.err")"
    finish
}
MOCK="http://127.0.0.1:$(head -n 1 "$T/mock.out")"
echo "mock: $MOCK"

copy_script_dirs # a connector is added and removed below, while the engine runs
OLD_KEY=$INTEGRATION_ENCRYPTION_KEY
SERVE_ENV=(QUICKBOOKS_API_BASE="$MOCK" QUICKBOOKS_TOKEN_URL="$MOCK/oauth2/v1/tokens/bearer" WORKERS=2 CONNECTOR_TIMEOUT_MS=3000 LOG_LEVEL=debug)
serve_start "${SERVE_ENV[@]}" || finish

WOO_BODY=$(jq -nc --arg u "$MOCK/" --arg k "$WOO_KEY" --arg s "$WOO_SECRET" --arg h "$WOO_HOOK" \
    '{store_url: $u, consumer_key: $k, consumer_secret: $s, webhook_secret: $h}')
QBO_BODY=$(jq -nc --arg s "$QBO_CLIENT_SECRET" --arg t "$QBO_TOKEN" --arg r "$QBO_REFRESH" \
    --arg realm "$QBO_REALM" '{client_id: "ABcid0123", client_secret: $s, realm_id: $realm,
    access_token: $t, refresh_token: $r, access_token_expires_at: "2099-01-01T00:00:00Z"}')
SB_BODY=$(jq -nc --arg u "$MOCK" --arg k "$SB_KEY" '{url: $u, service_role_key: $k}')

echo "== nothing stored yet"
call GET /api/integrations
assert_eq "GET /api/integrations: 200" 200 "$CODE"
assert_jq "... lists every published connector, by name, none configured" "$BODY" \
    '[.integrations[].platform] == ["pos", "quickbooks", "supabase", "woocommerce"] and
     all(.integrations[]; .configured == false and .keyId == null and .fields == {})'
for p in woocommerce quickbooks supabase; do
    call GET "/api/integrations/$p/status"
    assert_jq "$p status: configured false" "$BODY" '.configured == false and .status == null'
    call POST "/api/integrations/$p/test"
    assert_eq "$p test with nothing stored: 404" 404 "$CODE"
    assert_contains "... saying so" "$BODY" "no credentials stored for $p"
    call DELETE "/api/integrations/$p/credentials"
    assert_eq "$p delete with nothing stored: 404" 404 "$CODE"
done

echo "== unknown platforms: 404"
for p in nope shopify a.b; do
    call GET "/api/integrations/$p/status"
    assert_eq "GET status of '$p': 404" 404 "$CODE"
done
call GET /api/integrations/nope/status
assert_jq "... with the error envelope naming it" "$BODY" "$ENVELOPE and .error.code == \"not_found\"
    and (.error.message | contains(\"nope\"))"
store nope '{"a": 1}'
assert_eq "POST credentials of an unknown platform: 404" 404 "$CODE"
run_test nope
assert_eq "POST test of an unknown platform: 404" 404 "$CODE"
call DELETE /api/integrations/nope/credentials
assert_eq "DELETE credentials of an unknown platform: 404" 404 "$CODE"
call GET /api/integrations/woocommerce/credentials
assert_eq "GET on the credentials route: 405" 405 "$CODE"
assert_match "... Allow names POST and DELETE" 'POST, DELETE|DELETE, POST' "$(header Allow)"

echo "== authentication"
HTTP_AUTH=0 call GET /api/integrations
assert_eq "no token: 401" 401 "$CODE"
HTTP_AUTH=0 call POST /api/integrations/woocommerce/credentials -H 'Content-Type: application/json' \
    --data-binary "$WOO_BODY"
assert_eq "storing without a token: 401" 401 "$CODE"
HTTP_AUTH=0 call POST /api/integrations/woocommerce/test -H 'Authorization: Bearer wrong-wrong-wrong'
assert_eq "testing with a wrong token: 401" 401 "$CODE"

echo "== validation: 400 for a body that is not a JSON object"
for body in '{"store_url":' '' '[]' '[{"store_url":"https://a.example"}]' '"text"' '42' 'null'; do
    store woocommerce "$body"
    assert_eq "body '${body:0:24}': 400" 400 "$CODE"
    assert_jq "... malformed_json in the envelope" "$BODY" \
        "$ENVELOPE and .error.code == \"malformed_json\""
done
call POST /api/integrations/woocommerce/credentials -H 'Content-Type: text/plain' \
    --data-binary "$WOO_BODY"
assert_eq "a text/plain body: 415" 415 "$CODE"

echo "== validation: 422 naming the field"
# expect_422 DESCRIPTION PLATFORM JSON FIELD [MESSAGE_PART]
expect_422() {
    store "$2" "$3"
    assert_eq "$1: 422" 422 "$CODE"
    assert_jq "... details.field is $4 and the message names it" "$BODY" \
        "$ENVELOPE and .error.code == \"invalid_field\" and .error.details.field == \"$4\"
         and (.error.message | contains(\"$4\")) and (.error.message | contains(\"${5:-}\"))"
}
w() { printf '%s' "$WOO_BODY" | jq -c "$1"; }
q() { printf '%s' "$QBO_BODY" | jq -c "$1"; }
s() { printf '%s' "$SB_BODY" | jq -c "$1"; }
expect_422 "woocommerce without consumer_secret" woocommerce "$(w 'del(.consumer_secret)')" \
    consumer_secret "is required"
expect_422 "woocommerce with consumer_key null" woocommerce "$(w '.consumer_key = null')" \
    consumer_key "is required"
expect_422 "woocommerce without store_url" woocommerce "$(w 'del(.store_url)')" store_url
expect_422 "an empty object" woocommerce '{}' store_url "is required"
expect_422 "consumer_secret as a number" woocommerce "$(w '.consumer_secret = 12345678')" \
    consumer_secret "must be a string"
expect_422 "consumer_key as an array" woocommerce "$(w '.consumer_key = ["a"]')" consumer_key
expect_422 "an empty consumer_key" woocommerce "$(w '.consumer_key = ""')" consumer_key "empty"
expect_422 "a too short secret" woocommerce "$(w '.webhook_secret = "short"')" webhook_secret \
    "at least 8"
expect_422 "a secret with a newline" woocommerce "$(w '.consumer_key += "\nX"')" consumer_key \
    "control characters"
expect_422 "store_url that is not a URL" woocommerce "$(w '.store_url = "shop.example.com"')" \
    store_url "absolute URL"
expect_422 "store_url over ftp" woocommerce "$(w '.store_url = "ftp://shop.example.com"')" \
    store_url "https or http"
expect_422 "store_url with a password" woocommerce \
    "$(w '.store_url = "https://u:p@shop.example.com"')" store_url "password"
expect_422 "store_url with a query" woocommerce "$(w '.store_url = "https://shop.example.com/?a=1"')" \
    store_url "query"
expect_422 "store_url with a bad port" woocommerce "$(w '.store_url = "https://shop.example.com:0"')" \
    store_url "port"
expect_422 "an unknown field" woocommerce "$(w '.consumer_kye = "x"')" consumer_kye "unknown field"
expect_422 "auth basic with an http store_url (keys would cross in clear)" woocommerce \
    "$(w '.auth = "basic"')" auth "needs an https store_url"
expect_422 "auth not one of auto, basic, oauth1" woocommerce "$(w '.auth = "digest"')" auth "one of"
expect_422 "quickbooks without realm_id" quickbooks "$(q 'del(.realm_id)')" realm_id "is required"
expect_422 "quickbooks environment staging" quickbooks "$(q '.environment = "staging"')" environment \
    "sandbox, production"
expect_422 "quickbooks realm_id not digits" quickbooks "$(q '.realm_id = "abc"')" realm_id "digits"
expect_422 "quickbooks realm_id as a number" quickbooks "$(q '.realm_id = 123')" realm_id "string"
expect_422 "quickbooks expiry not a date-time" quickbooks \
    "$(q '.access_token_expires_at = "tomorrow"')" access_token_expires_at "RFC 3339"
expect_422 "quickbooks expiry on Feb 30" quickbooks \
    "$(q '.access_token_expires_at = "2026-02-30T00:00:00Z"')" access_token_expires_at "valid date"
expect_422 "supabase without service_role_key" supabase "$(s 'del(.service_role_key)')" \
    service_role_key "is required"
expect_422 "supabase url without scheme" supabase "$(s '.url = "abc.supabase.co"')" url
expect_422 "supabase schema as a number" supabase "$(s '.schema = 5')" schema "string"
expect_422 "supabase schema not a name" supabase "$(s '.schema = "x y"')" schema "schema name"
MARK="NOT-ECHOED-$(rnd)"
store woocommerce "$(w ".store_url = \"bad url $MARK\"")"
assert_not_contains "a refused value is never echoed" "$BODY" "$MARK"
store quickbooks "$(q ".environment = \"$MARK\"")"
assert_not_contains "... nor a refused enum value" "$BODY" "$MARK"
call GET /api/integrations/woocommerce/status
assert_jq "refused bodies stored nothing" "$BODY" '.configured == false'

echo "== store"
store woocommerce "$WOO_BODY"
assert_eq "woocommerce credentials: 201" 201 "$CODE"
assert_jq "... the status: configured, untested, key id, public store_url, masked secrets" "$BODY" \
    ".platform == \"woocommerce\" and .configured == true and .status == \"untested\" and
     .keyId == \"$(key_id "$OLD_KEY")\" and .fields.store_url == \"$MOCK\" and
     .fields.consumer_key == \"********\" and .fields.consumer_secret == \"********\" and
     .fields.webhook_secret == \"********\" and .lastTestAt == null"
assert_jq "... with a note that plain HTTP means OAuth 1.0a" "$BODY" \
    '.notes | length == 1 and (.[0] | contains("OAuth 1.0a"))'
assert_jq "... and the default auth mode, auto, public" "$BODY" '.fields.auth == "auto"'
store quickbooks "$QBO_BODY"
assert_eq "quickbooks credentials: 201" 201 "$CODE"
assert_jq "... realm_id and the default environment are public" "$BODY" \
    ".fields.realm_id == \"$QBO_REALM\" and .fields.environment == \"sandbox\" and
     .fields.client_id == \"ABcid0123\" and .fields.access_token == \"********\" and
     .fields.access_token_expires_at == \"2099-01-01T00:00:00Z\" and (has(\"notes\") | not)"
store supabase "$SB_BODY"
assert_eq "supabase credentials: 201" 201 "$CODE"
assert_jq "... schema defaults to public" "$BODY" '.fields.schema == "public" and .fields.url != null'
store supabase "$SB_BODY"
assert_eq "storing again replaces: 200" 200 "$CODE"

echo "== test"
for p in woocommerce quickbooks supabase; do
    run_test "$p"
    assert_eq "$p test: 200" 200 "$CODE"
    assert_jq "$p test: ok true" "$BODY" '.ok == true and (.message | type == "string")'
    call GET "/api/integrations/$p/status"
    assert_jq "$p status records it: connected" "$BODY" \
        '.status == "connected" and .lastTestOk == true and .lastTestAt != null and
         (.lastTestMessage | startswith("connected"))'
done
call GET /api/integrations/woocommerce/status
assert_jq "the woocommerce status names the mode used on the http store: OAuth 1.0a" "$BODY" \
    '.fields.auth == "auto" and (.lastTestMessage | endswith("(OAuth 1.0a)"))'
assert_jq "the QuickBooks call reached the mock's CompanyInfo (minorversion 75)" \
    "$(curl -s "$MOCK/_mock/hits")" '.quickbooks >= 1 and .woocommerce >= 1 and .supabase >= 1'

echo "== wrong secrets and other failures (tenant 'neg')"
NEG=(-H "X-Tenant-ID: neg")
store woocommerce "$(w ".consumer_secret = \"$WRONG_WOO_SECRET\"")" "${NEG[@]}"
assert_eq "neg: woocommerce stored" 201 "$CODE"
run_test woocommerce "${NEG[@]}"
assert_jq "a wrong consumer secret: ok false, rejected (HTTP 401)" "$BODY" \
    '.ok == false and (.message | contains("credentials rejected by woocommerce (HTTP 401"))'
call GET /api/integrations/woocommerce/status "${NEG[@]}"
assert_jq "... recorded as an error" "$BODY" '.status == "error" and .lastTestOk == false'
# (without a refresh token: with one, the test would renew the token first - oauth.sh covers it)
store quickbooks "$(q ".access_token = \"$WRONG_QBO_TOKEN\" | del(.refresh_token)")" "${NEG[@]}"
run_test quickbooks "${NEG[@]}"
assert_jq "a wrong QuickBooks token: ok false, rejected (HTTP 401)" "$BODY" \
    '.ok == false and (.message | contains("credentials rejected by quickbooks (HTTP 401"))'
store quickbooks "$(q 'del(.access_token, .refresh_token, .access_token_expires_at)')" "${NEG[@]}"
run_test quickbooks "${NEG[@]}"
assert_jq "QuickBooks without a token: connect first" "$BODY" \
    '.ok == false and .message == "connect QuickBooks first (GET /api/integrations/quickbooks/connect)"'
store supabase "$(s ".service_role_key = \"$WRONG_SB_KEY\"")" "${NEG[@]}"
run_test supabase "${NEG[@]}"
assert_jq "a wrong Supabase key: ok false, rejected (HTTP 401)" "$BODY" \
    '.ok == false and (.message | contains("credentials rejected by supabase (HTTP 401"))'
store supabase "$(s '.schema = "private"')" "${NEG[@]}"
run_test supabase "${NEG[@]}"
assert_jq "a schema the project does not expose: ok false naming it" "$BODY" \
    '.ok == false and (.message | contains("private")) and (.message | contains("PGRST106"))'
store supabase "$(s '.url = "http://127.0.0.1:1"')" "${NEG[@]}"
run_test supabase "${NEG[@]}"
assert_jq "a host that refuses connections: ok false with the reason" "$BODY" \
    '.ok == false and (.message | contains("cannot reach Supabase (connect)"))'
store woocommerce "$(w '.store_url = "http://localhost:1"')" "${NEG[@]}"
run_test woocommerce "${NEG[@]}"
assert_jq "a plain-HTTP store is tried with OAuth 1.0a (here: nothing listens)" "$BODY" \
    '.ok == false and (.message | contains("not yet supported") | not) and (.message | contains("cannot reach the store (connect)"))'
store woocommerce "$(w ".store_url = \"$MOCK/slow\"")" "${NEG[@]}"
start=$(now_ms)
run_test woocommerce "${NEG[@]}"
took=$(($(now_ms) - start))
assert_eq "a store that never answers: still 200" 200 "$CODE"
assert_jq "... ok false, timed out" "$BODY" \
    '.ok == false and ((.message | contains("timed out")) or (.message | contains("did not finish")))'
assert_lt "... within CONNECTOR_TIMEOUT_MS=3000 (+ slack): ${took} ms" "$took" 6000
call GET /health
assert_eq "the engine still answers" 200 "$CODE"

echo "== a connector that raises, loops or puts the secret in its message"
cat >"$SCRIPTS_DIR/connectors/leaky.lua" <<'LUA'
return {
  name = "leaky",
  credentials = {
    { name = "token", type = "string", required = true, secret = true },
    { name = "mode", type = "string", required = true, enum = { "raise", "return", "loop", "ok" } },
  },
  test = function(ctx)
    local c = ctx.credentials
    if c.mode == "raise" then error("upstream said: bad token " .. c.token) end
    if c.mode == "loop" then while true do end end
    if c.mode == "ok" then return true, "fine, token " .. c.token end
    return false, "the token " .. c.token .. " was refused"
  end,
}
LUA
leaky_published() { http GET /api/integrations/leaky/status && [[ "$CODE" == 200 ]]; }
check "a new connector is published while the engine runs" wait_for 15000 leaky_published
for mode in raise return ok; do
    store leaky "$(jq -nc --arg t "$LEAKY_TOKEN" --arg m "$mode" '{token: $t, mode: $m}')"
    run_test leaky
    assert_eq "leaky ($mode): test answers 200" 200 "$CODE"
    assert_contains "... with the secret scrubbed from the message" "$BODY" "[redacted]"
    assert_not_contains "... and not the secret itself" "$BODY" "$LEAKY_TOKEN"
    if [[ $mode == raise ]]; then
        assert_jq "... a connector that raises: ok false with its error and position" "$BODY" \
            '.ok == false and (.message | contains("leaky.lua:")) and
             (.message | contains("upstream said: bad token [redacted]"))'
    fi
done
store leaky "$(jq -nc --arg t "$LEAKY_TOKEN" '{token: $t, mode: "loop"}')"
start=$(now_ms)
run_test leaky
took=$(($(now_ms) - start))
assert_jq "a connector that loops: ok false, over its budget" "$BODY" \
    '.ok == false and (.message | contains("did not finish: ")) and
     (.message | contains("leaky.lua:")) and (.message | contains("budget"))'
assert_lt "... answered within the budget (+ slack): ${took} ms" "$took" 6000
call GET /api/integrations/leaky/status
assert_jq "... recorded, without the secret" "$BODY" '.status == "error" and .fields.token == "********"'
rm -f "$SCRIPTS_DIR/connectors/leaky.lua"
leaky_gone() { http GET /api/integrations/leaky/status && [[ "$CODE" == 404 ]]; }
check "a removed connector is unpublished" wait_for 15000 leaky_gone
call DELETE /api/integrations/leaky/credentials
assert_eq "its stored row can still be deleted (no orphaned secret): 204" 204 "$CODE"
call DELETE /api/integrations/leaky/credentials
assert_eq "... and then it is an unknown platform: 404" 404 "$CODE"

echo "== tenants"
run_bin "$T/tok-x" token create --tenant shop-x
TOKEN_X=$(printf '%s' "$OUT" | head -n 1)
assert_match "a tenant token for shop-x" '^ts_' "$TOKEN_X"
AX=(-H "Authorization: Bearer $TOKEN_X")
HTTP_AUTH=0 call GET /api/integrations/woocommerce/status "${AX[@]}"
assert_jq "shop-x does not see the default tenant's credentials" "$BODY" '.configured == false'
HTTP_AUTH=0 call GET /api/integrations "${AX[@]}"
assert_jq "... nor in the list" "$BODY" 'all(.integrations[]; .configured == false)'
HTTP_AUTH=0 call POST /api/integrations/woocommerce/test "${AX[@]}"
assert_eq "... cannot test them: 404" 404 "$CODE"
HTTP_AUTH=0 call DELETE /api/integrations/woocommerce/credentials "${AX[@]}"
assert_eq "... cannot delete them: 404" 404 "$CODE"
HTTP_AUTH=0 call GET /api/integrations/woocommerce/status "${AX[@]}" -H "X-Tenant-ID: default"
assert_eq "... and cannot name another tenant: 403" 403 "$CODE"
X_BODY=$(jq -nc --arg u "$MOCK" --arg k "$X_WOO_KEY" --arg s "$X_WOO_SECRET" \
    '{store_url: $u, consumer_key: $k, consumer_secret: $s}')
HTTP_AUTH=0 call POST /api/integrations/woocommerce/credentials "${AX[@]}" \
    -H 'Content-Type: application/json' --data-binary "$X_BODY"
assert_eq "shop-x stores its own: 201 (not a replacement of default's)" 201 "$CODE"
HTTP_AUTH=0 call POST /api/integrations/woocommerce/test "${AX[@]}"
assert_jq "shop-x's test runs with shop-x's credentials (rejected by the mock)" "$BODY" \
    '.ok == false and (.message | contains("HTTP 401"))'
call GET /api/integrations/woocommerce/status -H "X-Tenant-ID: shop-x"
assert_jq "the administrator sees shop-x's credentials with X-Tenant-ID" "$BODY" \
    ".configured == true and .fields.store_url == \"$MOCK\" and .lastTestOk == false"
call GET /api/integrations/woocommerce/status
assert_jq "the default tenant's row is untouched" "$BODY" '.configured == true and .lastTestOk == true'
HTTP_AUTH=0 call DELETE /api/integrations/woocommerce/credentials "${AX[@]}"
assert_eq "shop-x deletes its own: 204" 204 "$CODE"
assert_eq "... with no body" "" "$BODY"
HTTP_AUTH=0 call DELETE /api/integrations/woocommerce/credentials "${AX[@]}"
assert_eq "... a second time: 404" 404 "$CODE"
call GET /api/integrations/woocommerce/status
assert_jq "the default tenant still has its own" "$BODY" '.configured == true'
call DELETE /api/integrations/supabase/credentials -H "X-Tenant-ID: neg"
assert_eq "the administrator deletes tenant neg's supabase row: 204" 204 "$CODE"
call GET /api/integrations -H "X-Tenant-ID: neg"
assert_jq "... the list shows it gone, the others there" "$BODY" \
    '[.integrations[] | select(.configured) | .platform] == ["quickbooks", "woocommerce"]'

echo "== restart: nothing to re-enter"
stop
serve_start "${SERVE_ENV[@]}" || finish
call GET /api/integrations
assert_jq "after a restart every platform is still configured" "$BODY" \
    'all(.integrations[] | select(.platform != "pos"); .configured == true)'
for p in woocommerce quickbooks supabase; do
    run_test "$p"
    assert_jq "after a restart $p tests ok" "$BODY" '.ok == true'
done

echo "== rotate-key"
stop
NEWKEY=$(head -c 32 /dev/urandom | base64)
NEWKEY="$NEWKEY" run_bin "$T/rotate" rotate-key --new-key-env NEWKEY
assert_eq "rotate-key exits 0" 0 "$RC"
assert_not_contains "... and never prints the new key" "$OUT$ERR" "$NEWKEY"
serve_start "${SERVE_ENV[@]}" INTEGRATION_ENCRYPTION_KEY="$NEWKEY" \
    INTEGRATION_ENCRYPTION_KEY_PREVIOUS="$OLD_KEY" || finish
call GET /api/integrations/quickbooks/status
assert_jq "the key id moved to the new key" "$BODY" ".keyId == \"$(key_id "$NEWKEY")\""
assert_ne "... which differs from the old one" "$(key_id "$OLD_KEY")" "$(key_id "$NEWKEY")"
for p in woocommerce quickbooks supabase; do
    run_test "$p"
    assert_jq "new key + previous: $p still decrypts and tests ok" "$BODY" '.ok == true'
done
stop
serve_start "${SERVE_ENV[@]}" INTEGRATION_ENCRYPTION_KEY="$NEWKEY" || finish
for p in woocommerce quickbooks supabase; do
    run_test "$p"
    assert_jq "new key alone: $p tests ok" "$BODY" '.ok == true'
done
store supabase "$SB_BODY"
assert_jq "a row written now is sealed with the new key" "$BODY" ".keyId == \"$(key_id "$NEWKEY")\""
stop
serve_start "${SERVE_ENV[@]}" || finish # the old key only
run_test woocommerce
assert_eq "old key only: test still answers 200" 200 "$CODE"
assert_jq "... ok false: the credentials cannot be decrypted, naming the key id" "$BODY" \
    ".ok == false and (.message | contains(\"cannot be decrypted\")) and
     (.message | contains(\"$(key_id "$NEWKEY")\"))"
call GET /api/integrations/woocommerce/status
assert_jq "... recorded as an error; the status itself needs no key" "$BODY" \
    '.configured == true and .status == "error" and .lastTestOk == false'
call GET /health
assert_eq "... and the engine did not crash" 200 "$CODE"
stop

echo "== secret scan"
found=()
hay=("$T/pos.db" "$T/pos.db-wal" "$T/pos.db-shm" "$ANSWERS")
for f in "$T"/serve.*.err "$T"/serve.*.out; do hay+=("$f"); done
for sec in "${SECRETS[@]}"; do
    for f in "${hay[@]}"; do
        [[ -e "$f" ]] || continue
        if grep -a -q -F -- "$sec" "$f"; then found+=("${sec:0:6}... in ${f##*/}"); fi
    done
done
assert_eq "no secret value in the database, its WAL/SHM, the logs or any answer" "" "${found[*]}"
assert_ge "the scan looked at the logs of $SERVE_N server runs and $HTTP_N answers" "$SERVE_N" 5
# the scan can see: a public value does show up in the database and the answers
pub_seen=0
for f in "$T/pos.db" "$T/pos.db-wal"; do
    [[ -e "$f" ]] && grep -a -q -F -- "$QBO_REALM" "$f" && pub_seen=1
done
assert_eq "... while a public value (realm_id) is found in the database file" 1 "$pub_seen"
check "... and in the answers" grep -a -q -F -- "$QBO_REALM" "$ANSWERS"

finish
