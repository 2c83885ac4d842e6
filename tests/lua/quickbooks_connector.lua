-- quickbooks_connector.lua - connectors/quickbooks.lua against tests/mocks/quickbooks_mock.py.
-- Not a *_spec (ctest would run it without the mock): tests/integration/connector_quickbooks.sh
-- runs it with a generous SCRIPT_TIMEOUT_MS.
--
-- usage: tallysync run tests/lua/quickbooks_connector.lua MOCK_BASE CLIENT_ID CLIENT_SECRET REALM
-- Prints "ok <case>" / "FAIL <case>: ..." and ends with "N passed, M failed" (raises on failures).
local http = require "engine.http"
local json = require "engine.json"
local spec = require "lib.spec"
local qbo = require "connectors.quickbooks"
local qbo_fault = require "lib.qbo_fault"

local MOCK, CLIENT_ID, CLIENT_SECRET, REALM = ...
assert(MOCK and CLIENT_ID and CLIENT_SECRET and REALM,
  "usage: tallysync run tests/lua/quickbooks_connector.lua MOCK_BASE CLIENT_ID CLIENT_SECRET REALM")

local case = spec.case

local function eq(got, want, what)
  if got ~= want then
    error(("%s: expected %s, got %s"):format(what or "value", tostring(want), tostring(got)), 2)
  end
end

local function mock(method, path, body)
  local resp, msg = http.request{ method = method, url = MOCK .. path, json = body,
    timeout_ms = 10000 }
  assert(resp, "mock control call failed: " .. tostring(msg))
  assert(resp.status == 200, "mock " .. path .. " answered " .. resp.status .. " " .. resp.body)
  return resp.json
end

local function state() return mock("GET", "/_mock/state") end
local function fault(kind, count, extra)
  local b = { kind = kind, count = count or 1 }
  for k, v in pairs(extra or {}) do b[k] = v end
  mock("POST", "/_mock/faults", b)
end

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

local SECRETS = { CLIENT_SECRET }
local function fresh_tokens(expires_in)
  local t = mock("POST", "/_mock/tokens", { expires_in = expires_in or 3600 })
  SECRETS[#SECRETS + 1] = t.access_token
  SECRETS[#SECRETS + 1] = t.refresh_token
  return t
end

local stored = {} -- what ctx.on_tokens received
local function new_ctx(opts)
  opts = opts or {}
  local t = fresh_tokens()
  local ctx = {
    credentials = { client_id = CLIENT_ID, client_secret = CLIENT_SECRET, realm_id = REALM,
      access_token = t.access_token, refresh_token = t.refresh_token,
      access_token_expires_at = iso(os.time() + 3600), environment = "sandbox" },
    config = { quickbooks_api_base = MOCK,
      quickbooks_token_url = MOCK .. "/oauth2/v1/tokens/bearer",
      quickbooks_timeout_ms = opts.timeout_ms, quickbooks_retries = opts.retries },
    on_tokens = function(tokens) stored[#stored + 1] = tokens end,
  }
  return ctx
end

local ERRORS = {} -- every error message seen, for the leak check
local function failed(v, err)
  assert(v == nil, "expected a failure, got a value")
  assert(type(err) == "table" and type(err.message) == "string", "error without message")
  ERRORS[#ERRORS + 1] = tostring(err)
  return err
end

local function count_named(entity, field, value)
  local n = 0
  for _, o in ipairs(state().entities[entity]) do
    if o[field] == value then n = n + 1 end
  end
  return n
end

mock("POST", "/_mock/reset", {})
local ctx = new_ctx()

case("test(ctx) still proves the credentials", function()
  local ok, msg = qbo.test(ctx)
  eq(ok, true, "test: " .. tostring(msg))
end)

case("quote escapes ' and \\ with a backslash", function()
  eq(qbo.quote("O'Brien"), "'O\\'Brien'")
  eq(qbo.quote("a\\b"), "'a\\\\b'")
end)

case("query pages with STARTPOSITION across several pages", function()
  local seed = {}
  for i = 1, 7 do seed[i] = { DisplayName = ("Page Customer %02d"):format(i) } end
  mock("POST", "/_mock/seed", { Customer = seed })
  local rows, meta = qbo.query(ctx, "SELECT * FROM Customer WHERE DisplayName LIKE 'Page Customer%'",
    { page_size = 3 })
  assert(rows, tostring(meta))
  eq(#rows, 7, "rows")
  eq(meta.pages, 3, "pages")
  eq(rows[7].DisplayName, "Page Customer 07", "last row")
  local sts = {}
  for _, r in ipairs(state().requests) do
    if r.path == "query" then sts[#sts + 1] = r.requestid ~= nil end
  end
  assert(#sts >= 3 and sts[#sts], "queries carry a requestid")
end)

case("a quoted value with an apostrophe finds its row; an empty result is no error", function()
  mock("POST", "/_mock/seed", { Customer = { { DisplayName = "O'Brien's Shop",
    PrimaryEmailAddr = { Address = "ob@example.com" } } } })
  local rows = assert(qbo.query(ctx, "SELECT * FROM Customer WHERE DisplayName = "
    .. qbo.quote("O'Brien's Shop")))
  eq(#rows, 1, "rows")
  rows = assert(qbo.query(ctx, "SELECT * FROM Customer WHERE PrimaryEmailAddr = "
    .. qbo.quote("ob@example.com")))
  eq(#rows, 1, "by email")
  rows = assert(qbo.query(ctx, "SELECT * FROM Customer WHERE DisplayName = 'nobody'"))
  eq(#rows, 0, "empty")
end)

case("read with since is incremental (MetaData.LastUpdatedTime >)", function()
  mock("POST", "/_mock/seed", { Item = {
    { Name = "Old Item", Sku = "OLD-1", Type = "Service",
      MetaData = { CreateTime = "2020-01-01T00:00:00-07:00", LastUpdatedTime = "2020-01-01T00:00:00-07:00" } },
    { Name = "New Item", Sku = "NEW-1", Type = "Service" },
  } })
  local all = assert(qbo.read(ctx, "Item"))
  eq(#all, 2, "all items")
  local rows = assert(qbo.read(ctx, "Item", { since = "2024-06-01T00:00:00Z" }))
  eq(#rows, 1, "changed since")
  eq(rows[1].Sku, "NEW-1", "the new item")
  local bysku = assert(qbo.query(ctx, "SELECT * FROM Item WHERE Sku = 'OLD-1'"))
  eq(#bysku, 1, "by Sku")
end)

local created
case("create (requestid), get by id, sparse update keeps other fields", function()
  created = assert(qbo.create(ctx, "Customer", { DisplayName = "Sparse Test",
    GivenName = "Sparse", PrimaryEmailAddr = { Address = "s@example.com" } }, "woo-customer-1"))
  eq(created.SyncToken, "0", "SyncToken")
  local got = assert(qbo.get(ctx, "Customer", created.Id))
  eq(got.DisplayName, "Sparse Test", "read back")
  local up = assert(qbo.update(ctx, "Customer", { Id = created.Id, SyncToken = created.SyncToken,
    FamilyName = "Updated" }))
  eq(up.SyncToken, "1", "SyncToken after update")
  eq(up.FamilyName, "Updated", "changed field")
  eq(up.GivenName, "Sparse", "kept field (sparse)")
  local last
  for _, r in ipairs(state().requests) do if r.path == "customer" then last = r end end
  assert(last and last.requestid, "the update carries a requestid")
end)

case("a stale SyncToken: conflict with the current object re-read", function()
  local e = failed(qbo.update(ctx, "Customer", { Id = created.Id, SyncToken = "0",
    FamilyName = "Stale" }))
  eq(e.code, "5010", "code")
  eq(e.conflict, true, "conflict")
  eq(e.retryable, false, "retryable")
  assert(type(e.current) == "table", "current object")
  eq(e.current.SyncToken, "1", "current SyncToken")
  eq(e.current.FamilyName, "Updated", "current value")
end)

case("a duplicate DisplayName: Fault 6240 surfaced with its code", function()
  local e = failed(qbo.create(ctx, "Customer", { DisplayName = "Sparse Test" }, "woo-customer-2"))
  eq(e.code, "6240", "code")
  eq(e.status, 400, "status")
  eq(e.retryable, false, "retryable")
  assert(e.message:find("Duplicate Name Exists", 1, true), e.message)
  assert(not e.message:find("\n", 1, true), "newlines folded")
end)

case("unknown id: 610", function()
  local e = failed(qbo.get(ctx, "Customer", "999999"))
  eq(e.code, "610", "code")
end)

case("a Fault with HTTP 200 is an error", function()
  fault("fault200", 1)
  local e = failed(qbo.get(ctx, "Customer", created.Id))
  eq(e.status, 200, "status")
  eq(e.code, "6000", "code")
end)

case("batch write: results matched by bId, one failing item", function()
  local res = qbo.write(ctx, "Customer", {
    { DisplayName = "Batch One" },
    { body = { DisplayName = "Sparse Test" }, request_id = "woo-c-dup" }, -- duplicate
    { DisplayName = "Batch Three" },
    { Id = created.Id, SyncToken = "1", Notes = "batch update" },
  })
  eq(#res, 4, "results")
  eq(res[1].ok, true, "1 ok")
  eq(res[2].ok, false, "2 fails")
  eq(res[2].code, "6240", "2 code")
  eq(res[3].ok, true, "3 ok")
  eq(res[4].ok, true, "4 ok: " .. tostring(res[4].error))
  eq(res[4].sync_token, "2", "4 sync token")
  eq(res[4].id, created.Id, "4 id")
  eq(res[1].object.DisplayName, "Batch One", "1 matched by bId")
  eq(res[3].object.DisplayName, "Batch Three", "3 matched by bId")
  local stale = qbo.write(ctx, "Customer", { { Id = created.Id, SyncToken = "0", Notes = "x" } })
  eq(stale[1].code, "5010", "stale in batch")
  eq(stale[1].conflict, true, "conflict in batch")
  eq(stale[1].current.SyncToken, "2", "current in batch")
end)

case("pacing never lets more through in a minute than Intuit allows", function()
  -- a sliding window of at most the limit in any 60 s (quickbooks_pace_spec replays it); a
  -- batch takes the realm's limits too
  local b, r = qbo.rate("1", true), qbo.rate("1", false)
  assert(b.per_window == 40 and b.window_ms >= 60000, "batch: 40 in a window of 60 s or more")
  assert(r.per_window == 500 and r.window_ms >= 60000, "realm: 500 in a window of 60 s or more")
  assert(r.concurrent == 10, "realm: 10 at once")
  assert(b.also and b.also.key == r.key, "a batch counts for the realm")
end)

case("engine.http.request_all: the requests are in flight together, answers in order", function()
  -- two requests wait at a barrier that only the third opens: one at a time, the first would
  -- wait out its timeout (released = false); together, all three come back released
  local name = "ra-" .. tostring(os.time()) .. tostring(math.random(1 << 30))
  local function wait() return { method = "POST", url = MOCK .. "/_mock/wait",
    json = { name = name, timeout_s = 20 }, timeout_ms = 25000 } end
  local res = http.request_all({ wait(), wait(),
    { method = "POST", url = MOCK .. "/_mock/release", json = { name = name } } })
  eq(#res, 3, "answers")
  eq(res[1].json.released, true, "1 released")
  eq(res[2].json.released, true, "2 released")
  eq(res[3].json.ok, true, "3 is the release")
  -- a request without an answer is { error, code } in its place; bad arguments raise first
  local r2 = http.request_all({ { url = MOCK .. "/_mock/state" },
    { url = "http://127.0.0.1:9/none", timeout_ms = 2000 } }, 2)
  eq(r2[1].status, 200, "first answered")
  eq(r2[2].status, nil, "second: no status")
  eq(r2[2].code, "connect", "second: connect")
  assert(type(r2[2].error) == "string", "second: a message")
  assert(not pcall(http.request_all, { { url = MOCK, bogus = 1 } }), "unknown field raises")
  assert(not pcall(http.request_all, {}, 11), "parallel over 10 raises")
end)

case("engine.http.start: a group in flight while the script goes on, http.wait answers in order", function()
  -- two requests wait at a barrier that a plain request made meanwhile opens: start returned at
  -- once (else the release would never be sent and both would wait out their timeout)
  local name = "st-" .. tostring(os.time()) .. tostring(math.random(1 << 30))
  local function wait() return { method = "POST", url = MOCK .. "/_mock/wait",
    json = { name = name, timeout_s = 20 }, timeout_ms = 25000 } end
  local h = http.start({ wait(), wait() })
  local rel = http.request{ method = "POST", url = MOCK .. "/_mock/release", json = { name = name } }
  eq(rel.status, 200, "the release answered while the group was in flight")
  local res = http.wait(h)
  eq(#res, 2, "answers")
  eq(res[1].json.released, true, "1 released")
  eq(res[2].json.released, true, "2 released")
  assert(not pcall(http.wait, h), "a second wait raises")
  -- a request without an answer is { error, code } in its place; bad arguments raise first
  local r2 = http.wait(http.start({ { url = "http://127.0.0.1:9/none", timeout_ms = 2000 } }))
  eq(r2[1].code, "connect", "no answer: connect")
  assert(not pcall(http.start, { { url = MOCK, bogus = 1 } }), "unknown field raises")
  assert(not pcall(http.start, {}, 11), "parallel over 10 raises")
  -- at most 16 requests of started groups in flight in a VM; their handles come back at wait
  local function reads(n)
    local l = {}
    for i = 1, n do l[i] = { url = MOCK .. "/_mock/state" } end
    return l
  end
  local a, b = http.start(reads(8), 8), http.start(reads(8), 8)
  assert(not pcall(http.start, reads(1)), "a 17th in flight raises")
  eq(#http.wait(a), 8, "first group")
  eq(#http.wait(b), 8, "second group")
  eq(http.wait(http.start(reads(1)))[1].status, 200, "after the waits a group starts again")
end)

case("write_start / write_finish: the batch in flight meanwhile, write's results", function()
  local p = qbo.write_start(ctx, { { entity = "Customer", records = {
    { DisplayName = "Started One" }, { DisplayName = "Started Two" } } } })
  local res = qbo.write_finish(ctx, p)[1]
  eq(#res, 2, "results")
  eq(res[1].ok, true, "1 ok: " .. tostring(res[1].error))
  eq(res[2].object.DisplayName, "Started Two", "2 matched by bId")
end)

case("batch write: 35 records go in 2 batches of at most 30", function()
  local recs = {}
  for i = 1, 35 do
    -- a Service item needs its income account (QuickBooks: 2020 without one)
    recs[i] = { Name = ("Bulk Item %02d"):format(i), Type = "Service",
      IncomeAccountRef = { value = "79" } }
  end
  local before = 0
  for _, r in ipairs(state().requests) do if r.path == "batch" then before = before + 1 end end
  local res = qbo.write(ctx, "Item", recs)
  eq(#res, 35, "results")
  for i = 1, 35 do
    eq(res[i].ok, true, "item " .. i)
    eq(res[i].object.Name, recs[i].Name, "item " .. i .. " matched")
  end
  local after = 0
  for _, r in ipairs(state().requests) do if r.path == "batch" then after = after + 1 end end
  eq(after - before, 2, "batch calls")
end)

case("write_all with spread: what would fill fewer batches goes in that many even ones", function()
  -- 40 customers and 7 items: full batches would be 2 + 1; spread 5 makes them 4 of 10 and
  -- 1 of 7 (the largest batches split first); spread past the records is capped by them
  local custs, items = {}, {}
  for i = 1, 40 do custs[i] = { DisplayName = ("Spread Customer %02d"):format(i) } end
  for i = 1, 7 do
    items[i] = { Name = ("Spread Item %02d"):format(i), Type = "Service",
      IncomeAccountRef = { value = "79" } }
  end
  local before = #state().requests
  local res = qbo.write_all(ctx, { { entity = "Customer", records = custs },
    { entity = "Item", records = items } }, 5)
  for i = 1, 40 do eq(res[1][i].ok, true, "customer " .. i) end
  for i = 1, 7 do eq(res[2][i].ok, true, "item " .. i) end
  for i = 1, 40 do eq(res[1][i].object.DisplayName, custs[i].DisplayName, "customer " .. i .. " matched") end
  local sizes = {}
  local reqs = state().requests
  for k = before + 1, #reqs do
    if reqs[k].path == "batch" then sizes[#sizes + 1] = reqs[k].items end
  end
  table.sort(sizes)
  eq(table.concat(sizes, ","), "7,10,10,10,10", "batch sizes")
  -- without spread: full batches (30 + 10 customers, 3 items)
  local c2, i2 = {}, {}
  for i = 1, 40 do c2[i] = { DisplayName = ("Full Customer %02d"):format(i) } end
  for i = 1, 3 do
    i2[i] = { Name = ("Full Item %02d"):format(i), Type = "Service", IncomeAccountRef = { value = "79" } }
  end
  before = #state().requests
  qbo.write_all(ctx, { { entity = "Customer", records = c2 }, { entity = "Item", records = i2 } })
  sizes = {}
  reqs = state().requests
  for k = before + 1, #reqs do
    if reqs[k].path == "batch" then sizes[#sizes + 1] = reqs[k].items end
  end
  table.sort(sizes)
  eq(table.concat(sizes, ","), "3,10,30", "full batches")
end)

case("an item created in a batch cannot be referenced in the same batch", function()
  local res = qbo.write(ctx, "Invoice", {
    { CustomerRef = { value = "424242" },
      Line = json.array{ { DetailType = "DescriptionOnly", Description = "a note" } } },
  })
  eq(res[1].ok, false, "fails")
  eq(res[1].code, "2500", "invalid reference")
end)

case("an idempotent retried create: the same requestid twice makes one object", function()
  local a = assert(qbo.create(ctx, "Customer", { DisplayName = "Idem Customer" }, "woo-order-1001"))
  local b = assert(qbo.create(ctx, "Customer", { DisplayName = "Idem Customer" }, "woo-order-1001"))
  eq(b.Id, a.Id, "same object")
  eq(count_named("Customer", "DisplayName", "Idem Customer"), 1, "objects in the mock")
  -- the create executes but its answer is lost: the retry (same requestid) gets the first answer
  fault("drop_after", 1, { path = "customer" })
  local c = assert(qbo.create(ctx, "Customer", { DisplayName = "Dropped Answer" }, "woo-order-1002"))
  eq(count_named("Customer", "DisplayName", "Dropped Answer"), 1, "one object after a lost answer")
  assert(c.Id, "id")
  -- a long source id is hashed to fit 50 characters
  local long = ("woo-order-"):rep(10)
  assert(qbo.create(ctx, "Customer", { DisplayName = "Long Rid" }, long))
  local rid
  for _, r in ipairs(state().requests) do if r.path == "customer" then rid = r.requestid end end
  assert(rid and #rid <= 50, "requestid within 50 chars")
end)

case("429 with Retry-After is honoured, then success", function()
  fault("429", 2)
  local t0 = os.time()
  local got = assert(qbo.get(ctx, "Customer", created.Id))
  eq(got.Id, created.Id, "id")
  assert(os.time() - t0 >= 1, "waited for Retry-After")
end)

case("a realm over the per-minute limit: 429 until Retry-After, a clear error when it persists", function()
  mock("POST", "/_mock/config", { per_minute = 1, retry_after = 1 })
  local c2 = new_ctx({ retries = 1 })
  assert(qbo.get(c2, "Customer", created.Id))
  local e = failed(qbo.get(c2, "Customer", created.Id))
  eq(e.code, "throttled", "code")
  eq(e.status, 429, "status")
  eq(e.retryable, true, "retryable")
  assert(state().throttled >= 2, "the mock throttled twice (first try and the retry)")
  mock("POST", "/_mock/config", { per_minute = 500 })
end)

case("500 and 503 once are retried", function()
  fault("500", 1)
  assert(qbo.get(ctx, "Customer", created.Id))
  fault("503", 1)
  assert(qbo.get(ctx, "Customer", created.Id))
  fault("500", 1, { path = "customer" })
  assert(qbo.create(ctx, "Customer", { DisplayName = "After 500" }, "woo-order-500"))
  eq(count_named("Customer", "DisplayName", "After 500"), 1, "one object")
end)

case("a persistent 500: a clear, retryable error", function()
  fault("500", 50)
  local e = failed(qbo.get(ctx, "Customer", created.Id))
  mock("POST", "/_mock/faults", { clear = true })
  eq(e.status, 500, "status")
  eq(e.retryable, true, "retryable")
  assert(e.message:find("HTTP 500", 1, true) and e.message:find("after 3 attempts", 1, true),
    e.message)
end)

case("a timeout ends within the budget", function()
  local c2 = new_ctx({ timeout_ms = 400, retries = 1 })
  fault("delay", 2, { ms = 2500 })
  local t0 = os.time()
  local e = failed(qbo.get(c2, "Customer", created.Id))
  local dt = os.time() - t0
  mock("POST", "/_mock/faults", { clear = true })
  eq(e.code, "timeout", "code")
  eq(e.retryable, true, "retryable")
  assert(dt <= 3, "took " .. dt .. " s")
end)

case("a dropped connection is retried", function()
  fault("drop", 1)
  assert(qbo.get(ctx, "Customer", created.Id))
end)

case("an expired access token: refresh (rotated), on_tokens, then success", function()
  local old_at, old_rt = ctx.credentials.access_token, ctx.credentials.refresh_token
  mock("POST", "/_mock/expire", { access_token = old_at })
  local n = #stored
  local calls = state().token_calls
  local got = assert(qbo.get(ctx, "Customer", created.Id))
  eq(got.Id, created.Id, "id")
  eq(state().token_calls, calls + 1, "one refresh")
  eq(#stored, n + 1, "on_tokens called once")
  local t = stored[#stored]
  assert(t.refresh_token and t.refresh_token ~= old_rt, "a new refresh token")
  assert(t.access_token ~= old_at, "a new access token")
  eq(ctx.credentials.refresh_token, t.refresh_token, "ctx.credentials updated")
  eq(ctx.credentials.access_token, t.access_token, "ctx.credentials access token")
  assert(t.access_token_expires_at and t.refresh_token_expires_at, "expiry times")
  SECRETS[#SECRETS + 1] = t.access_token
  SECRETS[#SECRETS + 1] = t.refresh_token
  -- a 401 from the gateway (injected) also refreshes once
  fault("401", 1)
  assert(qbo.get(ctx, "Customer", created.Id))
  eq(#stored, n + 2, "refreshed on an injected 401")
  SECRETS[#SECRETS + 1] = ctx.credentials.access_token
  SECRETS[#SECRETS + 1] = ctx.credentials.refresh_token
end)

case("refresh before expiry (within 5 minutes), without a 401", function()
  ctx.credentials.access_token_expires_at = iso(os.time() + 120)
  local calls = state().token_calls
  local n401 = 0
  for _, r in ipairs(state().requests) do if r.status == 401 then n401 = n401 + 1 end end
  assert(qbo.get(ctx, "Customer", created.Id))
  eq(state().token_calls, calls + 1, "refreshed")
  local m401 = 0
  for _, r in ipairs(state().requests) do if r.status == 401 then m401 = m401 + 1 end end
  eq(m401, n401, "no 401")
  assert(not require("lib.quickbooks_oauth").needs_refresh(ctx.credentials), "fresh expiry")
  SECRETS[#SECRETS + 1] = ctx.credentials.access_token
  SECRETS[#SECRETS + 1] = ctx.credentials.refresh_token
end)

case("a dead refresh token: reconnect_required, not retryable", function()
  local c2 = new_ctx()
  mock("POST", "/_mock/expire", { access_token = c2.credentials.access_token })
  c2.credentials.refresh_token = "dead-refresh-token-xyz"
  local e = failed(qbo.get(c2, "Customer", created.Id))
  eq(e.code, "reconnect_required", "code")
  eq(e.retryable, false, "retryable")
end)

case("the batch endpoint's own per-minute limit: 429s ridden through, nothing lost", function()
  -- a short window stands for the minute (the mock's window_s), one batch per window
  mock("POST", "/_mock/config", { batch_per_minute = 1, window_s = 2, retry_after = 1 })
  local before = state().batch_throttled
  local recs = {}
  for i = 1, 61 do recs[i] = { DisplayName = ("Throttled Batch %02d"):format(i) } end
  local res = qbo.write(ctx, "Customer", recs)
  mock("POST", "/_mock/config", { batch_per_minute = 40, window_s = 60 })
  eq(#res, 61, "results")
  for i = 1, 61 do eq(res[i].ok, true, "record " .. i .. ": " .. tostring(res[i].error)) end
  assert(state().batch_throttled > before, "the mock throttled the batch calls")
  for i = 1, 61, 30 do
    eq(count_named("Customer", "DisplayName", recs[i].DisplayName), 1, "one object " .. i)
  end
end)

case("the realm's per-minute limit ridden through by a paged read", function()
  mock("POST", "/_mock/config", { per_minute = 2, window_s = 2, retry_after = 1 })
  local before = state().throttled
  local rows, meta = qbo.query(ctx, "SELECT * FROM Customer WHERE DisplayName LIKE 'Page Customer%'",
    { page_size = 2 })
  mock("POST", "/_mock/config", { per_minute = 500, window_s = 60 })
  assert(rows, tostring(meta))
  eq(#rows, 7, "rows")
  assert(state().throttled > before, "the mock throttled")
end)

case("the access token dies during a paged read: refreshed once, the read goes on", function()
  local n, calls = #stored, state().refresh_grants
  fault("expire", 1, { path = "query", skip = 1 })
  local rows, meta = qbo.query(ctx, "SELECT * FROM Customer WHERE DisplayName LIKE 'Page Customer%'",
    { page_size = 3 })
  assert(rows, tostring(meta))
  eq(#rows, 7, "rows")
  eq(state().refresh_grants, calls + 1, "one refresh")
  eq(#stored, n + 1, "on_tokens told")
  SECRETS[#SECRETS + 1] = ctx.credentials.access_token
  SECRETS[#SECRETS + 1] = ctx.credentials.refresh_token
end)

case("reads sent together, all refused (401) past a refresh: one refresh for the group", function()
  -- the group's two reads, the first re-made read and its retry after the refresh, then the
  -- second re-made read: five 401s. That read was refused too, but with the tokens already
  -- renewed since the group was sent a second refresh (with the first one's new refresh
  -- token) cannot help: it fails without one.
  local n, calls = #stored, state().refresh_grants
  fault("401", 5, { path = "query" })
  local out, err = qbo.read_small(ctx, { "Customer", "Item" }, 50)
  eq(out, nil, "the reads fail")
  failed(out, err)
  eq(state().refresh_grants, calls + 1, "one refresh for the group")
  eq(#stored, n + 1, "on_tokens told once")
  SECRETS[#SECRETS + 1] = ctx.credentials.access_token
  SECRETS[#SECRETS + 1] = ctx.credentials.refresh_token
end)

case("rotation like Intuit: a used refresh token is refused once its grace is over", function()
  mock("POST", "/_mock/config", { refresh_grace_s = 0 })
  local c2, c3 = new_ctx(), nil
  c3 = new_ctx()
  c3.credentials.refresh_token = c2.credentials.refresh_token -- a stale copy of c2's
  mock("POST", "/_mock/expire", { access_token = c2.credentials.access_token })
  mock("POST", "/_mock/expire", { access_token = c3.credentials.access_token })
  assert(qbo.get(c2, "Customer", created.Id)) -- refreshes: the old refresh token is used up
  local e = failed(qbo.get(c3, "Customer", created.Id))
  mock("POST", "/_mock/config", { refresh_grace_s = 86400 })
  eq(e.code, "reconnect_required", "code")
  assert(e.message:find("invalid_grant", 1, true), e.message)
  SECRETS[#SECRETS + 1] = c2.credentials.access_token
  SECRETS[#SECRETS + 1] = c2.credentials.refresh_token
end)

case("an expired refresh token: reconnect_required", function()
  local t = mock("POST", "/_mock/tokens", { expires_in = 0, refresh_expires_in = 0 })
  SECRETS[#SECRETS + 1] = t.access_token
  SECRETS[#SECRETS + 1] = t.refresh_token
  local c2 = new_ctx()
  c2.credentials.access_token, c2.credentials.refresh_token = t.access_token, t.refresh_token
  local e = failed(qbo.get(c2, "Customer", created.Id))
  eq(e.code, "reconnect_required", "code")
end)

case("on_tokens: nil + message fails the call; superseded uses the stored tokens", function()
  local c2 = new_ctx()
  mock("POST", "/_mock/expire", { access_token = c2.credentials.access_token })
  c2.on_tokens = function() return nil, "the store is busy", "store" end
  local e = failed(qbo.get(c2, "Customer", created.Id))
  eq(e.code, "token_store_failed", "code")
  assert(e.message:find("the store is busy", 1, true), e.message)
  -- superseded: the engine's on_tokens has put the newer stored tokens into ctx.credentials
  local c3, newer = new_ctx(), fresh_tokens()
  mock("POST", "/_mock/expire", { access_token = c3.credentials.access_token })
  c3.on_tokens = function()
    c3.credentials.access_token = newer.access_token
    c3.credentials.refresh_token = newer.refresh_token
    return nil, "newer credentials are stored", "superseded"
  end
  assert(qbo.get(c3, "Customer", created.Id))
  eq(c3.credentials.access_token, newer.access_token, "the stored access token is used")
  SECRETS[#SECRETS + 1] = c2.credentials.access_token
  SECRETS[#SECRETS + 1] = c2.credentials.refresh_token
end)

case("qbo_fault parses both casings and batch items", function()
  local f = qbo_fault.parse('{"fault":{"error":[{"message":"message=AuthenticationFailed; '
    .. 'errorCode=003200; statusCode=401","detail":"Token expired","code":"3200"}],'
    .. '"type":"AUTHENTICATION"}}')
  eq(f.code, "3200", "gateway code")
  eq(f.detail, "Token expired", "gateway detail")
  local g = qbo_fault.parse({ bId = "bid3", Fault = { type = "ValidationFault", Error = {
    { Message = "Stale Object Error", code = "5010", Detail = "d", element = "" } } } })
  eq(g.code, "5010", "batch item code")
  eq(g.message, "Stale Object Error", "message")
  eq(g.element, nil, "empty element")
  eq(qbo_fault.parse({ Customer = {} }), nil, "no fault")
  eq(qbo_fault.class("6240"), "general", "class")
end)

case("no error message carries a token or the client secret", function()
  assert(#ERRORS >= 8, "errors collected: " .. #ERRORS)
  for _, m in ipairs(ERRORS) do
    for _, s in ipairs(SECRETS) do
      assert(not m:find(s, 1, true), "a secret in: " .. m)
    end
  end
end)

spec.finish("quickbooks_connector")
