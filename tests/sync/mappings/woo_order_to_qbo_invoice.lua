-- TEST ONLY (tests/integration/sync_e2e.sh copies it next to the real mapping, which it copies as
-- woo_order_invoice_base.lua): the real order -> invoice mapping with the v2 contract's
-- `requires` and `total`, for the orchestrator's end-to-end tests until mappings/ carries them.
local base = require "mappings.woo_order_invoice_base"
local money = require "engine.money"
local json = require "engine.json"

local function text(v)
  if v == nil or v == json.null then return nil end
  if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
  local s = tostring(v):match("^%s*(.-)%s*$")
  return s ~= "" and s or nil
end

local function requires(order, ctx)
  local out = {}
  local billing = type(order.billing) == "table" and order.billing or {}
  local cid, email = text(order.customer_id), text(billing.email)
  local key = (cid and cid ~= "0") and cid or (email and email:lower())
  out[#out + 1] = { entity = "customer", key = key, flow = "woo_customer_to_qbo_customer",
    record = { id = key, email = email, first_name = billing.first_name,
      last_name = billing.last_name } }
  for _, li in ipairs(order.line_items or {}) do
    local sku, pid, name = text(li.sku), text(li.product_id), text(li.name)
    local k = sku and ("sku:" .. sku) or (pid and pid ~= "0" and ("product:" .. pid))
      or ("name:" .. tostring(name))
    out[#out + 1] = { entity = "item", key = k, flow = "woo_product_to_qbo_item",
      record = { id = k, sku = sku, name = name, product_id = pid } }
  end
  for _, fee in ipairs(order.fee_lines or {}) do
    local name = text(fee.name) or "Fee"
    out[#out + 1] = { entity = "item", key = "fee:" .. name, flow = "woo_product_to_qbo_item",
      record = { id = "fee:" .. name, name = name } }
  end
  return out
end

local function total(order, ctx)
  local cur = text(order.currency) or "USD"
  local minor = assert(money.parse(text(order.total) or "0", money.decimals(cur) or 2, "exact"))
  return cur, minor
end

return {
  name = "woo_order_to_qbo_invoice",
  source = base.source,
  target = base.target,
  key = base.key,
  requires = requires,
  total = total,
  map = base.map,
}
