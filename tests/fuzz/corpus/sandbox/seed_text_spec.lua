-- text_spec.lua - script tier for engine.text (issue 12, item 1): trim gives what Lua's
-- "^%s*(.-)%s*$" gave on ordinary text, and stays linear on the text a shopper can type, where
-- that pattern backtracks (100,000 spaces inside a line item's name held a worker ~200 s). The
-- large cases are correctness checks: with a quadratic trim they would not finish before the
-- test's timeout.

local text = require "engine.text"
local spec = require "lib.spec"
local case, eq = spec.case, spec.eq

local function pattern_trim(s) return (s:match("^%s*(.-)%s*$")) end

case("trim agrees with the pattern it replaces on ordinary text", function()
  local samples = { "", " ", "a", " a ", "\t\n\v\f\r a b \r\n", "a  b", "\0 a \0", " \0 ",
    "\194\160x\194\160", "caf\195\169 ", "x\n", "\n\n\n" }
  for _, s in ipairs(samples) do eq(text.trim(s), pattern_trim(s), ("%q"):format(s)) end
  for c = 0, 255 do
    local s = " " .. string.char(c) .. " "
    eq(text.trim(s), pattern_trim(s), "byte " .. c)
  end
end)

case("trim is linear on hostile text", function()
  local run = ("\f"):rep(500000)
  eq(text.trim(run), "", "only form feeds")
  local inside = "a" .. (" "):rep(500000) .. "b"
  eq(text.trim("  " .. inside .. "  "), inside, "a run of spaces between two letters")
  eq(#text.trim(("x "):rep(300000)), 599999, "many short runs")
end)

case("the libraries' text helpers use it (a shopper's name of 200,000 spaces)", function()
  local doc = require "lib.qbo_doc"
  local name = "Ann" .. (" "):rep(200000) .. "Lee"
  eq(doc.text("  " .. name .. "\n"), name, "qbo_doc.text")
  eq(doc.qbo_name("Ann" .. ("\f"):rep(200000) .. "Lee", 100), "Ann Lee", "qbo_doc.qbo_name")
  local rules = require "lib.mapping_rules"
  assert(rules, "mapping_rules loads")
end)

case("trim refuses what is not text", function()
  assert(not pcall(text.trim, nil), "nil")
  assert(not pcall(text.trim, {}), "a table")
  eq(text.trim(12), "12", "a number is text, as in string.match")
end)

spec.finish("text_spec")
