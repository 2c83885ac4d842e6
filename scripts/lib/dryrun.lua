-- lib/dryrun.lua: the Lua half of `tallysync dry-run`. C reads the files and prints; this
-- parses the input (one document, a JSON array, or NDJSON), runs the mapping on each record
-- and encodes what would be sent, or with --explain where each output field came from.
-- Nothing here writes anywhere.
local json = require "engine.json"
local mapping = require "lib.mapping"

local M = {}

-- parse(text, source) -> records, format ("single" | "array" | "ndjson"); raises a clear line.
function M.parse(text, source)
  local doc, err = json.decode(text)
  if doc ~= nil then
    if type(doc) == "table" and json.is_array(doc) then
      return doc, "array"
    end
    return { doc }, "single"
  end
  -- Not one document: NDJSON when every non-blank line is one.
  local records, n, lines = {}, 0, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lines = lines + 1
    if line:match("%S") then
      local rec, lerr = json.decode(line)
      if rec == nil then
        if n == 0 and lines == 1 then
          error(("%s: malformed JSON: %s"):format(source, tostring(err)), 0)
        end
        error(("%s: line %d: malformed JSON: %s"):format(source, lines, tostring(lerr)), 0)
      end
      n = n + 1
      records[n] = rec
    end
  end
  if n == 0 then error(("%s: no JSON record in the input"):format(source), 0) end
  if n == 1 then error(("%s: malformed JSON: %s"):format(source, tostring(err)), 0) end
  return records, "ndjson"
end

-- describe(record, i) -> "record 2 (id 727)" for error lines.
function M.describe(record, i)
  if type(record) == "table" and record.id ~= nil and record.id ~= json.null then
    return ("record %d (id %s)"):format(i, tostring(record.id))
  end
  return ("record %d"):format(i)
end

-- prepare(name, config_text) -> state table for map_one / explain_one.
function M.prepare(name, config_text)
  local m = mapping.load(name)
  local config, err = mapping.config(config_text)
  if config == nil then error("--config: " .. err, 0) end
  return { mapping = m, ctx = mapping.context(config, { dry_run = true }) }
end

local function run(state, record, i, opts)
  local ok, out, explained = pcall(mapping.apply, state.mapping, record, state.ctx, opts)
  if not ok then
    error(("%s: %s"):format(M.describe(record, i), tostring(out)), 0)
  end
  return out, explained
end

local function encode(value, record, i, pretty)
  local ok, text = pcall(json.encode, value, { pretty = pretty })
  if not ok then
    error(("%s: the mapping's output cannot be encoded: %s"):format(M.describe(record, i),
      tostring(text)), 0)
  end
  return text
end

-- map_one(state, record, i, pretty) -> encoded output; raises "record i (id x): cause".
function M.map_one(state, record, i, pretty)
  local out = run(state, record, i)
  return encode(out, record, i, pretty)
end

---------------------------------------------------------------------------------------------------
-- explain

local function seg(base, k)
  if math.type(k) == "integer" then return ("%s[%d]"):format(base, k) end
  k = tostring(k)
  if k:match("^[%a_][%w_]*$") then return base == "" and k or base .. "." .. k end
  return ("%s[\"%s\"]"):format(base, k)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    return a < b
  end)
  return keys
end

-- leaves(v) -> list of { path, value } in document order (arrays by index, objects by name).
local function leaves(v, base, out)
  out = out or {}
  if type(v) == "table" and next(v) ~= nil then
    if json.is_array(v) then
      for i = 1, #v do leaves(v[i], seg(base, i), out) end
    else
      for _, k in ipairs(sorted_keys(v)) do leaves(v[k], seg(base, k), out) end
    end
  else
    out[#out + 1] = { path = base, value = v }
  end
  return out
end

-- Input values indexed by what they look like, to name the input a map()-made field equals.
local function value_key(v)
  if type(v) == "string" then
    if #v < 2 then return nil end
    local n = tonumber(v)
    if n and v:match("^%s*%-?%d") then
      if n == 0 then return nil end
      return "n:" .. (math.tointeger(n) and tostring(math.tointeger(n)) or ("%.17g"):format(n))
    end
    return "s:" .. v
  elseif math.type(v) then
    if v == 0 then return nil end
    return "n:" .. (math.tointeger(v) and tostring(math.tointeger(v)) or ("%.17g"):format(v))
  end
  return nil
end

local function index_input(record)
  local index = {}
  for _, l in ipairs(leaves(record, "")) do
    local key = value_key(l.value)
    if key then
      local list = index[key]
      if list == nil then list = {}; index[key] = list end
      list[#list + 1] = l
    end
  end
  return index
end

-- The ancestors of a path and itself, longest first: "a.b[1].c", "a.b[1]", "a.b", "a".
local function prefixes(path)
  local out = { path }
  local p = path
  while true do
    local parent = p:match("^(.*)%[[^%[%]]*%]$") or p:match("^(.*)%.[%a_][%w_]*$")
    if parent == nil or parent == "" then break end
    out[#out + 1] = parent
    p = parent
  end
  return out
end

-- attribute(doc, explained, record) -> list of { path, value, by, rule, from, input, line,
-- same_as } for every leaf of doc.
local function attribute(doc, explained, record)
  local latest = {} -- path -> the last entry that wrote it (rules first, then map's writes)
  for i, e in ipairs(explained or {}) do
    local order = e.seq or (i - 1000000)
    local cur = latest[e.path]
    if cur == nil or (cur.seq or -math.huge) < order then
      e.seq = order
      latest[e.path] = e
    end
  end
  local returned = explained and explained.returned
  local returned_paths = {}
  if returned then
    for _, l in ipairs(leaves(returned.table, "")) do returned_paths[l.path] = true end
  end
  local index
  local fields = {}
  for _, l in ipairs(leaves(doc, "")) do
    local f = { path = l.path, value = l.value }
    local best
    if not returned_paths[l.path] then
      for _, p in ipairs(prefixes(l.path)) do
        local e = latest[p]
        if e and (best == nil or e.seq > best.seq) then best = e end
      end
    end
    if best and best.rule then
      f.by, f.rule, f.from = "rule", best.rule, best.from
      if best.from then
        f.input = best.input
        if f.input == nil then f.input = json.null end
      end
    elseif best then
      f.by, f.line = "map", best.where
    elseif returned_paths[l.path] then
      f.by, f.line = "map-return", returned.where
    else
      f.by = "unknown"
    end
    if f.by ~= "rule" then
      index = index or index_input(record)
      local key = value_key(l.value)
      local same = key and index[key]
      if same then
        local pick = same[1] -- prefer an input of the same type ("727" over 727)
        for _, c in ipairs(same) do
          if math.type(c.value) == math.type(l.value) and type(c.value) == type(l.value) then
            pick = c
            break
          end
        end
        f.same_as = { path = pick.path, value = pick.value, others = #same - 1 }
      end
    end
    fields[#fields + 1] = f
  end
  return fields
end
M.attribute = attribute

local function show(v)
  if v == nil then return "(absent)" end
  local ok, text = pcall(json.encode, v)
  if not ok then return tostring(v) end
  if #text > 120 then text = text:sub(1, 117) .. "..." end
  return text
end

-- explain_one(state, record, i, as_json, pretty) -> text: for every output field, the rule or
-- the map() line that produced it and the input it read.
function M.explain_one(state, record, i, as_json, pretty)
  local doc, explained = run(state, record, i, { explain = true })
  local fields = attribute(doc, explained, record)
  local who = mapping.describe(state.mapping, record)
  if as_json then
    local list = {}
    for n, f in ipairs(fields) do
      local e = { path = f.path, value = f.value == nil and json.null or f.value, by = f.by }
      if f.rule then e.rule = f.rule end
      if f.from then e.from = f.from; e.input = f.input end
      if f.line then e.line = f.line end
      if f.same_as then
        e.same_as = { path = f.same_as.path, value = f.same_as.value,
          others = f.same_as.others }
      end
      list[n] = e
    end
    return encode({ record = i, describe = who, output = doc, fields = json.array(list) },
      record, i, pretty)
  end
  local lines = { ("%s: %s, %d field%s"):format(M.describe(record, i), who, #fields,
    #fields == 1 and "" or "s") }
  for _, f in ipairs(fields) do
    lines[#lines + 1] = ("  %s = %s"):format(f.path, show(f.value))
    local why
    if f.by == "rule" then
      why = ("rule %s"):format(f.rule)
      if f.from then why = why .. (", read %s = %s"):format(f.from, show(f.input)) end
    elseif f.by == "map" then
      why = ("map() %s"):format(f.line)
    elseif f.by == "map-return" then
      why = ("map() returned it (function at %s)"):format(f.returned or f.line)
    else
      why = "origin unknown"
    end
    if f.same_as then
      why = why .. ("; same value as input %s = %s"):format(f.same_as.path, show(f.same_as.value))
      if f.same_as.others > 0 then
        why = why .. (" (and %d more)"):format(f.same_as.others)
      end
    end
    lines[#lines + 1] = "      <- " .. why
  end
  return table.concat(lines, "\n")
end

return M
