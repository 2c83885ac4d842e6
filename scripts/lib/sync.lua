-- lib/sync.lua: the per-record pipeline of a sync run, called from C (engine/flow/sync_run.c) one
-- page at a time under a budget, so a run picks up a changed mapping or connector on its next
-- job. C owns the queue, leases, run state and the per-page transaction; this file reads, maps,
-- resolves dependencies, decides create / update / unchanged, and writes to the target.
--
--   st = open(spec, source_ctx, target_ctx)   spec: tenant, run_id?, flow, entity, mode,
--        dry_run, filters (table), since?, ids?, config (transformer_config JSON text or nil),
--        done? (the source ids this run already recorded: a resumed run skips them)
--   page = next_page(st) -> nil when the source is exhausted, else
--        { n = #items, items = { item, ... }, max_modified = "...Z" | nil, total = n | nil,
--          read = records read on this page }
--        item: { source_id, source_updated_at, action = "create" | "update" | "unchanged" |
--                "failed" | "adopt", request_id?, target_id?, sync_token?, hash?, ... }
--   write(st, page [, refused]) -> page, every item given its outcome: "created" | "updated" |
--        "unchanged" | "skipped" | "failed" | "conflict" and target_id, sync_token, error,
--        code, retryable, currency, source_total, target_total, output/diff/conflict (JSON)
--
-- Effectively once: C reserves the id map row (request_id, no target id) of every create before
-- write() sends it. A later plan that finds such a reserved row looks for the document in the
-- target first (the mapping's `find`, else DocNumber) and adopts it when it is ours, so a crash
-- between the remote create and the local commit never makes a second document; the requestid
-- is derived from tenant, flow, source id and content, so a resent batch answers its first result.
-- Reservations are exclusive (C refuses a row another job reserved moments ago): a webhook job
-- and a run racing on one new record never both create it; the loser fails as "in_flight" and
-- is retried, then finds the record synced.
-- Dependency rows (customers, items) are written to the id map here, one statement each, right
-- after their create: a crash in between is healed by the dependency flow's `match`.
local json = require "engine.json"
local crypto = require "engine.crypto"
local money = require "engine.money"
local db = require "engine.db"
local idmap = require "engine.idmap"
local valid_utf8 = require "lib.utf8_valid" -- a message must always encode
local mapping = require "lib.mapping"

local M = {}

local function hex_sha(s) return crypto.hex(crypto.sha256(s)) end

local function errtext(e)
  if type(e) == "table" then return tostring(e.message or e.error or e) end
  local s = tostring(e)
  return (s:gsub("\nstack traceback:.*$", ""))
end

-- A failure carried as a table so the item keeps code and retryable.
local function raise(msg, code, retryable)
  error({ message = msg, code = code, retryable = retryable and true or false }, 0)
end

local function iso_z(v)
  if type(v) ~= "string" then return nil end
  local d = v:match("^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)")
  if not d then return nil end
  return d .. "Z"
end

local function connector(name)
  local ok, c = pcall(require, "connectors." .. name)
  if not ok then error(("connector %q does not load: %s"):format(name, errtext(c)), 0) end
  return c
end

local function load_flow(name)
  local m = mapping.load(name)
  if type(m.source) ~= "table" or type(m.target) ~= "table" then
    error(("mappings/%s.lua: source and target must name a connector and an entity"):format(name), 0)
  end
  return m
end

-- id map ---------------------------------------------------------------------------------------

-- Through engine.idmap: data/id_map.c owns every statement on id_map.
local function idmap_get(st, m, source_id)
  local row, err = idmap.get(st.tenant, m.source.connector, m.source.entity, tostring(source_id),
    m.target.connector, m.target.entity)
  if row == nil and err ~= nil then raise("id map: " .. err, "store", true) end
  return row
end

-- A dependency's row after it was found or created. hash nil (a document found by `match`, not
-- written by us): the target's content is unknown, so no hash is kept.
local function idmap_put(st, m, source_id, target_id, sync_token, hash)
  local ok, err = idmap.put(st.tenant, m.source.connector, m.source.entity, tostring(source_id),
    m.target.connector, m.target.entity, { target_id = tostring(target_id),
      sync_token = sync_token ~= nil and tostring(sync_token) or nil, content_hash = hash,
      run_id = st.run_id })
  if not ok then raise("id map: " .. tostring(err), "store", true) end
end

-- dependencies ---------------------------------------------------------------------------------

local function quote(s)
  return "'" .. tostring(s):gsub("\\", "\\\\"):gsub("'", "\\'") .. "'"
end

-- The run's view of the target's name-list entities (customers, items): what lookups found,
-- and, for a small company, the whole entity (one paginated SELECT). st.index[entity] =
-- { full = bool, rows = {...}, ids = {[Id] = true}, by = {[field] = {[key] = {rows}}},
--   asked = {[field] = {[key] = true}} }. Keys compare as QuickBooks does: case-insensitively,
-- an object field by its Address / value. Only ASCII case is folded here, so a value with other
-- bytes that finds nothing locally is asked of the target (never a false "absent").
M.PRELOAD_MAX = 2000 -- rows of an entity read whole at the first page that needs many lookups
M.PRELOAD_MIN = 30   -- distinct lookups on one page of an entity before the whole is read

local function field_value(row, path)
  local v = row
  for seg in path:gmatch("[^%.]+") do
    if type(v) ~= "table" then return nil end
    v = v[seg]
  end
  if type(v) == "table" then v = v.Address or v.value end
  if v == nil or v == json.null then return nil end
  return v
end

local function norm(v)
  if type(v) == "table" then v = v.Address or v.value end
  if v == nil or v == json.null then return nil end
  return tostring(v):lower()
end

local function index_of(st, entity)
  local e = st.index[entity]
  if not e then
    e = { full = false, rows = {}, ids = {}, by = {}, asked = {} }
    st.index[entity] = e
  end
  return e
end

-- File row under its normalised value of field in by (one field's index: value -> rows).
local function by_put(by, field, row)
  local k = norm(field_value(row, field))
  if k then
    local l = by[k]
    if not l then l = {}; by[k] = l end
    l[#l + 1] = row
  end
end

local function index_field(e, field)
  local by = e.by[field]
  if by then return by end
  by = {}
  e.by[field] = by
  for _, row in ipairs(e.rows) do by_put(by, field, row) end
  return by
end

-- Add a target row the run learnt of (found or created) to its entity's index.
local function index_add(st, entity, row)
  if type(row) ~= "table" or row.Id == nil then return end
  local e = index_of(st, entity)
  local id = tostring(row.Id)
  if e.ids[id] then return end
  e.ids[id] = true
  e.rows[#e.rows + 1] = row
  for field, by in pairs(e.by) do by_put(by, field, row) end
end

-- The rows the index knows for entity.field = value, or nil when only the target can tell.
local function index_get(st, entity, field, value)
  local e = st.index[entity]
  local k = norm(value)
  if not e or k == nil then return nil end
  local hits = index_field(e, field)[k]
  if hits then return hits end
  if (e.full and not k:find("[\128-\255]")) or (e.asked[field] and e.asked[field][k]) then
    return {}
  end
  return nil
end

local function target_query(st, entity, field, value)
  local q = st.target.query
  if type(q) ~= "function" then return nil end
  local v = value
  if type(v) == "table" then v = v.Address or v.value end
  if v == nil then return nil end
  -- the index holds dependency entities only: the flow's own documents (a DocNumber looked up
  -- after a crash or a 6140) are always asked of the target
  local cached = entity ~= st.m.target.entity and st.index[entity] ~= nil
  local known = cached and index_get(st, entity, field, v)
  if known then return known end
  local rows, err = q(st.tctx, ("SELECT * FROM %s WHERE %s = %s"):format(entity, field, quote(v)),
    { max_pages = 1 })
  if rows == nil then raise(("looking up %s by %s: %s"):format(entity, field, errtext(err)),
    type(err) == "table" and err.code or "lookup", type(err) == "table" and err.retryable) end
  if cached and #rows < 1000 then
    local e = index_of(st, entity)
    for _, r in ipairs(rows) do index_add(st, entity, r) end
    e.asked[field] = e.asked[field] or {}
    e.asked[field][norm(v)] = true
  end
  return rows
end

-- Fill the index before a page is planned: wanted[entity][field] = { value, ... } (distinct
-- keys). The entities with many lookups on this page are read whole, all at once, when the
-- company holds at most M.PRELOAD_MAX of each (target.read_small: one request for a small one;
-- a target without it: one count, then pages of 1000); otherwise the values go as IN queries.
local function lookup_failed(what, entity, err)
  raise(("%s %s: %s"):format(what, entity, errtext(err)),
    type(err) == "table" and err.code or "lookup", type(err) == "table" and err.retryable)
end

local function prefetch(st, wanted)
  local t = st.target
  if type(t.lookup) ~= "function" then return end
  local whole = {}
  for entity, fields in pairs(wanted) do
    local e = index_of(st, entity)
    local n = 0
    for _, vals in pairs(fields) do n = n + #vals end
    if not e.full and not e.count_tried and n >= M.PRELOAD_MIN then
      e.count_tried = true
      whole[#whole + 1] = entity
    end
  end
  table.sort(whole)
  if #whole > 0 and type(t.read_small) == "function" then
    local got, err = t.read_small(st.tctx, whole, M.PRELOAD_MAX)
    if got == nil then lookup_failed("reading", table.concat(whole, ", "), err) end
    for _, entity in ipairs(whole) do
      if got[entity] then
        for _, r in ipairs(got[entity]) do index_add(st, entity, r) end
        index_of(st, entity).full = true
      end
    end
  elseif #whole > 0 and type(t.count) == "function" then
    for _, entity in ipairs(whole) do
      local c, err = t.count(st.tctx, entity)
      if c == nil then lookup_failed("counting", entity, err) end
      if c <= M.PRELOAD_MAX then
        local rows, rerr = t.read(st.tctx, entity)
        if rows == nil then lookup_failed("reading", entity, rerr) end
        for _, r in ipairs(rows) do index_add(st, entity, r) end
        index_of(st, entity).full = true
      end
    end
  end
  for entity, fields in pairs(wanted) do
    local e = index_of(st, entity)
    if not e.full then
      for field, vals in pairs(fields) do
        local ask, seen = {}, {}
        e.asked[field] = e.asked[field] or {}
        for _, v in ipairs(vals) do
          local k = norm(v)
          if k and not seen[k] and index_get(st, entity, field, v) == nil then
            seen[k] = true
            ask[#ask + 1] = v
          end
        end
        if #ask > 0 then
          local rows, err = t.lookup(st.tctx, entity, field, ask)
          if rows == nil then lookup_failed("looking up " .. entity .. " by", field, err) end
          for _, r in ipairs(rows) do index_add(st, entity, r) end
          for k in pairs(seen) do e.asked[field][k] = true end
        end
      end
    end
  end
end

local function create_one(st, entity, doc, rid)
  local t = st.target
  if type(t.create) == "function" then return t.create(st.tctx, entity, doc, rid) end
  local res = t.write(st.tctx, entity, { { body = doc, request_id = rid } })
  local r = res and res[1]
  if r and r.ok then return r.object or { Id = r.id, SyncToken = r.sync_token } end
  return nil, r or { message = "no result" }
end

-- The first row of a criterion's hits that its accept(existing) takes (all of them without one).
local function first_accepted(rows, c)
  for _, row in ipairs(rows or {}) do
    if type(c.accept) ~= "function" or c.accept(row) then return row end
  end
  return nil
end

-- The target document a flow's `match` criteria find for doc (criteria in order; the first hit
-- its accept() takes), or nil. Name-list entities (customers, items) are unique by name in
-- QuickBooks: a record first seen by its own flow may already exist there, made by hand or as
-- another flow's dependency under another key, and creating it again is refused (6240).
local function match_existing(st, dm, doc, record, ctx)
  if type(dm.match) ~= "function" then return nil end
  for _, c in ipairs(dm.match(doc, record, ctx) or {}) do
    local found = first_accepted(target_query(st, dm.target.entity, c.field, c.value), c)
    if found then return found end
  end
  return nil
end

local resolve

-- Resolve a record's requirements (recursively: an item flow may require an account first).
local function resolve_all(st, reqs, depth)
  if depth > 4 then raise("requirements nest deeper than 4 levels", "mapping") end
  for _, req in ipairs(reqs or {}) do resolve(st, req, depth) end
end

-- Resolve one requirement -> target id (or a placeholder in a dry run): the run's cache, the id
-- map, the flow's `match` against the target (criteria in order, a hit only when its `accept`
-- takes it), then a create through the flow (unless create = false), `disambiguate` on 6240.
-- A requirement with `match` and no flow (an account) must already exist in the target.
-- defer (the page's preparation, see prepare_page): a dependency to create is queued in
-- st.pending instead, and created with the page's others in batches (create_pending).
resolve = function(st, req, depth, defer)
  depth = depth or 0
  if type(req) ~= "table" or req.entity == nil or req.key == nil then
    raise("requires() must return { entity =, key =, flow =, record = } entries", "mapping")
  end
  local ck = tostring(req.entity) .. "\0" .. tostring(req.key)
  local hit = st.deps[ck]
  if hit then return hit end
  local failed = st.dep_err[ck]
  if failed then raise(failed.message, failed.code, failed.retryable) end
  if defer and st.pending[ck] then return nil end
  local key = tostring(req.key)
  if not req.flow then
    if type(req.match) ~= "table" then
      raise(("requirement %s %s names no flow and no match"):format(req.entity, key), "mapping")
    end
    local entity = req.target or (tostring(req.entity):gsub("^%l", string.upper))
    for _, c in ipairs(req.match) do
      local found = first_accepted(target_query(st, entity, c.field, c.value), c)
      if found then
        st.deps[ck] = tostring(found.Id)
        return st.deps[ck]
      end
    end
    if st.dry_run then
      st.deps[ck] = ("{{%s %s}}"):format(req.entity, key)
      return st.deps[ck]
    end
    raise(("%s %q must exist in %s (it is matched, never created)"):format(req.entity, key,
      st.m.target.connector), "missing_dependency")
  end
  local dm = st.flows[req.flow]
  if not dm then
    dm = load_flow(req.flow)
    st.flows[req.flow] = dm
  end
  local row = idmap_get(st, dm, key)
  if row and row.target_id then
    st.deps[ck] = row.target_id
    return row.target_id
  end
  local ctx = st.dep_ctx
  local record = req.record or {}
  if type(dm.requires) == "function" then resolve_all(st, dm.requires(record, ctx), depth + 1) end
  local doc = dm.map(record, ctx)
  local found = match_existing(st, dm, doc, record, ctx)
  if found then
    local id = tostring(found.Id)
    if not st.dry_run then idmap_put(st, dm, key, id, found.SyncToken, nil) end
    st.deps[ck] = id
    return id
  end
  if st.dry_run then
    local ph = ("{{%s %s}}"):format(req.entity, key)
    st.deps[ck] = ph
    return ph
  end
  if req.create == false then
    raise(("%s %s is not in %s and creating it is turned off (create_missing_items)"):format(
      req.entity, key, dm.target.connector), "missing_dependency")
  end
  local hash = hex_sha(json.encode(doc))
  if defer then
    st.pending[ck] = { ck = ck, req = req, dm = dm, key = key, doc = doc, hash = hash, attempt = 0 }
    st.pending_list[#st.pending_list + 1] = st.pending[ck]
    return nil
  end
  for attempt = 0, 5 do
    local rid = M.request_id(st.tenant, req.flow, key, hash .. ":" .. attempt)
    local obj, err = create_one(st, dm.target.entity, doc, rid)
    if obj then
      local id = tostring(obj.Id)
      idmap_put(st, dm, key, id, obj.SyncToken, hash)
      index_add(st, dm.target.entity, obj)
      st.deps[ck] = id
      st.dep_created = st.dep_created + 1
      return id
    end
    if type(err) == "table" and err.code == "6240" and type(dm.disambiguate) == "function"
      and attempt < 5 then
      doc = dm.disambiguate(doc, attempt + 1)
    else
      raise(("%s %s: %s"):format(req.entity, key, errtext(err)),
        type(err) == "table" and err.code or "dependency",
        type(err) == "table" and err.retryable)
    end
  end
  raise(("%s %s: the name stays taken after 5 disambiguations"):format(req.entity, key), "6240")
end

-- The batches a page may need, and a batch's size: the target's batches in one pacing window
-- (quickbooks: BATCH_PER_MINUTE of MAX_BATCH each), or nil when it paces no batches.
local function page_cap(st)
  local t = st.target
  local cap, size = math.tointeger(t.BATCH_PER_MINUTE), math.tointeger(t.MAX_BATCH)
  if cap and size and cap > 0 and size > 0 then return cap, size end
  return nil
end

-- How many batches a round of dependencies may be spread over (quickbooks.write_all's
-- spread: smaller, even batches on every connection the run uses, which finish together): only
-- when the whole run's batches (the dependencies so far, these spread, one full batch of
-- writes per M.SLICE_WRITES source records) fit in one pacing window of the batch endpoint.
-- Past that, an extra batch costs the window's share of waiting (QuickBooks: 60 s / 40), far
-- more than the connection time it saves. nil: full batches.
local function dep_spread(st, groups)
  local cap, size = page_cap(st)
  if not cap or math.type(st.total) ~= "integer" then return nil end
  local deps = 0
  for _, g in ipairs(groups) do deps = deps + (#g.records + size - 1) // size end
  local par = M.parallel(st)
  local writes = (st.total + M.SLICE_WRITES - 1) // M.SLICE_WRITES
  if deps >= par or st.dep_batches + par + writes > cap then
    st.dep_batches = st.dep_batches + deps
    return nil
  end
  st.dep_batches = st.dep_batches + par
  return par
end
M.dep_spread = dep_spread -- for its spec

-- Create the queued dependencies (st.pending) in batches: grouped by target entity, every
-- batch filled to the connector's size (target.write), one name once per round (a namesake
-- waits for the next round, so which one QuickBooks refuses as a duplicate is decided by the
-- order of the records, as when they were created one by one); a 6240 is disambiguated and
-- sent again, at most 5 times. Results go to the id map right away (a crash in between is
-- healed by the flow's `match`, as for a single create); failures to st.dep_err, which the
-- records needing them meet in resolve.
local function create_pending(st)
  local queue = st.pending_list
  st.pending_list = {}
  while #queue > 0 do
    local by_entity, order, later = {}, {}, {}
    for _, p in ipairs(queue) do
      local ent = p.dm.target.entity
      local g = by_entity[ent]
      if not g then g = { names = {}, list = {} }; by_entity[ent] = g; order[#order + 1] = ent end
      local name = norm(p.doc.DisplayName or p.doc.Name)
      if name and g.names[name] then
        later[#later + 1] = p
      else
        if name then g.names[name] = true end
        g.list[#g.list + 1] = p
      end
    end
    queue = later
    local groups = {}
    for g, ent in ipairs(order) do
      local recs = {}
      for i, p in ipairs(by_entity[ent].list) do
        recs[i] = { body = p.doc,
          request_id = M.request_id(st.tenant, p.req.flow, p.key, p.hash .. ":" .. p.attempt) }
      end
      groups[g] = { entity = ent, records = recs }
    end
    -- every entity's batches at once where the target can (quickbooks.write_all)
    local answers = {}
    if type(st.target.write_all) == "function" then
      answers = st.target.write_all(st.tctx, groups, dep_spread(st, groups)) or {}
    else
      for g, grp in ipairs(groups) do answers[g] = st.target.write(st.tctx, grp.entity, grp.records) end
    end
    for g, ent in ipairs(order) do
      local list = by_entity[ent].list
      local results = answers[g] or {}
      for i, p in ipairs(list) do
        local r = results[i] or { ok = false, error = "no result", retryable = true }
        local what = ("%s %s"):format(p.req.entity, p.key)
        if r.ok then
          local obj = r.object or { Id = r.id, SyncToken = r.sync_token }
          local id = tostring(obj.Id)
          local ok, err = pcall(idmap_put, st, p.dm, p.key, id, obj.SyncToken, p.hash)
          if ok then
            st.deps[p.ck] = id
            st.dep_created = st.dep_created + 1
            index_add(st, ent, obj)
          else
            st.dep_err[p.ck] = { message = what .. ": " .. errtext(err), code = "store",
              retryable = true }
          end
        elseif r.code == "6240" and type(p.dm.disambiguate) == "function" and p.attempt < 5 then
          p.attempt = p.attempt + 1
          local ok, d = pcall(p.dm.disambiguate, p.doc, p.attempt)
          if ok and type(d) == "table" then
            p.doc = d
            queue[#queue + 1] = p
          else
            st.dep_err[p.ck] = { message = what .. ": " .. errtext(d), code = "mapping" }
          end
        else
          st.dep_err[p.ck] = { message = what .. ": " .. errtext(r.error or r),
            code = r.code and tostring(r.code) or "dependency", retryable = r.retryable and true
              or false }
          if r.code == "6240" then
            st.dep_err[p.ck].message = what .. ": the name stays taken after 5 disambiguations"
          end
        end
      end
    end
  end
  st.pending = {}
end

-- Before a page's records are planned one by one: find what they require in the target with
-- few requests (prefetch: the whole entity of a small company, else IN queries), then create
-- what is missing in full batches (create_pending). Planning then finds every dependency in
-- the run's cache. Best effort: whatever fails here is met again, per record, by plan_one
-- (which names the record).
local function prepare_page(st, recs)
  if st.dry_run or type(st.target.write) ~= "function" then return #recs end
  local per_rec, wanted = {}, {}
  for i, rec in ipairs(recs) do
    local ok, reqs = pcall(mapping.requires, st.m, rec, st.ctx)
    if ok and type(reqs) == "table" then
      per_rec[i] = reqs
      for _, req in ipairs(reqs) do
        pcall(function()
          local ck = tostring(req.entity) .. "\0" .. tostring(req.key)
          if not req.flow or st.deps[ck] or st.dep_err[ck] then return end
          local dm = st.flows[req.flow]
          if not dm then
            dm = load_flow(req.flow)
            st.flows[req.flow] = dm
          end
          if type(dm.match) ~= "function" then return end
          local row = idmap_get(st, dm, tostring(req.key))
          if row and row.target_id then
            st.deps[ck] = row.target_id
            return
          end
          local record = req.record or {}
          if type(dm.requires) == "function" then resolve_all(st, dm.requires(record, st.dep_ctx), 1) end
          local doc = dm.map(record, st.dep_ctx)
          for _, c in ipairs(dm.match(doc, record, st.dep_ctx) or {}) do
            local v = c.value
            if type(v) == "table" then v = v.Address or v.value end
            if v ~= nil and v ~= json.null and type(c.field) == "string" then
              local ent = dm.target.entity
              wanted[ent] = wanted[ent] or {}
              wanted[ent][c.field] = wanted[ent][c.field] or {}
              local l = wanted[ent][c.field]
              l[#l + 1] = tostring(v)
            end
          end
        end)
      end
    end
  end
  -- a job of a record or two (a webhook's) keeps the criteria's early exit: no prefetch
  if #recs > 2 then pcall(prefetch, st, wanted) end
  -- the batches the records up to i need (their missing dependencies and their own documents)
  -- stay within what the target takes in one pacing window (max_batches): the records past
  -- that are left for the next page, so no page waits on pacing for longer than one window
  local cap, size = page_cap(st)
  local upto, per = #recs, {} -- per[entity]: the dependencies of it queued so far
  for i in ipairs(recs) do
    local before = #st.pending_list
    for _, req in ipairs(per_rec[i] or {}) do pcall(resolve, st, req, 0, true) end
    if cap then
      for j = before + 1, #st.pending_list do
        local ent = st.pending_list[j].dm.target.entity
        per[ent] = (per[ent] or 0) + 1
      end
      local n = math.ceil(i / size)
      for _, c in pairs(per) do n = n + math.ceil(c / size) end
      if n > cap and i > 1 then -- record i's dependencies wait for the next page with it
        for j = #st.pending_list, before + 1, -1 do
          st.pending[st.pending_list[j].ck] = nil
          st.pending_list[j] = nil
        end
        upto = i - 1
        break
      end
    end
  end
  -- creating them may wait on the pacing window: with pages still in flight, C records those
  -- first (next_page answers "drain") and the creates go at its next call
  if #st.pending_list > 0 then
    if #st.inflight > 0 then st.creates_due = true else create_pending(st) end
  end
  return upto
end

-- helpers ----------------------------------------------------------------------------------------

-- request_id(tenant, flow, source_id, content) -> an idempotency key QuickBooks accepts.
function M.request_id(tenant, flow, source_id, content)
  return "ts-" .. hex_sha(table.concat({ tenant, flow, tostring(source_id), content }, "\0")):sub(1, 40)
end

local function decimals_of(cur)
  local d = cur and money.decimals(cur)
  return d or 2
end

-- Total of a written or mapped document in minor units (TotalAmt, else lines + tax).
local function doc_total(doc, currency)
  if type(doc) ~= "table" then return nil end
  local dec = decimals_of(currency)
  if doc.TotalAmt ~= nil and doc.TotalAmt ~= json.null then
    return money.parse(doc.TotalAmt, dec, "half_even")
  end
  if type(doc.Line) ~= "table" then return nil end
  local sum = 0
  for _, l in ipairs(doc.Line) do
    if type(l) == "table" and l.DetailType ~= "SubTotalLineDetail" and l.Amount ~= nil then
      local a = money.parse(l.Amount, dec, "half_even")
      if a == nil then return nil end
      -- a discount line's Amount is positive and comes off the total
      sum = l.DetailType == "DiscountLineDetail" and money.sub(sum, a) or money.add(sum, a)
    end
  end
  local tax = type(doc.TxnTaxDetail) == "table" and doc.TxnTaxDetail.TotalTax
  if tax ~= nil and tax ~= json.null then
    local t = money.parse(tax, dec, "half_even")
    if t then sum = money.add(sum, t) end
  end
  return sum
end

-- Top-level field difference between what we would send and what the target holds.
local function diff(doc, cur)
  local out, n = json.object({}), 0
  local skip = { Id = true, SyncToken = true, MetaData = true, sparse = true, domain = true }
  for k, v in pairs(doc) do
    if not skip[k] then
      local a, b = json.encode(v), cur and cur[k] ~= nil and json.encode(cur[k]) or nil
      if a ~= b then
        out[k] = { from = cur and cur[k] or json.null, to = v }
        n = n + 1
      end
    end
  end
  return out, n
end

-- Find our own earlier create of this record in the target (after a crash).
local function find_ours(st, doc, rec)
  local m = st.m
  if type(m.find) == "function" then
    return m.find(doc, rec, st.ctx, function(field, value)
      return target_query(st, m.target.entity, field, value)
    end)
  end
  if doc.DocNumber == nil then return nil end
  local rows = target_query(st, m.target.entity, "DocNumber", doc.DocNumber) or {}
  local note = type(doc.PrivateNote) == "string" and doc.PrivateNote:match("^[^\n]*") or nil
  for _, r in ipairs(rows) do
    local rnote = type(r.PrivateNote) == "string" and r.PrivateNote:match("^[^\n]*") or nil
    if note == nil or rnote == note then return r end
  end
  return nil
end

-- open -------------------------------------------------------------------------------------------

local POLICIES = { source_wins = true, target_wins = true, manual = true }

-- The flow's conflict policy: settings key `sync_conflict_policy` ({"<flow>": "manual", ...}),
-- else the mapping's `conflict`, else source_wins. A bad value is an error naming it.
local function conflict_policy(tenant, flow, m)
  local text = db.value("SELECT value FROM settings WHERE tenant_id = ? AND key = " ..
    "'sync_conflict_policy'", tenant)
  local p
  if type(text) == "string" then
    local ok, t = pcall(json.decode, text)
    if not ok or type(t) ~= "table" then
      error("settings sync_conflict_policy must be a JSON object of flow -> policy", 0)
    end
    p = t[flow]
  end
  p = p or m.conflict or "source_wins"
  if not POLICIES[p] then
    error(("conflict policy of %s must be source_wins, target_wins or manual, not %q"):format(
      flow, tostring(p)), 0)
  end
  return p
end

-- The company read's preload option (connector.company's third argument) for a run that
-- preloads: the target's PRELOAD entities other than the flow's own, or nil.
local function preload_opts(st, preload)
  local t = st.target
  local ents = {}
  if preload and type(t.PRELOAD) == "table" and type(t.lookup) == "function" then
    for _, e in ipairs(t.PRELOAD) do
      if e ~= st.m.target.entity then ents[#ents + 1] = e end
    end
  end
  return #ents > 0 and { entities = ents, max = M.PRELOAD_MAX } or nil
end

-- The target company's facts for ctx.company (connector.company), read once per run: open is
-- one task, and nothing of a task outlives it (a job outside a run, a webhook or a retry, reads
-- them again). nil when the target has no such notion (Supabase) or no context (a dry run
-- without credentials).
-- preload (a full run's): also the target's PRELOAD entities (not the flow's own), read whole
-- with the company's reads when the company holds at most M.PRELOAD_MAX of each, into the
-- run's index, as the first page's prefetch would read them (see prefetch).
local function company_of(st, preload)
  local t = st.target
  if type(t.company) ~= "function" or st.tctx == nil then return nil end
  local opts = preload_opts(st, preload)
  local ents = opts and opts.entities or {}
  local company, err
  if st.company_pending ~= nil then
    local p = st.company_pending
    st.company_pending = nil
    company, err = t.company_finish(st.tctx, p)
  else
    company, err = t.company(st.tctx, nil, opts)
  end
  local got = company and err or nil -- with a company, the second answer is the preload's
  if not company then
    raise(("reading the %s company's preferences: %s"):format(st.m.target.connector,
      errtext(err)), type(err) == "table" and err.code or "target",
      not (type(err) == "table" and err.retryable == false))
  end
  for _, entity in ipairs(ents) do
    local rows = nil -- rows, false (more than M.PRELOAD_MAX), nil (not read)
    if type(got) == "table" then rows = got[entity] end
    if rows ~= nil then
      local e = index_of(st, entity)
      e.count_tried = true
      if rows then
        for _, r in ipairs(rows) do index_add(st, entity, r) end
        e.full = true
      end
    end
  end
  return company
end

-- The company's reads sent at open (company_start, when the target has it) and answered once
-- the first source page is read: a run's first reads of both go together.
local function company_begin(st, preload)
  local t = st.target
  st.company_preload = preload
  if type(t.company) ~= "function" or st.tctx == nil or type(t.company_start) ~= "function"
    or type(t.company_finish) ~= "function" then
    return
  end
  st.company_pending = t.company_start(st.tctx, preload_opts(st, preload))
end

-- The mappings' contexts, with the company (company_of): made before the first record is
-- planned. Raises what reading the company met.
local function company_ready(st)
  if st.ctx ~= nil then return end
  local company = company_of(st, st.company_preload)
  st.ctx = st.make_ctx(company)
  st.dep_ctx = st.make_dep_ctx(company)
end

function M.open(spec, sctx, tctx)
  local m = load_flow(spec.flow)
  if m.source.entity ~= spec.entity then
    error(("flow %s reads %s, not %s"):format(spec.flow, tostring(m.source.entity), spec.entity), 0)
  end
  local config, cerr = mapping.config(spec.config)
  if not config then error(cerr, 0) end
  local st = {
    tenant = spec.tenant, run_id = spec.run_id, flow = spec.flow, m = m, dry_run = spec.dry_run,
    source = connector(m.source.connector), target = connector(m.target.connector),
    sctx = sctx, tctx = tctx, deps = {}, flows = { [spec.flow] = m }, done = {}, dep_created = 0,
    index = {}, pending = {}, pending_list = {}, dep_err = {}, inflight = {}, sending = 0,
    dep_batches = 0,
    policy = conflict_policy(spec.tenant, spec.flow, m), page_no = 0,
  }
  local function ref(entity, key)
    local id = st.deps[tostring(entity) .. "\0" .. tostring(key)]
    if id == nil then
      error(("ctx.ref(%q, %q): not among the record's requirements"):format(tostring(entity),
        tostring(key)), 2)
    end
    return id
  end
  -- settings key sync_parallel_requests (1..10): requests the target may have in flight for
  -- this tenant's runs (default: all its limits allow; 1 = one at a time)
  local par = db.value("SELECT value FROM settings WHERE tenant_id = ? AND key = " ..
    "'sync_parallel_requests'", spec.tenant)
  par = math.tointeger(tonumber(par))
  if par and par >= 1 and par <= 10 and type(tctx) == "table" and type(tctx.config) == "table" then
    tctx.config.parallel_requests = par
  end
  st.make_ctx = function(company)
    return mapping.context(config, { tenant = spec.tenant, dry_run = spec.dry_run, ref = ref,
      company = company })
  end
  st.make_dep_ctx = function(company)
    return mapping.context(config, { tenant = spec.tenant, dry_run = spec.dry_run,
      company = company,
      ref = function(entity, key)
        local id = st.deps[tostring(entity) .. "\0" .. tostring(key)]
        if id == nil and spec.dry_run then return ("{{%s %s}}"):format(entity, key) end
        if id == nil then
          error(("ctx.ref(%q, %q): not among the dependency's requirements"):format(
            tostring(entity), tostring(key)), 2)
        end
        return id
      end })
  end
  company_begin(st, spec.mode == "full" and spec.run_id ~= nil and not spec.dry_run)
  for _, sid in ipairs(spec.done or {}) do st.done[sid] = true end
  local filters = spec.filters
  if type(filters) == "string" then filters = json.decode(filters) end
  spec.filters = filters
  st.per_page = type(filters) == "table" and filters.per_page ~= nil
  local opts = { orderby = "id", order = "asc", since = spec.since, ids = spec.ids }
  if type(spec.filters) == "table" then
    for k, v in pairs(spec.filters) do if opts[k] == nil then opts[k] = v end end
  end
  local r1, r2, r3 = st.source.read(sctx, spec.entity, opts)
  if type(r1) == "function" then
    st.pages = r1
  elseif type(r1) == "table" and type(r1.records) == "table" then
    -- one page per call, the next asked for with the page's next_cursor (connectors/pos.lua):
    -- read when the run wants it, so the run still holds one page at a time
    local page, more = r1, nil
    st.pages = function()
      if page == nil and more ~= nil then
        local p, perr, pcode = st.source.read(sctx, spec.entity, more)
        more = nil
        if type(p) ~= "table" or type(p.records) ~= "table" then
          return nil, perr or "the source gave no page", pcode
        end
        page = p
      end
      if page == nil then return nil end
      local cur = page
      page = nil
      if cur.has_more and cur.next_cursor ~= nil then
        more = {}
        for k, v in pairs(opts) do more[k] = v end
        more.cursor = cur.next_cursor
      end
      return cur.records, {}
    end
  elseif type(r1) == "table" then
    local given = false
    st.pages = function()
      if given then return nil end
      given = true
      return r1, { total = #r1 }
    end
  else
    raise(("reading %s from %s: %s"):format(spec.entity, m.source.connector, errtext(r2)),
      "source", r3 ~= false)
  end
  return st
end

-- plan -------------------------------------------------------------------------------------------

local function source_id_of(m, rec)
  local v = rec
  for seg in tostring(m.key or "id"):gmatch("[^%.]+") do v = type(v) == "table" and v[seg] or nil end
  if v == nil or v == json.null then return nil end
  if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
  return tostring(v)
end

local function plan_one(st, rec)
  local m = st.m
  local sid = source_id_of(m, rec)
  local item = { source_id = sid or "?", source_updated_at = iso_z(rec.date_modified_gmt
    or rec.updated_at or rec.date_modified), rec = rec }
  if sid == nil then
    item.action, item.error, item.code = "failed", "the record has no " .. tostring(m.key or "id"), "mapping"
    return item
  end
  if st.done[sid] then return nil end
  -- a flow may take only some records of its entity (select): the others belong to a sibling
  -- flow (paid orders as sales receipts) and are skipped here
  if type(m.select) == "function" then
    local sok, take = pcall(m.select, rec, st.ctx)
    if sok and not take then
      item.action, item.outcome, item.error = "skip", "skipped", "taken by another flow (select)"
      return item
    end
  end
  -- the record as read, kept by C as its source snapshot (record_snapshots: the console's
  -- impact preview maps the last ones again)
  local sok, snap = pcall(json.encode, rec)
  if sok then item.snapshot = snap end
  local ok, err = pcall(function()
    -- through lib.mapping: results checked, errors naming the file, line and record
    for _, req in ipairs(mapping.requires(m, rec, st.ctx)) do resolve(st, req) end
    local doc = mapping.apply(m, rec, st.ctx)
    item.doc = doc
    item.hash = hex_sha(json.encode(doc))
    item.currency, item.source_total = mapping.total(m, rec, st.ctx)
    local row = idmap_get(st, m, sid)
    if row and row.target_id then
      item.target_id, item.sync_token = row.target_id, row.sync_token
      item.action = row.content_hash == item.hash and "unchanged" or "update"
    else
      if row and row.request_id then -- reserved by a create that may have reached the target
        local found = not st.dry_run and find_ours(st, doc, rec)
        if found then
          item.action, item.target_id, item.sync_token = "adopt", tostring(found.Id), found.SyncToken
          item.object = found
          return
        end
      end
      -- never seen by this flow: an existing target document its match finds is this
      -- record's (updated to the source's content), not a name to create twice
      local found = not (row and row.request_id) and match_existing(st, m, doc, rec, st.ctx)
      if found then
        item.action, item.target_id, item.sync_token = "update", tostring(found.Id),
          found.SyncToken
        item.matched = true
        return
      end
      item.action = "create"
      item.request_id = M.request_id(st.tenant, st.flow, sid, item.hash)
    end
  end)
  if not ok then
    item.action = "failed"
    local text = errtext(err)
    -- lib.mapping's messages already name the file, line and record
    item.error = text:match("^mappings/") and text or ("%s %s: %s"):format(m.source.entity, sid, text)
    item.code = type(err) == "table" and err.code or "mapping"
    item.retryable = type(err) == "table" and err.retryable or false
    item.input = select(2, pcall(json.encode, rec))
  end
  return item
end

-- Records a sync page gathers from the source's pages (WooCommerce gives 100 a page) when the
-- target writes in batches: a page of 300 orders lets its dependencies go to QuickBooks in full
-- batches of 30, found and created together (prepare_page).
M.PAGE_RECORDS = 300
-- Writes (creates and updates) C is handed at a time from a gathered page, once its
-- dependencies exist: one full batch. Each slice is recorded as soon as its batch is answered
-- while the next ones are planned and in flight (send / collect: up to 10 batches at once), so
-- the run's progress moves (and what is done is recorded) every 30 documents.
M.SLICE_WRITES = 30

-- The next source records: records a capped page left (st.carry), then source pages until
-- M.PAGE_RECORDS are gathered or the source is exhausted. A source failure after some records
-- ends the gathering; it is raised by the next call (the records read so far are planned and
-- written first).
local function gather(st)
  local all = st.carry
  st.carry = nil
  if st.source_failed and all == nil then
    local f = st.source_failed
    st.source_failed = nil
    raise(("reading %s: %s"):format(st.m.source.entity, errtext(f.info)), "source", f.retryable ~= false)
  end
  while not st.exhausted and not st.source_failed do
    -- a target without batch writes, or a run whose filters set per_page (its page size),
    -- takes the source's pages as they come
    if all ~= nil and (#all >= M.PAGE_RECORDS or type(st.target.write) ~= "function"
      or st.per_page) then break end
    local recs, info, retryable = st.pages()
    if recs == nil then
      if info ~= nil then
        if all == nil then
          raise(("reading %s: %s"):format(st.m.source.entity, errtext(info)), "source",
            retryable ~= false)
        end
        st.source_failed = { info = info, retryable = retryable }
      else
        st.exhausted = true
      end
      break
    end
    if type(info) == "table" and info.total ~= nil then st.total = info.total end
    if all == nil then all = recs else for _, r in ipairs(recs) do all[#all + 1] = r end end
  end
  return all
end

-- The records of a gathered page this flow plans (as plan_one decides): their dependencies
-- are looked up and created together first. Returns how many of recs the page keeps: the
-- others (past what one pacing window holds, see prepare_page) go back to st.carry.
local function prepare_gathered(st, recs)
  local mine, at = {}, {}
  for i, rec in ipairs(recs) do
    local sid = source_id_of(st.m, rec)
    if sid ~= nil and not st.done[sid] then
      local take = true
      if type(st.m.select) == "function" then
        local sok, t = pcall(st.m.select, rec, st.ctx)
        take = not (sok and not t)
      end
      if take then mine[#mine + 1] = rec; at[#mine] = i end
    end
  end
  st.dep_err = {} -- a dependency that failed on an earlier page is tried again
  local upto = prepare_page(st, mine)
  if upto < #mine then
    local keep = at[upto + 1] - 1
    local carry = {}
    for i = keep + 1, #recs do carry[#carry + 1] = recs[i] end
    for i = #recs, keep + 1, -1 do recs[i] = nil end
    st.carry = carry
  end
  return #recs
end

-- next_page(st) -> the next page C writes and records (nil when the source is exhausted): the
-- next slice of the gathered page (at most M.SLICE_WRITES creates and updates for a target
-- that writes in batches), gathering and preparing the next page when this one is used up.
-- nil, "drain": the next page's dependencies are to be created while pages are still in
-- flight (send): C records those first (collect), then asks again, and the creates go then,
-- so no page waits unrecorded behind a pacing window that creating them may meet.
-- Gather and prepare the next page when the ready one is used up. -> false at the source's end
local function advance(st)
  if st.ready ~= nil and st.ready_at <= #st.ready then return true end
  st.ready = nil
  local recs = gather(st)
  company_ready(st) -- also at the source's end: a company that cannot be read fails the run
  if recs == nil then return false end
  prepare_gathered(st, recs)
  st.ready, st.ready_at = recs, 1
  return true
end

function M.next_page(st)
  if st.ahead_err ~= nil then -- what send's look-ahead met, once what is in flight is recorded
    if #st.inflight > 0 then return nil, "drain" end
    local e = st.ahead_err
    st.ahead_err = nil
    error(e, 0)
  end
  if st.creates_due then
    if #st.inflight > 0 then return nil, "drain" end
    st.creates_due = nil
    create_pending(st)
  elseif st.ready == nil or st.ready_at > #st.ready then
    if not advance(st) then return nil end
    if st.creates_due then return nil, "drain" end
  end
  st.page_no = st.page_no + 1
  local page = { items = {}, page = st.page_no, total = st.total }
  local sliced = type(st.target.write) == "function" and not st.per_page
  local writes, recs = 0, st.ready
  local looked = 0
  while st.ready_at <= #recs and not (sliced and writes >= M.SLICE_WRITES) do
    -- a stop is looked for every 10 records (a statement each time: not per record)
    looked = looked + 1
    if st.run_id and looked % 10 == 1
      and db.value("SELECT cancel_requested FROM sync_runs WHERE id = ?", st.run_id) == 1 then
      page.cancelled = true
      st.ready_at = #recs + 1
      break
    end
    local rec = recs[st.ready_at]
    recs[st.ready_at] = false -- the page holds it now
    st.ready_at = st.ready_at + 1
    local item = plan_one(st, rec)
    if item then
      page.items[#page.items + 1] = item
      if item.action == "create" or item.action == "update" then writes = writes + 1 end
      local u = item.source_updated_at
      if u and item.action ~= "failed" and (page.max_modified == nil or u > page.max_modified) then
        page.max_modified = u
      end
    end
  end
  page.n = #page.items
  return page
end

-- write ------------------------------------------------------------------------------------------

local function set_ok(st, item, obj, outcome)
  item.outcome = outcome
  if obj then
    item.target_id = tostring(obj.Id or obj.id or item.target_id)
    item.sync_token = obj.SyncToken or obj.sync_token or item.sync_token
  end
  local tt = doc_total(type(obj) == "table" and obj.TotalAmt ~= nil and obj or item.doc, item.currency)
  item.target_total = tt
end

local function set_fail(item, err)
  item.outcome = "failed"
  item.error = errtext(err)
  item.code = type(err) == "table" and err.code and tostring(err.code) or "write"
  item.retryable = type(err) == "table" and err.retryable or false
end

-- A create refused as a duplicate document number (6140): after a crash it is our own earlier
-- create; adopt it when its note names this record, never create a second one.
local function on_duplicate(st, item, err)
  local ok, found = pcall(find_ours, st, item.doc, nil)
  if ok and found then
    set_ok(st, item, found, "created")
    item.adopted = true
  else
    set_fail(item, err)
    if ok then item.error = item.error .. " (the existing document is not this record's)" end
  end
end

local function update_body(item)
  local b = json.object({})
  for k, v in pairs(item.doc) do b[k] = v end
  b.Id, b.SyncToken = item.target_id, item.sync_token
  return b
end

local function on_conflict(st, item, err)
  local cur = type(err) == "table" and err.current or nil
  if st.policy == "target_wins" then
    item.outcome, item.error = "skipped", "the target changed since the last sync (target_wins)"
  elseif st.policy == "manual" or cur == nil then
    item.outcome, item.error, item.code = "conflict", errtext(err), "conflict"
    item.conflict = json.encode({ ours = item.doc, theirs = cur or json.null })
  else -- source_wins: write again over the current version
    item.sync_token = cur.SyncToken
    local obj, e2 = st.target.update(st.tctx, st.m.target.entity, update_body(item))
    if obj then set_ok(st, item, obj, "updated") else set_fail(item, e2) end
  end
end

-- The items of a page whose outcome needs no target (skipped, unchanged, failed, adopted,
-- refused, a dry run's): given it here. Returns the items to write.
local function write_local(st, page, refused)
  local todo, skip = {}, {}
  for _, i in ipairs(refused or {}) do skip[i] = true end
  for idx, item in ipairs(page.items) do
    local a = item.action
    if skip[idx] and a == "create" then
      item.outcome, item.code, item.retryable = "failed", "in_flight", true
      item.error = "another job is writing this record right now; it is retried shortly"
    elseif a == "skip" then
      item.outcome = "skipped"
    elseif a == "unchanged" then
      item.outcome = "unchanged"
      item.target_total = doc_total(item.doc, item.currency)
    elseif a == "failed" then
      item.outcome = "failed"
    elseif a == "adopt" then
      set_ok(st, item, item.object, "created")
      item.adopted = true
    elseif st.dry_run then
      item.outcome = a == "create" and "created" or "updated"
      item.target_total = doc_total(item.doc, item.currency)
      item.output = json.encode(item.doc)
      if a == "update" and type(st.target.get) == "function" then
        local cur = st.target.get(st.tctx, st.m.target.entity, item.target_id)
        if cur then item.diff = json.encode((diff(item.doc, cur))) end
      end
    else
      todo[#todo + 1] = item
    end
  end
  return todo
end

-- Whether todo goes as batches (target.write): more than one, and not an upsert target.
local function batched(st, todo)
  return #todo > 1 and type(st.target.write) == "function"
    and not (st.m.target.upsert or st.target.name == "supabase")
end

-- The batch records of todo (creates with their request ids, updates with Id + SyncToken).
local function batch_records(todo)
  local recs = {}
  for i, item in ipairs(todo) do
    recs[i] = item.action == "create" and { body = item.doc, request_id = item.request_id }
      or { body = update_body(item) }
  end
  return recs
end

-- Each item of todo its outcome from the target's batch results.
local function batch_outcomes(st, todo, results)
  for i, item in ipairs(todo) do
    local r = results[i] or { ok = false, error = "no result", retryable = true }
    if r.ok then
      set_ok(st, item, r.object or { Id = r.id, SyncToken = r.sync_token },
        item.action == "create" and "created" or "updated")
    elseif r.conflict then
      on_conflict(st, item, r)
    elseif r.code == "6140" and item.action == "create" then
      on_duplicate(st, item, r)
    else
      set_fail(item, r)
    end
  end
end

-- Write todo to the target now (every form but a started batch write).
local function write_remote(st, todo)
  local entity = st.m.target.entity
  if #todo > 0 and (st.m.target.upsert or st.target.name == "supabase") then
    -- an idempotent bulk upsert (Supabase): every row in one call, chunked by the connector;
    -- the row's key is the source id, so a resend after a crash rewrites the same rows
    local rows = {}
    for i, item in ipairs(todo) do rows[i] = item.doc end
    local results = st.target.write(st.tctx, entity, rows) or {}
    for i, item in ipairs(todo) do
      local r = results[i] or { ok = false, error = "no result", retryable = true }
      if r.ok then
        set_ok(st, item, { id = r.id or item.target_id or item.source_id },
          item.action == "create" and "created" or "updated")
      else
        set_fail(item, r)
      end
    end
  elseif batched(st, todo) then
    batch_outcomes(st, todo, st.target.write(st.tctx, entity, batch_records(todo)))
  else
    for _, item in ipairs(todo) do
      local obj, err
      if item.action == "create" then
        obj, err = create_one(st, entity, item.doc, item.request_id)
      else
        obj, err = st.target.update(st.tctx, entity, update_body(item))
      end
      if obj then set_ok(st, item, obj, item.action == "create" and "created" or "updated")
      elseif type(err) == "table" and err.conflict then on_conflict(st, item, err)
      elseif type(err) == "table" and err.code == "6140" and item.action == "create" then
        on_duplicate(st, item, err)
      else set_fail(item, err) end
    end
  end
end

-- The written page as C reads it: sources of failures kept, Lua-only values dropped.
local function write_done(st, page)
  for _, item in ipairs(page.items) do
    if item.outcome ~= "failed" and item.output == nil and item.doc and st.dry_run then
      item.output = json.encode(item.doc)
    end
    -- a failure keeps its source record whatever refused it (the mapping, or the target), so
    -- the console shows it and drafts a mapping test case from it
    if (item.outcome == "failed" or item.outcome == "conflict") and item.input == nil
      and item.rec ~= nil then
      item.input = select(2, pcall(json.encode, item.rec))
    end
    item.doc, item.object, item.rec = nil, nil, nil -- C reads scalars and JSON text only
  end
  return page
end

-- write(st, page [, refused]): refused lists the indexes of the items whose id map reservation
-- another job holds (C could not reserve them): they are not sent, and fail retryably
-- ("in_flight").
function M.write(st, page, refused)
  write_remote(st, write_local(st, page, refused))
  return write_done(st, page)
end

-- send(st, page [, refused]) -> pages in flight, whether another may be sent: write's first
-- half. A page whose writes go as batches to a target that can send them in the background
-- (target.write_start) is left in flight while the caller plans, reserves and records others;
-- any other page is written now. collect(st) -> the oldest page sent, written (write's answer),
-- or nil when none is in flight. Pages come back in the order they were sent. At most the
-- target's parallel requests (sync_parallel_requests, else its CONCURRENT, else 1) batch pages
-- are in flight: the target's own limits (engine.http's rate) stay the ceiling.
function M.send(st, page, refused)
  local todo = write_local(st, page, refused)
  local t = st.target
  if batched(st, todo) and type(t.write_start) == "function" and type(t.write_finish) == "function"
    and #todo <= (math.tointeger(t.MAX_BATCH) or #todo) then
    page.todo = todo
    page.pending = t.write_start(st.tctx, { { entity = st.m.target.entity,
      records = batch_records(todo) } })
    st.sending = st.sending + 1
  else
    write_remote(st, todo)
  end
  st.inflight[#st.inflight + 1] = page
  local more = M.may_send(st)
  -- at the limit with the gathered page used up: the next one is gathered and prepared now,
  -- while the batches are in flight, not after the first of them is answered (what it meets is
  -- raised by the next next_page, after the pages in flight are recorded)
  if not more and st.sending > 0 and not st.creates_due and st.ready ~= nil
    and st.ready_at > #st.ready then
    local ok, e = pcall(advance, st)
    if not ok then st.ahead_err = e end
  end
  return #st.inflight, more
end

function M.collect(st)
  local page = table.remove(st.inflight, 1)
  if page == nil then return nil end
  if page.pending then
    st.sending = st.sending - 1
    local p, todo = page.pending, page.todo
    page.pending, page.todo = nil, nil
    local all = st.target.write_finish(st.tctx, p)
    batch_outcomes(st, todo, all and all[1] or {})
  end
  return write_done(st, page)
end

-- Whether C may send another page before it collects: fewer batch pages in flight than
-- M.parallel, and none written already (a page written at once, a dry run's, one without
-- batches, is collected first: pages never pile up unrecorded).
function M.may_send(st)
  if st.sending >= M.parallel(st) then return false end
  for _, p in ipairs(st.inflight) do
    if p.pending == nil then return false end
  end
  return true
end

-- Batch pages send keeps in flight: the tenant's sync_parallel_requests (tctx.config), else the
-- target's CONCURRENT, else 1.
function M.parallel(st)
  local cfgp = type(st.tctx) == "table" and type(st.tctx.config) == "table"
    and math.tointeger(st.tctx.config.parallel_requests) or nil
  local n = cfgp or math.tointeger(st.target.CONCURRENT) or 1
  return math.max(1, math.min(n, 10))
end

-- entry points for C ------------------------------------------------------------------------------
-- engine/flow/sync_run.c calls these through eng_vm_call (lua/vm.h), never anything else here.
-- Each answers err, retryable, results...: err is nil on success, else a message (C then reads
-- no other result), so C never sees a table as an error. Values C keeps between calls (the run's
-- state, a page, a job's ids) stay Lua values held by reference; what C stores it reads from a
-- page's view, a plain JSON object of scalars (see view below), copied before any transaction.

local function guarded(fn)
  return function(...)
    local r = table.pack(pcall(fn, ...))
    if r[1] then return nil, false, table.unpack(r, 2, r.n) end
    local e = r[2]
    return errtext(e), type(e) == "table" and e.retryable or false
  end
end

-- c_platforms(flow) -> err, retryable, source connector, target connector (C builds the contexts)
M.c_platforms = guarded(function(flow)
  local m = load_flow(flow)
  return m.source.connector, m.target.connector
end)

-- c_ctx_ok(ctx) -> true: C builds a connector context (its credentials are found and open)
-- to check a tenant can run a flow, and lets it go at once.
function M.c_ctx_ok(ctx) return ctx ~= nil end

-- c_open(tenant, run_id | nil, flow, entity, mode, dry_run, filters (a value), since | nil,
--        config (transformer_config JSON text) | nil, ids (a job's ids, a value) | nil,
--        done (a list of source ids) | nil, sctx, tctx)
--   -> err, retryable, st, source system, source entity, target system, target type
M.c_open = guarded(function(tenant, run_id, flow, entity, mode, dry_run, filters, since, config,
                            ids, done, sctx, tctx)
  local spec = { tenant = tenant, run_id = run_id, flow = flow, entity = entity, mode = mode,
    dry_run = dry_run, filters = filters, since = since, config = config, ids = ids, done = done }
  local st = M.open(spec, sctx, tctx)
  return st, st.m.source.connector, st.m.source.entity, st.m.target.connector, st.m.target.entity
end)

-- The fields of an item C records (sync_records, id_map), all scalars: strings, integers (money
-- in minor units), booleans; input/output/diff/conflict are JSON text.
local VIEW_FIELDS = { "source_id", "action", "request_id", "outcome", "target_id", "sync_token",
  "hash", "source_updated_at", "error", "code", "retryable", "input", "output", "diff", "conflict",
  "currency", "source_total", "target_total", "snapshot" }

-- The page as C reads it: { cancelled, total?, max_modified?, items = [ {VIEW_FIELDS} ] }.
local function view(page)
  local items = json.array({})
  for i, item in ipairs(page.items) do
    local v = json.object({})
    for _, k in ipairs(VIEW_FIELDS) do
      local x = item[k]
      local t = type(x)
      if t == "string" then
        v[k] = valid_utf8(x)
      elseif t == "boolean" or math.type(x) == "integer" then
        v[k] = x
      end
    end
    items[i] = v
  end
  return { cancelled = page.cancelled and true or false,
    total = math.type(page.total) == "integer" and page.total or nil,
    max_modified = type(page.max_modified) == "string" and page.max_modified or nil, items = items }
end

-- c_next_page(st) -> err, retryable, page | false (the source is exhausted, or drain), its
-- view, drain (true: collect every page in flight, then ask again)
M.c_next_page = guarded(function(st)
  local page, why = M.next_page(st)
  if not page then return false, nil, why == "drain" end
  return page, view(page), false
end)

-- c_write(st, page, refused) -> err, retryable, the written page's view. refused: the indexes
-- of the items whose id map reservation another job holds (a list).
M.c_write = guarded(function(st, page, refused)
  return view(M.write(st, page, refused))
end)

-- c_send(st, page, refused) -> err, retryable, pages in flight, whether C may send another
-- before it collects (see send).
M.c_send = guarded(function(st, page, refused)
  return M.send(st, page, refused)
end)

-- c_collect(st) -> err, retryable, the oldest sent page's view once written | nil (none in
-- flight), whether C may send another page before it collects again.
M.c_collect = guarded(function(st)
  local page = M.collect(st)
  if page == nil then return nil, true end
  return view(page), M.may_send(st)
end)

-- c_job(payload) -> err, retryable, entity, flow ("" = the entity's default), source ("" when
-- not said), ids (a list of source id strings, kept by C for c_open).
-- A webhook's {"source", "entity", "id", "event"} or a retry's {"entity", "flow", "ids": [...]}.
M.c_job = guarded(function(p)
  if type(p) ~= "table" then error("job payload is not a JSON object", 0) end
  if type(p.entity) ~= "string" or p.entity == "" then error("job payload has no entity", 0) end
  local ids = json.array({})
  if p.id ~= nil and p.id ~= json.null then ids[1] = tostring(p.id) end
  if type(p.ids) == "table" then
    for _, v in ipairs(p.ids) do ids[#ids + 1] = tostring(v) end
  end
  if #ids == 0 then error("job payload names no record (id or ids)", 0) end
  return p.entity, type(p.flow) == "string" and p.flow or "",
    type(p.source) == "string" and p.source or "", ids
end)

-- c_sweep(payload) -> err, retryable, since | nil, source, the number of entities, their list.
-- A webhook sweep ({"source", "reason", "since"}) re-reads what changed while the engine was
-- down: the entities whose changes the source's webhooks would have brought (the connector's
-- webhook_entities), each by its default flow when that flow reads from the sweep's source
-- (C asks the published policy), incrementally from since.
M.c_sweep = guarded(function(p)
  if type(p) ~= "table" or type(p.source) ~= "string" or not p.source:match("^[%w_]+$") then
    error("sweep payload has no source", 0)
  end
  local ok, conn = pcall(require, "connectors." .. p.source)
  local entities, seen = {}, {}
  if ok and type(conn) == "table" and type(conn.webhook_entities) == "table" then
    for _, e in pairs(conn.webhook_entities) do
      if type(e) == "string" and not seen[e] then seen[e] = true; entities[#entities + 1] = e end
    end
  end
  table.sort(entities)
  return type(p.since) == "string" and p.since or nil, p.source, #entities, entities
end)

-- c_pick(list, i) -> err, retryable, list[i] (C walks a list it holds by reference)
M.c_pick = guarded(function(list, i) return list[i] end)

return M
