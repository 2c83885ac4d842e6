-- mappings/woo_customer_to_qbo_customer.lua: a WooCommerce customer (wc/v3 /customers, or the
-- customer-like record woo_sales.customer_record builds from an order's billing for a guest)
-- -> a QuickBooks Online Customer create body. A dependency flow: orders resolve their
-- customer through it (key "email:<address>" or "name:<DisplayName>").
--
-- Decisions:
-- * DisplayName = "First Last" (record, then billing), else the company, else the e-mail
--   address, else the user name; HTML entities decoded; ':' / tab / newline (refused by
--   QuickBooks in names) become spaces; at most 500 characters. No name at all is an error.
-- * GivenName / FamilyName / CompanyName at most 100 characters each; PrimaryEmailAddr only
--   when QuickBooks would take it (has "@" and ".", <= 100 characters); PrimaryPhone from
--   billing.phone (<= 30); BillAddr / ShipAddr from billing / shipping; Notes names the
--   WooCommerce customer id.
-- * match: an existing customer with the same PrimaryEmailAddr first; then one with the same
--   DisplayName, but only when that customer has no e-mail or the same one (`accept`): a
--   namesake with another address is a stranger and is never merged with.
-- * disambiguate: when QuickBooks refuses the name (6240: DisplayName is unique across
--   customers, vendors and employees), attempt 1 is "Name (e-mail)", later attempts
--   "Name (n)" with n = attempt + 1 (or attempt, when there is no e-mail): deterministic, the
--   base cut so the whole stays within 500 characters.
local doc = require "lib.qbo_doc"
local woo = require "lib.woo_sales"

local NAME = "woo_customer_to_qbo_customer"
local DISPLAY_NAME_MAX = 500
local PART_MAX = 100

local function who_of(c)
  if type(c) ~= "table" then
    error(("%s: the record is %s, expected a WooCommerce customer object"):format(NAME,
      type(c)), 0)
  end
  local id = doc.text(c.id)
  local label = id and ("customer " .. id) or ("customer " .. (doc.text(c.email) or "(guest)"))
  return doc.who(NAME, label), id
end

local function email_of(c)
  return doc.email(c.email) or doc.email(doc.object(c.billing).email)
end

local function map(c, ctx)
  local who, id = who_of(c)
  local b = doc.object(c.billing)
  local name = woo.display_name(c)
  if not name then
    doc.fail(who, "first_name", "no name, company, e-mail or user name to show the customer as")
  end
  local out = { DisplayName = name }
  out.GivenName = doc.qbo_name(doc.name_text(c.first_name) or doc.name_text(b.first_name),
    PART_MAX)
  out.FamilyName = doc.qbo_name(doc.name_text(c.last_name) or doc.name_text(b.last_name),
    PART_MAX)
  out.CompanyName = doc.qbo_name(doc.name_text(b.company), PART_MAX)
  local email = email_of(c)
  if email then out.PrimaryEmailAddr = { Address = email } end
  local phone = doc.text(b.phone)
  if phone then out.PrimaryPhone = { FreeFormNumber = doc.uhead(phone, 30) } end
  out.BillAddr = doc.address(c.billing)
  out.ShipAddr = doc.address(c.shipping)
  local notes = { id and ("WooCommerce customer #" .. id) or "WooCommerce guest customer" }
  local raw = doc.text(c.email) or doc.text(b.email)
  if raw and not email then
    notes[#notes + 1] = ("e-mail %q left out: not an address QuickBooks accepts"):format(
      doc.uhead(raw, 120))
  end
  out.Notes = doc.uhead(table.concat(notes, "\n"), 2000)
  return out
end

local function match(out, c)
  local crit = {}
  local email = out and out.PrimaryEmailAddr and out.PrimaryEmailAddr.Address or email_of(c)
  if email then crit[#crit + 1] = { field = "PrimaryEmailAddr", value = email } end
  local name = out and out.DisplayName or woo.display_name(c)
  if name then
    crit[#crit + 1] = { field = "DisplayName", value = name,
      -- a namesake is the same customer only without an e-mail of its own, or with this one
      accept = function(existing)
        local addr = type(existing) == "table" and type(existing.PrimaryEmailAddr) == "table"
          and doc.text(existing.PrimaryEmailAddr.Address) or nil
        return addr == nil or (email ~= nil and addr:lower() == email:lower())
      end }
  end
  return crit
end

local function disambiguate(out, attempt)
  local email = out.PrimaryEmailAddr and out.PrimaryEmailAddr.Address
  local suffix
  if email and attempt == 1 then
    suffix = " (" .. email .. ")"
  else
    suffix = (" (%d)"):format(email and attempt or attempt + 1)
  end
  local copy = {}
  for k, v in pairs(out) do copy[k] = v end
  local base = doc.uhead(out.DisplayName, DISPLAY_NAME_MAX - doc.ulen(suffix)):gsub("%s+$", "")
  copy.DisplayName = base .. suffix
  return copy
end

return {
  name = NAME,
  default_for = "customers",
  source = { connector = "woocommerce", entity = "customers" },
  target = { connector = "quickbooks", entity = "Customer" },
  key = "id",
  match = function(out, c) return match(out, c) end,
  disambiguate = disambiguate,
  map = map,
}
