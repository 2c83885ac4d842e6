-- mappings/woo_order_to_qbo_invoice.lua: a WooCommerce order (wc/v3) -> a QuickBooks Online
-- Invoice create body. Pure Lua: no I/O, no clock; the same order and settings always give the
-- same invoice, byte for byte. The work is in lib/woo_sales.lua (shared with the SalesReceipt,
-- Payment and refund flows) and lib/qbo_doc.lua; the decisions below hold for all of them.
--
-- Decisions (each one is the rule a reviewer should hold this code to):
--
-- * Money is integer minor units from engine.money, at the order currency's ISO 4217 decimals
--   (JPY 0, USD/EUR 2), parsed with rounding "exact": an amount with more digits than the
--   currency has is an error naming the field. Nothing is ever added as a float. Amounts leave
--   as JSON numbers built from minor units (an integer when whole, else the double nearest the
--   decimal, checked to encode as exactly that decimal).
-- * Lines, in this order: one SalesItemLineDetail per line item, at its `subtotal` (the price
--   before coupons, tax excluded); then ONE DiscountLineDetail (PercentBased false) for the
--   coupons; then one line per fee (negative fees allowed) and per shipping line (ItemRef =
--   shipping_item_id, see "Shipping" below). WooCommerce's line `total` is already after coupons, so the discount line
--   is exactly sum(subtotal - total) over the line items: the coupons appear once, as the issue
--   asks, and never twice. Coupon codes and amounts go in the discount line's Description; when
--   coupon_lines[].discount disagree with the line items (WooCommerce rounds them separately),
--   the line items win and PrivateNote says so. Coupons do not touch fees or shipping, as in
--   WooCommerce. ApplyTaxAfterDiscount = true when there is a discount: WooCommerce taxes the
--   after-coupon amounts.
-- * Tax: TxnTaxDetail.TotalTax = the order's total_tax (the tax the shop collected; QuickBooks
--   with automated sales tax recomputes it, which reconciliation then reports). Line amounts are
--   always net of tax: WooCommerce line `subtotal`/`total` exclude tax even when
--   prices_include_tax is true, so no GlobalTaxCalculation is sent (net amounts are the
--   default) and the same invariant holds for both shop settings. A line's TaxCodeRef comes
--   from tax_code_mappings keyed by the rate id ("75") or rate code ("US-CA-STATE TAX"); a line
--   taxed by several rates (GST + PST) looks up their combination first ("4+5" or
--   "CA-GST+CA-PST", ascending ids), since QuickBooks takes one code a line; rates left
--   unmapped take default_tax_code_id; two rates mapping to two codes with no combination
--   mapped is an error. Several rates on one order are listed per rate in PrivateNote.
-- * Qty and UnitPrice: UnitPrice = Amount / Qty at the fewest extra decimals (up to 5) for which
--   Qty x UnitPrice rounds to Amount; PrivateNote says when it is rounded. Amount is never
--   changed to fit a price.
-- * Invariant: sum(sales lines) - discount + TotalTax == order total, in minor units, checked on
--   the document as it will be sent. WooCommerce shows every amount rounded to the currency
--   from finer internal values (a tax-inclusive price is split into net and tax at 4+
--   decimals), so the rounded parts may miss the total by up to half a minor unit each: a
--   difference within (lines + 2 x tax lines + 1) / 2 minor units (each tax line shows two
--   rounded amounts; the total is one more) is spread over the lines in proportion to
--   their amounts (money.allocate: largest remainder, ties to the earlier line; deterministic)
--   and recorded in PrivateNote with each line's share; the tax is never changed (it is what was
--   collected). A larger difference is an order that does not add up (a hand-edited mock): an
--   error stating both totals and the difference, never a document.
-- * Refunds are not on the invoice (they become RefundReceipts / CreditMemos, see
--   woo_refund_to_qbo_refund_receipt.lua); PrivateNote lists them.
-- * DocNumber = the order number when it fits QuickBooks' 21 characters; a longer one (or one
--   that has the shape of a shortened one) becomes its last 8 characters, "-", and the first 12
--   hex digits of sha256(number): distinct numbers give distinct DocNumbers. PrivateNote keeps
--   the full number.
-- * Dates: TxnDate = the date part of date_created (site-local: the shop's business date;
--   date_created_gmt when absent); DueDate = TxnDate + default_payment_terms_days, in integer
--   civil-date arithmetic.
-- * Customer and items are resolved first (requires): the customer by e-mail, then by display
--   name (key "email:<lower-case address>" or "name:<DisplayName>", flow
--   woo_customer_to_qbo_customer); items by SKU, then by name ("sku:<sku>" / "name:<name>",
--   flow woo_product_to_qbo_item; created only when create_missing_items is not false). Fees
--   use the item named like the fee ("name:<fee name>").
-- * Shipping: an explicit shipping_item_id is used as is. By default (null) the company decides
--   (ctx.company, read from its Preferences at the start of a run): with
--   SalesFormsPrefs.AllowShipping on, QuickBooks' own "SHIPPING_ITEM_ID"; otherwise the item
--   named "Shipping" ("name:Shipping", required like a fee's item, created when
--   create_missing_items allows). Without a company (dry run from files, `tallysync test`) the
--   mapping assumes AllowShipping off (lib/mapping ASSUMED_COMPANY).
-- * Tax codes with default_tax_code_id null: a taxed line in a US company (ctx.company.country)
--   takes QuickBooks' literal "TAX"; elsewhere an unmapped rate leaves the line without a code.
-- * Paid orders as SalesReceipts: with paid_orders_as = "SalesReceipt", an order WooCommerce has
--   been paid for (date_paid set, status not pending / on-hold / failed / cancelled) is the
--   woo_order_to_qbo_sales_receipt flow's, same lines; `select` tells the orchestrator which
--   flow takes a record. Mapped on its own (dry run, tests), this file always gives an Invoice.
-- * BillEmail, BillAddr, ShipAddr from billing / shipping (an address QuickBooks would refuse is
--   left out and noted); custom_field_mappings -> CustomField (at most 3, StringValue cut to 31
--   characters, QuickBooks' limit for sales-form fields).
-- * Errors: error(msg, 0) with "woo_order_to_qbo_invoice: order <number>: <field>: <cause>".
local woo = require "lib.woo_sales"

local NAME = "woo_order_to_qbo_invoice"

return {
  name = NAME,
  default_for = "orders",
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "quickbooks", entity = "Invoice" },
  key = "id",
  -- this flow takes every order except paid ones under paid_orders_as = "SalesReceipt"
  select = function(order, ctx) return not woo.as_sales_receipt(order, ctx.config) end,
  requires = function(order, ctx) return woo.requires(NAME, order, ctx) end,
  total = function(order) return woo.total(NAME, order) end,
  map = function(order, ctx) return woo.build(NAME, order, ctx, "Invoice") end,
}
