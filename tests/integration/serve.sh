#!/usr/bin/env bash
# tests/integration/serve.sh - `tallysync serve` over real HTTP: /health, /ready, /api/scripts
# (mapping and libraries with their sha256), the error envelope on unknown routes, 405 with
# Allow, 413 over 1 MiB, a dry-run through the API, a second serve on a taken port, SIGTERM
# (exit 0 within 5 s, also with a runaway request in flight) and a bad API_PORT; an idle serve
# has not loaded libcurl (nor GnuTLS with ENG_MHD_STATIC). Serves copies
# of scripts/ and mappings/ so that nobody's concurrent edit changes the hashes under the test.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl sha256sum

FIX="$FIXTURES_DIR/woocommerce"
REAL=woo_order_to_qbo_invoice
copy_script_dirs

# envelope JSON: {"error":{"code":string,"message":string,"details":...}}
ENVELOPE='(.error | type == "object") and (.error | has("code") and has("message") and has("details"))
          and (.error.code | type == "string") and (.error.message | type == "string")'

serve_start || finish
pid=$SERVE_PID
assert_match "the listening log line carries a numeric port" '^[0-9]+$' "$SERVE_PORT"
assert_ne "API_PORT=0 picked a real port" 0 "$SERVE_PORT"
check "the database file was created and migrated at start" test -s "$T/pos.db"

echo "== /health and /ready"
http GET /health
assert_eq "GET /health answers 200" 200 "$CODE"
assert_jq "GET /health is JSON with status ok" "$BODY" '.status == "ok"'
assert_match "GET /health is served as JSON" '^application/json' "$(header Content-Type)"
http GET /ready
assert_eq "GET /ready answers 200" 200 "$CODE"
assert_jq "GET /ready is JSON" "$BODY" 'type == "object"'
# issue 14 (idle footprint): libcurl and its thirty-odd libraries are loaded by the first
# outbound request (adapt/httpc_load.c; http_module.sh makes them), not by a start
maps=$(cat "/proc/$pid/maps" 2>/dev/null)
check "the running serve's memory map is readable" test -n "$maps"
check "a started, idle serve has not loaded libcurl" \
    bash -c '! grep -q "libcurl\.so" <<<"$1"' _ "$maps"
# ... nor libpq, which only a PostgreSQL DATABASE_URL loads (adapt/store_pg_load.c)
check "a started, idle serve on SQLite has not loaded libpq" \
    bash -c '! grep -q "libpq\.so" <<<"$1"' _ "$maps"
# ... nor mimalloc, which only states that map records load (engine/lua/vm.c: dlopen on the
# first; dryrun_stream.sh sees a dry run load it)
check "a started, idle serve has not loaded mimalloc" \
    bash -c '! grep -q "libmimalloc" <<<"$1"' _ "$maps"
# ... nor GnuTLS, which Debian's libmicrohttpd brings as a shared library: linked statically
# (ENG_MHD_STATIC, on in a build whose CMake cache says so) the engine maps none of it
if grep -q '^ENG_MHD_STATIC:BOOL=ON' "$(dirname "$TALLYSYNC_BIN")/CMakeCache.txt" 2>/dev/null; then
    check "a serve with libmicrohttpd linked statically maps no GnuTLS" \
        bash -c '! grep -qE "libgnutls|libmicrohttpd\.so" <<<"$1"' _ "$maps"
fi

echo "== /api/scripts"
http GET /api/scripts
assert_eq "GET /api/scripts answers 200" 200 "$CODE"
scripts=$BODY
assert_jq "it lists scripts with an error count" "$scripts" \
    '(.scripts | type == "array") and .errors == 0'
for f in "mappings/$REAL.lua" scripts/lib/dryrun.lua scripts/lib/mapping.lua; do
    case $f in
    mappings/*) disk="$MAPPINGS_DIR/${f#mappings/}" kind=mapping ;;
    *) disk="$SCRIPTS_DIR/${f#scripts/}" kind=library ;;
    esac
    sha=$(sha256sum "$disk" | cut -d' ' -f1)
    assert_jq "it lists $f as an active $kind with the file's sha256" "$scripts" \
        ".scripts | any(.path == \"$f\" and .kind == \"$kind\" and .active == true
                        and .sha256 == \"$sha\" and .error == null)"
done
nlua=$(find "$SCRIPTS_DIR" "$MAPPINGS_DIR" -name '*.lua' -not -name '.*' | wc -l)
assert_jq "it lists every .lua file of both folders ($nlua)" "$scripts" \
    ".scripts | length == $nlua"

echo "== errors and methods"
http GET /api/no/such/route
assert_eq "an unknown /api route answers 404" 404 "$CODE"
assert_jq "the 404 is the error envelope {error:{code,message,details}}" "$BODY" "$ENVELOPE"
assert_match "the 404 is served as JSON" '^application/json' "$(header Content-Type)"

http POST /health
assert_eq "POST /health answers 405" 405 "$CODE"
assert_match "the 405 names the allowed method in Allow" 'GET' "$(header Allow)"
assert_jq "the 405 is the error envelope" "$BODY" "$ENVELOPE"

http DELETE /api/scripts
assert_eq "DELETE /api/scripts answers 405" 405 "$CODE"
assert_match "with Allow: GET" 'GET' "$(header Allow)"

http GET "/api/mappings/$REAL/dry-run"
assert_eq "GET on the dry-run route answers 405" 405 "$CODE"
assert_match "with Allow: POST" 'POST' "$(header Allow)"
assert_jq "the 405 is the error envelope" "$BODY" "$ENVELOPE"

head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$T/big.json"
http POST "/api/mappings/$REAL/dry-run" -H 'Content-Type: application/json' \
    --data-binary "@$T/big.json"
assert_eq "a body of 1 MiB + 1 byte answers 413" 413 "$CODE"
[[ -z "$BODY" ]] || assert_jq "the 413 is the error envelope" "$BODY" "$ENVELOPE"
http GET /health
assert_eq "the server still answers after the 413" 200 "$CODE"

echo "== dry-run through the API"
dry_run_http "$REAL" "$(cat "$FIX/order.json")"
assert_eq "POST /api/mappings/$REAL/dry-run answers 200" 200 "$CODE"
assert_jq "it gives the invoice of order.json" "$BODY" \
    ".DocNumber == \"$(jq -r '.number | tostring' "$FIX/order.json")\""
dry_run_http no_such_mapping '{"id": 1}'
assert_eq "an unknown mapping answers 404" 404 "$CODE"
assert_jq "that 404 is the error envelope naming the mapping" "$BODY" \
    "$ENVELOPE and (.error.message | test(\"no_such_mapping\"))"
dry_run_http "$REAL" '{"id": 1,'
assert_eq "a malformed body answers 400" 400 "$CODE"
assert_jq "the 400 is the error envelope" "$BODY" "$ENVELOPE"

echo "== the tenant's transformer settings reach the API dry run"
sq "INSERT INTO settings (tenant_id, key, value) VALUES ('shop-s', 'transformer_config',
  '{\"shipping_item_id\": \"SHIP-S\", \"default_payment_terms_days\": 14}')"
http POST "/api/mappings/$REAL/dry-run" -H "X-Tenant-ID: shop-s" -H 'Content-Type: application/json' \
    --data-binary "@$FIX/order.json"
assert_eq "a dry run for tenant shop-s answers 200" 200 "$CODE"
assert_jq "shipping goes to shop-s's shipping item" "$BODY" \
    '[.Line[] | select(.SalesItemLineDetail.ItemRef.value == "SHIP-S")] | length == 1'
dry_run_http "$REAL" "$(cat "$FIX/order.json")"
assert_jq "the default tenant still uses the default shipping item" "$BODY" \
    '[.Line[] | select(.SalesItemLineDetail.ItemRef.value == "SHIP-S")] | length == 0'
sq "INSERT INTO settings (tenant_id, key, value) VALUES ('shop-bad', 'transformer_config',
  '{\"default_payment_terms_days\": \"thirty\"}')"
http POST "/api/mappings/$REAL/dry-run" -H "X-Tenant-ID: shop-bad" -H 'Content-Type: application/json' \
    --data-binary "@$FIX/order.json"
assert_eq "a malformed stored setting answers 422" 422 "$CODE"
assert_jq "... naming the setting" "$BODY" '.error.message | test("default_payment_terms_days")'

echo "== a second serve on the same port"
port=$SERVE_PORT
start=$(now_ms)
API_PORT=$port timeout -k 5 30 "$TALLYSYNC_BIN" serve >"$T/second.out" 2>"$T/second.err"
rc=$?
second_ms=$(($(now_ms) - start))
second_err=$(cat "$T/second.err")
assert_ne "a second serve on port $port fails" 0 "$rc"
assert_ne "... by itself, not by the test's timeout" 124 "$rc"
assert_lt "... quickly (${second_ms} ms)" "$second_ms" 20000
assert_contains "its error names the port" "$second_err" "$port"
assert_match "its error says it cannot listen" '(cannot listen|in use|bind)' "$second_err"
assert_not_contains "it never claims to be listening" "$second_err" '"msg":"listening"'
http GET /health
assert_eq "the first serve still answers" 200 "$CODE"

echo "== SIGTERM"
serve_stop 5000
assert_eq "SIGTERM stops serve with exit 0" 0 "$STOP_RC"
assert_lt "... within 5 s (${STOP_MS} ms)" "$STOP_MS" 5000
check "serve logged that it was stopping" grep -qF '"msg":"stopping"' "$SERVE_LOG"
check "the process is gone" pid_gone "$pid"
curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$port/health"
assert_ne "nothing answers on the port any more" 0 "$?"

echo "== SIGTERM with a request in flight"
mkdir -p "$T/spin-maps"
cat >"$T/spin-maps/spin.lua" <<'EOF'
return {
  map = function(record)
    print("spin mapping started")
    while true do end
  end,
}
EOF
serve_start MAPPINGS_DIR="$T/spin-maps" || finish
curl -s --max-time 30 -o "$T/inflight.body" -w '%{http_code}' -X POST \
    -H "$AUTH_HEADER" -H 'Content-Type: application/json' --data-binary '{"id": 1}' \
    "$BASE/api/mappings/spin/dry-run" >"$T/inflight.code" 2>/dev/null &
inflight=$!
bg_track "$inflight"
if wait_for 10000 grep -qF '"msg":"spin mapping started"' "$SERVE_LOG"; then
    pass "the runaway dry-run is running on a worker"
else
    fail "the runaway dry-run is running on a worker" "$(cat "$SERVE_LOG")"
fi
serve_stop 5000
assert_eq "SIGTERM during a running request: exit 0" 0 "$STOP_RC"
assert_lt "... within 5 s (${STOP_MS} ms)" "$STOP_MS" 5000
wait "$inflight" 2>/dev/null
code=$(cat "$T/inflight.code" 2>/dev/null)
# serve.c promises every suspended request is answered before the server closes.
assert_match "the in-flight request was answered, not dropped (got ${code:-none})" '^(422|503)$' "$code"
assert_jq "... with the error envelope" "$(cat "$T/inflight.body" 2>/dev/null)" "$ENVELOPE"

echo "== bad API_PORT"
for bad in abc 70000 -1; do
    API_PORT=$bad run_bin "$T/badport" serve
    assert_ne "serve with API_PORT=$bad fails at start" 0 "$RC"
    assert_ne "... by itself, not by the test's timeout" 124 "$RC"
    assert_contains "... with a message naming API_PORT" "$ERR" "API_PORT"
    assert_not_contains "... before listening" "$ERR" '"msg":"listening"'
done

echo "== the encryption key is required"
INTEGRATION_ENCRYPTION_KEY= API_PORT=0 run_bin "$T/nokey" serve
assert_eq "serve without INTEGRATION_ENCRYPTION_KEY exits 1" 1 "$RC"
assert_contains "... naming the variable and how to make one" "$ERR" "INTEGRATION_ENCRYPTION_KEY is not set"
assert_contains "... pointing at keygen" "$ERR" "tallysync keygen"
assert_not_contains "... before listening" "$ERR" '"msg":"listening"'
short=$(head -c 16 /dev/urandom | base64)
INTEGRATION_ENCRYPTION_KEY=$short API_PORT=0 run_bin "$T/shortkey" serve
assert_eq "serve with a 16-byte key exits 1" 1 "$RC"
assert_contains "... saying it must be 32 bytes" "$ERR" "32 bytes"
assert_not_contains "... without echoing the key" "$ERR" "$short"
INTEGRATION_ENCRYPTION_KEY='not base64!!' API_PORT=0 run_bin "$T/badkey" serve
assert_eq "serve with a non-base64 key exits 1" 1 "$RC"
assert_contains "... saying it is not base64" "$ERR" "base64"

finish
