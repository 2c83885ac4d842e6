-- lib/qbo_company.lua: what a QuickBooks company's settings mean for the mappings. Reads
-- nothing itself: the connector fetches Preferences and CompanyInfo (quickbooks.company), this
-- turns them into ctx.company and says when shipping cannot be posted with the tenant's settings.
-- Must not: guess a preference QuickBooks did not send (an absent AllowShipping is off, as in a
-- new company).
local json = require "engine.json"

local M = {}

local function obj(v) return type(v) == "table" and v or {} end

-- from(prefs, info) -> { allow_shipping, allow_discount, country, name }
-- prefs: the Preferences object (GET /preferences), info: CompanyInfo (either may be nil).
function M.from(prefs, info)
  local sales = obj(obj(prefs).SalesFormsPrefs)
  info = obj(info)
  local country = type(info.Country) == "string" and info.Country ~= "" and info.Country or nil
  return {
    allow_shipping = sales.AllowShipping == true,
    allow_discount = sales.AllowDiscount ~= false,
    country = country,
    name = type(info.CompanyName) == "string" and info.CompanyName or nil,
  }
end

-- tenant_config(tenant) -> the tenant's transformer_config with defaults (lib.mapping.config);
-- the defaults when the store cannot be read here (a plain test context) or holds a bad value.
function M.tenant_config(tenant)
  local mapping = require "lib.mapping"
  local ok, text = pcall(function()
    local db = require "engine.db"
    return db.value("SELECT value FROM settings WHERE tenant_id = ? AND key = " ..
      "'transformer_config'", tenant or "default")
  end)
  local config = mapping.config(ok and type(text) == "string" and text or nil)
  return config or assert(mapping.config(nil))
end

-- shipping_warning(company, config, shipping_item) -> nil | { code, message }
-- shipping_item: the Item named "Shipping" when one exists (nil otherwise).
-- The code is shipping_item_missing whenever an order with shipping would be refused.
function M.shipping_warning(company, config, shipping_item)
  local explicit = config.shipping_item_id
  if explicit == json.null then explicit = nil end
  if explicit == "SHIPPING_ITEM_ID" and not company.allow_shipping then
    return { code = "shipping_item_missing", message = "orders with shipping cannot be posted: " ..
      "shipping_item_id is SHIPPING_ITEM_ID but the company's AllowShipping preference is off " ..
      "(turn on Shipping in QuickBooks' sales form settings, or clear shipping_item_id)" }
  end
  if explicit or company.allow_shipping then return nil end
  if shipping_item ~= nil or config.create_missing_items ~= false then return nil end
  return { code = "shipping_item_missing", message = "orders with shipping cannot be posted: " ..
    "the company's AllowShipping preference is off, create_missing_items is false and no " ..
    "item is named \"Shipping\" (turn on Shipping in QuickBooks' sales form settings, create " ..
    "an item named Shipping, or set shipping_item_id)" }
end

return M
