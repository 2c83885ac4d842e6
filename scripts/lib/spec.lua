-- lib/spec.lua: the smallest test harness that works inside the sandbox, for the engine's own
-- script tier and for integrators testing their helpers with `tallysync run`.
--   local spec = require "lib.spec"
--   spec.case("name", function() assert(...) end)
--   spec.finish("my_spec")   -- prints "N passed, M failed"; raises when M > 0
local M = {}

local passed, failed = 0, 0

-- case(name, fn): run fn; prints "ok   name", or "FAIL name: message" when it raises (the
-- integration scripts that drive connector tests count these lines).
function M.case(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
    print("ok   " .. name)
  else
    failed = failed + 1
    print("FAIL " .. name .. ": " .. tostring(err))
  end
end

-- show(v): a value as a test message shows it (floats marked, strings quoted).
function M.show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if math.type(v) == "float" then return string.format("%.17g (float)", v) end
  return tostring(v)
end

-- eq(got, want, what): equal value AND equal number subtype (700 is not 700.0 here).
function M.eq(got, want, what)
  if got ~= want or math.type(got) ~= math.type(want) then
    error(string.format("%s: got %s, want %s", what or "value", M.show(got), M.show(want)), 2)
  end
end

-- finish(label): the closing line test runners read, and a non-zero exit on failure.
function M.finish(label)
  print(("%d passed, %d failed"):format(passed, failed))
  if failed > 0 then
    error(("%s: %d of %d cases failed"):format(label or "spec", failed, passed + failed), 0)
  end
end

return M
