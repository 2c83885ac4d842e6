-- TEST ONLY: a WooCommerce customer (or an order's billing person) -> a QuickBooks Customer,
-- with `match` (email, then name) and `disambiguate` as the v2 contract describes.
local json = require "engine.json"

local function s(v) return (v ~= nil and v ~= json.null and tostring(v) ~= "") and tostring(v) or nil end

local function map(c, ctx)
  local name = table.concat({ s(c.first_name) or "", s(c.last_name) or "" }, " "):match("^%s*(.-)%s*$")
  if name == "" then name = s(c.email) or ("Customer " .. tostring(c.id)) end
  local doc = { DisplayName = name, GivenName = s(c.first_name), FamilyName = s(c.last_name),
    Notes = "WooCommerce customer " .. tostring(c.id) }
  if s(c.email) then doc.PrimaryEmailAddr = { Address = s(c.email) } end
  return doc
end

return {
  name = "woo_customer_to_qbo_customer",
  source = { connector = "woocommerce", entity = "customers" },
  target = { connector = "quickbooks", entity = "Customer" },
  key = "id",
  map = map,
  match = function(doc, c, ctx)
    local out = {}
    if doc.PrimaryEmailAddr then out[#out + 1] = { field = "PrimaryEmailAddr", value = doc.PrimaryEmailAddr.Address } end
    return out
  end,
  disambiguate = function(doc, attempt)
    doc.DisplayName = ("%s (%d)"):format(doc.DisplayName, attempt + 1)
    return doc
  end,
}
