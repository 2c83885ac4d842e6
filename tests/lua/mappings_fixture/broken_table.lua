-- Test-only mapping (tests/integration/mapping_engine.sh): writes into the shared `table`
-- library, which the sandbox refuses; the traced copy `--explain` runs must refuse it too.
return {
  name = "broken_table",
  source = { connector = "woocommerce", entity = "orders" },
  target = { connector = "quickbooks", entity = "Invoice" },
  key = "id",
  map = function(order)
    table.sort = nil -- @write
    return { Id = order.id }
  end,
}
