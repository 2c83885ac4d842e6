#!/usr/bin/env bash
# tests/integration/dryrun_reconcile.sh: every WooCommerce order fixture, mapped by the real
# binary (`tallysync dry-run --mapping woo_order_to_qbo_invoice`), must give invoices whose
# sum(Line[].Amount) - discount lines + TxnTaxDetail.TotalTax equals the order's `total` exactly.
#
# The arithmetic is exact: jq only extracts the numbers as text, awk parses each decimal string
# into integer micro-units (no float sums) and compares with ==. One cent off fails; the script
# proves that on itself (the "self-check" cases corrupt a mapped invoice by one cent).
# The hand-edited mocks named in fixtures/SOURCES.md, whose own totals do not add up, must be
# refused by the mapping with a "does not reconcile" error, never mapped.
#
# Environment (set by ctest): TALLYSYNC_BIN, FIXTURES_DIR (tests/fixtures), ENG_SOURCE_DIR.
# Output: one line per check, then "N passed, M failed"; exit status 1 when M > 0.
set -u

MAPPING=woo_order_to_qbo_invoice
# fixtures/SOURCES.md: "hand-edited mock: the totals do not add up" (the AED one is the same mock).
MOCKS=" order-ios-coupon-fee-tax.json order-currency-aed-non-ascii.json "

ENG_SOURCE_DIR=${ENG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
FIXTURES_DIR=${FIXTURES_DIR:-$ENG_SOURCE_DIR/tests/fixtures}
TALLYSYNC_BIN=${TALLYSYNC_BIN:-$ENG_SOURCE_DIR/build/tallysync}
FIXTURES=$FIXTURES_DIR/woocommerce

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
finish() {
    printf '%d passed, %d failed\n' "$passed" "$failed"
    [ "$failed" -eq 0 ]
    exit $?
}

for tool in jq awk; do
    command -v "$tool" >/dev/null || { bad "$tool is not installed"; finish; }
done
[ -x "$TALLYSYNC_BIN" ] || { bad "TALLYSYNC_BIN=$TALLYSYNC_BIN is not an executable"; finish; }
[ -d "$FIXTURES" ] || { bad "no fixtures at $FIXTURES (set FIXTURES_DIR)"; finish; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/dryrun_reconcile.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT

# reconcile ORDERS INVOICES: pairs the records of both files (one object or an array each) and
# prints one line per record; exit status 1 when any record differs or the counts differ.
reconcile() {
    local orders=$1 invoices=$2
    local n_orders n_invoices
    n_orders=$(jq 'if type == "array" then length else 1 end' "$orders") || return 1
    n_invoices=$(jq 'if type == "array" then length else 1 end' "$invoices") || return 1
    if [ "$n_orders" != "$n_invoices" ]; then
        echo "  $n_orders order(s) in, $n_invoices invoice(s) out"
        return 1
    fi
    # Amounts as jq prints them (shortest form, e.g. 29.35, 6, -1.5); a missing TotalTax is
    # "null" and fails to parse, on purpose.
    paste \
        <(jq -r 'if type == "array" then .[] else . end
                 | "\(.id)\t\(.total | tostring)"' "$orders") \
        <(jq -r 'if type == "array" then .[] else . end
                 | [((.Line // [])[] | if .DetailType == "DiscountLineDetail" then -.Amount
                        elif .DetailType == "SubTotalLineDetail" then empty else .Amount end),
                    .TxnTaxDetail.TotalTax]
                 | map(tostring) | join(" ")' "$invoices") |
    awk -F '\t' '
        # Decimal text -> integer micro-units (exact for |x| < 9e9); sets bad on anything else.
        function micro(s,    neg, ip, fp) {
            if (s !~ /^-?[0-9]+(\.[0-9]+)?$/) { bad = "not a plain decimal: \"" s "\""; return 0 }
            neg = (substr(s, 1, 1) == "-"); if (neg) s = substr(s, 2)
            ip = s; fp = ""
            if (index(s, ".")) { ip = substr(s, 1, index(s, ".") - 1); fp = substr(s, index(s, ".") + 1) }
            sub(/0+$/, "", fp)
            if (length(fp) > 6) { bad = "more than 6 decimals: \"" s "\""; return 0 }
            while (length(fp) < 6) fp = fp "0"
            return (neg ? -1 : 1) * ((ip + 0) * 1000000 + (fp + 0))
        }
        function show(m,    neg, ip, fp) {
            neg = m < 0; if (neg) m = -m
            ip = int(m / 1000000); fp = sprintf("%06.0f", m - ip * 1000000)
            sub(/0000$/, "", fp)
            return (neg ? "-" : "") sprintf("%.0f", ip) "." fp
        }
        {
            bad = ""
            total = micro($2)
            n = split($3, amounts, " ")
            sum = 0
            for (i = 1; i <= n; i++) sum += micro(amounts[i])
            if (n < 2) bad = "no lines or no TotalTax in the invoice"
            if (bad != "") { printf "  order %s: %s\n", $1, bad; failures++; next }
            if (sum != total) {
                printf "  order %s: lines + tax = %s but order total = %s (difference %s)\n", \
                    $1, show(sum), $2, show(sum - total)
                failures++
            } else {
                printf "  order %s: %d lines + tax = %s = order total\n", $1, n - 1, show(sum)
            }
        }
        END { exit failures > 0 }'
}

# dry_run FILE OUT ERR -> exit status of the binary
dry_run() {
    "$TALLYSYNC_BIN" dry-run --mapping "$MAPPING" --input "$1" >"$2" 2>"$3"
}

real=0
first_real_out=
for f in "$FIXTURES"/*.json; do
    name=$(basename "$f")
    # An order fixture: an order object, or an array of them (a refund has no `currency`).
    is_order=$(jq -r '(if type == "array" then .[0] else . end)
                      | (type == "object" and has("line_items") and has("total")
                         and has("currency"))' "$f" 2>/dev/null)
    [ "$is_order" = "true" ] || continue
    out=$scratch/$name.out
    err=$scratch/$name.err
    if [[ $MOCKS == *" $name "* ]]; then
        if dry_run "$f" "$out" "$err"; then
            bad "$name: hand-edited mock was mapped; it must be refused (its totals do not add up)"
        elif grep -q "does not reconcile" "$err"; then
            ok "$name: mock refused: $(grep -m1 -o 'does not reconcile[^;]*' "$err")"
        else
            bad "$name: mock refused for another reason: $(head -c 400 "$err")"
        fi
        continue
    fi
    real=$((real + 1))
    if ! dry_run "$f" "$out" "$err"; then
        bad "$name: dry-run failed: $(head -c 600 "$err")"
        continue
    fi
    if detail=$(reconcile "$f" "$out"); then
        ok "$name"
        [ -n "$first_real_out" ] || first_real_out=$name
    else
        bad "$name"
    fi
    printf '%s\n' "$detail"
done
[ "$real" -gt 0 ] || bad "no real WooCommerce order fixture found in $FIXTURES"

# Self-check: the comparison must catch one cent, on a line and on the tax.
if [ -n "$first_real_out" ]; then
    f=$FIXTURES/$first_real_out
    for corrupt in '.Line[0].Amount += 0.01' '.TxnTaxDetail.TotalTax -= 0.01'; do
        jq "if type == \"array\" then .[0] |= ($corrupt) else $corrupt end" \
            "$scratch/$first_real_out.out" >"$scratch/corrupt.json"
        if reconcile "$f" "$scratch/corrupt.json" >"$scratch/corrupt.txt"; then
            bad "self-check: '$corrupt' on $first_real_out was not detected"
        else
            ok "self-check: '$corrupt' on $first_real_out is caught:$(tr -s ' ' <"$scratch/corrupt.txt" | head -1)"
        fi
    done
fi

finish
