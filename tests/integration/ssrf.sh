#!/usr/bin/env bash
# tests/integration/ssrf.sh - tenant-supplied URLs (a Supabase `url`, a WooCommerce `store_url`)
# never reach loopback (issue 12, item 7), with ALLOW_PRIVATE_TARGETS unset (its default): the
# engine's own port, an open and a closed port on 127.0.0.2 all give the same answer naming the
# rule, and the open port never sees a connection. Then, with the operator allowing 127.0.0.1
# only, a mock there that redirects to 127.0.0.2 is followed by engine.http and refused at the
# hop. Other ranges (private, link-local, metadata) are unit.test_httpc's and unit.test_netaddr's,
# through a stubbed resolver: no packet ever leaves loopback.
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl jq python3

# A listener on 127.0.0.2 that counts the connections it accepts (there must be none), and a
# server on 127.0.0.1 that answers every request with a redirect to it.
cat >"$T/listen.py" <<'EOF'
import http.server, socket, sys, threading
count_file, redirect_to = sys.argv[1], None
watch = socket.socket()
watch.bind(("127.0.0.2", 0))
watch.listen(16)
def count():
    n = 0
    while True:
        c, _ = watch.accept()
        c.close()
        n += 1
        open(count_file, "w").write(str(n))
threading.Thread(target=count, daemon=True).start()
class Redirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", "http://127.0.0.2:%d/inside" % watch.getsockname()[1])
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
print(watch.getsockname()[1], srv.server_address[1], flush=True)
srv.serve_forever()
EOF
echo 0 >"$T/count"
python3 "$T/listen.py" "$T/count" >"$T/listen.out" 2>"$T/listen.err" &
bg_track $!
wait_for 10000 test -s "$T/listen.out" || { fail "the listeners start" "$(cat "$T/listen.err")"; finish; }
read -r OPEN REDIR <"$T/listen.out"

echo "== ALLOW_PRIVATE_TARGETS unset: tenant URLs on loopback are refused"
serve_start ALLOW_PRIVATE_TARGETS= || finish
KEY="sb-key-$RANDOM$RANDOM"
TENANT=(-H 'X-Tenant-ID: ssrf-tenant')

# supabase_test URL: store the URL as tenant ssrf-tenant's (the administrator's token) and run the connection test; sets
# MSG to the test's message with URL replaced by "URL" (to compare answers across targets).
supabase_test() {
    http POST /api/integrations/supabase/credentials "${TENANT[@]}" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"url\": \"$1\", \"service_role_key\": \"$KEY\"}"
    assert_match "store supabase url $1" '^20[01]$' "$CODE"
    http POST /api/integrations/supabase/test "${TENANT[@]}"
    TEST_CODE=$CODE
    TEST_BODY=$BODY
    MSG=$(jq -r '.message // .error.message // empty' <<<"$BODY")
    MSG=${MSG//"$1"/URL}
}

for url in "http://127.0.0.1:$SERVE_PORT" "http://127.0.0.2:$OPEN" "http://127.0.0.2:1" \
    "http://localhost:$SERVE_PORT" "http://[::ffff:127.0.0.1]:$SERVE_PORT"; do
    supabase_test "$url"
    assert_eq "$url: the test answers (200)" 200 "$TEST_CODE"
    assert_jq "$url: the test fails" "$TEST_BODY" '.ok == false'
    assert_contains "$url: refused, naming the rule" "$MSG" "refused: the target is a loopback address"
    assert_contains "$url: ... and the setting that allows it" "$MSG" "ALLOW_PRIVATE_TARGETS"
    assert_not_contains "$url: ... never the key" "$TEST_BODY" "$KEY"
    [[ -z "${FIRST_MSG:-}" ]] && FIRST_MSG=$MSG
    assert_eq "$url: the same answer as every other loopback target (no port oracle)" \
        "$FIRST_MSG" "$MSG"
done
assert_eq "the open port on 127.0.0.2 never saw a connection" 0 "$(cat "$T/count")"

http POST /api/integrations/woocommerce/credentials "${TENANT[@]}" \
    -H 'Content-Type: application/json' --data-binary "{\"store_url\": \"http://127.0.0.2:$OPEN\",
    \"consumer_key\": \"ck_$RANDOM$RANDOM\", \"consumer_secret\": \"cs_$RANDOM$RANDOM\"}"
assert_match "store woocommerce store_url on 127.0.0.2" '^20[01]$' "$CODE"
http POST /api/integrations/woocommerce/test "${TENANT[@]}"
assert_jq "woocommerce on 127.0.0.2: the test fails" "$BODY" '.ok == false'
assert_contains "... refused, naming the rule" "$BODY" "loopback address"
assert_eq "... and 127.0.0.2 saw no connection" 0 "$(cat "$T/count")"
serve_stop

echo "== ALLOW_PRIVATE_TARGETS=127.0.0.1: an allowed server's redirect to 127.0.0.2 is refused"
cat >"$T/redirect.lua" <<'EOF'
local http = require "engine.http"
local base = ...
local resp, err, code = http.get(base .. "/start")
print("plain: " .. tostring(resp and resp.status) .. " " .. tostring(code))
resp, err, code = http.get(base .. "/start", { follow_redirects = true })
print("followed: " .. tostring(resp and resp.status) .. " " .. tostring(code) .. " " .. tostring(err))
EOF
ALLOW_PRIVATE_TARGETS=127.0.0.1 run_bin "$T/redir" run "$T/redirect.lua" "http://127.0.0.1:$REDIR"
assert_contains "the allowed server answers (not followed: 302)" "$OUT" "plain: 302 nil"
assert_contains "followed to 127.0.0.2: refused" "$OUT" "followed: nil refused"
assert_contains "... naming the rule" "$OUT" "loopback address"
assert_eq "... and 127.0.0.2 saw no connection" 0 "$(cat "$T/count")"

echo "== a malformed ALLOW_PRIVATE_TARGETS stops the engine, naming it"
ALLOW_PRIVATE_TARGETS="10.0.0.0/33" run_bin "$T/bad" run "$T/redirect.lua" "http://127.0.0.1:$REDIR"
assert_ne "exit status non-zero" 0 "$RC"
assert_contains "... naming the variable" "$ERR" "ALLOW_PRIVATE_TARGETS"

finish
