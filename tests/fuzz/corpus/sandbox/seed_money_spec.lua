-- money_spec.lua - script tier for engine.money, run by `tallysync run tests/lua/money_spec.lua`
-- in the real sandbox (no io). Prints "N passed, 0 failed" and raises when any case fails.
-- The WooCommerce values below are copied from tests/fixtures/woocommerce/ (order.json,
-- order-partially-refunded.json, order-prices-include-tax.json): strings are money, floats are
-- what the REST API really sends for line_items[].price.

local money = require "engine.money"

local spec = require "lib.spec"
local test = spec.case

local show, eq = spec.show, spec.eq

-- fn must raise; the message must contain `needle` (plain find), or when exact be exactly
-- "<chunk>:<line>: " .. needle (the caller's position, then the whole message).
local function raises(fn, needle, exact)
  local ok, err = pcall(fn)
  if ok then error("expected an error containing " .. show(needle), 2) end
  err = tostring(err)
  local where = exact and string.match(err, "^(.-:%d+: )") or ""
  if exact and err ~= where .. needle then
    error(string.format("error %s, want <position>: %s", show(err), show(needle)), 2)
  elseif not string.find(err, needle, 1, true) then
    error(string.format("error %s does not contain %s", show(err), show(needle)), 2)
  end
end

-- fn() must return nil, message with `needle` in the message.
local function fails(needle, v, msg)
  if v ~= nil then error("expected nil, message; got " .. show(v), 2) end
  if type(msg) ~= "string" or not string.find(msg, needle, 1, true) then
    error(string.format("message %s does not contain %s", show(msg), show(needle)), 2)
  end
end

-------------------------------------------------------------------------------------------------
-- parse

test("parse strings, exact by default", function()
  eq(money.parse("29.35"), 2935)
  eq(money.parse("-16.20"), -1620)
  eq(money.parse("0.9"), 90)
  eq(money.parse("  10.00\n"), 1000)
  eq(money.parse("29.350"), 2935, "extra zeros are exact")
  eq(money.parse("1000", 0), 1000)
  eq(money.parse("1.234", 3), 1234)
  eq(money.parse("92233720368547758.07"), math.maxinteger)
  eq(money.parse("-92233720368547758.08"), math.mininteger)
end)

test("parse rounding modes", function()
  fails("more than 2 decimal places", money.parse("0.352941"))
  eq(money.parse("0.352941", 2, "half_up"), 35)
  eq(money.parse("0.125", 2, "half_up"), 13)
  eq(money.parse("-0.125", 2, "half_up"), -13)
  eq(money.parse("0.125", 2, "half_even"), 12)
  eq(money.parse("0.135", 2, "half_even"), 14)
  eq(money.parse("2.5", 0, "half_even"), 2)
  eq(money.parse("0.125", 2, "exact"), nil)
end)

test("parse refuses what is not an amount, never a silent 0", function()
  local v, msg = money.parse("abc")
  fails("", v, msg)
  eq(msg, 'money: cannot parse "abc" as an amount')
  for _, bad in ipairs { "", " ", "1e3", "1,000", "--1", ".", "NaN", "inf", "0x10", "$5", "1 0",
                         "1\0", "92233720368547758.08" } do
    local r, m = money.parse(bad, 2, "half_up")
    fails("money: cannot parse", r, m)
  end
  fails("cannot parse nil", money.parse(nil))
  local json = require "engine.json"
  fails("cannot parse null", money.parse(json.null)) -- WooCommerce sends null for unset fields
  fails("cannot parse \"\"", money.parse(json.decode('{"total": ""}').total))
  local long = string.rep("9", 300)
  local _, m = money.parse(long)
  assert(#m < 200 and string.find(m, '"...', 1, true), "long input is quoted truncated: " .. m)
end)

test("parse integers are whole units", function()
  eq(money.parse(3), 300)
  eq(money.parse(-7, 0), -7)
  eq(money.parse(12, 3), 12000)
  fails("overflow", money.parse(math.maxinteger))
end)

test("parse floats only with a rounding mode", function()
  local v, msg = money.parse(10.799999999999999)
  fails("pass rounding \"half_up\" or \"half_even\"", v, msg)
  fails("half_up", money.parse(3.0, 2, "exact"))
  eq(money.parse(10.799999999999999, 2, "half_up"), 1080)
  eq(money.parse(10.799999999999999, 2, "half_even"), 1080)
  eq(money.parse(0.1 + 0.2, 2, "half_up"), 30)
  eq(money.parse(3.0, 2, "half_up"), 300)
  eq(money.parse(0.125, 2, "half_even"), 12)
  fails("NaN", money.parse(0 / 0, 2, "half_up"))
  fails("inf", money.parse(math.huge, 2, "half_up"))
  fails("out of range", money.parse(1e300, 2, "half_up"))
end)

test("parse argument bugs raise", function()
  raises(function() money.parse({}) end, "money.parse: argument 1 is a table, expected a string or a number", true)
  raises(function() money.parse() end, "argument 1 is missing")
  raises(function() money.parse("1", 2.5) end, "argument 2 (decimals) is a float")
  raises(function() money.parse("1", 19) end, "expected an integer 0..18")
  raises(function() money.parse("1", -1) end, "expected an integer 0..18")
  raises(function() money.parse("1", 2, "up") end,
         'argument 3 (rounding) must be "exact", "half_up" or "half_even"')
end)

-------------------------------------------------------------------------------------------------
-- format

test("format", function()
  eq(money.format(2935), "29.35")
  eq(money.format(-5), "-0.05")
  eq(money.format(0), "0.00")
  eq(money.format(100, 0), "100")
  eq(money.format(1234, 3), "1.234")
  eq(money.format(math.mininteger), "-92233720368547758.08")
  eq(money.format(math.maxinteger), "92233720368547758.07")
  eq(money.format(math.mininteger, 0), "-9223372036854775808")
  for _, s in ipairs { "0.01", "-0.01", "29.35", "-16.20", "1000000.00" } do
    eq(money.format(money.parse(s)), s, "round trip " .. s)
  end
end)

test("format refuses non-integers", function()
  raises(function() money.format(29.35) end,
         "money.format: argument 1 is a float, expected integer minor units", true)
  raises(function() money.format("2935") end, "argument 1 is a string")
  raises(function() money.format(1, 20) end, "0..18")
end)

-------------------------------------------------------------------------------------------------
-- arithmetic

test("add, sub, neg, sum", function()
  eq(money.add(600, 1200), 1800)
  eq(money.add(600, 1200, 1000, 135), 2935)
  eq(money.sub(2935, 135), 2800)
  eq(money.neg(1620), -1620)
  eq(money.sum({ 600, 1200, 1000 }), 2800)
  eq(money.sum({}), 0)
  eq(money.add(math.maxinteger, -1), math.maxinteger - 1)
end)

test("arithmetic refuses floats and overflow", function()
  raises(function() money.add(1, 2.0) end,
         "money.add: argument 2 is a float, expected integer minor units", true)
  raises(function() money.add(1) end, "money.add: argument 2 is missing")
  raises(function() money.add(1, 2, "3") end, "argument 3 is a string")
  raises(function() money.sub(0.5, 1) end, "money.sub: argument 1 is a float")
  raises(function() money.add(math.maxinteger, 1) end, "overflows 64-bit minor units")
  raises(function() money.add(1, 2, math.maxinteger) end, "at argument 3")
  raises(function() money.sub(math.mininteger, 1) end, "overflows")
  raises(function() money.neg(math.mininteger) end, "overflows")
  raises(function() money.sum({ 1, 2.5 }) end,
         "money.sum: element 2 of argument 1 is a float, expected integer minor units", true)
  raises(function() money.sum({ 1, nil, 3 }) end, "is missing")
  raises(function() money.sum({ math.maxinteger, 1 }) end, "overflows")
  raises(function() money.sum("12") end, "argument 1 is a string, expected a list")
end)

test("mul by integer and decimal quantities", function()
  eq(money.mul(1080, 3), 3240)
  eq(money.mul(1080, "1.5"), 1620)
  eq(money.mul(1080, "-2"), -2160)
  eq(money.mul(999, "0.333"), 333, "half_up by default")
  eq(money.mul(5, "0.5"), 3)
  eq(money.mul(5, "0.5", "half_even"), 2)
  fails("exact", money.mul(999, "0.333", "exact"))
  fails("cannot parse \"abc\" as a quantity", money.mul(100, "abc"))
  fails("overflows", money.mul(math.maxinteger, 2))
  raises(function() money.mul(1080, 1.5) end, "argument 2 is a float, expected an integer or a decimal string")
  raises(function() money.mul(10.8, 2) end, "money.mul: argument 1 is a float")
end)

-------------------------------------------------------------------------------------------------
-- allocate

local function same_list(got, want, what)
  eq(#got, #want, (what or "list") .. " length")
  for i = 1, #want do eq(got[i], want[i], (what or "list") .. "[" .. i .. "]") end
end

test("allocate known splits", function()
  same_list(money.allocate(100, { 1, 1, 1 }), { 34, 33, 33 })
  same_list(money.allocate(-100, { 1, 1, 1 }), { -34, -33, -33 })
  same_list(money.allocate(100, { 0, 1, 0, 1, 1 }), { 0, 34, 0, 33, 33 })
  same_list(money.allocate(10, { 1, 2, 4 }), { 1, 3, 6 })
  same_list(money.allocate(0, { 0, 0 }), { 0, 0 })
  same_list(money.allocate(0, {}), {})
  -- a 5.00 order discount over order 727's lines (6.00 and 12.00)
  same_list(money.allocate(500, { 600, 1200 }), { 167, 333 })
end)

test("allocate always sums exactly (fixed-seed property loop)", function()
  local seed = 12345
  local function rnd(n) -- small LCG, reproducible, integers only
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  end
  for _ = 1, 500 do
    local total = rnd(2000001) - 1000000
    local w, any = {}, false
    for i = 1, rnd(10) + 1 do
      w[i] = rnd(4) == 0 and 0 or rnd(100000)
      any = any or w[i] ~= 0
    end
    if not any then w[1] = 1 end
    local parts = money.allocate(total, w)
    eq(money.sum(parts), total, "sum of parts")
    for i = 1, #w do
      if w[i] == 0 then eq(parts[i], 0, "zero weight part") end
    end
  end
end)

test("allocate failures", function()
  fails("all zero", money.allocate(100, { 0, 0 }))
  fails("all zero", money.allocate(100, {}))
  fails("weight 2 is negative", money.allocate(100, { 1, -1 }))
  raises(function() money.allocate(100.0, { 1 }) end, "money.allocate: argument 1 is a float")
  raises(function() money.allocate(100, { 1, 0.5 }) end, "element 2 of argument 2 is a float")
  raises(function() money.allocate(100, 3) end, "argument 2 is an integer, expected a list")
end)

-------------------------------------------------------------------------------------------------
-- currencies

test("decimals per currency", function()
  eq(money.decimals("USD"), 2)
  eq(money.decimals("JPY"), 0)
  for _, c in ipairs { "KWD", "BHD", "OMR", "JOD", "TND", "LYD", "IQD" } do eq(money.decimals(c), 3, c) end
  eq(money.decimals("CLF"), 4)
  eq(money.decimals("AED"), 2)
  eq(money.decimals("ZZZ"), 2, "unknown but well-formed")
  fails("not an ISO 4217 currency code", money.decimals("usd"))
  fails("not an ISO 4217 currency code", money.decimals("US"))
  fails("NUL", money.decimals("USD\0"))
  fails("missing currency", money.decimals(nil))
  fails("missing currency", money.decimals(require("engine.json").null))
  raises(function() money.decimals(840) end, "argument 1 is an integer, expected a currency code")
  -- JPY amounts have no fraction
  eq(money.parse("1500", money.decimals("JPY")), 1500)
  fails("more than 0 decimal places", money.parse("1500.5", money.decimals("JPY")))
end)

-------------------------------------------------------------------------------------------------
-- WooCommerce reality

test("order 727 (order.json): lines + shipping + fees + tax = total", function()
  local order = {
    currency = "USD", total = "29.35", total_tax = "1.35", cart_tax = "1.35",
    shipping_total = "10.00", shipping_tax = "0.00", discount_total = "0.00", discount_tax = "0.00",
    line_items = {
      { quantity = 2, price = 3, subtotal = "6.00", subtotal_tax = "0.45", total = "6.00",
        total_tax = "0.45", taxes = { { total = "0.45", subtotal = "0.45" } } },
      { quantity = 1, price = 12, subtotal = "12.00", subtotal_tax = "0.90", total = "12.00",
        total_tax = "0.90", taxes = { { total = "0.9", subtotal = "0.9" } } },
    },
    tax_lines = { { tax_total = "1.35", shipping_tax_total = "0.00" } },
    shipping_lines = { { total = "10.00", total_tax = "0.00" } },
    fee_lines = {},
  }
  local dec = money.decimals(order.currency)
  local function m(s) return assert(money.parse(s, dec)) end

  local lines, line_tax = {}, {}
  for i, li in ipairs(order.line_items) do
    lines[i] = m(li.total)
    line_tax[i] = m(li.total_tax)
    -- unit price x quantity reproduces the line subtotal (price is a JSON number)
    eq(money.mul(assert(money.parse(li.price, dec, "half_up")), li.quantity), m(li.subtotal))
    -- per-rate tax entries ("0.9") are unrounded strings: round them, then they match
    local t = 0
    for _, tx in ipairs(li.taxes) do t = money.add(t, assert(money.parse(tx.total, dec, "half_up"))) end
    eq(t, line_tax[i], "line " .. i .. " taxes")
  end
  local ship, ship_tax, fees, fee_tax = {}, {}, {}, {}
  for i, s in ipairs(order.shipping_lines) do ship[i], ship_tax[i] = m(s.total), m(s.total_tax) end
  for i, f in ipairs(order.fee_lines) do fees[i], fee_tax[i] = m(f.total), m(f.total_tax) end

  eq(money.sum(ship), m(order.shipping_total), "shipping_total")
  eq(money.add(money.sum(line_tax), money.sum(ship_tax), money.sum(fee_tax)), m(order.total_tax),
     "total_tax")
  local tax_lines = {}
  for i, tl in ipairs(order.tax_lines) do tax_lines[i] = money.add(m(tl.tax_total), m(tl.shipping_tax_total)) end
  eq(money.sum(tax_lines), m(order.total_tax), "tax_lines")
  eq(money.sum(line_tax), m(order.cart_tax), "cart_tax")

  local computed = money.add(money.sum(lines), money.sum(ship), money.sum(fees), m(order.total_tax))
  eq(computed, m(order.total), "lines + shipping + fees + tax")
  eq(money.format(computed, dec), "29.35")
end)

test("order 1013 (partially refunded): float prices and negative refunds", function()
  local lines = { -- quantity, price (JSON float), total
    { 1, 13.5, "13.50" }, { 2, 13.5, "27.00" }, { 3, 10.799999999999999, "32.40" },
    { 4, 13.5, "54.00" }, { 5, 8.1, "40.50" }, { 6, 8.1, "48.60" }, { 7, 1.8, "12.60" },
    { 8, 2.7, "21.60" },
  }
  local totals = {}
  for i, l in ipairs(lines) do
    local qty, price, total = l[1], l[2], l[3]
    fails("half_up", money.parse(price)) -- a float is never silently taken as money
    local unit = assert(money.parse(price, 2, "half_up"))
    totals[i] = assert(money.parse(total))
    eq(money.mul(unit, qty), totals[i], "line " .. i)
  end
  local total = money.add(money.sum(totals), assert(money.parse("54.25")), assert(money.parse("0.00")))
  eq(total, assert(money.parse("304.45")), "lines + shipping + tax")
  local refunds = { assert(money.parse("-16.20")), assert(money.parse("-8.10")) }
  eq(money.format(money.add(total, money.sum(refunds))), "280.15", "net after refunds")
  -- the same line through the real JSON decoder: price arrives as a float, quantity as an integer
  local li = require("engine.json").decode('{"quantity":3,"price":10.799999999999999,"total":"32.40"}')
  eq(math.type(li.price), "float")
  eq(money.mul(assert(money.parse(li.price, 2, "half_up")), li.quantity), assert(money.parse(li.total)))
  -- the float way is not money: 6 x 8.1 is 48.599999999999994, not 48.6
  assert(lines[6][1] * lines[6][2] ~= 48.6)
end)

test("prices include tax: unrounded per-rate tax still reconciles", function()
  -- order-prices-include-tax.json: price 17.647059 (float), taxes[].total "0.352941"
  local unit = assert(money.parse(17.647059, 2, "half_up"))
  eq(unit, 1765)
  eq(money.mul(unit, 1), assert(money.parse("17.65")))
  fails("more than 2 decimal places", money.parse("0.352941"))
  local line_tax = assert(money.parse("0.352941", 2, "half_up"))
  eq(line_tax, assert(money.parse("0.35")))
  local ship_tax = assert(money.parse("0.3"))
  local total_tax = money.add(line_tax, ship_tax)
  eq(total_tax, assert(money.parse("0.65")))
  eq(money.add(assert(money.parse("17.65")), assert(money.parse("15.00")), total_tax),
     assert(money.parse("33.30")))
end)

-------------------------------------------------------------------------------------------------

spec.finish("money_spec")
