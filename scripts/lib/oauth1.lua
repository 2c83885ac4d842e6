-- lib/oauth1.lua: OAuth 1.0a one-legged request signing (consumer key and secret, no token), the
-- way WooCommerce's REST API wants it over plain HTTP (external-apis.md 1.1; RFC 5849).
--   local oauth1 = require "lib.oauth1"
--   local q = oauth1.sign("GET", "http://shop.example/wp-json/wc/v3/orders", { page = 2 },
--                         consumer_key, consumer_secret)
--   http.request{ url = "http://shop.example/wp-json/wc/v3/orders", query = q, ... }
-- sign() returns a new table: the given query parameters plus oauth_consumer_key,
-- oauth_timestamp, oauth_nonce, oauth_signature_method (HMAC-SHA256) and oauth_signature.
-- Every attempt of a request needs a fresh signature: WooCommerce remembers used nonces for
-- 15 minutes and refuses a repeated one with 401.
-- Must not: put the consumer secret into any error or returned value other than the signature.
local crypto = require "engine.crypto"

local M = {}

M.SIGNATURE_METHOD = "HMAC-SHA256"

-- encode(s) -> RFC 3986 percent-encoding (RFC 5849 3.6): everything but ALPHA DIGIT - . _ ~,
-- upper-case hex, space as %20.
function M.encode(s)
  return (tostring(s):gsub("[^A-Za-z0-9%-%._~]", function(c)
    return ("%%%02X"):format(c:byte())
  end))
end

local function scalar(v)
  if type(v) == "boolean" then return v and "true" or "false" end
  if math.type(v) == "integer" then return ("%d"):format(v) end
  if type(v) == "number" then return tostring(v) end
  if type(v) == "string" then return v end
  error("oauth1: query values must be strings, numbers or booleans", 3)
end

-- normalize(params) -> the RFC 5849 3.4.1.3.2 parameter string: encoded pairs sorted by key,
-- then value, byte-wise, joined with '&'. Array values repeat the key.
function M.normalize(params)
  local pairs_ = {}
  for k, v in pairs(params) do
    if type(k) ~= "string" then error("oauth1: query keys must be strings", 2) end
    if type(v) == "table" then
      for _, x in ipairs(v) do pairs_[#pairs_ + 1] = { M.encode(k), M.encode(scalar(x)) } end
    else
      pairs_[#pairs_ + 1] = { M.encode(k), M.encode(scalar(v)) }
    end
  end
  table.sort(pairs_, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local out = {}
  for i, p in ipairs(pairs_) do out[i] = p[1] .. "=" .. p[2] end
  return table.concat(out, "&")
end

-- base_string(method, url, params) -> METHOD&pct(base url)&pct(parameter string).
-- url: scheme://host[:port]/path with no query or fragment (scheme and host lower-cased, the
-- default port left out, as RFC 5849 3.4.1.2 says).
function M.base_string(method, url, params)
  local scheme, authority, path = url:match("^(%a[%w+.-]*)://([^/?#]+)([^?#]*)")
  if not scheme then error("oauth1: not an absolute URL", 2) end
  scheme, authority = scheme:lower(), authority:lower()
  if (scheme == "http" and authority:match(":80$")) or (scheme == "https" and authority:match(":443$")) then
    authority = authority:gsub(":%d+$", "")
  end
  if path == "" then path = "/" end
  return method:upper() .. "&" .. M.encode(scheme .. "://" .. authority .. path) .. "&"
    .. M.encode(M.normalize(params))
end

-- signature(base, consumer_secret) -> base64(HMAC-SHA256(pct(secret) .. "&", base))
function M.signature(base, consumer_secret)
  local mac = assert(crypto.hmac_sha256(M.encode(consumer_secret) .. "&", base))
  return crypto.base64_encode(mac)
end

-- nonce() -> 32 hex characters from the kernel CSPRNG.
function M.nonce()
  local raw, err = crypto.random_bytes(16)
  if not raw then error("oauth1: no random bytes for a nonce: " .. tostring(err), 2) end
  return crypto.hex(raw)
end

-- sign(method, url, query, consumer_key, consumer_secret [, opts]) -> query table with the
-- oauth_* parameters. opts.timestamp and opts.nonce fix those values (test vectors only).
function M.sign(method, url, query, consumer_key, consumer_secret, opts)
  opts = opts or {}
  local q = {}
  for k, v in pairs(query or {}) do q[k] = v end
  q.oauth_consumer_key = consumer_key
  q.oauth_timestamp = opts.timestamp or os.time()
  q.oauth_nonce = opts.nonce or M.nonce()
  q.oauth_signature_method = M.SIGNATURE_METHOD
  q.oauth_signature = nil
  q.oauth_signature = M.signature(M.base_string(method, url, q), consumer_secret)
  return q
end

return M
