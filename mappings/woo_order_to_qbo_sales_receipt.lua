-- mappings/woo_order_to_qbo_sales_receipt.lua: a paid WooCommerce order -> a QuickBooks Online
-- SalesReceipt (the tenant's choice paid_orders_as = "SalesReceipt"): the same lines, discount,
-- tax, customer and reconciliation as the invoice (see woo_order_to_qbo_invoice.lua's header),
-- plus PaymentRefNum = the gateway's transaction_id (cut to 21 characters) and no DueDate.
-- The deposit account is QuickBooks' default (Undeposited Funds). A guest order without e-mail
-- or name is a SalesReceipt without CustomerRef (QuickBooks allows that; an Invoice does not).
-- Mapped on its own (dry run, tests) it gives a SalesReceipt for any order; `select` makes the
-- orchestrator give it only paid orders, and only under paid_orders_as = "SalesReceipt".
local woo = require "lib.woo_sales"

local NAME = "woo_order_to_qbo_sales_receipt"

return {
  name = NAME,
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "quickbooks", entity = "SalesReceipt" },
  key = "id",
  select = function(order, ctx) return woo.as_sales_receipt(order, ctx.config) end,
  requires = function(order, ctx) return woo.requires(NAME, order, ctx) end,
  total = function(order) return woo.total(NAME, order) end,
  map = function(order, ctx) return woo.build(NAME, order, ctx, "SalesReceipt") end,
}
