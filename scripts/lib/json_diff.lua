-- lib/json_diff.lua: the structural difference of two JSON values, as the console shows it
-- (the impact of an edited mapping, a failing data test). Every difference is one entry
-- { path = "$.Line[0].Amount", a = value, b = value } with the JSONPath of lib.mapping's
-- lineage (arrays from 0, odd keys as ["key"]); a side the other lacks has no value (a = nil:
-- absent, which is not json.null). Objects compare by key (sorted), arrays by index; two
-- values of different kinds (object against array, table against scalar) are one entry at
-- their path. Scalars compare exactly: strings by bytes, numbers by value AND kind (6 and 6.0
-- encode differently, and the target system sees that), so money never differs by rounding.
-- Linear in the two values; at most `max` entries (then truncated).
local json = require "engine.json"
local mapping = require "lib.mapping"

local M = {}

local step = mapping.jsonpath_step

local function kind(v)
  if v == nil then return "absent" end
  if v == json.null then return "null" end
  local t = type(v)
  if t == "table" then
    if next(v) == nil then return "empty" end -- {} and [] decode alike: equal to each other
    return json.is_array(v) and "array" or "object"
  end
  if t == "number" then return math.type(v) end
  return t
end

local function sorted_union(a, b)
  local keys, seen = {}, {}
  for k in pairs(a) do seen[k] = true; keys[#keys + 1] = k end
  for k in pairs(b) do if not seen[k] then keys[#keys + 1] = k end end
  table.sort(keys, function(x, y)
    local tx, ty = type(x), type(y)
    if tx ~= ty then return tx < ty end
    return x < y
  end)
  return keys
end

-- diff(a, b [, max]) -> list of { path, a, b }, truncated (true when more than max differed;
-- max defaults to 200)
function M.diff(a, b, max)
  max = (math.type(max) == "integer" and max > 0) and max or 200
  local out, truncated = {}, false
  local function add(path, x, y)
    if #out >= max then truncated = true; return end
    out[#out + 1] = { path = path, a = x, b = y }
  end
  local function walk(x, y, path)
    if truncated then return end
    local kx, ky = kind(x), kind(y)
    if kx ~= ky then
      add(path, x, y)
    elseif kx == "array" then
      for i = 1, math.max(#x, #y) do walk(x[i], y[i], step(path, i, true)) end
    elseif kx == "object" then
      for _, k in ipairs(sorted_union(x, y)) do walk(x[k], y[k], step(path, k, false)) end
    elseif kx ~= "empty" and kx ~= "null" and x ~= y then
      add(path, x, y)
    end
  end
  walk(a, b, "$")
  return out, truncated
end

-- entries(list, name_a, name_b) -> a JSON-ready array of { path, [name_a], [name_b] } (an absent
-- side has no member)
function M.entries(list, name_a, name_b)
  local arr = json.array({})
  for i, d in ipairs(list) do
    local e = json.object({ path = d.path })
    e[name_a] = d.a
    e[name_b] = d.b
    arr[i] = e
  end
  return arr
end

return M
