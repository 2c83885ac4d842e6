-- json_spec.lua - script tier for engine.json, run by `tallysync run tests/lua/json_spec.lua` in the
-- real sandbox (no io). Prints "N passed, 0 failed" and raises when any case fails.
-- Pins every row of tests/fixtures/reference/lua-cjson-on-lua54.md (what Debian's lua-cjson 2.1.0 gets
-- wrong under Lua 5.4) plus the choices engine.json documents: integers beyond int64 decode as exact
-- digit strings, an unmarked empty table encodes as {}, an integral float encodes as "3.0",
-- invalid UTF-8 is refused both ways, object keys sort bytewise, array paths are 1-based.
-- ORDER_JSON is tests/fixtures/woocommerce/order.json verbatim; ORDER_CANONICAL is its
-- canonical form as produced independently by Python:
--   json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

local json = require "engine.json"

local spec = require "lib.spec"
local test = spec.case

local show, eq = spec.show, spec.eq

-- fn must raise with `needle` in the message (plain find).
local function raises(fn, needle)
  local ok, err = pcall(fn)
  if ok then error("expected an error containing " .. show(needle), 2) end
  if not string.find(tostring(err), needle, 1, true) then
    error(string.format("error %s does not contain %s", show(tostring(err)), show(needle)), 2)
  end
end

-- json.decode(text) must return nil, msg with msg exactly `want`.
local function bad(text, want)
  local v, msg = json.decode(text)
  if v ~= nil or msg ~= want then
    error(string.format("decode(%s): got %s, %s; want nil, %s", show(text), show(v), show(msg),
                        show(want)), 2)
  end
end

local function dec(text)
  local v, msg = json.decode(text)
  if v == nil then error("decode(" .. show(text) .. ") failed: " .. tostring(msg), 2) end
  return v
end

-- Canonical text survives decode -> encode unchanged.
local function same(text)
  local got = json.encode(dec(text))
  if got ~= text then error(string.format("round trip of %s gave %s", show(text), show(got)), 2) end
end

-------------------------------------------------------------------------------------------------
-- The rows of lua-cjson-on-lua54.md
-------------------------------------------------------------------------------------------------

test("row 1: decode('{\"id\":700}').id is the integer 700, tostring '700'", function()
  local id = dec('{"id":700}').id
  eq(id, 700)
  eq(math.type(id), "integer")
  eq(tostring(id), "700")
  eq("DocNumber " .. id, "DocNumber 700")
  eq(json.encode(dec('{"id":700}')), '{"id":700}')
end)

test("row 2: 9007199254740993 (2^53+1) keeps every digit", function()
  local v = dec("9007199254740993")
  eq(v, 9007199254740993)
  eq(tostring(v), "9007199254740993")
  eq(v - 1, 9007199254740992)
  eq(json.encode(v), "9007199254740993")
  eq(dec('{"id":-9007199254740993}').id, -9007199254740993)
end)

test("row 2: int64 limits are integers, beyond them exact digit strings", function()
  eq(dec("9223372036854775807"), math.maxinteger)
  eq(dec("-9223372036854775808"), math.mininteger)
  eq(dec("9223372036854775808"), "9223372036854775808")
  eq(dec("-9223372036854775809"), "-9223372036854775809")
  eq(dec("123456789012345678901234567890"), "123456789012345678901234567890")
  eq(dec('{"id":18446744073709551616}').id, "18446744073709551616")
  -- documented: such a value re-encodes as a string (its digits are kept, its type is not)
  eq(json.encode(dec("[18446744073709551616]")), '["18446744073709551616"]')
  eq(json.encode(math.maxinteger), "9223372036854775807")
  eq(json.encode(math.mininteger), "-9223372036854775808")
end)

test("row 3: integer tokens are integers, fraction/exponent tokens are floats", function()
  eq(dec("3"), 3)
  eq(dec("-3"), -3)
  eq(dec("0"), 0)
  eq(dec("-0"), 0)
  eq(dec("1e2"), 100.0)
  eq(dec("1E+2"), 100.0)
  eq(dec("2.5e-3"), 0.0025)
  eq(dec("1.5"), 1.5)
  eq(dec("3.0"), 3.0)
  eq(dec("-0.0"), -0.0)
  eq(1 / dec("-0.0"), -math.huge)
  eq(dec("1e-400"), 0.0) -- underflow reads as zero
  bad("1e400", "json: number out of range at byte 1")
  bad("[-1e400]", "json: number out of range at byte 2")
end)

test("row 4: [] and {} round-trip, marked by array_mt / object_mt", function()
  same("[]")
  same("{}")
  same('{"a":[],"b":{},"c":[[],{}],"d":[{}]}')
  eq(json.encode(dec("[ \n ]")), "[]")
  eq(json.encode(dec("{ \t }")), "{}")
  eq(getmetatable(dec("[]")), json.array_mt)
  eq(getmetatable(dec("{}")), json.object_mt)
  eq(getmetatable(dec("[1]")), json.array_mt)
  eq(getmetatable(dec('{"a":1}')), json.object_mt)
  eq(json.encode(json.array()), "[]")
  eq(json.encode(json.array({})), "[]")
  eq(json.encode(json.object()), "{}")
  eq(json.encode(setmetatable({}, json.array_mt)), "[]")
  eq(json.encode({}), "{}") -- documented: unmarked empty table is an object
  eq(json.encode({ lines = json.array() }), '{"lines":[]}')
end)

test("row 5: object keys are sorted bytewise, whatever the insertion order", function()
  eq(json.encode({ a = 1, b = 2, c = 3, d = 4 }), '{"a":1,"b":2,"c":3,"d":4}')
  local t1, t2 = {}, {}
  local keys = { "zeta", "alpha", "Beta", "_x", "", "aa", "a", "é", "Z", "10", "9" }
  for i = 1, #keys do t1[keys[i]] = i end
  for i = #keys, 1, -1 do t2[keys[i]] = i end
  local want = '{"":5,"10":10,"9":11,"Beta":3,"Z":9,"_x":4,"a":7,"aa":6,"alpha":2,"zeta":1,"é":8}'
  eq(json.encode(t1), want)
  eq(json.encode(t2), want)
  eq(json.encode({ b = { y = 1, x = 2 }, a = { { d = 1, c = 2 } } }),
     '{"a":[{"c":2,"d":1}],"b":{"x":2,"y":1}}')
  -- bytewise: a key that is a prefix sorts first; a NUL byte sorts before everything printable
  eq(json.encode({ ab = 1, a = 2, ["a\0"] = 3 }), '{"a":2,"a\\u0000":3,"ab":1}')
end)

test("row 6: sparse, mixed and odd-keyed tables raise, naming the path", function()
  raises(function() json.encode({ [1] = "a", [3] = "c" }) end, "json.encode: sparse array")
  raises(function() json.encode({ [1] = "a", [3] = "c" }) end, "at $")
  raises(function() json.encode({ Line = { { 1 }, { 2 }, { [1] = 1, [3] = 3 } } }) end,
         "json.encode: sparse array (integer keys are not exactly 1..n) at $.Line[3]")
  raises(function() json.encode({ [2] = "b" }) end, "sparse array")
  raises(function() json.encode({ [0] = "x" }) end, "sparse array")
  raises(function() json.encode({ [-1] = "x", [1] = "y" }) end, "sparse array")
  raises(function() json.encode({ 1, 2, nil, 4 }) end, "sparse array")
  raises(function() json.encode({ 1, a = 2 }) end, "json.encode: table mixes string and integer keys at $")
  raises(function() json.encode({ x = { [1.5] = 1 } }) end,
         "json.encode: table key is neither a string nor an integer at $.x")
  raises(function() json.encode({ [true] = 1 }) end, "neither a string nor an integer")
  raises(function() json.encode({ [{}] = 1 }) end, "neither a string nor an integer")
  raises(function() json.encode(json.array({ 1, a = 2 })) end,
         "json.encode: string key in a table marked as an array at $")
  raises(function() json.encode(json.array({ [2] = 1 })) end, "sparse array")
  raises(function() json.encode({ o = json.object({ 1 }) }) end,
         "json.encode: integer key in a table marked as an object at $.o")
  -- a float key with an integral value is an integer key in Lua
  eq(json.encode({ [1.0] = "a", [2] = "b" }), '["a","b"]')
end)

test("row 7: floats print in their shortest round-trip form", function()
  eq(json.encode(0.1 + 0.2), "0.30000000000000004")
  eq(dec(json.encode(0.1 + 0.2)), 0.1 + 0.2)
  eq(json.encode(0.1), "0.1")
  eq(json.encode(1 / 3), "0.3333333333333333")
  eq(json.encode(2 / 3), "0.6666666666666666")
  eq(json.encode(3.0), "3.0") -- documented: integral floats keep ".0" and decode back as floats
  eq(json.encode(-0.0), "-0.0")
  eq(json.encode(2.0 ^ 53), "9007199254740992.0")
  eq(json.encode(1e15), "1e+15")
  eq(json.encode(1e300), "1e+300")
  eq(json.encode(1.5e-7), "1.5e-07")
  eq(json.encode(123.456), "123.456")
  eq(json.encode(5e-324), "4.94065645841247e-324") -- 15 digits already read back exactly
  eq(json.encode(1.7976931348623157e308), "1.7976931348623157e+308")
  local samples = { 0.1, 0.2, 0.3, 1 / 3, 1e21, 1e-7, 123456.789, -2.5, 2 ^ 63, 2 ^ -1074,
                    math.pi, 29.35, 0.1 + 0.7, 1e15 + 0.3, 3.0, -0.0 }
  for _, x in ipairs(samples) do
    local back = dec(json.encode(x))
    eq(back, x, "round trip of " .. show(x))
  end
  eq(json.encode({ amount = 29.35 }), '{"amount":29.35}')
end)

test("row 8: NaN and infinities raise with the path", function()
  raises(function() json.encode(1 / 0) end, "json.encode: cannot encode NaN/inf at $")
  raises(function() json.encode(-1 / 0) end, "cannot encode NaN/inf")
  raises(function() json.encode(0 / 0) end, "cannot encode NaN/inf")
  raises(function() json.encode({ a = { b = { 1, 1 / 0 } } }) end,
         "json.encode: cannot encode NaN/inf at $.a.b[2]")
  raises(function() json.encode({ ["a b"] = { 0 / 0 } }) end,
         'json.encode: cannot encode NaN/inf at $["a b"][1]')
end)

test("row 9: '/' is not escaped on output; '\\/' is accepted on input", function()
  eq(json.encode("a/b"), '"a/b"')
  eq(json.encode({ href = "https://example.com/wp-json/wc/v3/orders" }),
     '{"href":"https://example.com/wp-json/wc/v3/orders"}')
  eq(dec('"a\\/b"'), "a/b")
  -- from woocommerce/order-wire-escaped-slashes.json (WordPress wire form)
  local o = dec([[{"customer_user_agent": "mozilla\/5.0 (macintosh; intel mac os x 10.13; rv:58.0) gecko\/20100101 firefox\/58.0",
    "_links": {"self": [{"href": "https:\/\/wordpress.com\/wp-json\/wc\/v2\/orders\/88"}]}}]])
  eq(o.customer_user_agent,
     "mozilla/5.0 (macintosh; intel mac os x 10.13; rv:58.0) gecko/20100101 firefox/58.0")
  eq(o._links.self[1].href, "https://wordpress.com/wp-json/wc/v2/orders/88")
end)

test("row 10: null is json.null and round-trips; nil is refused", function()
  eq(dec("null"), json.null)
  eq(dec("[null]")[1], json.null)
  eq(#dec("[null,null]"), 2)
  local o = dec('{"a":null,"b":1}')
  eq(o.a, json.null)
  eq(json.encode(o), '{"a":null,"b":1}')
  same('[1,null,{"x":null}]')
  eq(json.encode(json.null), "null")
  eq(tostring(json.null), "null")
  eq(type(json.null), "userdata")
  eq(getmetatable(json.null), "engine.json.null") -- hidden, so scripts cannot change it
  raises(function() setmetatable(json.null, {}) end, "")
  raises(function() json.encode(nil) end, "json.encode: cannot encode nil (JSON null is json.null) at $")
  raises(function() json.encode() end, "bad argument #1")
end)

test("row 11: no fork-only options; engine.json has its own marks", function()
  eq(json.encode_empty_table_as_object, nil)
  eq(json.empty_array, nil)
  eq(type(json.array_mt), "table")
  eq(type(json.object_mt), "table")
  eq(rawequal(json.canonical, json.encode), true)
end)

-------------------------------------------------------------------------------------------------
-- Strings and Unicode
-------------------------------------------------------------------------------------------------

test("unicode escapes, including surrogate pairs", function()
  eq(dec('"\\ud83d\\ude00"'), "\u{1F600}")
  eq(dec('"\\uD83D\\uDE00"'), "\xF0\x9F\x98\x80")
  eq(dec('"\\u00e9"'), "é")
  eq(dec('"\\u20AC"'), "€")
  eq(dec('"\\u0041\\u0000z"'), "A\0z")
  eq(dec('"\\u07ff\\u0800\\uffff"'), "\u{7FF}\u{800}\u{FFFF}")
  eq(dec('"\\udbff\\udfff"'), "\u{10FFFF}")
  eq(json.encode(dec('"\\ud83d\\ude00"')), '"\u{1F600}"') -- emitted as UTF-8, not re-escaped
  bad('"\\ud83d"', "json: invalid \\u escape (bad hex or unpaired surrogate) at byte 2")
  bad('"\\ude00"', "json: invalid \\u escape (bad hex or unpaired surrogate) at byte 2")
  bad('"ab\\ud83dx"', "json: invalid \\u escape (bad hex or unpaired surrogate) at byte 4")
  bad('"\\ud83d\\u0041"', "json: invalid \\u escape (bad hex or unpaired surrogate) at byte 2")
  bad('"\\u12G4"', "json: invalid \\u escape (bad hex or unpaired surrogate) at byte 2")
  bad('"\\u12"', "json: invalid \\u escape (bad hex or unpaired surrogate) at byte 2")
end)

test("non-ASCII UTF-8 passes through both ways", function()
  eq(json.encode("João"), '"João"')
  eq(dec('"João"'), "João")
  eq(dec('{"currency_symbol":"د.إ"}').currency_symbol, "د.إ")
  eq(json.encode({ ["ключ"] = "1 × 1 × 1 (in)" }), '{"ключ":"1 × 1 × 1 (in)"}')
  eq(json.encode("\u{10FFFF}\u{2028}"), '"\u{10FFFF}\u{2028}"')
end)

test("escapes: quote, backslash, control characters; DEL passes", function()
  eq(json.encode('say "hi"\\'), '"say \\"hi\\"\\\\"')
  eq(json.encode("\b\f\n\r\t"), '"\\b\\f\\n\\r\\t"')
  eq(json.encode("\0\1\31\127"), '"\\u0000\\u0001\\u001f\127"')
  eq(dec('"\\"\\\\\\/\\b\\f\\n\\r\\t"'), '"\\/\b\f\n\r\t')
  local all = {}
  for b = 0, 127 do all[#all + 1] = string.char(b) end
  all = table.concat(all)
  eq(dec(json.encode(all)), all)
  eq(json.encode({ ['k"\n'] = 1 }), '{"k\\"\\n":1}')
end)

test("strings holding brackets, quotes and escapes do not confuse the parser", function()
  local o = dec('{"a":"[]{}\\",:","b":["]","[","{","}"],"c":"\\\\","d":"\\\\\\""}')
  eq(o.a, '[]{}",:')
  eq(o.b[1], "]")
  eq(o.b[4], "}")
  eq(#o.b, 4)
  eq(o.c, "\\")
  eq(o.d, '\\"')
  same('{"a":"[]{}\\",:","b":["]","[","{","}"],"c":"\\\\"}')
  eq(dec('"[1,2]"'), "[1,2]")
  eq(dec('["x\\"]"]')[1], 'x"]')
end)

test("invalid UTF-8 is refused on decode and on encode", function()
  bad('"\xff"', "json: invalid UTF-8 in string at byte 2")
  bad('"ok\xc0\xaf"', "json: invalid UTF-8 in string at byte 4")      -- overlong '/'
  bad('"\xed\xa0\x80"', "json: invalid UTF-8 in string at byte 2")    -- encoded surrogate
  bad('"\xe2\x82"', "json: invalid UTF-8 in string at byte 2")        -- truncated
  bad('"\xf4\x90\x80\x80"', "json: invalid UTF-8 in string at byte 2") -- above U+10FFFF
  bad('"\x80"', "json: invalid UTF-8 in string at byte 2")            -- stray continuation
  bad("\xef\xbb\xbf{}", "json: unexpected byte 0xEF at byte 1")       -- a BOM is not JSON
  raises(function() json.encode({ s = "ab\xff" }) end, "json.encode: invalid UTF-8 in string at $.s")
  raises(function() json.encode({ ["\xff"] = 1 }) end, "invalid UTF-8 in string")
end)

-------------------------------------------------------------------------------------------------
-- Depth, cycles, sizes
-------------------------------------------------------------------------------------------------

test("decode nesting: 256 levels decode, 257 is an error, 100000 is not a crash", function()
  local ok = dec(string.rep("[", 256) .. string.rep("]", 256))
  eq(type(ok), "table")
  bad(string.rep("[", 257) .. string.rep("]", 257), "json: nesting deeper than 256 at byte 257")
  bad(string.rep("[", 100000), "json: nesting deeper than 256 at byte 257")
  bad(string.rep('{"a":', 300), "json: nesting deeper than 256 at byte 1281")
  local v = dec(string.rep('{"a":', 200) .. "1" .. string.rep("}", 200))
  for _ = 1, 200 do v = v.a end
  eq(v, 1)
end)

test("encode nesting: 256 levels encode, 257 raise", function()
  local root = json.array()
  local t = root
  for _ = 2, 256 do
    local c = json.array()
    t[1] = c
    t = c
  end
  eq(json.encode(root), string.rep("[", 256) .. string.rep("]", 256))
  t[1] = json.array()
  -- long paths keep their first and last 8 steps
  raises(function() json.encode(root) end,
         "json.encode: nesting deeper than 256 at $" .. string.rep("[1]", 8) .. "..." .. string.rep("[1]", 8))
end)

test("cycles raise naming the path; shared subtables are fine", function()
  local t = { a = { b = {} } }
  t.a.b.back = t
  raises(function() json.encode(t) end, "json.encode: cycle (a table contains itself) at $.a.b.back")
  local a = {}
  a[1] = a
  raises(function() json.encode(a) end, "cycle (a table contains itself) at $[1]")
  local shared = { x = 1 }
  eq(json.encode({ p = shared, q = shared, r = { shared } }), '{"p":{"x":1},"q":{"x":1},"r":[{"x":1}]}')
end)

test("large values grow the buffer correctly", function()
  local arr = json.array()
  for i = 1, 20000 do arr[i] = i end
  local s = json.encode(arr)
  eq(#s, #table.concat(arr, ",") + 2)
  local back = dec(s)
  eq(#back, 20000)
  eq(back[20000], 20000)
  local long = string.rep('ab"\n\\é', 50000)
  eq(dec(json.encode(long)), long)
  local obj = {}
  for i = 1, 5000 do obj["k" .. i] = { i, tostring(i) } end
  local enc = json.encode(obj)
  eq(json.encode(dec(enc)), enc)
  eq(dec(enc).k4999[2], "4999")
end)

-------------------------------------------------------------------------------------------------
-- Malformed input: data errors are returned, never raised
-------------------------------------------------------------------------------------------------

test("malformed input returns nil, 'json: <what> at byte N'", function()
  bad("", "json: unexpected end of input at byte 1")
  bad("   ", "json: unexpected end of input at byte 4")
  bad("[1,2", "json: unexpected end of input at byte 5")
  bad("[1,]", "json: unexpected character ']' at byte 4")
  bad("[,1]", "json: unexpected character ',' at byte 2")
  bad("[true false]", "json: expected ',' or ']' at byte 7")
  bad('{"a" 1}', "json: expected ':' at byte 6")
  bad("{a:1}", "json: expected a string key at byte 2")
  bad('{"a":1,}', "json: expected a string key at byte 8")
  bad('{"a":1 "b":2}', "json: expected ',' or '}' at byte 8")
  bad('{"a":1', "json: unexpected end of input at byte 7")
  bad("01", "json: invalid number (leading zero) at byte 1")
  bad("-01", "json: invalid number (leading zero) at byte 1")
  bad("1.", "json: invalid number at byte 1")
  bad("-", "json: invalid number at byte 1")
  bad("1e", "json: invalid number at byte 1")
  bad("1e+", "json: invalid number at byte 1")
  bad(".5", "json: unexpected character '.' at byte 1")
  bad("+1", "json: unexpected character '+' at byte 1")
  bad("0x10", "json: trailing characters after the value at byte 2")
  bad("NaN", "json: unexpected character 'N' at byte 1")
  bad("Infinity", "json: unexpected character 'I' at byte 1")
  bad("[-Infinity]", "json: invalid number at byte 2")
  bad("tru", "json: invalid literal (true, false or null) at byte 1")
  bad("[nul]", "json: invalid literal (true, false or null) at byte 2")
  bad("falsey", "json: trailing characters after the value at byte 6")
  bad("True", "json: unexpected character 'T' at byte 1")
  bad('"abc', "json: unterminated string at byte 1")
  bad('["ok", "abc]', "json: unterminated string at byte 8")
  bad('"a\\', "json: unterminated string at byte 1")
  bad('"\\x"', "json: invalid escape in string at byte 2")
  bad("\"a\nb\"", "json: unescaped control character in string at byte 3")
  bad("\"a\tb\"", "json: unescaped control character in string at byte 3")
  bad("1 2", "json: trailing characters after the value at byte 3")
  bad("{} x", "json: trailing characters after the value at byte 4")
  bad("// c\n1", "json: unexpected character '/' at byte 1")
  bad("['a']", "json: unexpected character ''' at byte 2")
  bad("[1]\0", "json: trailing characters after the value at byte 4")
  bad("\0", "json: unexpected byte 0x00 at byte 1")
  eq(dec(" \t\r\n 1 \n"), 1)
  eq(dec("true"), true)
  eq(dec("false"), false)
  eq(dec('"x"'), "x")
end)

test("a non-string argument to decode raises", function()
  raises(function() json.decode(123) end, "bad argument #1")
  raises(function() json.decode(123) end, "string expected")
  raises(function() json.decode(nil) end, "string expected")
  raises(function() json.decode() end, "string expected")
  raises(function() json.decode({}) end, "string expected")
end)

-------------------------------------------------------------------------------------------------
-- Encoder surface
-------------------------------------------------------------------------------------------------

test("scalars encode as themselves", function()
  eq(json.encode(true), "true")
  eq(json.encode(false), "false")
  eq(json.encode(42), "42")
  eq(json.encode(-7), "-7")
  eq(json.encode(0), "0")
  eq(json.encode("x"), '"x"')
  eq(json.encode(""), '""')
  eq(json.encode({ 1, "two", false, json.null, 2.5 }), '[1,"two",false,null,2.5]')
end)

test("functions and other unencodables raise with the path", function()
  raises(function() json.encode(print) end, "json.encode: cannot encode a function at $")
  raises(function() json.encode({ cb = { function() end } }) end, "cannot encode a function at $.cb[1]")
  -- (threads and foreign userdata: tests/unit/lua/test_json.c; the sandbox has no coroutine library)
end)

test("pretty: two-space indent, sorted, empty containers inline", function()
  local v = { b = json.array({ 1, { y = json.null, x = json.array() } }), a = {}, c = "s" }
  eq(json.encode(v, { pretty = true }), table.concat({
    "{",
    '  "a": {},',
    '  "b": [',
    "    1,",
    "    {",
    '      "x": [],',
    '      "y": null',
    "    }",
    "  ],",
    '  "c": "s"',
    "}",
  }, "\n"))
  eq(json.encode(5, { pretty = true }), "5")
  eq(json.encode(v, { pretty = false }), '{"a":{},"b":[1,{"x":[],"y":null}],"c":"s"}')
  eq(json.encode(dec(json.encode(v, { pretty = true }))), json.encode(v))
  raises(function() json.encode({}, { indent = 2 }) end, "unknown option")
  raises(function() json.encode({}, { pretty = 1 }) end, "'pretty' must be a boolean")
  raises(function() json.encode({}, "pretty") end, "bad argument #2")
end)

test("tables are read raw: foreign metatables and metamethods are ignored", function()
  local t = setmetatable({ a = 1 }, { __index = function() return 99 end,
                                      __pairs = function() error("not called") end })
  eq(json.encode(t), '{"a":1}')
  local proxy = setmetatable({}, { __index = { hidden = 1 } })
  eq(json.encode(proxy), "{}")
end)

test("json.array / json.object / json.is_array", function()
  local t = {}
  eq(json.array(t), t)
  eq(getmetatable(t), json.array_mt)
  eq(json.object(t), t) -- re-marking is allowed
  eq(json.encode(t), "{}")
  raises(function() json.array(setmetatable({}, {})) end, "table already has a metatable")
  raises(function() json.object(5) end, "bad argument #1")
  eq(json.is_array(dec("[]")), true)
  eq(json.is_array(dec("{}")), false)
  eq(json.is_array({ 1, 2 }), true)
  eq(json.is_array({}), false)
  eq(json.is_array({ a = 1 }), false)
  eq(json.is_array({ 1, nil, 3 }), false)
  eq(json.is_array(json.array()), true)
  eq(json.is_array("[]"), false)
  eq(json.is_array(json.null), false)
end)

test("array_mt and object_mt are locked against scripts", function()
  raises(function() json.array_mt.__index = {} end, "read-only")
  raises(function() json.object_mt.__newindex = print end, "read-only")
  eq(next(json.array_mt), nil)
  eq(next(json.object_mt), nil)
  eq(getmetatable(json.array_mt), "engine.json.array_mt")
  raises(function() setmetatable(json.array_mt, nil) end, "protected metatable")
end)

test("canonical form is stable: encode(decode(encode(v))) == encode(v)", function()
  local v = { z = { 1, 2.5, "x", json.null, true }, a = { b = { c = json.array() } },
              ["é"] = 0.1 + 0.2, n = -9007199254740993 }
  local once = json.canonical(v)
  eq(json.canonical(dec(once)), once)
  eq(once, '{"a":{"b":{"c":[]}},"n":-9007199254740993,"z":[1,2.5,"x",null,true],"é":0.30000000000000004}')
end)

-------------------------------------------------------------------------------------------------
-- A real WooCommerce order
-------------------------------------------------------------------------------------------------

local ORDER_JSON = [==[
{
  "id": 727,
  "parent_id": 0,
  "number": "727",
  "order_key": "wc_order_58d2d042d1d",
  "created_via": "rest-api",
  "version": "3.0.0",
  "status": "processing",
  "currency": "USD",
  "date_created": "2017-03-22T16:28:02",
  "date_created_gmt": "2017-03-22T19:28:02",
  "date_modified": "2017-03-22T16:28:08",
  "date_modified_gmt": "2017-03-22T19:28:08",
  "discount_total": "0.00",
  "discount_tax": "0.00",
  "shipping_total": "10.00",
  "shipping_tax": "0.00",
  "cart_tax": "1.35",
  "total": "29.35",
  "total_tax": "1.35",
  "prices_include_tax": false,
  "customer_id": 0,
  "customer_ip_address": "",
  "customer_user_agent": "",
  "customer_note": "",
  "billing": {
    "first_name": "John",
    "last_name": "Doe",
    "company": "",
    "address_1": "969 Market",
    "address_2": "",
    "city": "San Francisco",
    "state": "CA",
    "postcode": "94103",
    "country": "US",
    "email": "john.doe@example.com",
    "phone": "(555) 555-5555"
  },
  "shipping": {
    "first_name": "John",
    "last_name": "Doe",
    "company": "",
    "address_1": "969 Market",
    "address_2": "",
    "city": "San Francisco",
    "state": "CA",
    "postcode": "94103",
    "country": "US"
  },
  "payment_method": "bacs",
  "payment_method_title": "Direct Bank Transfer",
  "transaction_id": "",
  "date_paid": "2017-03-22T16:28:08",
  "date_paid_gmt": "2017-03-22T19:28:08",
  "date_completed": null,
  "date_completed_gmt": null,
  "cart_hash": "",
  "meta_data": [
    {
      "id": 13106,
      "key": "_download_permissions_granted",
      "value": "yes"
    }
  ],
  "line_items": [
    {
      "id": 315,
      "name": "Woo Single #1",
      "product_id": 93,
      "variation_id": 0,
      "quantity": 2,
      "tax_class": "",
      "subtotal": "6.00",
      "subtotal_tax": "0.45",
      "total": "6.00",
      "total_tax": "0.45",
      "taxes": [
        {
          "id": 75,
          "total": "0.45",
          "subtotal": "0.45"
        }
      ],
      "meta_data": [],
      "sku": "",
      "price": 3
    },
    {
      "id": 316,
      "name": "Ship Your Idea &ndash; Color: Black, Size: M Test",
      "product_id": 22,
      "variation_id": 23,
      "quantity": 1,
      "tax_class": "",
      "subtotal": "12.00",
      "subtotal_tax": "0.90",
      "total": "12.00",
      "total_tax": "0.90",
      "taxes": [
        {
          "id": 75,
          "total": "0.9",
          "subtotal": "0.9"
        }
      ],
      "meta_data": [
        {
          "id": 2095,
          "key": "pa_color",
          "value": "black"
        },
        {
          "id": 2096,
          "key": "size",
          "value": "M Test"
        }
      ],
      "sku": "Bar3",
      "price": 12
    }
  ],
  "tax_lines": [
    {
      "id": 318,
      "rate_code": "US-CA-STATE TAX",
      "rate_id": 75,
      "label": "State Tax",
      "compound": false,
      "tax_total": "1.35",
      "shipping_tax_total": "0.00",
      "meta_data": []
    }
  ],
  "shipping_lines": [
    {
      "id": 317,
      "method_title": "Flat Rate",
      "method_id": "flat_rate",
      "total": "10.00",
      "total_tax": "0.00",
      "taxes": [],
      "meta_data": []
    }
  ],
  "fee_lines": [],
  "coupon_lines": [],
  "refunds": [],
  "_links": {
    "self": [
      {
        "href": "https://example.com/wp-json/wc/v3/orders/727"
      }
    ],
    "collection": [
      {
        "href": "https://example.com/wp-json/wc/v3/orders"
      }
    ]
  }
}]==]

local ORDER_CANONICAL = [==[{"_links":{"collection":[{"href":"https://example.com/wp-json/wc/v3/orders"}],"self":[{"href":"https://example.com/wp-json/wc/v3/orders/727"}]},"billing":{"address_1":"969 Market","address_2":"","city":"San Francisco","company":"","country":"US","email":"john.doe@example.com","first_name":"John","last_name":"Doe","phone":"(555) 555-5555","postcode":"94103","state":"CA"},"cart_hash":"","cart_tax":"1.35","coupon_lines":[],"created_via":"rest-api","currency":"USD","customer_id":0,"customer_ip_address":"","customer_note":"","customer_user_agent":"","date_completed":null,"date_completed_gmt":null,"date_created":"2017-03-22T16:28:02","date_created_gmt":"2017-03-22T19:28:02","date_modified":"2017-03-22T16:28:08","date_modified_gmt":"2017-03-22T19:28:08","date_paid":"2017-03-22T16:28:08","date_paid_gmt":"2017-03-22T19:28:08","discount_tax":"0.00","discount_total":"0.00","fee_lines":[],"id":727,"line_items":[{"id":315,"meta_data":[],"name":"Woo Single #1","price":3,"product_id":93,"quantity":2,"sku":"","subtotal":"6.00","subtotal_tax":"0.45","tax_class":"","taxes":[{"id":75,"subtotal":"0.45","total":"0.45"}],"total":"6.00","total_tax":"0.45","variation_id":0},{"id":316,"meta_data":[{"id":2095,"key":"pa_color","value":"black"},{"id":2096,"key":"size","value":"M Test"}],"name":"Ship Your Idea &ndash; Color: Black, Size: M Test","price":12,"product_id":22,"quantity":1,"sku":"Bar3","subtotal":"12.00","subtotal_tax":"0.90","tax_class":"","taxes":[{"id":75,"subtotal":"0.9","total":"0.9"}],"total":"12.00","total_tax":"0.90","variation_id":23}],"meta_data":[{"id":13106,"key":"_download_permissions_granted","value":"yes"}],"number":"727","order_key":"wc_order_58d2d042d1d","parent_id":0,"payment_method":"bacs","payment_method_title":"Direct Bank Transfer","prices_include_tax":false,"refunds":[],"shipping":{"address_1":"969 Market","address_2":"","city":"San Francisco","company":"","country":"US","first_name":"John","last_name":"Doe","postcode":"94103","state":"CA"},"shipping_lines":[{"id":317,"meta_data":[],"method_id":"flat_rate","method_title":"Flat Rate","taxes":[],"total":"10.00","total_tax":"0.00"}],"shipping_tax":"0.00","shipping_total":"10.00","status":"processing","tax_lines":[{"compound":false,"id":318,"label":"State Tax","meta_data":[],"rate_code":"US-CA-STATE TAX","rate_id":75,"shipping_tax_total":"0.00","tax_total":"1.35"}],"total":"29.35","total_tax":"1.35","transaction_id":"","version":"3.0.0"}]==]

test("woocommerce order.json: ids are integers, money stays strings", function()
  local o = dec(ORDER_JSON)
  eq(o.id, 727)
  eq(tostring(o.id), "727")
  eq(o.number, "727")
  eq(o.parent_id, 0)
  eq(o.customer_id, 0)
  eq(o.total, "29.35")
  eq(o.total_tax, "1.35")
  eq(o.shipping_total, "10.00")
  eq(o.discount_total, "0.00")
  eq(o.prices_include_tax, false)
  eq(o.date_completed, json.null)
  eq(o.billing.email, "john.doe@example.com")
  eq(json.is_array(o.line_items), true)
  eq(#o.line_items, 2)
  local l1, l2 = o.line_items[1], o.line_items[2]
  eq(l1.id, 315)
  eq(l1.quantity, 2)
  eq(l1.price, 3)
  eq(l1.subtotal, "6.00")
  eq(l1.taxes[1].id, 75)
  eq(l1.taxes[1].total, "0.45")
  eq(json.is_array(l1.meta_data), true) -- "meta_data": [] stays an array
  eq(#l1.meta_data, 0)
  eq(l2.variation_id, 23)
  eq(l2.name, "Ship Your Idea &ndash; Color: Black, Size: M Test")
  eq(l2.meta_data[2].value, "M Test")
  eq(l2.taxes[1].total, "0.9")
  eq(o.meta_data[1].id, 13106)
  eq(o._links.self[1].href, "https://example.com/wp-json/wc/v3/orders/727")
end)

test("woocommerce order.json: canonical form matches an independent encoder", function()
  local o = dec(ORDER_JSON)
  eq(#ORDER_CANONICAL, 2432)
  eq(json.canonical(o), ORDER_CANONICAL)
  eq(json.canonical(dec(ORDER_CANONICAL)), ORDER_CANONICAL)
  eq(json.canonical(dec(json.encode(o, { pretty = true }))), ORDER_CANONICAL)
  local lines = json.encode(o.line_items[1].meta_data, { pretty = true })
  eq(lines, "[]")
end)

-------------------------------------------------------------------------------------------------

spec.finish("json_spec")
