-- connectors/quickbooks.lua: QuickBooks Online Accounting API v3 (external-apis.md section 3).
-- Declares the credentials the vault keeps for a company (realm), proves them with test(ctx) (one
-- CompanyInfo read), and reads and writes the accounting entities. Must not: put a token or the
-- client secret into a message or a log line (errors carry Intuit's Fault texts and our own words
-- only), or re-read right after a write (reads are metered: the write's answer is used).
--
-- API (every function answers value | nil, err; err is a table with __tostring = its message:
--   { message = "...", code = <Fault code "6240" | engine.http code "timeout" | "connect" | ...
--     | "http_<status>" | "reconnect_required" | "no_credentials" | "bad_response" | ...>,
--     status = <HTTP status or nil>, retryable = <boolean>, fault = <lib.qbo_fault table or nil>,
--     conflict = true and current = <fresh object> on a stale SyncToken (5010),
--     intuit_tid = <Intuit's trace id, for support> })
--   M.quote(s)                      -> a query literal: M.quote("O'Brien") is 'O\'Brien' (' and \
--                                      escaped with a backslash)
--   M.query(ctx, sql [, opts])      -> rows, { pages = n }   SELECT without STARTPOSITION /
--                                      MAXRESULTS: pages from STARTPOSITION 1 until a page has
--                                      fewer than opts.page_size (default 1000) rows
--   M.read(ctx, entity, opts)       -> rows, { pages = n }   entity in M.ENTITIES; opts.since (ISO
--                                      date-time) -> WHERE MetaData.LastUpdatedTime > since
--   M.count(ctx, entity)            -> n (SELECT count(*))
--   M.lookup(ctx, entity, field, values) -> rows whose field is one of values (IN queries of
--                                      M.LOOKUP_CHUNK values; lib/sync.lua prefetches with it)
--   M.get(ctx, entity, id)          -> object (610 Object Not Found is an error with code "610")
--   M.create(ctx, entity, body [, request_id])
--                                   -> object; requestid always sent: request_id (derived by the
--                                      caller from the source record; longer than 50 chars or
--                                      with characters outside [A-Za-z0-9-_.:] -> sha256-hashed),
--                                      else a hash of entity and body
--   M.preferences(ctx)              -> the company's Preferences object (GET /preferences)
--   M.company(ctx [, companyinfo])  -> { allow_shipping, allow_discount, country, name }: what
--                                      the mappings see as ctx.company (lib/qbo_company.lua);
--                                      read by test() and at the start of every run
--   M.update(ctx, entity, body)     -> object; sparse update (body needs Id and SyncToken, only
--                                      the given fields change); 5010 -> re-read and
--                                      nil, { conflict = true, current = <fresh>, code = "5010" }
--                                      so the orchestrator applies its conflict policy
--   M.write(ctx, entity, records)   -> results (one per record, same order) via /batch, 30 items
--                                      per batch, matched by bId. A record is an entity body (Id +
--                                      SyncToken -> sparse update, else create) or
--                                      { body = {...}, request_id = "..." }. Result:
--                                      { ok = true, id =, sync_token =, object = } |
--                                      { ok = false, error = message, code =, retryable =,
--                                        conflict = true?, current = ? }
--                                      (6240 Duplicate Name keeps code "6240" so a mapping can
--                                      disambiguate the DisplayName and write again). Each batch
--                                      has a requestid hashed from its records: sending the same
--                                      records again answers the first result (no duplicates);
--                                      retry only the failed records (a new set, a new requestid).
--                                      The batches go M.CONCURRENT at a time (engine.http
--                                      request_all), within the realm's limits
--   M.write_all(ctx, { {entity =, records =}, ... } [, spread]) -> { results, ... }: several
--                                      entities' batches at once (a page's customers and
--                                      items); spread: up to that many even batches when full
--                                      ones would be fewer (idle connections)
--   M.write_start(ctx, groups) -> pending; M.write_finish(ctx, pending) -> write_all's answer:
--                                      the batches in flight (engine.http.start) while the
--                                      caller goes on (lib/sync.lua keeps 10 pages in flight)
-- ctx: { credentials = (see below, updated in place after a refresh), config = {
--          quickbooks_api_base (as test() resolves it), quickbooks_token_url?,
--          quickbooks_timeout_ms? (per attempt, default 30000), quickbooks_retries? (default 4),
--          parallel_requests? (requests M.write_all keeps in flight, 1..10, default 10) },
--        on_tokens = function(tokens)?, refresh_begin = function(opts)?,
--        refresh_end = function(opts)? }  (the engine's ctx: lib/credentials.lua build_context)
-- Every request: minorversion=75, Accept: application/json, Bearer access token, a requestid,
-- the per-realm limits (Intuit's published ones: 500 a minute, 10 at once; M.rate: a sliding
-- window per minute, never over them), engine.http's retries (429 honouring
-- Retry-After, 503, connection failures, and timeouts/resets: requests carry a requestid, so they
-- are retried as idempotent); a 500/502/504 answer is tried again up to 2 more times here.
-- Batches are also paced to the batch endpoint's own limit: rate key "quickbooks-batch:<realm>",
-- 40 in any minute, and count for the realm's 500 and 10 at once as well.
-- Tokens: refreshed with lib.quickbooks_oauth before a request when access_token_expires_at is
-- within 5 minutes (needs_refresh), and once on a 401 (test() too). Intuit rotates the refresh
-- token and wants one refresh per company at a time, so with the engine's ctx a refresh is:
--   ctx.refresh_begin{ lease_ms = 2 * quickbooks_timeout_ms + 5 s }
--     "reloaded": another worker (or engine) already refreshed; its tokens are now in
--                 ctx.credentials and are used (no second refresh with the old refresh token);
--     "acquired": this ctx holds the company's lease: refresh at Intuit, then
--                 ctx.on_tokens(tokens) seals the new tokens over the version it read and frees
--                 the lease in one UPDATE ("superseded": newer ones were stored meanwhile and
--                 are used instead); a failed refresh gives the lease back with
--                 ctx.refresh_end{} ({ expired = ... } on invalid_grant, which the status shows
--                 as reconnect_required).
-- A plain ctx (no refresh_begin: specs, `tallysync run`) just refreshes and calls
-- ctx.on_tokens(tokens) if it has one. A failing on_tokens (raises, or nil + message) fails the
-- call: a rotated refresh token that is not stored would be lost.
local http = require "engine.http"

local M = {
  name = "quickbooks",
  account_field = "realm_id", -- webhook notifications name their realmId
  credentials = {
    { name = "client_id", type = "string", required = true,
      description = "the app's OAuth 2.0 client id (Intuit developer portal)" },
    { name = "client_secret", type = "string", required = true, secret = true,
      description = "the app's OAuth 2.0 client secret" },
    { name = "realm_id", type = "string", required = true, pattern = "^%d+$",
      pattern_hint = "the company id (digits only)", max_len = 32,
      description = "the QuickBooks company id (realmId)" },
    { name = "access_token", type = "string", secret = true,
      description = "OAuth 2.0 access token (normally stored by the connect flow)" },
    { name = "refresh_token", type = "string", secret = true,
      description = "OAuth 2.0 refresh token (normally stored by the connect flow)" },
    { name = "access_token_expires_at", type = "datetime",
      description = "when access_token expires (RFC 3339)" },
    { name = "refresh_token_expires_at", type = "datetime",
      description = "when refresh_token expires (RFC 3339)" },
    { name = "environment", type = "string", enum = { "sandbox", "production" },
      default = "sandbox", description = "which Intuit API the company lives in" },
  },
}

M.MINOR_VERSION = "75" -- since Aug 2025 every older minorversion behaves as 75

-- The Fault's first error code, from either casing Intuit's gateways use.
local function fault_code(body)
  if type(body) ~= "table" then return nil end
  local f = body.Fault or body.fault
  local errs = type(f) == "table" and (f.Error or f.error) or nil
  local e = type(errs) == "table" and errs[1] or nil
  if type(e) ~= "table" then return nil end
  local c = e.code
  return (type(c) == "string" or math.type(c) == "integer") and tostring(c) or nil
end

local function expired(at)
  if type(at) ~= "string" or not at:match("Z$") then return false end
  return at:sub(1, 19) < os.date("!%Y-%m-%dT%H:%M:%S")
end

-- {======================= the Accounting API =======================

local json = require "engine.json"
local crypto = require "engine.crypto"
local oauth = require "lib.quickbooks_oauth"
local qbo_fault = require "lib.qbo_fault"
local qbo_company = require "lib.qbo_company"

M.ENTITIES = { Customer = true, Item = true, Invoice = true, SalesReceipt = true, Payment = true,
  CreditMemo = true, RefundReceipt = true }
M.MAX_BATCH = 30
M.REQUESTID_MAX = 50       -- per request
M.BATCH_REQUESTID_MAX = 36 -- on /batch (each bId then at most 10 chars)
M.PAGE_SIZE = 1000
M.LOOKUP_CHUNK = 40 -- values per `IN (...)` lookup query
M.REFRESH_MARGIN = 300
M.REFRESH_ROUNDS = 3 -- lease attempts when the tokens another worker stored are stale too
M.RATE_PER_MINUTE = 500 -- per realm, batch requests included (external-apis.md 3.9)
M.CONCURRENT = 10       -- per realm per app
M.BATCH_PER_MINUTE = 40 -- the batch endpoint's own limit per realm (3.7)
M.PACE_WINDOW_S = 60 -- Intuit's minute, counted from each answer (engine.http, ratelimit.h)
M.SERVER_RETRIES = 2 -- extra tries on 500/502/504 (engine.http retries 429/503 itself)

-- Hidden (__metatable): the module's own; shared by every task, so nobody else may reach it.
local ERR_MT = { __tostring = function(e) return e.message end, __metatable = "quickbooks.error" }

local function mkerr(t)
  if t.retryable == nil then t.retryable = false end
  return setmetatable(t, ERR_MT)
end

local function nonempty(v) return type(v) == "string" and v ~= "" end

-- quote(s) -> a query string literal: single quotes, ' and \ escaped with a backslash.
function M.quote(s)
  s = tostring(s):gsub("\\", "\\\\"):gsub("'", "\\'")
  return "'" .. s .. "'"
end

-- request_id(s, limit) -> s when it fits, else a stable hash of it that does.
function M.request_id(s, limit)
  limit = limit or M.REQUESTID_MAX
  if #s <= limit and s:match("^[%w%-_.:]+$") then return s end
  return ("h-" .. crypto.hex(crypto.sha256(s))):sub(1, limit)
end

local function api_base(ctx)
  local base = (ctx.config and ctx.config.quickbooks_api_base or ""):gsub("/+$", "")
  if base == "" then return nil end
  return base
end

local function cfg(ctx, k, dflt)
  local v = ctx.config and ctx.config[k]
  return math.type(v) == "integer" and v or dflt
end

local function can_refresh(c)
  return nonempty(c.refresh_token) and nonempty(c.client_id) and nonempty(c.client_secret)
end

-- Whether the access token should be renewed before the next request: missing, or its known
-- expiry is within the margin (an unknown expiry waits for a 401).
local function stale_token(c)
  if not nonempty(c.access_token) then return true end
  if c.access_token_expires_at == nil then return false end
  return oauth.needs_refresh(c, M.REFRESH_MARGIN)
end

local RECONNECT = "connect again (GET /api/integrations/quickbooks/connect)"

-- Take the refresh lease (engine ctx). -> "acquired" | true (newer tokens loaded) | nil, err
-- failed_token: the access token a 401 refused, which the loaded tokens must not be.
local function begin_refresh(ctx, failed_token)
  -- the token call may take its timeout (twice, with engine.http's retry of a request that sent
  -- nothing) before the holder stores; a holder that died frees the company after this long
  local lease_ms = 2 * cfg(ctx, "quickbooks_timeout_ms", 30000) + 5000
  for _ = 1, M.REFRESH_ROUNDS do
    local got, msg, code = ctx.refresh_begin{ lease_ms = lease_ms }
    if not got then
      return nil, mkerr{ code = code or "refresh_busy", retryable = code ~= "no_credentials",
        message = "cannot renew the QuickBooks tokens: " .. tostring(msg) }
    end
    if got == "acquired" then return "acquired" end
    local c = ctx.credentials -- "reloaded": another worker's tokens, in place
    if nonempty(c.access_token) and c.access_token ~= failed_token and not stale_token(c) then
      return true
    end
  end
  return nil, mkerr{ code = "refresh_busy", retryable = true,
    message = "cannot renew the QuickBooks tokens: the stored ones kept changing" }
end

-- Refresh the tokens (see the header). -> true | nil, err
local function refresh(ctx, failed_token)
  local leased = false
  if type(ctx.refresh_begin) == "function" then
    local got, e = begin_refresh(ctx, failed_token)
    if not got then return nil, e end
    if got ~= "acquired" then return true end
    leased = true
  end
  local c = ctx.credentials
  if not can_refresh(c) then
    if leased then ctx.refresh_end() end
    return nil, mkerr{ code = "reconnect_required", status = 401,
      message = "the QuickBooks access token is expired or rejected and there is no refresh "
        .. "token to renew it: " .. RECONNECT }
  end
  local new, msg, code = oauth.refresh{ credentials = c, config = ctx.config,
    token_url = ctx.token_url, timeout_ms = cfg(ctx, "quickbooks_timeout_ms", 30000) }
  if not new then
    if leased then
      ctx.refresh_end(code == "invalid_grant"
        and { expired = "QuickBooks refused the refresh token (invalid_grant)" } or nil)
    end
    if code == "invalid_grant" then
      return nil, mkerr{ code = "reconnect_required", status = 401,
        message = msg .. ": the refresh token is no longer valid; " .. RECONNECT }
    end
    return nil, mkerr{ code = code or "refresh_failed", message = msg,
      retryable = code ~= "invalid_client" }
  end
  local tokens = {}
  for _, k in ipairs(oauth.TOKEN_FIELDS) do tokens[k] = new[k] end
  if type(ctx.on_tokens) == "function" then
    local ok, r1, r2, r3 = pcall(ctx.on_tokens, tokens)
    if ok and r1 == nil and r3 == "superseded" then
      return true -- newer tokens were stored meanwhile: ctx.credentials holds them
    end
    if not ok or (r1 == nil and r2 ~= nil) then
      if leased then ctx.refresh_end() end
      return nil, mkerr{ code = "token_store_failed", retryable = true,
        message = "the refreshed QuickBooks tokens could not be stored"
          .. (ok and (": " .. tostring(r2)) or " (ctx.on_tokens failed)") }
    end
  end
  for k, v in pairs(tokens) do c[k] = v end
  return true
end

-- test(ctx) -> true, message | false, message. After CompanyInfo, reads the Preferences: when
-- orders with shipping could not be posted under the tenant's transformer_config the message
-- ends with "; warning shipping_item_missing: <why>" (the status lists it as a warning).
function M.test(ctx)
  local c = ctx.credentials
  if c.access_token == nil and not can_refresh(c) then
    return false, "connect QuickBooks first (GET /api/integrations/quickbooks/connect)"
  end
  local base = (ctx.config and ctx.config.quickbooks_api_base or ""):gsub("/+$", "")
  if base == "" then return false, "no QuickBooks API base URL is configured" end
  if stale_token(c) and can_refresh(c) then
    local ok, e = refresh(ctx)
    if not ok then return false, tostring(e) end
  end
  local realm = http.urlencode(c.realm_id)
  local resp, err, code
  for attempt = 1, 2 do
    resp, err, code = http.get(("%s/v3/company/%s/companyinfo/%s"):format(base, realm, realm), {
      query = { minorversion = M.MINOR_VERSION },
      headers = { Authorization = "Bearer " .. c.access_token, Accept = "application/json" },
      timeout_ms = 20000,
      retries = 1,
    })
    if attempt == 1 and resp and resp.status == 401 and can_refresh(c) then
      local ok, e = refresh(ctx, c.access_token)
      if not ok then return false, tostring(e) end
    else
      break
    end
  end
  if resp == nil then
    return false, ("cannot reach QuickBooks (%s): %s"):format(code, err)
  end
  local tid = resp.headers["intuit_tid"]
  local suffix = tid and (", intuit_tid " .. tid) or ""
  local fcode = fault_code(resp.json)
  if resp.status == 401 or resp.status == 403 then
    local hint = ""
    if expired(c.access_token_expires_at) then
      hint = ": the access token expired at " .. c.access_token_expires_at
        .. "; connect again (GET /api/integrations/quickbooks/connect)"
    end
    return false, ("credentials rejected by quickbooks (HTTP %d%s%s)%s"):format(resp.status,
      fcode and (", Fault " .. fcode) or "", suffix, hint)
  end
  if resp.status ~= 200 or fcode ~= nil then
    return false, ("quickbooks answered HTTP %d%s%s"):format(resp.status,
      fcode and (" with Fault " .. fcode) or "", suffix)
  end
  local info = type(resp.json) == "table" and resp.json.CompanyInfo or nil
  if type(info) ~= "table" then
    return false, ("quickbooks answered 200 without CompanyInfo%s"):format(suffix)
  end
  local name = type(info.CompanyName) == "string" and info.CompanyName or c.realm_id
  local msg = ("connected to QuickBooks company %s (%s)"):format(utf8.len(name) and
    utf8.len(name) > 60 and name:sub(1, utf8.offset(name, 61) - 1) .. "..." or name,
    c.environment or "sandbox")
  -- what the company's settings mean for posting: a warning the status shows (vault.c reads
  -- "; warning <code>: <text>" from the test message)
  local company, cerr = M.company(ctx, info)
  if not company then
    return true, msg .. "; warning preferences_unreadable: the company's preferences could " ..
      "not be read (" .. tostring(cerr) .. ")"
  end
  local config = qbo_company.tenant_config(ctx.tenant)
  local item
  if not company.allow_shipping and config.shipping_item_id == json.null
      and config.create_missing_items == false then
    local rows = M.query(ctx, "SELECT * FROM Item WHERE Name = " .. M.quote("Shipping"),
      { max_pages = 1 })
    item = rows and rows[1] or nil
  end
  local w = qbo_company.shipping_warning(company, config, item)
  if w then msg = msg .. "; warning " .. w.code .. ": " .. w.message end
  return true, msg
end


local RETRY_STATUS = { [500] = true, [502] = true, [504] = true }

-- rate(realm, batch) -> engine.http's rate table for a request. Intuit counts its limits per
-- minute; a sliding log (per_window in window_ms) grants a minute's whole allowance at once and
-- then each slot again one window after its use, so no 60 s ever holds more than the limit and
-- a backfill may use all of it (a token bucket either lets more through in a busy minute or
-- holds back most of a quiet one). The window is M.PACE_WINDOW_S, Intuit's minute: engine.http
-- counts a slot from when its answer came, after Intuit saw the request however long it
-- travelled, so no margin for arrival jitter is needed. A batch counts for the batch endpoint
-- (40) and for the realm (500 and the 10 at once), taken together.
function M.rate(realm, batch)
  local r = { key = "quickbooks:" .. realm, per_window = M.RATE_PER_MINUTE,
    window_ms = M.PACE_WINDOW_S * 1000, concurrent = M.CONCURRENT }
  if not batch then return r end
  return { key = "quickbooks-batch:" .. realm, per_window = M.BATCH_PER_MINUTE,
    window_ms = M.PACE_WINDOW_S * 1000, also = r }
end

-- The engine.http request table of one API call (see call).
local function request_of(ctx, base, method, path, o)
  local c = ctx.credentials
  local q = { minorversion = M.MINOR_VERSION, requestid = o.request_id }
  for k, v in pairs(o.query or {}) do q[k] = v end
  return {
    method = method, url = ("%s/v3/company/%s/%s"):format(base, http.urlencode(c.realm_id), path),
    query = q, json = o.json,
    headers = { Authorization = "Bearer " .. c.access_token, Accept = "application/json" },
    timeout_ms = cfg(ctx, "quickbooks_timeout_ms", 30000),
    retries = cfg(ctx, "quickbooks_retries", 4),
    retry_unsafe = o.request_id ~= nil, -- a repeated requestid answers the first response
    rate = M.rate(c.realm_id, path == "batch"),
  }
end

-- call(ctx, method, path, opts) -> decoded body, resp | nil, err
-- opts: query (table), json (body), request_id. Fault (any status) -> error.
local function call(ctx, method, path, o)
  o = o or {}
  local c = ctx.credentials
  if type(c) ~= "table" or not nonempty(c.realm_id) then
    return nil, mkerr{ code = "no_credentials", message = "no QuickBooks realm_id is stored" }
  end
  local base = api_base(ctx)
  if not base then
    return nil, mkerr{ code = "no_config", message = "no QuickBooks API base URL is configured" }
  end
  if stale_token(c) and (can_refresh(c) or not nonempty(c.access_token)) then
    local ok, e = refresh(ctx) -- (without a way to refresh, a token near expiry is still tried)
    if not ok then return nil, e end
  end
  -- o.server_tries: 500/502/504 answers the call already met (a started request's);
  -- o.refreshed: the tokens were renewed since this call's group was sent (again_of), so a 401
  -- now is not one more refresh's to fix
  local refreshed, server_tries = o.refreshed or false, o.server_tries or 0
  while true do
    local used_token = c.access_token
    local resp, msg, code = http.request(request_of(ctx, base, method, path, o))
    if not resp then
      return nil, mkerr{ code = code or "connect", retryable = code ~= "too_large",
        message = ("cannot reach QuickBooks (%s): %s"):format(code or "error", msg or "?") }
    end
    local tid = resp.headers["intuit_tid"]
    local f = qbo_fault.from_response(resp)
    if resp.status == 200 and f == nil then
      if type(resp.json) ~= "table" then
        return nil, mkerr{ code = "bad_response", retryable = true, intuit_tid = tid,
          message = "QuickBooks answered 200 without a JSON object" }
      end
      return resp.json, resp
    end
    if resp.status == 401 and not refreshed and can_refresh(c) then
      refreshed = true
      local ok, e = refresh(ctx, used_token)
      if not ok then return nil, e end
    elseif RETRY_STATUS[resp.status] and server_tries < M.SERVER_RETRIES
      and (method == "GET" or o.request_id ~= nil) then
      server_tries = server_tries + 1
    else
      local what = f and qbo_fault.describe(f) or "no Fault body"
      local e = { status = resp.status, fault = f, intuit_tid = tid }
      if resp.status == 401 or resp.status == 403 then
        e.code = (f and f.code) or "auth"
        e.message = ("credentials rejected by quickbooks (HTTP %d, %s)"):format(resp.status, what)
      elseif resp.status == 429 then
        e.code, e.retryable = "throttled", true
        e.message = ("QuickBooks throttled the requests (HTTP 429, %s) after %d attempts"):format(
          what, resp.attempts or 1)
      elseif resp.status >= 500 then
        e.code, e.retryable = (f and f.code) or ("http_" .. resp.status), true
        e.message = ("QuickBooks answered HTTP %d (%s) after %d attempts"):format(resp.status, what,
          (resp.attempts or 1) + server_tries)
      else
        e.code = (f and f.code) or ("http_" .. resp.status)
        e.retryable = f ~= nil and (qbo_fault.class(f.code) == "severe" or f.code == "3001")
        e.message = ("QuickBooks refused the request (HTTP %d, %s)"):format(resp.status, what)
      end
      if tid then e.message = e.message .. ", intuit_tid " .. tid end
      return nil, mkerr(e)
    end
  end
end

-- again_of(ctx, o, r, sent_token) -> the options to make call o again through call after its
-- grouped answer r (sent with sent_token): a server error it met counts as call's first try
-- (as many attempts as a call's), and a 401 when the tokens changed since the group was sent
-- (another call of the group refreshed them) is retried with the new ones without a refresh of
-- its own: one refresh per group, never a second one with the first's new refresh token.
local function again_of(ctx, o, r, sent_token)
  local server = RETRY_STATUS[r.status]
  local renewed = r.status == 401 and ctx.credentials.access_token ~= sent_token
  if not server and not renewed then return o end
  local o2 = {}
  for k, v in pairs(o) do o2[k] = v end
  if server then o2.server_tries = 1 end
  if renewed then o2.refreshed = true end
  return o2
end

-- call_many(ctx, calls) -> { {body, resp} | {nil, err}, ... }: calls = { {method =, path =,
-- json =, request_id =}, ... }, each with a requestid, sent M.CONCURRENT at a time
-- (engine.http.request_all; each still through the realm's limits, shared with every worker).
-- A call that does not come back clean (a Fault, a 401 to refresh for, a 5xx, no answer) is
-- made again through call, with the same requestid: what QuickBooks executed answers its first
-- result, so nothing is written twice, and the error is call's.
local function call_many(ctx, calls)
  local out = {}
  local c, base = ctx.credentials, api_base(ctx)
  local many = #calls > 1 and type(http.request_all) == "function" and type(c) == "table"
    and nonempty(c.realm_id) and base ~= nil
  if many and stale_token(c) then many = false end -- call refreshes first
  if not many then
    for i, o in ipairs(calls) do out[i] = table.pack(call(ctx, o.method, o.path, o)) end
    return out
  end
  for first = 1, #calls, 64 do
    local reqs = {}
    for i = first, math.min(first + 63, #calls) do
      local o = calls[i]
      reqs[#reqs + 1] = request_of(ctx, base, o.method, o.path, o)
    end
    local par = cfg(ctx, "parallel_requests", M.CONCURRENT)
    local sent_token = c.access_token
    local res = http.request_all(reqs, math.max(1, math.min(par, M.CONCURRENT)))
    for k, r in ipairs(res) do
      local i = first + k - 1
      if r.status == 200 and qbo_fault.from_response(r) == nil and type(r.json) == "table" then
        out[i] = table.pack(r.json, r)
      else
        local o = again_of(ctx, calls[i], r, sent_token)
        out[i] = table.pack(call(ctx, o.method, o.path, o))
      end
    end
  end
  return out
end

-- start_many(ctx, calls) -> a started group (engine.http.start: the calls in flight while the
-- caller goes on), or nil when they cannot go in the background (no engine.http.start, a
-- token to refresh first, more than 10 calls): finish_many then makes them as call_many does.
local function start_many(ctx, calls)
  local c, base = ctx.credentials, api_base(ctx)
  if #calls < 1 or #calls > M.CONCURRENT or type(http.start) ~= "function"
    or type(c) ~= "table" or not nonempty(c.realm_id) or base == nil or stale_token(c) then
    return nil
  end
  local reqs = {}
  for i, o in ipairs(calls) do reqs[i] = request_of(ctx, base, o.method, o.path, o) end
  local par = cfg(ctx, "parallel_requests", M.CONCURRENT)
  return { handle = http.start(reqs, math.max(1, math.min(par, M.CONCURRENT))),
    sent_token = c.access_token }
end

-- finish_many(ctx, calls, started) -> call_many's answers for a group start_many began (nil:
-- the calls are made now). A call that did not come back clean is made again through call,
-- with the same requestid, as in call_many.
local function finish_many(ctx, calls, started)
  if started == nil then return call_many(ctx, calls) end
  local out = {}
  for i, r in ipairs(http.wait(started.handle)) do
    if r.status == 200 and qbo_fault.from_response(r) == nil and type(r.json) == "table" then
      out[i] = table.pack(r.json, r)
    else
      local o = again_of(ctx, calls[i], r, started.sent_token)
      out[i] = table.pack(call(ctx, o.method, o.path, o))
    end
  end
  return out
end

-- A fresh requestid for a read (a repeated one would answer an old result).
local function read_id()
  local b = crypto.random_bytes(12)
  return "r-" .. crypto.hex(b or tostring(os.clock()))
end

local function check_entity(entity)
  if not M.ENTITIES[entity] then
    error(("quickbooks: unknown entity %q"):format(tostring(entity)), 3)
  end
end

-- The entity rows of a QueryResponse (no entity key when empty).
local function rows_of(qr)
  if type(qr) ~= "table" then return {} end
  for k, v in pairs(qr) do
    if k ~= "startPosition" and k ~= "maxResults" and k ~= "totalCount"
      and type(v) == "table" then
      return v
    end
  end
  return {}
end

function M.query(ctx, sql, opts)
  opts = opts or {}
  local size = opts.page_size or M.PAGE_SIZE
  local out, start, pages = json.array(), 1, 0
  while true do
    local stmt = ("%s STARTPOSITION %d MAXRESULTS %d"):format(sql, start, size)
    local body, err = call(ctx, "GET", "query", { query = { query = stmt },
      request_id = read_id() })
    if not body then return nil, err end
    pages = pages + 1
    local rows = rows_of(body.QueryResponse)
    for _, r in ipairs(rows) do out[#out + 1] = r end
    if #rows < size then break end
    start = start + #rows
    if opts.max_pages and pages >= opts.max_pages then break end
  end
  return out, { pages = pages }
end

-- count(ctx, entity) -> the number of entity rows (SELECT count(*)) | nil, err
function M.count(ctx, entity)
  check_entity(entity)
  local body, err = call(ctx, "GET", "query", { query = { query = "SELECT count(*) FROM " .. entity },
    request_id = read_id() })
  if not body then return nil, err end
  local qr = body.QueryResponse
  local n = type(qr) == "table" and qr.totalCount or nil
  if math.type(n) ~= "integer" then
    return nil, mkerr{ code = "bad_response", message = "QuickBooks answered count(*) without totalCount" }
  end
  return n
end

-- lookup(ctx, entity, field, values) -> rows | nil, err: the rows whose field equals one of
-- values (QuickBooks compares names case-insensitively), as `WHERE field IN (...)` queries of
-- M.LOOKUP_CHUNK values (a few thousand bytes of URL each), each paged like M.query.
function M.lookup(ctx, entity, field, values)
  check_entity(entity)
  if type(field) ~= "string" or not field:match("^[%a][%w%.]*$") then
    error(("quickbooks.lookup: bad field %q"):format(tostring(field)), 2)
  end
  local out = json.array()
  for first = 1, #values, M.LOOKUP_CHUNK do
    local lits = {}
    for i = first, math.min(first + M.LOOKUP_CHUNK - 1, #values) do
      lits[#lits + 1] = M.quote(values[i])
    end
    local rows, err = M.query(ctx, ("SELECT * FROM %s WHERE %s IN (%s)"):format(entity, field,
      table.concat(lits, ", ")))
    if not rows then return nil, err end
    for _, r in ipairs(rows) do out[#out + 1] = r end
  end
  return out
end

-- The first-page query of read_small for entity.
local function first_page_call(entity)
  check_entity(entity)
  return { method = "GET", path = "query", request_id = read_id(), query = { query =
    ("SELECT * FROM %s STARTPOSITION 1 MAXRESULTS %d"):format(entity, M.PAGE_SIZE) } }
end

-- read_small's answer for entity from its first page's answer (pages read on when it was full).
local function small_rows(ctx, entity, body, max)
  local rows = json.array()
  for _, r in ipairs(rows_of(body.QueryResponse)) do rows[#rows + 1] = r end
  local last = #rows
  while last == M.PAGE_SIZE and #rows < max do
    local b2, e2 = call(ctx, "GET", "query", { request_id = read_id(), query = { query =
      ("SELECT * FROM %s STARTPOSITION %d MAXRESULTS %d"):format(entity, #rows + 1,
        M.PAGE_SIZE) } })
    if not b2 then return nil, e2 end
    local more = rows_of(b2.QueryResponse)
    for _, r in ipairs(more) do rows[#rows + 1] = r end
    last = #more
  end
  return (#rows <= max and last < M.PAGE_SIZE) and rows or false
end

-- read_small(ctx, entities, max) -> { [entity] = rows | false } | nil, err: every row of each
-- entity that holds at most max (a small company's customers and items, read whole before a
-- backfill plans: lib/sync.lua's prefetch), false for one that holds more. The first pages of
-- all go at once (call_many); an entity whose page was full reads on, one page at a time, up to
-- max. One request for a small entity (no count first), at most ceil(max / 1000) for a big
-- one.
function M.read_small(ctx, entities, max)
  local calls = {}
  for i, entity in ipairs(entities) do calls[i] = first_page_call(entity) end
  local answers = call_many(ctx, calls)
  local out = {}
  for i, entity in ipairs(entities) do
    local body, err = answers[i][1], answers[i][2]
    if not body then return nil, err end
    local rows, rerr = small_rows(ctx, entity, body, max)
    if rows == nil then return nil, rerr end
    out[entity] = rows
  end
  return out
end

-- The name-list entities a sales document depends on: what a full backfill reads whole at its
-- start, with the company (M.company's preload), when the company holds few of them.
M.PRELOAD = { "Customer", "Item" }

function M.read(ctx, entity, opts)
  check_entity(entity)
  opts = opts or {}
  local sql = "SELECT * FROM " .. entity
  if opts.since ~= nil then
    sql = sql .. " WHERE MetaData.LastUpdatedTime > " .. M.quote(opts.since)
  end
  return M.query(ctx, sql, opts)
end

-- answer_object(body, name) -> the object body[name] of a QuickBooks answer | nil, bad_response
local function answer_object(body, name)
  if type(body[name]) ~= "table" then
    return nil, mkerr{ code = "bad_response", message = "QuickBooks answered without " .. name }
  end
  return body[name]
end

function M.get(ctx, entity, id)
  check_entity(entity)
  local body, err = call(ctx, "GET", entity:lower() .. "/" .. http.urlencode(tostring(id)),
    { request_id = read_id() })
  if not body then return nil, err end
  return answer_object(body, entity)
end

local function body_hash(prefix, entity, body)
  return M.request_id(prefix .. crypto.hex(crypto.sha256(entity .. json.encode(body))):sub(1, 40))
end

function M.create(ctx, entity, body, request_id)
  check_entity(entity)
  local rid = request_id and M.request_id(tostring(request_id)) or body_hash("c-", entity, body)
  local resp, err = call(ctx, "POST", entity:lower(), { json = body, request_id = rid })
  if not resp then return nil, err end
  return answer_object(resp, entity)
end

local function conflict(ctx, entity, id, e)
  local cur, gerr = M.get(ctx, entity, id)
  e.conflict = true
  e.current = cur
  if not cur then
    e.message = e.message .. "; re-reading it failed: " .. tostring(gerr)
  end
  return e
end

function M.update(ctx, entity, body)
  check_entity(entity)
  if type(body) ~= "table" or body.Id == nil or body.SyncToken == nil then
    error("quickbooks.update: body needs Id and SyncToken", 2)
  end
  local b = json.object({})
  for k, v in pairs(body) do b[k] = v end
  b.sparse = true
  local resp, err = call(ctx, "POST", entity:lower(),
    { json = b, request_id = body_hash("u-", entity, b) })
  if not resp then
    if err.code == qbo_fault.STALE_OBJECT then return nil, conflict(ctx, entity, body.Id, err) end
    return nil, err
  end
  return answer_object(resp, entity)
end

-- The batches of groups ({ {entity =, records =}, ... }: 30 records a batch, one record a plain
-- create / sparse update) and the API calls that send them.
-- How many batches each group's records go in: full ones of M.MAX_BATCH, or, when the caller
-- allows `spread` batches and full ones would be fewer, more and smaller ones, as even as they
-- can be. QuickBooks runs a batch's items one after another, so 200 customers and 50 items
-- are answered sooner as ten batches of 25 than as nine of up to 30 with a connection idle;
-- each extra batch spends one of the batch endpoint's 40 a minute, which the caller weighs.
local function batch_counts(groups, spread)
  local counts, total, n = {}, 0, 0
  for g, grp in ipairs(groups) do
    local k = #grp.records
    counts[g] = (k + M.MAX_BATCH - 1) // M.MAX_BATCH
    total, n = total + counts[g], n + k
  end
  local want = math.min(math.tointeger(spread) or 0, M.CONCURRENT, n)
  local even = total < want -- spread: every group's batches even, not full ones and a rest
  while total < want do -- the next batch to the group whose batches are the largest
    local best, size = nil, 1
    for g, grp in ipairs(groups) do
      local sz = counts[g] > 0 and #grp.records / counts[g] or 0
      if sz > size then best, size = g, sz end
    end
    if best == nil then break end
    counts[best], total = counts[best] + 1, total + 1
  end
  return counts, even
end

local function plan_batches(groups, spread)
  local batches = {}
  local counts, even = batch_counts(groups, spread)
  for g, grp in ipairs(groups) do
    local entity, records = grp.entity, grp.records
    check_entity(entity)
    -- counts[g] batches: full ones (the last one the rest), or, spread, even ones (the first
    -- #records % counts[g] of them one record larger)
    local nb = counts[g]
    local small = nb > 0 and #records // nb or 0
    local big = nb > 0 and #records % nb or 0
    local first = 1
    for k = 1, nb do
      local last = even and first + small - 1 + (k <= big and 1 or 0)
        or math.min(first + M.MAX_BATCH - 1, #records)
      local items, rids, byb = json.array(), {}, {}
      for i = first, last do
        local r = records[i]
        local body, rid = r, nil
        if type(r.body) == "table" then body, rid = r.body, r.request_id end
        local bid = "b" .. (i - first + 1)
        local item = { bId = bid }
        local b = json.object({})
        for k, v in pairs(body) do b[k] = v end
        if b.Id ~= nil then
          item.operation = "update"
          b.sparse = true
        else
          item.operation = "create"
        end
        item[entity] = b
        items[#items + 1] = item
        byb[bid] = i
        rids[#rids + 1] = rid and tostring(rid) or (entity .. json.encode(b))
      end
      if first == last then
        -- one record is a plain create / sparse update: it spends the realm's 500 a minute,
        -- not one of the batch endpoint's 40 (a webhook's single order, a page's last one)
        local r = records[first]
        local b, rid = items[1][entity], type(r.body) == "table" and r.request_id or nil
        rid = rid and M.request_id(tostring(rid))
          or body_hash(b.Id ~= nil and "u-" or "c-", entity, b)
        batches[#batches + 1] = { g = g, first = first, last = last, single = true,
          call = { method = "POST", path = entity:lower(), json = b, request_id = rid } }
      else
        local brid = ("bt-" .. crypto.hex(crypto.sha256(table.concat(rids, "\0")))):sub(1,
          M.BATCH_REQUESTID_MAX)
        batches[#batches + 1] = { g = g, first = first, last = last, byb = byb,
          call = { method = "POST", path = "batch", json = { BatchItemRequest = items },
            request_id = brid } }
      end
      first = last + 1
    end
  end
  local calls = {}
  for i, b in ipairs(batches) do calls[i] = b.call end
  return batches, calls
end

-- The results of planned batches (plan_batches) from their answers (call_many's form).
local function batch_results(ctx, groups, batches, answers)
  local all = {}
  for g in ipairs(groups) do all[g] = {} end
  for n, bt in ipairs(batches) do
    local grp, results = groups[bt.g], all[bt.g]
    local entity, records = grp.entity, grp.records
    local resp, err = answers[n][1], answers[n][2]
    local first, last = bt.first, bt.last
    if bt.single then
      local obj = resp and resp[entity]
      if type(obj) == "table" then
        results[first] = { ok = true, id = obj.Id, sync_token = obj.SyncToken, object = obj }
      else
        err = err or mkerr{ code = "bad_response", message = "QuickBooks answered without " .. entity }
        local res = { ok = false, error = err.message, code = err.code, retryable = err.retryable,
          fault = err.fault }
        if err.code == qbo_fault.STALE_OBJECT then
          local body = records[first].body or records[first]
          res.conflict, res.current = true, M.get(ctx, entity, body.Id)
        end
        results[first] = res
      end
    elseif not resp then
      for i = first, last do
        results[i] = { ok = false, error = err.message, code = err.code, retryable = err.retryable }
      end
    else
      for _, it in ipairs(type(resp.BatchItemResponse) == "table" and resp.BatchItemResponse or {}) do
        local i = type(it) == "table" and bt.byb[it.bId]
        if i then
          local f = qbo_fault.parse(it)
          if f then
            local res = { ok = false, error = qbo_fault.describe(f), code = f.code, fault = f,
              retryable = qbo_fault.class(f.code) == "severe" }
            if f.code == qbo_fault.STALE_OBJECT then
              local body = records[i].body or records[i]
              local cur = M.get(ctx, entity, body.Id)
              res.conflict, res.current = true, cur
            end
            results[i] = res
          elseif type(it[entity]) == "table" then
            results[i] = { ok = true, id = it[entity].Id, sync_token = it[entity].SyncToken,
              object = it[entity] }
          end
        end
      end
      for i = first, last do
        if results[i] == nil then
          results[i] = { ok = false, error = "QuickBooks's batch answer has no item for this record",
            code = "missing", retryable = true }
        end
      end
    end
  end
  return all
end

-- write_all(ctx, groups [, spread]) -> { results, ... }: groups = { {entity =, records =},
-- ... }; each group's results as M.write answers them. Every batch of every group is sent at
-- once, up to M.CONCURRENT in flight (call_many): customers and items needed by a page go
-- together. spread (1..M.CONCURRENT): when full batches would be fewer, the records go in up to
-- that many smaller, even ones (batch_counts), so the connections finish together.
function M.write_all(ctx, groups, spread)
  local batches, calls = plan_batches(groups, spread)
  return batch_results(ctx, groups, batches, call_many(ctx, calls))
end

-- write_start(ctx, groups) -> pending: write_all's batches sent in the background (at most
-- M.CONCURRENT of them; more are sent by write_finish), so the caller plans and stores while
-- QuickBooks works. write_finish(ctx, pending) -> write_all's answer. A pending write that is
-- never finished may still have been executed: the caller reserved what it creates first.
function M.write_start(ctx, groups)
  local batches, calls = plan_batches(groups)
  return { groups = groups, batches = batches, calls = calls, started = start_many(ctx, calls) }
end

function M.write_finish(ctx, p)
  return batch_results(ctx, p.groups, p.batches, finish_many(ctx, p.calls, p.started))
end

function M.write(ctx, entity, records)
  check_entity(entity)
  return M.write_all(ctx, { { entity = entity, records = records } })[1]
end

-- preferences(ctx) -> the company's Preferences object (GET /preferences) | nil, err
function M.preferences(ctx)
  local body, err = call(ctx, "GET", "preferences", { request_id = read_id() })
  if not body then return nil, err end
  return answer_object(body, "Preferences")
end

-- The reads of M.company without info: the Preferences, the CompanyInfo, and the first page of
-- each preloaded entity.
local function company_calls(ctx, preload)
  local realm = http.urlencode(ctx.credentials.realm_id or "")
  local calls = { { method = "GET", path = "preferences", request_id = read_id() },
    { method = "GET", path = "companyinfo/" .. realm, request_id = read_id() } }
  for _, entity in ipairs(preload and preload.entities or {}) do
    calls[#calls + 1] = first_page_call(entity)
  end
  return calls
end

-- M.company's answer from company_calls' answers (call_many's form).
local function company_answer(ctx, preload, a)
  if not a[1][1] then return nil, a[1][2] end
  local prefs, err = answer_object(a[1][1], "Preferences")
  if not prefs then return nil, err end
  if not a[2][1] then return nil, a[2][2] end
  local company = qbo_company.from(prefs, a[2][1].CompanyInfo)
  local ents = preload and preload.entities or {}
  if #ents == 0 then return company end
  local got = {}
  for i, entity in ipairs(ents) do
    local body = a[2 + i][1]
    -- a preload that fails is left to the first page's prefetch (it asks again)
    local rows = body and small_rows(ctx, entity, body, preload.max) or nil
    if rows ~= nil then got[entity] = rows end
  end
  return company, got
end

-- company(ctx [, info [, preload]]) -> ctx.company for the mappings (lib/qbo_company.from):
-- the Preferences and CompanyInfo (info, when the caller has read it) | nil, err.
-- preload = { entities = {...}, max = n } (without info): also read_small(ctx, entities, max),
-- its first pages together with the company's reads; its answer is the second result.
function M.company(ctx, info, preload)
  if info ~= nil then
    local prefs, err = M.preferences(ctx)
    if not prefs then return nil, err end
    return qbo_company.from(prefs, info)
  end
  -- all at once (a run's start waits on them before it plans anything)
  return company_answer(ctx, preload, call_many(ctx, company_calls(ctx, preload)))
end

-- company_start(ctx [, preload]) -> pending: M.company's reads (without info) in flight
-- (engine.http.start) while the caller reads its source; company_finish(ctx, pending) ->
-- M.company's answers.
function M.company_start(ctx, preload)
  local calls = company_calls(ctx, preload)
  return { calls = calls, preload = preload, started = start_many(ctx, calls) }
end

function M.company_finish(ctx, p)
  return company_answer(ctx, p.preload, finish_many(ctx, p.calls, p.started))
end

-- }=======================

return M
