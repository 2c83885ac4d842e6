-- woocommerce_connector.lua - connectors/woocommerce.lua and lib/oauth1.lua against
-- tests/mocks/woocommerce_mock.py. Not a *_spec (ctest would run it without the mock):
-- tests/integration/connector_woocommerce.sh runs it.
--
-- usage: tallysync run tests/lua/woocommerce_connector.lua BASIC_BASE OAUTH_BASE KEY SECRET
--   BASIC_BASE  the mock's https listener (Basic auth; ENGINE_HTTP_CA_FILE trusts its certificate),
--   OAUTH_BASE  its plain-HTTP one (OAuth 1.0a, the default auth for an http store URL)
-- Ends with "N passed, M failed" (raises when M > 0).
local http = require "engine.http"
local json = require "engine.json"
local spec = require "lib.spec"
local oauth1 = require "lib.oauth1"
local woo = require "connectors.woocommerce"

local BASIC, PLAIN, KEY, SECRET = ...
assert(BASIC and PLAIN and KEY and SECRET,
  "usage: tallysync run tests/lua/woocommerce_connector.lua BASIC_BASE OAUTH_BASE KEY SECRET")
local case = spec.case

local function eq(got, want, what)
  if got ~= want then
    error(("%s: expected %s, got %s"):format(what or "value", tostring(want), tostring(got)), 2)
  end
end

local function ctl(method, path, body)
  local resp, err = http.request { method = method, url = BASIC .. "/_mock/" .. path, json = body,
    timeout_ms = 5000 }
  assert(resp, err)
  assert(resp.status == 200, ("mock %s: HTTP %d %s"):format(path, resp.status, resp.body))
  return resp.json
end

local function hits() return ctl("GET", "state").hits end
local function fault(kind, count, delay_ms)
  ctl("POST", "fault", { kind = kind, count = count, delay_ms = delay_ms })
end

local function ctx_basic(secret)
  return { credentials = { store_url = BASIC, consumer_key = KEY, consumer_secret = secret or SECRET },
           config = {} }
end
-- the plain-HTTP listener with the default auth (auto): OAuth 1.0a, loopback or not
local function ctx_oauth(secret)
  return { credentials = { store_url = PLAIN, consumer_key = KEY, consumer_secret = secret or SECRET,
           auth = "auto" }, config = {} }
end

ctl("POST", "reset")
ctl("POST", "seed", { entity = "orders", generate = 250, start_id = 10000,
  start = "2026-03-01T00:00:00", step_s = 60, statuses = { "processing", "completed", "on-hold" } })
ctl("POST", "seed", { entity = "products", generate = 5, start_id = 3000 })

-- {==== lib/oauth1 ====
case("oauth1: RFC 3986 encoding", function()
  eq(oauth1.encode("a b+c/~é*"), "a%20b%2Bc%2F~%C3%A9%2A", "encode")
end)

case("oauth1: base string sorts encoded keys and drops the default port", function()
  local b = oauth1.base_string("get", "HTTP://Shop.Example:80/wp-json/wc/v3/orders",
    { z = "1", a = "x y", oauth_nonce = "n" })
  eq(b, "GET&http%3A%2F%2Fshop.example%2Fwp-json%2Fwc%2Fv3%2Forders&a%3Dx%2520y%26oauth_nonce%3Dn%26z%3D1",
    "base string")
end)

case("oauth1: fresh nonce and the HMAC-SHA256 method on each signature", function()
  local a = oauth1.sign("GET", "http://x/y", { page = 1 }, "ck", "cs")
  local b = oauth1.sign("GET", "http://x/y", { page = 1 }, "ck", "cs")
  assert(a.oauth_nonce ~= b.oauth_nonce, "nonces repeat")
  eq(a.oauth_signature_method, "HMAC-SHA256", "method")
  eq(a.page, 1, "query kept")
  assert(math.abs(a.oauth_timestamp - os.time()) < 5, "timestamp")
end)
-- }====

-- {==== read: paging and filters (Basic) ====
case("paging: 252 orders in 3 pages of 100, every id once, ascending", function()
  local before = hits()
  local next_page = woo.read(ctx_basic(), "orders", {})
  local ids, pages, seen = {}, 0, {}
  while true do
    local recs, info = next_page()
    if recs == nil then assert(info == nil, info) break end
    pages = pages + 1
    eq(info.page, pages, "info.page")
    eq(info.total, 252, "X-WP-Total")
    eq(info.total_pages, 3, "X-WP-TotalPages")
    for _, r in ipairs(recs) do
      assert(not seen[r.id], "id twice: " .. r.id)
      seen[r.id] = true
      ids[#ids + 1] = r.id
    end
  end
  eq(pages, 3, "pages")
  eq(#ids, 252, "records")
  for i = 2, #ids do assert(ids[i - 1] < ids[i], "not ascending at " .. i) end
  eq(hits() - before, 3, "requests")
  local last = ctl("GET", "state").requests
  last = last[#last]
  eq(last.query.per_page, "100", "per_page")
  eq(last.auth, "basic", "auth")
  eq(woo.auth_mode(ctx_basic()), "basic", "https -> basic")
end)

case("paging: max_pages stops early, per_page is passed", function()
  local all = assert(woo.read_all(ctx_basic(), "orders", { per_page = 10, max_pages = 2 }))
  eq(#all, 20, "records")
end)

case("incremental: since -> modified_after with dates_are_gmt, until -> modified_before", function()
  local recs = assert(woo.read_all(ctx_basic(), "orders", { since = "2026-03-01T02:00:00Z" }))
  eq(#recs, 129, "orders after 02:00 GMT") -- minutes 121..249
  for _, r in ipairs(recs) do assert(r.date_modified_gmt > "2026-03-01T02:00:00", r.date_modified_gmt) end
  local q = ctl("GET", "state").requests
  q = q[#q].query
  eq(q.dates_are_gmt, "true", "dates_are_gmt")
  eq(q.modified_after, "2026-03-01T02:00:00", "modified_after")
  local window = assert(woo.read_all(ctx_basic(), "orders",
    { since = "2026-03-01T02:00:00Z", ["until"] = "2026-03-01T02:10:30Z" }))
  eq(#window, 10, "orders in the window")
  local ok = pcall(woo.read, ctx_basic(), "orders", { since = "2026-03-01T02:00:00+02:00" })
  assert(not ok, "a non-GMT since is refused")
end)

case("filters: status (one and a list) and ids", function()
  local done = assert(woo.read_all(ctx_basic(), "orders", { status = "completed" }))
  eq(#done, 84, "completed (83 generated + fixture 723)")
  for _, r in ipairs(done) do eq(r.status, "completed", "status") end
  local two = assert(woo.read_all(ctx_basic(), "orders", { status = { "completed", "on-hold" } }))
  eq(#two, 84 + 83, "completed or on-hold")
  local some = assert(woo.read_all(ctx_basic(), "orders", { ids = { 10005, 727, 10200 } }))
  eq(#some, 3, "ids")
  eq(some[1].id, 727, "ascending ids")
  local none = assert(woo.read_all(ctx_basic(), "orders", { ids = {} }))
  eq(#none, 0, "empty id list")
end)

case("customers and products read", function()
  local c = assert(woo.read_all(ctx_basic(), "customers", {}))
  eq(#c, 1, "customers")
  eq(c[1].id, 25, "fixture customer")
  local p = assert(woo.read_all(ctx_basic(), "products", {}))
  eq(#p, 6, "products")
end)

-- refunds: no store-wide list in WooCommerce; read through the orders of the window
local function refund_calls(reqs, from)
  local out = {}
  for i = from + 1, #reqs do
    local id = reqs[i].path:match("/orders/(%d+)/refunds$")
    if id then out[#out + 1] = tonumber(id) end
  end
  return out
end

case("refunds: one record per refund with its order, refund lists paged, no call for an order without refunds", function()
  local many = {}
  for i = 1, 150 do
    many[i] = { id = 20000 + i, date_created_gmt = "2026-03-01T00:10:00", amount = "1.00",
                reason = "", line_items = {} }
  end
  ctl("POST", "seed", { entity = "refunds", order_id = 10010, records = many })
  local before = #ctl("GET", "state").requests
  local recs = assert(woo.read_all(ctx_basic(), "refunds", {}))
  eq(#recs, 152, "refunds (723: 2, 10010: 150)")
  local seen, of = {}, {}
  for _, r in ipairs(recs) do
    assert(not seen[r.id], "refund twice: " .. r.id)
    seen[r.id] = true
    assert(type(r.order) == "table", "record.order")
    of[r.order.id] = (of[r.order.id] or 0) + 1
    eq(r.date_modified_gmt, r.order.date_modified_gmt, "cursor field = the order's date_modified_gmt")
    assert(tonumber(r.amount) > 0, "amount positive")
  end
  eq(of[723], 2, "fixture order 723's refunds")
  eq(of[10010], 150, "seeded order's refunds")
  assert(seen[726] and seen[724], "fixture refunds 726 and 724")
  local reqs = ctl("GET", "state").requests
  local calls = refund_calls(reqs, before)
  eq(#reqs - before, 3 + 1 + 2, "requests: 3 order pages, 1 for 723, 2 pages for 10010")
  eq(#calls, 3, "refund calls")
  for _, id in ipairs(calls) do assert(id == 723 or id == 10010, "refunds asked of order " .. id) end
  eq(reqs[#reqs].query.per_page, "100", "refunds per_page")
end)

case("refunds: the window filters orders (since); by refund id, only the orders naming one cost a refunds call", function()
  local before = #ctl("GET", "state").requests
  local recs = assert(woo.read_all(ctx_basic(), "refunds", { since = "2026-03-01T00:05:00Z" }))
  eq(#recs, 150, "only order 10010's refunds are in the window")
  local reqs = ctl("GET", "state").requests
  for _, id in ipairs(refund_calls(reqs, before)) do eq(id, 10010, "refund calls") end
  before = #ctl("GET", "state").requests
  local some = assert(woo.read_all(ctx_basic(), "refunds", { ids = { "726", 20005, 20150 },
    since = "2026-03-01T00:05:00Z" }))
  table.sort(some, function(a, b) return a.id < b.id end)
  eq(#some, 3, "the wanted refunds, whatever the window")
  eq(some[1].id, 726, "fixture refund")
  eq(some[1].order.id, 723, "its order")
  eq(some[3].id, 20150, "seeded refund")
  reqs = ctl("GET", "state").requests
  local calls = refund_calls(reqs, before)
  table.sort(calls)
  eq(table.concat(calls, ","), "723,10010,10010", "refund calls: the two orders naming a wanted id")
  local none = assert(woo.read_all(ctx_basic(), "refunds", { ids = {} }))
  eq(#none, 0, "an empty id list reads nothing")
end)

case("bad arguments raise", function()
  assert(not pcall(woo.read, ctx_basic(), "coupons", {}), "entity")
  assert(not pcall(woo.read, ctx_basic(), "orders", { per_page = 101 }), "per_page 101")
  assert(not pcall(woo.write, ctx_basic(), "prices", {}), "write entity")
end)
-- }====

-- {==== auth ====
case("basic: a wrong secret -> credentials rejected, one request, no secret in the message", function()
  local before = hits()
  local recs, msg, retryable = woo.read_all(ctx_basic("cs_wrong_secret_value"), "orders", {})
  eq(recs, nil, "records")
  eq(msg, "credentials rejected by WooCommerce (HTTP 401: woocommerce_rest_authentication_error)", "message")
  eq(retryable, false, "retryable")
  eq(hits() - before, 1, "requests (no retry on 401)")
end)

case("test(): basic ok, and wrong secret rejected", function()
  local ok, msg = woo.test(ctx_basic())
  assert(ok, msg)
  assert(msg:find("(HTTP Basic over https)", 1, true), msg)
  local bad, bmsg = woo.test(ctx_basic("cs_wrong_secret_value"))
  eq(bad, false, "wrong secret")
  assert(bmsg:find("credentials rejected", 1, true), bmsg)
end)

case("oauth1: reads 3 pages over plain HTTP, verified by the mock", function()
  eq(woo.auth_mode(ctx_oauth()), "oauth1", "a loopback http store signs")
  local all = assert(woo.read_all(ctx_oauth(), "orders", { since = "2026-03-01T00:00:00Z" }))
  eq(#all, 249, "orders")
  local reqs = ctl("GET", "state").requests
  eq(reqs[#reqs].auth, "oauth1", "auth")
  eq(reqs[#reqs].status, 200, "status")
end)

case("oauth1: test() works over plain HTTP", function()
  local ok, msg = woo.test(ctx_oauth())
  assert(ok, msg)
  assert(msg:find("connected to WooCommerce", 1, true), msg)
  assert(msg:find("(OAuth 1.0a)", 1, true), msg)
  local reqs = ctl("GET", "state").requests
  eq(reqs[#reqs].auth, "oauth1", "the mock saw a signature")
end)

case("auth = basic on an https store: HTTP Basic over real TLS, accepted", function()
  local c = ctx_basic()
  c.credentials.auth = "basic"
  local all = assert(woo.read_all(c, "customers", {}))
  eq(#all, 1, "customers")
  local reqs = ctl("GET", "state").requests
  eq(reqs[#reqs].auth, "basic", "auth")
end)

-- auth = oauth1 on an https store: WordPress behind a TLS proxy believes https too, so the
-- signature's base string must use https (real TLS here, the mock's second listener)
case("oauth1 over https (auth = oauth1): signed with the https base URL, accepted", function()
  local c = ctx_basic()
  c.credentials.auth = "oauth1"
  local all = assert(woo.read_all(c, "customers", {}))
  eq(#all, 1, "customers")
  local reqs = ctl("GET", "state").requests
  eq(reqs[#reqs].auth, "oauth1", "auth")
  local ok, msg = woo.test(c)
  assert(ok, msg)
  assert(msg:find("(OAuth 1.0a)", 1, true), msg)
end)

case("oauth1: a wrong secret is refused (signature), not retried", function()
  local before = hits()
  local recs, msg, retryable = woo.read_all(ctx_oauth("cs_wrong_secret_value"), "customers", {})
  eq(recs, nil, "records")
  eq(msg, "credentials rejected by WooCommerce (HTTP 401: woocommerce_rest_authentication_error)", "message")
  eq(retryable, false, "retryable")
  eq(hits() - before, 1, "requests")
end)

case("oauth1: the mock refuses a reused nonce and a stale timestamp, as WooCommerce does", function()
  local url = PLAIN .. "/wp-json/wc/v3/customers"
  local function get(opts)
    local q = oauth1.sign("GET", url, {}, KEY, SECRET, opts)
    local resp, err = http.request { method = "GET", url = url, query = q, timeout_ms = 5000 }
    assert(resp, err)
    return resp
  end
  local nonce = oauth1.nonce()
  eq(get({ nonce = nonce }).status, 200, "first use")
  local again = get({ nonce = nonce })
  eq(again.status, 401, "reused nonce")
  assert(again.json.message:find("nonce", 1, true), again.body)
  local stale = get({ timestamp = os.time() - 3600 })
  eq(stale.status, 401, "stale timestamp")
  assert(stale.json.message:find("timestamp", 1, true), stale.body)
end)

case("auth = basic on the plain listener: refused by the connector, nothing sent", function()
  local ctx = ctx_oauth()
  ctx.credentials.auth = "basic"
  local before = hits()
  local recs, msg = woo.read_all(ctx, "customers", {})
  eq(recs, nil, "records")
  assert(msg:find("auth basic needs an https store_url", 1, true), msg)
  eq(hits() - before, 0, "requests")
end)
-- }====

-- {==== faults ====
case("500 once: retried, then the page", function()
  local before = hits()
  fault("500", 1)
  local c = assert(woo.read_all(ctx_basic(), "customers", {}))
  eq(#c, 1, "customers")
  eq(hits() - before, 2, "requests")
end)

case("503 twice: retried with backoff, then the page", function()
  local before = hits()
  fault("503", 2)
  local c = assert(woo.read_all(ctx_basic(), "customers", {}))
  eq(#c, 1, "customers")
  eq(hits() - before, 3, "requests")
end)

case("500 for good: a clear, retryable error after the attempts", function()
  local before = hits()
  fault("500", 20)
  local recs, msg, retryable = woo.read_all(ctx_basic(), "customers", {})
  fault("500", 0)
  eq(recs, nil, "records")
  eq(msg, "WooCommerce answered HTTP 500: internal_server_error (Injected fault.)", "message")
  eq(retryable, true, "retryable")
  eq(hits() - before, woo.ATTEMPTS, "requests")
end)

case("a store slower than the timeout: error 'timeout' within the budget", function()
  fault("delay", 20, 2000)
  local t0 = os.time()
  local recs, msg, retryable = woo.read_all(ctx_basic(), "customers", { timeout_ms = 300 })
  local took = os.time() - t0
  fault("delay", 0)
  eq(recs, nil, "records")
  assert(msg:find("(timeout)", 1, true), msg)
  eq(retryable, true, "retryable")
  assert(took <= 8, "took " .. took .. " s")
  assert(not msg:find(SECRET, 1, true) and not msg:find(KEY, 1, true), "secret in message")
end)

case("a dropped connection on GET: retried", function()
  local before = hits()
  fault("drop", 1)
  local c, msg = woo.read_all(ctx_basic(), "customers", {})
  assert(c, msg)
  eq(#c, 1, "customers")
  eq(hits() - before, 2, "requests")
end)

case("oauth1: 500, 503, a drop -> re-signed retries succeed (nonces not reused)", function()
  local before = hits()
  fault("500", 1)
  local c, msg = woo.read_all(ctx_oauth(), "customers", {})
  assert(c, msg)
  fault("503", 1)
  c, msg = woo.read_all(ctx_oauth(), "customers", {})
  assert(c, msg)
  fault("drop", 1)
  c, msg = woo.read_all(ctx_oauth(), "customers", {})
  assert(c, msg)
  eq(hits() - before, 6, "requests")
  local reqs = ctl("GET", "state").requests
  eq(reqs[#reqs].auth, "oauth1", "auth")
end)

case("oauth1: timeout -> error 'timeout', no secret in it", function()
  fault("delay", 20, 2000)
  local recs, msg = woo.read_all(ctx_oauth(), "customers", { timeout_ms = 300 })
  fault("delay", 0)
  eq(recs, nil, "records")
  assert(msg:find("(timeout)", 1, true), msg)
  assert(not msg:find(SECRET, 1, true) and not msg:find(KEY, 1, true), "secret in message")
end)
-- }====

-- {==== writes ====
case("write stock, note and meta: visible in the mock", function()
  local r = woo.write(ctx_basic(), "stock", { { id = 794, stock_quantity = 7 }, { id = 3001, stock_quantity = 0 } })
  eq(#r, 2, "results")
  assert(r[1].ok and r[2].ok, r[1].error or r[2].error)
  eq(r[1].id, 794, "id")
  eq(ctl("GET", "record/products/794").stock_quantity, 7, "stock 794")
  eq(ctl("GET", "record/products/3001").stock_quantity, 0, "stock 3001")
  r = woo.write(ctx_basic(), "order_note", { { id = 727, note = "Invoice INV-1042 in QuickBooks" } })
  assert(r[1].ok, r[1].error)
  assert(r[1].note_id, "note id")
  local notes = ctl("GET", "record/orders/727")._notes
  eq(#notes, 1, "notes")
  eq(notes[1].note, "Invoice INV-1042 in QuickBooks", "note")
  r = woo.write(ctx_oauth(), "order_meta", { { id = 727, key = "_qbo_invoice", value = "INV-1042" } })
  assert(r[1].ok, r[1].error)
  local meta = ctl("GET", "record/orders/727").meta_data
  local n = 0
  for _, m in ipairs(meta) do if m.key == "_qbo_invoice" then n = n + 1; eq(m.value, "INV-1042", "meta") end end
  eq(n, 1, "meta entries")
end)

case("write: bad records and unknown ids get one result each", function()
  local r = woo.write(ctx_basic(), "stock", { { id = 794 }, { id = 999999, stock_quantity = 1 }, { id = "x" } })
  eq(#r, 3, "results")
  eq(r[1].ok, false, "no quantity")
  eq(r[1].retryable, false, "no quantity: not retryable")
  eq(r[2].ok, false, "unknown product")
  assert(r[2].error:find("HTTP 404", 1, true), r[2].error)
  eq(r[2].retryable, false, "404 not retryable")
  eq(r[3].ok, false, "bad id")
  r = woo.write(ctx_basic("cs_wrong_secret_value"), "order_note", { { id = 727, note = "x" } })
  eq(r[1].ok, false, "rejected")
  eq(r[1].retryable, false, "rejected: not retryable")
  assert(r[1].error:find("credentials rejected by WooCommerce", 1, true), r[1].error)
end)

case("a PUT whose answer is lost is retried and leaves one change", function()
  local before = #ctl("GET", "state").writes
  fault("drop_after", 1)
  local r = woo.write(ctx_basic(), "order_meta", { { id = 723, key = "_qbo_invoice", value = "INV-2001" } })
  assert(r[1].ok, r[1].error)
  local st = ctl("GET", "state")
  eq(#st.writes - before, 2, "applied twice by the store")
  local n = 0
  for _, m in ipairs(ctl("GET", "record/orders/723").meta_data) do
    if m.key == "_qbo_invoice" then n = n + 1; eq(m.value, "INV-2001", "value") end
  end
  eq(n, 1, "one meta entry")
end)

-- libcurl itself resends a request (POST too) once when a reused keep-alive connection dies
-- before any answer byte; a drop before the store acted must therefore leave exactly one note.
case("a POST dropped before the store acted: the note is written once", function()
  local notes_before = #(ctl("GET", "record/orders/723")._notes or {})
  fault("drop", 1)
  local r = woo.write(ctx_basic(), "order_note", { { id = 723, note = "once" } })
  local notes = ctl("GET", "record/orders/723")._notes or {}
  if r[1].ok then
    eq(#notes - notes_before, 1, "notes")
  else
    eq(#notes - notes_before, 0, "notes")
    eq(r[1].retryable, true, "a failed POST is reported retryable")
  end
end)
-- The store acts, then the connection dies before the answer: a POST must not be sent again
-- behind our back (the engine gives non-idempotent requests a fresh connection, so libcurl has
-- no reused connection to "retry" on).
case("a POST whose answer is lost is not silently resent", function()
  woo.read_all(ctx_basic(), "products", { per_page = 5 }) -- leaves a keep-alive connection
  local notes_before = #(ctl("GET", "record/orders/723")._notes or {})
  fault("drop_after", 1)
  local r = woo.write(ctx_basic(), "order_note", { { id = 723, note = "exactly once" } })
  local notes = ctl("GET", "record/orders/723")._notes or {}
  eq(#notes - notes_before, 1, "the store wrote the note once")
  eq(r[1].ok, false, "the lost answer is reported")
end)
-- }====

-- {==== webhooks ====
local OURS = "https://sync.example.com/api/webhooks/woocommerce?tenant=t1"

local function mock_hooks()
  local by_id = {}
  for _, w in ipairs(ctl("GET", "webhooks")) do by_id[w.id] = w end
  return by_id
end

case("delivery URLs: normalised comparison, and hand-made URLs without a query are ours", function()
  eq(woo.same_delivery_url("HTTPS://Sync.Example.com:443/api/webhooks/woocommerce/?tenant=t1", OURS), true, "normalised")
  eq(woo.same_delivery_url("https://sync.example.com/api/webhooks/woocommerce?tenant=t2", OURS), false, "other tenant")
  eq(woo.same_delivery_url("http://sync.example.com/api/webhooks/woocommerce?tenant=t1", OURS), false, "scheme")
  eq(woo.same_delivery_url("https://sync.example.com:8443/api/webhooks/woocommerce?tenant=t1", OURS), false, "port")
  eq(woo.same_delivery_url("not a url", OURS), false, "garbage")
  eq(woo.delivers_to("https://sync.example.com/api/webhooks/woocommerce", OURS), true, "no query")
  eq(woo.delivers_to("https://sync.example.com/api/webhooks/woocommerce?tenant=t2", OURS), false, "other tenant")
  eq(woo.delivers_to("https://elsewhere.example.com/api/webhooks/woocommerce", OURS), false, "other host")
end)

case("webhooks(): every page (130 webhooks, per_page 100), statuses, never a secret", function()
  local specs = {}
  for i = 1, 128 do
    specs[i] = { topic = "coupon.updated", delivery_url = "https://other.example.com/h" .. i, secret = "foreign-secret-" .. i }
  end
  specs[129] = { topic = "order.updated", delivery_url = OURS, status = "disabled", secret = "old-secret-value" }
  specs[130] = { topic = "order.created", delivery_url = OURS, status = "paused" }
  local ids = ctl("POST", "webhooks", { webhooks = specs }).ids
  local before = hits()
  local list = assert(woo.webhooks(ctx_basic()))
  eq(hits() - before, 2, "two pages")
  local seen = {}
  for _, w in ipairs(list) do
    seen[w.id] = w
    eq(w.secret, nil, "no secret field")
  end
  for _, id in ipairs(ids) do assert(seen[id], "webhook " .. id .. " listed") end
  eq(seen[ids[129]].status, "disabled", "disabled")
  eq(seen[ids[130]].status, "paused", "paused")
  eq(seen[ids[129]].delivery_url, OURS, "delivery_url")
  eq(seen[ids[129]].topic, "order.updated", "topic")
end)

case("webhooks(): over OAuth 1.0a too, and a wrong secret is refused", function()
  local list = assert(woo.webhooks(ctx_oauth()))
  assert(#list >= 130, "listed " .. #list)
  local none, msg, retryable = woo.webhooks(ctx_basic("cs_wrong_secret_value"))
  eq(none, nil, "refused")
  eq(retryable, false, "not retryable")
  assert(msg:find("credentials rejected", 1, true), msg)
  assert(not msg:find("cs_wrong_secret_value", 1, true), "no secret in the message")
end)

case("webhooks(): a 500 for good is a retryable error", function()
  fault("500", 10)
  local none, msg, retryable = woo.webhooks(ctx_basic())
  fault("500", 0)
  eq(none, nil, "failed")
  eq(retryable, true, "retryable")
  assert(msg:find("HTTP 500", 1, true), msg)
end)

case("register_webhooks(): re-activates ours, creates the missing, leaves others alone", function()
  local secret = "whs_" .. ("x"):rep(24)
  local before = mock_hooks()
  local r = assert(woo.register_webhooks(ctx_basic(), { delivery_url = OURS, secret = secret,
    topics = { "order.created", "order.updated", "customer.created" } }))
  eq(r.ok, true, "ok")
  local by_topic = {}
  for _, t in ipairs(r.topics) do by_topic[t.topic] = t end
  eq(by_topic["order.updated"].action, "updated", "disabled one updated")
  eq(by_topic["order.updated"].was, "disabled", "was disabled")
  eq(by_topic["order.created"].was, "paused", "was paused")
  eq(by_topic["customer.created"].action, "created", "missing one created")
  eq(by_topic["customer.created"].was, "missing", "was missing")
  local after = mock_hooks()
  local ours = 0
  for id, w in pairs(after) do
    if w.delivery_url == OURS then
      ours = ours + 1
      eq(w.status, "active", "active: " .. w.topic)
      eq(w.secret, secret, "the secret the store received: " .. w.topic)
      eq(w.failure_count, 0, "failure count reset")
    elseif before[id] then
      eq(w.secret, before[id].secret, "a foreign webhook keeps its secret")
      eq(w.status, before[id].status, "... and its status")
    end
  end
  eq(ours, 3, "one webhook of ours per topic")
  local again = assert(woo.register_webhooks(ctx_basic(), { delivery_url = OURS, secret = secret,
    topics = { "order.created", "order.updated", "customer.created" } }))
  for _, t in ipairs(again.topics) do eq(t.action, "updated", "second run: " .. t.topic) end
  local n = 0
  for _ in pairs(mock_hooks()) do n = n + 1 end
  local m = 0
  for _ in pairs(after) do m = m + 1 end
  eq(n, m, "a second run creates nothing")
end)

case("register_webhooks(): a refused create fails alone; bad arguments raise", function()
  local r = assert(woo.register_webhooks(ctx_basic(), { delivery_url = OURS, secret = "whs_secret_value_1",
    topics = { "order.created", "action.woocommerce_x" } }))
  eq(r.ok, true, "an action topic is accepted by the store")
  local ok, err = pcall(woo.register_webhooks, ctx_basic(), { delivery_url = OURS, topics = { "order.created" } })
  eq(ok, false, "no secret raises")
  assert(tostring(err):find("secret", 1, true), err)
  ok = pcall(woo.register_webhooks, ctx_basic(), { delivery_url = "ftp://x", secret = "s", topics = { "order.created" } })
  eq(ok, false, "bad delivery_url raises")
  ok = pcall(woo.register_webhooks, ctx_basic(), { delivery_url = OURS, secret = "s", topics = { "order" } })
  eq(ok, false, "bad topic raises")
  fault("500", 10)
  local none, msg = woo.register_webhooks(ctx_basic(), { delivery_url = OURS, secret = "whs_secret_value_2",
    topics = { "order.created" } })
  fault("500", 0)
  eq(none, nil, "a listing failure is nil, message")
  assert(not msg:find("whs_secret_value_2", 1, true), "no secret in the message")
end)
-- }====

spec.finish("woocommerce_connector")
