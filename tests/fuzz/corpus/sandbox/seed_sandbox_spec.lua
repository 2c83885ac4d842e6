-- sandbox_spec.lua: what a script can and cannot reach, from inside the sandbox.
-- Includes the escape routes of Redis' Lua sandbox history (issues #1725, #2854): reaching
-- the real string table through string metatables, bytecode, and globals shared between runs.
local spec = require "lib.spec"
local case = spec.case
local function raises(fn, pattern)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error")
  if pattern then assert(tostring(err):find(pattern), "unexpected error: " .. tostring(err)) end
end

case("dangerous globals are absent", function()
  for _, name in ipairs { "io", "debug", "package", "load", "loadstring", "dofile", "loadfile",
                          "rawset", "coroutine", "_G", "module", "newproxy", "setfenv", "getfenv" } do
    assert(_ENV[name] == nil, name .. " is reachable")
  end
end)

case("os has only time, clock and date", function()
  local names = {}
  for k in pairs(os) do names[#names + 1] = k end
  table.sort(names)
  assert(table.concat(names, ",") == "clock,date,time", table.concat(names, ","))
  assert(type(os.time()) == "number")
end)

case("string.dump is gone and string metatable is hidden", function()
  assert(string.dump == nil)
  assert(getmetatable("") == false)
  raises(function() getmetatable("").__index.rep = nil end)
end)

case("shared tables are read-only", function()
  raises(function() string.rep = nil end, "read%-only")
  raises(function() table.concat = nil end, "read%-only")
  raises(function() math.huge = 1 end, "read%-only")
  raises(function() os.date = nil end, "read%-only")
  raises(function() setmetatable(string, nil) end, "protected")
  assert(getmetatable(string) == false)
end)

case("engine modules are read-only", function()
  local json = require "engine.json"
  raises(function() json.decode = function() end end, "read%-only")
  assert(require "engine.json" == json, "modules are cached")
end)

case("globals a script sets stay in its own environment", function()
  leaked_global = 1
  assert(_ENV.leaked_global == 1)
  local m = require "lib.mapping"
  assert(m.leaked_global == nil)
end)

case("collectgarbage only counts", function()
  assert(type(collectgarbage("count")) == "number")
  raises(function() collectgarbage("collect") end, "count")
  raises(function() collectgarbage("stop") end, "count")
end)

case("require resolves only engine modules and script folders", function()
  for _, name in ipairs { "os", "io", "debug", "../x", "/etc/passwd", "lib..mapping",
                          ".hidden", "engine.io", "cjson" } do
    raises(function() require(name) end, "not found")
  end
  assert(type(require "lib.mapping") == "table")
end)

case("binary chunks cannot be produced or loaded", function()
  assert(load == nil and string.dump == nil)
end)

case("errors carry file and line", function()
  local ok, err = pcall(error, "boom")
  assert(not ok and err == "boom")
  local ok2, err2 = pcall(function() local t = nil; return t.x end)
  assert(not ok2 and tostring(err2):find("sandbox_spec.lua:%d+:"), err2)
end)

spec.finish("sandbox_spec")
