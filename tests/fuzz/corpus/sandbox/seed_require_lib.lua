local mapping = require "lib.mapping"
local rules = require "lib.mapping_rules"
local cfg = mapping.config('{"tax_code_mappings":{"1":"TAX"}}')
local m = mapping.validate({ name = "f", key = "id", rules = {
  { to = "DocNumber", from = "number", "trim", { "truncate", 5 } },
  { to = "Total", from = "total", "money" } } }, "mappings/f.lua")
return mapping.apply(m, { id = 1, number = " 727 ", total = "29.35", currency = "USD" },
  mapping.context(cfg, { dry_run = true })), rules.QBO_LIMITS
