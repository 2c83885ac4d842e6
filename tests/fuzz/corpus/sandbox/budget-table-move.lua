local t = setmetatable({}, {__index = rawlen, __newindex = rawequal})
table.move(t, 1, math.maxinteger, 1, t)
