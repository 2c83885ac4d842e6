-- Test-only mapping: does not compile.
return {
  map = function(order)
    return { Name = } -- @syntax
  end,
}
