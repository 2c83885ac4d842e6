-- standard_mappings_spec.lua - script tier for the standard mappings' v2 declarations (the
-- parts `tallysync test` data cases do not reach: requires, match with accept, disambiguate,
-- total, select) and for lib/qbo_doc's DocNumber and rounding spread. Run by
-- `tallysync run tests/lua/standard_mappings_spec.lua` in the real sandbox.
local json = require "engine.json"
local mapping = require "lib.mapping"
local doc = require "lib.qbo_doc"

local spec = require "lib.spec"
local test, eq = spec.case, spec.eq

local config = assert(mapping.config(nil))
local ctx = mapping.context(config, { dry_run = true })

local function load(name) return mapping.load(name) end

local function order(over)
  local o = {
    id = 42, number = "42", currency = "USD", status = "processing",
    date_created = "2026-01-31T10:00:00", date_paid = "2026-01-31T10:01:00",
    billing = { first_name = "Jane", last_name = "Roe", email = "Jane.Roe@Example.com" },
    line_items = {
      { name = "Mug", quantity = 2, subtotal = "10.00", total = "9.00", sku = "MUG" },
      { name = "Mug", quantity = 1, subtotal = "5.00", total = "5.00", sku = "MUG" },
      { name = "Poster &amp; frame", quantity = 1, subtotal = "20.00", total = "20.00", sku = "" },
    },
    fee_lines = { { name = "Gift wrap", total = "1.50", taxes = {} } },
    total = "35.50", total_tax = "0.00",
  }
  for k, v in pairs(over or {}) do o[k] = v end
  return o
end

local function find(list, entity, key)
  for _, r in ipairs(list) do
    if r.entity == entity and r.key == key then return r end
  end
  return nil
end

test("invoice requires the customer by e-mail and each distinct item once", function()
  local m = load("woo_order_to_qbo_invoice")
  local req = m.requires(order(), ctx)
  local c = assert(find(req, "customer", "email:jane.roe@example.com"), "customer")
  eq(c.flow, "woo_customer_to_qbo_customer", "customer flow")
  eq(c.record.email, "Jane.Roe@Example.com", "customer record e-mail")
  local mug = assert(find(req, "item", "sku:MUG"), "item by sku")
  eq(mug.flow, "woo_product_to_qbo_item", "item flow")
  eq(mug.create, true, "create allowed by default")
  assert(find(req, "item", "name:Poster & frame"), "item by name when there is no sku")
  assert(find(req, "item", "name:Gift wrap"), "the fee's item")
  eq(#req, 4, "customer + 2 items + fee item, no duplicate")
  -- what map() references is what requires() resolves
  local out = m.map(order(), ctx)
  eq(out.CustomerRef.value, "{{customer email:jane.roe@example.com}}", "CustomerRef")
  eq(out.Line[1].SalesItemLineDetail.ItemRef.value, "{{item sku:MUG}}", "ItemRef")
end)

test("a customer without e-mail is required by display name; create_missing_items=false", function()
  local m = load("woo_order_to_qbo_invoice")
  local cfg = {}
  for k, v in pairs(config) do cfg[k] = v end
  cfg.create_missing_items = false
  local req = m.requires(order({ billing = { first_name = "Zoë", last_name = "Ñ" } }),
    mapping.context(cfg, { dry_run = true }))
  assert(find(req, "customer", "name:Zoë Ñ"), "customer by name")
  eq(find(req, "item", "sku:MUG").create, false, "items are not created")
end)

test("total answers the source total in minor units, JPY without decimals", function()
  local m = load("woo_order_to_qbo_invoice")
  local cur, minor = m.total(order())
  eq(cur, "USD", "currency")
  eq(minor, 3550, "minor units")
  cur, minor = m.total(order({ currency = "JPY", total = "1500" }))
  eq(cur, "JPY", "currency")
  eq(minor, 1500, "yen")
end)

test("select routes paid orders to SalesReceipt only under paid_orders_as", function()
  local inv, sr = load("woo_order_to_qbo_invoice"), load("woo_order_to_qbo_sales_receipt")
  local pay = load("woo_order_to_qbo_payment")
  local as_sr = { config = { paid_orders_as = "SalesReceipt" } }
  local plain = { config = {} }
  local paid, unpaid = order(), order({ status = "pending", date_paid = json.null })
  eq(inv.select(paid, plain), true, "paid order, default: invoice")
  eq(sr.select(paid, plain), false, "paid order, default: not a sales receipt")
  eq(pay.select(paid, plain), true, "paid order, default: a payment for the invoice")
  eq(inv.select(paid, as_sr), false, "paid order as SalesReceipt: not an invoice")
  eq(sr.select(paid, as_sr), true, "paid order as SalesReceipt: a sales receipt")
  eq(pay.select(paid, as_sr), false, "a sales receipt needs no payment")
  eq(inv.select(unpaid, as_sr), true, "unpaid order: invoice")
  eq(pay.select(unpaid, plain), false, "unpaid order: no payment")
end)

test("payment requires its invoice and links to it", function()
  local pay = load("woo_order_to_qbo_payment")
  local req = pay.requires(order(), ctx)
  local inv = assert(find(req, "invoice", "42"), "invoice dependency")
  eq(inv.flow, "woo_order_to_qbo_invoice", "invoice flow")
  local out = pay.map(order(), ctx)
  eq(out.Line[1].LinkedTxn[1].TxnId, "{{invoice 42}}", "LinkedTxn")
  eq(out.TotalAmt, 35.5, "TotalAmt")
end)

test("refunds: paid orders give RefundReceipts, unpaid ones CreditMemos", function()
  local rr, cm = load("woo_refund_to_qbo_refund_receipt"), load("woo_refund_to_qbo_credit_memo")
  local paid = { id = 7, amount = "5.00", order = order() }
  local unpaid = { id = 8, amount = "5.00",
    order = order({ status = "on-hold", date_paid = json.null }) }
  eq(rr.select(paid), true, "paid -> RefundReceipt")
  eq(cm.select(paid), false, "paid -> not a CreditMemo")
  eq(cm.select(unpaid), true, "unpaid -> CreditMemo")
  local cur, minor = rr.total(paid)
  eq(cur .. " " .. minor, "USD 500", "refund total")
  assert(find(rr.requires(paid, ctx), "item", "name:Refund"), "the refund item is required")
end)

test("customer match: e-mail first, a namesake only without another e-mail", function()
  local m = load("woo_customer_to_qbo_customer")
  local rec = { id = 3, email = "jane@example.com", first_name = "Jane", last_name = "Roe" }
  local out = m.map(rec, ctx)
  local crit = m.match(out, rec, ctx)
  eq(crit[1].field, "PrimaryEmailAddr", "first criterion")
  eq(crit[1].value, "jane@example.com", "by e-mail")
  eq(crit[2].field, "DisplayName", "second criterion")
  eq(crit[2].value, "Jane Roe", "by name")
  eq(crit[2].accept({ DisplayName = "Jane Roe" }), true, "a namesake without e-mail")
  eq(crit[2].accept({ PrimaryEmailAddr = { Address = "JANE@example.com" } }), true, "same address")
  eq(crit[2].accept({ PrimaryEmailAddr = { Address = "other@example.com" } }), false,
    "a stranger with the same name is never merged with")
end)

test("customer disambiguate: new unique names, deterministic, within 500", function()
  local m = load("woo_customer_to_qbo_customer")
  local out = m.map({ id = 3, email = "jane@example.com", first_name = "Jane",
    last_name = "Roe" }, ctx)
  eq(m.disambiguate(out, 1).DisplayName, "Jane Roe (jane@example.com)", "attempt 1")
  eq(m.disambiguate(out, 2).DisplayName, "Jane Roe (2)", "attempt 2")
  eq(m.disambiguate(out, 2).DisplayName, "Jane Roe (2)", "same attempt, same name")
  eq(out.DisplayName, "Jane Roe", "the original is not changed")
  local long = m.map({ id = 4, first_name = string.rep("ü", 600) }, ctx)
  eq(utf8.len(long.DisplayName), 500, "DisplayName cut to 500 characters")
  local d = m.disambiguate(long, 1).DisplayName
  eq(utf8.len(d), 500, "a disambiguated long name stays within 500")
  eq(d:sub(-4), " (2)", "no e-mail: numbered from 2")
end)

test("item match by Sku then Name; disambiguate with the sku", function()
  local m = load("woo_product_to_qbo_item")
  local rec = { id = 9, name = "Mug", sku = "MUG-1", regular_price = "9.50" }
  local out = m.map(rec, ctx)
  local crit = m.match(out, rec, ctx)
  eq(crit[1].field .. "=" .. crit[1].value, "Sku=MUG-1", "by sku")
  eq(crit[2].field .. "=" .. crit[2].value, "Name=Mug", "then by name")
  eq(crit[2].accept({ Name = "Mug", Sku = "OTHER" }), false, "another sku is another item")
  eq(crit[2].accept({ Name = "Mug" }), true, "an item without sku")
  eq(m.disambiguate(out, 1).Name, "Mug (MUG-1)", "attempt 1")
  eq(m.disambiguate(out, 3).Name, "Mug (3)", "attempt 3")
  eq(#m.requires(rec, ctx), 1, "the income account is resolved first")
end)

test("DocNumber: short numbers kept, long ones distinct and 21 characters", function()
  eq(doc.doc_number("727"), "727", "short")
  local a = doc.doc_number("WC-2024-ORDER-000000123456")
  local b = doc.doc_number("WC-2025-ORDER-000000123456")
  eq(utf8.len(a), 21, "21 characters")
  assert(a ~= b, "same tail, different numbers -> different DocNumbers")
  -- a number shaped like a shortened one is shortened too, so it cannot take another's
  local shaped = doc.doc_number(a)
  eq(utf8.len(shaped), 21, "shaped number length")
  assert(shaped ~= a, "a short number equal to another's shortened form is moved away")
end)

test("rounding spread: proportional, deterministic, sums to the difference", function()
  local d = doc.spread(-3, { 1000, 10, 5000, 0 })
  eq(d[1] + d[2] + d[3] + d[4], -3, "sum")
  eq(d[4], 0, "a zero line takes nothing")
  -- 3 x 1000/6010 = 0.499, 3 x 5000/6010 = 2.496: floors 0 and 2, the remaining unit to the
  -- larger remainder (0.499)
  eq(d[1], -1, "first line")
  eq(d[2], 0, "a tiny line")
  eq(d[3], -2, "the largest line")
  eq(doc.spread(1, { 0, 0 }), nil, "nothing to spread over")
end)

-- shipping with the defaults (shipping_item_id null): the company's AllowShipping decides
local function shipped(over)
  return order({ shipping_lines = { { method_title = "Flat rate", total = "4.00", taxes = {} } },
    total = "39.50" })
end

local function ctx_with(over, company)
  local cfg = {}
  for k, v in pairs(config) do cfg[k] = v end
  for k, v in pairs(over or {}) do cfg[k] = v end
  return mapping.context(cfg, { dry_run = true, company = company })
end

local function shipping_ref(out)
  local last = out.Line[#out.Line]
  return last.SalesItemLineDetail.ItemRef.value
end

test("shipping by default: a company without AllowShipping gets the item named Shipping", function()
  local m = load("woo_order_to_qbo_invoice")
  local c = ctx_with(nil, { allow_shipping = false, country = "US" })
  local req = m.requires(shipped(), c)
  local ship = assert(find(req, "item", "name:Shipping"), "the shipping item is required")
  eq(ship.flow, "woo_product_to_qbo_item", "created through the item flow, as fee items")
  eq(ship.record.name, "Shipping", "named Shipping")
  eq(ship.create, true, "created when missing (create_missing_items defaults to true)")
  eq(shipping_ref(m.map(shipped(), c)), "{{item name:Shipping}}", "the line uses it")
  -- create_missing_items false: found only, never created
  ship = find(m.requires(shipped(), ctx_with({ create_missing_items = false },
    { allow_shipping = false })), "item", "name:Shipping")
  eq(ship.create, false, "not created")
  -- no shipping line: nothing required
  eq(find(m.requires(order(), c), "item", "name:Shipping"), nil, "no shipping, no item")
end)

test("shipping by default: AllowShipping on -> SHIPPING_ITEM_ID; an explicit id wins", function()
  local m = load("woo_order_to_qbo_invoice")
  local c = ctx_with(nil, { allow_shipping = true })
  eq(find(m.requires(shipped(), c), "item", "name:Shipping"), nil, "no item needed")
  eq(shipping_ref(m.map(shipped(), c)), "SHIPPING_ITEM_ID", "QuickBooks' own reference")
  c = ctx_with({ shipping_item_id = "77" }, { allow_shipping = false })
  eq(find(m.requires(shipped(), c), "item", "name:Shipping"), nil, "explicit: no item needed")
  eq(shipping_ref(m.map(shipped(), c)), "77", "the explicit id")
  -- without a company (dry run from files, tallysync test): the stated assumption
  eq(ctx.company.allow_shipping, false, "assumed off")
  assert(ctx.company.assumed:find("AllowShipping off", 1, true), "the assumption is stated")
  eq(mapping.assumption_note("woo_order_to_qbo_invoice"), ctx.company.assumed, "tools say it")
  eq(mapping.assumption_note("woo_order_to_qbo_invoice",
    '{"shipping_item_id": "7", "default_tax_code_id": "TAX"}'), nil, "nothing left to assume")
  assert(mapping.assumption_note("woo_order_to_qbo_invoice", '{"shipping_item_id": "7"}'),
    "the tax default still depends on the company")
  eq(mapping.assumption_note("woo_customer_to_qbo_customer"), nil, "not a sales document")
end)

test("shipping by default: refunds and POS sales require the same item", function()
  local c = ctx_with(nil, { allow_shipping = false })
  local refund = { id = 9, amount = "4.00", shipping_lines = { { total = "-4.00",
    total_tax = "0.00", taxes = {} } }, order = shipped() }
  local r = load("woo_refund_to_qbo_refund_receipt")
  assert(find(r.requires(refund, c), "item", "name:Shipping"), "refund with a shipping line")
  local whole = { id = 10, amount = "39.50", order = shipped() }
  assert(find(r.requires(whole, c), "item", "name:Shipping"), "whole refund: the order's lines")
  assert(find(r.requires(whole, c), "item", "sku:MUG"), "whole refund: the order's items")
  local pos = load("pos_order_to_qbo_sales_receipt")
  local sale = { id = "P1", status = "completed", currency = "USD", total_minor = 1500,
    paid_minor = 1500, shipping_minor = 500, items = { { sku = "S", name = "Tee", quantity = 1,
    total_minor = 1000 } }, ordered_at = "2026-03-01T10:00:00Z" }
  assert(find(pos.requires(sale, c), "item", "name:Shipping"), "POS sale with shipping")
  sale.shipping_minor = 0
  eq(find(pos.requires(sale, c), "item", "name:Shipping"), nil, "POS sale without shipping")
end)

-- qbo_doc's fast paths (issue 14) answer what the checked paths answer: number_of skips the
-- encode check below 10^15 minor units, doc_total reads floats back without money.parse, and
-- unit_price prices a whole quantity that divides the amount without its search loop.
local money = require "engine.money"

local function samples()
  local list, x = {}, 12345
  for _, m in ipairs({ 1, 5, 10, 99, 101, 12345, 999999999999999, 999999999999998,
    100000000000001, 123456789012345, 900719925474099 }) do
    list[#list + 1] = m
    list[#list + 1] = -m
  end
  for _ = 1, 400 do -- a fixed LCG: every magnitude up to 10^15
    x = (x * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    list[#list + 1] = (x % 1000000000000000) // doc.pow10(x % 15)
  end
  return list
end

test("number_of below 10^15 encodes as exactly its decimal; doc_total reads it back", function()
  local who = doc.who("spec", "order 1")
  for _, m in ipairs(samples()) do
    for scale = 0, 5 do
      local n = doc.number_of(who, "f", m, scale)
      if math.type(n) == "float" and math.abs(n) >= 0.0001 then
        eq(money.parse(json.encode(n), scale, "exact"), m, ("%d at %d decimals"):format(m, scale))
      end
      local line = { DetailType = "SalesItemLineDetail", Amount = n }
      eq(doc.doc_total({ Line = { line } }, scale), m, ("read back %d at %d"):format(m, scale))
      eq(doc.doc_total({ Line = { line } }, scale), money.parse(n, scale, "half_even"),
        ("as money.parse reads %d at %d"):format(m, scale))
    end
  end
  local ok, err = pcall(doc.number_of, who, "line_items[2]", 9007199254740993, 2,
    "'s line Amount")
  eq(ok, false, "beyond 2^53 is refused")
  assert(tostring(err):find("$.line_items[1]'s line Amount", 1, true), tostring(err))
end)

test("unit_price of a whole quantity: exact when it divides, else rounded with a note", function()
  local who = doc.who("spec", "order 1")
  for q = 1, 12 do
    for amount = -30, 250, 7 do
      local price, note = doc.unit_price(who, "line_items[1]", q, 0, amount, 2)
      if amount % q == 0 then
        eq(price, doc.number_of(who, "f", amount // q, 2), ("%d / %d"):format(amount, q))
        eq(note, nil, ("%d / %d is exact"):format(amount, q))
      else
        assert(math.abs(price * q - amount / 100) <= 0.5 / 100 + 1e-9,
          ("%d / %d: %s"):format(amount, q, tostring(price)))
      end
    end
  end
  local price, note = doc.unit_price(who, "line_items[1]", 3, 0, 1000, 2)
  eq(price, 3.333, "10.00 / 3: the fewest decimals whose product rounds to the amount")
  assert(note and note:find("rounded", 1, true), tostring(note))
end)

spec.finish("standard_mappings_spec")
