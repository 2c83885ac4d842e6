local mt = { __index = function(t, k) return k end, __len = function() return 3 end,
  __close = function() end, __eq = function() return true end, __concat = function() return "c" end }
local t = setmetatable({}, mt)
do local x <close> = t end
local s = table.concat({ "a", "b", "c" }, ",", 1, #t)
table.sort({ 3, 1, 2 }, function(a, b) return a < b end)
table.move({ 1, 2, 3 }, 1, 3, 2)
local ok = pcall(error, setmetatable({}, { __tostring = function() return "e" end }))
local r = { pcall(select, -1, 1, 2) }
return t.x, s, string.format("%q %5.2f %x", "a\n", 1.5, 255), string.pack("i4", 7)
