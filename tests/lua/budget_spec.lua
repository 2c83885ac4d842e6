-- budget_spec.lua: the sandbox's budget-honouring library (engine/lua/vm_bounded.c) from inside,
-- within the default budget: it gives stock Lua's answers, refuses __gc, and linear work on
-- 1 MB of text completes (the escapes themselves, which end the call, are in
-- tests/unit/lua/test_vm_budget.c and tests/integration/budget_escapes.sh).
local spec = require "lib.spec"
local case = spec.case

case("setmetatable refuses a __gc metatable and nothing else", function()
  local ok, err = pcall(setmetatable, {}, { __gc = function() end })
  assert(not ok and tostring(err):find("__gc is not allowed", 1, true), err)
  ok, err = pcall(setmetatable, {}, { __gc = false })
  assert(not ok, "a __gc of false is refused too")
  local t = setmetatable({}, { __index = function(_, k) return k * 2 end })
  assert(t[21] == 42)
  assert(setmetatable(t, nil) == t and getmetatable(t) == nil)
  local mt = { __metatable = "locked" }
  setmetatable(t, mt)
  ok = pcall(setmetatable, t, {})
  assert(not ok, "a protected metatable stays protected")
end)

case("xpcall keeps its results and its handler", function()
  local a, b, c = xpcall(function(x, y) return x + y, "k" end, print, 2, 3)
  assert(a == true and b == 5 and c == "k")
  local ok, msg = xpcall(error, function(m) return "handled: " .. m end, "boom", 0)
  assert(ok == false and msg == "handled: boom", msg)
  assert(not pcall(xpcall, function() end), "a missing handler is an error")
end)

case("string.rep of nothing is nothing, at once", function()
  assert(string.rep("", math.maxinteger) == "")
  assert(string.rep("", math.maxinteger, "") == "")
  assert(("ab"):rep(3, "-") == "ab-ab-ab")
  assert(("x"):rep(0) == "" and ("x"):rep(-1) == "")
  assert(not pcall(string.rep, "x", 1 << 40), "too large is an error")
end)

case("patterns answer as stock Lua", function()
  assert(("  trim me  "):match("^%s*(.-)%s*$") == "trim me")
  assert(select(2, ("hello world"):gsub("o", "0")) == 2)
  assert(("abc"):gsub("", "-") == "-a-b-c-")
  assert(("THE (quick) fox"):find("%((%a+)%)") == 5)
  assert(("f(a(b)c)d"):match("%b()") == "(a(b)c)")
  assert(("THE (quick) fox"):gsub("%f[%a]%a+", string.lower) == "the (quick) fox")
  local words = {}
  for k, v in ("a=1,b=2"):gmatch("(%w)=(%w)") do words[#words + 1] = k .. v end
  assert(table.concat(words, ",") == "a1,b2")
  assert(("aaa"):match("()a()") == 1)
  assert(not pcall(string.match, "x", "%"), "malformed pattern is an error")
  assert(not pcall(string.rep), "arguments are checked")
end)

case("table functions answer as stock Lua", function()
  local t = { 5, 1, 4 }
  table.sort(t)
  assert(table.concat(t, ",") == "1,4,5")
  table.sort(t, function(a, b) return a > b end)
  assert(table.concat(t) == "541")
  table.insert(t, 1, 9)
  table.insert(t, 0)
  assert(table.concat(t) == "95410")
  assert(table.remove(t, 1) == 9 and table.remove(t) == 0 and table.concat(t) == "541")
  assert(table.concat(table.move({ 1, 2, 3 }, 1, 3, 2), "") == "1123")
  assert(not pcall(table.insert, t, 9, 1), "position out of bounds")
end)

case("linear work on 1 MB completes within the budget", function()
  local parts = {}
  for i = 1, 130000 do parts[#parts + 1] = ("word%d "):format(i % 997) end
  local text = table.concat(parts)
  assert(#text > 1000000)
  local _, n = text:gsub("%s+", " ")
  assert(n == 130000)
  local count = 0
  for _ in text:gmatch("%a+%d*") do count = count + 1 end
  assert(count == 130000)
  assert(text:find("%d%d%d%d") == nil)
  assert(#(("   " .. text .. "   "):match("^%s*(.-)%s*$")) == #text - 1)
end)

spec.finish("budget_spec")
