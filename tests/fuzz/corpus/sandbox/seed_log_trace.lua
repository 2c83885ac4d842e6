local log = require "engine.log"
log.info("fuzz", { a = 1, b = "two" })
log.warn("x")
local trace = require "engine.trace"
print(type(trace), select("#", 1, 2, 3))
return pcall(log.error, string.rep("y", 100))
