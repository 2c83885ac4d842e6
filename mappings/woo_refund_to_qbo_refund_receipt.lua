-- mappings/woo_refund_to_qbo_refund_receipt.lua: a WooCommerce refund (full or partial) of a
-- PAID order -> a QuickBooks Online RefundReceipt. The money went back to the customer, so
-- QuickBooks records it leaving the account it came into (DepositToAccountRef:
-- refund_account_id when the settings have it, else the account named "Undeposited Funds", where
-- the Payment and SalesReceipt flows put it), PaymentRefNum = the order's transaction_id.
-- `select` gives this flow the refunds of paid orders.
--
-- Why two documents: QuickBooks has RefundReceipt for money returned and CreditMemo for a
-- reduction of what is owed; WooCommerce refunds an order either way. The record shape, the
-- lines and the reconciliation (document total == refund amount, always) are in
-- lib/woo_refund.lua. DocNumber = "<order number>-R<refund id>" (shortened like the invoice's
-- when over 21 characters), TxnDate = the refund's date.
local refund = require "lib.woo_refund"

local NAME = "woo_refund_to_qbo_refund_receipt"

return {
  name = NAME,
  -- the default for refunds is this one, for the refunds of paid orders; its `select` sibling
  -- woo_refund_to_qbo_credit_memo takes those of unpaid orders, run by naming it
  default_for = "refunds",
  source = { connector = "woocommerce", entity = "refunds" },
  target = { connector = "quickbooks", entity = "RefundReceipt" },
  key = "id",
  select = function(rec) return refund.kind(rec) == "RefundReceipt" end,
  requires = function(rec, ctx) return refund.requires(NAME, rec, ctx, "RefundReceipt") end,
  total = function(rec) return refund.total(NAME, rec) end,
  map = function(rec, ctx) return refund.build(NAME, rec, ctx, "RefundReceipt") end,
}
