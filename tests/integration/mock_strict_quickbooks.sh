#!/usr/bin/env bash
# tests/integration/mock_strict_quickbooks.sh - the QuickBooks mock refuses what Intuit refuses
# (tests/fixtures/reference/external-apis.md section 3), rule by rule: references that do not exist
# (2500) or are inactive (610), SHIPPING_ITEM_ID / GRATUITY_ITEM_ID without the company's
# preference, TAX / NON outside a US company, field lengths (2050), forbidden characters and
# e-mail shape (2040), lines (6000, Amount = Qty x UnitPrice 6070, DiscountLineDetail),
# SyncToken (5010), minorversion, the query language's limits (4000), batch limits (1040, 2050,
# 429 3001), the realm's limits (the 501st request of a minute, batches counted, and the 11th
# request at once: 429 3001). Each refusal has an accepted twin. The cases are in lib/qbo_strict_cases.py.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl python3

REALM=9130357766900456
python3 "$ENG_SOURCE_DIR/tests/mocks/quickbooks_mock.py" --realm-id "$REALM" \
    >"$T/mock.out" 2>"$T/mock.err" &
bg_track $!
mock_ready() { grep -q '^ready$' "$T/mock.out"; }
wait_for 10000 mock_ready || { fail "the QuickBooks mock starts" "$(cat "$T/mock.err")"; finish; }
MOCK="http://127.0.0.1:$(sed -n 's/^port=//p' "$T/mock.out")"
AT=$(curl -s -X POST "$MOCK/_mock/tokens" -d '{}' | jq -r .access_token)

python3 "$ENG_SOURCE_DIR/tests/integration/lib/qbo_strict_cases.py" "$MOCK" "$AT" "$REALM" \
    >"$T/cases.out" 2>"$T/cases.err"
rc=$?
assert_eq "the cases ran to the end" 0 "$rc"
[[ $rc == 0 ]] || fail "the case runner's errors" "$(cat "$T/cases.err")"
while IFS= read -r l; do
    case "$l" in
    "ok   "*) pass "${l#ok   }" ;;
    "FAIL "*) fail "${l#FAIL }" ;;
    esac
done <"$T/cases.out"
assert_ge "every rule was checked" "$(grep -c '' "$T/cases.out")" 60
finish
