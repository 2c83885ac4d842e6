#!/usr/bin/env bash
# tests/integration/lineage.sh: `dry-run --explain` on every shipped mapping (mappings/*.lua)
# names, for chosen fields, the exact line that wrote them and the calls that led there through
# the helper libraries (lib/woo_sales.lua, qbo_doc.lua, woo_refund.lua, woo_rows.lua). Expected
# lines are found by grepping the source for the statement, never hard-coded, so the helpers
# may move. Then, over every data case of every shipped mapping: explain leaves the document
# unchanged, every field has an origin, and none is attributed by comparing values.
# shellcheck source=tests/integration/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
require_tools jq

SRC=$ENG_SOURCE_DIR

# at FILE TEXT: "FILE:N" for the one line of FILE (relative to the repository) holding TEXT.
# A TEXT on no line or on several fails the test: the statement it names moved or doubled.
at() {
    local lines
    lines=$(grep -nF -- "$2" "$SRC/$1" | cut -d: -f1)
    if [[ -z "$lines" || "$lines" == *$'\n'* ]]; then
        fail "the statement is on exactly one line of $1" "text: $2" "lines: ${lines:-none}"
        printf '%s:?' "$1"
        return
    fi
    printf '%s:%s' "$1" "$lines"
}
WS=scripts/lib/woo_sales.lua
QD=scripts/lib/qbo_doc.lua
WR=scripts/lib/woo_refund.lua
RW=scripts/lib/woo_rows.lua

# explain MAPPING CASE: dry-run --explain --json of a shipped data case (input and settings).
explain() {
    local c=$MAPPINGS_DIR/tests/$1/$2.json
    jq '.input' "$c" >"$T/in.json"
    jq '.settings // {}' "$c" >"$T/cfg.json"
    run_bin "$T/ex" dry-run --mapping "$1" --input "$T/in.json" --config "$T/cfg.json" --explain --json
    assert_eq "$1 $2: explain exits 0" 0 "$RC"
    EX=$OUT
}
# chain PATH: "line < caller < ... (part_of P)" of one output field of the last explain.
chain() {
    printf '%s' "$EX" | jq -r --arg p "$1" '.fields[] | select(.path == $p)
        | ([.line] + .via | join(" < ")) + (if .part_of then " part_of " + .part_of else "" end)'
}
# origin DESCRIPTION PATH EXPECTED-CHAIN
origin() { assert_eq "$1: $2" "$3" "$(chain "$2")"; }

# tail MAPPING STATEMENT: how a chain cut by a tail call ends: at map(), where it is defined
tail() { printf '(tail call from map(), %s)' "$(at "mappings/$1.lua" "$2")"; }

echo "== woo_order_to_qbo_invoice: the shipping line's Qty is not a line item's"
explain woo_order_to_qbo_invoice order-727
TAIL=$(tail woo_order_to_qbo_invoice 'map = function(order, ctx) return woo.build(NAME, order, ctx, "Invoice") end')
EMIT=$(at $WS 'local line, note = doc.sales_line_of(who, r.field, r.item_ref, r.description, r.qty, r.gross,')
DETAIL=$(at $QD 'local detail = { ItemRef = { value = item_ref }, Qty = qty, UnitPrice = price }')
AMOUNT=$(at $QD 'Amount = amount_json,')
# doc.sales_line(who, spec), as mappings call it, builds the line through sales_line_of
SPEC=$(at $QD 'local line, note = M.sales_line_of(who, spec.field, spec.item_ref, spec.description, spec.qty,')
assert_jq "order 727: Line[2] is the shipping line" "$EX" '.output.Line[2].Description == "Flat Rate"'
origin "shipping Qty: sales_line's detail, emitted from the shipping loop" '$.Line[2].SalesItemLineDetail.Qty' \
    "$DETAIL < $EMIT < $(at $WS 'for _, r in ipairs(others) do emit(r) end') < $TAIL"
origin "a line item's Qty: the same writer, emitted from the items loop" '$.Line[0].SalesItemLineDetail.Qty' \
    "$DETAIL < $EMIT < $(at $WS 'for _, r in ipairs(items) do emit(r) end') < $TAIL"
origin "shipping ItemRef: same constructor" '$.Line[2].SalesItemLineDetail.ItemRef.value' \
    "$DETAIL < $EMIT < $(at $WS 'for _, r in ipairs(others) do emit(r) end') < $TAIL"
origin "DueDate: the assignment in build" '$.DueDate' \
    "$(at $WS 'body.DueDate = doc.add_days(txn_date, doc.terms_days(who, config))') < $TAIL"
origin "DocNumber: its constructor item" '$.DocNumber' "$(at $WS 'DocNumber = doc.doc_number(number),') < $TAIL"
origin "BillAddr.City: address()'s put, called for City, from build" '$.BillAddr.City' \
    "$(at $QD 'out[key] = M.uhead(s, max)') < $(at $QD 'put("City", a.city, 255)') < $(at $WS 'body.BillAddr = doc.address(order.billing)') < $TAIL"
explain woo_order_to_qbo_invoice coupons-two-codes-taxed
D=$(printf '%s' "$EX" | jq '.output.Line | map(.DetailType) | index("DiscountLineDetail")')
origin "the discount line's Amount: discount_line, called from build" "\$.Line[$D].Amount" \
    "$(at $QD '"the discount line'"'"'s Amount"') < $(at $WS 'lines[#lines + 1] = doc.discount_line(who, discount, decimals, desc)') < $TAIL"

echo "== woo_order_to_qbo_sales_receipt"
explain woo_order_to_qbo_sales_receipt prices-include-tax-211
TAIL=$(tail woo_order_to_qbo_sales_receipt 'map = function(order, ctx) return woo.build(NAME, order, ctx, "SalesReceipt") end')
origin "PaymentRefNum: written only for a SalesReceipt" '$.PaymentRefNum' \
    "$(at $WS 'if ref then body.PaymentRefNum = doc.uhead(ref, doc.REF_NUM_MAX) end') < $TAIL"

echo "== woo_order_to_qbo_payment"
explain woo_order_to_qbo_payment order-609-long-transaction-id
P=mappings/woo_order_to_qbo_payment.lua
origin "PaymentRefNum: the mapping's own line" '$.PaymentRefNum' "$(at $P 'if ref then out.PaymentRefNum')"
origin "PrivateNote: the mapping's own line" '$.PrivateNote' "$(at $P 'out.PrivateNote = doc.note(note)')"

echo "== woo_refund_to_qbo_credit_memo: a whole-order refund is the order's document, renumbered"
explain woo_refund_to_qbo_credit_memo full-refund-unpaid-invoice
TAIL=$(tail woo_refund_to_qbo_credit_memo 'map = function(')
BUILD=$(at $WR 'body = woo.build(mapping, order, ctx, kind)')
origin "DocNumber: the refund's number overwrites the order's" '$.DocNumber' \
    "$(at $WR 'body.DocNumber = doc.doc_number(number .. "-R" .. refund_id)') < $TAIL"
origin "PrivateNote: the refund's note overwrites the order's" '$.PrivateNote' \
    "$(at $WR 'body.PrivateNote = doc.note(head)') < $TAIL"
origin "a line's Amount: through woo.build, called by the refund" '$.Line[0].Amount' \
    "$AMOUNT < $EMIT < $(at $WS 'for _, r in ipairs(items) do emit(r) end') < $BUILD < $TAIL"

echo "== woo_refund_to_qbo_refund_receipt: refunded lines"
explain woo_refund_to_qbo_refund_receipt partial-refund-with-lines-and-extra
TAIL=$(tail woo_refund_to_qbo_refund_receipt 'map = function(')
ADD=$(at $WR 'local line, note = doc.sales_line(who, { field = field, item_ref = item_ref,')
origin "a refunded line's Qty: the refund's add(), from its line-items loop" '$.Line[0].SalesItemLineDetail.Qty' \
    "$DETAIL < $SPEC < $ADD < $(at $WR 'add(field, ctx.ref("item", key), doc.name_text(li.name), q,') < $TAIL"
origin "DepositToAccountRef.value: its constructor" '$.DepositToAccountRef.value' \
    "$(at $WR 'body.DepositToAccountRef = { value = text(config.refund_account_id)') < $TAIL"

echo "== woo_customer_to_qbo_customer"
explain woo_customer_to_qbo_customer customer-25
C=mappings/woo_customer_to_qbo_customer.lua
origin "DisplayName: the mapping's constructor" '$.DisplayName' "$(at $C 'local out = { DisplayName = name }')"
origin "BillAddr.City: qbo_doc's address() from the mapping" '$.BillAddr.City' \
    "$(at $QD 'out[key] = M.uhead(s, max)') < $(at $QD 'put("City", a.city, 255)') < $(at $C 'out.BillAddr = doc.address(c.billing)')"

echo "== woo_product_to_qbo_item"
explain woo_product_to_qbo_item product-794
I=mappings/woo_product_to_qbo_item.lua
origin "UnitPrice" '$.UnitPrice' "$(at $I 'out.UnitPrice = doc.number_of(who, "UnitPrice", minor, scale)')"
origin "IncomeAccountRef.value" '$.IncomeAccountRef.value' "$(at $I 'out.IncomeAccountRef = { value =')"

echo "== pos_order_to_qbo_sales_receipt"
explain pos_order_to_qbo_sales_receipt a0007-eur
S=mappings/pos_order_to_qbo_sales_receipt.lua
assert_jq "the POS receipt has a sales line" "$EX" '.output.Line[0].DetailType == "SalesItemLineDetail"'
origin "a line's Amount: qbo_doc's sales_line, called by the mapping" '$.Line[0].Amount' \
    "$AMOUNT < $SPEC < $S:$(grep -n 'doc.sales_line(' "$SRC/$S" | head -1 | cut -d: -f1)"
origin "PrivateNote" '$.PrivateNote' "$(at $S 'out.PrivateNote = doc.note(head)')"

echo "== woo_customer_to_supabase_customer"
explain woo_customer_to_supabase_customer customer-25
SC=mappings/woo_customer_to_supabase_customer.lua
origin "email_normalized: the row's constructor item" '$.email_normalized' "$(at $SC 'email_normalized = email and email:lower() or json.null,')"
origin "billing.city: woo_rows' address(), from the row" '$.billing.city' \
    "$(at $RW 'out[k] = M.str(a[k])') < $(at $SC 'billing = rows.address(c.billing),')"

echo "== woo_order_to_supabase_order"
explain woo_order_to_supabase_order order-727
SO=mappings/woo_order_to_supabase_order.lua
origin "a line item's tax total: woo_rows' taxes(), from the item's row" '$.line_items[0].taxes[0].total' \
    "$(at $RW 'out[#out + 1] = json.object({ id = M.id(t.id), total = M.decimal(who, f .. ".total", t.total),') < $(at $SO 'taxes = rows.taxes(who, f .. ".taxes", li.taxes),')"
origin "refunded_total" '$.refunded_total' "$(at $SO 'refunded_total = money.format(refunded, decimals),')"

echo "== woo_product_to_supabase_product"
explain woo_product_to_supabase_product product-794
SP=mappings/woo_product_to_supabase_product.lua
origin "a category's slug" '$.categories[0].slug' "$(at $SP 'slug = rows.str(c.slug) })')"

echo "== every case of every shipped mapping: same document, every field's origin, no guess"
# check_all NAME MAPPING INPUT CONFIG: explain against the plain run (an array input gives an
# array of explained records), and every field's origin exact
check_all() {
    run_bin "$T/plain" dry-run --mapping "$2" --input "$3" --config "$4"
    run_bin "$T/all" dry-run --mapping "$2" --input "$3" --config "$4" --explain --json
    if [[ $RC != 0 ]]; then
        fail "$1: explain exits 0" "$ERR"
        return
    fi
    local same bad
    same=$(jq -n --slurpfile p "$T/plain.out" --slurpfile e "$T/all.out" '
        (if ($e[0] | type) == "array" then [$e[0][] | .output] else [$e[] | .output] end) as $o
        | if ($p[0] | type) == "array" then $p[0] == $o else [$p[0]] == $o end')
    bad=$(jq -s -c '[.[] | if type == "array" then .[] else . end | .fields[]
        | select(.by == "unknown" or has("same_as")
            or (.by == "map" and ((.line | test("^(mappings|scripts)/[a-z_/]+\\.lua:[0-9]+$")) | not))
            or ((.path | startswith("$")) | not)) | .path]' "$T/all.out")
    if [[ "$same" == true && "$bad" == "[]" ]]; then
        PASSED=$((PASSED + 1))
    else
        fail "$1: same document ($same), fields without an exact origin: $bad"
    fi
}
for dir in "$MAPPINGS_DIR"/tests/*/; do
    m=$(basename "$dir")
    [[ -f "$MAPPINGS_DIR/$m.lua" ]] || continue
    for c in "$dir"*.json; do
        jq -e 'has("expected")' "$c" >/dev/null || continue
        jq '.input' "$c" >"$T/in.json"
        jq '.settings // {}' "$c" >"$T/cfg.json"
        check_all "$m/$(basename "$c" .json)" "$m" "$T/in.json" "$T/cfg.json"
    done
done
echo '{}' >"$T/none.json"
for m in woo_order_to_qbo_invoice woo_order_to_supabase_order; do
    check_all "$m/shared orders-list (an array input)" "$m" \
        "$FIXTURES_DIR/woocommerce/orders-list.json" "$T/none.json"
done
echo "ok   $PASSED checks so far (each case counted once)"

finish
