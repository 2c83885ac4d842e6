#!/usr/bin/env python3
"""tests/integration/lib/qbo_strict_cases.py MOCK_BASE ACCESS_TOKEN REALM: sends the QuickBooks
mock what Intuit refuses, rule by rule (tests/fixtures/reference/external-apis.md section 3), and
checks the vendor's answer: HTTP status, Fault code and type. Each refusal has an accepted twin
(the same request made valid), so a rule that refuses everything fails too.
Prints "ok   name" / "FAIL name: detail" lines (mock_strict_quickbooks.sh counts them).
"""
import json
import sys
import urllib.error
import urllib.request

BASE, TOKEN, REALM = sys.argv[1], sys.argv[2], sys.argv[3]
RESULTS = []
SEQ = [0]


def call(method, path, body=None, query="minorversion=75", raw=None):
    url = "%s/v3/company/%s/%s" % (BASE, REALM, path)
    if query:
        url += ("&" if "?" in url else "?") + query
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": "Bearer " + TOKEN, "Accept": "application/json",
        "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def control(path, doc):
    req = urllib.request.Request(BASE + path, data=json.dumps(doc).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def fault_of(doc):
    f = doc.get("Fault") if isinstance(doc, dict) else None
    if not f:
        return None, None
    return f["Error"][0]["code"], f.get("type")


def record(name, ok, detail=""):
    RESULTS.append((name, ok, detail))


def refused(name, status, doc, code, want_status=400, ftype="ValidationFault"):
    got, gtype = fault_of(doc)
    ok = status == want_status and got == code and gtype == ftype
    record(name + " -> %d Fault %s %s" % (want_status, code, ftype), ok,
           "got HTTP %s %s" % (status, json.dumps(doc)[:300]))


def accepted(name, status, doc):
    ok = status == 200 and fault_of(doc)[0] is None
    record(name + " -> 200", ok, "got HTTP %s %s" % (status, json.dumps(doc)[:300]))
    return doc


def create(ent, body):
    return call("POST", ent.lower(), body)


def uniq(prefix):
    SEQ[0] += 1
    return "%s %d" % (prefix, SEQ[0])


def line(item="1", qty=1, price=10, amount=10, **detail):
    d = {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": price}
    d.update(detail)
    return {"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": d}


def main():
    # the company's references: an item, a customer, and inactive twins of each
    st, d = create("Item", {"Name": uniq("Widget"), "Type": "NonInventory",
                            "IncomeAccountRef": {"value": "79"}})
    item = accepted("an item with its income account", st, d)["Item"]["Id"]
    st, d = create("Customer", {"DisplayName": uniq("Ann Buyer")})
    cust = accepted("a customer", st, d)["Customer"]
    ids = control("/_mock/seed", {"Customer": [{"DisplayName": uniq("Gone"), "Active": False}],
                                  "Item": [{"Name": uniq("Old"), "Type": "Service",
                                            "Active": False}],
                                  "Account": [{"Name": "Closed", "Active": False,
                                               "AccountType": "Income"}],
                                  "TaxCode": [{"Name": "CA", "Active": True}],
                                  "Class": [{"Name": "Retail", "Active": True}]})["ids"]

    def inv(**over):
        body = {"CustomerRef": {"value": cust["Id"]}, "Line": [line(item)]}
        body.update(over)
        return create("Invoice", body)

    accepted("an invoice with existing references", *inv())
    # references
    refused("CustomerRef to nothing", *inv(CustomerRef={"value": "999999"}), code="2500")
    refused("CustomerRef to an inactive customer",
            *inv(CustomerRef={"value": ids["Customer"][0]}), code="610")
    refused("ItemRef to nothing", *inv(Line=[line("999999")]), code="2500")
    refused("ItemRef to an inactive item", *inv(Line=[line(ids["Item"][0])]), code="610")
    refused("TaxCodeRef to nothing",
            *inv(Line=[line(item, TaxCodeRef={"value": "999"})]), code="2500")
    accepted("TaxCodeRef to an existing TaxCode",
             *inv(Line=[line(item, TaxCodeRef={"value": ids["TaxCode"][0]})]))
    accepted("TaxCodeRef TAX in a US company", *inv(Line=[line(item, TaxCodeRef={"value": "TAX"})]))
    control("/_mock/preferences", {"Country": "CA"})
    refused("TaxCodeRef TAX outside the US",
            *inv(Line=[line(item, TaxCodeRef={"value": "TAX"})]), code="2500")
    control("/_mock/preferences", {"Country": "US"})
    refused("ClassRef to nothing", *inv(Line=[line(item, ClassRef={"value": "424"})]), code="2500")
    accepted("ClassRef to an existing Class",
             *inv(Line=[line(item, ClassRef={"value": ids["Class"][0]})]))
    refused("SalesTermRef to nothing", *inv(SalesTermRef={"value": "77"}), code="2500")
    st, d = create("SalesReceipt", {"CustomerRef": {"value": cust["Id"]}, "Line": [line(item)],
                                    "DepositToAccountRef": {"value": "31337"}})
    refused("DepositToAccountRef to nothing", st, d, code="2500")
    st, d = create("SalesReceipt", {"CustomerRef": {"value": cust["Id"]}, "Line": [line(item)],
                                    "DepositToAccountRef": {"value": ids["Account"][0]}})
    refused("DepositToAccountRef to an inactive account", st, d, code="610")
    # the special items and the company's preferences
    st, d = call("GET", "preferences")
    prefs = d.get("Preferences", {}).get("SalesFormsPrefs", {}) if st == 200 else {}
    record("GET preferences: a new company has AllowShipping false",
           st == 200 and prefs.get("AllowShipping") is False, "got %s %s" % (st, json.dumps(d)[:200]))
    refused("SHIPPING_ITEM_ID while AllowShipping is off", *inv(Line=[line(item), line(
        "SHIPPING_ITEM_ID", amount=5, price=5)]), code="2500")
    refused("GRATUITY_ITEM_ID while gratuity is off", *inv(Line=[line(item), line(
        "GRATUITY_ITEM_ID", amount=5, price=5)]), code="2500")
    control("/_mock/preferences", {"AllowShipping": True})
    st, d = call("GET", "preferences")
    record("GET preferences after the control route: AllowShipping true",
           d.get("Preferences", {}).get("SalesFormsPrefs", {}).get("AllowShipping") is True,
           json.dumps(d)[:200])
    accepted("SHIPPING_ITEM_ID once AllowShipping is on", *inv(Line=[line(item), line(
        "SHIPPING_ITEM_ID", amount=5, price=5)]))
    control("/_mock/preferences", {"AllowShipping": False})
    # lengths
    refused("DisplayName of 501 characters", *create("Customer", {"DisplayName": "x" * 501}),
            code="2050")
    accepted("DisplayName of 500 characters", *create("Customer", {"DisplayName": "y" * 500}))
    refused("Item Name of 101 characters", *create("Item", {
        "Name": "n" * 101, "Type": "NonInventory", "IncomeAccountRef": {"value": "79"}}), code="2050")
    refused("Item Sku of 101 characters", *create("Item", {
        "Name": uniq("Sku"), "Sku": "s" * 101, "Type": "NonInventory",
        "IncomeAccountRef": {"value": "79"}}), code="2050")
    refused("DocNumber of 22 characters", *inv(DocNumber="D" * 22), code="2050")
    accepted("DocNumber of 21 characters", *inv(DocNumber="E" * 21))
    refused("PrivateNote of 4001 characters", *inv(PrivateNote="p" * 4001), code="2050")
    refused("CustomerMemo of 1001 characters", *inv(CustomerMemo={"value": "m" * 1001}),
            code="2050")
    refused("BillAddr.Line1 of 501 characters", *inv(BillAddr={"Line1": "l" * 501}), code="2050")
    refused("BillEmail of 101 characters", *inv(BillEmail={"Address": "a" * 90 + "@example.com"}),
            code="2050")
    # names and e-mail
    for what, ch in (("a colon", ":"), ("a tab", "\t"), ("a newline", "\n")):
        refused("DisplayName with " + what, *create("Customer", {
            "DisplayName": "Ann" + ch + uniq("B")}), code="2040")
    refused("Item Name with a colon", *create("Item", {
        "Name": "Parent:" + uniq("Child"), "Type": "NonInventory",
        "IncomeAccountRef": {"value": "79"}}), code="2040")
    refused("e-mail without @", *create("Customer", {
        "DisplayName": uniq("Mail"), "PrimaryEmailAddr": {"Address": "ann.example.com"}}), code="2040")
    refused("e-mail without a dot in the domain", *inv(BillEmail={"Address": "ann@localhost"}),
            code="2040")
    # items
    refused("a Service item without IncomeAccountRef", *create("Item", {
        "Name": uniq("Svc"), "Type": "Service"}), code="2020")
    refused("IncomeAccountRef to nothing", *create("Item", {
        "Name": uniq("Svc"), "Type": "Service", "IncomeAccountRef": {"value": "4242"}}), code="2500")
    # required fields
    st, d = create("Invoice", {"Line": [line(item)]})
    refused("an invoice without CustomerRef", st, d, code="2020")
    refused("a payment without TotalAmt", *create("Payment", {"CustomerRef": {"value": cust["Id"]}}),
            code="2020")
    accepted("a payment with CustomerRef and TotalAmt", *create("Payment", {
        "CustomerRef": {"value": cust["Id"]}, "TotalAmt": 5}))
    # lines
    refused("an invoice without lines", *inv(Line=[]), code="6000")
    refused("Amount != Qty x UnitPrice", *inv(Line=[line(item, qty=3, price=3.33, amount=10)]),
            code="6070")
    accepted("Amount == Qty x UnitPrice rounded to the cent",
             *inv(Line=[line(item, qty=3, price=3.333, amount=10)]))
    disc = {"DetailType": "DiscountLineDetail", "Amount": 1, "DiscountLineDetail": {}}
    refused("DiscountLineDetail without PercentBased", *inv(Line=[line(item), disc]), code="2020")
    disc["DiscountLineDetail"] = {"PercentBased": False}
    accepted("DiscountLineDetail with PercentBased", *inv(Line=[line(item), disc]))
    control("/_mock/preferences", {"AllowDiscount": False})
    refused("a discount line while discounts are off", *inv(Line=[line(item), disc]), code="6000")
    control("/_mock/preferences", {"AllowDiscount": True})
    # SyncToken
    st, d = call("POST", "customer", {"Id": cust["Id"], "SyncToken": cust["SyncToken"],
                                      "sparse": True, "Notes": "first"})
    accepted("a sparse update with the current SyncToken", st, d)
    refused("an update with a stale SyncToken", *call("POST", "customer", {
        "Id": cust["Id"], "SyncToken": cust["SyncToken"], "sparse": True, "Notes": "again"}),
        code="5010")
    # minorversion (stricter than Intuit on purpose: see the mock's header)
    refused("no minorversion", *call("GET", "companyinfo/" + REALM, query=""), code="4001")
    refused("minorversion 65", *call("GET", "companyinfo/" + REALM, query="minorversion=65"),
            code="4001")
    # query language
    q = lambda s: call("GET", "query", query="minorversion=75&query=" + urllib.request.quote(s))
    accepted("SELECT ... MAXRESULTS 1000", *q("SELECT * FROM Item STARTPOSITION 1 MAXRESULTS 1000"))
    refused("MAXRESULTS 1001", *q("SELECT * FROM Item MAXRESULTS 1001"), code="4000")
    refused("STARTPOSITION 0 (1-based)", *q("SELECT * FROM Item STARTPOSITION 0"), code="4000")
    refused("OR in WHERE", *q("SELECT * FROM Item WHERE Name = 'a' OR Name = 'b'"), code="4000")
    # batch
    cust_body = lambda i: {"bId": "b%d" % i, "operation": "create",
                           "Customer": {"DisplayName": uniq("Batch")}}
    refused("a batch of 31 items", *call("POST", "batch", {
        "BatchItemRequest": [cust_body(i) for i in range(31)]}), code="1040")
    accepted("a batch of 30 items", *call("POST", "batch", {
        "BatchItemRequest": [cust_body(i) for i in range(30)]}))
    refused("a batch requestid of 37 characters", *call("POST", "batch", {
        "BatchItemRequest": [cust_body(1)]}, query="minorversion=75&requestid=" + "r" * 37),
        code="2050")
    refused("a requestid of 51 characters", *call("GET", "companyinfo/" + REALM,
                                                  query="minorversion=75&requestid=" + "r" * 51),
            code="2050")
    refused("a bId of 11 characters with a batch requestid", *call("POST", "batch", {
        "BatchItemRequest": [dict(cust_body(1), bId="b" * 11)]},
        query="minorversion=75&requestid=short-rid-1"), code="2050")
    control("/_mock/config", {"batch_per_minute": 40})
    statuses = []
    for i in range(41):
        st, d = call("POST", "batch", {"BatchItemRequest": [
            {"bId": "q", "Query": "SELECT * FROM Item MAXRESULTS 1"}]})
        statuses.append(st)
    refused("the 41st batch within a minute", st, d, code="3001", want_status=429,
            ftype="SERVICE")
    record("... after 40 batches answered 200", statuses[:40] == [200] * 40, str(statuses))
    # 500 requests a minute per realm, batches included (a fresh window: config clears it)
    control("/_mock/config", {"per_minute": 500, "batch_per_minute": 40})
    statuses = [call("POST", "batch", {"BatchItemRequest": [
        {"bId": "q", "Query": "SELECT * FROM Item MAXRESULTS 1"}]})[0]]
    for i in range(499):
        statuses.append(call("GET", "companyinfo/" + REALM)[0])
    st, d = call("GET", "companyinfo/" + REALM)
    refused("the 501st request within a minute (a batch among the 500)", st, d, code="3001",
            want_status=429, ftype="SERVICE")
    record("... after 500 answered 200", statuses == [200] * 500,
           str(sorted(set(statuses))))
    # 10 requests at once per realm: 11 held open together (slow_ms keeps them in flight),
    # exactly one is refused
    control("/_mock/config", {"per_minute": 1000000, "slow_ms": 4000})
    import threading
    got = []
    lock = threading.Lock()

    def one():
        r = call("GET", "companyinfo/" + REALM)
        with lock:
            got.append(r)
    ts = [threading.Thread(target=one) for _ in range(11)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    control("/_mock/config", {"slow_ms": 0})
    codes = sorted(r[0] for r in got)
    record("11 requests at once: 10 answered, the 11th refused with 429", codes == [200] * 10 + [429],
           str(codes))
    over = [r for r in got if r[0] == 429] or [(0, {})]
    refused("... the refusal is Fault 3001", *over[0], code="3001", want_status=429,
            ftype="SERVICE")
    for name, ok, detail in RESULTS:
        print(("ok   %s" % name) if ok else ("FAIL %s: %s" % (name, detail)))


if __name__ == "__main__":
    main()
