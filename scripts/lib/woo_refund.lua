-- lib/woo_refund.lua: a WooCommerce refund read as a QuickBooks RefundReceipt or CreditMemo.
-- The record is a refund (wc/v3 /orders/{id}/refunds: id, amount > 0, reason, date_created,
-- line_items[] with negative quantities and totals, optional shipping_lines / fee_lines) or
-- the summary an order carries in refunds[] ({id, reason, total < 0}), with the parent order
-- in record.order. Pure Lua. Must not: post a refund whose total differs from the refund's.
--
-- Lines (the document's total always equals the refunded amount):
-- * a refund with lines: one line per refunded line item, fee and shipping line, at the
--   positive refunded amount (tax excluded), TaxCodeRef as on the order; TotalTax = the
--   refunded tax. What the refund amount holds beyond that (an amount typed by hand) is one
--   more line on the item "name:Refund", untaxed; lines worth more than the amount is an error
--   stating both.
-- * a refund of the whole order total without lines: the order's own lines, discount and tax
--   (lib/woo_sales build), so the books reverse exactly what was posted.
-- * a partial refund without lines (WooCommerce's "refund amount only"): one untaxed line on
--   "name:Refund" of the amount; which part was tax is not known, and PrivateNote says so.
local money = require "engine.money"
local json = require "engine.json"
local doc = require "lib.qbo_doc"
local woo = require "lib.woo_sales"

local M = {}

M.REFUND_ITEM = "name:Refund"

local text, is_null = doc.text, doc.is_null

function M.who(mapping, rec)
  if type(rec) ~= "table" then
    error(("%s: the record is %s, expected a WooCommerce refund object"):format(mapping,
      type(rec)), 0)
  end
  local id = text(rec.id) or "?"
  local order = rec.order
  if type(order) ~= "table" then
    doc.fail(doc.who(mapping, "refund " .. id), "order", "the refund carries no parent order")
  end
  local number = text(order.number) or text(order.id) or "?"
  return doc.who(mapping, ("refund %s of order %s"):format(id, number)), order, number, id
end

-- The refunded amount in minor units (positive).
local function refund_amount(who, rec, decimals)
  local amount
  if not is_null(rec.amount) then
    amount = doc.amount(who, "amount", rec.amount, decimals)
  else
    amount = -doc.amount(who, "total", rec.total, decimals)
  end
  if amount <= 0 then
    doc.fail(who, "amount", "%s: a refund must be positive", money.format(amount, decimals))
  end
  return amount
end

function M.total(mapping, rec)
  local who, order = M.who(mapping, rec)
  local currency, decimals = woo.currency(who, order)
  return currency, refund_amount(who, rec, decimals)
end

-- Paid orders give RefundReceipts (money went back), unpaid ones CreditMemos (less owed).
function M.kind(rec)
  local order = type(rec) == "table" and rec.order or nil
  return (type(order) == "table" and woo.is_paid(order)) and "RefundReceipt" or "CreditMemo"
end

local function has_lines(rec)
  for _, f in ipairs({ "line_items", "fee_lines", "shipping_lines" }) do
    if type(rec[f]) == "table" and #rec[f] > 0 then return true end
  end
  return false
end

M.DEPOSIT_ACCOUNT = "name:Undeposited Funds"

-- requires(mapping, rec, ctx, kind): the customer, the items of the lines, the Refund item and,
-- for a RefundReceipt without refund_account_id, the account named Undeposited Funds (it must
-- exist: matched, never created).
function M.requires(mapping, rec, ctx, kind)
  local _, order = M.who(mapping, rec)
  local out = {}
  if kind == "RefundReceipt" and not text((ctx.config or {}).refund_account_id) then
    out[#out + 1] = { entity = "account", key = M.DEPOSIT_ACCOUNT,
      match = { { field = "Name", value = "Undeposited Funds" } } }
  end
  -- a refund without lines may be the whole order reversed (build maps the order's lines)
  local whole = not has_lines(rec)
  for _, r in ipairs(woo.requires(mapping, order, ctx)) do
    if whole or r.entity == "customer" then out[#out + 1] = r end
  end
  local seen = {}
  for _, li in ipairs(type(rec.line_items) == "table" and rec.line_items or {}) do
    local key = type(li) == "table" and woo.item_key(li) or nil
    if key and not seen[key] then
      seen[key] = true
      out[#out + 1] = { entity = "item", key = key, flow = "woo_product_to_qbo_item",
        record = json.object({ name = li.name, sku = text(li.sku) }),
        create = (ctx.config or {}).create_missing_items ~= false }
    end
  end
  for _, fee in ipairs(type(rec.fee_lines) == "table" and rec.fee_lines or {}) do
    local name = type(fee) == "table" and (doc.name_text(fee.name) or "Fee") or nil
    local key = name and woo.fee_key(name)
    if key and not seen[key] then
      seen[key] = true
      out[#out + 1] = { entity = "item", key = key, flow = "woo_product_to_qbo_item",
        record = json.object({ name = name }),
        create = (ctx.config or {}).create_missing_items ~= false }
    end
  end
  local ship = type(rec.shipping_lines) == "table" and #rec.shipping_lines > 0
    and doc.shipping_requirement(ctx)
  if ship and not seen[ship.key] then out[#out + 1] = ship end
  out[#out + 1] = { entity = "item", key = M.REFUND_ITEM, flow = "woo_product_to_qbo_item",
    record = json.object({ name = "Refund", tax_status = "none" }) }
  return out
end

-- build(mapping, rec, ctx, kind) -> RefundReceipt | CreditMemo body.
function M.build(mapping, rec, ctx, kind)
  local who, order, number, refund_id = M.who(mapping, rec)
  local config = ctx.config or {}
  local currency, decimals = woo.currency(who, order)
  local function fmt(m) return money.format(m, decimals) end
  local amount = refund_amount(who, rec, decimals)
  local order_total = doc.amount(who, "order.total", order.total, decimals)
  local reason = text(rec.reason)
  local head = { ("Refund #%s of WooCommerce order #%s%s"):format(refund_id, number,
    reason and (": " .. reason) or "") }
  local body

  if not has_lines(rec) and amount == order_total then
    body = woo.build(mapping, order, ctx, kind)
    head[#head + 1] = "Whole order refunded: the order's lines, discount and tax reversed"
  else
    local rate_codes = {}
    for _, tl in ipairs(type(order.tax_lines) == "table" and order.tax_lines or {}) do
      if type(tl) == "table" and text(tl.rate_id) then
        rate_codes[text(tl.rate_id)] = text(tl.rate_code)
      end
    end
    local lines, sum, tax = {}, 0, 0
    local function add(field, item_ref, description, qty, net, line_tax, taxes)
      local code = doc.tax_code(who, field, woo.rate_ids(taxes), rate_codes, config, ctx.company)
      local line, note = doc.sales_line(who, { field = field, item_ref = item_ref,
        description = description, qty = qty, amount = net, decimals = decimals,
        tax_code = code })
      lines[#lines + 1] = line
      if note then head[#head + 1] = note end
      sum = money.add(sum, net)
      tax = money.add(tax, line_tax)
    end
    local function positive(field, v)
      local m = doc.amount_or_zero(who, field, v, decimals)
      return m < 0 and -m or m
    end
    for i, li in ipairs(doc.list(who, rec, "line_items")) do
      local field = ("line_items[%d]"):format(i)
      if type(li) ~= "table" then doc.fail(who, field, "expected an object") end
      local key = woo.item_key(li)
      if not key then doc.fail(who, field, "no sku or name to find the QuickBooks item by") end
      local q = li.quantity
      if math.type(q) == "integer" and q < 0 then q = -q end
      if is_null(q) or q == 0 then q = 1 end
      add(field, ctx.ref("item", key), doc.name_text(li.name), q,
        positive(field .. ".total", li.total), positive(field .. ".total_tax", li.total_tax),
        li.taxes)
    end
    for i, fee in ipairs(doc.list(who, rec, "fee_lines")) do
      local field = ("fee_lines[%d]"):format(i)
      local name = doc.name_text(fee.name) or "Fee"
      add(field, ctx.ref("item", woo.fee_key(name)), name, 1,
        positive(field .. ".total", fee.total), positive(field .. ".total_tax", fee.total_tax),
        fee.taxes)
    end
    for i, sl in ipairs(doc.list(who, rec, "shipping_lines")) do
      local field = ("shipping_lines[%d]"):format(i)
      add(field, doc.shipping_ref(ctx),
        doc.name_text(sl.method_title) or "Shipping", 1,
        positive(field .. ".total", sl.total), positive(field .. ".total_tax", sl.total_tax),
        sl.taxes)
    end
    local rest = money.sub(amount, money.add(sum, tax))
    if rest < 0 then
      doc.fail(who, nil, "does not reconcile: refunded lines %s + tax %s = %s %s exceed the " ..
        "refund amount %s %s", fmt(sum), fmt(tax), fmt(money.add(sum, tax)), currency,
        fmt(amount), currency)
    end
    if rest > 0 then
      add("amount", ctx.ref("item", M.REFUND_ITEM),
        #lines > 0 and "Refund beyond the refunded lines" or "Refund", 1, rest, 0, nil)
      if not has_lines(rec) then
        head[#head + 1] = ("Partial refund of %s without lines: which part is tax is not " ..
          "known, so none is posted as tax"):format(fmt(amount))
      end
    end
    body = {
      CurrencyRef = { value = currency },
      Line = json.array(lines),
      TxnTaxDetail = { TotalTax = doc.number_of(who, "the document's TotalTax", tax, decimals) },
    }
    local ckey = woo.customer_key(order)
    if ckey then
      body.CustomerRef = { value = ctx.ref("customer", ckey) }
    elseif kind == "CreditMemo" then
      doc.fail(who, "order.billing", "no e-mail address or name to find the customer by")
    end
    body.BillEmail = doc.email(doc.object(order.billing).email)
      and { Address = doc.email(order.billing.email) } or nil
    body.BillAddr = doc.address(order.billing)
  end

  -- the refund's own number and date
  body.DocNumber = doc.doc_number(number .. "-R" .. refund_id)
  local date_field, date_v = "date_created", rec.date_created
  if is_null(date_v) then date_field, date_v = "date_created_gmt", rec.date_created_gmt end
  if is_null(date_v) then
    date_field, date_v = "order.date_modified", order.date_modified
    head[#head + 1] = "Refund date unknown (summary record): the order's last change is used"
  end
  body.TxnDate = doc.date(who, date_field, date_v)
  body.DueDate = nil
  if kind == "RefundReceipt" then
    body.DepositToAccountRef = { value = text(config.refund_account_id)
      or ctx.ref("account", M.DEPOSIT_ACCOUNT) }
    local ref = text(order.transaction_id)
    if ref then body.PaymentRefNum = doc.uhead(ref, doc.REF_NUM_MAX) end
  end
  if rec.refunded_payment == true then
    head[#head + 1] = "Refunded through the payment gateway"
  end
  local old = body.PrivateNote
  if old then head[#head + 1] = old end
  body.PrivateNote = doc.note(head)

  doc.reconciles(who, body, decimals, amount, "refund", currency)
  return body
end

return M
