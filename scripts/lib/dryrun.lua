-- lib/dryrun.lua: the Lua half of `tallysync dry-run`. C reads the files and prints; this
-- parses the input (one document, a JSON array, or NDJSON), runs the mapping on each record
-- and encodes what would be sent. Nothing here writes anywhere.
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

-- prepare(name, config_text) -> state table for map_one.
function M.prepare(name, config_text)
  local m = mapping.load(name)
  local config, err = mapping.config(config_text)
  if config == nil then error("--config: " .. err, 0) end
  return { mapping = m, ctx = mapping.context(config, { dry_run = true }) }
end

-- map_one(state, record, i, pretty) -> encoded output; raises "record i (id x): cause".
function M.map_one(state, record, i, pretty)
  local ok, out = pcall(mapping.apply, state.mapping, record, state.ctx)
  if not ok then
    error(("%s: %s"):format(M.describe(record, i), tostring(out)), 0)
  end
  local ok2, text = pcall(json.encode, out, { pretty = pretty })
  if not ok2 then
    error(("%s: the mapping's output cannot be encoded: %s"):format(M.describe(record, i),
      tostring(text)), 0)
  end
  return text
end

return M
