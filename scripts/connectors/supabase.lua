-- connectors/supabase.lua: Supabase through PostgREST (/rest/v1). Declares the credentials the
-- vault keeps for a project, proves them with test(ctx) (one GET of the API root) and writes
-- rows with bulk upserts. Must not: put the key into a message or a log line, send a float.
--
-- Keys: a legacy service_role JWT goes in both `apikey` and `Authorization: Bearer`; a new
-- secret key (sb_secret_...) is not a JWT and goes in `apikey` only.
--
-- write(ctx, entity, rows [, opts]) -> results, stats ({ requests, written, failed })
--   rows     a list of row tables (column -> value; json.null or db.null for NULL). Give every
--            row the same keys: PostgREST takes the union of keys as the column list (sent as
--            `columns=`) and a key missing from a row is written as NULL.
--   entity   mapped to a table by ctx.config.supabase_tables[entity], else M.DEFAULT_TABLES,
--            else the entity name itself (it must be a PostgreSQL identifier).
--   schema   ctx.credentials.schema (Content-Profile header when not public).
--   opts.on_conflict  a column name or list of names with a UNIQUE constraint (default: also
--            ctx.config.supabase_on_conflict[entity]; none means the primary key).
--   Upsert: POST /rest/v1/<table>?on_conflict=..&columns=.. with a JSON array and
--   `Prefer: resolution=merge-duplicates,return=minimal`, in chunks of
--   ctx.config.supabase_chunk_size rows (default 500: 10,000 rows are 20 requests).
--   results[i] is the answer for rows[i]: { ok = true } or
--   { ok = false, error = "<PostgREST message> (<code>)", retryable = bool }.
--   A bulk insert is one statement, so one bad row fails its whole chunk: on a 4xx whose
--   PostgREST code names a row problem (classes 21, 22, 23, 42804) the chunk is split in halves
--   recursively until each bad row is alone; the good rows are written and each bad row gets
--   PostgREST's message (retryable = false). A half whose sibling went through whole must hold
--   the bad row, so it is split without being sent. Requests for k bad rows in a chunk of n:
--   at most about 2 * k * log2(n) + 1 (37 for 3 among 500 in the tests). Other 4xx (401/403
--   credentials, 404 table, 406 schema, 42P10 on_conflict, PGRST...) fail every row not yet
--   written with the same message and stop the run. engine.http retries (ctx.config.
--   supabase_retries, default 3) 429 and 503, and - an upsert being idempotent, retry_unsafe -
--   502, 504, resets and timeouts; what still fails, and any other 5xx (a 500 is not retried),
--   fails that chunk with retryable = true, and the run goes on with the next chunk.
--   Money: numeric columns get exact decimal strings ("12.34") or integers in minor units
--   (1234), never floats; a row holding a float anywhere fails (retryable = false) unsent.
--   Rate: rate = { key = "supabase:" .. url, per_second = 20, burst = 20, concurrent = 4 }.
--   ctx.config.supabase_timeout_ms: per attempt, default 30000.
local http = require "engine.http"
local json = require "engine.json"

local M = {
  name = "supabase",
  credentials = {
    { name = "url", type = "url", required = true, schemes = { "https", "http" },
      description = "the project URL, e.g. https://abcdefgh.supabase.co (no /rest/v1)" },
    { name = "service_role_key", type = "string", required = true, secret = true,
      description = "the service_role JWT or a secret key (sb_secret_...)" },
    { name = "schema", type = "string", default = "public", pattern = "^[%a_][%w_$]*$",
      pattern_hint = "a PostgreSQL schema name", max_len = 63,
      description = "the exposed schema to use (Accept-Profile / Content-Profile)" },
  },
}

-- Headers of every request with these credentials.
function M.headers(c)
  local key = c.service_role_key
  local h = { apikey = key, Accept = "application/json" }
  if not key:match("^sb_secret_") then h.Authorization = "Bearer " .. key end
  if c.schema and c.schema ~= "public" then h["Accept-Profile"] = c.schema end
  return h
end

-- test(ctx) -> true, message | false, message
function M.test(ctx)
  local c = ctx.credentials
  local resp, err, code = http.get(c.url .. "/rest/v1/", {
    headers = M.headers(c),
    timeout_ms = 20000,
    retries = 1,
  })
  if resp == nil then
    return false, ("cannot reach Supabase (%s): %s"):format(code, err)
  end
  local body = type(resp.json) == "table" and resp.json or {}
  local pg = type(body.code) == "string" and (" " .. body.code) or ""
  if resp.status == 401 or resp.status == 403 then
    return false, ("credentials rejected by supabase (HTTP %d%s)"):format(resp.status, pg)
  end
  if resp.status == 406 and body.code == "PGRST106" then
    return false, ("schema '%s' is not exposed by the project's API (HTTP 406 PGRST106)")
      :format(c.schema)
  end
  if resp.status ~= 200 then
    return false, ("supabase answered HTTP %d%s"):format(resp.status, pg)
  end
  return true, ("connected to Supabase at %s (schema %s)"):format(c.url, c.schema or "public")
end

-- {======================= write: bulk upserts =======================

M.DEFAULT_CHUNK = 500
M.MAX_CHUNK = 10000
-- entity -> table when ctx.config.supabase_tables does not say
M.DEFAULT_TABLES = {
  orders = "orders", order_items = "order_items", customers = "customers",
  products = "products", invoices = "invoices", payments = "payments",
}

local IDENT = "^[%a_][%w_$]*$"

local function ident_ok(s)
  return type(s) == "string" and #s <= 63 and s:match(IDENT) ~= nil
end

-- A PostgREST code that names a problem of some row (split the chunk to find it):
-- 21 cardinality (one row hit twice), 22 data exception, 23 integrity, 42804 datatype mismatch.
local function row_error(code)
  return type(code) == "string" and (code:match("^2[123]") ~= nil or code == "42804")
end

local function has_float(v, depth)
  if math.type(v) == "float" then return true end
  if type(v) == "table" and v ~= json.null and depth < 16 then
    for _, x in pairs(v) do
      if has_float(x, depth + 1) then return true end
    end
  end
  return false
end

-- "<message> (<code>)" from a PostgREST error body, or a description of the HTTP status.
local function pg_message(resp)
  local b = type(resp.json) == "table" and resp.json or {}
  local msg = type(b.message) == "string" and b.message or nil
  local code = type(b.code) == "string" and b.code or nil
  if msg and code then return ("%s (%s)"):format(msg, code), code end
  if msg then return msg, nil end
  return ("supabase answered HTTP %d"):format(resp.status), code
end

local function config_int(cfg, name, default, lo, hi)
  local v = cfg[name]
  if math.type(v) == "integer" and v >= lo and v <= hi then return v end
  return default
end

-- write(ctx, entity, rows [, opts]) -> results, stats   (see the top of the file)
-- stats = { requests = n, written = n, failed = n }
function M.write(ctx, entity, rows, opts)
  opts = opts or {}
  local c, cfg = ctx.credentials, ctx.config or {}
  assert(type(rows) == "table", "supabase.write: rows must be a list")
  local tables = type(cfg.supabase_tables) == "table" and cfg.supabase_tables or {}
  local tbl = tables[entity] or M.DEFAULT_TABLES[entity] or entity
  if not ident_ok(tbl) then
    error(("supabase.write: table name for '%s' is not a PostgreSQL identifier"):format(
      tostring(entity)), 2)
  end
  local on_conflict = opts.on_conflict
  if on_conflict == nil and type(cfg.supabase_on_conflict) == "table" then
    on_conflict = cfg.supabase_on_conflict[entity]
  end
  if type(on_conflict) == "string" then on_conflict = { on_conflict } end
  if on_conflict ~= nil then
    assert(type(on_conflict) == "table" and #on_conflict > 0, "supabase.write: bad on_conflict")
    for _, col in ipairs(on_conflict) do
      if not ident_ok(col) then error("supabase.write: on_conflict names a non-identifier", 2) end
    end
  end
  local chunk_size = config_int(cfg, "supabase_chunk_size", M.DEFAULT_CHUNK, 1, M.MAX_CHUNK)
  local timeout_ms = config_int(cfg, "supabase_timeout_ms", 30000, 100, 300000)
  local retries = config_int(cfg, "supabase_retries", 3, 0, 10)

  local results, encoded = {}, {}
  local stats = { requests = 0, written = 0, failed = 0 }
  local n = #rows
  local colset, columns = {}, {}
  local todo = {}
  for i = 1, n do
    local r = rows[i]
    if type(r) ~= "table" then
      results[i] = { ok = false, error = "row is not a table", retryable = false }
    elseif has_float(r, 0) then
      results[i] = { ok = false, retryable = false, error =
        "row holds a float: send money as a decimal string or integer minor units" }
    else
      local bad = nil
      for k in pairs(r) do
        if not ident_ok(k) then bad = k break end
      end
      local ok, text = false, nil
      if bad == nil then ok, text = pcall(json.encode, r) end
      if bad ~= nil then
        results[i] = { ok = false, error = "row has a key that is not a column name",
          retryable = false }
      elseif not ok then
        results[i] = { ok = false, error = "row cannot be encoded as JSON: " .. tostring(text),
          retryable = false }
      else
        encoded[i] = text
        todo[#todo + 1] = i
        for k in pairs(r) do
          if not colset[k] then colset[k] = true columns[#columns + 1] = k end
        end
      end
    end
  end
  table.sort(columns)

  local query = { columns = table.concat(columns, ",") }
  if on_conflict then query.on_conflict = table.concat(on_conflict, ",") end
  local headers = M.headers(c)
  headers["Content-Type"] = "application/json"
  headers.Prefer = "resolution=merge-duplicates,return=minimal"
  if c.schema and c.schema ~= "public" then headers["Content-Profile"] = c.schema end
  local url = c.url .. "/rest/v1/" .. tbl
  local fatal = nil

  local function fail_all(idx, msg, retryable)
    for _, i in ipairs(idx) do
      results[i] = { ok = false, error = msg, retryable = retryable }
    end
    return false
  end

  -- Send rows idx[a..b]; split on a row error. known_bad: the range holds a bad row (its
  -- sibling half went through whole after their parent failed), so a range of more than one
  -- row is split without sending it. Returns true when the range was written by one request.
  local function send(idx, a, b, known_bad)
    local part = {}
    for k = a, b do part[#part + 1] = idx[k] end
    if fatal then return fail_all(part, fatal, false) end
    if known_bad and a < b then
      local mid = (a + b) // 2
      local left = send(idx, a, mid, false)
      send(idx, mid + 1, b, left)
      return false
    end
    local parts = {}
    for k = a, b do parts[#parts + 1] = encoded[idx[k]] end
    stats.requests = stats.requests + 1
    local resp, err, code = http.request({
      method = "POST", url = url, query = query, headers = headers,
      body = "[" .. table.concat(parts, ",") .. "]",
      timeout_ms = timeout_ms, retries = retries, retry_unsafe = true,
      rate = { key = "supabase:" .. c.url, per_second = 20, burst = 20, concurrent = 4 },
    })
    if resp == nil then
      return fail_all(part, ("cannot reach supabase (%s): %s"):format(tostring(code),
        tostring(err)), true)
    end
    local st = resp.status
    if st >= 200 and st < 300 then
      for _, i in ipairs(part) do results[i] = { ok = true } end
      return true
    end
    local msg, pgcode = pg_message(resp)
    if st >= 500 or st == 429 then
      return fail_all(part, ("supabase answered HTTP %d: %s"):format(st, msg), true)
    end
    if row_error(pgcode) then
      if a == b then return fail_all(part, msg, false) end
      local mid = (a + b) // 2
      local left = send(idx, a, mid, false)
      send(idx, mid + 1, b, left)
      return false
    end
    if st == 401 or st == 403 then
      fatal = ("credentials rejected by supabase (HTTP %d): %s"):format(st, msg)
    else
      fatal = msg
    end
    return fail_all(part, fatal, false)
  end

  for a = 1, #todo, chunk_size do
    send(todo, a, math.min(a + chunk_size - 1, #todo), false)
  end
  for i = 1, n do
    if results[i].ok then stats.written = stats.written + 1 else stats.failed = stats.failed + 1 end
  end
  return results, stats
end

-- }=======================

return M
