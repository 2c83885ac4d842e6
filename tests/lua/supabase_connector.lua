-- supabase_connector.lua - connectors/supabase.lua write() against tests/mocks/postgrest_mock.py.
-- Not a *_spec (ctest would run it without a mock): tests/integration/connector_supabase.sh
-- runs it.
--
-- usage: tallysync run tests/lua/supabase_connector.lua MOCK_BASE KEY
-- Prints "ok   NAME" / "FAIL NAME: why" per case (lib.spec), then "N passed, M failed"; raises on a failure.
local http = require "engine.http"
local json = require "engine.json"
local sb = require "connectors.supabase"

local BASE, KEY = ...
assert(BASE and KEY, "usage: tallysync run tests/lua/supabase_connector.lua MOCK_BASE KEY")

local spec = require "lib.spec"
local case = spec.case

local function eq(got, want, what)
  if got ~= want then
    error(("%s: expected %s, got %s"):format(what or "value", tostring(want), tostring(got)), 2)
  end
end

-- {---- the mock's control routes

local function mock_post(path, doc)
  local resp, err = http.post(BASE .. path, doc)
  assert(resp and resp.status < 300, "mock " .. path .. ": " .. tostring(resp and resp.body or err))
  return resp.json
end

local function mock_get(path)
  local resp, err = http.get(BASE .. path)
  assert(resp and resp.status == 200,
    "mock " .. path .. ": " .. tostring(resp and resp.body or err))
  return resp.json
end

local function declare(schema, name, columns, pk, unique)
  mock_post("/_mock/tables", { schema = schema, name = name, columns = columns,
    primary_key = json.array(pk), unique = json.array(unique or {}) })
end

local function reset() mock_post("/_mock/reset", json.object()) end
local function requests() return mock_get("/_mock/requests") end
local function stored(schema, tbl)
  return mock_get("/_mock/rows?schema=" .. schema .. "&table=" .. tbl)
end
local function faults(doc) mock_post("/_mock/faults", doc) end

-- }----

local ORDER_COLUMNS = {
  id = { type = "bigint", not_null = true },
  number = { type = "text", not_null = true },
  total = { type = "numeric", not_null = true },
  currency = { type = "text" },
  sku = { type = "text" },
}
declare("public", "sales", ORDER_COLUMNS, { "id" })
declare("public", "items", { id = { type = "bigint", not_null = true },
  sku = { type = "text", not_null = true }, qty = { type = "bigint" } }, { "id" }, { { "sku" } })
declare("accounting", "ledger", ORDER_COLUMNS, { "id" })

local function ctx(over)
  local c = { tenant = "shop-a",
    credentials = { url = BASE, service_role_key = KEY, schema = "public" },
    config = { supabase_tables = { orders = "sales", ledger = "ledger" }, supabase_retries = 2,
      supabase_timeout_ms = 5000 } }
  for k, v in pairs(over or {}) do c.config[k] = v end
  return c
end

local function order_rows(n, from, total)
  local rows = {}
  for i = 1, n do
    local id = (from or 0) + i
    rows[i] = { id = id, number = "SO-" .. id, total = total or ("%d.%02d"):format(id, id % 100),
      currency = "USD", sku = json.null }
  end
  return rows
end

local function all_ok(results, n)
  eq(#results, n, "number of results")
  for i = 1, n do
    if not results[i].ok then
      error(("row %d failed: %s"):format(i, tostring(results[i].error)), 2)
    end
  end
end

case("test(ctx) proves the key", function()
  local ok, msg = sb.test(ctx())
  assert(ok, msg)
end)

case("10,000 rows are 20 requests of 500", function()
  reset()
  local results, stats = sb.write(ctx(), "orders", order_rows(10000))
  all_ok(results, 10000)
  eq(stats.requests, 20, "requests counted by the connector")
  local r = requests()
  eq(r.count, 20, "requests seen by the mock")
  for _, e in ipairs(r.log) do
    eq(e.path, "/rest/v1/sales", "path (entity mapped to the tenant's table)")
    eq(e.rows, 500, "rows per request")
    eq(e.status, 201, "status")
    local merge = false
    for _, p in ipairs(e.prefer) do merge = merge or p == "resolution=merge-duplicates" end
    assert(merge, "Prefer: resolution=merge-duplicates was not sent")
  end
  eq(#stored("public", "sales"), 10000, "stored rows")
end)

case("supabase_chunk_size changes the chunking", function()
  reset()
  local results, stats = sb.write(ctx({ supabase_chunk_size = 300 }), "orders", order_rows(1000))
  all_ok(results, 1000)
  eq(stats.requests, 4, "requests for 1000 rows in chunks of 300")
end)

case("a second write merges duplicates (updates, no new rows)", function()
  reset()
  local rows = order_rows(3, 20000)
  all_ok(sb.write(ctx(), "orders", rows), 3)
  local before = #stored("public", "sales")
  rows = order_rows(3, 20000, "99.95")
  all_ok(sb.write(ctx(), "orders", rows), 3)
  local after = stored("public", "sales")
  eq(#after, before, "row count after the second write")
  local seen = 0
  for _, r in ipairs(after) do
    if r.id > 20000 and r.id <= 20003 then
      eq(r.total, "99.95", "merged total")
      seen = seen + 1
    end
  end
  eq(seen, 3, "updated rows found")
end)

case("on_conflict targets a UNIQUE column", function()
  reset()
  all_ok(sb.write(ctx(), "items",
    { { id = 1, sku = "A", qty = 1 }, { id = 2, sku = "B", qty = 2 } }), 2)
  -- same sku, other id: conflict on sku -> the row with sku A gets qty 7 and id 3
  all_ok(sb.write(ctx(), "items", { { id = 3, sku = "A", qty = 7 } }, { on_conflict = "sku" }), 1)
  local rows = stored("public", "items")
  eq(#rows, 2, "rows")
  eq(rows[1].qty, 7, "qty merged on sku")
  local r = requests()
  local q = r.log[#r.log].query
  assert(q:find("on_conflict=sku", 1, true), "on_conflict not sent: " .. q)
end)

case("3 bad rows among 500: 497 written, 3 failures with PostgREST's message", function()
  reset()
  local rows = order_rows(500, 30000)
  rows[17].number = json.null              -- 23502 not-null
  rows[250].total = "12,50"                -- 22P02 invalid input for numeric
  rows[433].id = "x433"                    -- 22P02 invalid input for bigint
  local results, stats = sb.write(ctx(), "orders", rows)
  eq(#results, 500, "results")
  local bad = {}
  for i, r in ipairs(results) do
    if not r.ok then bad[#bad + 1] = i end
  end
  eq(table.concat(bad, ","), "17,250,433", "failed rows")
  eq(results[17].error,
    'null value in column "number" of relation "sales" violates not-null constraint (23502)',
    "row 17 error")
  eq(results[250].error, 'invalid input syntax for type numeric: "12,50" (22P02)', "row 250 error")
  eq(results[433].error, 'invalid input syntax for type bigint: "x433" (22P02)', "row 433 error")
  for _, i in ipairs(bad) do eq(results[i].retryable, false, "retryable of a bad row") end
  eq(stats.written, 497, "written")
  local n = 0
  for _, r in ipairs(stored("public", "sales")) do
    if r.id > 30000 and r.id <= 30500 then n = n + 1 end
  end
  eq(n, 497, "good rows stored")
  local count = requests().count
  print(("     (%d requests for 3 bad rows among 500)"):format(count))
  -- 1 + at most 2 requests per level (9 levels for 500) per bad row: logarithmic, not 500
  assert(count <= 1 + 3 * 2 * 9, ("requests: %d is not logarithmic"):format(count))
  eq(stats.requests, count, "connector and mock agree on the request count")
end)

case("a unique violation (409 23505) is reported per row", function()
  reset()
  local results = sb.write(ctx(), "items", { { id = 10, sku = "C" }, { id = 11, sku = "A" },
    { id = 12, sku = "D" } })
  assert(results[1].ok and results[3].ok, "good rows failed")
  assert(not results[2].ok, "duplicate sku accepted")
  eq(results[2].error,
    'duplicate key value violates unique constraint "items_sku_key" (23505)', "error")
end)

case("a float is refused before sending", function()
  reset()
  local rows = order_rows(2, 40000)
  rows[2].total = 12.5
  local results, stats = sb.write(ctx(), "orders", rows)
  assert(results[1].ok, "good row failed")
  assert(not results[2].ok and results[2].error:find("float"), "float accepted")
  eq(stats.requests, 1, "requests")
  eq(requests().log[1].rows, 1, "rows sent")
end)

case("a wrong key: 401 is a clear, non-retryable error and stops the run", function()
  reset()
  local c = ctx({ supabase_chunk_size = 2 })
  c.credentials.service_role_key = "wrong-key-0123456789"
  local results, stats = sb.write(c, "orders", order_rows(6, 50000))
  eq(#results, 6, "results")
  for _, r in ipairs(results) do
    assert(not r.ok and r.retryable == false, "a row did not fail as non-retryable")
    assert(r.error:find("credentials rejected by supabase (HTTP 401)", 1, true), r.error)
    assert(r.error:find("PGRST301", 1, true), r.error)
    assert(not r.error:find("wrong-key", 1, true), "the key is in the message")
  end
  eq(stats.requests, 1, "requests after a 401")
end)

case("a 503 is retried by engine.http and the rows are written", function()
  reset()
  faults({ next = 1, status = 503 })
  local results = sb.write(ctx(), "orders", order_rows(10, 60000))
  all_ok(results, 10)
  local r = requests()
  eq(r.count, 2, "requests (one 503, one retry)")
  eq(r.log[1].status, 503, "first status")
end)

case("a dropped connection is retried (the upsert is idempotent)", function()
  reset()
  faults({ next = 1, drop = true })
  all_ok(sb.write(ctx(), "orders", order_rows(5, 61000)), 5)
  eq(requests().count, 2, "requests")
end)

case("a timeout is retried", function()
  reset()
  faults({ next = 1, delay_ms = 1500 })
  all_ok(sb.write(ctx({ supabase_timeout_ms = 500 }), "orders", order_rows(5, 62000)), 5)
  assert(requests().count >= 2, "no retry after the timeout")
end)

case("persistent 502 after the retries: retryable = true", function()
  reset()
  faults({ next = 100, status = 502 })
  local results = sb.write(ctx(), "orders", order_rows(4, 63000))
  for _, r in ipairs(results) do
    assert(not r.ok and r.retryable == true, "expected a retryable failure")
    eq(r.error, "supabase answered HTTP 502: injected fault (XX000)", "message")
  end
  eq(requests().count, 3, "requests (1 + 2 retries)")
  faults({ next = 0 })
end)

case("persistent 500 fails the chunk retryable, the next chunk still goes", function()
  reset()
  faults({ next = 1, status = 500 })
  local results, stats = sb.write(ctx({ supabase_chunk_size = 2 }), "orders", order_rows(4, 64000))
  assert(not results[1].ok and results[1].retryable == true, "first chunk")
  assert(not results[2].ok and results[2].retryable == true, "first chunk")
  assert(results[3].ok and results[4].ok, "second chunk")
  eq(stats.requests, 2, "requests")
end)

case("a non-public schema is sent as Content-Profile", function()
  reset()
  local c = ctx()
  c.credentials.schema = "accounting"
  all_ok(sb.write(c, "ledger", order_rows(3, 70000)), 3)
  local r = requests()
  eq(r.log[1].schema, "accounting", "schema seen by the mock")
  eq(#stored("accounting", "ledger"), 3, "rows in accounting.ledger")
  c.credentials.schema = "nope"
  local results = sb.write(c, "ledger", order_rows(1, 70010))
  assert(not results[1].ok and results[1].error:find("PGRST106", 1, true), results[1].error)
end)

case("an unknown table fails every row once (404 42P01), no splitting", function()
  reset()
  local results, stats = sb.write(ctx({ supabase_chunk_size = 2 }), "missing_table",
    order_rows(5, 1))
  for _, r in ipairs(results) do
    assert(not r.ok and r.retryable == false and r.error:find("42P01", 1, true), tostring(r.error))
  end
  eq(stats.requests, 1, "requests")
end)

spec.finish("supabase_connector")
