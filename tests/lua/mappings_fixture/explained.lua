-- Test-only mapping (tests/integration/mapping_engine.sh): rules first, then map() writing into
-- the traced output, nested tables included. The "@name" comments mark the lines the test
-- expects `dry-run --explain` to name; the test finds them with grep, never by number.
local json = require "engine.json"

return {
  name = "explained",
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "quickbooks", entity = "Invoice" },
  key = "id",
  rules = {
    { to = "DocNumber", from = "number", "trim", "truncate" },
    { to = "TotalAmt", from = "total", "money" },
    { to = "TxnDate", from = "date_created_gmt", { "date", input_zone = "Z", zone = "-05:00" } },
    { to = "BillEmail.Address", from = "billing.email", "trim", "lower" },
  },
  map = function(order, ctx, out)
    out.CustomerRef = { value = ctx.ref("customer", order.billing.email) } -- @customer
    out.Line = json.array({}) -- @lines
    for i, li in ipairs(order.line_items) do
      out.Line[i] = { Description = li.name } -- @line
      out.Line[i].Qty = li.quantity -- @qty
    end
    out.DocNumber = "WC-" .. out.DocNumber -- @docnumber
  end,
}
