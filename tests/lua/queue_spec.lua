-- queue_spec.lua - engine.queue in the real sandbox (`tallysync run`): scripts enqueue follow-up
-- jobs into sync_queue; the same dedupe key is never pending twice; bad calls raise.
local queue = require "engine.queue"
local db = require "engine.db"
local json = require "engine.json"
local spec = require "lib.spec"
local case, eq = spec.case, spec.eq

local T = "queue-spec"
assert(db.exec("DELETE FROM sync_queue WHERE tenant_id = ?", T))

case("enqueue stores the job with its payload and lane", function()
  local id, deduped = queue.enqueue{ tenant = T, kind = "record", entity = "customers",
    payload = { source = "woocommerce", entity = "customers", id = "42" },
    dedupe_key = "woocommerce:customers:42" }
  eq(math.type(id), "integer", "id")
  eq(deduped, false, "deduped")
  local row = db.row("SELECT kind, entity, payload, priority, status FROM sync_queue WHERE id = ?", id)
  eq(row.kind, "record", "kind")
  eq(row.entity, "customers", "entity")
  eq(row.status, "pending", "status")
  eq(row.priority, 10, "the record lane")
  local p = json.decode(row.payload)
  eq(p.id, "42", "payload id")
end)

case("the same dedupe key answers the pending job", function()
  local a = queue.enqueue{ tenant = T, kind = "record", dedupe_key = "k1" }
  local b, deduped = queue.enqueue{ tenant = T, kind = "record", dedupe_key = "k1" }
  eq(b, a, "same job")
  eq(deduped, true, "deduped")
  eq(db.value("SELECT count(*) FROM sync_queue WHERE tenant_id = ? AND dedupe_key = 'k1'", T), 1,
    "one row")
end)

case("bulk lane and delay", function()
  local id = queue.enqueue{ tenant = T, kind = "run", lane = "bulk", delay_ms = 60000 }
  eq(db.value("SELECT priority FROM sync_queue WHERE id = ?", id), 0, "bulk lane")
  eq(db.value("SELECT next_attempt_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+50 seconds') " ..
    "FROM sync_queue WHERE id = ?", id), 1, "delayed")
end)

case("caller bugs raise and name the field", function()
  local ok, err = pcall(queue.enqueue, { tenant = T })
  eq(ok, false, "no kind")
  assert(tostring(err):find("kind", 1, true), tostring(err))
  ok, err = pcall(queue.enqueue, { tenant = T, kind = "x", lane = "fast" })
  assert(not ok and tostring(err):find("lane", 1, true), tostring(err))
  ok, err = pcall(queue.enqueue, { tenant = T, kind = "x", payload = "text" })
  assert(not ok and tostring(err):find("payload", 1, true), tostring(err))
end)

spec.finish("queue_spec")
