-- mappings/woo_order_to_qbo_payment.lua: the payment of a paid WooCommerce order -> a
-- QuickBooks Online Payment applied to the order's invoice. WooCommerce has no payment
-- resource: an order is paid when date_paid is set (payment_complete) and its status is not
-- pending / on-hold / failed / cancelled, and the gateway's reference is transaction_id.
--
-- Decisions:
-- * TotalAmt = the order total (what the customer paid); one Line of that amount with
--   LinkedTxn = { TxnId = ctx.ref("invoice", order id), TxnType = "Invoice" }: the payment
--   settles the invoice exactly, no unapplied credit. Refunds are separate documents
--   (RefundReceipt / CreditMemo), so a refunded order still shows its full payment.
-- * TxnDate = the date part of date_paid (site-local), date_paid_gmt when absent.
-- * PaymentRefNum = transaction_id cut to 21 characters (QuickBooks' limit); the full
--   reference and the method go to PrivateNote. The deposit account is QuickBooks' default
--   (Undeposited Funds).
-- * requires: the customer (as the invoice does) and the invoice itself (flow
--   woo_order_to_qbo_invoice, key = the order id), so a payment never arrives before its
--   invoice. `select`: paid orders that became invoices (not SalesReceipts, which are paid).
-- * An unpaid order is an error naming its status: there is no payment to post.
local money = require "engine.money"
local doc = require "lib.qbo_doc"
local woo = require "lib.woo_sales"

local NAME = "woo_order_to_qbo_payment"

local function map(order, ctx)
  local who, number = woo.who(NAME, order)
  if not woo.is_paid(order) then
    doc.fail(who, "date_paid", "the order is not paid (status %s, date_paid %s): no payment " ..
      "to post", doc.text(order.status) or "?", doc.text(order.date_paid) or "null")
  end
  local currency, decimals = woo.currency(who, order)
  local total = doc.amount(who, "total", order.total, decimals)
  if total <= 0 then
    doc.fail(who, "total", "%s: a payment must be positive", money.format(total, decimals))
  end
  local ckey = woo.customer_key(order)
  if not ckey then
    doc.fail(who, "billing", "no e-mail address or name to find the customer by")
  end
  local id = doc.text(order.id) or number
  local amount = doc.number_of(who, "total", total, decimals)
  local date_field = doc.text(order.date_paid) and "date_paid" or "date_paid_gmt"
  local out = {
    CustomerRef = { value = ctx.ref("customer", ckey) },
    TotalAmt = amount,
    TxnDate = doc.date(who, date_field, order[date_field]),
    CurrencyRef = { value = currency },
    Line = { { Amount = amount,
      LinkedTxn = { { TxnId = ctx.ref("invoice", id), TxnType = "Invoice" } } } },
  }
  local note = { ("WooCommerce order #%s"):format(number) }
  local ref = doc.text(order.transaction_id)
  if ref then out.PaymentRefNum = doc.uhead(ref, doc.REF_NUM_MAX) end
  local method = doc.text(order.payment_method_title) or doc.text(order.payment_method)
  if method or ref then
    note[#note + 1] = ("Paid by %s%s"):format(method or "?", ref and (" (" .. ref .. ")") or "")
  end
  out.PrivateNote = doc.note(note)
  return out
end

return {
  name = NAME,
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "quickbooks", entity = "Payment" },
  key = "id",
  select = function(order, ctx)
    return woo.is_paid(order) and not woo.as_sales_receipt(order, ctx.config)
  end,
  requires = function(order, ctx)
    local who = woo.who(NAME, order)
    local out = {}
    local ckey = woo.customer_key(order)
    if ckey then
      out[#out + 1] = { entity = "customer", key = ckey, flow = "woo_customer_to_qbo_customer",
        record = woo.customer_record(order) }
    end
    out[#out + 1] = { entity = "invoice", key = doc.text(order.id) or who.record,
      flow = "woo_order_to_qbo_invoice", record = order }
    return out
  end,
  total = function(order) return woo.total(NAME, order) end,
  map = map,
}
