-- tests/fuzz/fuzz_mapping.lua - the Lua half of fuzz_mapping.c: validate a fuzzed `rules`
-- table as a mapping (lib.mapping.validate compiles it with lib.mapping_rules), then apply it,
-- explain it and trace its lineage over the fixture records, with a fuzzed transformer_config.
-- Returns a function(rules, records_json, config_text). Errors raised by the mapping library
-- are the expected answer to a bad rule (they are caught here); what must never happen is a
-- crash, a sanitizer report or a call that outlives its budget.
local json = require "engine.json"
local mapping = require "lib.mapping"

return function(rules, records_json, config_text)
  local m = { name = "fuzz", source = { connector = "woocommerce", entity = "orders" },
    target = { connector = "quickbooks", entity = "Invoice" }, key = "id", rules = rules }
  if not pcall(mapping.validate, m, "mappings/fuzz.lua") then return false end
  local config = mapping.config(config_text) or mapping.config(nil)
  local records = json.decode(records_json)
  for _, record in ipairs(records) do
    local ctx = mapping.context(config, { dry_run = true })
    local ok, doc = pcall(mapping.apply, m, record, ctx)
    if ok and type(doc) == "table" then pcall(json.encode, doc) end
    pcall(mapping.explain, m, record, ctx)
  end
  return true
end
