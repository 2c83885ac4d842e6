-- json_diff_spec.lua - script tier for lib/json_diff.lua (the console's field by field diff of two
-- documents: the impact of an edited mapping, a failing data test) and lib/impact.lua's
-- diff_docs over canonical JSON texts: JSONPath paths like explain's, arrays by index, exact
-- numbers (by value and kind), absent versus null, kind changes as one entry, the cap.
local json = require "engine.json"
local jdiff = require "lib.json_diff"
local impact = require "lib.impact"
local spec = require "lib.spec"
local test, eq = spec.case, spec.eq

local function d(a, b, max) return (jdiff.diff(json.decode(a), json.decode(b), max)) end

test("equal documents have no difference, whatever the key order", function()
  eq(#d('{"a":1,"b":{"c":[1,2,{"d":"x"}]}}', '{"b":{"c":[1,2,{"d":"x"}]},"a":1}'), 0)
  eq(#d('{}', '[]'), 0, "{} and [] decode alike")
  eq(#d('null', 'null'), 0)
end)

test("a changed leaf: its JSONPath, both values", function()
  local l = d('{"Line":[{"Amount":6},{"Amount":12}]}', '{"Line":[{"Amount":6},{"Amount":13}]}')
  eq(#l, 1)
  eq(l[1].path, "$.Line[1].Amount")
  eq(l[1].a, 12)
  eq(l[1].b, 13)
end)

test("money is exact: 6 and 6.0 differ, 10.1 and 10.10 do not, 0.1+0.2 is not 0.3", function()
  eq(#d('{"x":6}', '{"x":6.0}'), 1, "integer against float")
  eq(#d('{"x":10.1}', '{"x":10.10}'), 0, "the same number written twice")
  eq(#d('{"x":0.3}', '{"x":0.30000000000000004}'), 1)
  eq(#d('{"x":"10.00"}', '{"x":"10.0"}'), 1, "strings by bytes")
end)

test("absent, null and added fields", function()
  local l = d('{"a":1,"b":null}', '{"b":2,"c":3}')
  eq(#l, 3)
  eq(l[1].path, "$.a"); eq(l[1].a, 1); eq(l[1].b, nil)
  eq(l[2].path, "$.b"); eq(l[2].a, json.null); eq(l[2].b, 2)
  eq(l[3].path, "$.c"); eq(l[3].a, nil); eq(l[3].b, 3)
end)

test("arrays by index: a longer array lists what it adds", function()
  local l = d('[1,2]', '[1,2,3,4]')
  eq(#l, 2)
  eq(l[1].path, "$[2]"); eq(l[2].path, "$[3]"); eq(l[2].b, 4)
end)

test("a kind change is one entry at its path", function()
  local l = d('{"a":{"b":1}}', '{"a":[1]}')
  eq(#l, 1); eq(l[1].path, "$.a")
  l = d('{"a":{"b":1}}', '{"a":"x"}')
  eq(#l, 1); eq(l[1].b, "x")
end)

test("odd keys are bracketed as explain's paths are", function()
  local l = d('{"a b":1}', '{"a b":2}')
  eq(l[1].path, '$["a b"]')
end)

test("at most max entries, then truncated", function()
  local a, b = {}, {}
  for i = 1, 50 do a[i] = i; b[i] = -i end
  local l, cut = jdiff.diff(json.array(a), json.array(b), 10)
  eq(#l, 10); eq(cut, true)
  l, cut = jdiff.diff(json.array(a), json.array(b), 100)
  eq(#l, 50); eq(cut, false)
end)

test("diff_docs: named sides, an absent side has no member", function()
  local text, cut = impact.diff_docs('{"a":1,"b":2}', '{"b":3,"c":4}', 100)
  eq(cut, false)
  eq(text, '[{"current":1,"path":"$.a"},{"current":2,"path":"$.b","proposed":3},' ..
    '{"path":"$.c","proposed":4}]')
end)

spec.finish("json_diff_spec")
