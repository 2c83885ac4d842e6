#!/usr/bin/env bash
# tests/integration/oauth.sh - the QuickBooks OAuth 2.0 connect flow end to end: the real binary
# against tests/mocks/qbo_oauth_mock.py (Intuit's authorize page and token endpoint). Connect
# before credentials (409), the authorization URL and its state (stored hashed only), the public
# callback (bad, replayed, expired, denied states; a refused code -> 502 without secrets), the
# tokens stored in the vault and nowhere else (database file, log, answers), tenants kept apart,
# and lib/quickbooks_oauth.lua's exchange and refresh at the Lua level.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl python3

ENVELOPE='(.error | type == "object") and (.error | has("code") and has("message") and has("details"))'
CB=/api/integrations/quickbooks/callback
CLIENT_ID="ABtestClient$RANDOM$RANDOM"
CLIENT_SECRET="csecret-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
# Where Intuit sends the browser. The test plays the browser and calls the engine itself, so the
# URI need not be this engine's address (as behind a proxy); only its path must be the route.
REDIRECT_URI="https://books.example.test:8443$CB"
DB="$T/pos.db"
ANSWERS="$T/answers.txt" # every answer body, for the leak scan

# Every answer goes through here so the leak scan sees it.
call() {
    http "$@"
    printf '%s\n' "$BODY" >>"$ANSWERS"
}

# urlq URL: the query of URL as a JSON object (first value of each name, decoded).
urlq() {
    python3 -c 'import json,sys,urllib.parse as u
s=u.urlsplit(sys.argv[1]); q=u.parse_qs(s.query, keep_blank_values=True)
print(json.dumps({"base": s.scheme+"://"+s.netloc+s.path, **{k: v[0] for k, v in q.items()}}))' "$1"
}

sha256hex() { printf '%s' "$1" | sha256sum | awk '{print $1}'; }

db_grep() { # NEEDLE: does the database (file and WAL) contain it?
    grep -qaF -- "$1" "$DB" "$DB-wal" 2>/dev/null
}

mock_calls() { curl -s "$MOCK/mock/issued" | jq -r .token_calls; }

# follow URL [EXTRA_QUERY]: play the user approving at the authorize page; prints the Location
# the mock redirects to (empty when it refused).
follow() {
    curl -s -o /dev/null -w "%{redirect_url}" --max-time 10 "$1${2:-}"
}

# callback_from LOCATION [CURL_ARGS...]: call the engine's callback with LOCATION's query.
callback_from() {
    local loc=$1
    shift
    HTTP_AUTH=${HTTP_AUTH:-0} call GET "$CB?${loc#*\?}" "$@"
}

echo "== the mock token endpoint"
python3 "$ENG_SOURCE_DIR/tests/mocks/qbo_oauth_mock.py" --client-id "$CLIENT_ID" \
    --client-secret "$CLIENT_SECRET" --redirect-uri "$REDIRECT_URI" \
    --realm-id 9130357766900456 >"$T/mock.out" 2>"$T/mock.err" &
bg_track $!
mock_ready() { grep -q '^ready$' "$T/mock.out"; }
wait_for 10000 mock_ready || { fail "the OAuth mock starts" "$(cat "$T/mock.err")"; finish; }
MOCK="http://127.0.0.1:$(sed -n 's/^port=//p' "$T/mock.out")"
pass "the OAuth mock listens at $MOCK"

run_bin "$T/tok-b" token create --tenant shop-b
TOKEN_B=$(printf '%s' "$OUT" | head -n 1)

serve_start QUICKBOOKS_TOKEN_URL="$MOCK/oauth2/v1/tokens/bearer" \
    QUICKBOOKS_AUTH_URL="$MOCK/connect/oauth2" OAUTH_REDIRECT_URI="$REDIRECT_URI" \
    CONNECTOR_TIMEOUT_MS=10000 || finish

http GET /api/openapi.json
OPENAPI=$BODY
HAVE_CRED_ROUTE=0
printf '%s' "$OPENAPI" | jq -e '.paths["/api/integrations/{platform}/credentials"].post' \
    >/dev/null 2>&1 && HAVE_CRED_ROUTE=1
HAVE_STATUS_ROUTE=0
printf '%s' "$OPENAPI" | jq -e '.paths["/api/integrations/{platform}/status"].get' \
    >/dev/null 2>&1 && HAVE_STATUS_ROUTE=1

# seed TENANT REALM: store QuickBooks credentials (client id and secret of the mock's app)
# through POST /api/integrations/quickbooks/credentials.
seed() {
    local tenant=$1 realm=$2
    local body
    body=$(jq -nc --arg id "$CLIENT_ID" --arg s "$CLIENT_SECRET" --arg r "$realm" \
        '{client_id: $id, client_secret: $s, realm_id: $r, environment: "sandbox"}')
    call POST /api/integrations/quickbooks/credentials -H "X-Tenant-ID: $tenant" \
        -H 'Content-Type: application/json' --data-binary "$body"
    [[ "$CODE" == 20[01] ]] || { echo "storing credentials failed: $CODE $BODY" >&2; return 1; }
}

echo "== connect"
HTTP_AUTH=0 call GET /api/integrations/quickbooks/connect
assert_eq "connect without a token: 401" 401 "$CODE"
call GET /api/integrations/quickbooks/connect
assert_eq "connect before credentials are stored: 409" 409 "$CODE"
assert_jq "... naming client_id and client_secret" "$BODY" \
    "$ENVELOPE and .error.code == \"credentials_missing\" and (.error.message | test(\"client_id and client_secret\"))"

((HAVE_CRED_ROUTE)) || { fail "POST /api/integrations/{platform}/credentials is routed"; finish; }
check "store credentials for tenant default" seed default 1111
check "store credentials for tenant shop-b" seed shop-b 2222

call GET /api/integrations/quickbooks/connect
assert_eq "connect with credentials: 200" 200 "$CODE"
STATE1=$(printf '%s' "$BODY" | jq -r .state)
URL1=$(printf '%s' "$BODY" | jq -r .authorizationUrl)
EXP1=$(printf '%s' "$BODY" | jq -r .expiresAt)
Q=$(urlq "$URL1")
assert_eq "the URL is QUICKBOOKS_AUTH_URL" "$MOCK/connect/oauth2" "$(jq -r .base <<<"$Q")"
assert_eq "... with client_id" "$CLIENT_ID" "$(jq -r .client_id <<<"$Q")"
assert_eq "... response_type=code" code "$(jq -r .response_type <<<"$Q")"
assert_eq "... the accounting scope" com.intuit.quickbooks.accounting "$(jq -r .scope <<<"$Q")"
assert_eq "... redirect_uri = OAUTH_REDIRECT_URI" "$REDIRECT_URI" "$(jq -r .redirect_uri <<<"$Q")"
assert_contains "... URL-encoded" "$URL1" "redirect_uri=https%3A%2F%2Fbooks.example.test%3A8443%2Fapi%2Fintegrations%2Fquickbooks%2Fcallback&"
assert_eq "... and the answer's state" "$STATE1" "$(jq -r .state <<<"$Q")"
assert_match "the state is 32 random bytes in base64url" '^[A-Za-z0-9_-]{43}$' "$STATE1"
exp_s=$(date -u -d "$EXP1" +%s 2>/dev/null || echo 0)
left=$((exp_s - $(date -u +%s)))
check "it expires in about 10 minutes ($left s)" test "$left" -ge 590 -a "$left" -le 601
if db_grep "$STATE1"; then fail "the plain state is in the database file"; else pass "the plain state is not in the database file"; fi
row=$(sq "SELECT tenant_id || '|' || platform || '|' || (used_at IS NULL) FROM oauth_states WHERE state_hash = '$(sha256hex "$STATE1")'")
assert_eq "only its SHA-256 is stored, with tenant and platform, unused" "default|quickbooks|1" "$row"
call GET /api/integrations/quickbooks/connect
STATE_OTHER=$(printf '%s' "$BODY" | jq -r .state)
assert_ne "each connect makes a new state" "$STATE1" "$STATE_OTHER"

echo "== callback: refusals before any exchange"
LOC1=$(follow "$URL1")
LQ=$(urlq "$LOC1")
assert_eq "the mock's authorize page approves and redirects to OAUTH_REDIRECT_URI" "$REDIRECT_URI" "$(jq -r .base <<<"$LQ")"
CODE1=$(jq -r .code <<<"$LQ")
REALM1=$(jq -r .realmId <<<"$LQ")
HTTP_AUTH=0 call GET "$CB?code=$CODE1&state=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d =)&realmId=$REALM1"
assert_eq "a callback with an unknown state: 400" 400 "$CODE"
assert_jq "... invalid_state" "$BODY" "$ENVELOPE and .error.code == \"invalid_state\""
HTTP_AUTH=0 call GET "$CB?code=$CODE1&realmId=$REALM1"
assert_eq "a callback without state: 400 invalid_state" 400 "$CODE"
HTTP_AUTH=0 call GET "$CB?state=$STATE1&realmId=$REALM1"
assert_eq "a callback without code: 400" 400 "$CODE"
assert_jq "... missing_parameter" "$BODY" ".error.code == \"missing_parameter\""
HTTP_AUTH=0 call GET "$CB?state=$STATE1&code=$CODE1"
assert_eq "a callback without realmId: 400" 400 "$CODE"
HTTP_AUTH=0 call GET "$CB?code=$CODE1&state=$STATE1&realmId=12ab"
assert_eq "a realmId that is not a company id: 400" 400 "$CODE"
assert_jq "... invalid_parameter" "$BODY" ".error.code == \"invalid_parameter\""
HTTP_AUTH=0 call HEAD "$CB?${LOC1#*\?}"
assert_eq "a HEAD of the callback: 405 (it must not burn the state)" 405 "$CODE"
call POST "$CB?${LOC1#*\?}"
assert_eq "a POST to the callback: 405" 405 "$CODE"
assert_eq "none of these reached the token endpoint" 0 "$(mock_calls)"

echo "== callback: the good state"
callback_from "$LOC1"
assert_eq "the callback with the good state and no bearer token: 200" 200 "$CODE"
assert_jq "... connected, with the realm id" "$BODY" ".connected == true and .realmId == \"$REALM1\""
assert_eq "one token call was made" 1 "$(mock_calls)"
ISSUED=$(curl -s "$MOCK/mock/issued")
AT1=$(jq -r '.access_tokens[0]' <<<"$ISSUED")
RT1=$(jq -r '.refresh_tokens[0]' <<<"$ISSUED")
row=$(sq "SELECT external_account_id || '|' || status || '|' || json_extract(public_fields, '\$.realm_id') FROM integration_credentials WHERE tenant_id = 'default' AND platform = 'quickbooks'")
assert_eq "the vault row: realm id as external account id, status connected, public realm_id" "$REALM1|connected|$REALM1" "$row"
row=$(sq "SELECT external_account_id FROM integration_credentials WHERE tenant_id = 'shop-b'")
assert_eq "shop-b's row is untouched" 2222 "$row"
((HAVE_STATUS_ROUTE)) || fail "GET /api/integrations/{platform}/status is routed"
call GET /api/integrations/quickbooks/status
assert_eq "GET /api/integrations/quickbooks/status: 200" 200 "$CODE"
assert_jq "... configured, status connected, with realm_id" "$BODY" \
    ".configured == true and .status == \"connected\" and .fields.realm_id == \"$REALM1\""
assert_jq "... the tokens shown as set, never as values" "$BODY" \
    "(.fields.access_token | test(\"^[*]+$\")) and (.fields.refresh_token | test(\"^[*]+$\"))"

# The stored credentials, decrypted the way the engine does: tokens merged, other fields kept.
cat >"$T/peek.lua" <<'EOF'
local crypto = require "engine.crypto"
local db = require "engine.db"
local key_b64, tenant = ...
local key = assert(crypto.base64_decode(key_b64))
local r = assert(db.row("SELECT ciphertext, key_id FROM integration_credentials"
  .. " WHERE tenant_id = ? AND platform = 'quickbooks'", tenant))
local pt = assert(crypto.open(key, r.ciphertext,
  "tallysync-cred-v1\0" .. tenant .. "\0quickbooks\0" .. r.key_id))
print(pt)
print(db.value("SELECT public_fields FROM integration_credentials"
  .. " WHERE tenant_id = ? AND platform = 'quickbooks'", tenant))
EOF
# peek: the secret part, then the public part; CREDS: the two merged (secret values win)
run_bin "$T/peek" run "$T/peek.lua" "$INTEGRATION_ENCRYPTION_KEY" default
CREDS=$(printf '%s\n' "$OUT" | jq -sc '.[1] + .[0]')
assert_jq "the secret part holds only client_secret and the tokens" "$(head -n 1 <<<"$OUT")" \
    'keys == ["access_token", "client_secret", "refresh_token"]'
assert_jq "the vault holds the new access and refresh tokens" "$CREDS" \
    ".access_token == \"$AT1\" and .refresh_token == \"$RT1\""
assert_jq "... the realm id from the callback, client id, secret and environment kept" "$CREDS" \
    ".realm_id == \"$REALM1\" and .client_id == \"$CLIENT_ID\" and .client_secret == \"$CLIENT_SECRET\" and .environment == \"sandbox\""
assert_jq "... and ISO-8601 UTC expiry times (1 h, ~101 days)" "$CREDS" \
    '(.access_token_expires_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$")) and (.refresh_token_expires_at | test("Z$"))'
at_s=$(date -u -d "$(jq -r .access_token_expires_at <<<"$CREDS")" +%s 2>/dev/null || echo 0)
left=$((at_s - $(date -u +%s)))
check "access_token_expires_at is now + expires_in ($left s)" test "$left" -ge 3590 -a "$left" -le 3601

echo "== callback: replayed, expired, refused"
callback_from "$LOC1"
assert_eq "replaying the same callback: 400" 400 "$CODE"
assert_jq "... invalid_state" "$BODY" ".error.code == \"invalid_state\""
assert_eq "... and no second token call" 1 "$(mock_calls)"

call GET /api/integrations/quickbooks/connect
STATE2=$(printf '%s' "$BODY" | jq -r .state)
LOC2=$(follow "$(printf '%s' "$BODY" | jq -r .authorizationUrl)")
sq "UPDATE oauth_states SET expires_at = '2000-01-01T00:00:00.000Z' WHERE state_hash = '$(sha256hex "$STATE2")'"
callback_from "$LOC2"
assert_eq "an expired state: 400" 400 "$CODE"
assert_jq "... invalid_state" "$BODY" ".error.code == \"invalid_state\""

call GET /api/integrations/quickbooks/connect
STATE3=$(printf '%s' "$BODY" | jq -r .state)
BADCODE="never-issued-code-$RANDOM"
HTTP_AUTH=0 call GET "$CB?code=$BADCODE&state=$STATE3&realmId=$REALM1"
assert_eq "a code the token endpoint refuses: 502" 502 "$CODE"
assert_jq "... token_exchange_failed naming invalid_grant" "$BODY" \
    ".error.code == \"token_exchange_failed\" and .error.message == \"QuickBooks refused the authorization code (invalid_grant)\""
assert_not_contains "... without the code" "$BODY" "$BADCODE"
assert_not_contains "... without the client secret" "$BODY" "$CLIENT_SECRET"
call GET /api/integrations/quickbooks/connect
STATE4=$(printf '%s' "$BODY" | jq -r .state)
HTTP_AUTH=0 call GET "$CB?code=$CODE1&state=$STATE4&realmId=$REALM1"
assert_eq "an authorization code already exchanged (fresh state): 502" 502 "$CODE"
assert_jq "... invalid_grant" "$BODY" '.error.message | test("invalid_grant")'
run_bin "$T/peek2" run "$T/peek.lua" "$INTEGRATION_ENCRYPTION_KEY" default
assert_jq "a refused exchange leaves the stored tokens as they were" "$(head -n 1 <<<"$OUT")" \
    ".access_token == \"$AT1\""

call GET /api/integrations/quickbooks/connect
STATE5=$(printf '%s' "$BODY" | jq -r .state)
LOC5=$(follow "$(printf '%s' "$BODY" | jq -r .authorizationUrl)" "&deny=1")
callback_from "$LOC5"
assert_eq "the user refuses at Intuit (?error=access_denied): 400" 400 "$CODE"
assert_jq "... naming access_denied" "$BODY" \
    ".error.code == \"authorization_denied\" and (.error.message | test(\"access_denied\"))"
HTTP_AUTH=0 call GET "$CB?code=$CODE1&state=$STATE5&realmId=$REALM1"
assert_eq "... and that state is used up" 400 "$CODE"

echo "== tenants"
HTTP_AUTH=0 call GET /api/integrations/quickbooks/connect -H "Authorization: Bearer $TOKEN_B"
assert_eq "a tenant token starts its own tenant's connect: 200" 200 "$CODE"
STATE_B=$(printf '%s' "$BODY" | jq -r .state)
URL_B=$(printf '%s' "$BODY" | jq -r .authorizationUrl)
row=$(sq "SELECT tenant_id FROM oauth_states WHERE state_hash = '$(sha256hex "$STATE_B")'")
assert_eq "... the state carries tenant shop-b" shop-b "$row"
HTTP_AUTH=0 call GET /api/integrations/quickbooks/connect -H "Authorization: Bearer $TOKEN_B" \
    -H "X-Tenant-ID: default"
assert_eq "a tenant token cannot start another tenant's connect: 403" 403 "$CODE"

call GET /api/integrations/quickbooks/connect # tenant default
URL_A=$(printf '%s' "$BODY" | jq -r .authorizationUrl)
A_BEFORE=$(sq "SELECT hex(ciphertext) FROM integration_credentials WHERE tenant_id = 'default'")
B_BEFORE=$(sq "SELECT hex(ciphertext) FROM integration_credentials WHERE tenant_id = 'shop-b'")
LOC_B=$(follow "$URL_B")
# shop-b's state completes with shop-b's realm; the caller's headers name no tenant that counts
LOC_B=${LOC_B/realmId=9130357766900456/realmId=4620816365000000}
callback_from "$LOC_B" -H "Authorization: Bearer $API_TOKEN" -H "X-Tenant-ID: default"
assert_eq "shop-b's state (even with the admin's token and X-Tenant-ID: default): 200" 200 "$CODE"
row=$(sq "SELECT tenant_id || '=' || external_account_id FROM integration_credentials ORDER BY tenant_id")
assert_eq "... updates shop-b only" "$(printf 'default=%s\nshop-b=4620816365000000' "$REALM1")" "$row"
A_AFTER=$(sq "SELECT hex(ciphertext) FROM integration_credentials WHERE tenant_id = 'default'")
assert_eq "... tenant default's ciphertext is unchanged" "$A_BEFORE" "$A_AFTER"
B_AFTER=$(sq "SELECT hex(ciphertext) FROM integration_credentials WHERE tenant_id = 'shop-b'")
assert_ne "... shop-b's ciphertext changed" "$B_BEFORE" "$B_AFTER"
LOC_A=$(follow "$URL_A")
HTTP_AUTH=0 callback_from "$LOC_A" -H "Authorization: Bearer $TOKEN_B"
assert_eq "tenant default's state with shop-b's token: 200" 200 "$CODE"
row=$(sq "SELECT group_concat(tenant_id || '=' || external_account_id, ',') FROM integration_credentials")
assert_eq "... updates tenant default only" "default=$REALM1,shop-b=4620816365000000" "$row"

echo "== lib/quickbooks_oauth.lua at the Lua level (exchange, refresh)"
NEWCODE=$(curl -s -X POST "$MOCK/mock/codes" | jq -r .code)
cat >"$T/lua_oauth.lua" <<'EOF'
local oauth = require "lib.quickbooks_oauth"
local token_url, client_id, client_secret, code, redirect_uri = ...
local base = { client_id = client_id, client_secret = client_secret, realm_id = "1", environment = "sandbox" }
local function out(k, v) print(k .. "=" .. tostring(v)) end
local c, err, ecode = oauth.exchange{ credentials = base, code = code, redirect_uri = redirect_uri,
  realm_id = "77", token_url = token_url }
out("exchange_ok", c ~= nil)
out("exchange_realm", c and c.realm_id)
out("exchange_env", c and c.environment)
out("base_untouched", base.access_token == nil)
local r, rerr, rcode = oauth.refresh{ credentials = c, token_url = token_url }
out("refresh_ok", r ~= nil)
out("refresh_new_tokens", r ~= nil and r.access_token ~= c.access_token and r.refresh_token ~= c.refresh_token)
out("refresh_keeps", r ~= nil and r.realm_id == "77" and r.client_secret == client_secret)
out("refresh_fresh", r ~= nil and not oauth.needs_refresh(r))
local dead = { client_id = client_id, client_secret = client_secret, refresh_token = "dead-refresh-token" }
local n, m, k = oauth.refresh{ credentials = dead, token_url = token_url }
out("dead_nil", n == nil)
out("dead_code", k)
out("dead_msg", m)
out("dead_no_token", not m:find("dead-refresh-token", 1, true))
local bad = { client_id = client_id, client_secret = "wrong", refresh_token = r and r.refresh_token or "x" }
local n2, m2, k2 = oauth.refresh{ credentials = bad, token_url = token_url }
out("badclient_code", k2)
out("badclient_no_secret", n2 == nil and not m2:find("wrong", 1, true))
local n3, m3, k3 = oauth.refresh{ credentials = c, token_url = "http://127.0.0.1:9/nothing", timeout_ms = 2000 }
out("down_code", k3)
out("expired_needs", oauth.needs_refresh({ access_token = "x", access_token_expires_at = "2001-01-01T00:00:00.000Z" }))
out("missing_needs", oauth.needs_refresh({}))
local ok = pcall(oauth.refresh, { credentials = { client_id = "a" } })
out("bad_args_raise", not ok)
EOF
run_bin "$T/lua" run "$T/lua_oauth.lua" "$MOCK/oauth2/v1/tokens/bearer" "$CLIENT_ID" \
    "$CLIENT_SECRET" "$NEWCODE" "$REDIRECT_URI"
assert_eq "the Lua run exits 0" 0 "$RC"
[[ "$RC" == 0 ]] || fail "lua run stderr" "$ERR"
luav() { printf '%s\n' "$OUT" | sed -n "s/^$1=//p"; }
assert_eq "exchange() answers merged credentials" true "$(luav exchange_ok)"
assert_eq "... with realm_id from the callback" 77 "$(luav exchange_realm)"
assert_eq "... keeping other fields" sandbox "$(luav exchange_env)"
assert_eq "... on a copy" true "$(luav base_untouched)"
assert_eq "refresh() (grant_type=refresh_token) answers new credentials" true "$(luav refresh_ok)"
assert_eq "... with a new access and refresh token" true "$(luav refresh_new_tokens)"
assert_eq "... keeping the other fields" true "$(luav refresh_keeps)"
assert_eq "... and a fresh expiry (needs_refresh false)" true "$(luav refresh_fresh)"
assert_eq "a dead refresh token: nil" true "$(luav dead_nil)"
assert_eq "... code invalid_grant" invalid_grant "$(luav dead_code)"
assert_eq "... a clear message" "QuickBooks refused the refresh token (invalid_grant)" "$(luav dead_msg)"
assert_eq "... without the token" true "$(luav dead_no_token)"
assert_eq "a wrong client secret: invalid_client" invalid_client "$(luav badclient_code)"
assert_eq "... without the secret" true "$(luav badclient_no_secret)"
assert_eq "an unreachable endpoint: engine.http's code" connect "$(luav down_code)"
assert_eq "needs_refresh: an expired token" true "$(luav expired_needs)"
assert_eq "needs_refresh: no token" true "$(luav missing_needs)"
assert_eq "wrong arguments raise" true "$(luav bad_args_raise)"

echo "== a slow token endpoint holds no server thread; CONNECTOR_TIMEOUT_MS bounds it"
serve_stop
assert_eq "serve stops cleanly" 0 "$STOP_RC"
serve_start QUICKBOOKS_TOKEN_URL="$MOCK/oauth2/v1/tokens/bearer" \
    QUICKBOOKS_AUTH_URL="$MOCK/connect/oauth2" OAUTH_REDIRECT_URI="$REDIRECT_URI" \
    CONNECTOR_TIMEOUT_MS=3000 || finish
call GET /api/integrations/quickbooks/connect
STATE_SLOW=$(printf '%s' "$BODY" | jq -r .state)
SLOWCODE=$(curl -s -X POST "$MOCK/mock/codes?delay_ms=8000" | jq -r .code)
start=$(now_ms)
curl -s --max-time 20 -o "$T/slow.body" -w '%{http_code}' \
    "$BASE$CB?code=$SLOWCODE&state=$STATE_SLOW&realmId=$REALM1" >"$T/slow.code" &
slow_pid=$!
bg_track "$slow_pid"
sleep 0.3
worst=0
for _ in 1 2 3 4 5 6; do # more requests than the server has threads (2)
    t0=$(now_ms)
    HTTP_AUTH=0 http GET /health
    dt=$(($(now_ms) - t0))
    ((dt > worst)) && worst=$dt
    [[ "$CODE" == 200 ]] || worst=99999
done
# a blocked thread would hold /health for ~2.7 s (until CONNECTOR_TIMEOUT_MS); the bound leaves
# a loaded CI machine room and still tells the two apart
assert_lt "/health answers at once while the exchange waits (worst ${worst} ms)" "$worst" 1500
wait "$slow_pid"
elapsed=$(($(now_ms) - start))
assert_eq "the slow exchange ends in 504" 504 "$(cat "$T/slow.code")"
assert_jq "... token_exchange_timeout" "$(cat "$T/slow.body")" '.error.code == "token_exchange_timeout"'
printf '%s\n' "$(cat "$T/slow.body")" >>"$ANSWERS"
assert_lt "... within CONNECTOR_TIMEOUT_MS (3000 ms) plus slack, not the 8 s the endpoint takes: ${elapsed} ms" "$elapsed" 6500
run_bin "$T/peek3" run "$T/peek.lua" "$INTEGRATION_ENCRYPTION_KEY" default
assert_jq "a timed-out exchange keeps the stored tokens" "$(head -n 1 <<<"$OUT")" \
    ".access_token != null and .access_token != \"\""

echo "== nothing secret leaked"
serve_stop
assert_eq "serve stops cleanly" 0 "$STOP_RC"
ISSUED=$(curl -s "$MOCK/mock/issued")
mapfile -t SECRETS < <(jq -r '.access_tokens[], .refresh_tokens[], .codes[]' <<<"$ISSUED")
SECRETS+=("$CLIENT_SECRET" "$BADCODE")
SECRETS+=("$SLOWCODE")
STATES=("$STATE1" "$STATE2" "$STATE3" "$STATE4" "$STATE5" "$STATE_B" "$STATE_OTHER" "$STATE_SLOW")
assert_ge "the mock issued tokens and codes to scan for" "${#SECRETS[@]}" 12
leaks=()
for s in "${SECRETS[@]}" "${STATES[@]}"; do
    [[ -n "$s" && "$s" != null ]] || continue
    db_grep "$s" && leaks+=("database: ${s:0:12}...")
    grep -qaF -- "$s" "$T"/serve.*.err "$T"/serve.*.out && leaks+=("log: ${s:0:12}...")
done
# (a connect answer shows its own state, by design; nothing else secret may be in an answer)
for s in "${SECRETS[@]}"; do
    [[ -n "$s" && "$s" != null ]] || continue
    grep -qaF -- "$s" "$ANSWERS" && leaks+=("answer: ${s:0:12}...")
done
assert_eq "no token, code, client secret or state in the database file, the log or any answer" \
    "" "${leaks[*]}"
assert_contains "the log records the connection (tenant and realm only)" \
    "$(cat "$T"/serve.*.err)" '"msg":"quickbooks oauth: connected"'

finish
