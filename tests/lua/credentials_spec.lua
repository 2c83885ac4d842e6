-- credentials_spec.lua - script tier for lib/credentials.lua and the connectors' credential
-- declarations, run by `tallysync run tests/lua/credentials_spec.lua` in the real sandbox.
-- No network: the only test() calls made here stop before any request.
-- Prints "N passed, 0 failed" and raises when any case fails.
local json = require "engine.json"
local cred = require "lib.credentials"
local woo = require "connectors.woocommerce"
local qbo = require "connectors.quickbooks"
local supa = require "connectors.supabase"

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

local function lacks(s, needle, what)
  if type(s) == "string" and s:find(needle, 1, true) then
    error(("%s: %q contains %q"):format(what or "text", s, needle), 2)
  end
end

local function raises(fn, needle)
  local ok, err = pcall(fn)
  if ok then error("expected an error containing " .. needle, 2) end
  has(tostring(err), needle, "error")
end

local function copy(t, extra)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

local WOO = { store_url = "https://Shop.Example.com/", consumer_key = "ck_11111111",
  consumer_secret = "cs_22222222" }
local QBO = { client_id = "cid", client_secret = "csec-3333", realm_id = "9130357766900456" }
local SUPA = { url = "https://abc.supabase.co", service_role_key = "srk-44444444" }

-- expect_422(connector, body, field[, needle]): refused with 422 naming field.
local function expect_422(connector, body, field, needle)
  local values, status, code, msg, f = cred.validate(connector, body)
  if values ~= nil then error("expected a 422 for field " .. field, 2) end
  eq(status, 422, "status for " .. field)
  eq(code, "invalid_field", "code for " .. field)
  eq(f, field, "details.field")
  has(msg, field, "message names the field")
  if needle then has(msg, needle, "message") end
  return msg
end

local function expect_400(connector, body, needle)
  local values, status, code, msg = cred.validate(connector, body)
  if values ~= nil then error("expected a 400", 2) end
  eq(status, 400, "status")
  eq(code, "malformed_json", "code")
  if needle then has(msg, needle, "message") end
end

---------------------------------------------------------------------------------------------
-- declarations

case("every shipped connector declares valid credentials", function()
  for _, c in ipairs { woo, qbo, supa } do
    local list, by_name = cred.fields(c)
    assert(#list > 0, c.name)
    if c.account_field then assert(by_name[c.account_field], c.name .. " account_field") end
  end
  eq(woo.account_field, "store_url")
  eq(qbo.account_field, "realm_id")
  eq(supa.account_field, nil)
end)

case("the issue's fields, secrets and defaults", function()
  local function shape(c)
    local out = {}
    for _, s in ipairs((cred.fields(c))) do
      out[#out + 1] = ("%s:%s%s%s"):format(s.name, s.type, s.required and ":req" or "",
        s.secret and ":secret" or "")
    end
    return table.concat(out, " ")
  end
  eq(shape(woo), "store_url:url:req consumer_key:string:req:secret "
    .. "consumer_secret:string:req:secret webhook_secret:string:secret auth:string")
  eq(shape(qbo), "client_id:string:req client_secret:string:req:secret realm_id:string:req "
    .. "access_token:string:secret refresh_token:string:secret access_token_expires_at:datetime "
    .. "refresh_token_expires_at:datetime environment:string")
  eq(shape(supa), "url:url:req service_role_key:string:req:secret schema:string")
  local _, q = cred.fields(qbo)
  eq(q.environment.default, "sandbox")
  eq(table.concat(q.environment.enum, "|"), "sandbox|production")
  local _, s = cred.fields(supa)
  eq(s.schema.default, "public")
end)

case("a bare field name is a required secret string", function()
  local list = cred.fields { name = "x", credentials = { "api_key" } }
  eq(list[1].name, "api_key")
  eq(list[1].type, "string")
  eq(list[1].required, true)
  eq(list[1].secret, true)
end)

case("malformed declarations raise naming the connector and entry", function()
  raises(function() cred.fields { name = "x" } end, "connectors/x.lua: `credentials`")
  raises(function() cred.fields { name = "x", credentials = { a = 1 } } end, "must be a list")
  local none = cred.fields { name = "x", credentials = {} }
  eq(#none, 0) -- a connector may need no credentials at all (pos)
  raises(function() cred.fields { name = "x", credentials = { { name = "a", type = "strng" } } } end,
    "credentials[1]: unknown type 'strng'")
  raises(function() cred.fields { name = "x", credentials = { "a", "a" } } end,
    "credentials[2]: duplicate field 'a'")
  raises(function() cred.fields { name = "x", credentials = { { name = "a", secrte = true } } } end,
    "unknown key 'secrte'")
  raises(function() cred.fields { name = "x", credentials = { { name = "a b" } } } end,
    "name must be an identifier")
  raises(function() cred.fields { name = "x", credentials = { { name = "a", enum = {} } } } end,
    "enum must be a non-empty list")
  raises(function() cred.fields { name = "x", credentials = { { name = "a", min_len = 0 } } } end,
    "min_len must be")
  raises(function() cred.fields { name = "x", account_field = "b", credentials = { "a" } } end,
    "account_field names no declared field")
end)

---------------------------------------------------------------------------------------------
-- the body as a whole

case("bodies that are not a JSON object are 400", function()
  expect_400(woo, "", "JSON object")
  expect_400(woo, "   \n", "JSON object")
  expect_400(woo, "{\"store_url\":", "malformed JSON")
  expect_400(woo, "[]", "JSON object")
  expect_400(woo, "[{\"store_url\":\"https://a.example\"}]", "JSON object")
  expect_400(woo, "\"text\"", "JSON object")
  expect_400(woo, "42", "JSON object")
  expect_400(woo, "null", "JSON object")
end)

case("a valid body: values, defaults and normalized URL", function()
  local v, notes = cred.validate(woo, json.encode(WOO))
  assert(v, notes)
  eq(v.store_url, "https://shop.example.com")
  eq(v.consumer_key, "ck_11111111")
  eq(v.webhook_secret, nil)
  eq(#notes, 0, "notes")
  local q = assert(cred.validate(qbo, json.encode(QBO)))
  eq(q.environment, "sandbox")
  local s = assert(cred.validate(supa, json.encode(SUPA)))
  eq(s.schema, "public")
  -- null is "absent": the default applies to an optional field
  q = assert(cred.validate(qbo, json.encode(copy(QBO, { environment = json.null }))))
  eq(q.environment, "sandbox")
  q = assert(cred.validate(qbo, json.encode(copy(QBO, { environment = "production" }))))
  eq(q.environment, "production")
end)

case("a sub-folder store keeps its path, without the trailing slash", function()
  local v = assert(cred.validate(woo,
    json.encode(copy(WOO, { store_url = "https://a.example/shop//" }))))
  eq(v.store_url, "https://a.example/shop")
  v = assert(cred.validate(woo, json.encode(copy(WOO, { store_url = "HTTPS://A.example:8443" }))))
  eq(v.store_url, "https://a.example:8443")
  v = assert(cred.validate(woo, json.encode(copy(WOO, { store_url = "https://[::1]:8443/x" }))))
  eq(v.store_url, "https://[::1]:8443/x")
end)

case("a plain-HTTP store is accepted with a note about OAuth 1.0a", function()
  local v, notes = cred.validate(woo, json.encode(copy(WOO, { store_url = "http://shop.example" })))
  assert(v, notes)
  eq(#notes, 1)
  has(notes[1], "OAuth 1.0a")
end)

case("missing required fields are 422 naming them", function()
  for _, f in ipairs { "store_url", "consumer_key", "consumer_secret" } do
    local body = copy(WOO)
    body[f] = nil
    expect_422(woo, json.encode(body), f, "is required")
    body[f] = json.null
    expect_422(woo, json.encode(body), f, "is required")
  end
  for _, f in ipairs { "client_id", "client_secret", "realm_id" } do
    local body = copy(QBO)
    body[f] = nil
    expect_422(qbo, json.encode(body), f, "is required")
  end
  for _, f in ipairs { "url", "service_role_key" } do
    local body = copy(SUPA)
    body[f] = nil
    expect_422(supa, json.encode(body), f, "is required")
  end
  expect_422(woo, "{}", "store_url", "is required")
end)

case("unknown fields are 422 naming them (checked first)", function()
  local msg = expect_422(woo, json.encode(copy(WOO, { consumer_kye = "x" })), "consumer_kye",
    "unknown field")
  has(msg, "consumer_key, consumer_secret", "lists the expected fields")
  expect_422(qbo, json.encode { client_id = "a", zzz = 1 }, "zzz", "unknown field")
end)

case("wrong types are 422 naming the field and the type", function()
  expect_422(woo, json.encode(copy(WOO, { consumer_secret = 123 })), "consumer_secret",
    "must be a string, got an integer")
  expect_422(woo, json.encode(copy(WOO, { consumer_key = true })), "consumer_key", "got a boolean")
  expect_422(woo, '{"store_url":"https://a.example","consumer_key":[1],"consumer_secret":"s"}',
    "consumer_key", "got an array")
  expect_422(woo, '{"store_url":{},"consumer_key":"k","consumer_secret":"s"}', "store_url",
    "got an object")
  expect_422(qbo, json.encode(copy(QBO, { realm_id = 9130357766900456 })), "realm_id",
    "must be a string")
  expect_422(supa, json.encode(copy(SUPA, { schema = 1.5 })), "schema", "got a number")
  local t = { name = "t",
    credentials = { { name = "n", type = "integer" }, { name = "b", type = "boolean" } } }
  expect_422(t, '{"n":"1"}', "n", "must be an integer")
  expect_422(t, '{"n":1.0}', "n", "must be an integer")
  expect_422(t, '{"b":"true"}', "b", "must be a boolean")
  local v = assert(cred.validate(t, '{"n":7,"b":false}'))
  eq(v.n, 7)
  eq(v.b, false)
end)

case("string rules: empty, control characters, length", function()
  expect_422(woo, json.encode(copy(WOO, { consumer_key = "" })), "consumer_key", "must not be empty")
  expect_422(woo, json.encode(copy(WOO, { consumer_key = "1234567" })), "consumer_key",
    "at least 8 bytes")
  expect_422(woo, json.encode(copy(WOO, { webhook_secret = "short" })), "webhook_secret",
    "at least 8 bytes")
  assert(cred.validate(woo, json.encode(copy(WOO, { consumer_key = "12345678" }))))
  assert(cred.validate(qbo, json.encode(copy(QBO, { client_id = "c" }))), "non-secrets: 1 byte")
  expect_422(woo, json.encode(copy(WOO, { consumer_key = "a\nb" })), "consumer_key",
    "control characters")
  expect_422(woo, json.encode(copy(WOO, { consumer_key = "a\0b" })), "consumer_key",
    "control characters")
  expect_422(woo, json.encode(copy(WOO, { consumer_secret = string.rep("x", 4097) })),
    "consumer_secret", "at most 4096 bytes")
  assert(cred.validate(woo, json.encode(copy(WOO, { consumer_secret = string.rep("x", 4096) }))))
  assert(cred.validate(woo, json.encode(copy(WOO, { consumer_secret = "héllo ünïcode" }))))
end)

case("enum, pattern and date-time rules", function()
  expect_422(qbo, json.encode(copy(QBO, { environment = "staging" })), "environment",
    "must be one of: sandbox, production")
  expect_422(qbo, json.encode(copy(QBO, { realm_id = "abc" })), "realm_id", "digits only")
  expect_422(qbo, json.encode(copy(QBO, { realm_id = string.rep("1", 33) })), "realm_id")
  expect_422(supa, json.encode(copy(SUPA, { schema = "bad-name" })), "schema", "schema name")
  for _, bad in ipairs { "tomorrow", "2026-01-15", "2026-01-15 09:30:00Z", "2026-13-01T00:00:00Z",
                         "2026-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2026-01-15T24:00:00Z",
                         "2026-01-15T09:30:00", "2026-01-15T09:30:00+0100",
                         "2026-01-15T09:30:00.Z" } do
    expect_422(qbo, json.encode(copy(QBO, { access_token_expires_at = bad })),
      "access_token_expires_at")
  end
  for _, good in ipairs { "2026-01-15T09:30:00Z", "2026-01-15T09:30:00.123Z",
                          "2024-02-29T23:59:60+05:30", "2026-01-15t09:30:00-08:00" } do
    assert(cred.validate(qbo, json.encode(copy(QBO, { access_token_expires_at = good }))), good)
  end
end)

case("URL rules", function()
  local cases = {
    { "shop.example.com", "absolute URL" },
    { "ftp://shop.example.com", "must use https or http" },
    { "https://user:pw@shop.example.com", "user name or password" },
    { "https://shop.example.com/?a=1", "query string" },
    { "https://shop.example.com/#x", "query string or fragment" },
    { "https://", "must name a host" },
    { "https:///path", "must name a host" },
    { "https://shop.example.com:0", "invalid port" },
    { "https://shop.example.com:99999", "invalid port" },
    { "https://shop.example.com:http", "invalid port" },
    { "https://shop example.com", "spaces" },
    { "https://sh_op!.example.com", "invalid port" },
  }
  for _, c in ipairs(cases) do
    expect_422(woo, json.encode(copy(WOO, { store_url = c[1] })), "store_url", c[2])
  end
  -- https only unless the field allows more
  local t = { name = "t", credentials = { { name = "u", type = "url" } } }
  expect_422(t, '{"u":"http://a.example"}', "u", "must use https")
end)

case("messages never contain the submitted value", function()
  local marker = "S3CRET-MARKER-7f1e"
  local bodies = {
    { woo, copy(WOO, { store_url = "not a url " .. marker }) },
    { woo, copy(WOO, { store_url = "https://" .. marker .. "@x.example" }) },
    { woo, copy(WOO, { store_url = "https://x.example/?k=" .. marker }) },
    { woo, copy(WOO, { consumer_key = marker .. "\n" }) },
    { woo, copy(WOO, { consumer_secret = string.rep(marker, 300) }) },
    { qbo, copy(QBO, { environment = marker }) },
    { qbo, copy(QBO, { realm_id = marker }) },
    { qbo, copy(QBO, { access_token_expires_at = marker }) },
    { supa, copy(SUPA, { schema = marker }) },
  }
  for i, b in ipairs(bodies) do
    local values, _, _, msg = cred.validate(b[1], json.encode(b[2]))
    assert(values == nil, "case " .. i .. " should fail")
    lacks(msg, marker, "case " .. i)
  end
  local _, _, _, msg = cred.validate(woo, '{"store_url": "' .. marker)
  lacks(msg, marker, "malformed JSON")
end)

---------------------------------------------------------------------------------------------
-- split, merge, context, scrub

case("split: secrets sealed, public values kept, secrets masked, account id", function()
  local v = assert(cred.validate(woo, json.encode(copy(WOO, { webhook_secret = "whs-5555" }))))
  local secret, public, account = cred.split(woo, v)
  local s, p = json.decode(secret), json.decode(public)
  eq(s.consumer_key, "ck_11111111")
  eq(s.consumer_secret, "cs_22222222")
  eq(s.webhook_secret, "whs-5555")
  eq(s.store_url, nil, "no public value in the secret part")
  eq(p.store_url, "https://shop.example.com")
  eq(p.consumer_key, cred.MASK)
  eq(p.consumer_secret, cred.MASK)
  eq(p.webhook_secret, cred.MASK)
  lacks(public, "cs_22222222", "public part")
  lacks(public, "whs-5555", "public part")
  eq(account, "https://shop.example.com")

  v = assert(cred.validate(qbo, json.encode(QBO)))
  secret, public, account = cred.split(qbo, v)
  eq(secret, '{"client_secret":"csec-3333"}')
  p = json.decode(public)
  eq(p.realm_id, QBO.realm_id)
  eq(p.environment, "sandbox")
  eq(p.access_token, nil, "an unset secret is not listed")
  eq(account, QBO.realm_id)

  v = assert(cred.validate(supa, json.encode(SUPA)))
  secret, public, account = cred.split(supa, v)
  eq(account, nil)
  eq(public, '{"schema":"public","service_role_key":"********","url":"https://abc.supabase.co"}')
end)

case("merge: the stored parts back into one table, defaults filled", function()
  local creds, secrets = cred.merge(qbo, '{"client_secret":"csec","access_token":"at-1234"}',
    '{"client_id":"cid","realm_id":"1","client_secret":"********","access_token":"********"}')
  eq(creds.client_secret, "csec")
  eq(creds.access_token, "at-1234")
  eq(creds.client_id, "cid")
  eq(creds.environment, "sandbox", "default for a field stored before it existed")
  eq(creds.refresh_token, nil)
  eq(#secrets, 2)
  eq(secrets[1], "at-1234", "longest first")
  -- a masked public value never stands in for a missing secret
  creds = cred.merge(woo, "{}", '{"store_url":"https://a.example","consumer_key":"********"}')
  eq(creds.consumer_key, nil)
  raises(function() cred.merge(woo, "[1", "{}") end, "")
end)

case("context: quickbooks_api_base from the setting or Intuit's default", function()
  eq(cred.context("t", {}, {}).config.quickbooks_api_base,
    "https://sandbox-quickbooks.api.intuit.com")
  eq(cred.context("t", { environment = "production" }).config.quickbooks_api_base,
    "https://quickbooks.api.intuit.com")
  eq(cred.context("t", { environment = "production" },
    { quickbooks_api_base = "http://127.0.0.1:9" }).config.quickbooks_api_base, "http://127.0.0.1:9")
  eq(cred.context("shop-a", {}).tenant, "shop-a")
end)

case("scrub replaces every occurrence of every secret", function()
  eq(cred.scrub("key abcd and abcdefgh and abcd", { "abcdefgh", "abcd" }),
    "key [redacted] and [redacted] and [redacted]")
  eq(cred.scrub("nothing here", { "zzzz" }), "nothing here")
  eq(cred.scrub("a short secret", { "s" }), "a short secret", "under 4 bytes: left alone")
  eq(cred.scrub("a%b.(c", { "%b.(" }), "a[redacted]c", "secrets are plain text, not patterns")
end)

---------------------------------------------------------------------------------------------
-- the entry points C calls

case("prepare_store: the tuple C reads", function()
  local ok, secret, public, account, notes = cred.prepare_store("woocommerce", json.encode(WOO))
  eq(ok, true)
  eq(json.decode(secret).consumer_secret, "cs_22222222")
  eq(json.decode(public).store_url, "https://shop.example.com")
  eq(account, "https://shop.example.com")
  eq(notes, nil)
  ok, secret, public, account, notes = cred.prepare_store("woocommerce",
    json.encode(copy(WOO, { store_url = "http://x.example" })))
  eq(ok, true)
  has(notes, "OAuth 1.0a")
  local status, code, msg, field
  ok, status, code, msg, field = cred.prepare_store("quickbooks", '{"client_id":"a"}')
  eq(ok, false)
  eq(status, 422)
  eq(code, "invalid_field")
  eq(field, "client_secret")
  has(msg, "client_secret is required")
  ok, status, code = cred.prepare_store("supabase", "{")
  eq(ok, false)
  eq(status, 400)
  eq(code, "malformed_json")
  raises(function() cred.prepare_store("../etc", "{}") end, "not a connector name")
  raises(function() cred.prepare_store("a.b", "{}") end, "not a connector name")
end)

case("run_test: QuickBooks needs a token; plain-HTTP Woo is tried with OAuth 1.0a", function()
  local ok, msg = cred.run_test("quickbooks", '{"client_secret":"csec"}',
    '{"client_id":"cid","realm_id":"1"}', "t", nil)
  eq(ok, false)
  eq(msg, "connect QuickBooks first (GET /api/integrations/quickbooks/connect)")
  ok, msg = cred.run_test("woocommerce", '{"consumer_key":"ck_12345678","consumer_secret":"s1234567"}',
    '{"store_url":"http://localhost:1"}', "t", nil)
  eq(ok, false)
  assert(msg:find("cannot reach the store (connect)", 1, true), msg)
  assert(not msg:find("s1234567", 1, true), "the secret stays out of the message")
end)

spec.finish("credentials_spec")
