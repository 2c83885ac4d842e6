#!/usr/bin/env bash
# http_module.sh - engine.http end to end: the real binary against tests/mocks/http_test_server.py
# over http and https (a throwaway self-signed certificate). Three runs of
# tests/lua/http_module.lua: the full suite without a CA (HTTPS must fail with "tls"), the HTTPS
# checks with ENGINE_HTTP_CA_FILE, and a request that only the script's budget can stop.
set -euo pipefail

: "${TALLYSYNC_BIN:?set by ctest: path to the tallysync binary}"
SRC="${ENG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$SRC"

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -days 1 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>"$tmp/openssl.err" ||
    { cat "$tmp/openssl.err" >&2; exit 1; }

python3 tests/mocks/http_test_server.py --cert "$tmp/cert.pem" --key "$tmp/key.pem" \
    >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 100); do
    grep -q '^ready$' "$tmp/server.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.err" >&2; exit 1; }
    sleep 0.1
done
grep -q '^ready$' "$tmp/server.out" || { echo "mock server did not start" >&2; exit 1; }
http_base="$(sed -n 's/^http=//p' "$tmp/server.out")"
https_base="$(sed -n 's/^https=//p' "$tmp/server.out")"
echo "mock: $http_base $https_base"

export DATABASE_URL="sqlite:$tmp/http.db"
export SCRIPT_TIMEOUT_MS=60000 # tests/lua/http_module.lua relies on it (Retry-After: 90)
unset ENGINE_HTTP_CA_FILE

fail=0
expect_clean() { # $1 = label, $2 = output file: last line must be "N passed, 0 failed"
    if ! tail -n 1 "$2" | grep -Eq '^[0-9]+ passed, 0 failed$'; then
        echo "FAIL ($1): no clean summary line" >&2
        fail=1
    fi
}

echo "== run 1: full suite, no CA file"
if ! "$TALLYSYNC_BIN" run tests/lua/http_module.lua "$http_base" "$https_base" "" \
    | tee "$tmp/run1.out"; then
    fail=1
fi
expect_clean "run 1" "$tmp/run1.out"

echo "== run 2: HTTPS with ENGINE_HTTP_CA_FILE"
if ! ENGINE_HTTP_CA_FILE="$tmp/cert.pem" "$TALLYSYNC_BIN" run tests/lua/http_module.lua \
    "$http_base" "$https_base" "$tmp/cert.pem" | tee "$tmp/run2.out"; then
    fail=1
fi
expect_clean "run 2" "$tmp/run2.out"

echo "== run 3: curl never outlives the script's budget"
start=$(date +%s%N)
set +e
SCRIPT_TIMEOUT_MS=1000 "$TALLYSYNC_BIN" run tests/lua/http_module.lua "$http_base" \
    "$https_base" "" budget >"$tmp/run3.out" 2>"$tmp/run3.err"
rc=$?
set -e
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
cat "$tmp/run3.out" "$tmp/run3.err"
# The request is bounded by what is left of the budget, and the watchdog arms the budget hook at
# the same deadline: whether the script still prints its line before the hook stops it is a race
# (both are right). What must hold: stopped by the time budget, long before the request's 5 s,
# and if the script saw the request's end, it saw a timeout.
if [[ $rc -ne 1 ]] || ! grep -q 'time budget' "$tmp/run3.err" || [[ $elapsed_ms -gt 3500 ]] ||
    { grep -q '^budget:' "$tmp/run3.out" && ! grep -q '^budget: timeout' "$tmp/run3.out"; }; then
    echo "FAIL (run 3): rc=$rc elapsed=${elapsed_ms}ms" >&2
    fail=1
else
    echo "budget run stopped after ${elapsed_ms} ms"
fi

exit $fail
