-- woocommerce_auth_spec.lua - how connectors/woocommerce.lua authenticates: the stored `auth`
-- credential field (auto | basic | oauth1), the mode each store URL gets, and the refusals of
-- HTTP Basic over plain HTTP (at store time and, defensively, before any request is sent).
-- Script tier (`tallysync run`), no network: the calls made here stop before any request or hit
-- a closed loopback port. The requests themselves (Basic over real TLS, OAuth 1.0a verified the
-- way WordPress does) are checked by tests/integration/connector_woocommerce.sh.
local json = require "engine.json"
local cred = require "lib.credentials"
local woo = require "connectors.woocommerce"
local spec = require "lib.spec"
local case = spec.case

local function eq(got, want, what)
  if got ~= want then
    error(("%s: got %s, want %s"):format(what or "value", tostring(got), tostring(want)), 2)
  end
end

local function has(s, needle, what)
  if type(s) ~= "string" or not s:find(needle, 1, true) then
    error(("%s: %q does not contain %q"):format(what or "text", tostring(s), needle), 2)
  end
end

local KEY, SECRET = "ck_11111111", "cs_22222222"

local function body(extra)
  local b = { store_url = "https://shop.example.com", consumer_key = KEY, consumer_secret = SECRET }
  for k, v in pairs(extra or {}) do b[k] = v end
  return json.encode(b)
end

local function ctx(store_url, auth)
  return { credentials = { store_url = store_url, consumer_key = KEY, consumer_secret = SECRET,
    auth = auth }, config = {} }
end

case("auth is a public credential field, default auto", function()
  local _, by_name = cred.fields(woo)
  local f = assert(by_name.auth, "auth declared")
  eq(f.secret, false, "public")
  eq(f.default, "auto", "default")
  eq(table.concat(f.enum, ","), "auto,basic,oauth1", "values")
  local v = assert(cred.validate(woo, body()))
  eq(v.auth, "auto", "stored without auth")
  local ok, _, public = cred.prepare_store("woocommerce", body({ store_url = "http://127.0.0.1:8080" }))
  eq(ok, true, "stored")
  eq(json.decode(public).auth, "auto", "the status shows the mode chosen")
end)

case("auth basic with an http store_url is refused with 422 naming auth, loopback too", function()
  for _, url in ipairs { "http://shop.example.com", "http://127.0.0.1:8080", "http://localhost" } do
    local v, status, code, msg, field = cred.validate(woo, body({ store_url = url, auth = "basic" }))
    eq(v, nil, url .. ": refused")
    eq(status, 422, url .. ": status")
    eq(code, "invalid_field", url .. ": code")
    eq(field, "auth", url .. ": field")
    has(msg, "auth basic needs an https store_url", url .. ": message")
    eq(msg:find(SECRET, 1, true), nil, "no secret in the message")
  end
  local ok, status, _, _, field = cred.prepare_store("woocommerce",
    body({ store_url = "http://127.0.0.1:8080", auth = "basic" }))
  eq(ok, false, "prepare_store refuses")
  eq(status, 422, "prepare_store status")
  eq(field, "auth", "prepare_store field")
end)

case("auth basic and oauth1 over https are accepted; unknown values are refused", function()
  eq(assert(cred.validate(woo, body({ auth = "basic" }))).auth, "basic", "basic on https")
  eq(assert(cred.validate(woo, body({ auth = "oauth1" }))).auth, "oauth1", "oauth1 on https")
  eq(assert(cred.validate(woo, body({ store_url = "http://s.example", auth = "oauth1" }))).auth,
    "oauth1", "oauth1 on http")
  local v, status, _, msg, field = cred.validate(woo, body({ auth = "Basic" }))
  eq(v, nil, "refused")
  eq(status, 422, "status")
  eq(field, "auth", "field")
  has(msg, "auth must be one of: auto, basic, oauth1", "message")
end)

case("the mode per store URL: Basic only over https, OAuth 1.0a otherwise, loopback included", function()
  eq(woo.auth_mode(ctx("https://shop.example.com")), "basic", "https, auth absent")
  eq(woo.auth_mode(ctx("https://shop.example.com", "auto")), "basic", "https, auto")
  eq(woo.auth_mode(ctx("http://shop.example.com", "auto")), "oauth1", "http, auto")
  eq(woo.auth_mode(ctx("http://127.0.0.1:8080", "auto")), "oauth1", "loopback http, auto")
  eq(woo.auth_mode(ctx("http://127.0.0.1", nil)), "oauth1", "loopback http, auth absent")
  eq(woo.auth_mode(ctx("https://shop.example.com", "oauth1")), "oauth1", "https, oauth1 (TLS proxy)")
  eq(woo.auth_mode(ctx("https://shop.example.com", "basic")), "basic", "https, basic")
  local mode, why = woo.auth_mode(ctx("http://127.0.0.1:8080", "basic"))
  eq(mode, nil, "basic over http has no mode")
  has(why, "auth basic needs an https store_url", "why")
  mode, why = woo.auth_mode(ctx("https://shop.example.com", "digest"))
  eq(mode, nil, "an unknown stored value has no mode")
  has(why, "auth must be one of: auto, basic, oauth1", "why")
end)

-- A row stored before the rule existed: the connector refuses before sending anything (the port
-- is closed, so a request would answer "cannot reach" instead).
case("auth basic over http stored anyway: every call refuses before any request", function()
  local c = ctx("http://127.0.0.1:1", "basic")
  local ok, msg = woo.test(c)
  eq(ok, false, "test")
  has(msg, "auth basic needs an https store_url", "test message")
  local recs, rmsg, retryable = woo.read_all(c, "orders", {})
  eq(recs, nil, "read")
  has(rmsg, "auth basic needs an https store_url", "read message")
  eq(retryable, false, "not retryable")
  local r = woo.write(c, "order_note", { { id = 1, note = "x" } })
  eq(r[1].ok, false, "write")
  has(r[1].error, "auth basic needs an https store_url", "write message")
  local hooks, hmsg = woo.webhooks(c)
  eq(hooks, nil, "webhooks")
  has(hmsg, "auth basic needs an https store_url", "webhooks message")
end)

spec.finish("woocommerce_auth_spec")
