-- mappings/woo_customer_to_supabase_customer.lua: a WooCommerce customer -> one row of the
-- Supabase table `customers` (mappings/supabase/woo.sql), upserted on `id`. Every row has
-- every column (json.null when absent); the e-mail is kept as given and also lower-cased in
-- email_normalized (the key orders use to find their customer); addresses are JSON columns.
local json = require "engine.json"
local doc = require "lib.qbo_doc"
local rows = require "lib.woo_rows"

local NAME = "woo_customer_to_supabase_customer"

local function map(c)
  if type(c) ~= "table" then
    error(("%s: the record is %s, expected a WooCommerce customer object"):format(NAME,
      type(c)), 0)
  end
  local who = doc.who(NAME, "customer " .. (doc.text(c.id) or "?"))
  if rows.id(c.id) == json.null then doc.fail(who, "id", "missing") end
  local email = doc.text(c.email)
  return json.object({
    id = rows.id(c.id),
    email = email or json.null,
    email_normalized = email and email:lower() or json.null,
    first_name = doc.name_text(c.first_name) or json.null,
    last_name = doc.name_text(c.last_name) or json.null,
    username = rows.str(c.username),
    role = rows.str(c.role),
    is_paying_customer = c.is_paying_customer == true,
    billing = rows.address(c.billing),
    shipping = rows.address(c.shipping),
    date_created_gmt = rows.utc(c.date_created_gmt),
    date_modified_gmt = rows.utc(c.date_modified_gmt),
  })
end

return {
  name = NAME,
  source = { connector = "woocommerce", entity = "customers" },
  target = { connector = "supabase", entity = "customers" },
  key = "id",
  map = map,
}
