#!/usr/bin/env bash
# tests/integration/corpus_reconcile.sh: 10,000 generated WooCommerce orders (USD, EUR, JPY;
# prices with and without tax; up to three rates a line, combined GST+PST codes; coupons, fees,
# shipping; bulk quantities; 4-decimal prices, all rounded the way WooCommerce rounds them:
# tests/tools/gen_order_corpus.py, seeded) go through the real binary's `tallysync dry-run`
# with the Invoice mapping (and 2,000 of them with the SalesReceipt one). Every document must
# reconcile with its order to the minor unit, with no failure: tests/tools/check_reconcile.py
# compares in exact decimals (lines - discount + tax == total; Qty x UnitPrice rounds to
# Amount; DocNumber <= 21 and distinct). Self-checks prove the comparison catches one cent
# and that an order off by more than rounding is refused by the mapping with both totals.
#
# Environment (set by ctest): TALLYSYNC_BIN, MAPPINGS_DIR, SCRIPTS_DIR, ENG_SOURCE_DIR.
# CORPUS_COUNT overrides the 10,000 (for a quick local run).
source "$(dirname "$0")/lib/common.sh"
require_tools python3 jq

TOOLS=$ENG_SOURCE_DIR/tests/tools
COUNT=${CORPUS_COUNT:-10000}
# The heavy steps run at a lower CPU priority: this test takes a minute or two of CPU, and the
# suite runs it beside tests that measure how fast the engine answers.
py() { nice -n 10 python3 "$@"; }

# dry_run MAPPING INPUT CONFIG OUT ERR -> the binary's exit status (a hung run is killed); the
# whole corpus in one run: over the default DRY_RUN_MAX_RECORDS (1000)
dry_run() {
    DRY_RUN_MAX_RECORDS=1000000 nice -n 10 timeout -k 5 240 "$TALLYSYNC_BIN" dry-run \
        --mapping "$1" --input "$2" --config "$3" >"$4" 2>"$5"
}

# 1. the generator is deterministic: the same seed gives the same bytes
py "$TOOLS/gen_order_corpus.py" --count 300 --seed 7 --out "$T/a.json" &&
    py "$TOOLS/gen_order_corpus.py" --count 300 --seed 7 --out "$T/b.json"
assert_eq "the generator gives the same corpus for the same seed" \
    "$(sha256sum <"$T/a.json")" "$(sha256sum <"$T/b.json")"
py "$TOOLS/gen_order_corpus.py" --count 300 --seed 8 --out "$T/c.json"
assert_ne "another seed gives another corpus" \
    "$(sha256sum <"$T/a.json")" "$(sha256sum <"$T/c.json")"

# 2. the corpus, and what it varies
if ! py "$TOOLS/gen_order_corpus.py" --count "$COUNT" --out "$T/orders.json" \
    --config "$T/config.json"; then
    fail "generating $COUNT orders"
    finish
fi
variety=$(py - "$T/orders.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1], encoding="utf-8"))
lines = [l for x in o for l in x["line_items"]]
print(json.dumps({
    "orders": len(o),
    "currencies": sorted({x["currency"] for x in o}),
    "tax_included": sorted({x["prices_include_tax"] for x in o}),
    "several_rates": sum(len(x["tax_lines"]) > 1 for x in o),
    "line_with_two_rates": sum(len(l["taxes"]) > 1 for l in lines),
    "coupons": sum(len(x["coupon_lines"]) > 0 for x in o),
    "fees": sum(len(x["fee_lines"]) > 0 for x in o),
    "negative_fees": sum(f["total"].startswith("-") for x in o for f in x["fee_lines"]),
    "free_shipping": sum(s["total"] in ("0", "0.00") for x in o for s in x["shipping_lines"]),
    "over_100_lines": sum(len(x["line_items"]) > 100 for x in o),
    "bulk_qty": sum(l["quantity"] > 24 for l in lines),
    "long_numbers": sum(len(x["number"]) > 21 for x in o),
}, separators=(",", ":")))
PY
)
MIN=$((COUNT / 100)) # each kind of case in more than 1% of the orders
assert_jq "the corpus varies what the mapping must handle: $variety" "$variety" "
    .orders == $COUNT and .currencies == [\"EUR\", \"JPY\", \"USD\"]
    and .tax_included == [false, true]
    and ([.several_rates, .line_with_two_rates, .coupons, .fees, .negative_fees,
          .free_shipping, .over_100_lines, .bulk_qty, .long_numbers] | min) > $MIN"

# 3. every order through the Invoice mapping, and the first 2,000 through the SalesReceipt
# one (the same lines code; a sanitizer build must stay within the test's time): no failure,
# zero differences
SR_COUNT=$((COUNT < 2000 ? COUNT : 2000))
py -c 'import json, sys; json.dump(json.load(open(sys.argv[1]))[:int(sys.argv[2])],
    open(sys.argv[3], "w"), ensure_ascii=False)' "$T/orders.json" "$SR_COUNT" "$T/orders-sr.json"
for run in "woo_order_to_qbo_invoice orders.json $COUNT" \
    "woo_order_to_qbo_sales_receipt orders-sr.json $SR_COUNT"; do
    read -r mapping input n <<<"$run"
    if dry_run "$mapping" "$T/$input" "$T/config.json" "$T/$mapping.json" "$T/$mapping.err"
    then
        pass "$mapping: dry-run of $n orders exits 0"
    else
        fail "$mapping: dry-run of $n orders failed" "$(head -n 5 "$T/$mapping.err")"
        continue
    fi
    assert_eq "$mapping: no error line" "0" "$(wc -l <"$T/$mapping.err")"
    if summary=$(py "$TOOLS/check_reconcile.py" "$T/$input" "$T/$mapping.json" |
        tee "$T/$mapping.summary"); then
        pass "$mapping: every document reconciles: $(tail -n 1 <<<"$summary")"
    else
        fail "$mapping: documents differ from their orders" "$summary"
    fi
    assert_match "$mapping: zero differences over $n orders" \
        "^orders $n, documents $n, differences 0, line problems 0," "$(tail -n 1 <<<"$summary")"
done
# the rounding spread is exercised, not just allowed
notes=$(tail -n 1 "$T/woo_order_to_qbo_invoice.summary" 2>/dev/null |
    sed -n 's/.*rounding notes \([0-9]*\).*/\1/p')
assert_ge "rounding differences were spread and recorded on many orders (${notes:-none})" \
    "${notes:-0}" 100

# 4. self-checks of the comparison: one minor unit more on an order's total, or on a
# document's tax, must show as exactly one difference
python3 - "$T" <<'PY'
import json, sys
from decimal import Decimal
t = sys.argv[1]
orders = json.load(open(t + "/orders.json", encoding="utf-8"), parse_float=Decimal)[:50]
docs = json.load(open(t + "/woo_order_to_qbo_invoice.json", encoding="utf-8"),
                 parse_float=Decimal)[:50]
k = next(i for i, o in enumerate(orders) if o["currency"] != "JPY")
json.dump(orders, open(t + "/few.json", "w"), default=str)
json.dump(docs, open(t + "/few-docs.json", "w"), default=str)
bad = json.loads(json.dumps(orders, default=str))
bad[k]["total"] = str(Decimal(bad[k]["total"]) + Decimal("0.01"))
json.dump(bad, open(t + "/few-total.json", "w"))
d = json.loads(json.dumps(docs, default=str), parse_float=Decimal)
d[k]["TxnTaxDetail"]["TotalTax"] = Decimal(str(d[k]["TxnTaxDetail"]["TotalTax"])) - Decimal("0.01")
json.dump(d, open(t + "/few-tax.json", "w"), default=str)
bad = json.loads(json.dumps(orders, default=str))
bad[7]["total"] = str(Decimal(bad[7]["total"]) + 5)
json.dump(bad, open(t + "/bad.json", "w"))
PY
for pair in "few-total.json few-docs.json" "few.json few-tax.json"; do
    read -r o d <<<"$pair"
    if out=$(py "$TOOLS/check_reconcile.py" "$T/$o" "$T/$d"); then
        fail "self-check: one minor unit off ($o / $d) was not detected" "$out"
    else
        assert_match "self-check: one minor unit off ($o / $d) is one difference" \
            "differences 1, line problems 0" "$(tail -n 1 <<<"$out")"
    fi
done

# 5. an order off by more than rounding can explain is refused, naming both totals; the others
# are still mapped (one error line, for that record only)
want_total=$(jq -r '.[7].total' "$T/bad.json")
want_id=$(jq -r '.[7].id' "$T/bad.json")
if dry_run woo_order_to_qbo_invoice "$T/bad.json" "$T/config.json" "$T/bad.out" "$T/bad.err"; then
    fail "an order 5 units off was mapped" "$(head -c 400 "$T/bad.out")"
else
    err=$(cat "$T/bad.err")
    assert_eq "one error line, for that order only" "1" "$(wc -l <"$T/bad.err")"
    assert_contains "it names the record" "$err" "record 8 (id $want_id)"
    assert_match "it states both totals" \
        "does not reconcile: lines .* = [0-9.]+ [A-Z]{3} but the order total is $want_total " "$err"
fi

# 6. the expected documents of the Invoice and SalesReceipt data cases reconcile with their
# inputs too (an independent check of what `tallysync test` holds the mappings to)
python3 - "$MAPPINGS_DIR/tests" "$T" <<'PY'
import glob, json, sys
cases = sorted(glob.glob(sys.argv[1] + "/woo_order_to_qbo_invoice/*.json") +
               glob.glob(sys.argv[1] + "/woo_order_to_qbo_sales_receipt/*.json"))
orders, docs = [], []
for c in cases:
    case = json.load(open(c, encoding="utf-8"))
    if "expected" in case:
        orders.append(case["input"])
        docs.append(case["expected"])
json.dump(orders, open(sys.argv[2] + "/case-orders.json", "w"))
json.dump(docs, open(sys.argv[2] + "/case-docs.json", "w"))
PY
n_cases=$(jq length "$T/case-orders.json")
assert_ge "data cases with expected documents ($n_cases)" "$n_cases" 20
if out=$(py "$TOOLS/check_reconcile.py" "$T/case-orders.json" "$T/case-docs.json"); then
    pass "every expected document of the data cases reconciles: $(tail -n 1 <<<"$out")"
else
    fail "an expected document of the data cases does not reconcile" "$out"
fi

finish
