-- lib/credentials.lua: a connector's declared credential fields, checked and split for the vault,
-- the connector context (ctx) every part of the engine hands a connector, and the call of its
-- test(ctx). engine/flow/credentials.c calls prepare_store and test_ctx on a worker; engine/lua/connctx.c
-- calls build_context; the OAuth flow reuses fields / split / merge.
-- Must not: keep any value between calls (secrets travel only through arguments, results and
-- the ctx of one call), or put a submitted value into a message: messages name fields, never
-- what was in them.
--
-- A connector declares `credentials`, a list of field specs (a bare string "x" means
-- { name = "x", required = true, secret = true }):
local json = require "engine.json"

local M = {}

M.MASK = "********"     -- what status answers show for a stored secret field
M.MAX_LEN = 4096        -- default max_len of string-like fields
M.SECRET_MIN_LEN = 8    -- default min_len of secret fields
M.MAX_MESSAGE = 480     -- bytes of a test message kept

-- Intuit's API base URLs (scheme and host; the connector appends /v3/company/...).
M.QUICKBOOKS_API_BASES = {
  sandbox = "https://sandbox-quickbooks.api.intuit.com",
  production = "https://quickbooks.api.intuit.com",
}

local TYPES = { string = true, url = true, integer = true, boolean = true, datetime = true }
local SPEC_KEYS = {
  name = true, type = true, required = true, secret = true, enum = true, default = true,
  pattern = true, pattern_hint = true, max_len = true, min_len = true, schemes = true,
  http_note = true, description = true,
}

-- connector(platform) -> the published connector module; raises for a bad name.
function M.connector(platform)
  if type(platform) ~= "string" or not platform:match("^[%w_-]+$") or #platform > 64 then
    error("credentials: not a connector name", 2)
  end
  return require("connectors." .. platform)
end

local function spec_error(cname, i, what)
  error(("connectors/%s.lua: credentials[%d]: %s"):format(cname, i, what), 0)
end

-- fields(connector) -> list of normalized specs, map name -> spec. Raises on a malformed
-- declaration (a bug of the connector, named with its file and entry).
function M.fields(connector)
  local cname = type(connector) == "table" and tostring(connector.name) or "?"
  local decl = type(connector) == "table" and connector.credentials or nil
  -- An empty list is a connector that needs no credentials (pos reads the engine's own store).
  if type(decl) ~= "table" or (next(decl) ~= nil and #decl == 0) then
    error(("connectors/%s.lua: `credentials` must be a list of fields"):format(cname), 0)
  end
  local list, by_name = {}, {}
  for i, f in ipairs(decl) do
    if type(f) == "string" then f = { name = f, required = true, secret = true } end
    if type(f) ~= "table" then spec_error(cname, i, "must be a table or a field name") end
    for k in pairs(f) do
      if not SPEC_KEYS[k] then spec_error(cname, i, ("unknown key '%s'"):format(tostring(k))) end
    end
    local name = f.name
    if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") or #name > 64 then
      spec_error(cname, i, "name must be an identifier")
    end
    if by_name[name] then spec_error(cname, i, ("duplicate field '%s'"):format(name)) end
    local s = {
      name = name, type = f.type or "string", required = f.required == true,
      secret = f.secret == true, enum = f.enum, default = f.default, pattern = f.pattern,
      pattern_hint = f.pattern_hint, max_len = f.max_len or M.MAX_LEN,
      min_len = f.min_len or (f.secret == true and M.SECRET_MIN_LEN or 1),
      schemes = f.schemes or { "https" }, http_note = f.http_note, description = f.description,
    }
    if not TYPES[s.type] then
      spec_error(cname, i, ("unknown type '%s'"):format(tostring(s.type)))
    end
    if s.enum ~= nil and (type(s.enum) ~= "table" or #s.enum == 0) then
      spec_error(cname, i, "enum must be a non-empty list")
    end
    if math.type(s.max_len) ~= "integer" or s.max_len < 1 then
      spec_error(cname, i, "max_len must be a positive integer")
    end
    if math.type(s.min_len) ~= "integer" or s.min_len < 1 or s.min_len > s.max_len then
      spec_error(cname, i, "min_len must be a positive integer not above max_len")
    end
    if s.pattern ~= nil and type(s.pattern) ~= "string" then
      spec_error(cname, i, "pattern must be a string")
    end
    list[#list + 1] = s
    by_name[name] = s
  end
  if connector.account_field ~= nil and not by_name[connector.account_field] then
    error(("connectors/%s.lua: account_field names no declared field"):format(cname), 0)
  end
  return list, by_name
end

-- {======================= value checks (messages never include the value) =================

local function kind_of(v)
  if v == json.null then return "null" end
  local t = type(v)
  if t == "number" then return math.type(v) == "integer" and "an integer" or "a number" end
  if t == "table" then return json.is_array(v) and "an array" or "an object" end
  if t == "string" then return "a string" end
  if t == "boolean" then return "a boolean" end
  return t
end

local function check_text(s, v)
  if type(v) ~= "string" then return nil, ("must be a string, got %s"):format(kind_of(v)) end
  if v == "" then return nil, "must not be empty" end
  if v:find("%c") then return nil, "must not contain control characters" end
  if #v > s.max_len then return nil, ("must be at most %d bytes"):format(s.max_len) end
  if #v < s.min_len then return nil, ("must be at least %d bytes"):format(s.min_len) end
  return v
end

local DAYS = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- RFC 3339 date-time: 2026-01-15T09:30:00Z, optional fraction, Z or +hh:mm.
local function check_datetime(v)
  local y, mo, d, h, mi, sec, rest =
    v:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil, "must be an RFC 3339 date-time such as 2026-01-15T09:30:00Z" end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi),
    tonumber(sec)
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  if mo < 1 or mo > 12 or d < 1 or d > DAYS[mo] or (mo == 2 and d == 29 and not leap)
    or h > 23 or mi > 59 or sec > 60 then
    return nil, "is not a valid date and time"
  end
  local zone = rest:match("^%.%d+(.*)$") or rest
  if not (zone == "Z" or zone == "z" or zone:match("^[+-]%d%d:%d%d$")) then
    return nil, "must end with Z or a +hh:mm offset (RFC 3339)"
  end
  return v
end

-- Absolute URL of an allowed scheme, with a host, no user info, query or fragment.
-- Returns the normalized URL (scheme and host lower-cased, no trailing slash) and a note.
local function check_url(s, v)
  local scheme, rest = v:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then return nil, "must be an absolute URL such as https://example.com" end
  scheme = scheme:lower()
  local allowed = false
  for _, a in ipairs(s.schemes) do allowed = allowed or a == scheme end
  if not allowed then
    return nil, ("must use %s"):format(table.concat(s.schemes, " or "))
  end
  if v:find("%s") then return nil, "must not contain spaces" end
  local authority, path = rest:match("^([^/?#]*)(.*)$")
  if authority:find("@", 1, true) then
    return nil, "must not contain a user name or password (give them in their own fields)"
  end
  local host, port = authority:match("^(%[[%x:.]+%])(.*)$")
  if not host then host, port = authority:match("^([%w.-]*)(.*)$") end
  if host == nil or host == "" or host:match("^[.-]") then return nil, "must name a host" end
  if port ~= "" then
    local p = port:match("^:(%d+)$")
    if not p or tonumber(p) < 1 or tonumber(p) > 65535 then return nil, "has an invalid port" end
  end
  if path:find("[?#]") then return nil, "must not contain a query string or fragment" end
  path = path:gsub("/+$", "")
  local note = nil
  if scheme == "http" then note = s.http_note end
  return scheme .. "://" .. authority:lower() .. path, note
end

-- check(spec, v) -> normalized value, note | nil, message (without the field name)
function M.check(s, v)
  local t = s.type
  if t == "integer" then
    if math.type(v) ~= "integer" then
      return nil, ("must be an integer, got %s"):format(kind_of(v))
    end
    return v
  elseif t == "boolean" then
    if type(v) ~= "boolean" then return nil, ("must be a boolean, got %s"):format(kind_of(v)) end
    return v
  end
  local text, err = check_text(s, v)
  if text == nil then return nil, err end
  if s.enum then
    local found = false
    for _, e in ipairs(s.enum) do found = found or e == v end
    if not found then return nil, ("must be one of: %s"):format(table.concat(s.enum, ", ")) end
  end
  if s.pattern and not v:match(s.pattern) then
    return nil, s.pattern_hint and ("must be " .. s.pattern_hint) or "has an invalid format"
  end
  if t == "datetime" then return check_datetime(v) end
  if t == "url" then return check_url(s, v) end
  return v
end

-- }=======================

-- validate(connector, body) -> values, notes | nil, status, code, message, field
-- body: JSON text or a decoded table. 400 when it is not a JSON object; 422 naming the field for
-- an unknown field, a missing required one, a value that breaks its spec, or values that break
-- the connector's rule across fields: connector.check_credentials(values) -> nil | message, field
-- (the message names the field and never quotes a value).
function M.validate(connector, body)
  local list, by_name = M.fields(connector)
  local cname = connector.name
  if type(body) == "string" then
    if not body:find("%S") then
      return nil, 400, "malformed_json", "the body must be a JSON object of credential fields"
    end
    local doc, err = json.decode(body)
    if doc == nil then return nil, 400, "malformed_json", "malformed JSON: " .. tostring(err) end
    body = doc
  end
  if type(body) ~= "table" or json.is_array(body) then
    return nil, 400, "malformed_json", "the body must be a JSON object of credential fields"
  end
  local keys = {}
  for k in pairs(body) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not by_name[k] then
      local names = {}
      for _, s in ipairs(list) do names[#names + 1] = s.name end
      local shown = #k > 64 and (k:sub(1, 64) .. "...") or k
      return nil, 422, "invalid_field",
        ("unknown field '%s' for %s (fields: %s)"):format(shown, cname, table.concat(names, ", ")),
        shown
    end
  end
  local values, notes = {}, {}
  for _, s in ipairs(list) do
    local v = body[s.name]
    if v == nil or v == json.null then
      if s.required then
        return nil, 422, "invalid_field", ("%s is required for %s"):format(s.name, cname), s.name
      end
      values[s.name] = s.default
    else
      local ok, extra = M.check(s, v)
      if ok == nil then
        return nil, 422, "invalid_field", ("%s %s"):format(s.name, extra), s.name
      end
      values[s.name] = ok
      if extra then notes[#notes + 1] = extra end
    end
  end
  -- rules across fields (woocommerce: auth basic needs an https store_url)
  if type(connector.check_credentials) == "function" then
    local msg, field = connector.check_credentials(values)
    if msg ~= nil then return nil, 422, "invalid_field", tostring(msg), field end
  end
  return values, notes
end

-- split(connector, values) -> secret_json, public_json, account_id | nil
-- Secret fields go to the sealed part; the public part holds every other value and MASK for each
-- secret field that is set, so a status can list the fields without showing them.
function M.split(connector, values)
  local list = M.fields(connector)
  local secret, public = json.object({}), json.object({})
  for _, s in ipairs(list) do
    local v = values[s.name]
    if v ~= nil then
      if s.secret then
        secret[s.name] = v
        public[s.name] = M.MASK
      else
        public[s.name] = v
      end
    end
  end
  local account = nil
  if connector.account_field and values[connector.account_field] ~= nil then
    account = tostring(values[connector.account_field])
  end
  return json.encode(secret), json.encode(public), account
end

-- merge(connector, secret_json, public_json) -> credentials, secret values (a list)
-- The stored parts back into one table of values (defaults filled for fields added since).
function M.merge(connector, secret_json, public_json)
  local list = M.fields(connector)
  local secret = json.decode(secret_json or "{}")
  local public = json.decode(public_json or "{}")
  if type(secret) ~= "table" or type(public) ~= "table" then
    error("credentials: the stored credentials are not JSON objects", 0)
  end
  local creds, secrets = {}, {}
  for _, s in ipairs(list) do
    local v
    if s.secret then v = secret[s.name] else v = public[s.name] end
    if v == nil or v == json.null then v = s.default end
    creds[s.name] = v
  end
  for _, v in pairs(secret) do
    if type(v) == "string" and v ~= "" then secrets[#secrets + 1] = v end
  end
  -- longest first, so a secret that contains another is replaced whole
  table.sort(secrets, function(a, b) return #a > #b end)
  return creds, secrets
end

-- context(tenant, credentials, settings) -> a plain ctx for a connector call (no vault behind it:
-- specs and `tallysync run` scripts; the engine builds its contexts with build_context).
-- settings: engine settings from C (quickbooks_api_base may be nil: Intuit's default by the
-- credentials' environment, sandbox unless it says production).
function M.context(tenant, credentials, settings)
  settings = settings or {}
  local env = credentials.environment == "production" and "production" or "sandbox"
  return {
    tenant = tenant,
    credentials = credentials,
    config = {
      quickbooks_api_base = settings.quickbooks_api_base or M.QUICKBOOKS_API_BASES[env],
      quickbooks_token_url = settings.quickbooks_token_url,
      connector_timeout_ms = settings.connector_timeout_ms,
    },
  }
end

-- {======================= the engine's connector context =======================
--
-- build_context(platform, tenant, secret_json | nil, public_json | nil, vault,
--               quickbooks_api_base | nil, quickbooks_token_url | nil, connector_timeout_ms)
--   -> ctx | nil, message, "no_credentials"
-- Called by engine/lua/connctx.c with the decrypted vault row (nil when the tenant has none) and
-- `vault`, C primitives bound to that row (load, lease, release, store, version). ctx:
--   ctx.tenant, ctx.platform            strings
--   ctx.credentials                     the declared fields, secret and public merged, defaults
--                                       filled ({} for a connector that declares none). Updated
--                                       IN PLACE by on_tokens / refresh_begin / reload_credentials,
--                                       so a connector may keep a reference to it.
--   ctx.config                          { quickbooks_api_base (resolved: QUICKBOOKS_API_BASE or
--                                       Intuit's by credentials.environment),
--                                       quickbooks_token_url (QUICKBOOKS_TOKEN_URL),
--                                       connector_timeout_ms (CONNECTOR_TIMEOUT_MS) }
-- and, for a connector that declares a refresh_token field (OAuth 2.0: quickbooks):
--   ctx.refresh_begin([{ lease_ms = 60000, wait_ms = lease_ms + 2000 }])
--       -> "acquired"   this ctx holds the company's refresh lease (for lease_ms, across workers
--                       and engines sharing the database): refresh, then on_tokens or
--                       refresh_end
--        | "reloaded"   another worker stored newer tokens (now in ctx.credentials): use them,
--                       do not refresh with the old refresh token
--        | nil, message, code   "refresh_busy" (the holder did not finish within wait_ms or
--                       the call's budget), "no_credentials" (row deleted), "store"
--   ctx.on_tokens(tokens) -> true | nil, message, code
--       tokens: access_token, refresh_token, access_token_expires_at, refresh_token_expires_at.
--       Seals the credentials with them (checked against the connector's fields) over the
--       version this ctx holds, in one UPDATE that also frees the lease, then copies them into
--       ctx.credentials. code "superseded": newer tokens were stored meanwhile (the lease
--       lapsed, or the company was connected again): nothing written, ctx.credentials now holds
--       the stored ones - use them. Other codes: "bad_tokens", "store", "no_credentials".
--   ctx.refresh_end([{ expired = message }]) -> true | nil, message, code
--       give the lease back without storing (a refresh that failed); `expired` records that the
--       remote system refused the refresh token (status 'expired', warning reconnect_required)
--   ctx.reload_credentials() -> true | nil, message, code
--       re-read the vault into ctx.credentials (and the version this ctx holds)

-- The token fields an OAuth 2.0 connector keeps (lib/quickbooks_oauth.lua writes them).
M.TOKEN_FIELDS = { "access_token", "refresh_token", "access_token_expires_at",
  "refresh_token_expires_at" }
M.REFRESH_LEASE_MS = 60000

local function replace_in_place(dst, src)
  for k in pairs(dst) do dst[k] = nil end
  for k, v in pairs(src) do dst[k] = v end
end

-- Valid UTF-8, at most max bytes, cut on a character boundary.
local function clean_text(msg, max)
  if not utf8.len(msg) then msg = msg:gsub("[\128-\255]", "?") end
  if #msg > max then
    local cut = max
    while cut > 0 and (msg:byte(cut + 1) or 0) & 0xC0 == 0x80 do cut = cut - 1 end
    msg = msg:sub(1, cut) .. "..."
  end
  return msg
end

-- The values of the secret fields in creds (for scrub), longest first.
local function secrets_of(connector, creds, into)
  into = into or {}
  for _, s in ipairs(M.fields(connector)) do
    local v = creds[s.name]
    if s.secret and type(v) == "string" and v ~= "" then into[#into + 1] = v end
  end
  table.sort(into, function(a, b) return #a > #b end)
  return into
end

local function attach_tokens(ctx, connector, vault)
  local function reload()
    local secret, public, code = vault.load()
    if not secret then return nil, public, code end
    local ok, creds = pcall(M.merge, connector, secret, public)
    if not ok then
      return nil, ("the stored %s credentials are not readable JSON"):format(connector.name),
        "bad_credentials"
    end
    replace_in_place(ctx.credentials, creds)
    return true
  end
  ctx.reload_credentials = reload
  ctx.refresh_begin = function(opts)
    if opts ~= nil and type(opts) ~= "table" then
      error("ctx.refresh_begin: opts must be a table", 2)
    end
    opts = opts or {}
    local got, msg, code = vault.lease(opts.lease_ms or M.REFRESH_LEASE_MS, opts.wait_ms)
    if not got then return nil, msg, code end
    if got == "changed" then
      local ok, m, c = reload()
      if not ok then return nil, m, c end
      return "reloaded"
    end
    return "acquired"
  end
  ctx.refresh_end = function(opts)
    if opts ~= nil and type(opts) ~= "table" then
      error("ctx.refresh_end: opts must be a table", 2)
    end
    local expired = opts and opts.expired
    if expired ~= nil then -- it is stored and shown: never with a secret in it
      expired = clean_text(M.scrub(tostring(expired), secrets_of(connector, ctx.credentials)),
        M.MAX_MESSAGE)
    end
    return vault.release(expired)
  end
  ctx.on_tokens = function(tokens)
    if type(tokens) ~= "table" then error("ctx.on_tokens: tokens must be a table", 2) end
    local values = {}
    for k, v in pairs(ctx.credentials) do values[k] = v end
    for _, k in ipairs(M.TOKEN_FIELDS) do
      if tokens[k] ~= nil then values[k] = tokens[k] end
    end
    local checked, _, _, msg = M.validate(connector, values)
    if not checked then
      vault.release()
      return nil, ("the refreshed %s tokens break the connector's rules: %s"):format(
        connector.name, tostring(msg)), "bad_tokens"
    end
    local secret, public, account = M.split(connector, checked)
    local v, emsg, code = vault.store(secret, public, account)
    if not v then
      if code == "superseded" then
        local ok, m, c = reload()
        if not ok then return nil, m, c end
      else
        vault.release()
      end
      return nil, emsg, code
    end
    for _, k in ipairs(M.TOKEN_FIELDS) do
      if tokens[k] ~= nil then ctx.credentials[k] = tokens[k] end
    end
    return true
  end
end

function M.build_context(platform, tenant, secret_json, public_json, vault, qbo_base, token_url,
                         timeout_ms)
  local connector = M.connector(platform)
  local list, by_name = M.fields(connector)
  local creds
  if secret_json == nil then
    if #list > 0 then
      return nil, ("no credentials stored for %s"):format(platform), "no_credentials"
    end
    creds = {}
  else
    creds = M.merge(connector, secret_json, public_json)
  end
  local ctx = M.context(tenant, creds, { quickbooks_api_base = qbo_base,
    quickbooks_token_url = token_url,
    connector_timeout_ms = math.tointeger(tonumber(timeout_ms)) })
  ctx.platform = platform
  if by_name.refresh_token and vault ~= nil then attach_tokens(ctx, connector, vault) end
  return ctx
end

-- }=======================

-- scrub(message, secrets) -> message with every occurrence of each secret replaced. Secrets
-- under 4 bytes are left alone (they would mangle every message; stored ones are longer).
function M.scrub(msg, secrets)
  for _, s in ipairs(secrets) do
    if #s < 4 then goto next end
    local out, i = {}, 1
    while true do
      local a, b = msg:find(s, i, true)
      if not a then break end
      out[#out + 1] = msg:sub(i, a - 1)
      out[#out + 1] = "[redacted]"
      i = b + 1
    end
    out[#out + 1] = msg:sub(i)
    msg = table.concat(out)
    ::next::
  end
  return msg
end


-- tostring that cannot raise: a connector's error or message may be a table whose __tostring
-- fails (the failure's own message could carry a value).
local function show(v, what)
  if type(v) == "string" then return v end
  local ok, text = pcall(tostring, v)
  if ok and type(text) == "string" then return text end
  return "(" .. what .. " that cannot be shown)"
end

-- {======================= entry points for C =======================

-- prepare_store(platform, body_text)
--   -> true, secret_json, public_json, account_id | nil, notes_json | nil
--   |  false, status (400 | 422), code, message, field | nil
function M.prepare_store(platform, body)
  local connector = M.connector(platform)
  local values, notes, code, message, field = M.validate(connector, body)
  if values == nil then return false, notes, code, message, field end
  local secret, public, account = M.split(connector, values)
  return true, secret, public, account, #notes > 0 and json.encode(json.array(notes)) or nil
end

-- describe(platform) -> {platform, accountField, fields = [{name, type, required, secret, enum?,
--   default?, description?, patternHint?, minLength, maxLength, schemes?}]}: the declared fields as
-- a form needs them (GET /api/integrations/{platform}/fields). Declarations only, never a stored
-- value; a secret field's default is left out.
function M.describe(platform)
  local connector = M.connector(platform)
  local list = M.fields(connector)
  local out = {}
  for i, s in ipairs(list) do
    local enum
    if s.enum ~= nil then
      enum = {}
      for k, v in ipairs(s.enum) do enum[k] = v end
      enum = json.array(enum)
    end
    local schemes
    if s.type == "url" then
      schemes = {}
      for k, v in ipairs(s.schemes) do schemes[k] = v end
      schemes = json.array(schemes)
    end
    local default = s.default
    if s.secret or type(default) == "function" then default = nil end
    out[i] = {
      name = s.name, type = s.type, required = s.required, secret = s.secret, enum = enum,
      default = default, description = s.description, patternHint = s.pattern_hint,
      minLength = s.min_len, maxLength = s.max_len, schemes = schemes,
    }
  end
  return { platform = platform, accountField = connector.account_field, fields = json.array(out) }
end

-- test_ctx(platform, ctx)
--   -> ok (boolean), message (string: valid UTF-8, no secret value, at most MAX_MESSAGE bytes)
-- A connector that raises reports ok = false with its error; budget and memory errors are not
-- caught here (the VM re-raises them) and reach C, which answers for them. Secrets held before
-- and after the call (a test may refresh tokens) are scrubbed from the message.
function M.test_ctx(platform, ctx)
  local connector = M.connector(platform)
  if type(connector.test) ~= "function" then
    return false, ("the %s connector has no test function"):format(platform)
  end
  local secrets = secrets_of(connector, ctx.credentials)
  local okcall, r1, r2 = pcall(connector.test, ctx)
  secrets_of(connector, ctx.credentials, secrets)
  local ok, msg
  if not okcall then
    ok, msg = false, "the connector's test failed: " .. show(r1, "an error value")
  elseif r1 then
    ok, msg = true, r2 ~= nil and show(r2, "a message") or "connected"
  else
    ok, msg = false, r2 ~= nil and show(r2, "a message") or "the connection test failed"
  end
  return ok, clean_text(M.scrub(msg, secrets), M.MAX_MESSAGE)
end

-- run_test(platform, secret_json, public_json, tenant, quickbooks_api_base | nil) -> ok, message
-- test_ctx with a plain context (no vault behind it) built from the stored parts.
function M.run_test(platform, secret_json, public_json, tenant, qbo_base)
  local connector = M.connector(platform)
  local creds, secrets = M.merge(connector, secret_json, public_json)
  local ok, msg = M.test_ctx(platform, M.context(tenant, creds, { quickbooks_api_base = qbo_base }))
  return ok, M.scrub(msg, secrets)
end

-- }=======================

return M
