#!/usr/bin/env bash
# sync_page_cap.sh - a backfill whose first 300 orders need more batches than QuickBooks takes in
# a minute (57: 7 of customers, 40 of new items, 10 of invoices; 40 allowed) against the mock at
# Intuit's published limits. The run records orders before the window turns (the 41st batch is
# admitted only a minute after the first): a gathered page keeps only the records whose batches
# fit one pacing window, and the rest start the next page, instead of one page waiting out the
# minute (past its budget, had the limits been tighter) with nothing recorded. The whole run then
# ends succeeded with every invoice made once, and the mock never answered 429: the engine's
# 60 s window, counted from each answer, never lands a request inside Intuit's minute. Takes a
# minute and a bit (the window is real); no time is asserted, only the order of what the mock
# and the store saw.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

# the store holds exactly the test's orders (the fixtures without their orders list)
TEMPLATE="$FIXTURES_DIR/woocommerce/order.json"
mkdir -p "$T/fx"
cp -r "$FIXTURES_DIR/woocommerce" "$T/fx/"
echo '[]' >"$T/fx/woocommerce/orders-list.json"
jq '.id = 8000' "$TEMPLATE" >"$T/fx/woocommerce/order.json" # the single-order fixture: one seeded
FIXTURES_DIR="$T/fx"
sync_mocks
N=300
python3 - "$TEMPLATE" "$N" >"$T/seed.json" <<'EOF'
import json, sys
tmpl = json.load(open(sys.argv[1]))
out = []
for i in range(int(sys.argv[2])):
    oid = 8000 + i
    o = json.loads(json.dumps(tmpl))
    o["id"], o["number"] = oid, str(oid)
    t = "2026-05-01T%02d:%02d:00" % (i // 60, i % 60)
    for k in ("date_created", "date_created_gmt", "date_modified", "date_modified_gmt"):
        o[k] = t
    c = oid % 200
    o["customer_id"] = 1000 + c
    o["billing"].update(email="buyer%d@example.com" % c, first_name="Buyer", last_name="No%d" % c)
    # four products of its own each (1,200 new items): the second line (12.00, tax 0.90) split
    # into three of 4.00 (tax 0.30), so the order's total stays the fixture's
    first, second = o["line_items"]
    lines = [first]
    for _ in range(3):
        li = json.loads(json.dumps(second))
        li.update(quantity=1, price=4, subtotal="4.00", total="4.00", total_tax="0.30")
        if "subtotal_tax" in li:
            li["subtotal_tax"] = "0.30"
        li["taxes"] = [dict(t, total="0.3", subtotal="0.3") for t in li.get("taxes", [])]
        lines.append(li)
    for j, li in enumerate(lines):
        li["id"] = oid * 10 + j
        li["sku"] = "CAP-%d-%d" % (oid, j)
        li["name"] = "Product %s" % li["sku"]
    o["line_items"] = lines
    out.append(o)
print(json.dumps({"entity": "orders", "records": out}))
EOF
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/seed.json" >/dev/null
serve_start WORKERS=1 || finish
sync_credentials
curl -s -X POST "$QBO/_mock/config" -d '{"per_minute": 500, "batch_per_minute": 40, "concurrent": 10,
    "window_s": 60, "retry_after": 1, "reset_counters": true}' >/dev/null

start_run '{"mode": "full"}'
[[ -n "$SYNC_ID" ]] || { fail "a full run starts" "$CODE $BODY"; finish; }
recorded() { [[ $(sq "SELECT records_read FROM sync_runs WHERE id = '$SYNC_ID'") -gt 0 ]]; }
wait_for 100000 recorded
READ=$(sq "SELECT records_read FROM sync_runs WHERE id = '$SYNC_ID'")
BATCHES=$(qbo_state | jq .batch_calls)
assert_jq "orders were recorded (${READ:-0}) while the minute's 40 batches lasted (${BATCHES} admitted so far)" \
    "{\"read\": ${READ:-0}, \"batches\": ${BATCHES:-0}}" '.read > 0 and .batches <= 40'

wait_run 200000
assert_jq "the run succeeded, every order created" "$RUN" \
    ".state == \"succeeded\" and .counts.created == $N and .counts.failed == 0"
STATE=$(qbo_state)
assert_jq "QuickBooks holds each invoice once" "$STATE" \
    "[.entities.Invoice[] | select((.DocNumber | tonumber) >= 8000) | .DocNumber] | length == $N and (unique | length) == $N"
# the least is 57 batches; the page split at the window ends its customers' and invoices' batches
# short (one each)
assert_jq "... 1,200 items and 200 customers, in at most 2 batches more than the least 57" "$STATE" \
    '(.entities.Item | length) == 1200 and (.entities.Customer | length) == 200 and .batch_calls <= 59'
assert_jq "the mock never had to answer 429 (the pacing kept inside Intuit's minute)" "$STATE" '.throttled == 0'
finish
