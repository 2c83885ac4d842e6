-- Test-only mapping: today's form, map() returns the document (no rules).
return {
  name = "returned",
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "quickbooks", entity = "Invoice" },
  key = "id",
  map = function(order) -- @map
    return { DocNumber = order.number, Note = "fixed" } -- @return
  end,
}
