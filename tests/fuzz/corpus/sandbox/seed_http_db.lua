local http = require "engine.http"
local ok, res, err = pcall(http.get, "http://127.0.0.1:9/x", { timeout_ms = 50 })
local db_ok, db = pcall(require, "engine.db")
local q_ok = pcall(require, "engine.queue")
return ok, res, err, db_ok, q_ok
