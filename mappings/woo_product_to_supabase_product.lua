-- mappings/woo_product_to_supabase_product.lua: a WooCommerce product -> one row of the
-- Supabase table `products` (mappings/supabase/woo.sql), upserted on `id`. Prices are exact
-- decimal text of whatever precision the shop uses (a product has no currency of its own):
-- "21.99", never a float; an empty sale_price is NULL. Categories are a JSON column.
local json = require "engine.json"
local doc = require "lib.qbo_doc"
local rows = require "lib.woo_rows"

local NAME = "woo_product_to_supabase_product"

local function map(p)
  if type(p) ~= "table" then
    error(("%s: the record is %s, expected a WooCommerce product object"):format(NAME,
      type(p)), 0)
  end
  local who = doc.who(NAME, "product " .. (doc.text(p.id) or "?"))
  if rows.id(p.id) == json.null then doc.fail(who, "id", "missing") end
  local cats = {}
  for i, c in ipairs(type(p.categories) == "table" and p.categories or {}) do
    cats[i] = json.object({ id = rows.id(c.id), name = doc.name_text(c.name) or json.null,
      slug = rows.str(c.slug) })
  end
  local stock = p.stock_quantity
  return json.object({
    id = rows.id(p.id),
    parent_id = rows.id(p.parent_id),
    name = doc.name_text(p.name) or json.null,
    slug = rows.str(p.slug),
    sku = rows.str(p.sku),
    type = rows.str(p.type),
    status = rows.str(p.status),
    price = rows.decimal(who, "price", p.price),
    regular_price = rows.decimal(who, "regular_price", p.regular_price),
    sale_price = rows.decimal(who, "sale_price", p.sale_price),
    tax_status = rows.str(p.tax_status),
    tax_class = rows.str(p.tax_class),
    manage_stock = p.manage_stock == true,
    stock_quantity = math.type(stock) == "integer" and stock or rows.quantity(who,
      "stock_quantity", stock),
    categories = json.array(cats),
    date_modified_gmt = rows.utc(p.date_modified_gmt),
  })
end

return {
  name = NAME,
  source = { connector = "woocommerce", entity = "products" },
  target = { connector = "supabase", entity = "products" },
  key = "id",
  map = map,
}
