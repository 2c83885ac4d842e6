-- mappings/woo_order_to_supabase_order.lua: a WooCommerce order -> one row of the Supabase
-- table `orders` (columns: mappings/supabase/woo.sql). Upserted on the primary key `id`.
--
-- Decisions:
-- * Money columns are exact decimal text at the currency's decimals ("29.35", JPY "1500") for
--   numeric columns; nothing is a float. Per-rate line taxes keep WooCommerce's unrounded
--   precision ("0.352941") as decimal text.
-- * Line items, fees, shipping lines, coupons, tax lines and refunds are JSON columns (one row
--   per order: a re-sync replaces them whole, no orphaned child rows); each element's money
--   follows the same rule, and `price` (a float in WooCommerce) is left out: subtotal /
--   quantity is exact.
-- * refunded_total = the sum of refunds[] (positive); the row's total stays the order's total.
-- * Dates: the *_gmt fields as UTC timestamps ("...Z"); date_created as the shop's local text.
-- * Every row has every column (json.null when WooCommerce has nothing), so bulk upserts send
--   one column list.
local money = require "engine.money"
local json = require "engine.json"
local doc = require "lib.qbo_doc"
local woo = require "lib.woo_sales"
local rows = require "lib.woo_rows"

local NAME = "woo_order_to_supabase_order"

local function map(o)
  local who = woo.who(NAME, o)
  local currency, decimals = woo.currency(who, o)
  local function m(field, v) return rows.money(who, field, v, decimals) end

  local items = {}
  for i, li in ipairs(doc.list(who, o, "line_items")) do
    local f = ("line_items[%d]"):format(i)
    if type(li) ~= "table" then doc.fail(who, f, "expected an object") end
    items[i] = json.object({
      id = rows.id(li.id), product_id = rows.id(li.product_id),
      variation_id = rows.id(li.variation_id), sku = rows.str(li.sku),
      name = doc.name_text(li.name) or json.null,
      quantity = rows.quantity(who, f .. ".quantity", li.quantity),
      tax_class = rows.str(li.tax_class),
      subtotal = m(f .. ".subtotal", li.subtotal), subtotal_tax = m(f .. ".subtotal_tax",
        li.subtotal_tax),
      total = m(f .. ".total", li.total), total_tax = m(f .. ".total_tax", li.total_tax),
      taxes = rows.taxes(who, f .. ".taxes", li.taxes),
    })
  end
  local fees = {}
  for i, fl in ipairs(doc.list(who, o, "fee_lines")) do
    local f = ("fee_lines[%d]"):format(i)
    fees[i] = json.object({ id = rows.id(fl.id), name = doc.name_text(fl.name) or json.null,
      tax_status = rows.str(fl.tax_status), total = m(f .. ".total", fl.total),
      total_tax = m(f .. ".total_tax", fl.total_tax),
      taxes = rows.taxes(who, f .. ".taxes", fl.taxes) })
  end
  local shipping = {}
  for i, sl in ipairs(doc.list(who, o, "shipping_lines")) do
    local f = ("shipping_lines[%d]"):format(i)
    shipping[i] = json.object({ id = rows.id(sl.id),
      method_title = doc.name_text(sl.method_title) or json.null,
      method_id = rows.str(sl.method_id), total = m(f .. ".total", sl.total),
      total_tax = m(f .. ".total_tax", sl.total_tax),
      taxes = rows.taxes(who, f .. ".taxes", sl.taxes) })
  end
  local coupons = {}
  for i, c in ipairs(doc.list(who, o, "coupon_lines")) do
    local f = ("coupon_lines[%d]"):format(i)
    coupons[i] = json.object({ id = rows.id(c.id), code = rows.str(c.code),
      discount = m(f .. ".discount", c.discount),
      discount_tax = m(f .. ".discount_tax", c.discount_tax) })
  end
  local taxes = {}
  for i, t in ipairs(doc.list(who, o, "tax_lines")) do
    local f = ("tax_lines[%d]"):format(i)
    taxes[i] = json.object({ id = rows.id(t.id), rate_id = rows.id(t.rate_id),
      rate_code = rows.str(t.rate_code), label = rows.str(t.label),
      compound = t.compound == true, tax_total = m(f .. ".tax_total", t.tax_total),
      shipping_tax_total = m(f .. ".shipping_tax_total", t.shipping_tax_total) })
  end
  local refunds, refunded = {}, 0
  for i, r in ipairs(doc.list(who, o, "refunds")) do
    local f = ("refunds[%d].total"):format(i)
    local amt = doc.amount_or_zero(who, f, r.total, decimals)
    refunded = money.sub(refunded, amt)
    refunds[i] = json.object({ id = rows.id(r.id), reason = rows.str(r.reason),
      total = money.format(amt, decimals) })
  end
  local b = doc.object(o.billing)
  return json.object({
    id = rows.id(o.id),
    number = rows.str(o.number),
    status = rows.str(o.status),
    currency = currency,
    prices_include_tax = o.prices_include_tax == true,
    customer_id = rows.id(o.customer_id),
    customer_email = doc.text(b.email) and doc.text(b.email):lower() or json.null,
    billing = rows.address(o.billing),
    shipping = rows.address(o.shipping),
    payment_method = rows.str(o.payment_method),
    payment_method_title = rows.str(o.payment_method_title),
    transaction_id = rows.str(o.transaction_id),
    customer_note = rows.str(o.customer_note),
    date_created = rows.str(o.date_created),
    date_created_gmt = rows.utc(o.date_created_gmt),
    date_modified_gmt = rows.utc(o.date_modified_gmt),
    date_paid_gmt = rows.utc(o.date_paid_gmt),
    date_completed_gmt = rows.utc(o.date_completed_gmt),
    discount_total = m("discount_total", o.discount_total),
    discount_tax = m("discount_tax", o.discount_tax),
    shipping_total = m("shipping_total", o.shipping_total),
    shipping_tax = m("shipping_tax", o.shipping_tax),
    cart_tax = m("cart_tax", o.cart_tax),
    total_tax = m("total_tax", o.total_tax),
    total = rows.money(who, "total", o.total, decimals),
    refunded_total = money.format(refunded, decimals),
    line_items = json.array(items),
    fee_lines = json.array(fees),
    shipping_lines = json.array(shipping),
    coupon_lines = json.array(coupons),
    tax_lines = json.array(taxes),
    refunds = json.array(refunds),
  })
end

return {
  name = NAME,
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "supabase", entity = "orders" },
  key = "id",
  total = function(o) return woo.total(NAME, o) end,
  map = map,
}
