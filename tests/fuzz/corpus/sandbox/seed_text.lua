local text = require "engine.text"
local s = text.trim("  \t hello \f\n ")
local up = ("héllo"):upper()
local n = utf8.len("héllo")
for p, c in utf8.codes("añb") do local _ = p + c end
return s, up, n, ("a,b,,c"):gsub(",", ";"), ("x"):rep(10, "-")
