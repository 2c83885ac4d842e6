-- lib/mapping.lua: loads a mapping, checks it against the v2 contract, compiles its declarative
-- rules, builds the context it runs in and applies it to one record. The orchestrator,
-- `tallysync dry-run` and `tallysync test` all go through here, so a mapping behaves the same
-- (and fails with the same message) in a dry run, a test and a real run.
--
-- A mapping (mappings/NAME.lua) returns a table with these fields, all checked at load time:
--   name          string
--   source/target { connector = string, entity = string }
--   key           string: path of the record's id ("id", "billing.email")
--   requires, match, disambiguate, total, select, map : functions (see the mapping contract)
--   rules         array of rules (below); at least one of `rules` and `map` is required
--   needs         (v1, ignored: superseded by `requires`)
-- Any other field, or a field of the wrong type, is an error naming the file and the field.
--
-- RULES, in short (lib/mapping_rules.lua has the full reference: every transform, its options,
-- the QuickBooks length limits):
--   rules = {
--     { to = "DocNumber", from = "number", "trim", "truncate" },     -- target <- source, transforms
--     { to = "TxnDate", from = "date_created_gmt", { "date", input_zone = "Z", zone = "-05:00" } },
--     { to = "TotalAmt", from = "total", "money" },                  -- exact, via engine.money
--     { to = "Line[1].SalesItemLineDetail.TaxCodeRef.value", from = "line_items[1].taxes[1].id",
--       "string", { "lookup", "tax_code_mappings" }, { "default", "NON" }, "required" },
--     { to = "PrivateNote", value = "Imported by tallysync" },      -- a constant
--   }
-- Transforms: trim, upper, lower, string, truncate [n], date, datetime, money, lookup NAME,
-- default V, required. A bad rule is a load-time error naming the file and rules[i]; a value
-- a rule cannot carry is a run-time error naming the file, rules[i] and the record.
-- Rules run first, into the output document; then map(record, ctx, out) may complete or
-- override it: it may write into `out` (and return nothing or `out`), or return a document of
-- its own (today's form), whose fields win over the rules' ones.
local json = require "engine.json"
local money = require "engine.money"
local trace = require "engine.trace"
local rules = require "lib.mapping_rules"

local parse_path, get_path = rules.parse_path, rules.get_path

local M = {}

---------------------------------------------------------------------------------------------------
-- transformer_config

-- The seed's transformer_config plus tallysync's two additions, with their defaults.
local CONFIG_FIELDS = {
  -- null = automatic: QuickBooks' SHIPPING_ITEM_ID when the company allows shipping, else the
  -- item named "Shipping" (found, or created when create_missing_items allows); see
  -- M.shipping_ref. A string is an Item id used as is.
  shipping_item_id = { type = "string_or_null", default = function() return json.null end },
  default_payment_terms_days = { type = "integer", default = 30 },
  custom_field_mappings = { type = "array", default = function() return json.array({}) end },
  tax_code_mappings = { type = "object", default = function() return json.object({}) end },
  default_tax_code_id = { type = "string_or_null", default = function() return json.null end },
  paid_orders_as = { type = "string", one_of = { "Invoice", "SalesReceipt" }, default = "Invoice" },
  create_missing_items = { type = "boolean", default = true },
  -- QuickBooks account ids: new items' income account, refunds' deposit-from account (else the
  -- mappings match the US chart's default account by name)
  income_account_id = { type = "string_or_null", default = function() return json.null end },
  refund_account_id = { type = "string_or_null", default = function() return json.null end },
}
M.CONFIG_FIELDS = CONFIG_FIELDS

local kind_of = rules.kind_of -- "null", "integer", "array", "object", or type(v)

local function article(word)
  return (word:match("^[aeiou]") and "an " or "a ") .. word
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
    return nil, ("transformer_config.%s must be %s, got %s"):format(name, article(want), k)
  end
  if want == "integer" and v < 0 then
    return nil, ("transformer_config.%s must not be negative"):format(name)
  end
  if spec.one_of then
    for _, ok in ipairs(spec.one_of) do if v == ok then return true end end
    return nil, ("transformer_config.%s must be one of %s, got %q"):format(name,
      table.concat(spec.one_of, ", "), v)
  end
  if name == "tax_code_mappings" then
    for rate, code in pairs(v) do
      if type(code) ~= "string" then
        return nil, ("transformer_config.tax_code_mappings[%q] must be a QuickBooks TaxCode " ..
          "id string, got %s"):format(tostring(rate), kind_of(code))
      end
    end
  elseif name == "custom_field_mappings" then
    for i, m in ipairs(v) do
      if kind_of(m) ~= "object" then
        return nil, ("transformer_config.custom_field_mappings[%d] must be an object, got %s")
          :format(i - 1, kind_of(m)) -- 0-based, as every path in a message
      end
      for _, f in ipairs({ "source_field", "target_field" }) do
        if type(m[f]) ~= "string" or m[f] == "" then
          return nil, ("transformer_config.custom_field_mappings[%d].%s must be a non-empty " ..
            "string"):format(i - 1, f)
        end
      end
    end
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
      local known = {}
      for k in pairs(CONFIG_FIELDS) do known[#known + 1] = k end
      table.sort(known)
      return nil, ("transformer_config: unknown setting %q (known: %s)"):format(tostring(key),
        table.concat(known, ", "))
    end
    local ok, err = check_field(key, spec, value)
    if not ok then return nil, err end
    out[key] = value
  end
  for key, spec in pairs(CONFIG_FIELDS) do
    if out[key] == nil then
      local d = spec.default
      if type(d) == "function" then out[key] = d() else out[key] = d end
    end
  end
  return out
end

-- settings_check(text) -> stored_json, effective_json | nil, message, field
-- For the settings API: text is what a client PUTs (or what the store holds); stored_json is
-- the same settings re-encoded (only the keys given: defaults stay defaults when they change),
-- effective_json what mappings will see in ctx.config. field names the bad setting ("" when
-- the text as a whole is wrong).
function M.settings_check(text)
  if type(text) ~= "string" then return nil, "transformer_config must be JSON text", "" end
  local raw, derr = json.decode(text)
  if raw == nil then return nil, "transformer_config: " .. tostring(derr), "" end
  local config, err = M.config(raw)
  if config == nil then
    local field = err:match("^transformer_config%.([%w_]+)") or
      err:match('^transformer_config: unknown setting "([^"]*)"') or ""
    return nil, err, field
  end
  if next(raw) == nil then raw = json.object({}) end
  local effective = {}
  for k, v in pairs(config) do effective[k] = v end
  return json.encode(raw), json.encode(effective)
end

---------------------------------------------------------------------------------------------------
-- the contract

local CONTRACT = {
  name = "string", source = "endpoint", target = "endpoint", key = "string",
  requires = "function", match = "function", disambiguate = "function", total = "function",
  select = "function", -- select(record, ctx) -> bool: whether this flow takes the record, when
                       -- several flows read one source entity (Invoice vs SalesReceipt)
  rules = "table", map = "function",
  needs = "table", -- v1 (today's woo mapping): documentation only, superseded by `requires`
  default_for = "entities", -- "orders" or { "orders", ... }: the source entities this mapping
                            -- is the default flow of (POST /api/sync/{entity} without a flow,
                            -- webhooks, sweeps); the script registry publishes it to C and
                            -- refuses a second mapping claiming the same entity
}

-- Private facts about each loaded mapping (weak: a reloaded mapping drops its entry), kept for
-- the current task only: modules are shared by every task of a worker and frozen, and a task's
-- globals (a fresh table per task, dropped after it) are where one task keeps what it computed.
-- A caller that runs one mapping over many tasks (a dry run: one task per record) keeps the
-- table in its own state and hands it back to each task (M.memo / M.use_memo).
local function infos()
  local t = _mapping_info
  if t == nil then
    t = setmetatable({}, { __mode = "k" })
    _mapping_info = t
  end
  return t
end

-- memo() -> this task's table of mapping facts; use_memo(t): this task uses t (from memo() in
-- an earlier task of the same run) instead, so they are computed once per run.
function M.memo() return infos() end
function M.use_memo(t)
  if type(t) ~= "table" then error("use_memo: a table from mapping.memo() expected", 2) end
  _mapping_info = t
end

local function contract_error(file, fmt, ...)
  error(("%s: " .. fmt):format(file, ...), 0)
end

-- validate(m, file) -> m; raises "file: field 'x' ..." for anything outside the contract.
-- file names the mapping in messages ("mappings/x.lua").
function M.validate(m, file)
  file = file or "mapping"
  if type(m) ~= "table" then
    contract_error(file, "must return a table (the mapping), got %s", type(m))
  end
  for k, v in pairs(m) do
    local want = CONTRACT[k]
    if want == nil then
      local known = {}
      for name in pairs(CONTRACT) do if name ~= "needs" then known[#known + 1] = name end end
      table.sort(known)
      contract_error(file, "unknown field %s (a mapping has %s)",
        type(k) == "string" and ("'" .. k .. "'") or tostring(k), table.concat(known, ", "))
    end
    if want == "endpoint" then
      if type(v) ~= "table" then
        contract_error(file, "field '%s' must be { connector = ..., entity = ... }, got %s", k,
          type(v))
      end
      for kk, vv in pairs(v) do
        if kk ~= "connector" and kk ~= "entity" then
          contract_error(file, "field '%s.%s' is unknown (connector, entity)", k, tostring(kk))
        end
        if type(vv) ~= "string" or vv == "" then
          contract_error(file, "field '%s.%s' must be a non-empty string", k, kk)
        end
      end
      for _, kk in ipairs({ "connector", "entity" }) do
        if v[kk] == nil then contract_error(file, "field '%s.%s' is missing", k, kk) end
      end
    elseif want == "entities" then
      local list = type(v) == "table" and v or { v }
      local seen = {}
      if type(v) ~= "string" and type(v) ~= "table" then
        contract_error(file, "field 'default_for' must be an entity name or a list of them, got %s",
          type(v))
      end
      local n = 0
      for kk, e in pairs(list) do
        n = n + 1
        if math.type(kk) ~= "integer" or kk < 1 or kk > #list then
          contract_error(file, "field 'default_for' must be a list of entity names, not a map")
        end
        if type(e) ~= "string" or #e > 64 or not e:match("^[%a_][%w_%-]*$") then
          contract_error(file, "field 'default_for' must name entities (letters, digits, _ and -), " ..
            "got %s", type(e) == "string" and ("%q"):format(e) or type(e))
        end
        if seen[e] then contract_error(file, "field 'default_for' names '%s' twice", e) end
        seen[e] = true
      end
      if n == 0 then contract_error(file, "field 'default_for' is an empty list") end
    elseif type(v) ~= want then
      contract_error(file, "field '%s' must be %s, got %s", k, article(want), type(v))
    end
  end
  if m.key ~= nil then
    local ok, err = parse_path(m.key)
    if not ok then contract_error(file, "field 'key': %s", err) end
  end
  if m.map == nil and m.rules == nil then
    contract_error(file, "has neither 'rules' nor 'map': nothing to map with")
  end
  local compiled = m.rules ~= nil and rules.compile(file, m.rules, CONFIG_FIELDS) or {}
  infos()[m] = { file = file, rules = compiled, key_segs = m.key and parse_path(m.key) or { "id" } }
  return m
end

-- The facts of m for this task: computed again in each task (they are the same each time: m is
-- frozen). A mapping loaded by name (M.load) is found again by its name, so its messages name
-- its file and explain follows its traced copy in every task, not only in the one that loaded it.
local function info_of(m)
  local info = infos()[m]
  if info == nil then
    local name = type(m) == "table" and type(m.name) == "string" and m.name:match("^[%w_%-]+$")
    local module = name and "mappings." .. name or nil
    if module then
      local ok, loaded = pcall(require, module)
      if not ok or loaded ~= m then module = nil end
    end
    M.validate(m, module and ("mappings/%s.lua"):format(name)
      or (type(m) == "table" and type(m.name) == "string" and m.name or "mapping"))
    info = infos()[m]
    info.module = module
  end
  return info
end

-- load(name) -> mapping table, validated (raises naming the file and the field).
function M.load(name)
  if type(name) ~= "string" or not name:match("^[%w_%-]+$") then
    error(("mapping name %q is not a plain file name"):format(tostring(name)), 0)
  end
  local m = require("mappings." .. name)
  if infos()[m] == nil then M.validate(m, ("mappings/%s.lua"):format(name)) end
  infos()[m].module = "mappings." .. name
  return m
end

-- file_of(m) -> "mappings/x.lua" (or the label it was validated with)
function M.file_of(m)
  return info_of(m).file
end

---------------------------------------------------------------------------------------------------
-- records and errors

M.QBO_LIMITS = rules.QBO_LIMITS

-- describe(m, record) -> "order 727": the source entity in the singular and the record's key.
function M.describe(m, record)
  local noun = "record"
  if type(m) == "table" and type(m.source) == "table" and type(m.source.entity) == "string" then
    noun = m.source.entity:gsub("ies$", "y"):gsub("([^s])s$", "%1"):lower()
  end
  local id
  if type(record) == "table" then
    id = get_path(record, infos()[m] and infos()[m].key_segs or { "id" })
  end
  if id == nil or id == json.null or type(id) == "table" then return noun end
  return ("%s %s"):format(noun, tostring(id))
end

-- format_error(m, record, msg) -> "mappings/x.lua:42: order 727: cause". msg is what the mapping
-- raised, already located by engine.trace (a position when one is known). The record is added
-- unless the mapping's message already starts with the same noun ("order 727: ...").
function M.format_error(m, record, msg)
  if type(msg) ~= "string" then
    msg = ("(error object is a %s value)"):format(type(msg))
  end
  local file = info_of(m).file
  local who = M.describe(m, record)
  local noun = who:match("^(%S+)")
  local pos, rest = msg:match("^(mappings/[^:%s]+%.lua:%d+): (.*)$")
  if not pos then
    local f, r = msg:match("^(" .. file:gsub("%p", "%%%0") .. "): (.*)$")
    pos, rest = f or file, r or msg
  end
  rest = rest:gsub("\nstack traceback:.*$", "")
  -- a mapping that names itself ("woo_order_to_qbo_invoice: order 727: ...") says it once
  if type(m.name) == "string" and rest:sub(1, #m.name + 2) == m.name .. ": " then
    rest = rest:sub(#m.name + 3)
  end
  if rest:sub(1, #noun + 1) == noun .. " " or rest:sub(1, #noun + 1) == noun .. ":" then
    return ("%s: %s"):format(pos, rest)
  end
  return ("%s: %s: %s"):format(pos, who, rest)
end

---------------------------------------------------------------------------------------------------
-- running

-- The company facts a mapping may read (ctx.company), when no target company was read (a dry
-- run from files, `tallysync test`): shipping through an item named "Shipping" works in every
-- company, SHIPPING_ITEM_ID only in one that turned shipping on.
M.ASSUMED_COMPANY = { allow_shipping = false,
  assumed = "no QuickBooks company was read: assuming AllowShipping off (shipping lines post " ..
    "to the item named \"Shipping\") and a company outside the US (a taxed line with no " ..
    "mapped tax code gets no TaxCodeRef, not TAX)" }

-- assumption_note(name [, config_text]) -> what mapping NAME assumes about its target without a
-- company read (`tallysync dry-run` and `tallysync test` print it), or nil: a target with no
-- such notion, or settings that leave nothing to the company (shipping_item_id and
-- default_tax_code_id both set).
function M.assumption_note(name, config_text)
  local config = config_text and M.config(config_text)
  if config and config.shipping_item_id ~= json.null and config.default_tax_code_id ~= json.null
  then
    return nil
  end
  local ok, m = pcall(M.load, name)
  local sales = { Invoice = true, SalesReceipt = true, CreditMemo = true, RefundReceipt = true }
  if not ok or type(m.target) ~= "table" or m.target.connector ~= "quickbooks"
      or not sales[m.target.entity] then
    return nil
  end
  return M.ASSUMED_COMPANY.assumed
end

-- context(config, opts) -> the ctx a mapping's functions receive.
-- opts.tenant, opts.dry_run, opts.ref (function(entity, key) -> target id), opts.refs (a table
-- { entity = { key = id } } answered first; the rest falls to opts.ref or the dry-run marker),
-- opts.company ({ allow_shipping = bool } from the target's preferences; else ASSUMED_COMPANY).
function M.context(config, opts)
  opts = opts or {}
  local ctx = {
    config = config,
    tenant = opts.tenant or "default",
    dry_run = opts.dry_run and true or false,
    company = opts.company or M.ASSUMED_COMPANY,
  }
  local fallback = opts.ref or function(entity, key)
    -- A dry run knows no target ids: show what would be resolved (or created) first.
    if type(entity) == "string" and type(key) == "string" then
      return "{{" .. entity .. " " .. key .. "}}"
    end
    return ("{{%s %s}}"):format(tostring(entity), tostring(key))
  end
  local refs = opts.refs
  if refs ~= nil then
    ctx.ref = function(entity, key)
      local by_entity = refs[entity]
      local id = type(by_entity) == "table" and by_entity[key] or nil
      if id ~= nil and id ~= json.null then return tostring(id) end
      return fallback(entity, key)
    end
  else
    ctx.ref = fallback
  end
  return ctx
end

-- Deep merge of src into dst (objects only; arrays and scalars of src replace dst's). With
-- origins (explain), each field keeps the origin it had in src.
local function merge(dst, src, origins)
  for k, v in pairs(src) do
    local d = dst[k]
    if type(v) == "table" and type(d) == "table" and not json.is_array(v)
        and not json.is_array(d) then
      merge(d, v, origins)
    else
      dst[k] = v
      if origins then
        local from = origins[src]
        local to = origins[dst] or {}
        origins[dst] = to
        to[k] = from and from[k]
      end
    end
  end
  return dst
end

-- run(m, info, record, ctx, origins) -> the document: rules, then map(). origins (explain
-- only) receives each rule's write as origins[table][key] = { rule, from, input }.
local function run(m, info, record, ctx, origins)
  local out = json.object({})
  local explained = rules.run(info.rules, record, ctx.config, out, info.file,
    function() return M.describe(m, record) end, origins ~= nil)
  for _, e in ipairs(explained or {}) do
    local segs = parse_path(e.path)
    local parent = get_path(out, table.move(segs, 1, #segs - 1, 1, {}))
    local keymap = origins[parent] or {}
    origins[parent] = keymap
    keymap[segs[#segs]] = { rule = e.rule, from = e.from, input = e.input }
  end
  if m.map == nil then return out end

  local ok, res = xpcall(m.map, trace.locate, record, ctx, out)
  if not ok then error(M.format_error(m, record, res), 0) end
  if res == nil or res == out then return out end
  if type(res) ~= "table" then
    error(("%s: %s: map() returned %s, expected a table (the target document) or nothing")
      :format(trace.where(m.map) or info.file, M.describe(m, record), type(res)), 0)
  end
  if next(out) == nil then return res end
  return merge(out, res, origins)
end

-- apply(m, record, ctx [, opts]) -> output document (raises "file:line: record: cause").
-- opts.explain: also return the document's lineage (M.lineage).
function M.apply(m, record, ctx, opts)
  if opts and opts.explain then return M.explain(m, record, ctx) end
  return run(m, info_of(m), record, ctx, nil)
end

---------------------------------------------------------------------------------------------------
-- explain: where each output field comes from. A mapping loaded by name is run again as its
-- traced copy (engine.trace: every constructor and field write of the mapping and of the
-- libraries it requires reports its file:line); the document is the same, field for field.
-- Nothing is ever attributed by comparing values.

-- The traced copy of m (m itself when m was not loaded by name: its writes are then unknown).
local function traced(m)
  local info = info_of(m)
  if info.module == nil then return m end
  local tm = trace.require(info.module)
  if infos()[tm] == nil then
    M.validate(tm, info.file)
    infos()[tm].module = info.module
  end
  return tm
end

-- One JSONPath step: $.a, $["odd key"], $.Line[0] (arrays count from 0).
local function step(base, k, in_array)
  if in_array then return ("%s[%d]"):format(base, k - 1) end
  k = tostring(k)
  if k:match("^[%a_][%w_]*$") then return base .. "." .. k end
  return ("%s[%s]"):format(base, json.encode(k))
end
M.jsonpath_step = step

-- jsonpath("line_items[1].total") -> "$.line_items[0].total": a rule's source path (Lua
-- indices, as rules are written) as the one path convention of every output.
function M.jsonpath(path)
  local segs = parse_path(path)
  if not segs then return path end
  return rules.jsonpath(segs)
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

-- lineage(doc, origins) -> list, in document order, of every leaf of doc:
--   { path = "$.Line[0].Amount", value, by = "rule" | "map" | "unknown",
--     rule, from, input                  (by rule: its label, the JSONPath it read, the value)
--     line, via                          (by map: the writing line, its callers to the mapping)
--     part_of }                          (the field came inside the table written at part_of)
-- map_where ("mappings/x.lua:12", where map() is defined) names the frames a tail call
-- dropped: everything traced runs inside map(), so a chain cut by a tail call ends there.
function M.lineage(doc, origins, map_where)
  local tail = map_where and ("(tail call from map(), %s)"):format(map_where)
  local tails = {}
  local function via_of(v)
    if not tail or v == nil or v[#v] ~= "(tail call)" then return v end
    if tails[v] == nil then
      local copy = table.move(v, 1, #v - 1, 1, {})
      copy[#copy + 1] = tail
      tails[v] = copy
    end
    return tails[v]
  end
  local fields = {}
  local function leaf(path, v, o, at)
    local f = { path = path, value = v, by = "unknown" }
    if o and o.rule then
      f.by, f.rule = "rule", o.rule
      if o.from then f.from, f.input = M.jsonpath(o.from), o.input end
    elseif o then
      f.by, f.line, f.via = "map", o.where, via_of(o.via)
    end
    if o and at ~= path then f.part_of = at end
    fields[#fields + 1] = f
  end
  local onpath = {} -- a table inside itself would never end: say where instead
  local function walk(t, path, inherited, at)
    if onpath[t] then error(("the mapping's output contains itself at %s"):format(path), 0) end
    onpath[t] = true
    local keymap = origins[t]
    local arr = json.is_array(t)
    local keys
    if arr then
      keys = {}
      for i = 1, #t do keys[i] = i end
    else
      keys = sorted_keys(t)
    end
    for _, k in ipairs(keys) do
      local v, p = t[k], step(path, k, arr)
      local own = keymap and keymap[k]
      local o, oat = own or inherited, own and p or at
      if type(v) == "table" and next(v) ~= nil then
        walk(v, p, o, oat)
      else
        leaf(p, v, o, oat)
      end
    end
    onpath[t] = nil
  end
  if type(doc) == "table" then walk(doc, "$", nil, nil) end
  return fields
end

-- explain(m, record, ctx) -> document, lineage
function M.explain(m, record, ctx)
  local tm = traced(m)
  local origins = trace.begin()
  local ok, doc = pcall(run, tm, info_of(tm), record, ctx, origins)
  trace.finish()
  if not ok then error(doc, 0) end
  return doc, M.lineage(doc, origins, tm.map and trace.where(tm.map))
end

---------------------------------------------------------------------------------------------------
-- the other functions of the contract, for the orchestrator: each called protected, its error
-- formatted like map()'s, its result checked (a wrong shape names the function and the record)

local function call(m, fname, record, ...)
  local f = m[fname]
  if f == nil then return false end
  local res = table.pack(xpcall(f, trace.locate, ...))
  if not res[1] then error(M.format_error(m, record, res[2]), 0) end
  return true, table.unpack(res, 2, res.n)
end

local function shape_error(m, fname, record, fmt, ...)
  local where = trace.where(m[fname]) or info_of(m).file
  error(("%s: %s: %s() " .. fmt):format(where, M.describe(m, record), fname, ...), 0)
end

-- requires(m, record, ctx) -> list of { entity, key, flow, record } (empty without `requires`)
function M.requires(m, record, ctx)
  local has, list = call(m, "requires", record, record, ctx)
  if not has or list == nil then return {} end
  if type(list) ~= "table" then
    shape_error(m, "requires", record, "returned %s, expected a list", type(list))
  end
  for i, dep in ipairs(list) do
    if type(dep) ~= "table" then
      shape_error(m, "requires", record, "item %d is %s, expected a table", i, type(dep))
    end
    for _, k in ipairs({ "entity", "key", "flow" }) do
      -- flow may be absent: a requirement that must already exist (an account), found by match
      if (dep[k] ~= nil or k ~= "flow") and (type(dep[k]) ~= "string" or dep[k] == "") then
        shape_error(m, "requires", record, "item %d: %s must be a non-empty string", i, k)
      end
    end
    if dep.record ~= nil and type(dep.record) ~= "table" then
      shape_error(m, "requires", record, "item %d: record must be a table", i)
    end
  end
  return list
end

-- match(m, doc, record, ctx) -> list of { field, value } (empty without `match`)
function M.match(m, doc, record, ctx)
  local has, list = call(m, "match", record, doc, record, ctx)
  if not has or list == nil then return {} end
  if type(list) ~= "table" then
    shape_error(m, "match", record, "returned %s, expected a list", type(list))
  end
  for i, c in ipairs(list) do
    if type(c) ~= "table" or type(c.field) ~= "string" or c.field == "" then
      shape_error(m, "match", record, "criterion %d must be { field = \"Name\", value = ... }", i)
    end
    if c.value == nil or type(c.value) == "table" then
      shape_error(m, "match", record, "criterion %d (%s): value must be text or a number", i,
        c.field)
    end
  end
  return list
end

-- total(m, record, ctx) -> currency, minor units | nil without `total`
function M.total(m, record, ctx)
  local has, currency, minor = call(m, "total", record, record, ctx)
  if not has then return nil end
  if type(currency) ~= "string" or not money.decimals(currency) then
    shape_error(m, "total", record, "must return a currency code first, got %s", kind_of(currency))
  end
  if math.type(minor) ~= "integer" then
    shape_error(m, "total", record, "must return integer minor units second, got %s",
      kind_of(minor))
  end
  return currency, minor
end

-- disambiguate(m, doc, attempt, record) -> doc with a new DisplayName | nil without it
function M.disambiguate(m, doc, attempt, record)
  local has, out = call(m, "disambiguate", record, doc, attempt)
  if not has then return nil end
  if type(out) ~= "table" then
    shape_error(m, "disambiguate", record, "returned %s, expected the document", type(out))
  end
  return out
end

return M
