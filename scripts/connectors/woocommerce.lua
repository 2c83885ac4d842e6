-- connectors/woocommerce.lua: WooCommerce REST API (wc/v3). Declares the credentials the vault
-- keeps for a store and proves them with test(ctx); reading orders and webhooks come later
-- (issue 4). Must not: put a credential into a message or a log line.
--
-- Authentication: over HTTPS, HTTP Basic with the consumer key and secret. Over plain HTTP,
-- WooCommerce accepts only OAuth 1.0a one-legged signatures, which this connector does not
-- implement yet, so test() refuses http:// stores, except http://127.0.0.1 (a local mock in
-- the engine's own tests, which answers Basic auth).
local http = require "engine.http"
local crypto = require "engine.crypto"

local M = {
  name = "woocommerce",
  account_field = "store_url", -- webhook deliveries name their store (X-WC-Webhook-Source)
  credentials = {
    { name = "store_url", type = "url", required = true, schemes = { "https", "http" },
      http_note = "store_url uses plain HTTP: WooCommerce then accepts only OAuth 1.0a signed "
        .. "requests, which this connector does not support yet; use the store's https URL",
      description = "the store's home URL, e.g. https://shop.example.com (no /wp-json)" },
    { name = "consumer_key", type = "string", required = true, secret = true,
      description = "REST API key (ck_...), read permission at least" },
    { name = "consumer_secret", type = "string", required = true, secret = true,
      description = "REST API secret (cs_...)" },
    { name = "webhook_secret", type = "string", secret = true,
      description = "the secret set on the store's webhooks (signs X-WC-Webhook-Signature)" },
  },
}

local function loopback_http(url)
  return url == "http://127.0.0.1" or url:match("^http://127%.0%.0%.1[:/]") ~= nil
end

-- test(ctx) -> true, message | false, message
function M.test(ctx)
  local c = ctx.credentials
  local base = c.store_url
  if not base:match("^https://") and not loopback_http(base) then
    return false, "plain-HTTP stores need OAuth 1.0a signing (not yet supported)"
  end
  local resp, err, code = http.get(base .. "/wp-json/wc/v3/system_status", {
    headers = {
      Authorization = "Basic " .. crypto.base64_encode(c.consumer_key .. ":" .. c.consumer_secret),
      Accept = "application/json",
    },
    timeout_ms = 20000,
    retries = 1,
  })
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
  return true, ("connected to WooCommerce%s at %s"):format(version, base)
end

return M
