local money = require "engine.money"
local d = money.decimals("USD")
local m = money.parse("29.35", d)
local t = money.format(m, d)
local parts = money.allocate(m, { 1, 2, 3 })
return t, parts, money.mul(m, "1.5", "half_even"), money.add(m, 1), money.sum({ m, m })
