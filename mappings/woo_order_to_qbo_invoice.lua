-- mappings/woo_order_to_qbo_invoice.lua: a WooCommerce order (wc/v3) -> a QuickBooks Online
-- Invoice create body. Pure Lua: no I/O, no clock; the same order and settings always give the
-- same invoice, byte for byte.
--
-- Decisions (each one is the rule a reviewer should hold this file to):
--
-- * Money is integer minor units from engine.money, at the order currency's ISO 4217 decimals,
--   parsed with rounding "exact": an amount with more digits than the currency has (or a float
--   that is not exactly a decimal of that many places) is an error naming the field, not a
--   silent rounding. Nothing is ever added as a float.
-- * Amounts leave as JSON numbers built from minor units (see `number_of`): a whole amount is a
--   Lua integer (6.00 -> 6, JPY 1500 -> 1500); otherwise minor / 10^decimals, which IEEE division
--   rounds to the double nearest the exact decimal, so a shortest-round-trip printer writes
--   exactly "29.35". Every such value is checked by encoding it with engine.json and comparing
--   with money.format's text; a mismatch (an encoder that prints 29.350000000000001, or an
--   amount beyond 2^53 minor units) is an error, never a wrong number.
-- * Lines: one SalesItemLineDetail per line item, fee line and shipping line, in that order.
--   Amount = the WooCommerce `total` (after coupons, before tax). So coupons are already inside
--   the line amounts: no DiscountLineDetail is added (it would discount twice); the coupon codes
--   and amounts go to PrivateNote.
-- * Qty and UnitPrice: UnitPrice = total / qty. When that is not a whole number of minor units
--   (10.00 over 3), UnitPrice carries the fewest extra decimals (up to 5 in all, QuickBooks'
--   "10.5" number format) for which Qty x UnitPrice rounds to the line's Amount (3.333 x 3 =
--   9.999 -> 10.00; 1.00 over 8 is exactly 0.125 and needs no note), and PrivateNote says so.
--   Amount is never changed to fit a price. Qty is an integer, or for a fractional quantity the
--   shortest decimal that reads back as WooCommerce's number, sent as a JSON number.
-- * Tax: TxnTaxDetail.TotalTax = the order's total_tax. WooCommerce line totals exclude tax even
--   when prices_include_tax is true, so the lines are net and the invariant below holds in both
--   cases. A line with WooCommerce taxes gets TaxCodeRef from tax_code_mappings (keyed by the
--   tax rate id, e.g. "75", or by the tax line's rate_code, e.g. "US-CA-STATE TAX"), else
--   default_tax_code_id; with neither, no TaxCodeRef (the company's default applies). Rates on
--   one line that map to two different codes are an error (QuickBooks takes one code a line).
-- * Invariant, checked before returning: sum(Line[].Amount) + TotalTax == order total, in minor
--   units. An order whose own numbers do not add up (a hand-edited mock) raises an error that
--   names the order, both totals and the difference: a wrong invoice is never emitted.
-- * Refunds are not on the invoice (they become credit memos / refund receipts); PrivateNote
--   lists them so the invoice is not mistaken for the net amount.
-- * DocNumber = order number when it fits QuickBooks' 21 characters; a longer one becomes its
--   last 8 characters, "-", and the first 12 hex digits of sha256(number): 21 characters,
--   deterministic, and distinct for distinct numbers (48 bits of hash). The full number stays
--   in PrivateNote ("WooCommerce order #...").
-- * Dates: TxnDate = the date part of date_created (site-local, the shop's business date;
--   date_created_gmt when absent); DueDate = TxnDate + default_payment_terms_days, in pure
--   integer civil-date arithmetic (no os.time, no local zone).
-- * Errors are raised as error(msg, 0) with "order <number>: <field>: <cause>".
local money = require "engine.money"
local json = require "engine.json"
local crypto = require "engine.crypto"

local NAME = "woo_order_to_qbo_invoice"

local DOCNUMBER_MAX = 21
local DESCRIPTION_MAX = 4000
local PRIVATE_NOTE_MAX = 4000
local ADDR_LINE_MAX = 500
local POSTAL_CODE_MAX = 30
local EMAIL_MAX = 100
local CUSTOM_FIELDS_MAX = 3
local TAXABLE_LINES_MAX = 750
local UNIT_PRICE_MAX_DECIMALS = 5
local EXACT_FLOAT_LIMIT = 1 << 53 -- integers up to here are exact doubles

---------------------------------------------------------------------------------------------------
-- small helpers

local function fail(label, field, fmt, ...)
  local msg = select("#", ...) > 0 and fmt:format(...) or fmt
  if field then
    error(("order %s: %s: %s"):format(label, field, msg), 0)
  end
  error(("order %s: %s"):format(label, msg), 0)
end

local function is_null(v)
  return v == nil or v == json.null
end

-- Text of a scalar field (strings trimmed; integral numbers without ".0"); nil when absent,
-- null or empty.
local function text(v)
  if is_null(v) then return nil end
  local t = type(v)
  if t == "string" then
    local s = v:match("^%s*(.-)%s*$")
    return s ~= "" and s or nil
  elseif t == "number" then
    local i = math.tointeger(v)
    if i then return tostring(i) end
    return nil
  elseif t == "boolean" then
    return tostring(v)
  end
  return nil
end

-- A list field: absent/null -> {}, a table -> itself; anything else is an error.
local function list(label, order, field)
  local v = order[field]
  if is_null(v) then return {} end
  if type(v) ~= "table" then
    fail(label, field, "expected a list, got %s", type(v))
  end
  return v
end

local function object(v)
  if type(v) == "table" then return v end
  return {}
end

-- Length in characters (UTF-8 code points; bytes when the text is not valid UTF-8).
local function ulen(s)
  return utf8.len(s) or #s
end

-- First n characters of s.
local function uhead(s, n)
  if ulen(s) <= n then return s end
  if utf8.len(s) then
    return s:sub(1, utf8.offset(s, n + 1) - 1)
  end
  return s:sub(1, n)
end

-- Last n characters of s.
local function utail(s, n)
  local len = ulen(s)
  if len <= n then return s end
  if utf8.len(s) then
    return s:sub(utf8.offset(s, len - n + 1))
  end
  return s:sub(-n)
end

-- WooCommerce names carry HTML entities ("Ship Your Idea &ndash; Color: Black"); an invoice
-- shows text. Named entities outside this table are left as they are.
local ENTITIES = {
  amp = "&", lt = "<", gt = ">", quot = '"', apos = "'", nbsp = "\u{A0}", ndash = "\u{2013}",
  mdash = "\u{2014}", times = "\u{D7}", hellip = "\u{2026}", lsquo = "\u{2018}",
  rsquo = "\u{2019}", ldquo = "\u{201C}", rdquo = "\u{201D}", euro = "\u{20AC}", pound = "\u{A3}",
  copy = "\u{A9}", reg = "\u{AE}", trade = "\u{2122}", deg = "\u{B0}",
}

local function decode_entities(s)
  return (s:gsub("&(#?[xX]?)(%w+);", function(kind, body)
    local cp
    if kind == "#" then
      cp = tonumber(body, 10)
    elseif kind == "#x" or kind == "#X" then
      cp = tonumber(body, 16)
    elseif kind == "" then
      return ENTITIES[body]
    end
    if cp and math.type(cp) == "integer" and cp > 0 and cp <= 0x10FFFF
        and not (cp >= 0xD800 and cp <= 0xDFFF) then
      return utf8.char(cp)
    end
    return nil
  end))
end

---------------------------------------------------------------------------------------------------
-- exact integer arithmetic for unit prices

local function pow10(n)
  local p = 1
  for _ = 1, n do p = p * 10 end
  return p
end

-- a * b, or nil when it would not fit in 64 bits.
local function mul_checked(a, b)
  if a == 0 or b == 0 then return 0 end
  local r = a * b
  if r // b ~= a or (a == -1 and b == math.mininteger) or (b == -1 and a == math.mininteger) then
    return nil
  end
  return r
end

-- n / d rounded half to even (d > 0).
local function div_half_even(n, d)
  local q, r = n // d, n % d -- floor division: 0 <= r < d
  if 2 * r > d or (2 * r == d and q % 2 ~= 0) then q = q + 1 end
  return q
end

---------------------------------------------------------------------------------------------------
-- numbers as JSON

-- Decimal text of minor units at `scale` places with trailing zeros dropped: 2930 -> "29.3".
local function decimal_text(minor, scale)
  local s = money.format(minor, scale)
  if scale > 0 then s = s:gsub("0+$", ""):gsub("%.$", "") end
  return s
end

-- "1e-05" -> "0.00001", "1.5e+20" -> "150000000000000000000"; other text unchanged.
local function plain_decimal(s)
  local sign, ip, fp, e = s:match("^(%-?)(%d+)%.?(%d*)[eE]([+-]?%d+)$")
  if not sign then return s end
  local digits, point = ip .. fp, #ip + math.tointeger(tonumber(e))
  if point <= 0 then
    digits, point = string.rep("0", 1 - point) .. digits, 1
  elseif point > #digits then
    digits = digits .. string.rep("0", point - #digits)
  end
  local int, frac = digits:sub(1, point):gsub("^0+(%d)", "%1"), digits:sub(point + 1):gsub("0+$", "")
  return sign .. int .. (frac ~= "" and "." .. frac or "")
end

-- The JSON number for minor units at `scale` places: an integer when whole, else the double
-- nearest the decimal, which must encode as exactly that decimal (exponent form allowed: a unit
-- price 0.00001 is written 1e-05, which JSON readers take as the same decimal).
local function number_of(label, field, minor, scale)
  local unit = pow10(scale)
  if minor % unit == 0 then return minor // unit end
  if minor > EXACT_FLOAT_LIMIT or minor < -EXACT_FLOAT_LIMIT then
    fail(label, field, "%s has too many digits to send as an exact JSON number",
      money.format(minor, scale))
  end
  local f = minor / unit
  local want = decimal_text(minor, scale)
  local got = json.encode(f)
  if plain_decimal(got) ~= want then
    fail(label, field, "engine.json writes %s as %s; refusing to send an inexact amount", want,
      tostring(got))
  end
  return f
end

---------------------------------------------------------------------------------------------------
-- money fields

-- Minor units of a money field (a decimal string, or a JSON number that is exactly such a
-- decimal). Raises naming the field.
local function amount(label, field, v, decimals)
  if is_null(v) or v == "" then
    fail(label, field, "missing amount")
  end
  local t = type(v)
  if t == "string" or math.type(v) == "integer" then
    local m, err = money.parse(v, decimals, "exact")
    if m == nil then fail(label, field, "%s", err) end
    return m
  elseif math.type(v) == "float" then
    -- Accept a float only when it is the double nearest a decimal with `decimals` places.
    local m, err = money.parse(v, decimals, "half_even")
    if m == nil then fail(label, field, "%s", err) end
    if m / pow10(decimals) ~= v then
      fail(label, field, "the float %.17g is not an amount with %d decimals", v, decimals)
    end
    return m
  end
  fail(label, field, "expected an amount, got %s", t)
end

-- Like amount, but absent/null/"" means zero.
local function amount_or_zero(label, field, v, decimals)
  if is_null(v) or v == "" then return 0 end
  return amount(label, field, v, decimals)
end

-- A quantity as (Q, s) meaning Q / 10^s, plus its JSON number. Integers are the normal case;
-- a fractional quantity (a plugin's 1.5 kg) is taken as the shortest decimal that reads back
-- as the same double.
local function quantity(label, field, v)
  if math.type(v) == "integer" then return v, 0, v end
  local s
  if math.type(v) == "float" then
    if v ~= v or v == math.huge or v == -math.huge then
      fail(label, field, "quantity is not a finite number")
    end
    local i = math.tointeger(v)
    if i then return i, 0, i end
    for p = 1, 17 do
      local c = string.format("%." .. p .. "g", v)
      if tonumber(c) == v then s = c break end
    end
  elseif type(v) == "string" and v:match("%S") then
    s = v:match("^%s*(.-)%s*$")
  else
    fail(label, field, "missing quantity")
  end
  local sign, ip, fp = (s or ""):match("^([+-]?)(%d*)%.?(%d*)$")
  if sign == nil or ip .. fp == "" then
    fail(label, field, "%s is not a decimal quantity", tostring(v))
  end
  fp = fp:gsub("0+$", "")
  if #ip + #fp > 15 then
    fail(label, field, "quantity %s has too many digits", s)
  end
  local q = math.tointeger(tonumber((ip == "" and "0" or ip) .. fp))
  if sign == "-" then q = -q end
  return q, #fp, number_of(label, field, q, #fp)
end

---------------------------------------------------------------------------------------------------
-- dates

-- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function days_in_month(y, m)
  if m == 2 then
    return (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28
  end
  return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

-- "2017-03-22T16:28:02" -> y, m, d (validated).
local function parse_date(label, field, v)
  local s = text(v)
  local y, m, d = (s or ""):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)")
  if not y then
    fail(label, field, "expected a date like 2017-03-22T16:28:02, got %s",
      s and ("%q"):format(s) or "nothing")
  end
  y, m, d = math.tointeger(tonumber(y)), math.tointeger(tonumber(m)), math.tointeger(tonumber(d))
  if m < 1 or m > 12 or d < 1 or d > days_in_month(y, m) then
    fail(label, field, "%q is not a calendar date", s)
  end
  return y, m, d
end

local function ymd(y, m, d)
  return ("%04d-%02d-%02d"):format(y, m, d)
end

---------------------------------------------------------------------------------------------------
-- parts of the invoice

-- DocNumber: the order number, shortened deterministically when QuickBooks' 21 are too few.
local function doc_number(number)
  if ulen(number) <= DOCNUMBER_MAX then return number end
  local hash = crypto.hex(crypto.sha256(number)):sub(1, 12)
  return utail(number, DOCNUMBER_MAX - 1 - #hash) .. "-" .. hash
end

local function address(a)
  a = object(a)
  local out, any = {}, false
  local function put(key, v, max)
    local s = text(v)
    if s then
      out[key] = uhead(s, max)
      any = true
    end
  end
  put("Line1", a.address_1, ADDR_LINE_MAX)
  put("Line2", a.address_2, ADDR_LINE_MAX)
  put("City", a.city, 255)
  put("CountrySubDivisionCode", a.state, 255)
  put("PostalCode", a.postcode, POSTAL_CODE_MAX)
  put("Country", a.country, 255)
  return any and out or nil
end

-- Follow a dotted path into the order; a segment that meets a list of {key, value} objects
-- (meta_data) picks the entry with that key. "meta:<key>" reads order.meta_data by key (the key
-- may contain dots).
local function meta_value(entries, key)
  if type(entries) ~= "table" then return nil end
  for _, entry in ipairs(entries) do
    if type(entry) == "table" and entry.key == key then return entry.value end
  end
  return nil
end

local function lookup(order, path)
  local meta = path:match("^meta:(.+)$")
  if meta then return meta_value(order.meta_data, meta) end
  local cur = order
  for seg in path:gmatch("[^%.]+") do
    if type(cur) ~= "table" then return nil end
    local nxt = cur[seg]
    if nxt == nil then
      local idx = math.tointeger(tonumber(seg))
      if idx then
        nxt = cur[idx]
      elseif cur[1] ~= nil then
        nxt = meta_value(cur, seg)
      end
    end
    cur = nxt
  end
  return cur
end

local function custom_fields(label, order, mappings)
  if is_null(mappings) then return nil end
  local n = #mappings
  if n > CUSTOM_FIELDS_MAX then
    fail(label, "transformer_config.custom_field_mappings",
      "%d entries; QuickBooks takes at most %d custom fields", n, CUSTOM_FIELDS_MAX)
  end
  local out, seen = {}, {}
  for i = 1, n do
    local field = ("transformer_config.custom_field_mappings[%d]"):format(i)
    local m = mappings[i]
    if type(m) ~= "table" then fail(label, field, "expected an object") end
    local source = text(m.source_field)
    local target = text(m.target_field)
    if not source then fail(label, field, "source_field is missing") end
    if not target or not target:match("^%d+$") then
      fail(label, field, "target_field must be the QuickBooks custom field DefinitionId " ..
        "(\"1\", \"2\" or \"3\"), got %s", target and ("%q"):format(target) or "nothing")
    end
    if seen[target] then
      fail(label, field, "DefinitionId %s is mapped twice", target)
    end
    seen[target] = true
    local value = text(lookup(order, source))
    if value then
      local cf = { DefinitionId = target, StringValue = value, Type = "StringType" }
      local name = text(m.name)
      if name then cf.Name = name end
      out[#out + 1] = cf
    end
  end
  return #out > 0 and json.array(out) or nil
end

-- TaxCodeRef value for a WooCommerce line with taxes[], or nil.
local function tax_code(label, field, taxes, rate_codes, config)
  if type(taxes) ~= "table" or #taxes == 0 then return nil end
  local mappings = object(config.tax_code_mappings)
  local default = text(config.default_tax_code_id)
  local code
  for i, t in ipairs(taxes) do
    local id = type(t) == "table" and text(t.id) or nil
    local mapped = id and mappings[id]
    if is_null(mapped) and id and rate_codes[id] then mapped = mappings[rate_codes[id]] end
    if not is_null(mapped) then
      local m = text(mapped)
      if not m then
        fail(label, "transformer_config.tax_code_mappings",
          "the entry for tax rate %s must be a QuickBooks TaxCode id string", id)
      end
      mapped = m
    else
      mapped = default
    end
    if mapped then
      if code and code ~= mapped then
        fail(label, ("%s.taxes[%d]"):format(field, i),
          "tax rates on this line map to two TaxCodes (%s and %s); QuickBooks takes one a line",
          code, mapped)
      end
      code = mapped
    end
  end
  return code
end

---------------------------------------------------------------------------------------------------
-- the mapping

local function map(order, ctx)
  if type(order) ~= "table" then
    error(("%s: the record is %s, expected a WooCommerce order object"):format(NAME, type(order)), 0)
  end
  local config = ctx.config or {}
  local number = text(order.number) or text(order.id)
  if not number then
    error(("%s: order without number or id"):format(NAME), 0)
  end
  local label = number

  -- currency and its decimals
  local currency = text(order.currency)
  if not currency then fail(label, "currency", "missing") end
  local decimals, derr = money.decimals(currency)
  if not decimals then fail(label, "currency", "%s", derr) end
  local function num(field, minor) return number_of(label, field, minor, decimals) end

  -- tax rate id -> rate_code, for tax_code_mappings keyed by rate code
  local rate_codes = {}
  for _, tl in ipairs(list(label, order, "tax_lines")) do
    if type(tl) == "table" then
      local id, code = text(tl.rate_id), text(tl.rate_code)
      if id and code then rate_codes[id] = code end
    end
  end

  local lines, notes, sum, taxed = {}, {}, 0, 0

  local function add_line(field, item_ref, description, qty_v, total_minor, taxes)
    local q, qscale, qty_json = quantity(label, field .. ".quantity", qty_v)
    local detail = { ItemRef = { value = item_ref }, Qty = qty_json }
    -- UnitPrice = total / qty, at the fewest decimals that keep Qty x UnitPrice == Amount.
    if q == 0 then
      if total_minor ~= 0 then
        fail(label, field, "quantity is 0 but total is %s", money.format(total_minor, decimals))
      end
      detail.UnitPrice = 0
    else
      local dq, nq = q < 0 and -q or q, q < 0 and -total_minor or total_minor
      local max_scale = math.max(decimals, UNIT_PRICE_MAX_DECIMALS)
      local price, pscale, fits
      for p = decimals, max_scale do
        -- price at p decimals = total * 10^k / Q with k = p - decimals + qscale, half to even;
        -- it fits when |price * Q - total * 10^k| < 10^k / 2, i.e. Qty x UnitPrice rounds to
        -- Amount under any rounding mode (diff 0: exactly equal).
        local k = p - decimals + qscale
        local scaled = mul_checked(nq, pow10(k))
        if scaled == nil then break end
        price, pscale = div_half_even(scaled, dq), p
        local back = mul_checked(price, dq)
        if back ~= nil then
          local diff = back - scaled
          if diff < 0 then diff = -diff end
          if diff == 0 then fits = "exact" break end
          if 2 * diff < pow10(k) then fits = "rounded" break end
        end
      end
      if price == nil then
        fail(label, field, "total %s is too large to price", money.format(total_minor, decimals))
      end
      if fits == "rounded" then
        notes[#notes + 1] = ("%s: UnitPrice %s is %s / %s rounded; Amount is exact"):format(
          field, money.format(price, pscale), money.format(total_minor, decimals),
          decimal_text(q, qscale))
      elseif fits == nil then
        notes[#notes + 1] = ("%s: no UnitPrice with %d decimals times %s gives %s; UnitPrice " ..
          "%s, Amount is exact"):format(field, pscale, decimal_text(q, qscale),
          money.format(total_minor, decimals), money.format(price, pscale))
      end
      detail.UnitPrice = number_of(label, field .. ".UnitPrice", price, pscale)
    end
    local code = tax_code(label, field, taxes, rate_codes, config)
    if code then
      detail.TaxCodeRef = { value = code }
    end
    if type(taxes) == "table" and #taxes > 0 then taxed = taxed + 1 end
    local line = {
      DetailType = "SalesItemLineDetail",
      Amount = num(field .. ".total", total_minor),
      SalesItemLineDetail = detail,
    }
    if description then line.Description = uhead(description, DESCRIPTION_MAX) end
    lines[#lines + 1] = line
    sum = money.add(sum, total_minor)
  end

  -- products
  for i, li in ipairs(list(label, order, "line_items")) do
    local field = ("line_items[%d]"):format(i)
    if type(li) ~= "table" then fail(label, field, "expected an object") end
    local total = amount(label, field .. ".total", li.total, decimals)
    local sku = text(li.sku)
    local product = text(li.product_id)
    local name = text(li.name)
    local key
    if sku then
      key = "sku:" .. sku
    elseif product and product ~= "0" then
      key = "product:" .. product
    elseif name then
      key = "name:" .. name -- a deleted product keeps only its name on old orders
    else
      fail(label, field, "no sku, product_id or name to find the QuickBooks item by")
    end
    add_line(field, ctx.ref("item", key), name and decode_entities(name), li.quantity, total,
      li.taxes)
  end

  -- fees (may be negative: a discount entered as a fee)
  for i, fee in ipairs(list(label, order, "fee_lines")) do
    local field = ("fee_lines[%d]"):format(i)
    if type(fee) ~= "table" then fail(label, field, "expected an object") end
    local total = amount(label, field .. ".total", fee.total, decimals)
    local name = text(fee.name) and decode_entities(text(fee.name)) or "Fee"
    add_line(field, ctx.ref("item", "fee:" .. name), name, 1, total, fee.taxes)
  end

  -- shipping
  local shipping_item = text(config.shipping_item_id) or "SHIPPING"
  for i, sl in ipairs(list(label, order, "shipping_lines")) do
    local field = ("shipping_lines[%d]"):format(i)
    if type(sl) ~= "table" then fail(label, field, "expected an object") end
    local total = amount(label, field .. ".total", sl.total, decimals)
    local title = text(sl.method_title)
    add_line(field, shipping_item, title and decode_entities(title) or "Shipping", 1, total,
      sl.taxes)
  end

  if #lines == 0 then
    fail(label, "line_items", "the order has no line items, fees or shipping lines")
  end
  if taxed > 0 and #lines > TAXABLE_LINES_MAX then
    fail(label, "line_items", "%d lines; QuickBooks takes at most %d on a taxable invoice",
      #lines, TAXABLE_LINES_MAX)
  end

  -- the invariant: lines + tax == order total, to the minor unit
  local total = amount(label, "total", order.total, decimals)
  local total_tax = amount_or_zero(label, "total_tax", order.total_tax, decimals)
  local invoice_total = money.add(sum, total_tax)
  if invoice_total ~= total then
    fail(label, nil, "does not reconcile: lines %s + tax %s = %s %s but the order total is %s " ..
      "%s (invoice - order = %s); refusing to emit an invoice that differs from the order",
      money.format(sum, decimals), money.format(total_tax, decimals),
      money.format(invoice_total, decimals), currency, money.format(total, decimals), currency,
      money.format(money.sub(invoice_total, total), decimals))
  end

  -- customer
  local billing = object(order.billing)
  local customer_id = text(order.customer_id)
  local email = text(billing.email)
  local customer_key
  if customer_id and customer_id ~= "0" then
    customer_key = customer_id
  elseif email then
    customer_key = email:lower()
  else
    fail(label, "customer_id", "guest order (customer_id 0) without billing.email: no customer " ..
      "to bill")
  end

  -- dates
  local date_field = is_null(order.date_created) and "date_created_gmt" or "date_created"
  local y, m, d = parse_date(label, date_field, order[date_field])
  local terms = config.default_payment_terms_days
  if is_null(terms) then terms = 30 end
  if math.type(terms) ~= "integer" or terms < 0 then
    fail(label, "transformer_config.default_payment_terms_days",
      "expected a non-negative integer, got %s", tostring(terms))
  end

  -- notes for the bookkeeper
  local head = { ("WooCommerce order #%s"):format(number) }
  local coupons = {}
  for i, c in ipairs(list(label, order, "coupon_lines")) do
    if type(c) == "table" then
      local code = text(c.code) or ("coupon %d"):format(i)
      local disc = amount_or_zero(label, ("coupon_lines[%d].discount"):format(i), c.discount,
        decimals)
      coupons[#coupons + 1] = ("%s (-%s)"):format(code, money.format(disc, decimals))
    end
  end
  if #coupons > 0 then
    head[#head + 1] = "Coupons (already in line amounts): " .. table.concat(coupons, ", ")
  end
  local refunds = {}
  for i, r in ipairs(list(label, order, "refunds")) do
    if type(r) == "table" then
      local amt = amount_or_zero(label, ("refunds[%d].total"):format(i), r.total, decimals)
      local s = ("#%s %s"):format(text(r.id) or "?", money.format(amt, decimals))
      local reason = text(r.reason)
      if reason then s = s .. " (" .. reason .. ")" end
      refunds[#refunds + 1] = s
    end
  end
  if #refunds > 0 then
    head[#head + 1] = "Refunded in WooCommerce, not on this invoice: " ..
      table.concat(refunds, ", ")
  end

  local invoice = {
    CustomerRef = { value = ctx.ref("customer", customer_key) },
    DocNumber = doc_number(number),
    TxnDate = ymd(y, m, d),
    DueDate = ymd(civil_from_days(days_from_civil(y, m, d) + terms)),
    CurrencyRef = { value = currency },
    Line = json.array(lines),
    TxnTaxDetail = { TotalTax = num("total_tax", total_tax) },
  }
  if email then
    if ulen(email) <= EMAIL_MAX and email:find("@", 1, true) and email:find(".", 1, true) then
      invoice.BillEmail = { Address = email }
    else
      head[#head + 1] = ("billing.email %q left out: not an address QuickBooks accepts"):format(
        uhead(email, 120))
    end
  end
  invoice.BillAddr = address(order.billing)
  invoice.ShipAddr = address(order.shipping)
  invoice.CustomField = custom_fields(label, order, config.custom_field_mappings)
  for _, n in ipairs(notes) do head[#head + 1] = n end
  invoice.PrivateNote = uhead(table.concat(head, "\n"), PRIVATE_NOTE_MAX)
  return invoice
end

return {
  name = NAME,
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "quickbooks", entity = "Invoice" },
  key = "id",
  needs = { { entity = "customer", from = "customer" }, { entity = "item", from = "line_items" } },
  map = map,
}
