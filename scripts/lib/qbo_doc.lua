-- lib/qbo_doc.lua: the pieces every mapping into QuickBooks Online shares: reading source text
-- and money exactly, writing exact JSON numbers, sales lines with Qty x UnitPrice == Amount,
-- tax codes, dates, addresses, DocNumber, custom fields, QuickBooks name rules and the
-- reconciliation of a document total with its source. Pure: no I/O, no clock, no float sums.
-- Must not: round an amount silently, or return a number that does not encode as its decimal.
--
-- Errors: every raise goes through M.fail(who, field, fmt, ...) with who = { mapping = "name",
-- record = "order 727" }, giving "name: order 727: field: cause" (error level 0).
local money = require "engine.money"
local trim = require("engine.text").trim -- linear; a "^%s*(.-)%s*$" pattern is quadratic
local json = require "engine.json"
local crypto = require "engine.crypto"

-- The hot path (a sales line per order line) reads these as locals: a module's globals and the
-- frozen modules' fields are each a metatable hop away.
local type, tostring, tonumber, select, error = type, tostring, tonumber, select, error
local mtype, tointeger, floor = math.type, math.tointeger, math.floor
local find, gsub = string.find, string.gsub
local ulen_raw = utf8.len
local NULL = json.null
local money_parse, money_format = money.parse, money.format

local M = {}

M.DOCNUMBER_MAX = 21
M.DESCRIPTION_MAX = 4000
local DESCRIPTION_MAX = M.DESCRIPTION_MAX
M.PRIVATE_NOTE_MAX = 4000
M.ADDR_LINE_MAX = 500
M.POSTAL_CODE_MAX = 30
M.EMAIL_MAX = 100
M.CUSTOM_FIELDS_MAX = 3
M.TAXABLE_LINES_MAX = 750
M.REF_NUM_MAX = 21 -- PaymentRefNum
local UNIT_PRICE_MAX_DECIMALS = 5 -- QuickBooks numbers are "10.5"
local EXACT_FLOAT_LIMIT = 1 << 53

---------------------------------------------------------------------------------------------------
-- errors and plain values

-- who(mapping, record_label) -> the table M.fail names.
function M.who(mapping, record) return { mapping = mapping, record = record } end

-- A source field's name in the one path convention of every message, 0-based JSONPath:
-- "line_items[1].total" -> "$.line_items[0].total". Settings (transformer_config.x), prose
-- (a label with a space) and a path already in JSONPath are kept.
function M.path(field)
  if field:find("^%$") or field:find("^transformer_config") or field:find(" ") then
    return field
  end
  return "$." .. field:gsub("%[(%d+)%]", function(n) return ("[%d]"):format(tonumber(n) - 1) end)
end

function M.fail(who, field, fmt, ...)
  local msg = select("#", ...) > 0 and fmt:format(...) or fmt
  local head = ("%s: %s"):format(who.mapping, who.record)
  if field then error(("%s: %s: %s"):format(head, M.path(field), msg), 0) end
  error(("%s: %s"):format(head, msg), 0)
end

local function is_null(v) return v == nil or v == NULL end
M.is_null = is_null

-- Text of a scalar (trimmed; integral numbers without ".0"); nil when absent, null or empty.
local function text(v)
  if v == nil or v == NULL then return nil end
  local t = type(v)
  if t == "string" then
    local s = trim(v)
    return s ~= "" and s or nil
  elseif t == "number" then
    local i = tointeger(v)
    return i and tostring(i) or nil
  elseif t == "boolean" then
    return tostring(v)
  end
  return nil
end
M.text = text

function M.object(v) return type(v) == "table" and v or {} end

-- A list field: absent/null -> {}, a table -> itself; anything else raises.
function M.list(who, rec, field)
  local v = rec[field]
  if v == nil or v == NULL then return {} end
  if type(v) ~= "table" then M.fail(who, field, "expected a list, got %s", type(v)) end
  return v
end

-- Characters (UTF-8 code points; bytes when the text is not valid UTF-8).
local function ulen(s) return ulen_raw(s) or #s end
M.ulen = ulen

local function uhead(s, n)
  if #s <= n or ulen(s) <= n then return s end
  if utf8.len(s) then return s:sub(1, utf8.offset(s, n + 1) - 1) end
  return s:sub(1, n)
end
M.uhead = uhead

function M.utail(s, n)
  local len = M.ulen(s)
  if len <= n then return s end
  if utf8.len(s) then return s:sub(utf8.offset(s, len - n + 1)) end
  return s:sub(-n)
end

-- WooCommerce names carry HTML entities ("Ship Your Idea &ndash; Color: Black").
local ENTITIES = {
  amp = "&", lt = "<", gt = ">", quot = '"', apos = "'", nbsp = "\u{A0}", ndash = "\u{2013}",
  mdash = "\u{2014}", times = "\u{D7}", hellip = "\u{2026}", lsquo = "\u{2018}",
  rsquo = "\u{2019}", ldquo = "\u{201C}", rdquo = "\u{201D}", euro = "\u{20AC}", pound = "\u{A3}",
  copy = "\u{A9}", reg = "\u{AE}", trade = "\u{2122}", deg = "\u{B0}",
}

function M.decode_entities(s)
  if not find(s, "&", 1, true) then return s end
  return (gsub(s, "&(#?[xX]?)(%w+);", function(kind, body)
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

-- Trimmed, entity-decoded text, or nil. Not cut: a Supabase column keeps what the shop sent;
-- QuickBooks fields are cut where they are set (qbo_name, uhead). Linear at any length: trim
-- is C, and the entity pattern's one repetition (%w+) stops at the first non-word byte.
function M.name_text(v)
  local s = text(v)
  return s and M.decode_entities(s) or nil
end

-- A QuickBooks name (DisplayName, Item Name): no ':' (sub-item separator), tab or newline,
-- single spaces, at most max characters. nil when nothing is left.
function M.qbo_name(s, max)
  if not s then return nil end
  -- one-class gsubs (linear at any length: a run of blanks collapses whole, so "Ann", 200,000
  -- form feeds, "Lee" is "Ann Lee"), then the cut to QuickBooks' max before the one pattern
  -- that backtracks ("%s+$": quadratic in a run of blanks, here at most max characters)
  s = trim((s:gsub("[:\t\r\n]", " "):gsub("%s%s+", " ")))
  if s == "" then return nil end
  return (M.uhead(s, max):gsub("%s+$", ""))
end

-- An address QuickBooks accepts (has "@" and ".", at most 100 characters), or nil.
function M.email(v)
  local s = M.text(v)
  if s and M.ulen(s) <= M.EMAIL_MAX and s:find("@", 1, true) and s:find(".", 1, true)
      and not s:find("%s") then
    return s
  end
  return nil
end

---------------------------------------------------------------------------------------------------
-- exact integer arithmetic

local POW10 = {}
do
  local p = 1
  for n = 0, 18 do POW10[n] = p p = p * 10 end
end

function M.pow10(n)
  local p = POW10[n]
  if p then return p end
  p = 1
  for _ = 1, n do p = p * 10 end
  return p
end
local pow10 = M.pow10

local function mul_checked(a, b)
  if a == 0 or b == 0 then return 0 end
  local r = a * b
  if r // b ~= a or (a == -1 and b == math.mininteger) or (b == -1 and a == math.mininteger) then
    return nil
  end
  return r
end

local function div_half_even(n, d)
  local q, r = n // d, n % d
  if 2 * r > d or (2 * r == d and q % 2 ~= 0) then q = q + 1 end
  return q
end

---------------------------------------------------------------------------------------------------
-- numbers as JSON

-- Decimal text of minor units at `scale` places, trailing zeros dropped: 2930 -> "29.3".
function M.decimal_text(minor, scale)
  local s = money.format(minor, scale)
  if scale > 0 then s = s:gsub("0+$", ""):gsub("%.$", "") end
  return s
end

-- "1e-05" -> "0.00001"; other text unchanged.
local function plain_decimal(s)
  local sign, ip, fp, e = s:match("^(%-?)(%d+)%.?(%d*)[eE]([+-]?%d+)$")
  if not sign then return s end
  local digits, point = ip .. fp, #ip + math.tointeger(tonumber(e))
  if point <= 0 then
    digits, point = string.rep("0", 1 - point) .. digits, 1
  elseif point > #digits then
    digits = digits .. string.rep("0", point - #digits)
  end
  local int = digits:sub(1, point):gsub("^0+(%d)", "%1")
  local frac = digits:sub(point + 1):gsub("0+$", "")
  return sign .. int .. (frac ~= "" and "." .. frac or "")
end

-- The JSON number for minor units at `scale` places: an integer when whole, else the double
-- nearest the decimal, which must encode as exactly that decimal, else an error. The field an
-- error names is `field`, or with `suffix` the JSONPath of field followed by suffix (built only
-- when it fails: "$.line_items[0]'s line Amount").
local function number_of(who, field, minor, scale, suffix)
  local unit = POW10[scale] or pow10(scale)
  if minor % unit == 0 then return minor // unit end
  -- minor / unit is the double nearest the decimal (both exact, one rounding). A decimal of at
  -- most 15 significant digits (DBL_DIG) reads back from that double's %.15g, the first form
  -- engine.json tries (lua/json_enc.c put_float): it encodes as exactly this decimal, so the
  -- check below cannot fail and is skipped.
  if minor < 1000000000000000 and minor > -1000000000000000 and scale <= 15 then
    return minor / unit
  end
  if suffix then field = M.path(field) .. suffix end
  if minor > EXACT_FLOAT_LIMIT or minor < -EXACT_FLOAT_LIMIT then
    M.fail(who, field, "%s has too many digits to send as an exact JSON number",
      money.format(minor, scale))
  end
  local f = minor / unit
  local want = M.decimal_text(minor, scale)
  local got = json.encode(f)
  if plain_decimal(got) ~= want then
    M.fail(who, field, "engine.json writes %s as %s; refusing to send an inexact amount", want,
      tostring(got))
  end
  return f
end
M.number_of = number_of

---------------------------------------------------------------------------------------------------
-- money and quantities from source records

-- Minor units of a money field (decimal text, an integer of whole units, or a float that is
-- exactly such a decimal). Raises naming the field.
function M.amount(who, field, v, decimals)
  local t = type(v)
  if t == "string" and v ~= "" then -- the usual case: decimal text
    local m, err = money_parse(v, decimals, "exact")
    if m == nil then M.fail(who, field, "%s", err) end
    return m
  end
  if v == nil or v == NULL or v == "" then M.fail(who, field, "missing amount") end
  if mtype(v) == "integer" then
    local m, err = money_parse(v, decimals, "exact")
    if m == nil then M.fail(who, field, "%s", err) end
    return m
  elseif mtype(v) == "float" then
    local m, err = money.parse(v, decimals, "half_even")
    if m == nil then M.fail(who, field, "%s", err) end
    if m / M.pow10(decimals) ~= v then
      M.fail(who, field, "the float %.17g is not an amount with %d decimals", v, decimals)
    end
    return m
  end
  M.fail(who, field, "expected an amount, got %s", t)
end

function M.amount_or_zero(who, field, v, decimals)
  if v == nil or v == NULL or v == "" then return 0 end
  return M.amount(who, field, v, decimals)
end

-- Minor units of an integer minor-units field (the POS store's *_minor columns).
function M.minor(who, field, v, default)
  if M.is_null(v) then
    if default ~= nil then return default end
    M.fail(who, field, "missing amount")
  end
  if math.type(v) ~= "integer" then
    M.fail(who, field, "expected integer minor units, got %s", math.type(v) or type(v))
  end
  return v
end

-- A quantity as (Q, s) meaning Q / 10^s, plus its JSON number.
function M.quantity(who, field, v)
  if math.type(v) == "integer" then return v, 0, v end
  local s
  if math.type(v) == "float" then
    if v ~= v or v == math.huge or v == -math.huge then
      M.fail(who, field, "quantity is not a finite number")
    end
    local i = math.tointeger(v)
    if i then return i, 0, i end
    for p = 1, 17 do
      local c = string.format("%." .. p .. "g", v)
      if tonumber(c) == v then s = c break end
    end
  elseif type(v) == "string" and v:match("%S") then
    s = trim(v)
  else
    M.fail(who, field, "missing quantity")
  end
  local sign, ip, fp = (s or ""):match("^([+-]?)(%d*)%.?(%d*)$")
  if sign == nil or ip .. fp == "" then
    M.fail(who, field, "%s is not a decimal quantity", tostring(v))
  end
  fp = fp:gsub("0+$", "")
  if #ip + #fp > 15 then M.fail(who, field, "quantity %s has too many digits", s) end
  local q = math.tointeger(tonumber((ip == "" and "0" or ip) .. fp))
  if sign == "-" then q = -q end
  return q, #fp, M.number_of(who, field, q, #fp)
end

---------------------------------------------------------------------------------------------------
-- sales lines

-- UnitPrice for a line of `amount` minor units over Q/10^qscale: the fewest decimals (from the
-- currency's up to 5) for which Qty x UnitPrice rounds to Amount. Returns the JSON number and a
-- note (nil when exact).
local function unit_price(who, field, q, qscale, amount, decimals)
  if qscale == 0 and q > 0 then
    -- whole units: the first try of the loop below (price at the currency's decimals), kept
    -- when exact; anything else runs the loop from the start
    if q == 1 then return number_of(who, field, amount, decimals, "'s line UnitPrice"), nil end
    local price, r = amount // q, amount % q
    if 2 * r > q or (2 * r == q and price % 2 ~= 0) then price = price + 1 end
    if price * q == amount then
      return number_of(who, field, price, decimals, "'s line UnitPrice"), nil
    end
  end
  if q == 0 then
    if amount ~= 0 then
      M.fail(who, field, "quantity is 0 but the amount is %s", money.format(amount, decimals))
    end
    return 0, nil
  end
  local dq, nq = q < 0 and -q or q, q < 0 and -amount or amount
  local max_scale = math.max(decimals, UNIT_PRICE_MAX_DECIMALS)
  local price, pscale, fits
  for p = decimals, max_scale do
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
    M.fail(who, field, "amount %s is too large to price", money.format(amount, decimals))
  end
  local note
  if fits == "rounded" then
    note = ("%s: UnitPrice %s is %s / %s rounded; Amount is exact"):format(field,
      money.format(price, pscale), money.format(amount, decimals), M.decimal_text(q, qscale))
  elseif fits == nil then
    note = ("%s: no UnitPrice with %d decimals times %s gives %s; UnitPrice %s, Amount is exact")
      :format(field, pscale, M.decimal_text(q, qscale), money.format(amount, decimals),
        money.format(price, pscale))
  end
  return number_of(who, field, price, pscale, "'s line UnitPrice"), note
end
M.unit_price = unit_price

-- A SalesItemLineDetail line. spec: field, item_ref, description, qty (source quantity),
-- amount (minor), decimals, tax_code (or nil). Returns line, note (or nil).
function M.sales_line(who, spec)
  -- not a tail call: explain's chain keeps the caller
  local line, note = M.sales_line_of(who, spec.field, spec.item_ref, spec.description, spec.qty,
    spec.amount, spec.decimals, spec.tax_code)
  return line, note
end

-- sales_line_of(who, field, item_ref, description, qty, amount, decimals, tax_code): the same
-- line from its parts, without a spec table (a builder's loop over order lines).
function M.sales_line_of(who, field, item_ref, description, qty, amount, decimals, tax_code)
  local price, note, amount_json
  if qty == 1 and mtype(qty) == "integer" then -- one of a thing: the price is the amount
    price = number_of(who, field, amount, decimals, "'s line UnitPrice")
    amount_json = price
  else
    local q, qscale, qty_json
    if mtype(qty) == "integer" then
      q, qscale, qty_json = qty, 0, qty
    else
      q, qscale, qty_json = M.quantity(who, field .. ".quantity", qty)
    end
    qty = qty_json
    price, note = unit_price(who, field, q, qscale, amount, decimals)
    amount_json = number_of(who, field, amount, decimals, "'s line Amount")
  end
  local detail = { ItemRef = { value = item_ref }, Qty = qty, UnitPrice = price }
  if tax_code then detail.TaxCodeRef = { value = tax_code } end
  local line = {
    DetailType = "SalesItemLineDetail",
    Amount = amount_json,
    SalesItemLineDetail = detail,
  }
  if description then line.Description = uhead(description, DESCRIPTION_MAX) end
  return line, note
end

-- A whole-document discount line of `amount` (> 0) minor units.
function M.discount_line(who, amount, decimals, description)
  local line = {
    DetailType = "DiscountLineDetail",
    Amount = M.number_of(who, "the discount line's Amount", amount, decimals),
    DiscountLineDetail = { PercentBased = false },
  }
  if description then line.Description = M.uhead(description, M.DESCRIPTION_MAX) end
  return line
end

-- Spread `diff` minor units over amounts (a list of minor units) in proportion to their
-- absolute values, largest remainder, ties to the earlier index (money.allocate). Returns the
-- list of per-index deltas, or nil when every amount is zero.
function M.spread(diff, amounts)
  local weights = {}
  for i, a in ipairs(amounts) do weights[i] = a < 0 and -a or a end
  local mag = diff < 0 and -diff or diff
  local parts = money.allocate(mag, weights)
  if parts == nil then return nil end
  if diff < 0 then
    for i, p in ipairs(parts) do parts[i] = -p end
  end
  return parts
end

---------------------------------------------------------------------------------------------------
-- shipping

-- QuickBooks' own shipping reference, valid only when the company's
-- Preferences.SalesFormsPrefs.AllowShipping is true (external-apis.md 3.4).
M.SHIPPING_ITEM_ID = "SHIPPING_ITEM_ID"
M.SHIPPING_ITEM_NAME = "Shipping"
M.SHIPPING_ITEM_KEY = "name:" .. M.SHIPPING_ITEM_NAME

-- shipping_requirement(ctx) -> the requirement for the item shipping lines post to, or nil when
-- none is needed: an explicit shipping_item_id is used as is, a company that allows shipping
-- takes SHIPPING_ITEM_ID; otherwise the item named "Shipping", found or created (when
-- create_missing_items allows) through the item flow, like a fee's item.
function M.shipping_requirement(ctx)
  local config = ctx.config or {}
  if M.text(config.shipping_item_id) then return nil end
  if (ctx.company or {}).allow_shipping == true then return nil end
  return { entity = "item", key = M.SHIPPING_ITEM_KEY, flow = "woo_product_to_qbo_item",
    record = json.object({ name = M.SHIPPING_ITEM_NAME }),
    create = config.create_missing_items ~= false }
end

-- shipping_ref(ctx) -> the ItemRef value of a shipping line (see shipping_requirement).
function M.shipping_ref(ctx)
  local explicit = M.text((ctx.config or {}).shipping_item_id)
  if explicit then return explicit end
  if (ctx.company or {}).allow_shipping == true then return M.SHIPPING_ITEM_ID end
  return ctx.ref("item", M.SHIPPING_ITEM_KEY)
end

---------------------------------------------------------------------------------------------------
-- tax codes

-- TaxCodeRef value for a line whose tax rates are `ids` (a list of rate id strings), or nil.
-- tax_code_mappings keys: a rate id ("75"), a rate code ("US-CA-STATE TAX"), or for a line
-- taxed by several rates the combination of ids or of codes joined with "+" in ascending order
-- ("4+5", "CA-BC-GST+CA-BC-PST"): QuickBooks takes one code a line, a combined one for
-- GST+PST. Unmapped rates take default_tax_code_id; rates mapping to two codes raise. With
-- default_tax_code_id null, a US company (company.country "US") takes QuickBooks' literal "TAX"
-- (US line tax codes are TAX / NON; external-apis.md 3.4); elsewhere the line has no code.
local function mapped_code(who, mappings, key)
  local v = mappings[key]
  if v == nil or v == NULL then return nil end
  local s = text(v)
  if not s or type(v) ~= "string" then
    M.fail(who, "transformer_config.tax_code_mappings",
      "the entry %q must be a QuickBooks TaxCode id string", key)
  end
  return s
end

function M.tax_code(who, field, ids, rate_codes, config, company)
  local n = #ids
  if n == 0 then return nil end
  local mappings = config.tax_code_mappings
  if type(mappings) ~= "table" then mappings = {} end
  local default = text(config.default_tax_code_id)
  if default == nil and (company or {}).country == "US" then default = "TAX" end
  if n == 1 then -- one rate: its id, else its code, else the default
    local id = ids[1]
    local code = rate_codes[id]
    local c = mapped_code(who, mappings, id) or (code and mapped_code(who, mappings, code))
      or default
    if c then return c, id end
    return nil
  end
  local function mapped(key) return mapped_code(who, mappings, key) end
  local combo_ids, combo_codes
  if #ids > 1 then
    local sorted, codes = {}, {}
    for i, id in ipairs(ids) do sorted[i] = id end
    table.sort(sorted, function(a, b)
      local na, nb = tonumber(a), tonumber(b)
      if na and nb and na ~= nb then return na < nb end
      return a < b
    end)
    for i, id in ipairs(sorted) do codes[i] = rate_codes[id] or id end
    combo_ids = table.concat(sorted, "+")
    combo_codes = table.concat(codes, "+")
    local c = mapped(combo_ids) or mapped(combo_codes)
    if c then return c end
  end
  local code, from
  for _, id in ipairs(ids) do
    local c = mapped(id) or (rate_codes[id] and mapped(rate_codes[id])) or default
    if c then
      if code and code ~= c then
        M.fail(who, field, "its tax rates %s map to two TaxCodes (%s and %s); QuickBooks takes "
          .. "one a line: map the combination %q in tax_code_mappings", combo_ids, code, c,
          combo_ids)
      end
      code, from = c, id
    end
  end
  return code, from
end

---------------------------------------------------------------------------------------------------
-- dates

local civil = require "lib.civil_date"
local days_from_civil, civil_from_days = civil.days_from_civil, civil.civil_from_days
local days_in_month = civil.days_in_month

-- "2017-03-22T16:28:02" -> "2017-03-22" (validated); raises naming the field.
function M.date(who, field, v)
  local s = M.text(v)
  local y, m, d = (s or ""):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)")
  if not y then
    M.fail(who, field, "expected a date like 2017-03-22T16:28:02, got %s",
      s and ("%q"):format(s) or "nothing")
  end
  y, m, d = math.tointeger(tonumber(y)), math.tointeger(tonumber(m)), math.tointeger(tonumber(d))
  if m < 1 or m > 12 or d < 1 or d > days_in_month(y, m) then
    M.fail(who, field, "%q is not a calendar date", s)
  end
  return ("%04d-%02d-%02d"):format(y, m, d)
end

-- "2017-03-22" + n days, in integer civil-date arithmetic (no os.time, no zone).
function M.add_days(date, n)
  local y, m, d = date:match("^(%d+)%-(%d+)%-(%d+)$")
  local z = days_from_civil(math.tointeger(tonumber(y)), math.tointeger(tonumber(m)),
    math.tointeger(tonumber(d))) + n
  return ("%04d-%02d-%02d"):format(civil_from_days(z))
end

-- default_payment_terms_days from config (default 30), checked.
function M.terms_days(who, config)
  local terms = config.default_payment_terms_days
  if M.is_null(terms) then return 30 end
  if math.type(terms) ~= "integer" or terms < 0 then
    M.fail(who, "transformer_config.default_payment_terms_days",
      "expected a non-negative integer, got %s", tostring(terms))
  end
  return terms
end

---------------------------------------------------------------------------------------------------
-- DocNumber, addresses, custom fields, notes

-- True when s has the shape of a shortened DocNumber (8 chars, "-", 12 lower-case hex).
local function looks_shortened(s)
  return M.ulen(s) == M.DOCNUMBER_MAX and s:match("%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
    and not s:sub(-12):find("%u")
end

-- DocNumber: the number itself when it fits QuickBooks' 21 characters; a longer one becomes
-- its last 8 characters, "-" and the first 12 hex digits of sha256(number). A 21-character
-- number that already has that shape is shortened too, so no short number can equal another
-- number's shortened form: distinct numbers give distinct DocNumbers (up to a 48-bit hash
-- collision).
function M.doc_number(number)
  if M.ulen(number) <= M.DOCNUMBER_MAX and not looks_shortened(number) then return number end
  local hash = crypto.hex(crypto.sha256(number)):sub(1, 12)
  return M.utail(number, M.DOCNUMBER_MAX - 1 - #hash) .. "-" .. hash
end

-- A QuickBooks address from a WooCommerce-style one (address_1, city, state, postcode,
-- country), or nil when empty.
function M.address(a)
  a = M.object(a)
  local out, any = {}, false
  local function put(key, v, max)
    local s = M.text(v)
    if s then
      out[key] = M.uhead(s, max)
      any = true
    end
  end
  put("Line1", a.address_1 or a.line1, M.ADDR_LINE_MAX)
  put("Line2", a.address_2 or a.line2, M.ADDR_LINE_MAX)
  put("City", a.city, 255)
  put("CountrySubDivisionCode", a.state, 255)
  put("PostalCode", a.postcode or a.postal_code, M.POSTAL_CODE_MAX)
  put("Country", a.country, 255)
  return any and out or nil
end

local function meta_value(entries, key)
  if type(entries) ~= "table" then return nil end
  for _, entry in ipairs(entries) do
    if type(entry) == "table" and entry.key == key then return entry.value end
  end
  return nil
end

-- A dotted path into a record; "meta:<key>" reads record.meta_data by key, and a segment that
-- meets a list of {key, value} objects picks the entry with that key.
function M.lookup(rec, path)
  local meta = path:match("^meta:(.+)$")
  if meta then return meta_value(rec.meta_data, meta) end
  local cur = rec
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

-- CustomField list from transformer_config.custom_field_mappings, or nil.
function M.custom_fields(who, rec, mappings)
  if M.is_null(mappings) then return nil end
  local n = #mappings
  if n > M.CUSTOM_FIELDS_MAX then
    M.fail(who, "transformer_config.custom_field_mappings",
      "%d entries; QuickBooks takes at most %d custom fields", n, M.CUSTOM_FIELDS_MAX)
  end
  local out, seen = {}, {}
  for i = 1, n do
    local field = ("transformer_config.custom_field_mappings[%d]"):format(i - 1)
    local m = mappings[i]
    if type(m) ~= "table" then M.fail(who, field, "expected an object") end
    local source, target = M.text(m.source_field), M.text(m.target_field)
    if not source then M.fail(who, field, "source_field is missing") end
    if not target or not target:match("^%d+$") then
      M.fail(who, field, "target_field must be the QuickBooks custom field DefinitionId " ..
        "(\"1\", \"2\" or \"3\"), got %s", target and ("%q"):format(target) or "nothing")
    end
    if seen[target] then M.fail(who, field, "DefinitionId %s is mapped twice", target) end
    seen[target] = true
    local value = M.text(M.lookup(rec, source))
    if value then
      local cf = { DefinitionId = target, StringValue = M.uhead(value, 31), Type = "StringType" }
      local name = M.text(m.name)
      if name then cf.Name = name end
      out[#out + 1] = cf
    end
  end
  return #out > 0 and json.array(out) or nil
end

-- PrivateNote from a list of lines (at most 4000 characters).
function M.note(lines)
  return M.uhead(table.concat(lines, "\n"), M.PRIVATE_NOTE_MAX)
end

---------------------------------------------------------------------------------------------------
-- totals of a built document (what QuickBooks will compute as TotalAmt)

-- doc_total(doc, decimals) -> minor units: sales lines - discount lines + TotalTax. Works on
-- the JSON numbers this module wrote (exact decimals).
-- Minor units of a JSON number this module wrote, read back at `decimals` places (half even).
-- A float within 10^15 minor units that some integer m divided by 10^decimals gives exactly is
-- that m: the float's decimal lies within half an ulp of m / 10^decimals, far less than half a
-- minor unit, so money.parse would round it to m too; anything else goes to money.parse.
local function minor_of(v, decimals)
  if mtype(v) == "float" then
    local unit = pow10(decimals)
    local m = tointeger(floor(v * unit + 0.5))
    if m and m < 1000000000000000 and m > -1000000000000000 and decimals <= 15
        and m / unit == v then
      return m
    end
  end
  return money_parse(v, decimals, "half_even") or 0
end

function M.doc_total(doc, decimals)
  local sum = 0
  for _, line in ipairs(doc.Line or {}) do
    local kind = line.DetailType
    if kind == "DiscountLineDetail" then
      sum = sum - minor_of(line.Amount, decimals)
    elseif kind ~= "SubTotalLineDetail" then
      sum = sum + minor_of(line.Amount, decimals)
    end
  end
  local tax = doc.TxnTaxDetail and doc.TxnTaxDetail.TotalTax
  if tax ~= nil then sum = sum + minor_of(tax, decimals) end
  return sum
end

-- reconciles(who, doc, decimals, expected, what, currency): the invariant every builder checks on
-- what it will send: the document's total equals the source's (`what` names it: "order",
-- "refund"), or the record fails with both amounts.
function M.reconciles(who, doc, decimals, expected, what, currency)
  local sent = M.doc_total(doc, decimals)
  if sent ~= expected then
    M.fail(who, nil, "does not reconcile after mapping: document %s %s, %s %s %s",
      money.format(sent, decimals), currency, what, money.format(expected, decimals), currency)
  end
end

return M
