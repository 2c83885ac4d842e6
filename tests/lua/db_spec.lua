-- db_spec.lua - engine.db in the real sandbox: `tallysync run tests/lua/db_spec.lua`.
-- DATABASE_URL is migrated by `run` and persists between runs, so the spec only writes rows it
-- deletes first (tenant "db-spec") and TEMP tables, which live as long as the connection.
-- Prints "N passed, 0 failed" and raises when any case fails. `run` gives engine.db every table
-- (db_all_tables): the table fence of the engine's own scripts is tested where they run.
local db = require "engine.db"
local json = require "engine.json"

local T = "db-spec"
local spec = require "lib.spec"
local case = spec.case

local function eq(got, want, what)
  if got ~= want then
    error(string.format("%s: expected %s (%s), got %s (%s)", what or "value", tostring(want),
      math.type(want) or type(want), tostring(got), math.type(got) or type(got)), 2)
  end
end

-- fn must raise an error whose text contains `plain`.
local function raises(plain, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("expected an error containing '" .. plain .. "'", 2) end
  if not tostring(err):find(plain, 1, true) then
    error("expected an error containing '" .. plain .. "', got: " .. tostring(err), 2)
  end
  return err
end

-- Setup: forget what a previous run left.
assert(db.exec("DELETE FROM settings WHERE tenant_id = ?", T))
assert(db.exec("DELETE FROM sync_runs WHERE tenant_id = ?", T))
assert(db.exec("DELETE FROM id_map WHERE tenant_id = ?", T))
assert(db.exec([[CREATE TEMP TABLE v (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT,
                 b BLOB, n)]]))

case("exec returns changes and last_insert_rowid", function()
  local changes, rowid = db.exec("INSERT INTO v (i, s) VALUES (?, ?)", 1, "one")
  eq(changes, 1, "changes")
  eq(math.type(rowid), "integer", "rowid type")
  local c2, r2 = db.exec("INSERT INTO v (i, s) VALUES (?, ?)", 2, "two")
  eq(c2, 1, "changes")
  eq(r2, rowid + 1, "rowid")
  eq(db.exec("UPDATE v SET n = 0 WHERE i IN (1, 2)"), 2, "update changes")
  eq(db.exec("DELETE FROM v WHERE i = ?", 99), 0, "no-op delete")
end)

case("query, row and value", function()
  db.exec("DELETE FROM v")
  for k = 1, 3 do db.exec("INSERT INTO v (i, s) VALUES (?, ?)", k, "s" .. k) end
  local rows = db.query("SELECT i, s FROM v ORDER BY i")
  eq(#rows, 3, "rows")
  eq(rows[1].i, 1, "rows[1].i")
  eq(rows[3].s, "s3", "rows[3].s")
  local r = db.row("SELECT i, s FROM v WHERE i = ?", 2)
  eq(r.s, "s2", "row")
  eq(db.row("SELECT i FROM v WHERE i = ?", 42), nil, "no row")
  eq(db.value("SELECT count(*) FROM v"), 3, "value")
  eq(db.value("SELECT s FROM v WHERE i = ?", 42), nil, "no value")
  local empty = db.query("SELECT * FROM v WHERE i < 0")
  eq(type(empty), "table", "empty result type")
  eq(#empty, 0, "empty result")
  eq(json.encode(empty), "[]", "empty result encodes as an array")
  eq(json.encode(db.row("SELECT 1 AS a, 'x' AS b")), '{"a":1,"b":"x"}', "row encodes")
end)

case("named parameters (:name, @name, $name)", function()
  local r = db.row("SELECT :a AS a, @b AS b, $c AS c, :a + 1 AS a1", { a = 1, b = "two", c = 3.5 })
  eq(r.a, 1, ":a")
  eq(r.b, "two", "@b")
  eq(r.c, 3.5, "$c")
  eq(r.a1, 2, "reused :a")
  local r2 = db.row("SELECT :x AS x, :y AS y", { x = db.null, y = json.null })
  eq(r2.x, nil, "db.null binds NULL")
  eq(r2.y, nil, "json.null binds NULL")
  eq(db.null, json.null, "db.null is json.null")
  raises("missing parameter ':b'", db.row, "SELECT :a, :b", { a = 1 })
  raises("parameter 'zz' is not used", db.row, "SELECT :a", { a = 1, zz = 2 })
  raises("positional parameters", db.row, "SELECT ?", { a = 1 })
  raises("named parameters", db.row, "SELECT :a", 1)
  raises("string keys", db.row, "SELECT :a", { 1 })
end)

case("positional parameters", function()
  eq(db.value("SELECT ? || ?", "a", "b"), "ab", "concat")
  eq(db.value("SELECT ?2 - ?1", 1, 10), 9, "?NNN")
  eq(db.value("SELECT coalesce(?, 'was null')", nil), "was null", "nil -> NULL")
  raises("the statement has 2 parameters, 1 value given", db.value, "SELECT ?, ?", 1)
  raises("the statement has 0 parameters, 1 value given", db.value, "SELECT 1", 1)
  raises("the statement has 1 parameter, 0 values given", db.value, "SELECT ?")
end)

case("type mapping", function()
  db.exec("DELETE FROM v")
  local blob = "a\0b\255"
  db.exec("INSERT INTO v (id, i, r, s, b, n) VALUES (1, ?, ?, ?, CAST(? AS BLOB), ?)",
    math.maxinteger, 0.25, "h\195\169llo", blob, nil)
  local r = db.row("SELECT i, r, s, b, n, typeof(b) AS tb FROM v WHERE id = 1")
  eq(r.i, math.maxinteger, "int64 max")
  eq(math.type(r.i), "integer", "INTEGER -> integer")
  eq(r.r, 0.25, "REAL")
  eq(math.type(r.r), "float", "REAL -> float")
  eq(r.s, "h\195\169llo", "TEXT")
  eq(r.b, blob, "BLOB with NUL bytes")
  eq(r.tb, "blob", "stored as blob")
  eq(r.n, nil, "NULL -> absent")
  local keys = 0
  for _ in pairs(r) do keys = keys + 1 end
  eq(keys, 5, "NULL columns are absent")
  eq(db.value("SELECT ?", true), 1, "true -> 1")
  eq(db.value("SELECT ?", false), 0, "false -> 0")
  eq(math.type(db.value("SELECT ?", 1.0)), "float", "1.0 stays a float")
  eq(db.value("SELECT ?", math.mininteger), math.mininteger, "int64 min")
  eq(db.value("SELECT ?", ""), "", "empty string")
  eq(db.value("SELECT 2 * 3"), 6, "computed")
end)

case("bad parameter types raise, naming the parameter", function()
  raises("parameter 2: string, number, boolean, nil or db.null expected, got table",
    db.value, "SELECT ?, ?", 1, {})
  raises("parameter 1", db.exec, "SELECT ?", function() end)
  raises("parameter 'a'", db.row, "SELECT :a", { a = {} })
  raises("bad argument #1", db.exec, {})
  raises("bad argument #1", db.tx, "not a function")
end)

case("one statement per call", function()
  raises("engine.db: only one statement per call", db.exec, "SELECT 1; SELECT 2")
  raises("engine.db: only one statement per call", db.exec,
    "DELETE FROM v; DROP TABLE v")
  eq(db.value("SELECT 5; -- trailing comment"), 5, "trailing comment is fine")
  raises("engine.db: empty SQL", db.exec, "  -- nothing ")
end)

case("statements scripts may not run", function()
  raises("ATTACH is not allowed", db.exec, "ATTACH DATABASE '/tmp/x.db' AS x")
  raises("DETACH is not allowed", db.exec, "DETACH DATABASE temp")
  raises("PRAGMA is not allowed", db.exec, "PRAGMA foreign_keys = OFF")
  raises("PRAGMA is not allowed", db.value, "pragma journal_mode")
  raises("VACUUM is not allowed", db.exec, "VACUUM")
  raises("VACUUM is not allowed", db.exec, "vacuum into '/tmp/copy.db'")
  raises("transaction control", db.exec, "BEGIN")
  raises("transaction control", db.exec, "SAVEPOINT x")
  raises("schema change", db.exec, "CREATE TABLE spec_x (a)")
  raises("schema change", db.exec, "DROP TABLE sync_queue")
  raises("load_extension() is not allowed", db.value, "SELECT load_extension('x')")
end)

case("SQL errors raise with SQLite's message", function()
  raises("syntax error", db.exec, "SELEC 1")
  raises("no such table: nope", db.query, "SELECT * FROM nope")
end)

case("constraint violations return nil, message, 'constraint'", function()
  assert(db.exec("INSERT INTO settings (tenant_id, key, value) VALUES (?, ?, ?)",
    T, "transformer_config", '{"shipping_item_id":"SHIPPING"}'))
  local ok, msg, code = db.exec("INSERT INTO settings (tenant_id, key, value) VALUES (?, ?, ?)",
    T, "transformer_config", "{}")
  eq(ok, nil, "first result")
  eq(code, "constraint", "code")
  assert(msg:find("UNIQUE constraint failed", 1, true), msg)
  assert(msg:find("engine.db: ", 1, true) == 1, msg)
  local ok2, _, code2 = db.exec([[INSERT INTO sync_runs (id, tenant_id, entity, flow, mode, state)
    VALUES (?, ?, 'orders', 'f', 'full', 'bogus')]], T .. "-1", T)
  eq(ok2, nil, "CHECK")
  eq(code2, "constraint", "CHECK code")
  local _, _, code3 = db.row("INSERT INTO settings (tenant_id, key, value) VALUES (?, ?, ?) RETURNING key",
    T, "bad", "not json")
  eq(code3, "constraint", "json_valid CHECK via row")
end)

case("upsert with RETURNING on the real schema", function()
  local sql = [[INSERT INTO id_map (tenant_id, source_system, entity_type, source_id,
                  target_system, target_type, target_id, sync_token)
                VALUES (:t, 'woocommerce', 'order', :sid, 'quickbooks', 'Invoice', :tid, :tok)
                ON CONFLICT (tenant_id, source_system, entity_type, source_id, target_system,
                             target_type)
                DO UPDATE SET target_id = excluded.target_id, sync_token = excluded.sync_token
                RETURNING id, target_id, sync_token]]
  local a = db.row(sql, { t = T, sid = "700", tid = "130", tok = "0" })
  local b = db.row(sql, { t = T, sid = "700", tid = "130", tok = "1" })
  eq(a.id, b.id, "same row")
  eq(b.sync_token, "1", "updated")
  eq(db.value("SELECT count(*) FROM id_map WHERE tenant_id = ?", T), 1, "one mapping")
end)

case("tx commits", function()
  db.exec("DELETE FROM v")
  local x, y = db.tx(function(a)
    db.exec("INSERT INTO v (i) VALUES (?)", a)
    db.exec("INSERT INTO v (i) VALUES (?)", a + 1)
    return "done", a
  end, 10)
  eq(x, "done", "first result")
  eq(y, 10, "second result")
  eq(db.value("SELECT count(*) FROM v"), 2, "committed")
  eq(db.tx(function() end), true, "true when fn returns nothing")
end)

case("tx rolls back and re-raises", function()
  db.exec("DELETE FROM v")
  local boom = { reason = "boom" }
  local ok, err = pcall(db.tx, function()
    db.exec("INSERT INTO v (i) VALUES (1)")
    error(boom)
  end)
  eq(ok, false, "raised")
  eq(err, boom, "the same error object")
  eq(db.value("SELECT count(*) FROM v"), 0, "rolled back")
  raises("oops", db.tx, function()
    db.exec("INSERT INTO v (i) VALUES (2)")
    error("oops")
  end)
  eq(db.value("SELECT count(*) FROM v"), 0, "rolled back again")
  -- usable afterwards
  db.tx(function() db.exec("INSERT INTO v (i) VALUES (3)") end)
  eq(db.value("SELECT count(*) FROM v"), 1, "later tx commits")
end)

case("nested tx uses savepoints", function()
  db.exec("DELETE FROM v")
  db.tx(function()
    db.exec("INSERT INTO v (i) VALUES (1)")
    local ok = pcall(db.tx, function()
      db.exec("INSERT INTO v (i) VALUES (2)")
      error("inner fails")
    end)
    eq(ok, false, "inner raised")
    db.tx(function() db.exec("INSERT INTO v (i) VALUES (3)") end)
  end)
  local rows = db.query("SELECT i FROM v ORDER BY i")
  eq(#rows, 2, "outer and second inner kept")
  eq(rows[1].i, 1, "outer row")
  eq(rows[2].i, 3, "second inner row")
  local ok = pcall(db.tx, function()
    db.tx(function() db.exec("INSERT INTO v (i) VALUES (4)") end)
    error("outer fails")
  end)
  eq(ok, false, "outer raised")
  eq(db.value("SELECT count(*) FROM v WHERE i = 4"), 0, "released savepoint rolled back with outer")
end)

case("a constraint inside tx can be handled", function()
  local res = db.tx(function()
    local ok, _, code = db.exec("INSERT INTO settings (tenant_id, key, value) VALUES (?, ?, ?)",
      T, "transformer_config", "{}")
    eq(ok, nil, "duplicate")
    eq(code, "constraint", "code")
    return db.exec("UPDATE settings SET value = ? WHERE tenant_id = ? AND key = ?",
      '{"v":2}', T, "transformer_config")
  end)
  eq(res, 1, "update inside the same tx")
  eq(db.value("SELECT value FROM settings WHERE tenant_id = ? AND key = 'transformer_config'", T),
    '{"v":2}', "committed")
end)

-- `tallysync run` is the operator's own script: every table (workers' scripts see only theirs:
-- tests/unit/adapt/test_store_authorize.c, tests/integration/script_access.sh), but still only
-- the allowed SQL functions.
case("the operator's run reads every table, with the allowed SQL functions only", function()
  eq(math.type(db.value("SELECT count(*) FROM api_tokens")), "integer", "api_tokens readable")
  raises("fts3_tokenizer() is not allowed", db.value, "SELECT hex(fts3_tokenizer('simple'))")
  raises("printf() is not allowed", db.value, "SELECT printf('%.*c', 1000000000, 'x')")
  raises("zeroblob() is not allowed", db.value, "SELECT length(zeroblob(1000000000))")
  eq(db.value("SELECT json_extract(?, '$.a') || lower('X') || length('abc')", '{"a":"v"}'), "vx3",
    "allowed functions work")
end)

-- SQLite builds a value outside the Lua allocator: one value is capped at the script's memory
-- cap (64 MiB here), so a recursive CTE doubling a string stops at 128 MiB instead of ~1 GB.
case("a value script SQL builds is capped at the script's memory", function()
  local v, e = db.value("WITH RECURSIVE r(s, n) AS (SELECT 'x', 0 UNION ALL "
    .. "SELECT s || s, n + 1 FROM r WHERE n < 27) SELECT length(s) FROM r WHERE n = 27")
  eq(v, nil, "no 128 MiB value")
  eq(tostring(e):find("too big", 1, true) ~= nil, true, "the error says so: " .. tostring(e))
  eq(db.value("WITH RECURSIVE r(s, n) AS (SELECT 'x', 0 UNION ALL SELECT s || s, n + 1 FROM r "
    .. "WHERE n < 20) SELECT length(s) FROM r WHERE n = 20"), 1048576, "1 MiB is fine")
end)

spec.finish("db_spec")
