-- Test-only mapping (tests/integration/mapping_engine.sh): writes `dry-run --explain` must follow
-- exactly: a helper's constructor (via its caller), table.insert / sort / remove / move, a table
-- made by C and attached whole, and a returned document merged over a rule's field. The
-- "@name" comments mark the lines the test expects; it finds them with grep, never by number.
local json = require "engine.json"

local function line(name, qty)
  return { Name = name, -- @ctor-name
    Qty = qty } -- @ctor-qty
end

return {
  name = "lineage",
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "quickbooks", entity = "Invoice" },
  key = "id",
  rules = {
    { to = "Memo", from = "number" },
    { to = "Kept", from = "total" },
  },
  map = function(order, ctx, out)
    local lines = json.array({})
    for _, li in ipairs(order.line_items) do
      table.insert(lines, line(li.name, li.quantity)) -- @insert
    end
    out.Line = lines -- @attach
    local tags = json.array({})
    table.insert(tags, "b") -- @tag-b
    table.insert(tags, 1, "c") -- @tag-c
    table.insert(tags, "a") -- @tag-a
    table.sort(tags)
    table.remove(tags, 2)
    out.Tags = tags
    out.Copy = table.move(tags, 1, 1, 1, json.array({})) -- @move
    out.Raw = json.decode('{"a": {"b": 1}}') -- @raw
    return { Memo = "from map" } -- @return
  end,
}
