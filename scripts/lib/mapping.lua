-- lib/mapping.lua: loads a mapping, checks its shape, builds the context it runs in and applies
-- it to one record. The C orchestrator and `tallysync dry-run` both go through here, so a
-- mapping behaves the same in a dry run and in a real run.
local json = require "engine.json"

local M = {}

-- The seed's transformer_config, with its defaults (settings key `transformer_config`).
local CONFIG_FIELDS = {
  shipping_item_id = { type = "string", default = "SHIPPING" },
  default_payment_terms_days = { type = "integer", default = 30 },
  custom_field_mappings = { type = "array", default = function() return json.array({}) end },
  tax_code_mappings = { type = "object", default = function() return json.object({}) end },
  default_tax_code_id = { type = "string_or_null", default = function() return json.null end },
}

local function kind_of(v)
  if v == json.null then return "null" end
  local t = type(v)
  if t == "number" then return math.type(v) == "integer" and "integer" or "number" end
  if t == "table" then return json.is_array(v) and "array" or "object" end
  return t
end

local function check_field(name, spec, v)
  local k = kind_of(v)
  local want = spec.type
  if want == "string_or_null" then
    if k == "string" or k == "null" then return true end
    return nil, ("transformer_config.%s must be a string or null, got %s"):format(name, k)
  end
  if want == "array" and k == "object" and next(v) == nil then return true end
  if want == "object" and k == "array" and next(v) == nil then return true end
  if k ~= want then
    return nil, ("transformer_config.%s must be %s %s, got %s"):format(
      name, want == "integer" and "an" or "a", want, k)
  end
  if want == "integer" and v < 0 then
    return nil, ("transformer_config.%s must not be negative"):format(name)
  end
  return true
end

-- config(raw) -> config table with defaults | nil, message naming the bad field.
-- raw may be nil (all defaults), a table, or JSON text.
function M.config(raw)
  if type(raw) == "string" then
    local decoded, err = json.decode(raw)
    if decoded == nil then return nil, "transformer_config: " .. tostring(err) end
    raw = decoded
  end
  if raw == nil or raw == json.null then raw = {} end
  if type(raw) ~= "table" or json.is_array(raw) and next(raw) ~= nil then
    return nil, "transformer_config must be a JSON object"
  end
  local out = {}
  for key, value in pairs(raw) do
    local spec = CONFIG_FIELDS[key]
    if spec == nil then
      return nil, ("transformer_config: unknown setting %q"):format(tostring(key))
    end
    local ok, err = check_field(key, spec, value)
    if not ok then return nil, err end
    out[key] = value
  end
  for key, spec in pairs(CONFIG_FIELDS) do
    if out[key] == nil then
      local d = spec.default
      out[key] = type(d) == "function" and d() or d
    end
  end
  return out
end

-- load(name) -> mapping table, raising with the file's own error when it does not load.
function M.load(name)
  if type(name) ~= "string" or not name:match("^[%w_%-]+$") then
    error(("mapping name %q is not a plain file name"):format(tostring(name)), 0)
  end
  local m = require("mappings." .. name)
  if type(m) ~= "table" then
    error(("mappings/%s.lua must return a table, got %s"):format(name, type(m)), 0)
  end
  if type(m.map) ~= "function" then
    error(("mappings/%s.lua: field 'map' must be a function"):format(name), 0)
  end
  return m
end

-- context(config, opts) -> the ctx a mapping's map(record, ctx) receives.
-- opts.tenant, opts.dry_run, opts.ref (function(entity, key) -> target id).
function M.context(config, opts)
  opts = opts or {}
  local ctx = {
    config = config,
    tenant = opts.tenant or "default",
    dry_run = opts.dry_run and true or false,
  }
  ctx.ref = opts.ref or function(entity, key)
    -- A dry run knows no target ids: show what would be resolved (or created) first.
    return ("{{%s %s}}"):format(tostring(entity), tostring(key))
  end
  return ctx
end

-- apply(m, record, ctx) -> output document (raises on mapping errors).
function M.apply(m, record, ctx)
  local out = m.map(record, ctx)
  if type(out) ~= "table" then
    error(("%s: map() must return a table, got %s"):format(m.name or "mapping", type(out)), 0)
  end
  return out
end

return M
