-- lib/dryrun.lua: the driver of a dry run (`tallysync dry-run`, POST
-- /api/mappings/{name}/dry-run). C (flow/dryrun.c) reads the input as a stream, splits it into
-- records (one document, the elements of a JSON array, NDJSON lines) and prints; it calls these
-- through eng_vm_call, one call per record so each record has its own budget: prepare, then
-- map_text or explain_text with each record's JSON text, holding only the state as a reference.
-- Each call decodes its one record, runs the mapping and encodes what would be sent, or with
-- --explain where each output field came from; nothing of a record outlives its call.
-- Nothing here writes anywhere.
local json = require "engine.json"
local mapping = require "lib.mapping"

local M = {}

-- decode(text, i) -> the record of text; raises "record i: malformed JSON: cause". C has not
-- checked the text (but for one whole document): the decoder reads it with base/json_read, the
-- check's reader, and C reads a text that fails here again for the check's error line (the
-- record's input line, the reader's cause and byte), so this message must keep its prefix.
local function decode(text, i)
  local record, err = json.decode(text)
  if record == nil then
    error(("record %d: malformed JSON: %s"):format(i, tostring(err)), 0)
  end
  return record
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
  return { mapping = m, ctx = mapping.context(config, { dry_run = true }), memo = mapping.memo() }
end

local function run(state, record, i, opts)
  mapping.use_memo(state.memo) -- the mapping's facts, computed once for the whole dry run
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

-- map_text(state, text, i, pretty) -> the encoded output of record number i, whose JSON text
-- is text; raises "record i (id x): cause".
function M.map_text(state, text, i, pretty)
  local record = decode(text, i)
  local out = run(state, record, i)
  return encode(out, record, i, pretty)
end

---------------------------------------------------------------------------------------------------
-- explain

local function show(v)
  if v == nil then return "(absent)" end
  local ok, text = pcall(json.encode, v)
  if not ok then return tostring(v) end
  if #text > 120 then text = text:sub(1, 117) .. "..." end
  return text
end

-- why(f) -> the text line under a field: the rule and what it read, or the line that wrote
-- the field and the calls that led there.
local function why(f)
  local text
  if f.by == "rule" then
    text = ("rule %s"):format(f.rule)
    if f.from then text = text .. (", read %s = %s"):format(f.from, show(f.input)) end
  elseif f.by == "map" then
    text = f.line
    if f.via and #f.via > 0 then text = text .. ", called from " .. table.concat(f.via, " < ") end
  else
    text = "origin unknown (written by code explain cannot follow)"
  end
  if f.part_of then text = text .. (" (written whole, as %s)"):format(f.part_of) end
  return text
end

-- explain_text(state, text, i, as_json, pretty) -> text: for every output field of record
-- number i, whose JSON text is text (0-based JSONPath), the rule or the source line that wrote
-- it.
function M.explain_text(state, text, i, as_json, pretty)
  local record = decode(text, i)
  local doc, fields = run(state, record, i, { explain = true })
  local who = mapping.describe(state.mapping, record)
  if as_json then
    local list = {}
    for n, f in ipairs(fields) do
      local e = { path = f.path, value = f.value == nil and json.null or f.value, by = f.by }
      if f.rule then e.rule = f.rule end
      if f.from then
        e.from = f.from
        e.input = f.input == nil and json.null or f.input
      end
      if f.line then
        e.line = f.line
        e.via = json.array(f.via or {})
      end
      if f.part_of then e.part_of = f.part_of end
      list[n] = e
    end
    return encode({ record = i, describe = who, output = doc, fields = json.array(list) },
      record, i, pretty)
  end
  local lines = { ("%s: %s, %d field%s"):format(M.describe(record, i), who, #fields,
    #fields == 1 and "" or "s") }
  for _, f in ipairs(fields) do
    lines[#lines + 1] = ("  %s = %s"):format(f.path, show(f.value))
    lines[#lines + 1] = "      <- " .. why(f)
  end
  return table.concat(lines, "\n")
end

return M
