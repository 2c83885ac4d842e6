-- bench/patterns_1mb.lua - linear-ish pattern and table work on ~1 MB of text, timed with
-- os.clock (best of 5). Runs under `tallysync run` (the sandbox's budget-honouring library) and
-- under a plain Lua 5.4 state (bench/budget_escapes.sh builds one) so the two can be compared.
-- Prints "name<TAB>ms" lines.
local parts = {}
for i = 1, 130000 do
  parts[#parts + 1] = ("word%d "):format(i % 997)
end
local text = table.concat(parts) -- about 1 MB (1.03 MB)
local padded = "   " .. text .. "   "

local function time(name, f)
  local best = math.huge
  for _ = 1, 5 do
    local t0 = os.clock()
    f()
    local ms = (os.clock() - t0) * 1000
    if ms < best then best = ms end
  end
  print(("%s\t%.2f"):format(name, best))
end

time("gsub('%s+', ' ') 1 MB", function() return text:gsub("%s+", " ") end)
time("gsub('(%a+)(%d+)', '%2%1') 1 MB", function() return text:gsub("(%a+)(%d+)", "%2%1") end)
time("gmatch('%a+%d*') count 1 MB", function()
  local n = 0
  for _ in text:gmatch("%a+%d*") do n = n + 1 end
  return n
end)
time("find('word996 zz', 1, true) absent 1 MB", function() return text:find("word996 zz", 1, true) end)
time("find('%d%d%d%d%d') absent 1 MB", function() return text:find("%d%d%d%d%d") end)
time("match('^%s*(.-)%s*$') trim 1 MB", function() return padded:match("^%s*(.-)%s*$") end)
time("rep('x', 2^20)", function() return ("x"):rep(1 << 20) end)
time("rep('ab', 2^19, ',')", function() return ("ab"):rep(1 << 19, ",") end)
time("table.concat 130k parts", function() return table.concat(parts) end)
time("table.sort 130k strings", function()
  local t = table.move(parts, 1, #parts, 1, {})
  table.sort(t)
end)
time("20 x table.insert/remove at 1 of 130k", function()
  local t = table.move(parts, 1, #parts, 1, {})
  for _ = 1, 20 do table.insert(t, 1, "x") end
  for _ = 1, 20 do table.remove(t, 1) end
end)
