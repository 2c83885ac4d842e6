-- connectors/woocommerce.lua: WooCommerce REST API (wc/v3): credentials, test(ctx), read(ctx,
-- entity, opts) for orders / customers / products / refunds and write(ctx, entity, records) for
-- what flows back (stock, order notes, order meta). Must not: put a credential into a message or
-- a log line.
--
-- Authentication (credential field `auth`, public): "auto" (the default) sends HTTP Basic with the
-- consumer key and secret over https and OAuth 1.0a one-legged signatures (lib/oauth1.lua,
-- HMAC-SHA256, in the query string, a fresh nonce and timestamp on every attempt) over plain
-- http, loopback included: WordPress tries Basic only when it believes the request is HTTPS, and
-- a key sent in clear has crossed the wire whatever the answer. "oauth1" signs over https too (a
-- TLS proxy that does not tell WordPress about HTTPS). "basic" needs an https store_url: refused
-- when the credentials are stored (check_credentials) and, for a row stored before that rule,
-- by every call here before any request is sent.
--
-- read(ctx, entity, opts) -> next_page
--   entity: "orders" | "customers" | "products" | "refunds"
--   "refunds": WooCommerce has no store-wide refund list; the orders modified in the window are
--   read (the same opts: a refund bumps its order's date_modified), and for each order whose
--   refunds[] is not empty GET /orders/{id}/refunds (every page, per_page 100). A record is the
--   refund object (id = the refund's id) with `order` = the order and date_modified_gmt = the
--   order's (the cursor; see refunds_pages). A page of orders costs at most one refunds call
--   per refunded order and 100 refunds; info counts orders. opts.ids (refund ids, a retry):
--   WooCommerce cannot fetch a refund without its order, so every order is scanned (no
--   window), a refunds call made only for an order whose refunds[] names a wanted id, and
--   the read stops once all are found.
--   opts: since (ISO-8601 GMT, e.g. "2026-01-01T00:00:00Z" -> modified_after, dates_are_gmt=true),
--         until (-> modified_before), status (string or list; orders and products), ids (list of
--         ids -> include), per_page (1..100, default 100), max_pages, orderby ("id" | "date" |
--         "modified" | "include"; default "id"), order ("asc" | "desc"; default "asc"),
--         timeout_ms (per attempt, default 30000)
--   next_page() -> records, info   one page per call, info = {page=, total=, total_pages=}
--              -> nil                after the last page (X-WP-TotalPages) or max_pages
--              -> nil, message, retryable   on a failure (then every later call repeats it)
--   Bad arguments (unknown entity, per_page out of range) raise.
-- read_all(ctx, entity, opts) -> list of all records | nil, message, retryable
--
-- test(ctx) -> true, message | false, message   one GET /system_status, authenticated like read
--   and write; the message names the mode used ("HTTP Basic over https" or "OAuth 1.0a").
--
-- webhooks(ctx, opts) -> list of the store's webhooks | nil, message, retryable
--   GET /webhooks (status=all), every page (per_page, default 100; max_pages, default 20).
--   Each: {id, name, status ("active" | "paused" | "disabled"), topic, delivery_url,
--   date_modified_gmt}; WooCommerce never returns a webhook's secret (write-only).
-- register_webhooks(ctx, {delivery_url =, topics = {...}, secret =}) -> report | nil, message,
--   retryable   makes each topic have one active webhook of ours (delivery_url equal to ours,
--   normalised: delivers_to) signing with secret: a missing one is created (POST /webhooks
--   {name, topic, delivery_url, secret, status = "active"}), each existing one of ours gets
--   PUT /webhooks/{id} {status = "active", secret, delivery_url} (re-activates a paused or
--   disabled one, and makes it sign with this secret). report = {topics = {{topic, action =
--   "created" | "updated" | "failed", id, was ("active" | "paused" | "disabled" | "missing"),
--   error}}, ok = every topic done}. The secret is never put into a message.
-- same_delivery_url(a, b) -> bool   scheme and host case-insensitive, default port and a trailing
--   '/' ignored, query compared as a set of parameters.
-- delivers_to(url, ours) -> bool   a webhook delivering to url is ours: same_delivery_url(url,
--   ours), or url has no query and equals ours without its query (the engine's ingest routes a
--   delivery without ?tenant= by its store URL, so such a webhook, made by hand, is ours too).
-- WEBHOOK_TOPICS: the topics the engine syncs from (order, customer, product created/updated/
--   deleted/restored where WooCommerce has them).
--
-- write(ctx, entity, records [, opts]) -> results (one per record, same order); opts.timeout_ms
--   "stock":      {id = product id, stock_quantity = int}     PUT /products/{id}
--   "order_note": {id = order id, note = text, customer_note = bool?}  POST /orders/{id}/notes
--   "order_meta": {id = order id, key = meta key, value = text}  PUT /orders/{id} meta_data
--   result: {ok = true, id = id [, note_id = the note's id]}
--         | {ok = false, id = id, error = message, retryable = bool}
--   A record without a positive integer id or with a bad field fails alone (retryable = false).
--
-- Errors: 401/403 -> "credentials rejected by WooCommerce (HTTP 401: <code>)", never retried.
-- Retries: Basic requests use engine.http's retries (429/503 always; timeouts, resets, 502/504
-- for GET/PUT) with its backoff; a 500 is re-issued by this file up to ATTEMPTS times for
-- GET/PUT. OAuth requests get engine.http retries = 0 and are re-issued here, re-signed, since a
-- resend of the same signed URL reuses its nonce and WooCommerce would refuse it with 401.
-- Re-issues made here do not sleep (the sandbox has no sleep; engine.http does not retry 500):
-- only the per-store rate limit spaces them. PUTs are idempotent (stock and meta set values, meta
-- merged by key); an order note is a POST: a failure reported retryable after a timeout or a
-- dropped connection may already have been written, and libcurl itself resends a request once
-- when a reused keep-alive connection dies before any answer byte.
-- Rate: every request carries rate = {key = "woocommerce:" .. store_url, per_second = 5,
-- burst = 10, concurrent = 4}: WooCommerce core has no REST rate limit, but each request is a
-- full PHP/WordPress boot on the shop's own (often shared) hosting; a sync must not slow the
-- storefront or trip the host's WAF (which answers 429/503). One key per store, shared by all
-- workers, so parallel jobs for one shop stay under that together.
local http = require "engine.http"
local crypto = require "engine.crypto"
local oauth1 = require "lib.oauth1"

local M = {
  name = "woocommerce",
  account_field = "store_url", -- webhook deliveries name their store (X-WC-Webhook-Source)
  -- a delivery's resource (X-WC-Webhook-Resource, else the topic's first part) -> the entity
  -- whose default flow syncs that record. The engine reads this table when the connector is
  -- published and routes every delivery by it in C: no Lua runs per delivery. A resource not
  -- listed (coupon, ...) is kept as an ignored event.
  webhook_entities = { order = "orders", customer = "customers", product = "products" },
  credentials = {
    { name = "store_url", type = "url", required = true, schemes = { "https", "http" },
      http_note = "store_url uses plain HTTP: the connector signs each request with OAuth 1.0a "
        .. "(the key and secret never cross the wire), but orders and customers travel "
        .. "unencrypted, so prefer the store's https URL",
      description = "the store's home URL, e.g. https://shop.example.com (no /wp-json)" },
    { name = "consumer_key", type = "string", required = true, secret = true,
      description = "REST API key (ck_...), read permission at least" },
    { name = "consumer_secret", type = "string", required = true, secret = true,
      description = "REST API secret (cs_...)" },
    { name = "webhook_secret", type = "string", secret = true,
      description = "the secret set on the store's webhooks (signs X-WC-Webhook-Signature)" },
    { name = "auth", type = "string", enum = { "auto", "basic", "oauth1" }, default = "auto",
      description = "how requests authenticate: auto (HTTP Basic over https, OAuth 1.0a over "
        .. "http), basic (https only), oauth1 (also over https, for a TLS proxy that does not "
        .. "tell WordPress)" },
  },
}

M.AUTH_MODES = { auto = true, basic = true, oauth1 = true }

local function basic_over_http(store_url, auth)
  return auth == "basic" and type(store_url) == "string" and not store_url:lower():match("^https://")
end

local BASIC_NEEDS_HTTPS = "auth basic needs an https store_url: over plain HTTP the consumer key "
  .. "and secret would cross the wire in clear and WordPress ignores them (use auto or oauth1)"

-- check_credentials(values) -> nil | message, field   the rules across fields, called by
-- lib/credentials.lua validate() after each field passed its own checks.
function M.check_credentials(values)
  if basic_over_http(values.store_url, values.auth) then return BASIC_NEEDS_HTTPS, "auth" end
  return nil
end

local API = "/wp-json/wc/v3"
M.PER_PAGE = 100        -- WordPress' maximum
M.TIMEOUT_MS = 30000    -- per attempt
M.HTTP_RETRIES = 3      -- engine.http retries (Basic)
M.ATTEMPTS = 3          -- re-issues by this file (500 on GET/PUT; every retry under OAuth)
M.RATE = { per_second = 5, burst = 10, concurrent = 4 }

local ENTITIES = { orders = true, customers = true, products = true }
local HAS_STATUS = { orders = true, products = true }

local function store_base(ctx)
  return (ctx.credentials.store_url:gsub("/+$", ""))
end

-- auth_mode(ctx) -> "basic" | "oauth1" | nil, message   for this store (see the top of the file);
-- nil for auth = "basic" on a plain-HTTP store_url or an unknown auth value: nothing is sent.
function M.auth_mode(ctx)
  local c = ctx.credentials
  local auth = c.auth
  if auth == nil then auth = "auto" end
  if not M.AUTH_MODES[auth] then return nil, "auth must be one of: auto, basic, oauth1" end
  if basic_over_http(c.store_url, auth) then return nil, BASIC_NEEDS_HTTPS end
  if auth ~= "auto" then return auth end
  return store_base(ctx):lower():match("^https://") and "basic" or "oauth1"
end

M.AUTH_NAMES = { basic = "HTTP Basic over https", oauth1 = "OAuth 1.0a" }

local function err_code(resp)
  local body = type(resp.json) == "table" and resp.json or {}
  return type(body.code) == "string" and body.code or nil,
    type(body.message) == "string" and body.message or nil
end

-- request(ctx, method, path, query, json_body, timeout_ms)
--   -> resp (2xx) | nil, message, retryable, status_or_code
local function request(ctx, method, path, query, body, timeout_ms)
  local c = ctx.credentials
  local url = store_base(ctx) .. API .. path
  local mode, why = M.auth_mode(ctx)
  if not mode then return nil, why, false, "auth" end
  local idempotent = method == "GET" or method == "PUT"
  local msg, retryable, what
  for _ = 1, M.ATTEMPTS do
    local q, headers = query or {}, { Accept = "application/json" }
    if mode == "oauth1" then
      q = oauth1.sign(method, url, query or {}, c.consumer_key, c.consumer_secret)
    else
      headers.Authorization = "Basic " .. crypto.base64_encode(c.consumer_key .. ":" .. c.consumer_secret)
    end
    local resp, err, code = http.request {
      method = method, url = url, query = q, headers = headers, json = body,
      timeout_ms = timeout_ms or M.TIMEOUT_MS,
      retries = mode == "basic" and M.HTTP_RETRIES or 0,
      rate = { key = "woocommerce:" .. c.store_url, per_second = M.RATE.per_second,
               burst = M.RATE.burst, concurrent = M.RATE.concurrent },
    }
    local again
    if resp == nil then
      what = code
      msg = ("WooCommerce request failed (%s): %s"):format(code, err)
      retryable = code == "timeout" or code == "connect" or code == "dns"
      -- engine.http already retried these for Basic; under OAuth re-sign and try again (GET/PUT
      -- only: from here a reset after sending cannot be told from a refused connection)
      again = mode == "oauth1" and idempotent and (code == "connect" or code == "timeout")
    else
      local s = resp.status
      if s >= 200 and s < 300 then return resp end
      local wc_code, wc_msg = err_code(resp)
      what = s
      if s == 401 or s == 403 then
        return nil, ("credentials rejected by WooCommerce (HTTP %d: %s)"):format(s,
          wc_code or "no error code"), false, s
      end
      msg = ("WooCommerce answered HTTP %d%s%s"):format(s, wc_code and (": " .. wc_code) or "",
        wc_msg and (" (" .. wc_msg .. ")") or "")
      retryable = s == 429 or s >= 500
      again = (s == 500 and idempotent)
        or (mode == "oauth1" and (s == 429 or s == 503 or (idempotent and (s == 502 or s == 504))))
    end
    if not again then break end
  end
  return nil, msg, retryable, what
end

local function iso_gmt(v, what)
  if type(v) ~= "string" then error(("woocommerce.read: %s must be an ISO-8601 GMT string"):format(what), 3) end
  local d = v:match("^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)")
  local zone = d and v:sub(#d + 1):gsub("^%.%d+", "") or nil
  if not d or not (zone == "" or zone == "Z" or zone == "z" or zone == "+00:00") then
    error(("woocommerce.read: %s must be GMT like 2026-01-15T09:30:00Z"):format(what), 3)
  end
  return d
end

local function list_param(v)
  if type(v) == "table" then
    local t = {}
    for i, x in ipairs(v) do t[i] = tostring(x) end
    return table.concat(t, ",")
  end
  return tostring(v)
end

local order_pages

-- every refund object of one order, oldest first -> list | nil, message, retryable
local function order_refunds(ctx, order, timeout_ms)
  local out, page, total_pages = {}, 0, 1
  while page < total_pages do
    page = page + 1
    local resp, msg, retryable = request(ctx, "GET", ("/orders/%d/refunds"):format(order.id),
      { per_page = M.PER_PAGE, page = page, orderby = "id", order = "asc" }, nil, timeout_ms)
    if resp == nil then return nil, msg, retryable end
    if type(resp.json) ~= "table" then
      return nil, ("WooCommerce answered the refunds of order %d without a JSON list"):format(order.id), true
    end
    total_pages = tonumber(resp.headers["x-wp-totalpages"]) or page
    if #resp.json == 0 then break end
    for _, r in ipairs(resp.json) do out[#out + 1] = r end
  end
  return out
end

-- The refunds of the orders modified in the window, a page of orders at a time. The cursor
-- (date_modified_gmt) is the order's, not the refund's date_created_gmt: the window filters
-- orders by their date_modified, so only the order's value says how far the read got; a
-- refund's creation date can be later than an order already passed (clock skew, an edit
-- racing the page) or earlier than the order's last change, and either would move the cursor
-- off the orders' axis.
local function refunds_pages(ctx, opts)
  -- refund ids (a retry job): every order, newest first, is scanned for its refunds[]
  -- summary naming one; only such an order costs a refunds call; done once all are found
  local wanted, left
  if opts.ids then
    wanted, left = {}, 0
    for _, id in ipairs(opts.ids) do
      local n = math.tointeger(tonumber(id))
      if n and not wanted[n] then wanted[n], left = true, left + 1 end
    end
    if left == 0 then return function() return nil end end
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.ids, o.since, o["until"], o.orderby, o.order = nil, nil, nil, "id", "desc"
    opts = o
  end
  local orders, failed = order_pages(ctx, "orders", opts), nil
  local function names_wanted(order)
    if not wanted then return true end
    for _, s in ipairs(order.refunds) do
      if type(s) == "table" and wanted[math.tointeger(s.id) or false] == true then return true end
    end
    return false
  end
  return function()
    if failed then return nil, failed[1], failed[2] end
    if wanted and left == 0 then return nil end
    local recs, info, retryable = orders()
    if recs == nil then
      if info ~= nil then failed = { info, retryable } end
      return nil, info, retryable
    end
    local out = {}
    for _, order in ipairs(recs) do
      if type(order) == "table" and math.type(order.id) == "integer"
          and type(order.refunds) == "table" and #order.refunds > 0 and names_wanted(order) then
        local list, msg, again = order_refunds(ctx, order, opts.timeout_ms)
        if list == nil then
          failed = { msg, again }
          return nil, msg, again
        end
        for _, r in ipairs(list) do
          local id = type(r) == "table" and math.tointeger(r.id) or nil
          local take = type(r) == "table" and (not wanted or (id ~= nil and wanted[id] == true))
          if take and wanted then wanted[id], left = false, left - 1 end
          if take then
            r.order = order
            r.date_modified_gmt = order.date_modified_gmt
            out[#out + 1] = r
          end
        end
      end
    end
    return out, info
  end
end

-- read(ctx, entity, opts) -> next_page (see the top of the file)
function M.read(ctx, entity, opts)
  if entity == "refunds" then return refunds_pages(ctx, opts or {}) end
  if not ENTITIES[entity] then
    error(("woocommerce.read: unknown entity '%s' (orders, customers, products, refunds)"):format(tostring(entity)), 2)
  end
  return order_pages(ctx, entity, opts)
end

-- one entity's list, a page per call (see read at the top of the file)
function order_pages(ctx, entity, opts)
  opts = opts or {}
  local per_page = opts.per_page or M.PER_PAGE
  if math.type(per_page) ~= "integer" or per_page < 1 or per_page > 100 then
    error("woocommerce.read: per_page must be an integer in 1..100", 2)
  end
  -- id order by default: a record modified while the run pages keeps its place (ordering by date
  -- or modified would move it across pages), and orderby=modified is not documented (reference 1.2).
  local q = { per_page = per_page, orderby = opts.orderby or "id", order = opts.order or "asc" }
  if opts.since or opts["until"] then q.dates_are_gmt = "true" end
  if opts.since then q.modified_after = iso_gmt(opts.since, "since") end
  if opts["until"] then q.modified_before = iso_gmt(opts["until"], "until") end
  if opts.status and HAS_STATUS[entity] then q.status = list_param(opts.status) end
  if opts.ids then
    if #opts.ids == 0 then return function() return nil end end
    q.include = list_param(opts.ids)
  end
  local page, total_pages, failed = 0, nil, nil
  return function()
    if failed then return nil, failed[1], failed[2] end
    if total_pages and page >= total_pages then return nil end
    if opts.max_pages and page >= opts.max_pages then return nil end
    page = page + 1
    q.page = page
    local resp, msg, retryable = request(ctx, "GET", "/" .. entity, q, nil, opts.timeout_ms)
    if resp == nil then
      failed = { msg, retryable }
      return nil, msg, retryable
    end
    if type(resp.json) ~= "table" then
      failed = { ("WooCommerce answered page %d of %s without a JSON list"):format(page, entity), true }
      return nil, failed[1], failed[2]
    end
    total_pages = tonumber(resp.headers["x-wp-totalpages"]) or page
    local recs = resp.json
    if #recs == 0 then total_pages = page end
    if page > total_pages then return nil end
    return recs, { page = page, total = tonumber(resp.headers["x-wp-total"]), total_pages = total_pages }
  end
end

-- read_all(ctx, entity, opts) -> every record | nil, message, retryable
function M.read_all(ctx, entity, opts)
  local out, next_page = {}, M.read(ctx, entity, opts)
  while true do
    local recs, msg, retryable = next_page()
    if recs == nil then
      if msg then return nil, msg, retryable end
      return out
    end
    for _, r in ipairs(recs) do out[#out + 1] = r end
  end
end

local function positive_id(v)
  return math.type(v) == "integer" and v > 0
end

local WRITERS = {
  stock = function(r)
    if math.type(r.stock_quantity) ~= "integer" then return nil, "stock_quantity must be an integer" end
    return "PUT", ("/products/%d"):format(r.id), { manage_stock = true, stock_quantity = r.stock_quantity }
  end,
  order_note = function(r)
    if type(r.note) ~= "string" or r.note == "" then return nil, "note must be a non-empty string" end
    return "POST", ("/orders/%d/notes"):format(r.id), { note = r.note, customer_note = r.customer_note == true }
  end,
  order_meta = function(r)
    if type(r.key) ~= "string" or r.key == "" then return nil, "key must be a non-empty string" end
    if r.value == nil then return nil, "value is required" end
    return "PUT", ("/orders/%d"):format(r.id), { meta_data = { { key = r.key, value = r.value } } }
  end,
}

-- write(ctx, entity, records) -> one result per record (see the top of the file)
function M.write(ctx, entity, records, opts)
  local writer = WRITERS[entity]
  if not writer then
    error(("woocommerce.write: unknown entity '%s' (stock, order_note, order_meta)"):format(tostring(entity)), 2)
  end
  opts = opts or {}
  local results = {}
  for i, r in ipairs(records) do
    if type(r) ~= "table" or not positive_id(r.id) then
      results[i] = { ok = false, error = "record needs a positive integer id", retryable = false }
    else
      local method, path, body = writer(r)
      if method == nil then
        results[i] = { ok = false, id = r.id, error = path, retryable = false }
      else
        local resp, msg, retryable = request(ctx, method, path, nil, body, opts.timeout_ms)
        if resp then
          local got = type(resp.json) == "table" and resp.json.id or nil
          results[i] = { ok = true, id = r.id, note_id = entity == "order_note" and got or nil }
        else
          results[i] = { ok = false, id = r.id, error = msg, retryable = retryable == true }
        end
      end
    end
  end
  return results
end

-- {==== webhooks ====

M.WEBHOOK_TOPICS = { "order.created", "order.updated", "order.deleted", "customer.created",
  "customer.updated", "product.created", "product.updated" }
M.WEBHOOK_MAX_PAGES = 20
local WEBHOOK_STATUS = { active = true, paused = true, disabled = true }
local DEFAULT_PORT = { http = "80", https = "443" }

-- url -> scheme, host:port, path without trailing '/', sorted query parameters (or nil).
local function url_parts(url)
  if type(url) ~= "string" then return nil end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil end
  scheme = scheme:lower()
  rest = rest:gsub("#.*$", "")
  local authority, path, query = rest:match("^([^/?]*)([^?]*)%??(.*)$")
  authority = authority:lower():gsub("^.*@", "")
  local host, port = authority:match("^(.-):(%d+)$")
  if host and port == DEFAULT_PORT[scheme] then authority = host end
  path = path:gsub("/+$", "")
  local params = {}
  for pair in query:gmatch("[^&]+") do params[#params + 1] = pair end
  table.sort(params)
  return scheme, authority, path, table.concat(params, "&")
end

-- same_delivery_url(a, b) -> true when both name the same endpoint (see the top of the file)
function M.same_delivery_url(a, b)
  local s1, a1, p1, q1 = url_parts(a)
  local s2, a2, p2, q2 = url_parts(b)
  return s1 ~= nil and s1 == s2 and a1 == a2 and p1 == p2 and q1 == q2
end

-- delivers_to(url, ours) -> bool (see the top of the file)
function M.delivers_to(url, ours)
  if M.same_delivery_url(url, ours) then return true end
  local s1, a1, p1, q1 = url_parts(url)
  local s2, a2, p2 = url_parts(ours)
  return s1 ~= nil and q1 == "" and s1 == s2 and a1 == a2 and p1 == p2
end

local function webhook_view(w)
  return { id = w.id, name = type(w.name) == "string" and w.name or nil,
           status = WEBHOOK_STATUS[w.status] and w.status or tostring(w.status),
           topic = type(w.topic) == "string" and w.topic or nil,
           delivery_url = type(w.delivery_url) == "string" and w.delivery_url or nil,
           date_modified_gmt = type(w.date_modified_gmt) == "string" and w.date_modified_gmt or nil }
end

-- webhooks(ctx, opts) -> list | nil, message, retryable (see the top of the file)
function M.webhooks(ctx, opts)
  opts = opts or {}
  local per_page = opts.per_page or M.PER_PAGE
  if math.type(per_page) ~= "integer" or per_page < 1 or per_page > 100 then
    error("woocommerce.webhooks: per_page must be an integer in 1..100", 2)
  end
  local max_pages = opts.max_pages or M.WEBHOOK_MAX_PAGES
  local out, page, total_pages = {}, 0, 1
  while page < total_pages and page < max_pages do
    page = page + 1
    local resp, msg, retryable = request(ctx, "GET", "/webhooks",
      { per_page = per_page, page = page, status = "all", orderby = "id", order = "asc" }, nil,
      opts.timeout_ms)
    if resp == nil then return nil, msg, retryable end
    if type(resp.json) ~= "table" then
      return nil, ("WooCommerce answered page %d of webhooks without a JSON list"):format(page), true
    end
    total_pages = tonumber(resp.headers["x-wp-totalpages"]) or page
    if #resp.json == 0 then break end
    for _, w in ipairs(resp.json) do
      if type(w) == "table" and math.type(w.id) == "integer" then out[#out + 1] = webhook_view(w) end
    end
  end
  return out
end

local function check_register_opts(o)
  if type(o) ~= "table" then error("woocommerce.register_webhooks: opts must be a table", 3) end
  if not url_parts(o.delivery_url) or not o.delivery_url:match("^https?://") then
    error("woocommerce.register_webhooks: delivery_url must be an http(s) URL", 3)
  end
  if type(o.secret) ~= "string" or o.secret == "" then
    error("woocommerce.register_webhooks: secret must be a non-empty string", 3)
  end
  if type(o.topics) ~= "table" or #o.topics == 0 then
    error("woocommerce.register_webhooks: topics must be a non-empty list", 3)
  end
  for i, t in ipairs(o.topics) do
    if type(t) ~= "string" or not t:match("^[%w_]+%.[%w_]+$") then
      error(("woocommerce.register_webhooks: topics[%d] is not a topic like order.updated"):format(i), 3)
    end
  end
end

-- register_webhooks(ctx, opts) -> report | nil, message, retryable (see the top of the file)
function M.register_webhooks(ctx, opts)
  check_register_opts(opts)
  local list, msg, retryable = M.webhooks(ctx, { timeout_ms = opts.timeout_ms })
  if not list then return nil, msg, retryable end
  local report, all_ok = {}, true
  for _, topic in ipairs(opts.topics) do
    local ours = {}
    for _, w in ipairs(list) do
      if w.topic == topic and M.delivers_to(w.delivery_url, opts.delivery_url) then
        ours[#ours + 1] = w
      end
    end
    local r = { topic = topic, was = "missing" }
    if #ours == 0 then
      local resp, err = request(ctx, "POST", "/webhooks", nil,
        { name = "tallysync " .. topic, topic = topic, delivery_url = opts.delivery_url,
          secret = opts.secret, status = "active" }, opts.timeout_ms)
      if resp and type(resp.json) == "table" then
        r.action, r.id = "created", resp.json.id
      else
        r.action, r.error = "failed", err or "WooCommerce answered the create without a webhook"
      end
      report[#report + 1] = r
    else
      for _, w in ipairs(ours) do
        local one = { topic = topic, id = w.id, was = w.status }
        local resp, err = request(ctx, "PUT", ("/webhooks/%d"):format(w.id), nil,
          { status = "active", secret = opts.secret, delivery_url = opts.delivery_url }, opts.timeout_ms)
        if resp then one.action = "updated" else one.action, one.error = "failed", err end
        report[#report + 1] = one
      end
    end
  end
  for _, r in ipairs(report) do
    if r.action == "failed" then all_ok = false end
    -- a message can quote a body WooCommerce echoed: never let the secret through
    if r.error and opts.secret ~= "" then
      local i = r.error:find(opts.secret, 1, true)
      if i then r.error = "WooCommerce refused the webhook (message withheld: it quoted the secret)" end
    end
  end
  return { topics = report, ok = all_ok }
end
-- }====

-- test(ctx) -> true, message | false, message
function M.test(ctx)
  local c = ctx.credentials
  local base = store_base(ctx)
  local mode, why = M.auth_mode(ctx)
  if not mode then return false, why end
  local url = base .. API .. "/system_status"
  local headers, query = { Accept = "application/json" }, nil
  if mode == "oauth1" then
    query = oauth1.sign("GET", url, {}, c.consumer_key, c.consumer_secret)
  else
    headers.Authorization = "Basic " .. crypto.base64_encode(c.consumer_key .. ":" .. c.consumer_secret)
  end
  local resp, err, code = http.request {
    method = "GET", url = url, query = query, headers = headers,
    timeout_ms = 20000,
    retries = mode == "basic" and 1 or 0,
    rate = { key = "woocommerce:" .. c.store_url, per_second = M.RATE.per_second,
             burst = M.RATE.burst, concurrent = M.RATE.concurrent },
  }
  if resp == nil then
    return false, ("cannot reach the store (%s): %s"):format(code, err)
  end
  local body = type(resp.json) == "table" and resp.json or {}
  local wc_code = type(body.code) == "string" and (" " .. body.code) or ""
  if resp.status == 401 or resp.status == 403 then
    return false, ("credentials rejected by woocommerce (HTTP %d%s)"):format(resp.status, wc_code)
  end
  if resp.status == 404 then
    return false, ("no WooCommerce REST API at %s (HTTP 404%s): check the URL and that "
      .. "WordPress uses pretty permalinks"):format(base, wc_code)
  end
  if resp.status ~= 200 then
    return false, ("woocommerce answered HTTP %d%s"):format(resp.status, wc_code)
  end
  if resp.json == nil then
    return false, ("%s answered 200 but not with JSON: is it a WooCommerce store?"):format(base)
  end
  local env = type(body.environment) == "table" and body.environment or {}
  local version = type(env.version) == "string" and (" " .. env.version) or ""
  return true, ("connected to WooCommerce%s at %s (%s)"):format(version, base, M.AUTH_NAMES[mode])
end

return M
