#!/usr/bin/env python3
"""tests/tools/gen_order_corpus.py: a deterministic corpus of WooCommerce orders (wc/v3 shape)
whose numbers are computed the way WooCommerce computes them, rounding included, for the
mapping reconciliation test (tests/integration/corpus_reconcile.sh).

usage: gen_order_corpus.py [--count N] [--seed S] [--out FILE] [--config FILE]
  writes a JSON array of N orders (default 10000, seed 20260301) to FILE (default stdout) and,
  with --config, the transformer_config the corpus expects (tax codes for its rates).

What varies (all from one seeded random.Random, so a seed always gives the same bytes):
  currency USD / EUR / JPY (0 decimals); prices entered with or without tax; 0-3 tax rates a
  line out of six (two pairs that combine: state+county, GST+PST); percentage and fixed-cart
  coupons; fees (taxed, untaxed, negative); shipping (paid, free, taxed, none); quantities 1-9
  and bulk 25-144; 1-12 lines, sometimes 40-160; unit prices with up to 4 decimals, .99/.995
  endings and thirds; zero-priced lines; guests, non-ASCII names, long order numbers.

The model (exact rationals, rounded only where WooCommerce shows a value, half away from zero
as PHP's round):
  tax excluded: line subtotal = price x qty; a coupon takes whole minor units off it; line
    total = subtotal - discount; each rate's tax on a line = total x rate (kept exact, shown
    unrounded in taxes[]); shown subtotal/total/total_tax are rounded.
  tax included: the entered price is gross; net = gross / (1 + sum of the line's rates), tax =
    gross - net, both shown rounded (the customer pays the exact gross).
  tax_lines[r].tax_total / shipping_tax_total = the rate's exact tax, rounded; total_tax = their
  sum; total = the exact sum of everything, rounded. So the shown parts may miss the total by a
  few minor units, as in real shops: the mapping must absorb exactly that, no more.
"""
import argparse
import json
import random
import sys
from fractions import Fraction as F

RATES = {  # rate id -> (rate, rate_code, label)
    1: (F(625, 10000), "US-IL-STATE", "State"),
    2: (F(2375, 100000), "US-IL-COOK-COUNTY", "County"),
    3: (F(5, 100), "CA-BC-GST", "GST"),
    4: (F(7, 100), "CA-BC-PST", "PST"),
    5: (F(19, 100), "DE-MWST-19", "MwSt."),
    6: (F(8875, 100000), "US-NY-NYC", "NYC"),
}
RATE_SETS = [(), (1,), (1, 2), (3,), (3, 4), (5,), (6,)]
CONFIG = {
    "tax_code_mappings": {"1": "T1", "2": "T2", "3": "T3", "4": "T4", "5": "T5",
                          "US-NY-NYC": "T6", "1+2": "C12", "CA-BC-GST+CA-BC-PST": "C34"},
    "default_tax_code_id": "TAX",
    "shipping_item_id": "SHIP",
    "default_payment_terms_days": 14,
}
NAMES = ["Ana", "Zoë", "Ömer", "Łukasz", "José", "Chloé", "Jürgen", "Siobhán", "Nguyễn", "Александр",
         "陈", "さくら", "Ελένη", "O'Brien", "Mary-Jane", "Bob"]
PRODUCTS = ["Mug", "Tee &amp; Cap", "Poster &ndash; A2", "Café crème", "抹茶セット", "Brot",
            "Widget: large", "Sample", "Gift card", "Sticker", "Über-Kabel 2m", "Ψ-Notebook"]


def rnd(x, dec):
    """Fraction -> integer minor units, half away from zero (PHP round)."""
    scaled = x * (10 ** dec)
    n, d = scaled.numerator, scaled.denominator
    q, r = divmod(abs(n), d)
    if 2 * r >= d:
        q += 1
    return q if n >= 0 else -q


def show(minor, dec):
    """integer minor units -> WooCommerce's string ("29.35", "-1.50", JPY "1500")."""
    if dec == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    ip, fp = divmod(abs(minor), 10 ** dec)
    return "%s%d.%0*d" % (sign, ip, dec, fp)


def unrounded(x):
    """An exact tax as WooCommerce prints it unrounded: up to 6 decimals, zeros trimmed."""
    s = show(rnd(x, 6), 6).rstrip("0").rstrip(".")
    return s if s not in ("", "-") else "0"


def unit_price(rng, dec):
    kind = rng.random()
    if kind < 0.05:
        return F(0)
    base = rng.choice([1, 3, 7, 9, 12, 19, 29, 49, 99, 149, 999]) if dec == 0 else \
        rng.choice([0, 1, 2, 4, 9, 12, 19, 24, 49, 99, 249])
    if dec == 0:
        base *= rng.choice([10, 100])
    if kind < 0.3:   # .99 / .995 endings
        return F(base) + (F(99, 100) if rng.random() < 0.6 else F(995, 1000))
    if kind < 0.45:  # thirds, at 4 decimals as a shop with 4-decimal prices stores them
        return F(base) + F(3333, 10000) * rng.randint(1, 2)
    if kind < 0.6:   # 4-decimal prices
        return F(base) + F(rng.randint(1, 9999), 10000)
    return F(base) + F(rng.randint(0, 99), 100)


def make_order(rng, i):
    currency = rng.choices(["USD", "EUR", "JPY"], weights=[5, 3, 2])[0]
    dec = 0 if currency == "JPY" else 2
    pit = rng.random() < 0.4
    if currency == "EUR":
        rate_pool = [(), (5,)]
    elif currency == "JPY":
        rate_pool = [(), (5,), (3,)]
    else:
        rate_pool = RATE_SETS
    n_lines = rng.randint(1, 12) if rng.random() < 0.95 else rng.randint(40, 160)
    # coupons: one percentage coupon, one fixed cart coupon, or none
    pct = F(rng.choice([5, 10, 15, 20, 33]), 100) if rng.random() < 0.3 else None
    fixed = rng.choice([1, 2, 5, 7]) * (100 if dec == 0 else 1) if rng.random() < 0.15 else None

    lines, exact_parts, rate_tax, rate_ship_tax = [], [], {}, {}
    for n in range(1, n_lines + 1):
        qty = rng.randint(1, 9) if rng.random() < 0.93 else rng.randint(25, 144)
        price = unit_price(rng, dec)
        rates = rng.choice(rate_pool)
        rsum = sum((RATES[r][0] for r in rates), F(0))
        gross_entered = price * qty          # what the shop shows for qty x price
        sub_net = gross_entered / (1 + rsum) if pit else gross_entered
        lines.append({"n": n, "qty": qty, "rates": rates, "rsum": rsum, "sub_net": sub_net,
                      "gross": gross_entered, "disc": F(0)})
    # coupons take whole minor units off the lines (WooCommerce works in cents)
    unit = F(1, 10 ** dec)
    if pct is not None:
        for ln in lines:
            ln["disc"] += F(rnd(ln["sub_net"] * pct, dec)) * unit
    if fixed is not None:
        remaining = F(fixed)
        for ln in lines:
            room = F(rnd(ln["sub_net"], dec)) * unit - ln["disc"]
            take = min(room, remaining)
            if take > 0:
                ln["disc"] += take
                remaining -= take
    items, cents_total, coupon_disc = [], F(0), F(0)
    for ln in lines:
        net = ln["sub_net"] - ln["disc"]
        taxes = []
        line_tax = F(0)
        for r in ln["rates"]:
            t = net * RATES[r][0]
            if pit and ln["rsum"]:
                # tax included: the rate's share of the gross after the coupon
                t = (net * (1 + ln["rsum"])) * RATES[r][0] / (1 + ln["rsum"])
            taxes.append({"id": r, "total": unrounded(t),
                          "subtotal": unrounded(ln["sub_net"] * RATES[r][0])})
            rate_tax[r] = rate_tax.get(r, F(0)) + t
            line_tax += t
        exact_parts.append(net + line_tax)
        coupon_disc += ln["disc"]
        sku = "" if rng.random() < 0.15 else "SKU-%d-%d" % (i % 97, ln["n"])
        items.append({
            "id": ln["n"], "name": rng.choice(PRODUCTS), "product_id": 1000 + ln["n"],
            "variation_id": 0, "quantity": ln["qty"], "tax_class": "",
            "subtotal": show(rnd(ln["sub_net"], dec), dec),
            "subtotal_tax": show(rnd(ln["sub_net"] * ln["rsum"], dec), dec),
            "total": show(rnd(net, dec), dec), "total_tax": show(rnd(line_tax, dec), dec),
            "taxes": taxes, "meta_data": [], "sku": sku,
            "price": float(ln["gross"] / ln["qty"]) if ln["qty"] else 0.0,
        })
    fees = []
    if rng.random() < 0.2:
        amount = F(rng.choice([150, 275, 500, -300, -99, 1000]), 100 if dec else 1)
        if dec == 0:
            amount *= 10
        rates = rng.choice(rate_pool) if amount > 0 and rng.random() < 0.5 else ()
        taxes, ftax = [], F(0)
        for r in rates:
            t = amount * RATES[r][0]
            rate_tax[r] = rate_tax.get(r, F(0)) + t
            ftax += t
            taxes.append({"id": r, "total": unrounded(t), "subtotal": ""})
        exact_parts.append(amount + ftax)
        fees.append({"id": 9000, "name": rng.choice(["Gift wrap", "Handling", "Loyalty credit",
                                                     "Émballage"]),
                     "tax_class": "", "tax_status": "taxable" if rates else "none",
                     "total": show(rnd(amount, dec), dec), "total_tax": show(rnd(ftax, dec), dec),
                     "taxes": taxes})
    shipping = []
    s = rng.random()
    if s < 0.75:
        cost = F(0) if s < 0.15 else F(rng.choice([499, 595, 1000, 1250, 2999]), 100 if dec else 1)
        rates = rng.choice(rate_pool) if cost > 0 and rng.random() < 0.5 else ()
        taxes, stax = [], F(0)
        for r in rates:
            t = cost * RATES[r][0]
            rate_ship_tax[r] = rate_ship_tax.get(r, F(0)) + t
            stax += t
            taxes.append({"id": r, "total": unrounded(t)})
        exact_parts.append(cost + stax)
        shipping.append({"id": 8000, "method_title": "Free shipping" if cost == 0 else "Flat rate",
                         "method_id": "flat_rate", "total": show(rnd(cost, dec), dec),
                         "total_tax": show(rnd(stax, dec), dec), "taxes": taxes})
    tax_lines, total_tax = [], 0
    for r in sorted(set(rate_tax) | set(rate_ship_tax)):
        t = rnd(rate_tax.get(r, F(0)), dec)
        st = rnd(rate_ship_tax.get(r, F(0)), dec)
        total_tax += t + st
        tax_lines.append({"id": 7000 + r, "rate_code": RATES[r][1], "rate_id": r,
                          "label": RATES[r][2], "compound": False, "tax_total": show(t, dec),
                          "shipping_tax_total": show(st, dec)})
    total = rnd(sum(exact_parts, F(0)), dec)
    coupons = []
    if pct is not None or fixed is not None:
        coupons.append({"id": 6000, "code": "PCT" if pct is not None else "FIXED",
                        "discount": show(rnd(coupon_disc, dec), dec), "discount_tax": "0"})
    first = rng.choice(NAMES)
    guest = rng.random() < 0.3
    email = "" if rng.random() < 0.03 else "%s.%d@example.com" % ("buyer", i % 1500)
    number = str(10000 + i) if rng.random() < 0.97 else "SHOP-EU-2026-%018d" % i
    day = 1 + i % 28
    return {
        "id": 10000 + i, "parent_id": 0, "number": number, "status": "processing",
        "currency": currency, "prices_include_tax": pit,
        "date_created": "2026-02-%02dT%02d:%02d:00" % (day, i % 24, i % 60),
        "date_created_gmt": "2026-02-%02dT%02d:%02d:00" % (day, (i + 5) % 24, i % 60),
        "date_paid": "2026-02-%02dT%02d:%02d:30" % (day, i % 24, i % 60),
        "discount_total": show(rnd(coupon_disc, dec), dec), "discount_tax": "0",
        "shipping_total": shipping[0]["total"] if shipping else show(0, dec),
        "total": show(total, dec), "total_tax": show(total_tax, dec),
        "customer_id": 0 if guest else 1 + i % 1500,
        "billing": {"first_name": first, "last_name": rng.choice(NAMES), "company": "",
                    "address_1": "%d Long Street" % (i % 300), "address_2": "", "city": "Town",
                    "state": "ST", "postcode": "%05d" % (i % 99999), "country": "US",
                    "email": email, "phone": ""},
        "shipping": None, "payment_method": "stripe", "payment_method_title": "Card",
        "transaction_id": "ch_%024d" % i, "line_items": items, "tax_lines": tax_lines,
        "shipping_lines": shipping, "fee_lines": fees, "coupon_lines": coupons, "refunds": [],
        "meta_data": [],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=20260301)
    ap.add_argument("--out")
    ap.add_argument("--config")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    orders = [make_order(rng, i) for i in range(a.count)]
    out = open(a.out, "w", encoding="utf-8") if a.out else sys.stdout
    json.dump(orders, out, ensure_ascii=False, separators=(",", ":"))
    out.write("\n")
    if a.out:
        out.close()
    if a.config:
        with open(a.config, "w") as f:
            json.dump(CONFIG, f)


if __name__ == "__main__":
    main()
