-- lib/mapping_test.lua: mapping tests as data. A case is a JSON object with `input` (the source
-- record), optional `settings` (transformer_config) and either `expected` (the output) or
-- `error` (a text the mapping's error must contain). run_case returns ok or a readable diff
-- listing every differing path, so an integrator sees at once which field moved.
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
      out[#out + 1] = ("%s: expected %s, got %s"):format(path, ea and "an array" or "an object",
        ga and "an array" or "an object")
      return
    end
    if ea then
      local n = math.max(#expected, #got)
      for i = 1, n do diff(expected[i], got[i], ("%s[%d]"):format(path, i - 1), out) end
      return
    end
    local keys = {}
    for k in pairs(expected) do keys[#keys + 1] = k end
    for k in pairs(got) do if expected[k] == nil then keys[#keys + 1] = k end end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do diff(expected[k], got[k], path .. "." .. tostring(k), out) end
    return
  end
  -- numbers compare by value and kind: 6 and 6.0 encode differently, and QuickBooks sees that
  if expected ~= got or math.type(expected) ~= math.type(got) then
    out[#out + 1] = ("%s: expected %s, got %s"):format(path, show(expected), show(got))
  end
end

-- run_case(name, text) -> true | false, report
function M.run_case(name, text)
  local case, err = json.decode(text)
  if case == nil then return false, "malformed JSON: " .. tostring(err) end
  if type(case) ~= "table" or case.input == nil then
    return false, "a case is an object with \"input\" and \"expected\" (or \"error\")"
  end
  if case.expected == nil and case.error == nil then
    return false, "the case has neither \"expected\" nor \"error\""
  end
  local m = mapping.load(name)
  local settings = case.settings
  if settings == json.null then settings = nil end
  local config, cerr = mapping.config(settings)
  if config == nil then return false, "settings: " .. cerr end
  local ctx = mapping.context(config, { dry_run = true })
  local ok, out = pcall(mapping.apply, m, case.input, ctx)
  if case.error ~= nil then
    if ok then return false, "expected an error containing " .. show(case.error) .. ", got a result" end
    if not tostring(out):find(case.error, 1, true) then
      return false, ("expected an error containing %s, got: %s"):format(show(case.error), tostring(out))
    end
    return true
  end
  if not ok then return false, "the mapping raised: " .. tostring(out) end
  local lines = {}
  diff(case.expected, out, "$", lines)
  if #lines == 0 then return true end
  return false, table.concat(lines, "\n")
end

return M
