-- lib/webhook_health.lua - the Lua half of the WooCommerce webhook health check, called by
-- engine/flow/webhook_health.c on a worker with a tenant's connector context (engine/lua/connctx.h):
-- which of the engine's webhooks the store still has, and their (re-)registration.
-- Must not: put a secret (the webhook secret, the REST keys) into a report or a message.
--
-- check(ctx, delivery_url | nil) -> report_json
--   Lists the store's webhooks (connectors/woocommerce.lua webhooks) and reports, for each topic
--   of woocommerce.WEBHOOK_TOPICS, the state of the engine's own webhook:
--   {"ok": bool, "deliveryUrl": url | null, "message": text,
--    "topics": [{"topic", "status": "active"|"paused"|"disabled"|"missing", "ids": [..]}],
--    "warnings": [{"code": "webhook_disabled"|"webhook_missing"|"webhook_check_failed",
--                  "topic"?, "message"}]}
--   ours: woocommerce.delivers_to(url, delivery_url) (equal, or equal without the query when the
--   webhook's URL has none: the ingest then routes it by store URL).
--   Without a delivery_url (WEBHOOK_PUBLIC_URL unset) any webhook whose path ends in
--   /api/webhooks/woocommerce and names this tenant or none. A topic's status is the best of its
--   webhooks (active, then paused, then disabled). A listing failure is ok = false with a
--   webhook_check_failed warning and no topics (C stores it with the time of the check).
-- register(ctx, delivery_url) -> result_json | nil, field | nil, nil, message
--   nil, "webhook_secret" when the tenant's credentials hold no webhook secret; nil, nil,
--   message when the store's webhooks cannot be listed (nothing changed). Otherwise
--   woocommerce.register_webhooks with ctx.credentials.webhook_secret, then a fresh check:
--   {"ok": every topic done, "registered": [{topic, action, id, was, error?}], "check": report}.
local json = require "engine.json"
local credentials = require "lib.credentials"

local M = {}

M.INGEST_PATH = "/api/webhooks/woocommerce"
local RANK = { active = 3, paused = 2, disabled = 1 }

local function secrets(ctx)
  local out = {}
  for _, f in ipairs({ "consumer_key", "consumer_secret", "webhook_secret" }) do
    local v = ctx.credentials[f]
    if type(v) == "string" and v ~= "" then out[#out + 1] = v end
  end
  table.sort(out, function(a, b) return #a > #b end)
  return out
end

local function clean(ctx, msg)
  return credentials.scrub(tostring(msg), secrets(ctx))
end

local function split(url)
  local base, query = url:match("^([^?#]*)%??([^#]*)")
  local tenant
  for k, v in (query or ""):gmatch("([^&=]+)=([^&]*)") do
    if k == "tenant" then tenant = v end
  end
  return base or url, tenant
end

local function is_ours(woo, url, delivery_url, tenant)
  if type(url) ~= "string" then return false end
  local base, their_tenant = split(url)
  if their_tenant ~= nil and their_tenant ~= tenant then return false end
  if delivery_url then return woo.delivers_to(url, delivery_url) end
  local path = base:match("^%a[%w+.-]*://[^/]*(/.*)$") or ""
  return path:gsub("/+$", "") == M.INGEST_PATH
end

local function report(ctx, delivery_url)
  local woo = require "connectors.woocommerce"
  local r = { deliveryUrl = delivery_url or json.null, topics = json.array(),
              warnings = json.array() }
  local list, err = woo.webhooks(ctx)
  if not list then
    r.ok = false
    r.message = clean(ctx, "cannot list the store's webhooks: " .. tostring(err))
    r.warnings[1] = { code = "webhook_check_failed", message = r.message }
    return r
  end
  local by_topic = {}
  for _, w in ipairs(list) do
    if w.topic and is_ours(woo, w.delivery_url, delivery_url, ctx.tenant) then
      local t = by_topic[w.topic] or { ids = json.array() }
      by_topic[w.topic] = t
      t.ids[#t.ids + 1] = w.id
      if (RANK[w.status] or 0) > (RANK[t.status] or 0) then t.status = w.status end
    end
  end
  local bad = 0
  for _, topic in ipairs(woo.WEBHOOK_TOPICS) do
    local t = by_topic[topic]
    local status = t and t.status or "missing"
    r.topics[#r.topics + 1] = { topic = topic, status = status, ids = t and t.ids or json.array() }
    if status == "missing" then
      bad = bad + 1
      r.warnings[#r.warnings + 1] = { code = "webhook_missing", topic = topic,
        message = ("the store has no webhook for %s delivering to this engine: "
          .. "POST /api/integrations/woocommerce/webhooks/register creates it"):format(topic) }
    elseif status ~= "active" then
      bad = bad + 1
      r.warnings[#r.warnings + 1] = { code = "webhook_disabled", topic = topic,
        message = ("the store's webhook for %s is %s%s: nothing is delivered; "
          .. "POST /api/integrations/woocommerce/webhooks/register re-activates it and "
          .. "catches up"):format(topic, status,
            status == "disabled" and " (WooCommerce disables a webhook after repeated failed "
              .. "deliveries)" or "") }
    end
  end
  r.ok = bad == 0
  r.message = bad == 0 and ("all %d webhooks are active"):format(#r.topics)
    or ("%d of %d webhooks are not delivering"):format(bad, #r.topics)
  if not delivery_url then
    r.message = r.message .. " (WEBHOOK_PUBLIC_URL is not set: the engine's webhooks are "
      .. "recognised by their path only)"
  end
  return r
end

-- check(ctx, delivery_url | nil) -> report_json (see the top of the file)
function M.check(ctx, delivery_url)
  local ok, r = pcall(report, ctx, delivery_url)
  if not ok then
    local msg = clean(ctx, "the webhook check failed: " .. tostring(r))
    r = { ok = false, deliveryUrl = delivery_url or json.null, message = msg, topics = json.array(),
          warnings = { { code = "webhook_check_failed", message = msg } } }
  end
  return json.encode(r)
end

-- register(ctx, delivery_url) -> result_json | nil, field (see the top of the file)
function M.register(ctx, delivery_url)
  local secret = ctx.credentials.webhook_secret
  if type(secret) ~= "string" or secret == "" then return nil, "webhook_secret" end
  local woo = require "connectors.woocommerce"
  local out, err = woo.register_webhooks(ctx, { delivery_url = delivery_url,
    topics = woo.WEBHOOK_TOPICS, secret = secret })
  if not out then return nil, nil, clean(ctx, "cannot list the store's webhooks: " .. tostring(err)) end
  local result = { registered = json.array(), ok = out.ok }
  for i, r in ipairs(out.topics) do
    result.registered[i] = { topic = r.topic, action = r.action, id = r.id or json.null,
      was = r.was, error = r.error and clean(ctx, r.error) or nil }
  end
  result.check = report(ctx, delivery_url)
  return json.encode(result)
end

return M
