local json = require "engine.json"
local v = json.decode('{"a":[1,2.5,"\\u00e9",null,{"b":true}],"n":9223372036854775807}')
local s = json.encode(v)
local p = json.encode(v, { pretty = true })
assert(json.decode(s).a[2] == 2.5)
return json.is_array(v.a), json.null, #p
