#!/usr/bin/env python3
"""A WooCommerce REST client that signs on its own (RFC 5849, not the mocks' wc_auth.py nor the
engine's lib/oauth1.lua), sending what WooCommerce refuses and expecting WooCommerce's answer:
tests/integration/mock_strict_woocommerce.sh runs it against tests/mocks/woocommerce_mock.py
(plain listener, and the "behind a TLS proxy" one that plays HTTPS) and tests/mocks/saas_mock.py.

usage: wc_strict_client.py PLAIN_BASE PROXY_BASE SAAS_BASE   (key and secret in MOCK_WOO_KEY /
MOCK_WOO_SECRET). Prints one line per check, then "N passed, M failed"; exits 1 on a failure.
"""
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import quote

PLAIN, PROXY, SAAS = sys.argv[1:4]
KEY, SECRET = os.environ["MOCK_WOO_KEY"], os.environ["MOCK_WOO_SECRET"]
API = "/wp-json/wc/v3"
PASSED = FAILED = 0


def pct(s):
    return quote(str(s), safe="-._~")


def signed(method, url, query, key=KEY, secret=SECRET, sm="HMAC-SHA256", ts=None, nonce=None,
           drop=(), extra=None):
    """query + the oauth_* parameters, signed for url (which carries the scheme to sign with)."""
    p = dict(query)
    p.update({"oauth_consumer_key": key, "oauth_timestamp": str(int(ts if ts is not None else time.time())),
              "oauth_nonce": nonce or secrets.token_hex(16), "oauth_signature_method": sm})
    p.update(extra or {})
    pairs = sorted((pct(k), pct(v)) for k, v in p.items())
    base = "&".join((method, pct(url), pct("&".join("%s=%s" % kv for kv in pairs))))
    algo = hashlib.sha1 if sm == "HMAC-SHA1" else hashlib.sha256
    p["oauth_signature"] = base64.b64encode(hmac.new((pct(secret) + "&").encode(), base.encode(),
                                                     algo).digest()).decode()
    for d in drop:
        p.pop(d, None)
    return p


def call(method, base, path, query=None, headers=None, body=None):
    """-> (status, json or None, headers)"""
    qs = "&".join("%s=%s" % (pct(k), pct(v)) for k, v in (query or {}).items())
    url = base + path + ("?" + qs if qs else "")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            raw, status, h = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, h = e.read(), e.code, e.headers
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    return status, doc, h


def basic(key=KEY, secret=SECRET):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (key, secret)).encode()).decode()}


def check(what, got, want):
    global PASSED, FAILED
    if got == want:
        PASSED += 1
        print("ok   " + what)
    else:
        FAILED += 1
        print("FAIL " + what + "\n     | expected: %r\n     | actual:   %r" % (want, got))


def obj(doc):
    """doc when it is a JSON object, else {} (an answer that is a list has no error fields)."""
    return doc if isinstance(doc, dict) else {}


def refusal(what, answer, status, code, message=None):
    st, doc, _ = answer
    doc = obj(doc)
    got = (st, doc.get("code"))
    want = (status, code)
    if message is not None:
        got += (doc.get("message"),)
        want += (message,)
    check(what, got, want)


def get_orders(base, query=None, headers=None):
    return call("GET", base, API + "/orders", query, headers)


def oauth_get(base, path, sign_base=None, query=None, **kw):
    return call("GET", base, API + path, signed("GET", (sign_base or base) + API + path, query or {}, **kw))


CANNOT_LIST = ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
AUTH = "woocommerce_rest_authentication_error"

print("== Basic: honoured only where WordPress believes the request is HTTPS")
refusal("plain HTTP: a valid Basic header is ignored -> 401 cannot_view",
        get_orders(PLAIN, {"per_page": "1"}, basic()), 401, *CANNOT_LIST)
refusal("plain HTTP: a valid consumer_key/consumer_secret query pair is ignored",
        get_orders(PLAIN, {"per_page": "1", "consumer_key": KEY, "consumer_secret": SECRET}), 401, *CANNOT_LIST)
check("TLS proxy: a valid Basic header -> 200", get_orders(PROXY, {"per_page": "1"}, basic())[0], 200)
check("TLS proxy: a valid query pair -> 200",
      get_orders(PROXY, {"per_page": "1", "consumer_key": KEY, "consumer_secret": SECRET})[0], 200)
ans = get_orders(PROXY, {"per_page": "1"}, basic(secret="cs_wrong"))
refusal("TLS proxy: a known key with a wrong secret -> Consumer secret is invalid.", ans, 401, AUTH,
        "Consumer secret is invalid.")
check("... with the Basic challenge", "Basic realm=" in (ans[2].get("WWW-Authenticate") or ""), True)
refusal("TLS proxy: an unknown key is no credentials -> cannot_view",
        get_orders(PROXY, {"per_page": "1"}, basic(key="ck_unknown")), 401, *CANNOT_LIST)
refusal("nothing at all -> cannot_view", get_orders(PLAIN, {"per_page": "1"}), 401, *CANNOT_LIST)
refusal("unauthenticated GET of one order -> cannot view this resource",
        call("GET", PLAIN, API + "/orders/727"), 401, "woocommerce_rest_cannot_view",
        "Sorry, you cannot view this resource.")
refusal("unauthenticated PUT -> cannot_edit", call("PUT", PLAIN, API + "/products/794", body={"stock_quantity": 1}),
        401, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
refusal("unauthenticated POST -> cannot_create", call("POST", PLAIN, API + "/orders/727/notes", body={"note": "x"}),
        401, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")

print("== OAuth 1.0a as WordPress checks it")
check("HMAC-SHA256 in the query string, no oauth_version -> 200", oauth_get(PLAIN, "/orders")[0], 200)
check("HMAC-SHA1 -> 200", oauth_get(PLAIN, "/orders", sm="HMAC-SHA1")[0], 200)
check("oauth_version=1.0, signed like any parameter -> 200",
      oauth_get(PLAIN, "/orders", extra={"oauth_version": "1.0"})[0], 200)
p = signed("GET", PLAIN + API + "/customers", {"per_page": "5"})
hdr = "OAuth " + ", ".join('%s="%s"' % (k, pct(v)) for k, v in p.items() if k.startswith("oauth_"))
check("the Authorization: OAuth header form -> 200",
      call("GET", PLAIN, API + "/customers", {"per_page": "5"}, {"Authorization": hdr})[0], 200)
refusal("one parameter missing -> Missing OAuth parameter oauth_nonce",
        oauth_get(PLAIN, "/orders", drop=("oauth_nonce",)), 401,
        "woocommerce_rest_authentication_missing_parameter", "Missing OAuth parameter oauth_nonce")
refusal("two missing -> Missing OAuth parameters oauth_timestamp, oauth_nonce",
        oauth_get(PLAIN, "/orders", drop=("oauth_nonce", "oauth_timestamp")), 401,
        "woocommerce_rest_authentication_missing_parameter", "Missing OAuth parameters oauth_timestamp, oauth_nonce")
refusal("PLAINTEXT -> signature method is invalid", oauth_get(PLAIN, "/orders", sm="PLAINTEXT"), 401, AUTH,
        "Invalid signature - signature method is invalid.")
refusal("HMAC-SHA512 -> signature method is invalid", oauth_get(PLAIN, "/orders", sm="HMAC-SHA512"), 401, AUTH,
        "Invalid signature - signature method is invalid.")
refusal("an unknown consumer key -> Consumer key is invalid.", oauth_get(PLAIN, "/orders", key="ck_nobody"),
        401, AUTH, "Consumer key is invalid.")
refusal("a wrong secret -> provided signature does not match", oauth_get(PLAIN, "/orders", secret="cs_wrong"),
        401, AUTH, "Invalid signature - provided signature does not match.")
https_of = lambda base: "https://" + base.split("://", 1)[1]
refusal("plain listener, signed for https:// -> does not match (the scheme the server believes)",
        oauth_get(PLAIN, "/orders", sign_base=https_of(PLAIN)), 401, AUTH,
        "Invalid signature - provided signature does not match.")
refusal("TLS proxy, signed for http:// -> does not match", oauth_get(PROXY, "/orders"), 401, AUTH,
        "Invalid signature - provided signature does not match.")
check("TLS proxy, signed for https:// -> 200", oauth_get(PROXY, "/orders", sign_base=https_of(PROXY))[0], 200)
refusal("a signature over other parameters than sent -> does not match",
        call("GET", PLAIN, API + "/orders", dict(signed("GET", PLAIN + API + "/orders", {"page": "1"}), page="2")),
        401, AUTH, "Invalid signature - provided signature does not match.")
refusal("timestamp 16 min old -> Invalid timestamp.", oauth_get(PLAIN, "/orders", ts=time.time() - 960), 401,
        AUTH, "Invalid timestamp.")
refusal("timestamp 16 min ahead -> Invalid timestamp.", oauth_get(PLAIN, "/orders", ts=time.time() + 960), 401,
        AUTH, "Invalid timestamp.")
refusal("a timestamp that is not a number -> Invalid timestamp.",
        oauth_get(PLAIN, "/orders", extra={"oauth_timestamp": "soon"}), 401, AUTH, "Invalid timestamp.")
check("timestamp 14 min old -> 200", oauth_get(PLAIN, "/orders", ts=time.time() - 840)[0], 200)
nonce = secrets.token_hex(16)
check("a nonce, first use -> 200", oauth_get(PLAIN, "/orders", nonce=nonce)[0], 200)
refusal("the same nonce again (a new signature) -> nonce has already been used",
        oauth_get(PLAIN, "/orders", nonce=nonce), 401, AUTH, "Invalid nonce - nonce has already been used.")
OTHER_KEY, OTHER_SECRET = "ck_" + secrets.token_hex(8), "cs_" + secrets.token_hex(8)
call("POST", PLAIN, "/_mock/keys", body={"consumer_key": OTHER_KEY, "consumer_secret": OTHER_SECRET,
                                         "permissions": "read_write"})
check("... but it is per key: another key may use it -> 200",
      oauth_get(PLAIN, "/orders", key=OTHER_KEY, secret=OTHER_SECRET, nonce=nonce)[0], 200)

print("== key permissions")
RO, WO = ("ck_ro" + secrets.token_hex(6), "cs_ro" + secrets.token_hex(6)), ("ck_wo" + secrets.token_hex(6), "cs_wo" + secrets.token_hex(6))
call("POST", PLAIN, "/_mock/keys", body={"consumer_key": RO[0], "consumer_secret": RO[1], "permissions": "read"})
call("POST", PLAIN, "/_mock/keys", body={"consumer_key": WO[0], "consumer_secret": WO[1], "permissions": "write"})
check("a read key reads -> 200", oauth_get(PLAIN, "/orders", key=RO[0], secret=RO[1])[0], 200)
url = PLAIN + API + "/products/794"
refusal("a read key writes -> does not have write permissions",
        call("PUT", PLAIN, API + "/products/794", signed("PUT", url, {}, key=RO[0], secret=RO[1]), body={"stock_quantity": 3}),
        401, AUTH, "The API key provided does not have write permissions.")
refusal("a write key reads -> does not have read permissions", oauth_get(PLAIN, "/orders", key=WO[0], secret=WO[1]),
        401, AUTH, "The API key provided does not have read permissions.")
check("a write key writes -> 200",
      call("PUT", PLAIN, API + "/products/794", signed("PUT", url, {}, key=WO[0], secret=WO[1]), body={"stock_quantity": 3})[0], 200)
refusal("over Basic too: a read key's PUT on the TLS proxy",
        call("PUT", PROXY, API + "/products/794", None, basic(*RO), body={"stock_quantity": 4}), 401, AUTH,
        "The API key provided does not have write permissions.")

print("== query parameters, validated as WordPress does")


def bad_param(what, query, param, reason, unsigned=False):
    """GET /orders on the plain listener, signed (or not), expecting 400 naming param."""
    st, doc, _ = get_orders(PLAIN, query) if unsigned else oauth_get(PLAIN, "/orders", query=query)
    doc = obj(doc)
    check(what, (st, doc.get("code"), ((doc.get("data") or {}).get("params") or {}).get(param)),
          (400, "rest_invalid_param", reason))


bad_param("per_page=0", {"per_page": "0"}, "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
bad_param("per_page=101", {"per_page": "101"}, "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
bad_param("per_page=ten", {"per_page": "ten"}, "per_page", "per_page is not of type integer.")
bad_param("page=0", {"page": "0"}, "page", "page must be greater than or equal to 1")
bad_param("order=up", {"order": "up"}, "order", "order is not one of asc and desc.")
bad_param("orderby=price", {"orderby": "price"}, "orderby",
          "orderby is not one of date, id, include, title, slug, and modified.")
bad_param("status=shipped", {"status": "processing,shipped"}, "status",
          "status[1] is not one of any, trash, pending, processing, on-hold, completed, cancelled, refunded, failed, and checkout-draft.")
bad_param("include=1,x", {"include": "1,x"}, "include", "include[1] is not of type integer.")
bad_param("modified_after=yesterday", {"modified_after": "yesterday"}, "modified_after", "Invalid date.")
bad_param("dates_are_gmt=yes", {"dates_are_gmt": "yes"}, "dates_are_gmt", "dates_are_gmt is not of type boolean.")
bad_param("unauthenticated per_page=101: the 400 comes before the 401", {"per_page": "101"}, "per_page",
          "per_page must be between 1 (inclusive) and 100 (inclusive)", unsigned=True)
st, doc, _ = oauth_get(PLAIN, "/orders", query={"page": "0", "per_page": "500"})
check("two bad parameters in one answer", (st, obj(doc).get("message"), sorted((obj(doc).get("data") or {}).get("params", {}))),
      (400, "Invalid parameter(s): page, per_page", ["page", "per_page"]))
st, doc, h = oauth_get(PLAIN, "/orders", query={"page": "999", "per_page": "100"})
check("past the last page: 200 [] with the totals", (st, doc, h.get("X-WP-TotalPages") is not None), (200, [], True))
st, doc, _ = oauth_get(PLAIN, "/webhooks", query={"status": "broken"})
check("webhooks: status=broken", (st, (obj(doc).get("data") or {}).get("params", {}).get("status")),
      (400, "status is not one of all, active, paused, and disabled."))

print("== JSON bodies of the writes the engine makes")


def bad_body(what, method, path, body, param, reason):
    st, doc, _ = call(method, PROXY, API + path, None, basic(), body=body)
    check(what, (st, obj(doc).get("code"), (obj(doc).get("data") or {}).get("params", {}).get(param)),
          (400, "rest_invalid_param", reason))


bad_body("stock_quantity 2.5", "PUT", "/products/794", {"stock_quantity": 2.5}, "stock_quantity",
         "stock_quantity is not of type integer.")
bad_body("manage_stock 'yes'", "PUT", "/products/794", {"manage_stock": "yes"}, "manage_stock",
         "manage_stock is not of type boolean.")
bad_body("meta_data not a list", "PUT", "/orders/727", {"meta_data": {"key": "a"}}, "meta_data",
         "meta_data is not of type array.")
bad_body("customer_note 'maybe'", "POST", "/orders/727/notes", {"note": "x", "customer_note": "maybe"},
         "customer_note", "customer_note is not of type boolean.")
st, doc, _ = call("POST", PROXY, API + "/orders/727/notes", None, basic(), body={"customer_note": True})
check("a note without note -> Missing parameter(s): note",
      (st, obj(doc).get("code"), obj(doc).get("message")), (400, "rest_missing_callback_param", "Missing parameter(s): note"))
check("stock_quantity '7' (a numeric string, as WordPress accepts) -> 200",
      call("PUT", PROXY, API + "/products/794", None, basic(), body={"stock_quantity": "7"})[0], 200)

print("== saas_mock (plain HTTP): the same rules on /system_status")
refusal("Basic over plain HTTP -> cannot_view", call("GET", SAAS, API + "/system_status", None, basic()), 401, *CANNOT_LIST)
check("OAuth 1.0a -> 200", oauth_get(SAAS, "/system_status")[0], 200)
check("OAuth 1.0a, a store in a sub-folder -> 200",
      call("GET", SAAS, "/shop" + API + "/system_status", signed("GET", SAAS + "/shop" + API + "/system_status", {}))[0], 200)
refusal("a wrong secret -> does not match", oauth_get(SAAS, "/system_status", secret="cs_wrong"), 401, AUTH,
        "Invalid signature - provided signature does not match.")
nonce = secrets.token_hex(16)
oauth_get(SAAS, "/system_status", nonce=nonce)
refusal("a reused nonce", oauth_get(SAAS, "/system_status", nonce=nonce), 401, AUTH,
        "Invalid nonce - nonce has already been used.")

print("%d passed, %d failed" % (PASSED, FAILED))
sys.exit(1 if FAILED else 0)
