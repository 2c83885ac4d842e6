-- lib/woo_sales.lua: a WooCommerce order (wc/v3) read as a QuickBooks sales document: its lines,
-- discount, tax, customer and items, and the reconciliation of the document total with the
-- order total. Shared by the order -> Invoice / SalesReceipt / Payment and refund mappings; the
-- rules are stated once, in mappings/woo_order_to_qbo_invoice.lua's header. Pure Lua.
-- Must not: post a document whose total differs from the order's, or sum floats.
local money = require "engine.money"
local json = require "engine.json"
local doc = require "lib.qbo_doc"

local M = {}

local text, is_null, object = doc.text, doc.is_null, doc.object
local type, ipairs = type, ipairs
local money_add, money_sub, money_parse = money.add, money.sub, money.parse
local doc_amount, name_text = doc.amount, doc.name_text

-- Minor units of an order amount at field .. suffix (the name built only for an error): the
-- decimal text WooCommerce sends, parsed exactly; anything else goes to doc.amount's checks.
local function amount_at(who, field, suffix, v, decimals)
  if type(v) == "string" then
    local m = money_parse(v, decimals, "exact")
    if m then return m end
  end
  return doc_amount(who, field .. suffix, v, decimals)
end

-- The label errors use: "order <number>".
function M.who(mapping, order)
  if type(order) ~= "table" then
    error(("%s: the record is %s, expected a WooCommerce order object"):format(mapping,
      type(order)), 0)
  end
  local number = text(order.number) or text(order.id)
  if not number then error(("%s: order without number or id"):format(mapping), 0) end
  return doc.who(mapping, "order " .. number), number
end

-- currency, decimals of the order.
function M.currency(who, order)
  local currency = text(order.currency)
  if not currency then doc.fail(who, "currency", "missing") end
  local decimals, err = money.decimals(currency)
  if not decimals then doc.fail(who, "currency", "%s", err) end
  return currency, decimals
end

-- Statuses in which WooCommerce has taken the money (date_paid is set on payment_complete).
local UNPAID = { pending = true, failed = true, cancelled = true, ["on-hold"] = true,
  ["checkout-draft"] = true, trash = true }

function M.is_paid(order)
  local paid = text(order.date_paid_gmt) or text(order.date_paid)
  return paid ~= nil and not UNPAID[text(order.status) or ""]
end

-- True when this order becomes a SalesReceipt under the tenant's settings.
function M.as_sales_receipt(order, config)
  return (config or {}).paid_orders_as == "SalesReceipt" and M.is_paid(order)
end

---------------------------------------------------------------------------------------------------
-- customer and items to resolve first

local function billing_email(order)
  return doc.email(object(order.billing).email)
end

-- The customer's display name from a billing/customer record: "First Last", else the company,
-- else the e-mail address, else the user name.
function M.display_name(c)
  c = object(c)
  local b = object(c.billing)
  local first = doc.name_text(c.first_name) or doc.name_text(b.first_name)
  local last = doc.name_text(c.last_name) or doc.name_text(b.last_name)
  -- either may be absent (a first name of blanks only trims to nothing): {nil, last} is no list
  local full = first and last and (first .. " " .. last) or first or last or ""
  local name = doc.qbo_name(full ~= "" and full or nil, 500)
    or doc.qbo_name(doc.name_text(c.display_name), 500)
    or doc.qbo_name(doc.name_text(b.company) or doc.name_text(c.company), 500)
    or doc.qbo_name(text(c.email) or text(b.email), 500)
    or doc.qbo_name(doc.name_text(c.username), 500)
  return name
end

-- The id-map key of the order's customer: "email:<lower-case address>", else "name:<display
-- name>"; nil for an order with neither.
function M.customer_key(order)
  local email = billing_email(order)
  if email then return "email:" .. email:lower() end
  local name = M.display_name({ billing = order.billing })
  if name then return "name:" .. name end
  return nil
end

-- A WooCommerce-customer-like record built from the order, for the customer flow.
function M.customer_record(order)
  local b = object(order.billing)
  local id = text(order.customer_id)
  return json.object({
    id = (id and id ~= "0") and order.customer_id or nil,
    email = billing_email(order),
    first_name = b.first_name, last_name = b.last_name,
    billing = order.billing, shipping = order.shipping,
  })
end

-- The id-map key of a line item's QuickBooks item: "sku:<sku>", else "name:<decoded name>".
function M.item_key(li)
  local sku = text(li.sku)
  if sku then return "sku:" .. sku end
  local name = doc.qbo_name(doc.name_text(li.name), 100)
  if name then return "name:" .. name end
  return nil
end

-- The item a fee line posts to: an item named like the fee ("name:Gift wrap").
function M.fee_key(name)
  return "name:" .. (doc.qbo_name(name, 100) or "Fee")
end

-- A WooCommerce-product-like record for the item flow.
function M.item_record(li, decimals)
  local id = text(li.variation_id)
  if not id or id == "0" then id = text(li.product_id) end
  local rec = { id = id ~= "0" and id or nil, name = li.name, sku = text(li.sku) }
  -- the catalogue price before coupons: subtotal / quantity when that is a whole amount
  local q = math.tointeger(li.quantity)
  local sub = not is_null(li.subtotal) and money.parse(li.subtotal, decimals, "exact") or nil
  if q and q > 0 and sub and sub % q == 0 then
    rec.price = money.format(sub // q, decimals)
  end
  rec.tax_status = (type(li.taxes) == "table" and #li.taxes > 0) and "taxable" or "none"
  return json.object(rec)
end

-- requires(order, ctx) -> the customer and every distinct item of the order.
function M.requires(mapping, order, ctx)
  local who = M.who(mapping, order)
  local _, decimals = M.currency(who, order)
  local out = {}
  local ckey = M.customer_key(order)
  if ckey then
    out[#out + 1] = { entity = "customer", key = ckey, flow = "woo_customer_to_qbo_customer",
      record = M.customer_record(order) }
  end
  local seen = {}
  local create = (ctx.config or {}).create_missing_items
  for _, li in ipairs(doc.list(who, order, "line_items")) do
    local key = type(li) == "table" and M.item_key(li) or nil
    if key and not seen[key] then
      seen[key] = true
      out[#out + 1] = { entity = "item", key = key, flow = "woo_product_to_qbo_item",
        record = M.item_record(li, decimals),
        create = create ~= false }
    end
  end
  for _, fee in ipairs(doc.list(who, order, "fee_lines")) do
    local name = type(fee) == "table" and (doc.name_text(fee.name) or "Fee") or nil
    local key = name and M.fee_key(name)
    if key and not seen[key] then
      seen[key] = true
      out[#out + 1] = { entity = "item", key = key, flow = "woo_product_to_qbo_item",
        record = json.object({ name = name, tax_status = (type(fee.taxes) == "table"
          and #fee.taxes > 0) and "taxable" or "none" }), create = create ~= false }
    end
  end
  local ship = #doc.list(who, order, "shipping_lines") > 0 and doc.shipping_requirement(ctx)
  if ship and not seen[ship.key] then out[#out + 1] = ship end
  return out
end

-- total(order) -> currency, minor units of order.total.
function M.total(mapping, order)
  local who = M.who(mapping, order)
  local currency, decimals = M.currency(who, order)
  return currency, doc.amount(who, "total", order.total, decimals)
end

---------------------------------------------------------------------------------------------------
-- the document

-- Rate ids of a WooCommerce taxes[] list.
local function rate_ids(taxes)
  local ids = {}
  if type(taxes) ~= "table" then return ids end
  for _, t in ipairs(taxes) do
    local id = type(t) == "table" and text(t.id) or nil
    if id then ids[#ids + 1] = id end
  end
  return ids
end
M.rate_ids = rate_ids

-- build(mapping, order, ctx, kind) -> the body of a QuickBooks Invoice | SalesReceipt |
-- CreditMemo | RefundReceipt mirroring the whole order (see the invoice mapping's header).
function M.build(mapping, order, ctx, kind)
  local who, number = M.who(mapping, order)
  local config = ctx.config or {}
  local currency, decimals = M.currency(who, order)
  local function fmt(m) return money.format(m, decimals) end

  local rate_codes = {}
  for _, tl in ipairs(doc.list(who, order, "tax_lines")) do
    if type(tl) == "table" and text(tl.rate_id) then
      rate_codes[text(tl.rate_id)] = text(tl.rate_code)
    end
  end

  local notes = {}
  -- rows: { field, item_ref, description, qty, gross, taxes }; gross = Amount before coupons
  local items, others = {}, {}
  local discount = 0
  -- rate id text by the id as sent (lines repeat the order's few rates)
  local id_text = {}
  local function ids_of(taxes)
    local ids = {}
    if type(taxes) ~= "table" then return ids end
    for _, t in ipairs(taxes) do
      if type(t) == "table" then
        local raw = t.id
        local id = raw ~= nil and id_text[raw]
        if id == nil then
          id = text(raw) or false
          if raw ~= nil and raw == raw then id_text[raw] = id end
        end
        if id then ids[#ids + 1] = id end
      end
    end
    return ids
  end
  for i, li in ipairs(doc.list(who, order, "line_items")) do
    local field = ("line_items[%d]"):format(i)
    if type(li) ~= "table" then doc.fail(who, field, "expected an object") end
    local total = amount_at(who, field, ".total", li.total, decimals)
    local gross = total
    local subtotal = li.subtotal
    if not is_null(subtotal) and subtotal ~= "" then
      local sub = amount_at(who, field, ".subtotal", subtotal, decimals)
      if sub >= total and total >= 0 then gross = sub end
    end
    if gross ~= total then discount = money_add(discount, money_sub(gross, total)) end
    local key = M.item_key(li)
    if not key then doc.fail(who, field, "no sku or name to find the QuickBooks item by") end
    items[#items + 1] = { field = field, item_ref = ctx.ref("item", key),
      description = name_text(li.name), qty = li.quantity, gross = gross,
      taxes = ids_of(li.taxes) }
  end
  for i, fee in ipairs(doc.list(who, order, "fee_lines")) do
    local field = ("fee_lines[%d]"):format(i)
    if type(fee) ~= "table" then doc.fail(who, field, "expected an object") end
    local name = doc.name_text(fee.name) or "Fee"
    others[#others + 1] = { field = field, item_ref = ctx.ref("item", M.fee_key(name)),
      description = name, qty = 1,
      gross = amount_at(who, field, ".total", fee.total, decimals),
      taxes = ids_of(fee.taxes) }
  end
  local shipping_lines = doc.list(who, order, "shipping_lines")
  local shipping_item = #shipping_lines > 0 and doc.shipping_ref(ctx) or nil
  for i, sl in ipairs(shipping_lines) do
    local field = ("shipping_lines[%d]"):format(i)
    if type(sl) ~= "table" then doc.fail(who, field, "expected an object") end
    others[#others + 1] = { field = field, item_ref = shipping_item,
      description = doc.name_text(sl.method_title) or "Shipping", qty = 1,
      gross = amount_at(who, field, ".total", sl.total, decimals),
      taxes = ids_of(sl.taxes) }
  end
  if #items + #others == 0 then
    doc.fail(who, "line_items", "the order has no line items, fees or shipping lines")
  end

  -- coupons: the discount line is what the line items lost to them (subtotal - total)
  local coupons, coupon_sum = {}, 0
  for i, c in ipairs(doc.list(who, order, "coupon_lines")) do
    if type(c) == "table" then
      local d = doc.amount_or_zero(who, ("coupon_lines[%d].discount"):format(i), c.discount,
        decimals)
      coupon_sum = money.add(coupon_sum, d)
      coupons[#coupons + 1] = ("%s (-%s)"):format(text(c.code) or ("coupon " .. i), fmt(d))
    end
  end
  if #coupons > 0 and coupon_sum ~= discount then
    notes[#notes + 1] = ("Coupon lines say -%s, the line items show -%s before tax; the " ..
      "discount line uses the line items"):format(fmt(coupon_sum), fmt(discount))
  end

  -- reconcile: lines - discount + tax == order total, to the minor unit
  local total = doc.amount(who, "total", order.total, decimals)
  local total_tax = doc.amount_or_zero(who, "total_tax", order.total_tax, decimals)
  local sum = 0
  for _, r in ipairs(items) do sum = money_add(sum, r.gross) end
  for _, r in ipairs(others) do sum = money_add(sum, r.gross) end
  local doc_total = money.add(money.sub(sum, discount), total_tax)
  local diff = money.sub(total, doc_total)
  if diff ~= 0 then
    local rows = {}
    for _, r in ipairs(items) do rows[#rows + 1] = r end
    for _, r in ipairs(others) do rows[#rows + 1] = r end
    -- Each amount WooCommerce shows (every line, fee and shipping line, each tax line's
    -- tax_total and shipping_tax_total, and the total) is rounded to the currency's decimals
    -- from a finer internal value (prices entered with tax are split into net and tax at 4+
    -- decimals), so their sum may miss the total by at most half a minor unit per rounded
    -- amount. More than that is an order that does not add up.
    local n_tax = 2 * #doc.list(who, order, "tax_lines")
    local limit = (#rows + math.max(n_tax, 1) + 1) // 2
    local mag = diff < 0 and -diff or diff
    local deltas
    if mag <= limit then
      local amounts = {}
      for i, r in ipairs(rows) do amounts[i] = r.gross end
      deltas = doc.spread(diff, amounts)
    end
    if deltas == nil then
      doc.fail(who, nil, "does not reconcile: lines %s - discount %s + tax %s = %s %s but the " ..
        "order total is %s %s (document - order = %s); refusing to emit a document that " ..
        "differs from the order", fmt(sum), fmt(discount), fmt(total_tax), fmt(doc_total),
        currency, fmt(total), currency, fmt(-diff))
    end
    local moved = {}
    for i, r in ipairs(rows) do
      if deltas[i] ~= 0 then
        r.gross = r.gross + deltas[i]
        moved[#moved + 1] = ("%s %s%s"):format(r.field, deltas[i] > 0 and "+" or "",
          fmt(deltas[i]))
      end
    end
    notes[#notes + 1] = ("Rounding: WooCommerce's rounded amounts give %s, the order total is " ..
      "%s; the %s difference was spread over the largest lines: %s"):format(fmt(doc_total),
      fmt(total), fmt(diff), table.concat(moved, ", "))
  end

  -- lines: products, the discount, fees, shipping
  local lines = {}
  local taxed = 0
  -- the TaxCodeRef of each set of rates, worked out at its first line (which an error names)
  local code_of_rate, code_of_set = {}, {}
  local function emit(r)
    local taxes, code = r.taxes, nil
    local n = #taxes
    if n == 1 then
      local id = taxes[1]
      code = code_of_rate[id]
      if code == nil then
        code = doc.tax_code(who, r.field, taxes, rate_codes, config, ctx.company) or false
        code_of_rate[id] = code
      end
    elseif n > 1 then
      local set = table.concat(taxes, "\0")
      local known = code_of_set[set]
      if known and #known.ids == n then -- the same ids (one may hold a NUL: compare them)
        for i = 1, n do
          if known.ids[i] ~= taxes[i] then known = nil break end
        end
      else
        known = nil
      end
      if known then
        code = known.code
      else
        code = doc.tax_code(who, r.field, taxes, rate_codes, config, ctx.company) or false
        code_of_set[set] = { ids = taxes, code = code }
      end
    end
    if n > 0 then taxed = taxed + 1 end
    local line, note = doc.sales_line_of(who, r.field, r.item_ref, r.description, r.qty, r.gross,
      decimals, code or nil)
    lines[#lines + 1] = line
    if note then notes[#notes + 1] = note end
  end
  for _, r in ipairs(items) do emit(r) end
  if discount > 0 then
    local desc = #coupons > 0 and ("Coupons: " .. table.concat(coupons, ", ")) or "Discount"
    lines[#lines + 1] = doc.discount_line(who, discount, decimals, desc)
  end
  for _, r in ipairs(others) do emit(r) end
  if taxed > 0 and #lines > doc.TAXABLE_LINES_MAX then
    doc.fail(who, "line_items", "%d lines; QuickBooks takes at most %d on a taxable document",
      #lines, doc.TAXABLE_LINES_MAX)
  end

  -- tax breakdown for the bookkeeper
  local tax_parts, tax_sum = {}, 0
  for i, tl in ipairs(doc.list(who, order, "tax_lines")) do
    if type(tl) == "table" then
      local f = ("tax_lines[%d]"):format(i)
      local t = money.add(doc.amount_or_zero(who, f .. ".tax_total", tl.tax_total, decimals),
        doc.amount_or_zero(who, f .. ".shipping_tax_total", tl.shipping_tax_total, decimals))
      tax_sum = money.add(tax_sum, t)
      tax_parts[#tax_parts + 1] = ("%s %s"):format(text(tl.rate_code) or text(tl.label)
        or ("rate " .. (text(tl.rate_id) or "?")), fmt(t))
    end
  end
  if #tax_parts > 1 then
    notes[#notes + 1] = "Tax by rate: " .. table.concat(tax_parts, ", ")
  end
  if #tax_parts > 0 and tax_sum ~= total_tax then
    notes[#notes + 1] = ("Tax lines add up to %s, total_tax is %s; TotalTax uses total_tax")
      :format(fmt(tax_sum), fmt(total_tax))
  end

  -- the header
  local date_field = is_null(order.date_created) and "date_created_gmt" or "date_created"
  local txn_date = doc.date(who, date_field, order[date_field])
  local body = {
    DocNumber = doc.doc_number(number),
    TxnDate = txn_date,
    CurrencyRef = { value = currency },
    Line = json.array(lines),
    TxnTaxDetail = { TotalTax = doc.number_of(who, "total_tax", total_tax, decimals) },
  }
  if discount > 0 then body.ApplyTaxAfterDiscount = true end
  local ckey = M.customer_key(order)
  if ckey then
    body.CustomerRef = { value = ctx.ref("customer", ckey) }
  elseif kind ~= "SalesReceipt" and kind ~= "RefundReceipt" then
    doc.fail(who, "billing", "no e-mail address or name to find or create the customer by")
  end
  if kind == "Invoice" then
    body.DueDate = doc.add_days(txn_date, doc.terms_days(who, config))
  end
  local head = { ("WooCommerce order #%s"):format(number) }
  local raw_email = text(object(order.billing).email)
  local email = billing_email(order)
  if email then
    body.BillEmail = { Address = email }
  elseif raw_email then
    head[#head + 1] = ("billing.email %q left out: not an address QuickBooks accepts"):format(
      doc.uhead(raw_email, 120))
  end
  body.BillAddr = doc.address(order.billing)
  body.ShipAddr = doc.address(order.shipping)
  body.CustomField = doc.custom_fields(who, order, config.custom_field_mappings)
  if kind == "SalesReceipt" then
    local ref = text(order.transaction_id)
    if ref then body.PaymentRefNum = doc.uhead(ref, doc.REF_NUM_MAX) end
    local method = text(order.payment_method_title) or text(order.payment_method)
    if method then
      head[#head + 1] = "Paid by " .. method .. (ref and (" (" .. ref .. ")") or "")
    end
  end
  local refunds = {}
  for i, r in ipairs(doc.list(who, order, "refunds")) do
    if type(r) == "table" then
      local amt = doc.amount_or_zero(who, ("refunds[%d].total"):format(i), r.total, decimals)
      local s = ("#%s %s"):format(text(r.id) or "?", fmt(amt))
      local reason = text(r.reason)
      if reason then s = s .. " (" .. reason .. ")" end
      refunds[#refunds + 1] = s
    end
  end
  if #refunds > 0 and (kind == "Invoice" or kind == "SalesReceipt") then
    head[#head + 1] = "Refunded in WooCommerce, not on this document: " ..
      table.concat(refunds, ", ")
  end
  for _, n in ipairs(notes) do head[#head + 1] = n end
  body.PrivateNote = doc.note(head)

  -- the invariant, checked on what will be sent
  doc.reconciles(who, body, decimals, total, "order", currency)
  return body
end

return M
