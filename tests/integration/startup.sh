#!/usr/bin/env bash
# tests/integration/startup.sh - what `tallysync serve` checks and says at start (issue 10):
# API_HOST as a host name (item 10); the database: no folder made for a typo, the default
# ./data made, the path logged, files 0600 whatever the umask, a loose one warned (item 5);
# a 401 without a token says where the token is, and a .env typo is warned about (item 12);
# a wrong INTEGRATION_ENCRYPTION_KEY on a database with credentials is logged once at start,
# makes GET /ready 503 and puts a warning in every status; the engine still runs (item 6).
# Each check runs the real binary on a free port.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl getent

echo "== API_HOST as a host name"
if getent ahostsv4 localhost >/dev/null; then
    serve_start API_HOST=localhost || finish
    line=$(grep -F '"msg":"listening"' "$SERVE_LOG" | head -n 1)
    assert_jq "API_HOST=localhost listens, naming the host and the address bound" "$line" \
        '.host == "localhost" and (.address | test("^127\\."))'
    http GET /health
    assert_eq "... and answers on 127.0.0.1" 200 "$CODE"
    serve_stop
    serve_start API_HOST=localhost API_ANONYMOUS_TENANT=demo || finish
    HTTP_AUTH=0 http GET /api/integrations
    assert_eq "API_ANONYMOUS_TENANT accepts API_HOST=localhost (loopback by its address)" 200 "$CODE"
    serve_stop
else
    fail "this machine resolves localhost to an IPv4 address (getent ahostsv4 localhost)"
fi
API_HOST=no-such-host.invalid API_PORT=0 run_bin "$T/badhost" serve
assert_eq "a name that does not resolve is refused at start" 1 "$RC"
assert_contains "... naming API_HOST and the name" "$ERR" "API_HOST 'no-such-host.invalid' does not resolve"
assert_not_contains "... before listening" "$ERR" '"msg":"listening"'
API_HOST=0.0.0.0 API_ANONYMOUS_TENANT=demo API_PORT=0 run_bin "$T/anyhost" serve
assert_eq "API_ANONYMOUS_TENANT on 0.0.0.0 is still refused" 1 "$RC"
assert_contains "... saying it needs loopback" "$ERR" "needs API_HOST on loopback"

echo "== the database"
DATABASE_URL="sqlite:$T/nonexistent/dir/x.db" API_PORT=0 run_bin "$T/typo" serve
assert_eq "a DATABASE_URL whose folder does not exist stops serve" 1 "$RC"
assert_contains "... naming the folder" "$ERR" "the folder $T/nonexistent/dir does not exist"
assert_contains "... and DATABASE_URL" "$ERR" "DATABASE_URL"
check "... creating no folder" test ! -e "$T/nonexistent"
DATABASE_URL="sqlite:$T/nonexistent/dir/x.db" run_bin "$T/typo-migrate" migrate
assert_eq "migrate refuses it the same way" 1 "$RC"
check "... creating no folder either" test ! -e "$T/nonexistent"

# DATABASE_URL unset: the default ./data/pos.db, in a fresh working folder, under umask 000
mkdir "$T/fresh"
(cd "$T/fresh" && umask 000 && exec env -u DATABASE_URL API_PORT=0 "$TALLYSYNC_BIN" serve \
    >"$T/fresh.out" 2>"$T/fresh.err") &
fresh=$!
bg_track "$fresh"
fresh_up() { grep -qF '"msg":"listening"' "$T/fresh.err" || pid_gone "$fresh"; }
wait_for 30000 fresh_up
check "with DATABASE_URL unset serve creates ./data and starts" grep -qF '"msg":"listening"' "$T/fresh.err"
dbline=$(grep -F '"msg":"database"' "$T/fresh.err" | head -n 1)
assert_jq "it logs the database's absolute path once at start" "${dbline:-null}" \
    ".path == \"$T/fresh/data/pos.db\""
assert_eq "... in one line" 1 "$(grep -cF '"msg":"database"' "$T/fresh.err")"
assert_eq "./data is private (0700) under umask 000" 700 "$(stat -c %a "$T/fresh/data")"
for f in pos.db pos.db-wal pos.db-shm; do
    assert_eq "$f is 0600 under umask 000" 600 "$(stat -c %a "$T/fresh/data/$f" 2>&1)"
done
assert_not_contains "no permission warning for files it made" "$(cat "$T/fresh.err")" "readable or writable by others"
kill -TERM "$fresh" 2>/dev/null
wait "$fresh" 2>/dev/null

chmod 644 "$T/fresh/data/pos.db"
(cd "$T/fresh" && env -u DATABASE_URL timeout -k 5 60 "$TALLYSYNC_BIN" migrate \
    >"$T/loose.out" 2>"$T/loose.err")
assert_eq "an existing 0644 database still opens" 0 "$?"
ERR=$(cat "$T/loose.err")
assert_contains "... with a warning naming the file and its mode" "$ERR" \
    "$T/fresh/data/pos.db is readable or writable by others (mode 0644)"
assert_contains "... and the fix" "$ERR" "chmod 600"
assert_eq "... left as the operator set it" 644 "$(stat -c %a "$T/fresh/data/pos.db")"

echo "== where the token is, and .env typos"
mkdir "$T/envdir"
printf 'API_PROT=9999\nDATABSE_URL=sqlite:/elsewhere.db\nMY_OWN_TOOL_SETTING=s3cr3t-value\n' >"$T/envdir/.env"
(cd "$T/envdir" && API_PORT=0 exec timeout -k 5 60 "$TALLYSYNC_BIN" serve >"$T/envdir.out" 2>"$T/envdir.err") &
envpid=$!
bg_track "$envpid"
env_up() { grep -qF '"msg":"listening"' "$T/envdir.err" || pid_gone "$envpid"; }
wait_for 30000 env_up
SERVE_PORT=$(serve_listening_port "$T/envdir.err")
BASE="http://127.0.0.1:$SERVE_PORT"
log=$(cat "$T/envdir.err")
assert_contains "an unknown .env variable is warned about, naming the nearest known one" "$log" \
    ".env:1: API_PROT is not a setting of tallysync: ignored (did you mean API_PORT?)"
assert_contains "... each one" "$log" ".env:2: DATABSE_URL is not a setting of tallysync: ignored (did you mean DATABASE_URL?)"
assert_contains "a name like no setting is warned about without a wild guess" "$log" \
    ".env:3: MY_OWN_TOOL_SETTING is not a setting of tallysync: ignored\""
assert_not_contains "... and its value never reaches the log" "$log" "s3cr3t-value"
HTTP_AUTH=0 http GET /api/integrations
assert_eq "a request without a token answers 401" 401 "$CODE"
assert_jq "... saying where the administrator's token is" "$BODY" \
    '.error.code == "unauthorized" and (.error.message | test("API_TOKEN, in the engine.s .env when tools/start.sh started it"))'
assert_jq "... and where tenant tokens come from" "$BODY" '.error.message | test("tallysync token create")'
assert_not_contains "... revealing no token" "$BODY" "$API_TOKEN"
HTTP_AUTH=0 http GET /api/integrations -H "Authorization: Bearer not-the-token-0123456789"
assert_jq "a wrong token still gets the one uniform answer" "$BODY" \
    '.error.message == "a valid bearer token is required"'
kill -TERM "$envpid" 2>/dev/null
wait "$envpid" 2>/dev/null

echo "== a wrong INTEGRATION_ENCRYPTION_KEY"
export DATABASE_URL="sqlite:$T/keys.db"
KEY_A=$INTEGRATION_ENCRYPTION_KEY
KEY_B=$(head -c 32 /dev/urandom | base64)
serve_start || finish
http POST /api/integrations/woocommerce/credentials -H 'Content-Type: application/json' \
    --data '{"store_url": "https://shop.example.com", "consumer_key": "ck_0123456789abcdef0123456789abcdef01234567", "consumer_secret": "cs_0123456789abcdef0123456789abcdef01234567"}'
assert_match "credentials stored under key A" '^20[01]$' "$CODE"
kid_a=$(printf '%s' "$BODY" | jq -r '.keyId // empty')
http GET /ready
assert_eq "/ready is 200 while the key opens them" 200 "$CODE"
serve_stop

serve_start INTEGRATION_ENCRYPTION_KEY="$KEY_B" || finish
log=$(cat "$SERVE_LOG")
assert_eq "a start with another key logs the problem once" 1 \
    "$(grep -cF 'the configured encryption keys do not open the stored credentials' "$SERVE_LOG")"
assert_contains "... naming the stored key id" "$log" "sealed under key id $kid_a"
assert_not_contains "... never the key" "$log" "$KEY_A"
assert_not_contains "... nor the new one" "$log" "$KEY_B"
http GET /ready
assert_eq "/ready answers 503" 503 "$CODE"
assert_jq "... with the reason, naming the key id" "$BODY" \
    ".status == \"not_ready\" and any(.reasons[]; startswith(\"keys: \") and contains(\"$kid_a\"))"
http GET /api/integrations/woocommerce/status
assert_jq "the woocommerce status carries a key_mismatch warning" "$BODY" \
    "any(.warnings[]; .code == \"key_mismatch\" and (.message | contains(\"$kid_a\")))"
http GET /api/integrations
assert_jq "... and so does the list of integrations" "$BODY" \
    'any(.integrations[]; .platform == "woocommerce" and any(.warnings[]; .code == "key_mismatch"))'
http GET /health
assert_eq "the engine still runs (degraded, not refused)" 200 "$CODE"
serve_stop

serve_start INTEGRATION_ENCRYPTION_KEY="$KEY_B" INTEGRATION_ENCRYPTION_KEY_PREVIOUS="$KEY_A" || finish
http GET /ready
assert_eq "with the old key as a previous one /ready is 200 again" 200 "$CODE"
http GET /api/integrations/woocommerce/status
assert_jq "... and the status has no warning" "$BODY" '.warnings == []'
assert_not_contains "... and nothing was logged" "$(cat "$SERVE_LOG")" 'do not open the stored credentials'
serve_stop

finish
