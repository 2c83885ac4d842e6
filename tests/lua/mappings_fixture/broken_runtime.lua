-- Test-only mapping: a runtime error for order 2 only (indexing a missing field).
return {
  source = { connector = "woocommerce", entity = "orders" },
  key = "id",
  map = function(order)
    if order.id == 2 then
      return { Name = order.billing.first_name } -- @nil-index
    end
    return { Name = "ok" }
  end,
}
