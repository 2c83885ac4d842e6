#!/usr/bin/env bash
# tests/integration/sync_refunds.sh - WooCommerce refunds reach QuickBooks with the default
# settings: the orders first (invoices), then POST /api/sync/refunds (the default flow,
# woo_refund_to_qbo_refund_receipt: the refunds of paid orders) and the same with flow
# woo_refund_to_qbo_credit_memo (the refunds of unpaid orders), against the strict QuickBooks
# mock. Every refund is posted once, as its order's state says, and reconciled (document total
# == refund amount); a second full run of each flow writes nothing.
# The refunds: fixture order 723 (unpaid: refund 726 amount only, 724 with a line), seeded paid
# and unpaid orders refunded in full or in part ("refund amount only", as the mock makes them
# from an order's refunds[] summary), and a paid order with no refund (no refunds call).
# Output: one line per check, then "N passed, M failed".

source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

sync_mocks
seed_orders 8101 6 3 4
# 8101-8103 paid (the fixture's date_paid, processing), 8104-8106 unpaid (on-hold, never paid);
# refunds[]: 8101 and 8104 in full, 8102 and 8105 in part, 8103 twice, 8106 none
python3 - "$T/seed.json" >"$T/refunded.json" <<'EOF'
import json, sys
seed = json.load(open(sys.argv[1]))
plan = {8101: ["-29.35"], 8102: ["-5.00"], 8103: ["-3.00", "-4.50"],
        8104: ["-29.35"], 8105: ["-7.25"], 8106: []}
rid = 9100
for o in seed["records"]:
    if o["id"] >= 8104:
        o["status"], o["date_paid"], o["date_paid_gmt"] = "on-hold", None, None
    o["refunds"] = []
    for total in plan[o["id"]]:
        rid += 1
        o["refunds"].append({"id": rid, "reason": "", "total": total})
print(json.dumps(seed))
EOF
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/refunded.json" >/dev/null
RR=4 # refunds of paid orders: 8101, 8102, 8103 x2
CM=4 # of unpaid ones: 8104, 8105, fixture 723 x2

serve_start WORKERS=2 || finish
sync_credentials
sq "DELETE FROM settings WHERE key = 'transformer_config'" # the defaults only

# run ENTITY BODY: start a run and wait for it; RUN is its JSON
run() {
    http POST "/api/sync/$1" -H 'Content-Type: application/json' --data-binary "$2"
    SYNC_ID=$(jq -r '.syncId // empty' <<<"$BODY" 2>/dev/null)
    assert_eq "POST /api/sync/$1 $2: 202" 202 "$CODE"
    wait_run 180000
}

failed_records() {
    fail "$1" "$(sq "SELECT source_id || ': ' || coalesce(error, '') FROM sync_records WHERE
        outcome = 'failed' LIMIT 5")"
}

echo "== the orders first"
run orders '{"mode": "full"}'
assert_jq "the orders run succeeds, none failed" "$RUN" '.state == "succeeded" and .counts.failed == 0'
jq -e '.counts.failed == 0' <<<"$RUN" >/dev/null || failed_records "the failed orders"

echo "== the refunds, default flow: the refunds of paid orders as RefundReceipts"
WOO_BEFORE=$(curl -s "$WOO/_mock/state" | jq '.requests | length')
run refunds '{"mode": "full"}'
assert_jq "the default flow is woo_refund_to_qbo_refund_receipt" "$RUN" \
    '.flow == "woo_refund_to_qbo_refund_receipt"'
assert_jq "succeeded: $RR created, the $CM of unpaid orders skipped, none failed" "$RUN" \
    ".state == \"succeeded\" and .counts.created == $RR and .counts.skipped == $CM and .counts.failed == 0"
jq -e '.counts.failed == 0' <<<"$RUN" >/dev/null || failed_records "the failed refunds"
assert_jq "... reconciled: every RefundReceipt total equals its refund's amount" "$RUN" \
    ".reconciliation.reconciled == $RR and .reconciliation.mismatched == 0 and
     .reconciliation.sourceTotalMinor == .reconciliation.targetTotalMinor"
calls=$(curl -s "$WOO/_mock/state" | jq -c --argjson from "$WOO_BEFORE" \
    '[.requests[$from:][] | .path | capture("/orders/(?<id>[0-9]+)/refunds$").id | tonumber] | unique')
assert_eq "refunds were asked only of the refunded orders" "[723,8101,8102,8103,8104,8105]" "$calls"

echo "== the refunds of unpaid orders: flow woo_refund_to_qbo_credit_memo"
run refunds '{"mode": "full", "flow": "woo_refund_to_qbo_credit_memo"}'
assert_jq "succeeded: $CM created, the $RR of paid orders skipped, none failed" "$RUN" \
    ".state == \"succeeded\" and .counts.created == $CM and .counts.skipped == $RR and .counts.failed == 0"
jq -e '.counts.failed == 0' <<<"$RUN" >/dev/null || failed_records "the failed refunds"
assert_jq "... reconciled" "$RUN" \
    ".reconciliation.reconciled == $CM and .reconciliation.mismatched == 0 and
     .reconciliation.sourceTotalMinor == .reconciliation.targetTotalMinor"

st=$(qbo_state)
assert_jq "QuickBooks holds $RR RefundReceipts and $CM CreditMemos" "$st" \
    ".counts.RefundReceipt == $RR and .counts.CreditMemo == $CM"
# each document once, its total the refund's amount (DocNumber <order>-R<refund id>)
want=$(jq -c '[.records[] | . as $o | .refunds[] | {doc: "\($o.number)-R\(.id)",
    amt: (.total | tonumber | -. * 100 | round)}] + [{doc: "723-R726", amt: 1000}, {doc: "723-R724", amt: 900}]
    | sort_by(.doc)' "$T/refunded.json")
got=$(jq -c '[(.entities.RefundReceipt + .entities.CreditMemo)[] | {doc: .DocNumber,
    amt: (.TotalAmt * 100 | round)}] | sort_by(.doc)' <<<"$st")
assert_eq "one document per refund, each for the refund's amount" "$want" "$got"
assert_jq "the RefundReceipts are the paid orders' refunds" "$st" \
    '[.entities.RefundReceipt[].DocNumber | split("-")[0]] | unique == ["8101", "8102", "8103"]'
assert_jq "... deposited from Undeposited Funds (refund_account_id null)" "$st" \
    '(.entities.Account[] | select(.Name == "Undeposited Funds") | .Id) as $u
     | [.entities.RefundReceipt[].DepositToAccountRef.value] | unique == [$u]'

echo "== an incremental run takes a new refund: its order's date_modified moved"
run refunds '{"mode": "incremental"}' # the first incremental run of the flow: sets its cursor
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' -d '{"entity": "refunds",
    "order_id": 8103, "records": [{"id": 9103, "amount": "3.00", "line_items": [],
    "date_created_gmt": "2026-01-01T02:00:00"}, {"id": 9104, "amount": "4.50", "line_items": [],
    "date_created_gmt": "2026-01-01T02:00:00"}, {"id": 9200, "amount": "1.25", "line_items": [],
    "date_created_gmt": "2026-06-01T00:00:00"}]}' >/dev/null
run refunds '{"mode": "incremental"}'
# read: 8103's three refunds, and 8105's one (modified at the cursor, 04:00: inside the 300 s
# overlap window), not the whole store
assert_jq "incremental: order 8103's new refund created, its others unchanged, nothing else but the overlap" "$RUN" \
    '.state == "succeeded" and .counts.read == 4 and .counts.created == 1 and .counts.unchanged == 2
     and .counts.skipped == 1 and .counts.failed == 0 and .cursorFrom == "2026-01-01T04:00:00Z"'
st=$(qbo_state)
assert_jq "... a RefundReceipt of 1.25 for it" "$st" \
    "(.counts.RefundReceipt == $((RR + 1))) and ([.entities.RefundReceipt[] | select(.DocNumber == \"8103-R9200\") | .TotalAmt] == [1.25])"

echo "== a second full run of each flow writes nothing"
before=$(jq -c '.counts' <<<"$st")
for flow in woo_refund_to_qbo_refund_receipt woo_refund_to_qbo_credit_memo; do
    run refunds "{\"mode\": \"full\", \"flow\": \"$flow\"}"
    assert_jq "$flow again: nothing created or updated" "$RUN" \
        '.state == "succeeded" and .counts.created == 0 and .counts.updated == 0 and .counts.failed == 0'
done
assert_eq "QuickBooks holds the same documents" "$before" "$(qbo_state | jq -c '.counts')"
serve_stop
finish
