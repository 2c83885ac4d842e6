-- trace_spec.lua - script tier for engine.trace's lineage: traced copies of script modules
-- (separate from the normal ones, cached, computing the same), what a session records for a
-- helper's writes (file:line of the writer and its callers), and that nothing is recorded
-- outside a session. Run by `tallysync run tests/lua/trace_spec.lua` in the real sandbox.
local json = require "engine.json"
local trace = require "engine.trace"
local doc = require "lib.qbo_doc"

local spec = require "lib.spec"
local test, eq = spec.case, spec.eq

local function raises(fn, needle)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error containing " .. needle)
  assert(tostring(err):find(needle, 1, true), ("error %q does not contain %q"):format(
    tostring(err), needle))
end

test("trace.require: a copy of its own, cached, computing the same", function()
  local tdoc = trace.require("lib.qbo_doc")
  assert(tdoc ~= doc, "the traced copy is not the normal module")
  assert(trace.require("lib.qbo_doc") == tdoc, "cached per state")
  eq(json.encode(tdoc.address({ address_1 = "1 Main", city = "X" })),
    json.encode(doc.address({ address_1 = "1 Main", city = "X" })), "same result")
  assert(trace.require("engine.json") == json, "engine modules are the normal ones")
  raises(function() trace.require("lib.no_such_module") end,
    "module 'lib.no_such_module' not found (looked for scripts/lib/no_such_module.lua)")
  raises(function() trace.require("../etc/passwd") end, "not found")
end)

test("a session records where each field was written and the calls that led there", function()
  local tdoc = trace.require("lib.qbo_doc")
  local origins = trace.begin()
  local a = tdoc.address({ address_1 = "1 Main", city = "X" })
  local line = tdoc.sales_line(tdoc.who("m", "order 1"), { field = "line_items[1]",
    item_ref = "7", qty = 2, amount = 1000, decimals = 2 })
  trace.finish()
  local e = origins[a].Line1
  assert(e.where:match("^scripts/lib/qbo_doc%.lua:%d+$"), "the writer: " .. e.where)
  assert(e.via[1]:match("^scripts/lib/qbo_doc%.lua:%d+$"), "put(), called by address()")
  assert(e.via[2]:match("trace_spec%.lua:%d+$"), "then this file: " .. tostring(e.via[2]))
  eq(e.via[3], "(through a C function)", "spec.case's pcall ends the chain, saying so")
  eq(#e.via, 3, "nothing beyond")
  assert(origins[a].City.via[1] ~= e.via[1], "each put() call has its own line")
  local d = origins[line.SalesItemLineDetail]
  eq(d.Qty.where, d.ItemRef.where, "one constructor line for the detail's items")
  assert(origins[line].Amount.where ~= origins[line].DetailType.where,
    "the line's items have their own lines")
end)

test("outside a session nothing is recorded, and traced writes behave as plain ones", function()
  local tdoc = trace.require("lib.qbo_doc")
  local origins = trace.begin()
  trace.finish()
  local a = tdoc.address({ city = "Y" })
  eq(origins[a], nil, "not recorded after finish")
  eq(a.City, "Y", "written")
  trace.begin()
  local ok, err = pcall(tdoc.fail, tdoc.who("m", "order 1"), "line_items[2].total", "bad")
  trace.finish()
  assert(not ok and err == "m: order 1: $.line_items[1].total: bad", tostring(err))
end)

test("trace.rewrite refuses what it cannot follow, naming the line", function()
  local text, line = trace.rewrite("local a = 1\nlocal s = 'open")
  eq(text, nil, "refused")
  eq(line, 2, "the line")
  eq(trace.rewrite("t.x = {}"), "__lineage_s(t, 1).x = __lineage_c({}, 1)", "rewritten")
end)

spec.finish("trace_spec")
