-- lib/woo_rows.lua: WooCommerce records as Supabase (PostgREST) rows: one row per record, every
-- row with the same keys (a missing value is json.null, so PostgREST's column list is stable),
-- money as exact decimal strings ("29.35", numeric columns), never floats; nested lists (line
-- items, taxes) as JSON columns with the same rules. Column types: mappings/supabase/woo.sql.
-- Pure Lua. Must not: emit a Lua float anywhere in a row (connectors/supabase.lua refuses it).
local money = require "engine.money"
local trim = require("engine.text").trim -- linear; a "^%s*(.-)%s*$" pattern is quadratic
local json = require "engine.json"
local doc = require "lib.qbo_doc"

local M = {}

local null = json.null
local text, is_null = doc.text, doc.is_null

-- A value or json.null.
function M.opt(v)
  if is_null(v) then return null end
  if type(v) == "string" and v == "" then return null end
  return v
end

-- Text or json.null.
function M.str(v) return text(v) or null end

-- Money at the currency's decimals as its exact decimal text ("0.8" -> "0.80"), json.null
-- when absent; raises naming the field when it is not an amount of that many decimals.
function M.money(who, field, v, decimals)
  if is_null(v) or v == "" then return null end
  return money.format(doc.amount(who, field, v, decimals), decimals)
end

-- A decimal of any precision (WooCommerce's unrounded per-rate taxes "0.352941", product
-- prices of a shop with 4 decimals) as canonical text; json.null when absent.
function M.decimal(who, field, v)
  if is_null(v) or v == "" then return null end
  local s
  if type(v) == "string" then
    s = trim(v)
  elseif math.type(v) == "integer" then
    s = tostring(v)
  elseif math.type(v) == "float" then
    for p = 1, 17 do
      local c = string.format("%." .. p .. "g", v)
      if tonumber(c) == v then s = c break end
    end
    if s and s:find("[eE]") then s = nil end
  end
  local sign, ip, fp = (s or ""):match("^([+-]?)(%d*)%.?(%d*)$")
  if not sign or ip .. fp == "" then
    doc.fail(who, field, "%s is not a decimal number", tostring(v))
  end
  ip = ip:gsub("^0+(%d)", "%1")
  if ip == "" then ip = "0" end
  return (sign == "-" and "-" or "") .. ip .. (fp ~= "" and ("." .. fp) or "")
end

-- A quantity: an integer stays one; a fractional quantity becomes decimal text.
function M.quantity(who, field, v)
  if is_null(v) then return null end
  if math.type(v) == "integer" then return v end
  local i = math.type(v) == "float" and math.tointeger(v) or nil
  if i then return i end
  return M.decimal(who, field, v)
end

-- "2017-03-22T19:28:02" (WooCommerce's *_gmt, no zone) -> "2017-03-22T19:28:02Z"; json.null
-- when absent; a value that already has a zone is kept.
function M.utc(v)
  local s = text(v)
  if not s then return null end
  if s:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d$") then return s .. "Z" end
  return s
end

-- An id: integers stay integers, anything else its text, json.null when absent.
function M.id(v)
  if math.type(v) == "integer" then return v end
  if math.type(v) == "float" and math.tointeger(v) then return math.tointeger(v) end
  return M.str(v)
end

-- An address object with text values only (a JSON column).
function M.address(a)
  if type(a) ~= "table" then return null end
  local out = {}
  for _, k in ipairs({ "first_name", "last_name", "company", "address_1", "address_2", "city",
    "state", "postcode", "country", "email", "phone" }) do
    out[k] = M.str(a[k])
  end
  return json.object(out)
end

-- A taxes[] list of a line: [{id, total, subtotal}] as exact decimal text.
function M.taxes(who, field, taxes)
  local out = {}
  for i, t in ipairs(type(taxes) == "table" and taxes or {}) do
    local f = ("%s[%d]"):format(field, i)
    if type(t) == "table" then
      out[#out + 1] = json.object({ id = M.id(t.id), total = M.decimal(who, f .. ".total", t.total),
        subtotal = M.decimal(who, f .. ".subtotal", t.subtotal) })
    end
  end
  return json.array(out)
end

return M
