-- connectors/supabase.lua: Supabase through PostgREST (/rest/v1). Declares the credentials the
-- vault keeps for a project and proves them with test(ctx): one GET of the API root. Reads and
-- writes come later (issue 4). Must not: put the key into a message or a log line.
--
-- Keys: a legacy service_role JWT goes in both `apikey` and `Authorization: Bearer`; a new
-- secret key (sb_secret_...) is not a JWT and goes in `apikey` only.
local http = require "engine.http"

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

return M
