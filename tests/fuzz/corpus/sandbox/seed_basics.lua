local json = require "engine.json"
local money = require "engine.money"
local t = {}
for i = 1, 100 do t[i] = ("%d:%s"):format(i, string.rep("ab", i % 7)) end
local s = table.concat(t, ",")
local doc = json.decode('{"a":[1,2.5,"x",null,{"b":true}]}')
assert(json.encode(doc))
local ok, err = pcall(error, { code = 1 })
setmetatable({}, { __gc = function() end })


for k, v in pairs(string) do local _ = k end
print(s:sub(1, 10), money.parse and money.parse("29.35", 2))
return s:gsub("%d+", function(d) return d .. d end)
