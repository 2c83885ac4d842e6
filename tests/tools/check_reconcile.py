#!/usr/bin/env python3
"""tests/tools/check_reconcile.py: compares source orders with the QuickBooks documents a
mapping made of them, in exact decimal arithmetic (numbers parsed as Decimal from the JSON
text, never as binary floats).

usage: check_reconcile.py ORDERS DOCS [--max-report N]
  ORDERS, DOCS: JSON arrays of the same length (documents in input order, as `tallysync
  dry-run` writes them for an array input).

Per pair it checks:
  * total: sum(SalesItemLineDetail Amount) - sum(DiscountLineDetail Amount) +
    TxnTaxDetail.TotalTax == order total, exactly;
  * every Amount and TotalTax has at most the currency's decimals (JPY 0, else 2);
  * every sales line's Qty x UnitPrice rounds to its Amount (|difference| < half a minor unit);
  * discount lines are positive; CurrencyRef is the order's currency;
  * DocNumber is at most 21 characters and distinct for distinct order numbers.
Prints one line per problem (up to N, default 20) and a summary line:
  "orders N, documents N, differences D, line problems L, rounding notes R, discount lines K"
Exit status 1 when anything differs.
"""
import json
import sys
from decimal import Decimal

DECIMALS = {"JPY": 0}


def places(d):
    t = d.normalize().as_tuple()
    return max(0, -t.exponent)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    max_report = 20
    if "--max-report" in sys.argv:
        max_report = int(sys.argv[sys.argv.index("--max-report") + 1])
    orders = json.load(open(args[0], encoding="utf-8"), parse_float=Decimal)
    docs = json.load(open(args[1], encoding="utf-8"), parse_float=Decimal)
    problems, diffs, line_problems, rounding, discounts = [], 0, 0, 0, 0
    docnums = {}

    def report(msg):
        if len(problems) < max_report:
            problems.append(msg)

    if len(orders) != len(docs):
        report("%d orders in, %d documents out" % (len(orders), len(docs)))
        diffs += 1
    for o, d in zip(orders, docs):
        oid = o.get("number") or o.get("id")
        cur = o["currency"]
        dec = DECIMALS.get(cur, 2)
        half = Decimal(1).scaleb(-dec) / 2
        total = Decimal(o["total"])
        s = Decimal(0)
        for i, line in enumerate(d.get("Line", [])):
            amt = Decimal(line["Amount"])
            if places(amt) > dec:
                line_problems += 1
                report("order %s: Line[%d].Amount %s has more than %d decimals" % (oid, i, amt, dec))
            if line["DetailType"] == "DiscountLineDetail":
                discounts += 1
                if amt <= 0:
                    line_problems += 1
                    report("order %s: Line[%d] discount %s is not positive" % (oid, i, amt))
                s -= amt
            elif line["DetailType"] == "SalesItemLineDetail":
                det = line["SalesItemLineDetail"]
                q, p = Decimal(det["Qty"]), Decimal(det["UnitPrice"])
                if abs(q * p - amt) >= half:
                    line_problems += 1
                    report("order %s: Line[%d] Qty %s x UnitPrice %s = %s, Amount %s" %
                           (oid, i, q, p, q * p, amt))
                s += amt
            else:
                line_problems += 1
                report("order %s: Line[%d] has DetailType %s" % (oid, i, line["DetailType"]))
        tax = Decimal(d.get("TxnTaxDetail", {}).get("TotalTax", "NaN"))
        if tax.is_nan() or places(tax) > dec:
            line_problems += 1
            report("order %s: TotalTax %s" % (oid, tax))
        else:
            s += tax
        if s != total:
            diffs += 1
            report("order %s: document %s %s, order %s %s (difference %s)" %
                   (oid, s, cur, total, cur, s - total))
        if d.get("CurrencyRef", {}).get("value") != cur:
            line_problems += 1
            report("order %s: CurrencyRef %s, order currency %s" % (oid, d.get("CurrencyRef"), cur))
        dn = d.get("DocNumber", "")
        if len(dn) > 21:
            line_problems += 1
            report("order %s: DocNumber %r is longer than 21" % (oid, dn))
        if dn in docnums and docnums[dn] != oid:
            line_problems += 1
            report("orders %s and %s share DocNumber %r" % (docnums[dn], oid, dn))
        docnums[dn] = oid
        if "Rounding:" in d.get("PrivateNote", ""):
            rounding += 1
    for p in problems:
        print("  " + p)
    print("orders %d, documents %d, differences %d, line problems %d, rounding notes %d, "
          "discount lines %d" % (len(orders), len(docs), diffs, line_problems, rounding, discounts))
    return 1 if diffs or line_problems else 0


if __name__ == "__main__":
    sys.exit(main())
