#!/usr/bin/env bash
# tests/integration/mock_strict_woocommerce.sh - the WooCommerce mocks refuse what WooCommerce
# refuses, with WooCommerce's answer: tests/tools/wc_strict_client.py (a client that signs OAuth
# 1.0a on its own) against tests/mocks/woocommerce_mock.py (its plain listener, and the one that
# plays WordPress behind a TLS proxy) and the WooCommerce route of tests/mocks/saas_mock.py.
# Rules: Basic (header or query pair) only where WordPress believes the request is HTTPS; OAuth
# 1.0a required parameters, signature methods, base string scheme, timestamps, nonces per key;
# key permissions; WordPress' validation of the list parameters (per_page 1..100 and the rest).
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools python3

rnd() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 28; }
export MOCK_WOO_KEY="ck_$(rnd)" MOCK_WOO_SECRET="cs_$(rnd)"

MOCK_FIXTURES="$FIXTURES_DIR/woocommerce" python3 "$ENG_SOURCE_DIR/tests/mocks/woocommerce_mock.py" \
    >"$T/woo.out" 2>"$T/woo.err" &
bg_track $!
python3 "$ENG_SOURCE_DIR/tests/mocks/saas_mock.py" >"$T/saas.out" 2>"$T/saas.err" &
bg_track $!
if ! wait_for 10000 test -s "$T/woo.out" || ! wait_for 10000 test -s "$T/saas.out"; then
    fail "the mocks start" "$(cat "$T/woo.err" "$T/saas.err")"
    finish
fi
read -r PLAIN_PORT PROXY_PORT <"$T/woo.out"
SAAS_PORT=$(head -n 1 "$T/saas.out")
pass "the mocks listen (woocommerce :$PLAIN_PORT and :$PROXY_PORT, saas :$SAAS_PORT)"

python3 "$ENG_SOURCE_DIR/tests/tools/wc_strict_client.py" "http://127.0.0.1:$PLAIN_PORT" \
    "http://127.0.0.1:$PROXY_PORT" "http://127.0.0.1:$SAAS_PORT" >"$T/client.out" 2>"$T/client.err"
rc=$?
cat "$T/client.out"
assert_eq "the client exits 0" 0 "$rc"
[[ $rc == 0 ]] || fail "... its stderr" "$(cat "$T/client.err")"
summary=$(tail -n 1 "$T/client.out")
if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    PASSED=$((PASSED + BASH_REMATCH[1]))
    FAILED=$((FAILED + BASH_REMATCH[2]))
    assert_ge "... ran its checks (${BASH_REMATCH[1]} passed)" "${BASH_REMATCH[1]}" 50
else
    fail "... prints its summary line" "$(tail -n 5 "$T/client.out" "$T/client.err")"
fi
leak=0
for f in "$T/client.out" "$T/woo.err" "$T/saas.err"; do
    grep -qF -- "$MOCK_WOO_SECRET" "$f" && leak=1
done
assert_eq "no secret in any output" 0 "$leak"
finish
