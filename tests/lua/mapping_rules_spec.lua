-- mapping_rules_spec.lua - script tier for lib.mapping: the v2 contract checked at load time,
-- declarative rules and each transform, transformer_config, and the messages that name the
-- mapping, the rule and the record. Mappings here are inline tables (validated under a
-- made-up file name); file:line messages from real files are in tests/integration/mapping_engine.sh.
local json = require "engine.json"
local mapping = require "lib.mapping"
local spec = require "lib.spec"
local test, eq, show = spec.case, spec.eq, spec.show

local function raises(fn, needle)
  local ok, err = pcall(fn)
  if ok then error("expected an error containing " .. show(needle), 2) end
  if not tostring(err):find(needle, 1, true) then
    error(("error %s does not contain %s"):format(show(tostring(err)), show(needle)), 2)
  end
  return tostring(err)
end

local FILE = "mappings/t.lua"

local function mk(rules, extra)
  local m = { name = "t", source = { connector = "woocommerce", entity = "orders" },
    target = { connector = "quickbooks", entity = "Invoice" }, key = "id", rules = rules }
  for k, v in pairs(extra or {}) do m[k] = v end
  return mapping.validate(m, FILE)
end

local function run(m, record, settings, opts)
  local config = assert(mapping.config(settings))
  return mapping.apply(m, record, mapping.context(config, opts or { dry_run = true }))
end

---------------------------------------------------------------------------------------------------
-- the contract

test("unknown top-level field names the file and the field", function()
  raises(function() mk({}, { mapp = function() end }) end, "mappings/t.lua: unknown field 'mapp'")
end)

test("wrong types are errors naming the field", function()
  raises(function() mk({}, { map = "x" }) end, "mappings/t.lua: field 'map' must be a function")
  raises(function() mk({}, { key = 5 }) end, "field 'key' must be a string")
  raises(function() mk({}, { requires = {} }) end, "field 'requires' must be a function")
  raises(function() mk({}, { source = "woocommerce" }) end, "field 'source' must be {")
  raises(function() mk({}, { target = { connector = "quickbooks" } }) end,
    "field 'target.entity' is missing")
  raises(function() mk({}, { source = { connector = "w", entity = "orders", kind = 1 } }) end,
    "field 'source.kind' is unknown")
  raises(function() mk({}, { key = "a..b" }) end, "field 'key': bad path")
end)

test("a mapping needs rules or map", function()
  raises(function() mapping.validate({ name = "x" }, FILE) end, "has neither 'rules' nor 'map'")
  raises(function() mapping.validate("nope", FILE) end, "must return a table")
end)

test("today's form (a table with map, v1 needs) still validates", function()
  local m = mapping.validate({ name = "old", map = function() return { a = 1 } end,
    needs = { { entity = "customer" } } }, FILE)
  eq(run(m, { id = 1 }).a, 1, "a")
end)

---------------------------------------------------------------------------------------------------
-- rule syntax, at load time

test("unknown transform names the rule and lists the known ones", function()
  local e = raises(function() mk({ { to = "DocNumber", from = "number", "trim" },
    { to = "PrivateNote", from = "note", "trimm" } }) end,
    "mappings/t.lua: rules[2] (PrivateNote <- note): unknown transform 'trimm' (known: ")
  assert(e:find("truncate", 1, true), e)
end)

test("rule syntax errors are raised at load time", function()
  raises(function() mk({ { from = "x" } }) end, "rules[1] (nil <- x): 'to' must be a target path")
  raises(function() mk({ { to = "A", from = "x", value = 1 } }) end, "not both")
  raises(function() mk({ { to = "A" } }) end, "give 'from' (a source path) or 'value'")
  raises(function() mk({ { to = "A", from = "x", into = "y" } }) end, "unknown field 'into'")
  raises(function() mk({ { to = "A[0]", from = "x" } }) end, "indices count from 1")
  raises(function() mk({ { to = "A", from = "x y" } }) end, "bad path \"x y\"")
  raises(function() mk({ { to = "A", from = "x", { "truncate", 0 } } }) end,
    "truncate: the length must be a positive integer")
  raises(function() mk({ { to = "Foo", from = "x", "truncate" } }) end,
    "no length limit on file for \"Foo\"")
  raises(function() mk({ { to = "A", from = "x", { "default" } } }) end, "default takes 1 argument")
  raises(function() mk({ { to = "A", from = "x", { "trim", 1 } } }) end, "trim takes no arguments")
  raises(function() mk({ { to = "A", from = "x", { "date", zone = "EST" } } }) end,
    "date: zone \"EST\" is not an offset")
  raises(function() mk({ { to = "A", from = "x", { "date", tz = "Z" } } }) end,
    "date has no option 'tz'")
  raises(function() mk({ { to = "A", from = "x", { "lookup", "nope" } } }) end,
    "lookup: \"nope\" is not a transformer_config table (tables: tax_code_mappings)")
  raises(function() mk({ { to = "A", from = "x", { "money", currency = "usd" } } }) end,
    "money: currency:")
  raises(function() mk({ { to = "A", from = "x", { "money", as = "float" } } }) end,
    "money: as must be")
  raises(function() mk({ { to = "A", from = "x", 42 } }) end,
    "transform 1 must be a name or { name, args... }")
  raises(function() mk({ "DocNumber" }) end, "rules[1] must be a table")
end)

---------------------------------------------------------------------------------------------------
-- transforms, at run time

local ORDER = {
  id = 727, number = " 727 ", currency = "USD", total = "29.35", total_tax = "1.35",
  date_created = "2017-03-22T16:28:02", date_created_gmt = "2017-03-22T19:28:02",
  billing = { email = "  John.Doe@Example.COM ", first_name = "" },
  line_items = { { sku = "WOO-1", taxes = { { id = 75 } } } },
  note = json.null,
}

test("paths, trim, upper, lower, string, constants; absent values leave the field out", function()
  local m = mk({
    { to = "DocNumber", from = "number", "trim" },
    { to = "BillEmail.Address", from = "billing.email", "trim", "lower" },
    { to = "CurrencyRef.value", from = "currency", "lower", "upper" },
    { to = "Line[1].SalesItemLineDetail.ItemRef.name", from = "line_items[1].sku" },
    { to = "Ref", from = "id", "string" },
    { to = "GivenName", from = "billing.first_name", "trim" },
    { to = "Memo", from = "note" },
    { to = "Source", value = "tallysync" },
  })
  local out = run(m, ORDER)
  eq(out.DocNumber, "727", "DocNumber")
  eq(out.BillEmail.Address, "john.doe@example.com", "email")
  eq(out.CurrencyRef.value, "USD", "currency")
  eq(out.Line[1].SalesItemLineDetail.ItemRef.name, "WOO-1", "nested array path")
  assert(json.is_array(out.Line), "Line[1] creates an array")
  eq(out.Ref, "727", "string of an integer id")
  eq(out.GivenName, nil, "\"\" trimmed is no value")
  eq(out.Memo, nil, "null is no value")
  eq(out.Source, "tallysync", "constant")
end)

test("from lists: the first present path wins", function()
  local m = mk({ { to = "D", from = { "date_paid", "date_created" } } })
  eq(run(m, ORDER).D, "2017-03-22T16:28:02", "falls back")
end)

test("truncate: to the QuickBooks limit of the target field, or to n, by characters", function()
  local long = string.rep("é", 30)
  local m = mk({
    { to = "DocNumber", from = "s", "truncate" },
    { to = "Line[1].Description", from = "s", "truncate" },
    { to = "Custom", from = "s", { "truncate", 5 } },
    { to = "BillEmail.Address", from = "e", "truncate" },
  })
  local out = run(m, { s = long, e = string.rep("a", 150) })
  eq(utf8.len(out.DocNumber), 21, "DocNumber 21")
  eq(out.DocNumber, string.rep("é", 21), "cut on a character boundary")
  eq(out.Line[1].Description, long, "4000 leaves it")
  eq(out.Custom, string.rep("é", 5), "explicit n")
  eq(#out.BillEmail.Address, 100, "email 100")
  eq(mapping.QBO_LIMITS.DisplayName, 100, "DisplayName limit")
  eq(mapping.QBO_LIMITS.PrivateNote, 4000, "PrivateNote limit")
end)

test("date and datetime: explicit zones, pure arithmetic", function()
  local m = mk({
    { to = "TxnDate", from = "date_created_gmt", { "date", input_zone = "Z", zone = "-05:00" } },
    { to = "Late", from = "late", { "date", input_zone = "Z", zone = "+05:30" } },
    { to = "Local", from = "date_created", "date" },
    { to = "Stamp", from = "date_created", { "datetime", input_zone = "-03:00", zone = "Z" } },
    { to = "Offset", from = "withzone", { "datetime", zone = "+01:00" } },
    { to = "Leap", from = "leap", { "date", input_zone = "+14:00", zone = "-12:00" } },
    { to = "Plain", from = "day", { "date", zone = "+09:00" } },
  })
  local out = run(m, { date_created_gmt = "2017-03-22T03:10:00", late = "2017-12-31T20:00:00",
    date_created = "2017-03-22T16:28:02", withzone = "2024-02-29T23:30:00Z",
    leap = "2024-03-01T10:00:00", day = "2024-02-29" })
  eq(out.TxnDate, "2017-03-21", "GMT 03:10 is the day before at -05:00")
  eq(out.Late, "2018-01-01", "20:00Z is the next day at +05:30")
  eq(out.Local, "2017-03-22", "no zone, no conversion: the date part")
  eq(out.Stamp, "2017-03-22T19:28:02+00:00", "local -03:00 to UTC")
  eq(out.Offset, "2024-03-01T00:30:00+01:00", "offset in the input is honoured")
  eq(out.Leap, "2024-02-29", "across a leap day, 26 hours back")
  eq(out.Plain, "2024-02-29", "a date alone is not moved")
end)

test("date errors are data errors naming the rule and the record", function()
  local m = mk({ { to = "TxnDate", from = "d", "date" } })
  raises(function() run(m, { id = 9, d = "yesterday" }) end,
    'mappings/t.lua: rules[1] (TxnDate <- d): order 9: date: "yesterday" is not an ISO 8601 date')
  raises(function() run(m, { id = 9, d = "2023-02-29" }) end, "is not a calendar date")
  local z = mk({ { to = "T", from = "d", { "date", zone = "Z" } } })
  raises(function() run(z, { id = 9, d = "2023-02-01T10:00:00" }) end,
    "carries no zone; give the rule input_zone")
end)

test("money: exact JSON numbers from engine.money, per currency", function()
  local m = mk({
    { to = "Total", from = "total", "money" },
    { to = "Tax", from = "total_tax", "money" },
    { to = "Minor", from = "total", { "money", as = "minor" } },
    { to = "Text", from = "total", { "money", as = "text" } },
    { to = "Yen", from = "yen", { "money", currency = "JPY" } },
    { to = "Whole", from = "whole", "money" },
    { to = "Price", from = "price", "money" },
    { to = "Neg", from = "neg", "money" },
  })
  local out = run(m, { currency = "USD", total = "29.35", total_tax = "1.35", yen = "1500",
    whole = "6.00", price = 10.8, neg = "-0.05" })
  eq(out.Total, 29.35, "29.35")
  eq(json.encode(out.Total), "29.35", "encodes exactly")
  eq(out.Tax, 1.35, "tax")
  eq(out.Minor, 2935, "minor units")
  eq(out.Text, "29.35", "text")
  eq(out.Yen, 1500, "JPY has no decimals: an integer")
  eq(out.Whole, 6, "whole amounts are integers")
  eq(out.Price, 10.8, "a float that is exactly a 2-decimal amount")
  eq(out.Neg, -0.05, "negative")
end)

test("money refuses what it cannot carry exactly", function()
  local m = mk({ { to = "Total", from = "total", "money" } })
  raises(function() run(m, { id = 3, currency = "USD", total = "29.355" }) end,
    "rules[1] (Total <- total): order 3: money:")
  raises(function() run(m, { id = 3, currency = "JPY", total = "10.5" }) end, "money:")
  raises(function() run(m, { id = 3, currency = "USD", total = 0.1 + 0.2 }) end,
    "is not an amount with 2 decimals")
  raises(function() run(m, { id = 3, total = "1.00" }) end, "no currency at currency")
  raises(function() run(m, { id = 3, currency = "USD", total = { 1 } }) end,
    "expected an amount, got array")
end)

test("lookup in the tenant's table, default, required", function()
  local m = mk({
    { to = "TaxCodeRef.value", from = "line_items[1].taxes[1].id", { "lookup", "tax_code_mappings" },
      { "default", "NON" } },
    { to = "Other", from = "missing", { "lookup", "tax_code_mappings" }, { "default", 0 } },
    { to = "Must", from = "number", "trim", "required" },
  })
  local out = run(m, ORDER, { tax_code_mappings = { ["75"] = "TAX" } })
  eq(out.TaxCodeRef.value, "TAX", "integer key 75 finds \"75\"")
  eq(out.Other, 0, "default of a missing source")
  out = run(m, ORDER, { tax_code_mappings = { ["76"] = "TAX" } })
  eq(out.TaxCodeRef.value, "NON", "no entry -> default")
  local r = mk({ { to = "CustomerRef.value", from = "billing.first_name", "trim", "required" } })
  raises(function() run(r, ORDER) end,
    "mappings/t.lua: rules[1] (CustomerRef.value <- billing.first_name): order 727: required: " ..
    "no value")
end)

test("wrong types in data are errors naming the transform, rule and record", function()
  local m = mk({ { to = "DocNumber", from = "number", "trim", "upper" } })
  raises(function() run(m, { id = 5, number = 17 }) end,
    "rules[1] (DocNumber <- number): order 5: trim: expected text, got integer")
  local s = mk({ { to = "Ref", from = "x", "string" } })
  raises(function() run(s, { id = 5, x = { a = 1 } }) end, "string: expected text or an integer")
  local t = mk({ { to = "A.B", from = "x" }, { to = "A.B.C", from = "x" } })
  raises(function() run(t, { id = 5, x = "v" }) end, "rules[2] (A.B.C <- x): order 5: cannot write $.A.B.C: $.A.B already holds a string")
end)

test("rules run first, then map completes or overrides (out, or a returned doc)", function()
  local m = mk({ { to = "DocNumber", from = "number", "trim" }, { to = "Keep", value = 1 } },
    { map = function(rec, ctx, out)
      out.DocNumber = "X-" .. out.DocNumber
      out.CustomerRef = { value = ctx.ref("customer", rec.billing.email) }
    end })
  local out = run(m, ORDER)
  eq(out.DocNumber, "X-727", "map overrides a rule's field")
  eq(out.Keep, 1, "rule fields stay")
  eq(out.CustomerRef.value, "{{customer   John.Doe@Example.COM }}", "dry-run ref marker")
  local r = mk({ { to = "Keep", value = 1 }, { to = "Deep.A", value = 1 } },
    { map = function() return { New = 2, Deep = { B = 2 } } end })
  out = run(r, ORDER)
  eq(out.Keep, 1, "rule field kept beside a returned doc")
  eq(out.New, 2, "returned field")
  eq(out.Deep.A, 1, "objects merge")
  eq(out.Deep.B, 2, "objects merge (2)")
end)

test("ctx.ref answers from refs first", function()
  local m = mk({}, { map = function(rec, ctx) return { C = ctx.ref("customer", rec.email),
    I = ctx.ref("item", "sku:X") } end })
  local config = assert(mapping.config(nil))
  local ctx = mapping.context(config, { dry_run = true,
    refs = { customer = { ["a@b.c"] = "58" } } })
  local out = mapping.apply(m, { id = 1, email = "a@b.c" }, ctx)
  eq(out.C, "58", "listed ref")
  eq(out.I, "{{item sku:X}}", "unlisted ref falls back to the marker")
end)

test("map errors name the record; a wrong return type is an error", function()
  local m = mk({}, { map = function(rec) if rec.id == 2 then error("boom", 0) end return 7 end })
  raises(function() run(m, { id = 2 }) end, "mappings/t.lua: order 2: boom")
  raises(function() run(m, { id = 3 }) end,
    "order 3: map() returned number, expected a table (the target document) or nothing")
  local named = mk({}, { map = function() error("order 4: total: missing", 0) end })
  local e = raises(function() run(named, { id = 4 }) end, "mappings/t.lua: order 4: total: missing")
  assert(not e:find("order 4: order 4", 1, true), "the record is named once: " .. e)
end)

test("describe names the record by its source entity and key", function()
  local m = mk({}, { key = "billing.email", source = { connector = "w", entity = "customers" },
    map = function() end })
  eq(mapping.describe(m, { billing = { email = "x@y.z" } }), "customer x@y.z", "customer")
  eq(mapping.describe(m, {}), "customer", "no key")
end)

test("explain: the same document; rules named; an unnamed mapping's writes are unknown, " ..
  "never guessed", function()
  local m = mk({ { to = "A.B", from = "items[2].id" } }, { map = function(r, _, out)
    out.Line = json.array({})
    out.Line[1] = { X = r.id }
    table.insert(out.Line, { X = 3 })
    out.A.C = #out.Line
  end })
  local config = assert(mapping.config(nil))
  local rec = { id = 1, items = { { id = 5 }, { id = 1 } } }
  local plain = mapping.apply(m, rec, mapping.context(config))
  local doc, fields = mapping.apply(m, rec, mapping.context(config), { explain = true })
  eq(json.encode(doc), json.encode(plain), "same document")
  local by = {}
  for _, f in ipairs(fields) do by[f.path] = f end
  eq(by["$.A.B"].by, "rule", "rule write")
  eq(by["$.A.B"].from, "$.items[1].id", "the input path read, as 0-based JSONPath")
  eq(by["$.A.B"].input, 1, "the value read")
  -- m was not loaded by name, so its map() runs untraced: X = 1 equals the input id, and
  -- must not be attributed to it
  for _, p in ipairs({ "$.Line[0].X", "$.Line[1].X", "$.A.C" }) do
    eq(by[p].by, "unknown", p)
    eq(by[p].same_as, nil, p .. ": no value guessing")
  end
end)

test("a rule writing through a field that holds a value names both as JSONPath", function()
  local m = mk({ { to = "Line", value = "x" }, { to = "Line[2].Amount", value = 1 } })
  raises(function() run(m, { id = 1 }) end,
    "rules[2] (Line[2].Amount <- value): order 1: cannot write $.Line[1].Amount: $.Line " ..
    "already holds a string")
end)

test("explain of an output that contains itself: an error naming where, not a stack overflow",
  function()
  local m = mk({}, { map = function(_, _, out) out.A = { B = {} }; out.A.B.C = out.A end })
  local config = assert(mapping.config(nil))
  raises(function() mapping.apply(m, { id = 1 }, mapping.context(config), { explain = true }) end,
    "the mapping's output contains itself at $.A.B.C")
end)

test("JSONPath: 0-based, quoted odd keys", function()
  eq(mapping.jsonpath("line_items[1].taxes[2].id"), "$.line_items[0].taxes[1].id", "indices")
  eq(mapping.jsonpath_step("$", "odd key", false), '$["odd key"]', "odd key")
end)

test("requires, match, total, disambiguate: called protected, results checked", function()
  local m = mk({}, {
    map = function() end,
    requires = function(r) return { { entity = "customer", key = "email:" .. r.email,
      flow = "woo_customer_to_qbo_customer", record = { email = r.email } } } end,
    match = function(doc, r) return { { field = "PrimaryEmailAddr", value = r.email } } end,
    total = function(r) return r.currency, r.minor end,
    disambiguate = function(doc, attempt) return { DisplayName = doc.DisplayName .. " (" .. attempt .. ")" } end,
  })
  local ctx = mapping.context(assert(mapping.config(nil)))
  local rec = { id = 8, email = "a@b.c", currency = "USD", minor = 2935 }
  eq(mapping.requires(m, rec, ctx)[1].key, "email:a@b.c", "requires")
  eq(mapping.match(m, {}, rec, ctx)[1].field, "PrimaryEmailAddr", "match")
  local cur, minor = mapping.total(m, rec, ctx)
  eq(cur, "USD", "currency")
  eq(minor, 2935, "minor")
  eq(mapping.disambiguate(m, { DisplayName = "Jane" }, 2, rec).DisplayName, "Jane (2)", "disambiguate")
  raises(function() mapping.total(m, { id = 8, currency = "USD", minor = 29.35 }, ctx) end,
    "order 8: total() must return integer minor units second, got number")
  -- (an inline mapping's own position follows the record; a file under mappings/ leads)
  local e = raises(function() mapping.requires(m, { id = 8 }, ctx) end, "mappings/t.lua: order 8: ")
  assert(e:find("mapping_rules_spec.lua:%d+: attempt to concatenate"), e)
  local bare = mk({}, { map = function() end })
  eq(#mapping.requires(bare, rec, ctx), 0, "no requires: nothing")
  eq(mapping.total(bare, rec, ctx), nil, "no total")
  local badreq = mk({}, { map = function() end, requires = function() return { { entity = "item" } } end })
  raises(function() mapping.requires(badreq, rec, ctx) end,
    "order 8: requires() item 1: key must be a non-empty string")
end)

---------------------------------------------------------------------------------------------------
-- transformer_config

test("transformer_config: defaults, including the two tallysync additions", function()
  local c = assert(mapping.config(nil))
  -- null = automatic (SHIPPING_ITEM_ID or the item named Shipping, from the company's prefs)
  assert(c.shipping_item_id == json.null, "shipping_item_id null")
  eq(c.default_payment_terms_days, 30, "terms")
  eq(c.paid_orders_as, "Invoice", "paid_orders_as")
  eq(c.create_missing_items, true, "create_missing_items")
  assert(c.default_tax_code_id == json.null, "default_tax_code_id null")
  c = assert(mapping.config('{"paid_orders_as":"SalesReceipt","create_missing_items":false}'))
  eq(c.paid_orders_as, "SalesReceipt", "SalesReceipt")
  eq(c.create_missing_items, false, "false")
end)

test("transformer_config: a malformed value names the field", function()
  local function bad(raw, needle)
    local c, err = mapping.config(raw)
    if c ~= nil then error("accepted " .. show(raw), 2) end
    if not err:find(needle, 1, true) then error(("%s lacks %s"):format(show(err), show(needle)), 2) end
  end
  bad('{"paid_orders_as":"Receipt"}', "transformer_config.paid_orders_as must be one of Invoice, SalesReceipt")
  bad('{"create_missing_items":"yes"}', "transformer_config.create_missing_items must be a boolean, got string")
  bad('{"default_payment_terms_days":-1}', "must not be negative")
  bad('{"default_payment_terms_days":"30"}', "must be an integer, got string")
  bad('{"tax_code_mappings":{"75":5}}', 'transformer_config.tax_code_mappings["75"] must be a QuickBooks TaxCode id string')
  bad('{"custom_field_mappings":[{"source_field":"x"}]}', "custom_field_mappings[0].target_field must be a non-empty string")
  bad('{"shiping_item_id":"S"}', 'unknown setting "shiping_item_id"')
  bad('[1]', "must be a JSON object")
  bad('{"a":', "transformer_config: ")
end)

spec.finish("mapping_rules_spec")
