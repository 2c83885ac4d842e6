-- connectors/quickbooks.lua: QuickBooks Online Accounting API v3. Declares the credentials the
-- vault keeps for a company (realm) and proves them with test(ctx): one CompanyInfo read. The
-- OAuth 2.0 connect flow fills access_token / refresh_token; reads, writes and webhooks come
-- later (issue 4). Must not: put a token or the client secret into a message or a log line.
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

-- test(ctx) -> true, message | false, message
function M.test(ctx)
  local c = ctx.credentials
  if c.access_token == nil then
    return false, "connect QuickBooks first (GET /api/integrations/quickbooks/connect)"
  end
  local base = (ctx.config and ctx.config.quickbooks_api_base or ""):gsub("/+$", "")
  if base == "" then return false, "no QuickBooks API base URL is configured" end
  local realm = http.urlencode(c.realm_id)
  local resp, err, code = http.get(("%s/v3/company/%s/companyinfo/%s"):format(base, realm, realm), {
    query = { minorversion = M.MINOR_VERSION },
    headers = { Authorization = "Bearer " .. c.access_token, Accept = "application/json" },
    timeout_ms = 20000,
    retries = 1,
  })
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
  return true, ("connected to QuickBooks company %s (%s)"):format(name, c.environment or "sandbox")
end

return M
