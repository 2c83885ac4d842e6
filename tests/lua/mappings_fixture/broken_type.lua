-- Test-only mapping: map() returns a string, not a document.
return {
  source = { connector = "woocommerce", entity = "orders" },
  key = "id",
  map = function(order) -- @map
    return "invoice " .. tostring(order.id)
  end,
}
