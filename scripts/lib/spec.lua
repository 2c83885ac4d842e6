-- lib/spec.lua: the smallest test harness that works inside the sandbox, for the engine's own
-- script tier and for integrators testing their helpers with `tallysync run`.
--   local spec = require "lib.spec"
--   spec.case("name", function() assert(...) end)
--   spec.finish("my_spec")   -- prints "N passed, M failed"; raises when M > 0
local M = {}

local passed, failed = 0, 0

-- case(name, fn): run fn; a raise is a failure, printed with its message.
function M.case(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
  else
    failed = failed + 1
    print("FAIL " .. name .. ": " .. tostring(err))
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
