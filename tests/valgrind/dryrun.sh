#!/usr/bin/env bash
# valgrind on real dry runs: no leak, no invalid access. Registered only for builds without
# sanitizers (valgrind cannot run an ASan binary). Every WooCommerce order fixture goes through,
# plus a failing record and malformed input (the error paths must not leak either).
set -uo pipefail
: "${TALLYSYNC_BIN:?}" "${FIXTURES_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
vg() {
  valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
    "$TALLYSYNC_BIN" "$@"
}
check() { # name, expected exit status, command...
  local name=$1 want=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [[ $rc -eq $want ]] && ! grep -q "==[0-9]*==" "$tmp/err"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name (exit $rc, want $want)"; head -40 "$tmp/err"
  fi
}
for f in order.json orders-list.json order-prices-include-tax.json; do
  check "dry-run $f" 0 vg dry-run --mapping woo_order_to_qbo_invoice --input "$FIXTURES_DIR/woocommerce/$f"
done
# --explain: the traced copies of the mapping and its libraries, rewritten in C
check "explain order.json" 0 vg dry-run --mapping woo_order_to_qbo_invoice --explain \
  --input "$FIXTURES_DIR/woocommerce/order.json"
check "explain --json orders-list.json" 0 vg dry-run --mapping woo_order_to_qbo_invoice --explain \
  --json --input "$FIXTURES_DIR/woocommerce/orders-list.json"
printf '{"id": 1,' >"$tmp/bad.json"
check "malformed input" 1 vg dry-run --mapping woo_order_to_qbo_invoice --input "$tmp/bad.json"
mkdir -p "$tmp/m"
printf 'return { map = function(r) error("no total on order " .. r.id, 0) end }\n' >"$tmp/m/fails.lua"
echo '{"id": 5}' >"$tmp/one.json"
MAPPINGS_DIR="$tmp/m" check "failing mapping" 1 vg dry-run --mapping fails --input "$tmp/one.json"
MAPPINGS_DIR="$tmp/m" check "failing mapping, explained" 1 vg dry-run --mapping fails --explain \
  --input "$tmp/one.json"
printf 'return { map = function(r) local t = { a = "open\n return t end }\n' >"$tmp/m/unclosed.lua"
MAPPINGS_DIR="$tmp/m" check "syntax error, explained" 1 vg dry-run --mapping unclosed --explain \
  --input "$tmp/one.json"
printf 'while true do end\n' >"$tmp/loop.lua"
SCRIPT_TIMEOUT_MS=300 check "budget exceeded" 1 vg run "$tmp/loop.lua"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
