-- sync_spec.lua - lib/sync.lua's write stage in the real sandbox, with a stand-in target
-- connector: batch vs single writes, results matched to records, a 6140 duplicate after a crash
-- adopted only when the existing document is ours, conflict policies, dry runs, request ids.
local sync = require "lib.sync"
local json = require "engine.json"
local spec = require "lib.spec"
local case, eq = spec.case, spec.eq

-- A fake QuickBooks: records calls; answers from the tables given.
local function fake(t)
  t = t or {}
  local calls = { create = 0, update = 0, write = 0, query = {}, get = 0 }
  local c = { name = "quickbooks", calls = calls }
  function c.create(ctx, entity, doc, rid)
    calls.create = calls.create + 1
    if t.create then return t.create(doc, rid) end
    return { Id = "9" .. calls.create, SyncToken = "0", TotalAmt = 29.35 }
  end
  function c.update(ctx, entity, body)
    calls.update = calls.update + 1
    if t.update then return t.update(body) end
    return { Id = body.Id, SyncToken = tostring(tonumber(body.SyncToken) + 1) }
  end
  function c.write(ctx, entity, recs)
    calls.write = calls.write + 1
    local out = {}
    for i, r in ipairs(recs) do
      out[i] = t.write and t.write(r, i) or { ok = true, id = "b" .. i, sync_token = "0" }
    end
    return out
  end
  function c.query(ctx, sql)
    calls.query[#calls.query + 1] = sql
    return t.rows or {}
  end
  function c.get(ctx, entity, id)
    calls.get = calls.get + 1
    return t.current
  end
  return c
end

local function state(target, o)
  o = o or {}
  return { m = { source = { connector = "woocommerce", entity = "orders" },
                 target = { connector = "quickbooks", entity = "Invoice" } },
           target = target, tctx = {}, dry_run = o.dry_run or false,
           policy = o.policy or "source_wins" }
end

local function doc(n)
  return { DocNumber = tostring(n), PrivateNote = "WooCommerce order #" .. n .. "\nmore",
    Line = json.array({ { Amount = 28, DetailType = "SalesItemLineDetail" } }),
    TxnTaxDetail = { TotalTax = 1.35 } }
end

local function create_item(n)
  return { action = "create", source_id = tostring(n), doc = doc(n), currency = "USD",
    source_total = 2935, request_id = sync.request_id("t", "f", n, "h") }
end

case("request ids are stable, distinct and fit QuickBooks' 50 characters", function()
  local a = sync.request_id("t1", "flow", "727", "hash")
  eq(a, sync.request_id("t1", "flow", "727", "hash"), "stable")
  assert(a ~= sync.request_id("t2", "flow", "727", "hash"), "tenant matters")
  assert(a ~= sync.request_id("t1", "flow", "727", "hash2"), "content matters")
  assert(#a <= 50 and a:match("^[%w%-]+$"), a)
end)

case("one create goes alone; several go in one batch, results matched in order", function()
  local t = fake()
  local page = sync.write(state(t), { items = { create_item(1) } })
  eq(t.calls.create, 1, "single create")
  eq(t.calls.write, 0, "no batch for one")
  eq(page.items[1].outcome, "created", "outcome")
  eq(page.items[1].target_id, "91", "target id")
  eq(page.items[1].target_total, 2935, "target total from TotalAmt")
  t = fake()
  page = sync.write(state(t), { items = { create_item(1), create_item(2),
    { action = "unchanged", source_id = "3", doc = doc(3), currency = "USD" } } })
  eq(t.calls.write, 1, "one batch")
  eq(page.items[2].target_id, "b2", "second result to second record")
  eq(page.items[3].outcome, "unchanged", "unchanged untouched")
  eq(page.items[3].target_total, 2935, "unchanged total from the document")
  eq(page.items[1].doc, nil, "documents are dropped before C reads the page")
end)

case("a total from the document itself takes its discount line off", function()
  local d = doc(4)
  d.Line[1].Amount = 30
  d.Line[2] = { Amount = 2, DetailType = "DiscountLineDetail" }
  local page = sync.write(state(fake()), { items = { { action = "unchanged", source_id = "4",
    doc = d, currency = "USD" } } })
  eq(page.items[1].target_total, 2935, "30 - 2 + 1.35")
end)

case("6140 after a crash: our own document is adopted, never created twice", function()
  local t = fake{ create = function() return nil, { code = "6140", message = "Duplicate Document Number" } end,
    rows = { { Id = "55", SyncToken = "3", DocNumber = "727", PrivateNote = "WooCommerce order #727\nother" } } }
  local page = sync.write(state(t), { items = { create_item(727) } })
  eq(page.items[1].outcome, "created", "adopted")
  eq(page.items[1].target_id, "55", "the existing id")
  eq(page.items[1].sync_token, "3", "its SyncToken")
  assert(t.calls.query[1]:find("DocNumber = '727'", 1, true), t.calls.query[1])
end)

case("6140 and the existing document is someone else's: a failure, not an adoption", function()
  local t = fake{ create = function() return nil, { code = "6140", message = "Duplicate Document Number" } end,
    rows = { { Id = "56", DocNumber = "727", PrivateNote = "typed by hand" } } }
  local page = sync.write(state(t), { items = { create_item(727) } })
  eq(page.items[1].outcome, "failed", "failed")
  eq(page.items[1].code, "6140", "code kept")
  assert(page.items[1].error:find("not this record's", 1, true), page.items[1].error)
end)

case("stale SyncToken: source_wins writes again over the current version", function()
  local n = 0
  local t = fake{ update = function(body)
      n = n + 1
      if n == 1 then return nil, { conflict = true, code = "5010", message = "stale",
        current = { Id = body.Id, SyncToken = "7" } } end
      return { Id = body.Id, SyncToken = "8" }
    end }
  local item = { action = "update", source_id = "1", doc = doc(1), target_id = "40", sync_token = "2" }
  local page = sync.write(state(t), { items = { item } })
  eq(page.items[1].outcome, "updated", "updated")
  eq(page.items[1].sync_token, "8", "new token")
  eq(n, 2, "two updates")
end)

case("stale SyncToken: target_wins skips, manual parks both versions", function()
  local stale = function(body) return nil, { conflict = true, code = "5010", message = "stale",
    current = { Id = body.Id, SyncToken = "7", PrivateNote = "theirs" } } end
  local item = { action = "update", source_id = "1", doc = doc(1), target_id = "40", sync_token = "2" }
  local page = sync.write(state(fake{ update = stale }, { policy = "target_wins" }), { items = { item } })
  eq(page.items[1].outcome, "skipped", "target_wins")
  item = { action = "update", source_id = "1", doc = doc(1), target_id = "40", sync_token = "2" }
  page = sync.write(state(fake{ update = stale }, { policy = "manual" }), { items = { item } })
  eq(page.items[1].outcome, "conflict", "manual")
  local c = json.decode(page.items[1].conflict)
  eq(c.theirs.PrivateNote, "theirs", "theirs kept")
  eq(c.ours.DocNumber, "1", "ours kept")
end)

case("a dry run writes nothing and reports the document and the field difference", function()
  local t = fake{ current = { Id = "40", SyncToken = "2", DocNumber = "1", PrivateNote = "old" } }
  local page = sync.write(state(t, { dry_run = true }), { items = { create_item(5),
    { action = "update", source_id = "1", doc = doc(1), target_id = "40", sync_token = "2" } } })
  eq(t.calls.create + t.calls.update + t.calls.write, 0, "no write")
  eq(page.items[1].outcome, "created", "would create")
  eq(json.decode(page.items[1].output).DocNumber, "5", "the document")
  local d = json.decode(page.items[2].diff)
  eq(d.PrivateNote.from, "old", "diff from")
  eq(d.DocNumber, nil, "equal fields are not in the diff")
end)

case("write failures keep their cause and whether a retry can help", function()
  local t = fake{ write = function(r, i)
      if i == 2 then return { ok = false, error = "QuickBooks answered HTTP 500", code = "10000", retryable = true } end
      return { ok = true, id = "x" .. i }
    end }
  local page = sync.write(state(t), { items = { create_item(1), create_item(2) } })
  eq(page.items[1].outcome, "created", "first")
  eq(page.items[2].outcome, "failed", "second")
  eq(page.items[2].retryable, true, "retryable")
  eq(page.items[2].code, "10000", "code")
end)

case("a create another job has reserved is not sent: it fails retryably for a later retry", function()
  local t = fake()
  local page = sync.write(state(t), { items = { create_item(1), create_item(2), create_item(3) } }, { 2 })
  eq(t.calls.write, 1, "one batch for the others")
  eq(page.items[2].outcome, "failed", "refused one")
  eq(page.items[2].code, "in_flight", "code")
  eq(page.items[2].retryable, true, "retryable")
  eq(page.items[1].outcome, "created", "first sent")
  eq(page.items[3].outcome, "created", "third sent")
end)

case("c_write answers the page C records: scalars only, valid UTF-8, floats and tables left out", function()
  local t = fake{ write = function(r, i)
      if i == 2 then return { ok = false, error = "HTTP 500: \xff\xfe broken", code = "10000", retryable = true } end
      return { ok = true, id = "x" .. i }
    end }
  local page = { items = { create_item(1), create_item(2) }, total = 2.5, max_modified = "2026-01-01T00:00:00Z" }
  local err, retry, v = sync.c_write(state(t), page, nil)
  eq(err, nil, "no error")
  local text = json.encode(v) -- what eng_vm_call's 'j' result does: it must not raise
  local back = json.decode(text)
  eq(back.total, nil, "a float total is not an integer count")
  eq(back.max_modified, "2026-01-01T00:00:00Z", "cursor candidate")
  eq(back.items[1].outcome, "created", "first")
  eq(back.items[1].doc, nil, "no tables")
  eq(back.items[1].source_total, 2935, "minor units")
  eq(back.items[2].error, "HTTP 500: \u{FFFD}\u{FFFD} broken", "invalid bytes replaced")
  eq(back.items[2].retryable, true, "retryable")
  eq(back.cancelled, false, "not cancelled")
end)

case("job payloads: a webhook's record and a retry's list, as values", function()
  local json = require "engine.json"
  local err, retry, e, f, src, ids = sync.c_job(json.decode(
    '{"source": "woocommerce", "entity": "orders", "id": 727, "event": "updated"}'))
  eq(err, nil, "no error")
  eq(e, "orders", "entity")
  eq(f, "", "default flow")
  eq(src, "woocommerce", "source")
  eq(json.encode(ids), '["727"]', "ids")
  err, retry, e, f, src, ids = sync.c_job(json.decode('{"entity": "orders", "flow": "x", "ids": ["1", "2"]}'))
  eq(json.encode(ids), '["1","2"]', "retry ids")
  eq(src, "", "no source")
  local msg = sync.c_job(json.decode('{"entity": "orders"}'))
  assert(msg:find("no record", 1, true), msg)
end)

case("sweeps: lib.sync names the entities the source's webhooks bring", function()
  local json = require "engine.json"
  local err, _, since, source, n, list = sync.c_sweep(json.decode(
    '{"source": "woocommerce", "reason": "downtime", "since": "2026-01-01T00:00:00Z"}'))
  eq(err, nil, "no error")
  eq(since, "2026-01-01T00:00:00Z", "since")
  eq(source, "woocommerce", "source")
  eq(n, 3, "the three entities woocommerce's webhooks bring")
  eq(select(3, sync.c_pick(list, 1)), "customers", "customers first (sorted: before the orders that name them)")
  eq(select(3, sync.c_pick(list, 3)), "products", "products")
  local _, _, _, _, none = sync.c_sweep(json.decode('{"source": "quickbooks"}'))
  eq(none, 0, "a source whose connector declares no webhook entities sweeps nothing")
  assert(sync.c_sweep(json.decode('{"reason": "x"}')):find("no source", 1, true), "no source")
end)

case("dependencies spread over the connections only while the whole run fits one batch window", function()
  local function st_of(total, par)
    local t = { name = "quickbooks", BATCH_PER_MINUTE = 40, MAX_BATCH = 30, CONCURRENT = 10 }
    local st = state(t)
    st.total, st.dep_batches = total, 0
    st.tctx = { config = { parallel_requests = par } }
    return st
  end
  local function groups(nc, ni)
    local c, i = {}, {}
    for k = 1, nc do c[k] = {} end
    for k = 1, ni do i[k] = {} end
    return { { entity = "Customer", records = c }, { entity = "Item", records = i } }
  end
  -- 630 orders: 21 batches of invoices + 10 of dependencies fit 40: 9 full batches become 10
  local st = st_of(630)
  eq(sync.dep_spread(st, groups(200, 50)), 10, "a small run spreads")
  eq(st.dep_batches, 10, "what it spent")
  -- a second round of that run no longer fits (10 + 10 + 21 > 40): full batches
  eq(sync.dep_spread(st, groups(20, 0)), nil, "the window is spent")
  eq(st.dep_batches, 11, "counted as full batches")
  -- 1,200 orders: 40 batches of invoices alone fill the window
  eq(sync.dep_spread(st_of(1200), groups(200, 50)), nil, "a long run keeps full batches")
  -- as many full batches as connections already: nothing to spread
  eq(sync.dep_spread(st_of(60), groups(300, 0)), nil, "full batches on every connection")
  -- one request at a time: nothing to spread over
  eq(sync.dep_spread(st_of(60, 1), groups(40, 0)), nil, "one connection")
  -- a source that does not say its total: full batches
  eq(sync.dep_spread(st_of(nil), groups(40, 0)), nil, "unknown total")
end)

case("connectors are shared by every task and frozen: nothing can patch them", function()
  local qbo = require "connectors.quickbooks"
  local ok, err = pcall(function() qbo.company = function() end end)
  eq(ok, false, "assigning to a connector's field is refused")
  assert(tostring(err):find("read%-only"), tostring(err))
  eq(type(qbo.company), "function", "the connector's own company() is still there")
end)

spec.finish("sync_spec")
