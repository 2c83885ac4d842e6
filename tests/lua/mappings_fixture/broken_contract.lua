-- Test-only mapping: compiles, but breaks the contract (a rule with an unknown transform).
return {
  source = { connector = "woocommerce", entity = "orders" },
  rules = {
    { to = "DocNumber", from = "number", "trim" },
    { to = "PrivateNote", from = "customer_note", "trim", "shout" },
  },
}
