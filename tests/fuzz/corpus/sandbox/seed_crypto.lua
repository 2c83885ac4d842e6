local crypto = require "engine.crypto"
local h = crypto.hmac_sha256("key", "message")
local b = crypto.base64_encode(h)
local d = crypto.base64_decode(b)
return crypto.sha256_hex and crypto.sha256_hex("x"), d == h, crypto.random_hex and crypto.random_hex(8)
