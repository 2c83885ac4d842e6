-- lib/mapping_rules.lua: the declarative half of a mapping: its `rules`, compiled once when
-- lib.mapping validates the mapping and run on every record before map(). Owns the rule
-- syntax, the named transforms and the table of QuickBooks length limits.
-- Must not: do float arithmetic on money, read the clock or the machine's time zone.
--
-- RULES. Each rule copies one source value to one target field through named transforms:
--
--   rules = {
--     { to = "DocNumber", from = "number", "trim", "truncate" },          -- 21, QuickBooks' limit
--     { to = "TxnDate", from = "date_created_gmt", { "date", input_zone = "Z", zone = "-05:00" } },
--     { to = "CurrencyRef.value", from = "currency", "upper", { "default", "USD" } },
--     { to = "TxnTaxDetail.TotalTax", from = "total_tax", "money" },   -- currency from `currency`
--     { to = "BillEmail.Address", from = { "billing.email", "customer.email" }, "trim", "lower" },
--     { to = "Line[1].SalesItemLineDetail.TaxCodeRef.value", from = "line_items[1].taxes[1].id",
--       "string", { "lookup", "tax_code_mappings" }, "required" },
--     { to = "PrivateNote", value = "Imported by tallysync" },
--   }
--
--   to    target path (required). from: a source path, or a list of them (the first present
--         wins). value: a constant instead of `from`. name: optional label for messages.
--   Paths: dotted names with [n] for array items, counted from 1 as in Lua: "a.b[2].c".
--   The array part lists transforms, applied left to right. A transform is a name or a table
--   { name, args..., option = value }. A value that is absent, null or "" is "no value": every
--   transform but `default` and `required` passes it through, and a rule that ends with no value
--   leaves the target field out.
--
--   trim                      strip surrounding white space ("" becomes no value)
--   upper, lower              ASCII case
--   string                    an integer (WooCommerce ids) becomes its decimal text
--   truncate [, n]            at most n characters (UTF-8); without n, the target field's
--                             QuickBooks limit (QBO_LIMITS below), else a load-time error
--   date / datetime           ISO 8601 text -> "yyyy-mm-dd" / "yyyy-mm-ddThh:mm:ss+hh:mm".
--                             options: zone = output offset ("Z", "+02:00"; default: the input's
--                             own), input_zone = the offset of an input that carries none
--                             (WooCommerce's site-local date_created: the shop's offset). Pure
--                             arithmetic: no os.time, no machine time zone.
--   money                     an amount (decimal text, integer, or a float that is exactly a
--                             decimal) -> a JSON number exact to the currency's minor unit,
--                             through engine.money (never float arithmetic). options: currency =
--                             "JPY", or currency_from = path (default "currency"); as = "number"
--                             (default) | "minor" (integer minor units) | "text" ("29.35")
--   lookup, NAME              the value's entry in transformer_config[NAME] (an object, e.g.
--                             tax_code_mappings); no entry gives no value
--   default, V                V when there is no value
--   required                  an error when there is no value
--
-- Rule syntax errors (unknown transform, bad option, bad path) are raised at load time naming
-- the file and the rule; data errors at run time name the file, the rule and the record:
--   mappings/x.lua: rules[2] (TxnDate <- date_created): order 727: date: "yesterday" is not ...
local json = require "engine.json"
local trim = require("engine.text").trim -- linear; a "^%s*(.-)%s*$" pattern is quadratic
local money = require "engine.money"

local M = {}

local function kind_of(v)
  if v == json.null then return "null" end
  local t = type(v)
  if t == "number" then return math.type(v) == "integer" and "integer" or "number" end
  if t == "table" then return json.is_array(v) and "array" or "object" end
  return t
end
M.kind_of = kind_of

---------------------------------------------------------------------------------------------------
-- paths

-- parse_path("a.b[2].c") -> { "a", "b", 2, "c" } | nil, why
local function parse_path(p)
  if type(p) ~= "string" or p == "" then return nil, "a path is a non-empty string" end
  local segs, pos = {}, 1
  while pos <= #p do
    local name, e = p:match("^([%a_][%w_]*)()", pos)
    if name then
      segs[#segs + 1], pos = name, e
    else
      local idx, e2 = p:match("^%[(%d+)%]()", pos)
      if not idx then return nil, ("bad path %q at character %d"):format(p, pos) end
      idx = math.tointeger(tonumber(idx))
      if idx < 1 then return nil, ("bad path %q: indices count from 1"):format(p) end
      segs[#segs + 1], pos = idx, e2
    end
    if pos <= #p then
      if p:sub(pos, pos) == "." then
        pos = pos + 1
        if pos > #p or p:sub(pos, pos) == "[" then
          return nil, ("bad path %q at character %d"):format(p, pos)
        end
      elseif p:sub(pos, pos) ~= "[" then
        return nil, ("bad path %q at character %d"):format(p, pos)
      end
    end
  end
  return segs
end

local function get_path(v, segs)
  for _, s in ipairs(segs) do
    if type(v) ~= "table" then return nil end
    v = v[s]
  end
  return v
end

-- jsonpath(segs [, n]) -> "$.Line[0].Amount": the first n (all) segments of a parsed path in
-- the one convention every message and explain output uses (0-based JSONPath; rules are
-- written with Lua indices, Line[1]).
local function jsonpath(segs, n)
  local out = "$"
  for i = 1, n or #segs do
    local s = segs[i]
    if math.type(s) == "integer" then
      out = ("%s[%d]"):format(out, s - 1)
    elseif s:match("^[%a_][%w_]*$") then
      out = out .. "." .. s
    else
      out = ("%s[%s]"):format(out, json.encode(s))
    end
  end
  return out
end
M.jsonpath = jsonpath

-- Sets out[segs] = v, creating objects (and arrays for integer segments) on the way.
local function set_path(out, segs, v)
  local cur = out
  for i = 1, #segs - 1 do
    local nxt = cur[segs[i]]
    if nxt == nil or nxt == json.null then
      nxt = type(segs[i + 1]) == "number" and json.array({}) or {}
      cur[segs[i]] = nxt
    elseif type(nxt) ~= "table" then
      error(("cannot write %s: %s already holds a %s"):format(jsonpath(segs), jsonpath(segs, i),
        type(nxt)), 0)
    end
    cur = nxt
  end
  cur[segs[#segs]] = v
end

---------------------------------------------------------------------------------------------------
-- transforms

-- QuickBooks Online length limits (characters) of the target fields rules truncate to, as the
-- QBO API reference's entity pages give them (not in ../shared/reference; kept small on purpose:
-- a field not listed needs an explicit { "truncate", N }). Keyed by the last field name of the
-- target path; "Line.Description" style keys win over plain names.
local QBO_LIMITS = {
  DisplayName = 100, GivenName = 100, FamilyName = 100, MiddleName = 100, CompanyName = 100,
  PrintOnCheckName = 110, Title = 16, Suffix = 16,
  DocNumber = 21,
  ["Line.Description"] = 4000, Description = 4000,
  PrivateNote = 4000, CustomerMemo = 1000, Notes = 2000,
  Line1 = 500, Line2 = 500, Line3 = 500, Line4 = 500, Line5 = 500,
  City = 255, CountrySubDivisionCode = 255, Country = 255, PostalCode = 30,
  Address = 100, -- PrimaryEmailAddr.Address, BillEmail.Address
  FreeFormNumber = 30, -- phone numbers
  Name = 100, Sku = 100, PaymentRefNum = 21, TrackingNum = 31, StringValue = 31,
}
M.QBO_LIMITS = QBO_LIMITS

local function limit_for(segs)
  local last = segs[#segs]
  local parent
  for i = #segs - 1, 1, -1 do
    if type(segs[i]) == "string" then parent = segs[i] break end
  end
  if parent and QBO_LIMITS[parent .. "." .. tostring(last)] then
    return QBO_LIMITS[parent .. "." .. tostring(last)]
  end
  return QBO_LIMITS[last]
end

local function absent(v)
  return v == nil or v == json.null or v == ""
end

local function need_string(v, tname)
  if type(v) ~= "string" then
    error(("%s: expected text, got %s"):format(tname, kind_of(v)), 0)
  end
  return v
end

-- Time zone offsets: "Z", "UTC", "+hh:mm", "-hh:mm", "+hhmm" -> minutes east of UTC.
local function parse_offset(s)
  if s == "Z" or s == "z" or s == "UTC" then return 0 end
  if type(s) ~= "string" then return nil end
  local sign, h, m = s:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then return nil end
  h, m = math.tointeger(tonumber(h)), math.tointeger(tonumber(m))
  if h > 23 or m > 59 then return nil end
  local off = h * 60 + m
  return sign == "-" and -off or off
end

local civil = require "lib.civil_date"
local days_from_civil, civil_from_days = civil.days_from_civil, civil.civil_from_days
local days_in_month = civil.days_in_month

local function fmt_offset(off)
  local sign = off < 0 and "-" or "+"
  if off < 0 then off = -off end
  return ("%s%02d:%02d"):format(sign, off // 60, off % 60)
end

-- The date/datetime transform: parse ISO 8601, move to the output zone, format.
local function convert_date(v, spec, tname)
  local s = need_string(v, tname)
  local y, mo, d, rest = trim(s):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then
    error(("%s: %q is not an ISO 8601 date"):format(tname, s), 0)
  end
  y, mo, d = math.tointeger(tonumber(y)), math.tointeger(tonumber(mo)), math.tointeger(tonumber(d))
  if mo < 1 or mo > 12 or d < 1 or d > days_in_month(y, mo) then
    error(("%s: %q is not a calendar date"):format(tname, s), 0)
  end
  local hh, mi, ss, zone = 0, 0, 0, nil
  if rest ~= "" then
    local h, m2, sec, z = rest:match("^[T ](%d%d):(%d%d):?(%d?%d?)[%.,]?%d*(.*)$")
    if not h then error(("%s: %q is not an ISO 8601 date-time"):format(tname, s), 0) end
    hh, mi, ss = math.tointeger(tonumber(h)), math.tointeger(tonumber(m2)),
      sec ~= "" and math.tointeger(tonumber(sec)) or 0
    if hh > 23 or mi > 59 or ss > 60 then
      error(("%s: %q is not a valid time of day"):format(tname, s), 0)
    end
    if z ~= "" then
      zone = parse_offset(z)
      if zone == nil then error(("%s: %q has an unknown zone %q"):format(tname, s, z), 0) end
    end
  end
  local date_only = rest == ""
  if zone == nil then zone = spec.input_zone end
  local out_zone = spec.zone
  if zone == nil and (out_zone ~= nil or spec.name == "datetime") and not date_only then
    error(("%s: %q carries no zone; give the rule input_zone (the source's offset)"):format(
      tname, s), 0)
  end
  if zone == nil then zone = out_zone or 0 end
  if out_zone == nil then out_zone = zone end
  -- minutes since the epoch in UTC, then in the output zone (a date alone is not moved)
  local day = days_from_civil(y, mo, d)
  if not date_only then
    local minutes = day * 1440 + hh * 60 + mi - zone + out_zone
    day = minutes // 1440
    local mod = minutes % 1440
    hh, mi = mod // 60, mod % 60
  end
  local oy, om, od = civil_from_days(day)
  if spec.name == "date" then return ("%04d-%02d-%02d"):format(oy, om, od) end
  return ("%04d-%02d-%02dT%02d:%02d:%02d%s"):format(oy, om, od, hh, mi, ss, fmt_offset(out_zone))
end

local function pow10(n)
  local p = 1
  for _ = 1, n do p = p * 10 end
  return p
end

-- Minor units -> the JSON number QuickBooks gets: an integer when whole, else the double nearest
-- the decimal, checked to encode as exactly that decimal (never a rounded amount).
local function money_number(minor, decimals, tname)
  local unit = pow10(decimals)
  if minor % unit == 0 then return minor // unit end
  if minor > (1 << 53) or minor < -(1 << 53) then
    error(("%s: %s has too many digits for an exact JSON number"):format(tname,
      money.format(minor, decimals)), 0)
  end
  local f = minor / unit
  local want = money.format(minor, decimals):gsub("0+$", ""):gsub("%.$", "")
  if json.encode(f) ~= want then
    error(("%s: engine.json writes %s as %s; refusing an inexact amount"):format(tname, want,
      json.encode(f)), 0)
  end
  return f
end

local function convert_money(v, spec, env, tname)
  local currency = spec.currency
  if currency == nil then
    currency = get_path(env.record, spec.currency_segs)
    if absent(currency) then
      error(("%s: no currency at %s (give the rule currency = or currency_from =)"):format(tname,
        spec.currency_from), 0)
    end
  end
  local decimals, derr = money.decimals(type(currency) == "string" and currency or "")
  if not decimals then error(("%s: currency %s: %s"):format(tname, tostring(currency), derr), 0) end
  local t = type(v)
  local minor, err
  if t == "string" or math.type(v) == "integer" then
    minor, err = money.parse(v, decimals, "exact")
  elseif math.type(v) == "float" then
    minor, err = money.parse(v, decimals, "half_even")
    if minor and minor / pow10(decimals) ~= v then
      minor, err = nil, ("the float %.17g is not an amount with %d decimals"):format(v, decimals)
    end
  else
    err = ("expected an amount, got %s"):format(kind_of(v))
  end
  if minor == nil then error(("%s: %s"):format(tname, tostring(err)), 0) end
  if spec.as == "minor" then return minor end
  if spec.as == "text" then return money.format(minor, decimals) end
  return money_number(minor, decimals, tname)
end

-- Each transform: opts = the allowed options (name -> type), args = positional arguments
-- (min, max), check(spec, rule) at load time, run(v, spec, env) at run time.
local TRANSFORMS = {}

TRANSFORMS.trim = {
  run = function(v)
    local s = trim(need_string(v, "trim"))
    if s == "" then return nil end
    return s
  end,
}
TRANSFORMS.upper = { run = function(v) return need_string(v, "upper"):upper() end }
TRANSFORMS.lower = { run = function(v) return need_string(v, "lower"):lower() end }
TRANSFORMS.string = {
  run = function(v)
    if type(v) == "string" then return v end
    if math.type(v) == "integer" then return tostring(v) end
    if math.type(v) == "float" and math.tointeger(v) then return tostring(math.tointeger(v)) end
    error(("string: expected text or an integer, got %s"):format(kind_of(v)), 0)
  end,
}
TRANSFORMS.truncate = {
  args = { 0, 1 },
  check = function(spec, rule)
    local n = spec[1]
    if n == nil then
      n = limit_for(rule.to_segs)
      if n == nil then
        return nil, ("truncate: QuickBooks has no length limit on file for %q; give one: " ..
          "{ \"truncate\", N }"):format(rule.to)
      end
    elseif math.type(n) ~= "integer" or n < 1 then
      return nil, "truncate: the length must be a positive integer"
    end
    spec.n = n
    return true
  end,
  run = function(v, spec)
    local s = need_string(v, "truncate")
    local len = utf8.len(s)
    if len == nil then
      return #s <= spec.n and s or s:sub(1, spec.n)
    end
    if len <= spec.n then return s end
    return s:sub(1, utf8.offset(s, spec.n + 1) - 1)
  end,
}
local DATE_OPTS = { zone = "string", input_zone = "string" }
local function check_date(spec)
  for _, k in ipairs({ "zone", "input_zone" }) do
    if spec[k] ~= nil then
      local off = parse_offset(spec[k])
      if off == nil then
        return nil, ("%s: %s %q is not an offset (\"Z\", \"+02:00\", \"-05:00\")"):format(
          spec.name, k, spec[k])
      end
      spec[k] = off
    end
  end
  return true
end
TRANSFORMS.date = {
  opts = DATE_OPTS, check = check_date,
  run = function(v, spec) return convert_date(v, spec, "date") end,
}
TRANSFORMS.datetime = {
  opts = DATE_OPTS, check = check_date,
  run = function(v, spec) return convert_date(v, spec, "datetime") end,
}
TRANSFORMS.money = {
  opts = { currency = "string", currency_from = "string", as = "string" },
  check = function(spec)
    if spec.currency ~= nil and spec.currency_from ~= nil then
      return nil, "money: give currency or currency_from, not both"
    end
    if spec.currency ~= nil then
      local d, err = money.decimals(spec.currency)
      if not d then return nil, "money: currency: " .. tostring(err) end
    else
      spec.currency_from = spec.currency_from or "currency"
      local segs, err = parse_path(spec.currency_from)
      if not segs then return nil, "money: currency_from: " .. err end
      spec.currency_segs = segs
    end
    if spec.as ~= nil and spec.as ~= "number" and spec.as ~= "minor" and spec.as ~= "text" then
      return nil, ("money: as must be \"number\", \"minor\" or \"text\", got %q"):format(spec.as)
    end
    return true
  end,
  run = function(v, spec, env) return convert_money(v, spec, env, "money") end,
}
TRANSFORMS.lookup = {
  args = { 1, 1 },
  check = function(spec, rule)
    local table_name = spec[1]
    local fields = rule.config_fields or {}
    local field = type(table_name) == "string" and fields[table_name]
    if not field or field.type ~= "object" then
      local names = {}
      for k, f in pairs(fields) do if f.type == "object" then names[#names + 1] = k end end
      table.sort(names)
      return nil, ("lookup: %s is not a transformer_config table (tables: %s)"):format(
        type(table_name) == "string" and ("%q"):format(table_name) or kind_of(table_name),
        table.concat(names, ", "))
    end
    return true
  end,
  run = function(v, spec, env)
    local key
    if type(v) == "string" then key = v
    elseif math.type(v) == "integer" then key = tostring(v)
    else error(("lookup: expected text or an integer key, got %s"):format(kind_of(v)), 0) end
    local t = env.config and env.config[spec[1]]
    if type(t) ~= "table" then
      error(("lookup: transformer_config.%s is not an object"):format(spec[1]), 0)
    end
    local found = t[key]
    if found == json.null then return nil end
    return found
  end,
}
TRANSFORMS.default = {
  args = { 1, 1 }, keeps_absent = true,
  check = function(spec)
    if spec[1] == nil then return nil, "default: give the value: { \"default\", V }" end
    return true
  end,
  run = function(v, spec)
    if absent(v) then return spec[1] end
    return v
  end,
}
TRANSFORMS.required = {
  keeps_absent = true,
  run = function(v)
    if absent(v) then error("required: no value", 0) end
    return v
  end,
}

local function transform_names()
  local names = {}
  for k in pairs(TRANSFORMS) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

---------------------------------------------------------------------------------------------------
-- compiling and running rules

local function contract_error(file, fmt, ...)
  error(("%s: " .. fmt):format(file, ...), 0)
end

local function rule_label(i, rule)
  local from = rule.name
  if not from then
    if type(rule.from) == "table" then
      local f = {}
      for _, p in ipairs(rule.from) do f[#f + 1] = tostring(p) end
      from = table.concat(f, "|")
    elseif rule.from ~= nil then
      from = tostring(rule.from)
    else
      from = "value"
    end
    from = ("%s <- %s"):format(tostring(rule.to), from)
  end
  return ("rules[%d] (%s)"):format(i, from)
end

-- Compile one rule; raises "file: rules[i] (...): cause" for anything wrong in its syntax.
local function compile_rule(file, i, rule, config_fields)
  if type(rule) ~= "table" then
    contract_error(file, "rules[%d] must be a table, got %s", i, type(rule))
  end
  local label = rule_label(i, rule)
  local function bad(fmt, ...) contract_error(file, "%s: " .. fmt, label, ...) end
  local n = #rule
  for k in pairs(rule) do
    local ok = k == "to" or k == "from" or k == "value" or k == "name"
      or (math.type(k) == "integer" and k >= 1 and k <= n)
    if not ok then
      bad("unknown field %s (a rule has to, from or value, name, then transforms)",
        type(k) == "string" and ("'" .. k .. "'") or tostring(k))
    end
  end
  if rule.name ~= nil and type(rule.name) ~= "string" then bad("name must be a string") end
  if type(rule.to) ~= "string" then bad("'to' must be a target path string") end
  local c = { index = i, label = label, to = rule.to, transforms = {},
    config_fields = config_fields }
  local err
  c.to_segs, err = parse_path(rule.to)
  if not c.to_segs then bad("to: %s", err) end
  if rule.from ~= nil and rule.value ~= nil then bad("give 'from' or 'value', not both") end
  if rule.from == nil and rule.value == nil then bad("give 'from' (a source path) or 'value'") end
  if rule.value ~= nil then
    c.value = rule.value
  else
    local froms = type(rule.from) == "table" and rule.from or { rule.from }
    if #froms == 0 then bad("'from' lists no path") end
    c.from, c.from_segs = {}, {}
    for j, p in ipairs(froms) do
      local segs, perr = parse_path(p)
      if not segs then bad("from: %s", perr) end
      c.from[j], c.from_segs[j] = p, segs
    end
  end
  for j = 1, n do
    local t = rule[j]
    local spec = {}
    if type(t) == "string" then
      spec.name = t
    elseif type(t) == "table" and type(t[1]) == "string" then
      spec.name = t[1]
      for k, v in pairs(t) do
        if math.type(k) == "integer" and k >= 2 then spec[k - 1] = v
        elseif type(k) == "string" then spec[k] = v
        elseif k ~= 1 then bad("transform %d: bad key %s", j, tostring(k)) end
      end
    else
      bad("transform %d must be a name or { name, args... }, got %s", j, kind_of(t))
    end
    local def = TRANSFORMS[spec.name]
    if def == nil then
      bad("unknown transform '%s' (known: %s)", spec.name, transform_names())
    end
    local nargs = #spec
    local min, max = 0, 0
    if def.args then min, max = def.args[1], def.args[2] end
    if nargs < min or nargs > max then
      bad("%s takes %s", spec.name, max == 0 and "no arguments"
        or min == max and ("%d argument%s"):format(min, min == 1 and "" or "s")
        or ("%d to %d arguments"):format(min, max))
    end
    for k, v in pairs(spec) do
      if type(k) == "string" and k ~= "name" then
        local want = def.opts and def.opts[k]
        if want == nil then bad("%s has no option '%s'", spec.name, k) end
        if type(v) ~= want then bad("%s: option %s must be a %s", spec.name, k, want) end
      end
    end
    if def.check then
      local ok, cerr = def.check(spec, c)
      if not ok then bad("%s", cerr) end
    end
    spec.def = def
    c.transforms[j] = spec
  end
  return c
end

-- compile(file, rules, config_fields) -> compiled rules; raises "file: ..." naming the rule.
-- config_fields: transformer_config's fields ({ name = { type = ... } }), for `lookup`.
function M.compile(file, rules, config_fields)
  local n = #rules
  for k in pairs(rules) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      contract_error(file, "field 'rules' must be a list of rules (found key %s)", tostring(k))
    end
  end
  local compiled = {}
  for i = 1, n do compiled[i] = compile_rule(file, i, rules[i], config_fields) end
  return compiled
end

-- run(compiled, record, config, out, file, describe, want_explain) -> explain entries or nil.
-- Writes each rule's value into out; describe() names the record in an error:
--   "file: rules[i] (...): order 727: transform: cause".
-- Explain entries: { path, rule, from, input } per field written.
function M.run(compiled, record, config, out, file, describe, want_explain)
  local explained = want_explain and {} or nil
  local env = { record = record, config = config }
  for _, rule in ipairs(compiled) do
    local v, from, input
    if rule.value ~= nil then
      v = rule.value
    else
      for j, segs in ipairs(rule.from_segs) do
        local got = get_path(record, segs)
        if not absent(got) or j == #rule.from_segs then
          v, from, input = got, rule.from[j], got
          if not absent(got) then break end
        end
      end
    end
    if v == json.null then v = nil end
    for _, spec in ipairs(rule.transforms) do
      if v ~= nil or spec.def.keeps_absent then
        local ok, res = pcall(spec.def.run, v, spec, env)
        if not ok then
          error(("%s: %s: %s: %s"):format(file, rule.label, describe(), tostring(res)), 0)
        end
        v = res
      end
    end
    if v ~= nil then
      local ok, err = pcall(set_path, out, rule.to_segs, v)
      if not ok then
        error(("%s: %s: %s: %s"):format(file, rule.label, describe(), err), 0)
      end
      if explained then
        explained[#explained + 1] = { path = rule.to, rule = rule.label, from = from,
          input = input }
      end
    end
  end
  return explained
end

M.parse_path, M.get_path = parse_path, get_path

return M
