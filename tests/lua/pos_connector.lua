-- pos_connector.lua - connectors/pos.lua read() and test() over the engine's own store.
-- Not a *_spec (it needs the rows tests/integration/connector_pos.sh seeds with sq).
--
-- usage: tallysync run tests/lua/pos_connector.lua EXPECTED_IDS SINCE SINCE_COUNT
--   EXPECTED_IDS  shop-a's active order ids in (updated_at, id) order, comma-separated
--   SINCE         an updated_at value; SINCE_COUNT: shop-a's active orders updated after it
-- Prints "ok   NAME" / "FAIL NAME: why" per case (lib.spec), then "N passed, M failed"; raises on a failure.
local db = require "engine.db"
local pos = require "connectors.pos"

local EXPECTED, SINCE, SINCE_COUNT = ...
assert(EXPECTED and SINCE and SINCE_COUNT,
  "usage: pos_connector.lua EXPECTED_IDS SINCE SINCE_COUNT")
SINCE_COUNT = math.tointeger(tonumber(SINCE_COUNT))

local spec = require "lib.spec"
local case = spec.case

local function eq(got, want, what)
  if got ~= want then
    error(("%s: expected %s (%s), got %s (%s)"):format(what or "value", tostring(want),
      math.type(want) or type(want), tostring(got), math.type(got) or type(got)), 2)
  end
end

local A = { tenant = "shop-a", credentials = {}, config = {} }
local B = { tenant = "shop-b", credentials = {}, config = {} }

-- every page from opts on; returns the records and the pages
local function read_all(ctx, opts)
  local all, pages, cursor = {}, {}, nil
  for _ = 1, 100 do
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.cursor = cursor
    local page, err = pos.read(ctx, "orders", o)
    assert(page, err)
    pages[#pages + 1] = page
    for _, r in ipairs(page.records) do all[#all + 1] = r end
    if not page.has_more then
      assert(page.next_cursor == nil, "next_cursor on the last page")
      return all, pages
    end
    cursor = assert(page.next_cursor, "has_more without next_cursor")
  end
  error("paging did not end")
end

local function ids(records)
  local t = {}
  for i, r in ipairs(records) do t[i] = r.id end
  return table.concat(t, ",")
end

case("test(ctx) reads the orders table", function()
  local ok, msg = pos.test(A)
  assert(ok, msg)
  assert(msg:find("250 active orders", 1, true), msg)
end)

case("keyset pages of 100: 100, 100, 50, in (updated_at, id) order", function()
  local all, pages = read_all(A)
  eq(#pages, 3, "pages")
  eq(#pages[1].records, 100, "page 1")
  eq(#pages[2].records, 100, "page 2")
  eq(#pages[3].records, 50, "page 3")
  eq(ids(all), EXPECTED, "ids in order")
  eq(pages[3].last_updated_at, all[#all].updated_at, "last_updated_at")
end)

case("page_size is honoured (7 per page)", function()
  local all, pages = read_all(A, { page_size = 7 })
  eq(#pages, 36, "pages of 7 for 250")
  eq(ids(all), EXPECTED, "ids in order")
end)

case("since: only orders updated after it", function()
  local all = read_all(A, { since = SINCE })
  eq(#all, SINCE_COUNT, "orders after since")
  for _, r in ipairs(all) do assert(r.updated_at > SINCE, "an order not after since") end
end)

case("other tenants' and inactive orders are excluded", function()
  local all = read_all(A)
  for _, r in ipairs(all) do
    assert(r.id:match("^A"), "an order of another tenant or an inactive one: " .. r.id)
  end
  local b = read_all(B)
  eq(#b, 10, "shop-b's orders")
  for _, r in ipairs(b) do assert(r.id:match("^B"), "shop-a's order in shop-b: " .. r.id) end
  eq(#read_all({ tenant = "shop-none", credentials = {}, config = {} }), 0, "unknown tenant")
end)

case("money is integer minor units with the currency; items by line_no", function()
  local page = assert(pos.read(A, "orders", { page_size = 1000 }))
  local o
  for _, r in ipairs(page.records) do if r.id == "A0007" then o = r end end
  assert(o, "A0007 not found")
  eq(o.currency, "EUR", "currency")
  eq(o.total_minor, 1999, "total_minor")
  eq(o.tax_minor, 319, "tax_minor")
  eq(o.subtotal_minor, 1680, "subtotal_minor")
  eq(o.customer.name, "Ada", "customer name")
  eq(o.billing_address.city, "Berlin", "billing address decoded")
  eq(#o.items, 2, "active items (an inactive one is left out)")
  eq(o.items[1].line_no, 1, "first line")
  eq(o.items[1].unit_price_minor, 1000, "unit price")
  eq(o.items[2].sku, "SKU-2", "second line sku")
  for _, r in ipairs(page.records) do
    for k, v in pairs(r) do
      if math.type(v) == "float" then error("float in " .. r.id .. "." .. k) end
    end
    for _, it in ipairs(r.items) do
      for k, v in pairs(it) do
        if math.type(v) == "float" then error("float in an item of " .. r.id .. ": " .. k) end
      end
    end
  end
end)

case("bad arguments are answered, not raised", function()
  local p, err = pos.read(A, "customers")
  assert(p == nil and err:find("only orders"), tostring(err))
  p, err = pos.read(A, "orders", { page_size = 0 })
  assert(p == nil and err:find("page_size"), tostring(err))
  p, err = pos.read(A, "orders", { cursor = "garbage" })
  assert(p == nil and err:find("cursor"), tostring(err))
end)

case("an order changed during paging moves to the end; nothing is skipped", function()
  local p1 = assert(pos.read(A, "orders", { page_size = 100 }))
  local moved = p1.records[5].id
  -- the touch trigger moves updated_at to now (after every seeded timestamp)
  assert(db.exec("UPDATE orders SET notes = 'changed' WHERE id = ?", moved))
  local seen, cursor = {}, p1.next_cursor
  for _, r in ipairs(p1.records) do seen[#seen + 1] = r.id end
  while cursor do
    local p = assert(pos.read(A, "orders", { page_size = 100, cursor = cursor }))
    for _, r in ipairs(p.records) do seen[#seen + 1] = r.id end
    cursor = p.next_cursor
  end
  eq(#seen, 251, "records read (250 + the moved one again)")
  eq(seen[#seen], moved, "the changed order comes last")
  local n = {}
  for _, id in ipairs(seen) do n[id] = (n[id] or 0) + 1 end
  for id in EXPECTED:gmatch("[^,]+") do assert(n[id], "skipped: " .. id) end
end)

spec.finish("pos_connector")
