-- connectors/pos.lua: the POS's own orders (schema/0004_pos_orders.sql) in the engine's store, as
-- a source, so in-store sales reach the books too. Reads through engine.db only; needs no
-- credentials. Must not: write to the store, use OFFSET, or turn money into floats.
--
-- read(ctx, "orders", opts) -> page | nil, message
--   The tenant's (ctx.tenant) active orders (is_active = 1) in (updated_at, id) order, each with
--   its active order_items (by line_no), one page per call, keyset paging (no OFFSET):
--   opts.since      only orders with updated_at > since (the stored text form,
--                   e.g. "2026-03-01T10:00:00.000Z"), for incremental runs
--   opts.cursor     the previous page's next_cursor, to continue after it
--   opts.page_size  1..1000, default 100
--   page = { records = { order, ... }, next_cursor = "updated_at|id" | nil,
--            has_more = bool, last_updated_at = updated_at of the last record | nil }
--   next_cursor is nil on the last page; last_updated_at is what to keep as the next `since`.
--   An order: id, order_number, status, currency, subtotal_minor, discount_minor,
--   shipping_minor, tax_minor, total_minor, paid_minor (integers in minor units of currency),
--   payment_method, customer = { id, name, email, phone }, billing_address / shipping_address
--   (decoded JSON objects), notes, ordered_at, created_at, updated_at and items = { { line_no,
--   product_id, sku, name, quantity, unit_price_minor, discount_minor, tax_minor, total_minor,
--   tax_code }, ... }. Absent (NULL) columns are absent fields. Orders and items are two
--   reads; an item changed in between moves its order's updated_at (schema triggers), so the
--   order comes again on a later page or run.
-- test(ctx) -> true, message | false, message: the orders table is readable for the tenant.
local db = require "engine.db"
local json = require "engine.json"

local M = {
  name = "pos",
  credentials = {}, -- none: the POS store is the engine's own
}

M.DEFAULT_PAGE = 100
M.MAX_PAGE = 1000

local ORDER_SQL = [[
SELECT id, order_number, status, currency, subtotal_minor, discount_minor, shipping_minor,
       tax_minor, total_minor, paid_minor, payment_method, customer_id, customer_name,
       customer_email, customer_phone, billing_address, shipping_address, notes, ordered_at,
       created_at, updated_at
FROM orders
WHERE tenant_id = :tenant AND is_active = 1
  AND (:since IS NULL OR updated_at > :since)
  AND (:cu IS NULL OR (updated_at, id) > (:cu, :ci))
ORDER BY updated_at, id
LIMIT :limit]]

local ITEM_COLUMNS = { "line_no", "product_id", "sku", "name", "quantity", "unit_price_minor",
  "discount_minor", "tax_minor", "total_minor", "tax_code" }

local function address(text)
  if text == nil then return nil end
  return (json.decode(text)) -- the table's CHECK keeps it valid JSON
end

local function order_record(r)
  return json.object({
    id = r.id, order_number = r.order_number, status = r.status, currency = r.currency,
    subtotal_minor = r.subtotal_minor, discount_minor = r.discount_minor,
    shipping_minor = r.shipping_minor, tax_minor = r.tax_minor, total_minor = r.total_minor,
    paid_minor = r.paid_minor, payment_method = r.payment_method,
    customer = json.object({ id = r.customer_id, name = r.customer_name,
      email = r.customer_email, phone = r.customer_phone }),
    billing_address = address(r.billing_address), shipping_address = address(r.shipping_address),
    notes = r.notes, ordered_at = r.ordered_at, created_at = r.created_at,
    updated_at = r.updated_at, items = json.array(),
  })
end

-- read(ctx, entity, opts) -> page | nil, message   (see the top of the file)
function M.read(ctx, entity, opts)
  opts = opts or {}
  if entity ~= "orders" then
    return nil, ("pos: cannot read '%s' (only orders)"):format(tostring(entity))
  end
  if type(ctx.tenant) ~= "string" or ctx.tenant == "" then
    return nil, "pos: the context has no tenant"
  end
  local size = opts.page_size or M.DEFAULT_PAGE
  if math.type(size) ~= "integer" or size < 1 or size > M.MAX_PAGE then
    return nil, ("pos: page_size must be an integer in 1..%d"):format(M.MAX_PAGE)
  end
  if opts.since ~= nil and type(opts.since) ~= "string" then
    return nil, "pos: since must be a string (the stored updated_at form)"
  end
  local cu, ci = db.null, db.null
  if opts.cursor ~= nil then
    local u, id
    if type(opts.cursor) == "string" then u, id = opts.cursor:match("^([^|]+)|(.+)$") end
    if not u then return nil, "pos: cursor is not one this connector gave" end
    cu, ci = u, id
  end
  local rows, err = db.query(ORDER_SQL, { tenant = ctx.tenant, since = opts.since or db.null,
    cu = cu, ci = ci, limit = size + 1 })
  if rows == nil then return nil, "pos: cannot read orders: " .. tostring(err) end
  local has_more = #rows > size
  if has_more then rows[#rows] = nil end

  local records, by_id, ids, marks = {}, {}, {}, {}
  for i, r in ipairs(rows) do
    records[i] = order_record(r)
    by_id[r.id] = records[i]
    ids[i] = r.id
    marks[i] = "?"
  end
  if #ids > 0 then
    -- placeholders only (one per id); every value is bound
    local sql = ("SELECT order_id, %s FROM order_items WHERE tenant_id = ? AND is_active = 1"
      .. " AND order_id IN (%s) ORDER BY order_id, line_no"):format(
      table.concat(ITEM_COLUMNS, ", "), table.concat(marks, ","))
    local items, ierr = db.query(sql, ctx.tenant, table.unpack(ids))
    if items == nil then return nil, "pos: cannot read order items: " .. tostring(ierr) end
    for _, it in ipairs(items) do
      local list = by_id[it.order_id].items
      local item = json.object()
      for _, c in ipairs(ITEM_COLUMNS) do item[c] = it[c] end
      list[#list + 1] = item
    end
  end

  local last = rows[#rows]
  return {
    records = json.array(records),
    has_more = has_more,
    next_cursor = has_more and (last.updated_at .. "|" .. last.id) or nil,
    last_updated_at = last and last.updated_at or nil,
  }
end

-- test(ctx) -> true, message | false, message
function M.test(ctx)
  local n, err = db.value("SELECT count(*) FROM orders WHERE tenant_id = ? AND is_active = 1",
    ctx.tenant)
  if n == nil then
    if err ~= nil then return false, "the POS orders table cannot be read: " .. tostring(err) end
    return false, "the POS orders table cannot be read"
  end
  return true, ("POS store readable: %d active orders for this tenant"):format(n)
end

return M
