-- mappings/pos_order_to_qbo_sales_receipt.lua: a POS order (schema/0004_pos_orders.sql, as
-- connectors/pos.lua reads it: *_minor integers in minor units of `currency`, items[]) -> a
-- QuickBooks Online SalesReceipt: an in-store sale is paid at the till.
--
-- Decisions:
-- * The POS columns are read as: item total_minor = quantity x unit_price_minor -
--   item discount_minor, tax excluded; order total_minor = sum(item total_minor) -
--   order discount_minor + shipping_minor + tax_minor. Money stays integer minor units.
-- * Lines: one SalesItemLineDetail per item at total_minor + discount_minor (the price before
--   its discount; UnitPrice = that / quantity, as the WooCommerce flows do), then one
--   DiscountLineDetail for all item discounts plus the order discount, then shipping on
--   shipping_item_id, or by default (null) on QuickBooks' SHIPPING_ITEM_ID when the company's
--   AllowShipping is on, else on the item named "Shipping" (required, created like the sale's
--   items; lib/qbo_doc shipping_ref). TotalTax = tax_minor; TaxCodeRef from tax_code_mappings[item tax_code],
--   else default_tax_code_id for an item that carries tax.
-- * Invariant: lines - discount + tax == total_minor, exactly (the POS stores integers, there is
--   no rounding to explain): otherwise an error stating both totals.
-- * Only a paid sale is a SalesReceipt: status completed / processing / refunded and
--   paid_minor >= total_minor (`select`); anything else is an error naming status and amounts.
-- * Customer: by e-mail, else by name (flow woo_customer_to_qbo_customer, which takes the
--   customer-like record built here); a walk-in sale without either has no CustomerRef
--   (QuickBooks allows that on a SalesReceipt).
-- * DocNumber = order_number (else the id), shortened like the invoice's past 21 characters;
--   TxnDate = the date part of ordered_at (UTC, as the POS stores it).
local money = require "engine.money"
local json = require "engine.json"
local doc = require "lib.qbo_doc"

local NAME = "pos_order_to_qbo_sales_receipt"
local PAID_STATUSES = { completed = true, processing = true, refunded = true }

local text, object = doc.text, doc.object

local function who_of(o)
  if type(o) ~= "table" then
    error(("%s: the record is %s, expected a POS order"):format(NAME, type(o)), 0)
  end
  local number = text(o.order_number) or text(o.id)
  if not number then error(("%s: POS order without id"):format(NAME), 0) end
  return doc.who(NAME, "POS order " .. number), number
end

local function currency_of(who, o)
  local currency = text(o.currency) or "USD"
  local decimals, err = money.decimals(currency)
  if not decimals then doc.fail(who, "currency", "%s", err) end
  return currency, decimals
end

local function customer_key(o)
  local c = object(o.customer)
  local email = doc.email(c.email)
  if email then return "email:" .. email:lower() end
  local name = doc.qbo_name(text(c.name), 500)
  if name then return "name:" .. name end
  return nil
end

local function item_key(it)
  local sku = text(it.sku)
  if sku then return "sku:" .. sku end
  local name = doc.qbo_name(text(it.name), 100)
  return name and ("name:" .. name) or nil
end

local function is_paid(o)
  local total, paid = o.total_minor, o.paid_minor
  return PAID_STATUSES[text(o.status) or ""] == true and math.type(total) == "integer"
    and math.type(paid) == "integer" and paid >= total
end

local function map(o, ctx)
  local who, number = who_of(o)
  local config = ctx.config or {}
  local currency, decimals = currency_of(who, o)
  local function fmt(m) return money.format(m, decimals) end
  local total = doc.minor(who, "total_minor", o.total_minor)
  local paid = doc.minor(who, "paid_minor", o.paid_minor, 0)
  if not is_paid(o) then
    doc.fail(who, "status", "not a paid sale (status %s, paid %s of %s %s): a SalesReceipt " ..
      "records a paid sale", text(o.status) or "?", fmt(paid), fmt(total), currency)
  end

  local lines, notes, sum, discount, taxed = {}, {}, 0, 0, 0
  local items = doc.list(who, o, "items")
  for i, it in ipairs(items) do
    local field = ("items[%d]"):format(i)
    if type(it) ~= "table" then doc.fail(who, field, "expected an object") end
    local key = item_key(it)
    if not key then doc.fail(who, field, "no sku or name to find the QuickBooks item by") end
    local net = doc.minor(who, field .. ".total_minor", it.total_minor)
    local disc = doc.minor(who, field .. ".discount_minor", it.discount_minor, 0)
    local tax = doc.minor(who, field .. ".tax_minor", it.tax_minor, 0)
    local gross = money.add(net, disc)
    local code
    local tc = text(it.tax_code)
    local mapped = tc and object(config.tax_code_mappings)[tc]
    if type(mapped) == "string" and mapped ~= "" then
      code = mapped
    elseif tax ~= 0 or tc then
      code = text(config.default_tax_code_id)
    end
    if tax ~= 0 then taxed = taxed + 1 end
    local line, note = doc.sales_line(who, { field = field, item_ref = ctx.ref("item", key),
      description = text(it.name), qty = it.quantity or 1, amount = gross,
      decimals = decimals, tax_code = code })
    lines[#lines + 1] = line
    if note then notes[#notes + 1] = note end
    sum = money.add(sum, gross)
    discount = money.add(discount, disc)
  end
  if #items == 0 then doc.fail(who, "items", "the order has no items") end
  discount = money.add(discount, doc.minor(who, "discount_minor", o.discount_minor, 0))
  if discount > 0 then
    lines[#lines + 1] = doc.discount_line(who, discount, decimals, "Discounts")
  elseif discount < 0 then
    doc.fail(who, "discount_minor", "a negative discount (%s)", fmt(discount))
  end
  local shipping = doc.minor(who, "shipping_minor", o.shipping_minor, 0)
  if shipping ~= 0 then
    lines[#lines + 1] = doc.sales_line(who, { field = "shipping_minor",
      item_ref = doc.shipping_ref(ctx), description = "Shipping", qty = 1,
      amount = shipping, decimals = decimals })
    sum = money.add(sum, shipping)
  end
  if taxed > 0 and #lines > doc.TAXABLE_LINES_MAX then
    doc.fail(who, "items", "%d lines; QuickBooks takes at most %d on a taxable document",
      #lines, doc.TAXABLE_LINES_MAX)
  end
  local tax = doc.minor(who, "tax_minor", o.tax_minor, 0)
  local doc_total = money.add(money.sub(sum, discount), tax)
  if doc_total ~= total then
    doc.fail(who, nil, "does not reconcile: items and shipping %s - discount %s + tax %s = %s " ..
      "%s but the order total is %s %s (document - order = %s)", fmt(sum), fmt(discount),
      fmt(tax), fmt(doc_total), currency, fmt(total), currency, fmt(doc_total - total))
  end

  local out = {
    DocNumber = doc.doc_number(number),
    TxnDate = doc.date(who, "ordered_at", o.ordered_at or o.created_at),
    CurrencyRef = { value = currency },
    Line = json.array(lines),
    TxnTaxDetail = { TotalTax = doc.number_of(who, "tax_minor", tax, decimals) },
  }
  if discount > 0 then out.ApplyTaxAfterDiscount = true end
  local ckey = customer_key(o)
  if ckey then out.CustomerRef = { value = ctx.ref("customer", ckey) } end
  local email = doc.email(object(o.customer).email)
  if email then out.BillEmail = { Address = email } end
  out.BillAddr = doc.address(o.billing_address)
  out.ShipAddr = doc.address(o.shipping_address)
  local head = { ("POS order %s"):format(number) }
  local method = text(o.payment_method)
  if method then head[#head + 1] = "Paid by " .. method end
  if paid > total then head[#head + 1] = ("Paid %s for %s (change given)"):format(fmt(paid),
    fmt(total)) end
  for _, n in ipairs(notes) do head[#head + 1] = n end
  out.PrivateNote = doc.note(head)
  local sent = doc.doc_total(out, decimals)
  if sent ~= total then
    doc.fail(who, nil, "does not reconcile after mapping: document %s, order %s", fmt(sent),
      fmt(total))
  end
  return out
end

return {
  name = NAME,
  source = { connector = "pos", entity = "orders" },
  target = { connector = "quickbooks", entity = "SalesReceipt" },
  key = "id",
  select = function(o) return type(o) == "table" and is_paid(o) end,
  requires = function(o, ctx)
    local who = who_of(o)
    local out = {}
    local ckey = customer_key(o)
    if ckey then
      local c = object(o.customer)
      out[#out + 1] = { entity = "customer", key = ckey, flow = "woo_customer_to_qbo_customer",
        record = json.object({ email = doc.email(c.email), display_name = text(c.name),
          billing = json.object({ phone = c.phone }) }) }
    end
    local seen = {}
    for i, it in ipairs(doc.list(who, o, "items")) do
      local key = type(it) == "table" and item_key(it) or nil
      if key and not seen[key] then
        seen[key] = true
        out[#out + 1] = { entity = "item", key = key, flow = "woo_product_to_qbo_item",
          record = json.object({ id = it.product_id, name = it.name, sku = it.sku }),
          create = (ctx.config or {}).create_missing_items ~= false }
      end
    end
    local ship = (math.type(o.shipping_minor) == "integer" and o.shipping_minor ~= 0)
      and doc.shipping_requirement(ctx)
    if ship and not seen[ship.key] then out[#out + 1] = ship end
    return out
  end,
  total = function(o)
    local who = who_of(o)
    local currency = currency_of(who, o)
    return currency, doc.minor(who, "total_minor", o.total_minor)
  end,
  map = map,
}
