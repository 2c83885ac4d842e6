-- lib/mapping_test.lua: mapping tests as data. A case is a JSON object with `input` (the source
-- record), optional `settings` (transformer_config), optional `refs` (what ctx.ref answers:
-- { "customer": { "john@example.com": "58" }, "item": { "sku:WOO-1": "12" } }; a reference not
-- listed gets the dry-run marker "{{entity key}}"), and either `expected` (the output) or
-- `expected_error` (a text the mapping's error must contain; `error` is the older name).
-- Optional `company` (what the target company's preferences say, ctx.company:
-- { "allow_shipping": true, "country": "US" }); without it, lib.mapping's ASSUMED_COMPANY.
-- Optional `description`. Any other key is an error (a misspelt "expect" must not pass).
-- run_case returns ok or a readable diff listing every differing path (path, expected, got),
-- so an integrator sees at once which field moved.
local json = require "engine.json"
local mapping = require "lib.mapping"

local M = {}

local function show(v)
  if v == nil then return "(absent)" end
  local ok, text = pcall(json.encode, v)
  return ok and text or tostring(v)
end

local function is_table(v) return type(v) == "table" end

-- diff(expected, got, path, out): appends "path: expected X, got Y" lines.
local function diff(expected, got, path, out)
  if #out >= 50 then return end
  if is_table(expected) and is_table(got) then
    local ea, ga = json.is_array(expected), json.is_array(got)
    if ea ~= ga and (next(expected) ~= nil or next(got) ~= nil) then
      out[#out + 1] = ("%s\n    expected: %s\n    got:      %s"):format(path,
        ea and "an array" or "an object", ga and "an array" or "an object")
      return
    end
    if ea then
      local n = math.max(#expected, #got)
      for i = 1, n do diff(expected[i], got[i], mapping.jsonpath_step(path, i, true), out) end
      return
    end
    local keys = {}
    for k in pairs(expected) do keys[#keys + 1] = k end
    for k in pairs(got) do if expected[k] == nil then keys[#keys + 1] = k end end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      diff(expected[k], got[k], mapping.jsonpath_step(path, k, false), out)
    end
    return
  end
  -- numbers compare by value and kind: 6 and 6.0 encode differently, and QuickBooks sees that
  if expected ~= got or math.type(expected) ~= math.type(got) then
    out[#out + 1] = ("%s\n    expected: %s\n    got:      %s"):format(path, show(expected),
      show(got))
  end
end

-- An object in a case (a table that is not a non-empty array: {} decodes as either).
local function is_object(v)
  return type(v) == "table" and not (json.is_array(v) and next(v) ~= nil)
end

-- A case's optional field: absent and null both mean not given.
local function given(v)
  if v == json.null then return nil end
  return v
end

local CASE_KEYS = { input = true, settings = true, refs = true, expected = true,
  expected_error = true, error = true, description = true, company = true }

-- run_case(name, text) -> true | false, report
function M.run_case(name, text)
  local case, err = json.decode(text)
  if case == nil then return false, "malformed JSON: " .. tostring(err) end
  if type(case) ~= "table" or json.is_array(case) or case.input == nil then
    return false, "a case is an object with \"input\" and \"expected\" (or \"expected_error\")"
  end
  for k in pairs(case) do
    if not CASE_KEYS[k] then
      return false, ("unknown key %q in the case (input, settings, refs, company, expected, " ..
        "expected_error, description)"):format(tostring(k))
    end
  end
  local want_error = case.expected_error
  if want_error == nil then want_error = case.error end
  if case.expected == nil and want_error == nil then
    return false, "the case has neither \"expected\" nor \"expected_error\""
  end
  if case.expected ~= nil and want_error ~= nil then
    return false, "the case has both \"expected\" and \"expected_error\""
  end
  if want_error ~= nil and type(want_error) ~= "string" then
    return false, "\"expected_error\" must be a string (a text the error contains)"
  end
  local refs = given(case.refs)
  if refs ~= nil then
    if not is_object(refs) then
      return false, "\"refs\" must be an object: { entity: { key: target id } }"
    end
    for entity, ids in pairs(refs) do
      if not is_object(ids) then
        return false, ("refs.%s must be an object of key -> target id"):format(entity)
      end
    end
  end
  local m = mapping.load(name)
  local settings = given(case.settings)
  local config, cerr = mapping.config(settings)
  if config == nil then return false, "settings: " .. cerr end
  local company = given(case.company)
  if company ~= nil then
    if not is_object(company) then
      return false, "\"company\" must be an object: { allow_shipping: bool, country: \"US\" }"
    end
    for k, v in pairs(company) do
      if not (k == "allow_shipping" and type(v) == "boolean"
          or k == "country" and type(v) == "string") then
        return false, ("company.%s: expected allow_shipping (a boolean) or country (a string)")
          :format(tostring(k))
      end
    end
  end
  local ctx = mapping.context(config, { dry_run = true, refs = refs, company = company })
  local ok, out = pcall(mapping.apply, m, case.input, ctx)
  if want_error ~= nil then
    if ok then
      return false, "expected an error containing " .. show(want_error) .. ", got a result"
    end
    if not tostring(out):find(want_error, 1, true) then
      return false, ("expected an error containing %s\n    got: %s"):format(show(want_error),
        tostring(out))
    end
    return true
  end
  if not ok then return false, "the mapping raised: " .. tostring(out) end
  local lines = {}
  diff(case.expected, out, "$", lines)
  if #lines == 0 then return true end
  if #lines >= 50 then lines[#lines + 1] = "(first 50 differences shown)" end
  return false, table.concat(lines, "\n")
end

return M
