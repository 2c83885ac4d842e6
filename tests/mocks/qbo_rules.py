"""tests/mocks/qbo_rules.py: what QuickBooks Online refuses in an entity body, for
quickbooks_mock.py (tests/fixtures/reference/external-apis.md section 3). One function per rule; each
raises Refusal with Intuit's Fault code, message and element. The codes are Intuit's published
ones where they exist: 2500 Invalid Reference Id, 610 Object Not Found (an inactive reference),
2050 string length (Intuit: "String length is either shorter or longer than supported by
specification"), 2040 Invalid String (a ':' in a name: "Element contains invalid characters"),
2020 Required param missing, 6070 Amount calculation incorrect, 6000 Business Validation Error.
Stdlib only; no I/O.
"""
from decimal import Decimal, InvalidOperation, ROUND_HALF_UP


class Refusal(Exception):
    def __init__(self, code, message, detail, element=""):
        Exception.__init__(self, detail)
        self.code, self.message, self.detail, self.element = code, message, detail, element


# Reference key -> the entity it names. Any key ending in AccountRef names an Account.
REF_ENTITY = {"CustomerRef": "Customer", "ItemRef": "Item", "TaxCodeRef": "TaxCode",
              "TxnTaxCodeRef": "TaxCode", "ClassRef": "Class", "SalesTermRef": "Term",
              "PaymentMethodRef": "PaymentMethod", "DepartmentRef": "Department",
              "VendorRef": "Vendor", "TaxRateRef": "TaxRate"}
# QuickBooks' special item references and the sales-form preference each needs (3.4).
SPECIAL_ITEMS = {"SHIPPING_ITEM_ID": "AllowShipping", "GRATUITY_ITEM_ID": "AllowGratuity"}
US_TAX_CODES = ("TAX", "NON")  # a US company's line tax codes are these literals (3.4)

# (entity or None for all, dotted path) -> max length (3.3, 3.4)
LENGTHS = [
    (("Customer", "Vendor", "Employee"), "DisplayName", 500),
    (("Customer", "Vendor", "Employee"), "PrimaryEmailAddr.Address", 100),
    (("Item",), "Name", 100),
    (("Item",), "Sku", 100),
    (None, "DocNumber", 21),
    (None, "PrivateNote", 4000),
    (None, "CustomerMemo.value", 1000),
    (None, "BillEmail.Address", 100),
    (None, "PaymentRefNum", 21),
]
ADDRESS_KEYS = ("BillAddr", "ShipAddr")
ADDRESS_LINES = ["Line%d" % i for i in range(1, 6)]
NAME_FIELDS = {"Customer": ("DisplayName", "GivenName", "MiddleName", "FamilyName"),
               "Vendor": ("DisplayName", "GivenName", "MiddleName", "FamilyName"),
               "Employee": ("DisplayName", "GivenName", "MiddleName", "FamilyName"),
               "Item": ("Name",)}
SALES_DOCS = ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt", "Estimate")
ZERO_DECIMALS = ("JPY", "KRW", "CLP", "ISK", "VND", "HUF", "TWD", "UGX", "XAF", "XOF")


def get(obj, path):
    v = obj
    for p in path.split("."):
        if not isinstance(v, dict) or p not in v:
            return None
        v = v[p]
    return v


def too_long(field, value, limit):
    raise Refusal(2050, "String length is either shorter or longer than supported by "
                  "specification", "%s: Min:0 Max:%d supported. Supplied length:%d."
                  % (field, limit, len(value)), field)


def check_lengths(ent, body):
    for ents, path, limit in LENGTHS:
        if ents is not None and ent not in ents:
            continue
        v = get(body, path)
        if isinstance(v, str) and len(v) > limit:
            too_long(path, v, limit)
    for key in ADDRESS_KEYS:
        a = body.get(key)
        if not isinstance(a, dict):
            continue
        for line in ADDRESS_LINES:
            if isinstance(a.get(line), str) and len(a[line]) > 500:
                too_long("%s.%s" % (key, line), a[line], 500)
        if isinstance(a.get("PostalCode"), str) and len(a["PostalCode"]) > 30:
            too_long(key + ".PostalCode", a["PostalCode"], 30)
    for i, line in enumerate(body.get("Line") or []):
        d = line.get("Description") if isinstance(line, dict) else None
        if isinstance(d, str) and len(d) > 4000:
            too_long("Line[%d].Description" % i, d, 4000)


def check_names(ent, body):
    for f in NAME_FIELDS.get(ent, ()):
        v = body.get(f)
        if isinstance(v, str) and any(c in v for c in ":\t\n"):
            raise Refusal(2040, "Invalid String", "The String may contain unsupported or "
                          "illegal chars: Element contains invalid characters. " + f, f)


def check_emails(body):
    for path in ("PrimaryEmailAddr.Address", "BillEmail.Address"):
        v = get(body, path)
        if v is None:
            continue
        local, at, domain = str(v).partition("@")
        if not at or not local or "." not in domain or any(c.isspace() for c in str(v)):
            raise Refusal(2040, "Invalid String", "Email Address does not conform to the syntax "
                          "rules of RFC 822 (needs @ and a dot in the domain): " + path, path)


def refs_in(obj, out):
    """Every (key, value) of a {"value": ...} reference anywhere in obj."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith("Ref") and isinstance(v, dict) and "value" in v:
                out.append((k, v["value"]))
            else:
                refs_in(v, out)
    elif isinstance(obj, list):
        for v in obj:
            refs_in(v, out)
    return out


def invalid_ref(key, value, ent):
    raise Refusal(2500, "Invalid Reference Id", "Invalid Reference Id : %s assigned is not valid "
                  "(%s %s)" % (ent, key, value), key)


def check_refs(ent, body, entities, company):
    prefs = company["SalesFormsPrefs"]
    for key, value in refs_in(body, []):
        target = "Account" if key.endswith("AccountRef") else REF_ENTITY.get(key)
        if key == "ParentRef":
            target = ent
        if target is None:
            continue  # CurrencyRef and the like: codes, not ids
        value = str(value)
        if key == "ItemRef" and value in SPECIAL_ITEMS:
            if prefs.get(SPECIAL_ITEMS[value]) is True:
                continue
            invalid_ref(key, value, "Item")
        if target == "TaxCode" and value in US_TAX_CODES:
            if company["Country"] == "US":
                continue
            invalid_ref(key, value, "TaxCode")
        obj = entities.get(target, {}).get(value)
        if obj is None:
            invalid_ref(key, value, target)
        if obj.get("Active") is False:
            raise Refusal(610, "Object Not Found", "Object Not Found : Something you're trying to "
                          "use has been made inactive. Check the fields with accounts, "
                          "customers, items, vendors or employees. (%s %s)" % (key, value), key)


def decimals_of(body):
    cur = get(body, "CurrencyRef.value")
    return 0 if cur in ZERO_DECIMALS else 2


def dec(v, what):
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise Refusal(2020, "Required param missing, need to supply the required value",
                      "%s must be a number" % what, what)
    try:
        return Decimal(str(v))
    except InvalidOperation:
        raise Refusal(2020, "Invalid Number", "%s is not a number: %r" % (what, v), what)


def check_lines(ent, body, company):
    if ent not in SALES_DOCS:
        return
    lines = body.get("Line")
    if not isinstance(lines, list) or not lines:
        raise Refusal(6000, "A business validation error has occurred while processing your "
                      "request", "Business Validation Error: You must add at least one line "
                      "to this transaction.", "Line")
    places = Decimal(1).scaleb(-decimals_of(body))
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise Refusal(2020, "Required param missing", "Line[%d] must be an object" % i, "Line")
        kind = line.get("DetailType")
        if kind == "SalesItemLineDetail":
            d = line.get("SalesItemLineDetail") or {}
            if d.get("Qty") is not None and d.get("UnitPrice") is not None:
                amount = dec(line.get("Amount"), "Line[%d].Amount" % i)
                want = (dec(d["Qty"], "Qty") * dec(d["UnitPrice"], "UnitPrice")).quantize(
                    places, ROUND_HALF_UP)
                if amount != want:
                    raise Refusal(6070, "Amount calculation incorrect in the request",
                                  "Amount is not equal to UnitPrice * Qty. Supplied value:%s"
                                  % amount, "Line[%d].Amount" % i)
        elif kind == "DiscountLineDetail":
            if company["SalesFormsPrefs"].get("AllowDiscount") is not True:
                raise Refusal(6000, "A business validation error has occurred while processing "
                              "your request", "Business Validation Error: Discounts are turned "
                              "off in this company's sales form settings.", "DiscountLineDetail")
            d = line.get("DiscountLineDetail")
            if not isinstance(d, dict) or not isinstance(d.get("PercentBased"), bool):
                raise Refusal(2020, "Required param missing, need to supply the required value",
                              "Line[%d].DiscountLineDetail.PercentBased" % i, "PercentBased")
            if d["PercentBased"] and d.get("DiscountPercent") is None:
                raise Refusal(2020, "Required param missing, need to supply the required value",
                              "Line[%d].DiscountLineDetail.DiscountPercent" % i, "DiscountPercent")
            if dec(line.get("Amount", 0), "Line[%d].Amount" % i) < 0:
                raise Refusal(6000, "A business validation error has occurred while processing "
                              "your request", "Business Validation Error: a discount cannot be "
                              "negative.", "Line[%d].Amount" % i)
        elif kind == "SubTotalLineDetail":
            continue  # read-only, ignored on input
        elif kind not in ("DescriptionOnly", "GroupLineDetail"):
            raise Refusal(2020, "Required param missing, need to supply the required value",
                          "Line[%d].DetailType %r" % (i, kind), "DetailType")


def check_item(body):
    t = body.get("Type")
    if t is not None and t not in ("Inventory", "Service", "NonInventory", "Category", "Group"):
        raise Refusal(2170, "Invalid Enumeration", "Invalid Enumeration : %s" % t, "Type")
    if t in ("Inventory", "Service") and not isinstance(body.get("IncomeAccountRef"), dict):
        raise Refusal(2020, "Required param missing, need to supply the required value",
                      "Required parameter IncomeAccountRef is missing in the request",
                      "IncomeAccountRef")


def computed(ent, obj):
    """The read-only totals QuickBooks computes on a sales document (3.4: TotalAmt, Balance):
    sales lines - discount lines + TxnTaxDetail.TotalTax. Sets them on obj in place."""
    if ent not in SALES_DOCS or not isinstance(obj.get("Line"), list):
        return
    total = Decimal(0)
    for line in obj["Line"]:
        if not isinstance(line, dict) or line.get("Amount") is None:
            continue
        kind = line.get("DetailType")
        if kind == "SalesItemLineDetail":
            total += Decimal(str(line["Amount"]))
        elif kind == "DiscountLineDetail":
            total -= Decimal(str(line["Amount"]))
    tax = get(obj, "TxnTaxDetail.TotalTax")
    if tax is not None:
        total += Decimal(str(tax))
    obj["TotalAmt"] = float(total)
    if ent == "Invoice":
        obj["Balance"] = float(total)


# Required on create (3.3, 3.4): an Invoice / CreditMemo / Payment is a customer's.
REQUIRED = {"Invoice": ("CustomerRef",), "CreditMemo": ("CustomerRef",),
            "Payment": ("CustomerRef", "TotalAmt")}


def check_required(ent, body):
    if body.get("sparse") is True:
        return  # a sparse update sends only what changes
    for f in REQUIRED.get(ent, ()):
        if body.get(f) is None:
            raise Refusal(2020, "Required param missing, need to supply the required value",
                          "Required parameter %s is missing in the request" % f, f)


def check(ent, body, entities, company):
    """Raise Refusal for the first rule body breaks. entities: {entity: {id: obj}} as the
    company holds them (before a batch); company: the mock's preferences and country."""
    check_required(ent, body)
    check_lengths(ent, body)
    check_names(ent, body)
    check_emails(body)
    if ent == "Item":
        check_item(body)
    check_lines(ent, body, company)
    check_refs(ent, body, entities, company)
