-- Test-only mapping: raises its own message with level 0 (no position) for order 5.
return {
  source = { connector = "woocommerce", entity = "orders" },
  key = "id",
  map = function(order)
    if order.id == 5 then
      error("total: missing amount", 0) -- @raise
    end
    return { Name = "ok" }
  end,
}
