-- mappings/woo_product_to_qbo_item.lua: a WooCommerce product or variation (wc/v3 /products,
-- or the product-like record woo_sales.item_record builds from an order line) -> a QuickBooks
-- Online Item create body. A dependency flow: orders resolve their items through it (key
-- "sku:<sku>" or "name:<name>"), creating them when create_missing_items is not false.
--
-- Decisions:
-- * Type "NonInventory": the shop (WooCommerce) keeps stock, QuickBooks keeps the books;
--   Inventory items would need asset accounts, start dates and quantities that would then
--   drift from WooCommerce's.
-- * Name = the product name, entities decoded, ':' (QuickBooks' sub-item separator) / tab /
--   newline as spaces, at most 100 characters (QuickBooks' limit). Sku at most 100.
-- * UnitPrice = regular_price (else price), exact, as a JSON number; absent when the product
--   has none. Taxable = tax_status is "taxable" (US companies). Description = the short
--   description without HTML tags, at most 4000 characters.
-- * IncomeAccountRef (required by QuickBooks for the item): ctx.ref("account",
--   "name:Sales of Product Income"), the income account every QuickBooks company starts with;
--   `requires` names it so the orchestrator resolves it by a match on Account.Name (no flow:
--   it must exist).
-- * match: Sku first, then Name (accepted only when the existing item has no Sku or the same
--   one). disambiguate on a duplicate name (6240): "Name (sku)" first, then "Name (n)".
local doc = require "lib.qbo_doc"
local trim = require("engine.text").trim -- linear; a "^%s*(.-)%s*$" pattern is quadratic

local NAME = "woo_product_to_qbo_item"
local NAME_MAX = 100
local INCOME_ACCOUNT = "name:Sales of Product Income"

local function who_of(p)
  if type(p) ~= "table" then
    error(("%s: the record is %s, expected a WooCommerce product object"):format(NAME,
      type(p)), 0)
  end
  local id = doc.text(p.id)
  return doc.who(NAME, "product " .. (id or doc.text(p.sku) or doc.text(p.name) or "?"))
end

-- HTML to text: each tag ("<" to the next ">") becomes a space. Plain finds, linear: the
-- pattern "<[^>]*>" rescans to the end of the text from every "<" that has no ">" after it
-- (quadratic on a description of "<<<<..."). The input is cut first: at most 16 times what
-- QuickBooks keeps of a description, markup included.
local DESCRIPTION_INPUT_MAX = 16 * 4000
local function strip_tags(s)
  s = doc.uhead(s, DESCRIPTION_INPUT_MAX)
  local parts, i = {}, 1
  while true do
    local lt = s:find("<", i, true)
    local gt = lt and s:find(">", lt + 1, true)
    if not gt then
      parts[#parts + 1] = s:sub(i)
      break
    end
    parts[#parts + 1] = s:sub(i, lt - 1)
    parts[#parts + 1] = " "
    i = gt + 1
  end
  s = doc.decode_entities(table.concat(parts))
  return trim((s:gsub("%s+", " ")))
end

local function map(p, ctx)
  local who = who_of(p)
  local name = doc.qbo_name(doc.name_text(p.name), NAME_MAX)
  if not name then doc.fail(who, "name", "missing: QuickBooks items need a name") end
  local out = { Name = name, Type = "NonInventory" }
  local sku = doc.text(p.sku)
  if sku then out.Sku = doc.uhead(sku, 100) end
  local price = doc.text(p.regular_price) or doc.text(p.price)
  if price then
    -- at most 5 decimals (QuickBooks' 10.5); a price with more is an error naming it
    local minor = doc.amount(who, "regular_price", price, 5)
    local scale = 5
    while scale > 0 and minor % 10 == 0 do minor, scale = minor // 10, scale - 1 end
    out.UnitPrice = doc.number_of(who, "UnitPrice", minor, scale)
  end
  local desc = doc.text(p.short_description) or doc.text(p.description)
  if desc then
    desc = strip_tags(desc)
    if desc ~= "" then out.Description = doc.uhead(desc, 4000) end
  end
  if doc.text(p.tax_status) then out.Taxable = p.tax_status == "taxable" end
  out.Active = p.status ~= "trash"
  local income = (ctx.config or {}).income_account_id
  out.IncomeAccountRef = { value = doc.text(income) or ctx.ref("account", INCOME_ACCOUNT) }
  return out
end

local function match(out, p)
  local crit = {}
  local sku = out and out.Sku or doc.text(p.sku)
  if sku then crit[#crit + 1] = { field = "Sku", value = sku } end
  local name = out and out.Name or doc.qbo_name(doc.name_text(p.name), NAME_MAX)
  if name then
    crit[#crit + 1] = { field = "Name", value = name,
      accept = function(existing)
        local s = type(existing) == "table" and doc.text(existing.Sku) or nil
        return s == nil or s == sku
      end }
  end
  return crit
end

local function disambiguate(out, attempt)
  local suffix
  if out.Sku and attempt == 1 then
    suffix = " (" .. out.Sku .. ")"
  else
    suffix = (" (%d)"):format(out.Sku and attempt or attempt + 1)
  end
  local copy = {}
  for k, v in pairs(out) do copy[k] = v end
  copy.Name = doc.uhead(out.Name, NAME_MAX - doc.ulen(suffix)):gsub("%s+$", "") .. suffix
  if doc.ulen(copy.Name) > NAME_MAX then copy.Name = doc.uhead(copy.Name, NAME_MAX) end
  return copy
end

return {
  name = NAME,
  default_for = "products",
  source = { connector = "woocommerce", entity = "products" },
  target = { connector = "quickbooks", entity = "Item" },
  key = "id",
  requires = function(p, ctx)
    if doc.text((ctx.config or {}).income_account_id) then return {} end
    return { { entity = "account", key = INCOME_ACCOUNT, match = { { field = "Name",
      value = "Sales of Product Income" } } } }
  end,
  match = function(out, p) return match(out, p) end,
  disambiguate = disambiguate,
  map = map,
}
