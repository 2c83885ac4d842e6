-- mappings/woo_refund_to_qbo_credit_memo.lua: a WooCommerce refund (full or partial) of an
-- UNPAID order (its invoice still open) -> a QuickBooks Online CreditMemo. Nothing was paid
-- back: the customer owes less, so a credit memo reduces accounts receivable and QuickBooks
-- applies it to the open invoice (or the next one). `select` gives this flow the refunds of
-- unpaid orders.
--
-- Why two documents: QuickBooks has RefundReceipt for money returned and CreditMemo for a
-- reduction of what is owed; WooCommerce refunds an order either way. The record shape, the
-- lines and the reconciliation (document total == refund amount, always) are in
-- lib/woo_refund.lua. DocNumber = "<order number>-R<refund id>" (shortened like the invoice's
-- when over 21 characters), TxnDate = the refund's date.
local refund = require "lib.woo_refund"

local NAME = "woo_refund_to_qbo_credit_memo"

return {
  name = NAME,
  source = { connector = "woocommerce", entity = "refunds" },
  target = { connector = "quickbooks", entity = "CreditMemo" },
  key = "id",
  select = function(rec) return refund.kind(rec) == "CreditMemo" end,
  requires = function(rec, ctx) return refund.requires(NAME, rec, ctx, "CreditMemo") end,
  total = function(rec) return refund.total(NAME, rec) end,
  map = function(rec, ctx) return refund.build(NAME, rec, ctx, "CreditMemo") end,
}
