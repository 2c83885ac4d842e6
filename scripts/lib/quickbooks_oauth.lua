-- lib/quickbooks_oauth.lua: QuickBooks Online OAuth 2.0 token calls at Intuit's token endpoint
-- (external-apis.md 3.1): exchange an authorization code (the connect flow's callback, driven by
-- engine/api/api_oauth.c on a worker) and refresh an access token (connectors, issue 4).
-- Both answer a copy of the credentials with the new tokens merged in; storing that copy is the
-- caller's job, and a refresh's new refresh_token must always be stored (the old one dies ~24 h
-- later), and refreshes of one realm must be serialised by the caller (two refreshers racing
-- with one refresh token leave one of them with a dead token): connectors/quickbooks.lua does it
-- with the engine ctx's refresh lease (lib/credentials.lua build_context). Must not: put a token, a code or
-- the client secret into an error message or a log line; retry an authorization-code exchange
-- (a code works once); keep state between calls.
--
--   local qbo_oauth = require "lib.quickbooks_oauth"
--   local creds, err, code = qbo_oauth.exchange{ credentials = c, code = "...",
--                                                redirect_uri = "...", realm_id = "..." }
--   local creds, err, code = qbo_oauth.refresh{ credentials = c }
-- ctx.token_url (or ctx.config.quickbooks_token_url; optional) replaces Intuit's endpoint
-- (QUICKBOOKS_TOKEN_URL, tests);
-- ctx.timeout_ms (optional) caps the HTTP call (the caller's budget caps it anyway).
-- Failures return nil, message, code; code is Intuit's OAuth error ("invalid_grant",
-- "invalid_client", ...), "http" (another status), "bad_response", or engine.http's code
-- ("timeout", "connect", "tls", "dns", "too_large"). Wrong arguments raise.
local http = require "engine.http"
local json = require "engine.json"
local crypto = require "engine.crypto"

local M = {}

M.DEFAULT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
M.SCOPE = "com.intuit.quickbooks.accounting"

-- The fields this module writes into the credentials (every other field is kept as it is).
M.TOKEN_FIELDS = { "access_token", "refresh_token", "access_token_expires_at",
  "refresh_token_expires_at" }

-- ISO-8601 UTC with milliseconds, the engine's timestamp format (schema/0001 conventions).
function M.iso_utc(t)
  return os.date("!%Y-%m-%dT%H:%M:%S.000Z", t)
end

local function nonempty_string(v)
  return type(v) == "string" and v ~= ""
end

local function check_credentials(ctx, need)
  if type(ctx) ~= "table" then
    error("quickbooks_oauth: ctx must be a table", 3)
  end
  local c = ctx.credentials
  if type(c) ~= "table" then
    error("quickbooks_oauth: ctx.credentials must be a table", 3)
  end
  for _, k in ipairs(need) do
    if not nonempty_string(c[k]) then
      error(("quickbooks_oauth: ctx.credentials.%s must be a non-empty string"):format(k), 3)
    end
  end
  return c
end

-- An OAuth error name from Intuit's answer, reduced to a safe token (it goes into messages).
local function oauth_error(body)
  if type(body) == "table" and type(body.error) == "string" then
    local e = body.error:match("^[%w_%.%-]+$")
    if e and #e <= 64 then return e end
  end
  return nil
end

-- POST the form to the token endpoint. Returns the decoded answer | nil, message, code.
-- what: "the authorization code" / "the refresh token", for messages.
local function token_call(ctx, form, what)
  local c = ctx.credentials
  local url = ctx.token_url or (type(ctx.config) == "table" and ctx.config.quickbooks_token_url)
    or M.DEFAULT_TOKEN_URL
  if not nonempty_string(url) then
    error("quickbooks_oauth: ctx.token_url must be a non-empty string", 3)
  end
  local basic = crypto.base64_encode(c.client_id .. ":" .. c.client_secret)
  local resp, err, code = http.request{
    method = "POST",
    url = url,
    headers = {
      ["Authorization"] = "Basic " .. basic,
      ["Accept"] = "application/json",
      ["Content-Type"] = "application/x-www-form-urlencoded",
    },
    body = http.build_query(form),
    timeout_ms = ctx.timeout_ms,
    -- a POST is retried only when nothing was sent: a code must never be exchanged twice
  }
  if not resp then
    return nil, ("the QuickBooks token endpoint could not be reached (%s): %s"):format(
      code or "error", err or "unknown error"), code or "connect"
  end
  local body = resp.json
  if resp.status ~= 200 then
    local e = oauth_error(body)
    if e then
      return nil, ("QuickBooks refused %s (%s)"):format(what, e), e
    end
    return nil, ("the QuickBooks token endpoint answered HTTP %d"):format(resp.status), "http"
  end
  if type(body) ~= "table" then
    return nil, "the QuickBooks token endpoint answered 200 without a JSON object", "bad_response"
  end
  if not nonempty_string(body.access_token) or not nonempty_string(body.refresh_token) then
    return nil, "the QuickBooks token endpoint answered 200 without access_token and "
      .. "refresh_token", "bad_response"
  end
  if math.type(body.expires_in) ~= "integer" or body.expires_in <= 0 then
    return nil, "the QuickBooks token endpoint answered 200 without a positive expires_in",
      "bad_response"
  end
  return body
end

-- A copy of credentials c with the tokens of answer `tok` merged in (times from `now`).
local function merged(c, tok, now)
  local out = json.object({})
  for k, v in pairs(c) do out[k] = v end
  out.access_token = tok.access_token
  out.refresh_token = tok.refresh_token
  out.access_token_expires_at = M.iso_utc(now + tok.expires_in)
  local rt = tok.x_refresh_token_expires_in
  if math.type(rt) == "integer" and rt > 0 then
    out.refresh_token_expires_at = M.iso_utc(now + rt)
  end
  return out
end

-- exchange{credentials = {client_id, client_secret, ...}, code, redirect_uri, realm_id?,
--          token_url?, timeout_ms?}
--   -> credentials (a copy, tokens merged, realm_id set when given) | nil, message, code
function M.exchange(ctx)
  local c = check_credentials(ctx, { "client_id", "client_secret" })
  if not nonempty_string(ctx.code) then
    error("quickbooks_oauth.exchange: ctx.code must be a non-empty string", 2)
  end
  if not nonempty_string(ctx.redirect_uri) then
    error("quickbooks_oauth.exchange: ctx.redirect_uri must be a non-empty string", 2)
  end
  if ctx.realm_id ~= nil and not nonempty_string(ctx.realm_id) then
    error("quickbooks_oauth.exchange: ctx.realm_id must be a non-empty string", 2)
  end
  local now = os.time()
  local tok, err, code = token_call(ctx, {
    grant_type = "authorization_code",
    code = ctx.code,
    redirect_uri = ctx.redirect_uri,
  }, "the authorization code")
  if not tok then return nil, err, code end
  local out = merged(c, tok, now)
  if ctx.realm_id ~= nil then out.realm_id = ctx.realm_id end
  return out
end

-- refresh{credentials = {client_id, client_secret, refresh_token, ...}, token_url?, timeout_ms?}
--   -> credentials (a copy with the new access and refresh tokens) | nil, message, code
-- invalid_grant here means the refresh token is dead: the user must connect again.
function M.refresh(ctx)
  check_credentials(ctx, { "client_id", "client_secret", "refresh_token" })
  local now = os.time()
  local tok, err, code = token_call(ctx, {
    grant_type = "refresh_token",
    refresh_token = ctx.credentials.refresh_token,
  }, "the refresh token")
  if not tok then return nil, err, code end
  return merged(ctx.credentials, tok, now)
end

-- True when the access token is missing or expires within `margin` seconds (default 300).
function M.needs_refresh(credentials, margin, now)
  local at = type(credentials) == "table" and credentials.access_token_expires_at
  if not nonempty_string(credentials and credentials.access_token) or type(at) ~= "string" then
    return true
  end
  local y, mo, d, h, mi, s = at:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)")
  if not y then return true end
  -- seconds since the epoch of a UTC date without os.time's local-time interpretation
  local yy, mm = tonumber(y), tonumber(mo)
  if mm <= 2 then yy, mm = yy - 1, mm + 12 end
  local days = 365 * yy + yy // 4 - yy // 100 + yy // 400 + (153 * (mm - 3) + 2) // 5
    + tonumber(d) - 719469
  local expires = days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
  return expires - (margin or 300) <= (now or os.time())
end

-- For engine/api/api_oauth.c (the connect flow's callback, on a worker):
-- callback(secret_json, public_json, code, realm_id, token_url, redirect_uri, timeout_ms)
--   -> secret_json, public_json, account_id | nil, message, code
-- The vault row's two parts (as lib/credentials.lua split them) are merged, the code exchanged,
-- the tokens, their expiry times and realm_id set, the result checked against the connector's
-- declared fields and split again for the vault; every other field is kept.
function M.callback(secret_json, public_json, code, realm_id, token_url, redirect_uri,
                    timeout_ms)
  local credentials = require "lib.credentials"
  local connector = credentials.connector("quickbooks")
  local ok, creds = pcall(credentials.merge, connector, secret_json, public_json)
  if not ok then -- (its message names no value, but there is no need to pass it on)
    return nil, "the stored QuickBooks credentials are not readable JSON", "bad_credentials"
  end
  if not nonempty_string(creds.client_id) or not nonempty_string(creds.client_secret) then
    return nil, "store the QuickBooks client_id and client_secret first", "no_client"
  end
  local out, err, ecode = M.exchange{
    credentials = creds, code = code, realm_id = realm_id, token_url = token_url,
    redirect_uri = redirect_uri, timeout_ms = timeout_ms,
  }
  if not out then return nil, err, ecode end
  local values, _, _, msg = credentials.validate(connector, out)
  if not values then -- messages name the field, never its value
    return nil, "the new QuickBooks credentials break the connector's rules: " .. tostring(msg),
      "bad_credentials"
  end
  return credentials.split(connector, values)
end

return M
