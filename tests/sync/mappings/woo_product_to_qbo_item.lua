-- TEST ONLY: a WooCommerce product (or an order line's sku/name) -> a QuickBooks Item.
local json = require "engine.json"

local function s(v) return (v ~= nil and v ~= json.null and tostring(v) ~= "") and tostring(v) or nil end

return {
  name = "woo_product_to_qbo_item",
  source = { connector = "woocommerce", entity = "products" },
  target = { connector = "quickbooks", entity = "Item" },
  key = "id",
  map = function(p, ctx)
    return { Name = s(p.sku) or s(p.name) or tostring(p.id), Sku = s(p.sku), Type = "NonInventory",
      Description = s(p.name) }
  end,
  match = function(doc, p, ctx) return { { field = "Name", value = doc.Name } } end,
  disambiguate = function(doc, attempt)
    doc.Name = ("%s (%d)"):format(doc.Name, attempt + 1)
    return doc
  end,
}
