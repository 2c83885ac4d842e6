-- lib/impact.lua: the driver of the console's mapping editor (engine/flow/mapedit.c calls these
-- through eng_vm_call, one call per record or case so each has its own budget): a preview of
-- one record with its lineage, one record mapped for an impact comparison, the structural diff
-- of two documents, a data test case with a structured result, a case file's shape, and what a
-- mapping declares (source, target, default_for) for the list.
-- The mapping is whatever `require "mappings.NAME"` gives in the VM it runs in: the published
-- version in a worker's VM, the unsaved text in a candidate VM (lua/scripts.h). Every call runs
-- as a dry run (ctx.dry_run, refs as markers, the assumed company); nothing here writes.
local json = require "engine.json"
local mapping = require "lib.mapping"
local mapping_test = require "lib.mapping_test"
local jdiff = require "lib.json_diff"
local valid_utf8 = require "lib.utf8_valid" -- a message must always encode

local M = {}

local function null_if_nil(v)
  if v == nil then return json.null end
  return v
end


-- One line of an error, without the traceback.
local function message_of(e)
  local text = type(e) == "string" and e or tostring(e)
  return valid_utf8((text:gsub("\nstack traceback:.*$", "")))
end

-- The file and line an error names first ("mappings/x.lua:42: ..."), when it names one.
local function where_of(text)
  local file, line = text:match("^([%w_%./%-]+%.lua):(%d+): ")
  if file then return file, math.tointeger(tonumber(line)) end
  file = text:match("^([%w_%./%-]+%.lua): ")
  return file, nil
end

local function error_object(e)
  local text = message_of(e)
  local file, line = where_of(text)
  local o = json.object({ message = text })
  if file then o.file = file end
  if line then
    o.line = line
    o.at = ("%s:%d"):format(file, line)
  end
  return o
end

-- prepare(name, config_text, tenant) -> state for preview_one / run_one; raises
-- "transformer_config: ..." for settings the mapping contract refuses.
function M.prepare(name, config_text, tenant)
  local m = mapping.load(name)
  local config, err = mapping.config(config_text)
  if config == nil then error(err, 0) end
  return { mapping = m, memo = mapping.memo(),
    ctx = mapping.context(config, { dry_run = true, tenant = tenant }) }
end

-- preview(name, body_text, tenant_config_text, tenant) -> status, JSON text.
-- status "ok": {document, error, fields} (fields: explain's lineage, camel case); status
-- "invalid": the text is "field: why" (the request's record or config is not usable).
function M.preview(name, body_text, tenant_config_text, tenant)
  local body = json.decode(body_text)
  if type(body) ~= "table" or json.is_array(body) and next(body) ~= nil then
    return "invalid", "body: must be a JSON object"
  end
  local record = body.record
  if type(record) ~= "table" or json.is_array(record) and next(record) ~= nil then
    return "invalid", "record: must be a JSON object (the source record to map)"
  end
  local config = tenant_config_text
  if body.config ~= nil and body.config ~= json.null then config = body.config end
  local m = mapping.load(name)
  local cfg, cerr = mapping.config(config)
  if cfg == nil then return "invalid", "config: " .. cerr end
  local ctx = mapping.context(cfg, { dry_run = true, tenant = tenant })
  local ok, doc, fields = pcall(mapping.explain, m, record, ctx)
  local out = json.object({ document = json.null, error = json.null, fields = json.array({}) })
  if not ok then
    out.error = error_object(doc)
    return "ok", json.encode(out)
  end
  out.document = doc
  for i, f in ipairs(fields) do
    local e = json.object({ path = f.path, value = null_if_nil(f.value), by = f.by })
    if f.rule then e.rule = f.rule end
    if f.from then
      e.from = f.from
      e.input = null_if_nil(f.input)
    end
    if f.line then
      e.line = f.line
      e.via = json.array(f.via or {})
    end
    if f.part_of then e.partOf = f.part_of end
    out.fields[i] = e
  end
  local eok, text = pcall(json.encode, out)
  if eok then return "ok", text end
  out = json.object({ document = json.null, fields = json.array({}),
    error = error_object("the mapping's output cannot be encoded: " .. message_of(text)) })
  return "ok", json.encode(out)
end

-- run_one(state, record_text) -> ok, text: the document as canonical JSON, or the error (one
-- line, naming file:line and the record).
function M.run_one(state, record_text)
  mapping.use_memo(state.memo)
  local record = json.decode(record_text)
  if type(record) ~= "table" then return false, "the snapshot is not a JSON object" end
  local ok, doc = pcall(mapping.apply, state.mapping, record, state.ctx)
  if not ok then return false, message_of(doc) end
  local eok, text = pcall(json.encode, doc)
  if not eok then return false, "the mapping's output cannot be encoded: " .. message_of(text) end
  return true, text
end

-- diff_docs(current_text, proposed_text, max) -> JSON array [{path, current, proposed}], and
-- whether it was cut at max entries.
function M.diff_docs(current_text, proposed_text, max)
  local list, truncated = jdiff.diff(json.decode(current_text), json.decode(proposed_text), max)
  return json.encode(jdiff.entries(list, "current", "proposed")), truncated
end

---------------------------------------------------------------------------------------------------
-- data tests

local function given(v)
  if v == json.null then return nil end
  return v
end

-- The output of a case's input under the case's settings, refs and company (the context
-- lib.mapping_test builds), or nil, the error.
local function actual_of(name, case)
  local config = mapping.config(given(case.settings))
  if config == nil then return nil, "settings are not valid" end
  local ctx = mapping.context(config, { dry_run = true, refs = given(case.refs),
    company = given(case.company) })
  local ok, out = pcall(mapping.apply, mapping.load(name), case.input, ctx)
  if not ok then return nil, message_of(out) end
  return out
end

-- run_case(name, case_name, text) -> ok, JSON text {case, ok, message?, expected?, actual?,
-- diff?}.
-- The verdict is lib.mapping_test's (the one `tallysync test` and the registry give); a failing
-- case with "expected" also gets the output and the field by field difference.
function M.run_case(name, case_name, text)
  local out = json.object({ case = case_name })
  local ok, passed, report = pcall(mapping_test.run_case, name, text)
  if not ok then
    out.ok, out.message = false, message_of(passed)
    return false, json.encode(out)
  end
  out.ok = passed and true or false
  if passed then return true, json.encode(out) end
  out.message = report
  local case = json.decode(text)
  if type(case) == "table" and case.input ~= nil and case.expected ~= nil then
    out.expected = case.expected
    local aok, actual, aerr = pcall(actual_of, name, case)
    if aok and actual ~= nil then
      out.actual = actual
      local list = jdiff.diff(case.expected, actual, 200)
      out.diff = jdiff.entries(list, "expected", "actual")
    elseif aok then
      out.actualError = aerr
    end
  end
  return false, json.encode(out)
end

local CASE_KEYS = { input = true, settings = true, refs = true, expected = true,
  expected_error = true, error = true, description = true, company = true }

local function is_object(v)
  return type(v) == "table" and not (json.is_array(v) and next(v) ~= nil)
end

-- check_case(text) -> nil | "why": the shape lib.mapping_test reads (an object with "input",
-- and "expected" or "expected_error", no unknown key, settings the mapping contract accepts).
function M.check_case(text)
  local case, err = json.decode(text)
  if case == nil then return "malformed JSON: " .. tostring(err) end
  if not is_object(case) then return "a case is a JSON object" end
  for k in pairs(case) do
    if not CASE_KEYS[k] then
      return ("unknown key %q (input, settings, refs, company, expected, expected_error, " ..
        "description)"):format(tostring(k))
    end
  end
  if case.input == nil or not is_object(case.input) then
    return "\"input\" must be an object (the source record)"
  end
  local want_error = case.expected_error
  if want_error == nil then want_error = case.error end
  if (case.expected == nil) == (want_error == nil) then
    return "a case has exactly one of \"expected\" and \"expected_error\""
  end
  if want_error ~= nil and type(want_error) ~= "string" then
    return "\"expected_error\" must be a string (a text the error contains)"
  end
  if given(case.settings) ~= nil then
    local config, cerr = mapping.config(case.settings)
    if config == nil then return "settings: " .. cerr end
  end
  for _, k in ipairs({ "refs", "company" }) do
    if given(case[k]) ~= nil and not is_object(case[k]) then
      return ("%q must be an object"):format(k)
    end
  end
  if case.description ~= nil and type(case.description) ~= "string" then
    return "\"description\" must be a string"
  end
  return nil
end

---------------------------------------------------------------------------------------------------
-- the list

-- describe(name) -> JSON text {source, target, defaultFor} of the version this VM runs (nulls
-- when it does not load).
function M.describe(name)
  local ok, m = pcall(mapping.load, name)
  local out = json.object({ source = json.null, target = json.null, defaultFor = json.null })
  if not ok or type(m) ~= "table" then return json.encode(out) end
  for _, side in ipairs({ "source", "target" }) do
    local e = m[side]
    if type(e) == "table" then
      out[side] = json.object({ connector = e.connector, entity = e.entity })
    end
  end
  local d = m.default_for
  if type(d) == "string" then
    out.defaultFor = d
  elseif type(d) == "table" then
    local list = json.array({})
    for i, e in ipairs(d) do list[i] = e end
    out.defaultFor = list
  end
  return json.encode(out)
end

return M
