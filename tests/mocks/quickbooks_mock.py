#!/usr/bin/env python3
"""QuickBooks Online Accounting API v3 and Intuit's token endpoint, as a local mock (stdlib only).

Usage: quickbooks_mock.py [--client-id ID --client-secret SECRET] [--realm-id R]
                          [--per-minute 500] [--batch-per-minute 40] [--concurrent 10]
                          [--retry-after 1] [--access-ttl 3600] [--refresh-ttl 8726400]
                          [--refresh-grace 86400 | --strict-rotation]
                          [--allow-shipping] [--country US]
Listens on 127.0.0.1 on a free port and prints, one per line, then flushes:
    port=PORT
    ready

API (behaving like Intuit's, tests/fixtures/reference/external-apis.md section 3):
    every /v3/company/{realm}/... call needs `Authorization: Bearer <token issued here>` (unknown or
        expired: 401 with the gateway's lower-case fault shape, code "3200", AuthenticationFailed,
        and WWW-Authenticate: Bearer realm="Intuit", error="invalid_token"), and minorversion=75
        (stricter than Intuit on purpose: Intuit treats a missing one, and 1-74, as 75 (3.2), so a
        connector that forgets it would work today and change behaviour with Intuit's next
        default; here a missing or other value -> 400 Fault 4001); an unknown realm -> 403
        Fault 100.
    POST {entity}            create (no Id) or update (Id + SyncToken; "sparse": true merges the
                             given fields, a full update drops every omitted field). A stale
                             SyncToken -> 400 Fault 5010; an unknown Id -> 400 Fault 610; a
                             DisplayName used by another Customer/Vendor/Employee, or an Item Name
                             in use -> 400 Fault 6240. Every body is checked as Intuit does
                             (qbo_rules.py): each reference (CustomerRef, ItemRef, *AccountRef,
                             TaxCodeRef, ClassRef, SalesTermRef, ...) must exist (2500) and be
                             active (610); ItemRef SHIPPING_ITEM_ID only with AllowShipping,
                             GRATUITY_ITEM_ID only with AllowGratuity; TaxCodeRef TAX / NON only
                             in a US company; lengths (DisplayName 500, Item Name / Sku 100,
                             DocNumber 21, PrivateNote 4000, CustomerMemo 1000, address lines
                             500, e-mail 100: 2050); ':' tab newline in names (2040); e-mail
                             shape (2040); sales documents need >= 1 Line (6000), Amount = Qty x
                             UnitPrice at the currency's decimals (6070), DiscountLineDetail
                             with PercentBased and AllowDiscount on (2020 / 6000).
                             Answers {"<Entity>": {...}, "time": ...}.
    GET  {entity}/{id}       read by id (610 when missing)
    GET  query?query=...     (or POST with Content-Type application/text) SELECT * | count(*) FROM E
                             [WHERE a op v AND ...] [ORDERBY f [ASC|DESC]] [STARTPOSITION n]
                             [MAXRESULTS n]; ops = < > <= >= LIKE IN; strings in single quotes with
                             backslash escapes; no OR (-> 400 Fault 4000 QueryParserError). A
                             compared object ({"Address": ..} / {"value": ..}) compares its
                             Address / value; ISO date-times compare as instants.
    POST batch               {"BatchItemRequest": [...]} at most 30 items; items run in a shuffled
                             order and the answers come back in that order (match them by bId);
                             each item may carry a Fault; HTTP 200. References are checked
                             against the company as it was before the batch (an item cannot use
                             what another item of the same batch creates).
    requestid=...            on any request: the same requestid (per realm) answers the first
                             response again without executing (max 50 chars, 36 on batch, where
                             each bId is then at most 10 chars -> 400 Fault).
    throttling               more than --per-minute calls in window_s (60) s, more than
                             --batch-per-minute (40) batch calls in that window (batches also
                             count in per_minute), or more than --concurrent at once for a realm
                             -> 429 with Retry-After: --retry-after and a Fault 3001.
    GET  companyinfo/{realm} CompanyInfo (for test(ctx)), with Country.
    GET  preferences         {"Preferences": {"SalesFormsPrefs": {"AllowShipping", "AllowDiscount",
                             ...}, "TaxPrefs", "CurrencyPrefs", ...}} in Intuit's shape.
Token endpoint: POST /oauth2/v1/tokens/bearer (form, Basic client auth), grant_type=refresh_token
    rotates: a new access and refresh token each time; the used refresh token keeps working for
    --refresh-grace seconds (Intuit: ~24 h; 0 with --strict-rotation or config refresh_grace_s 0:
    it dies at once, so a second refresh with it fails); a refresh token also expires
    (--refresh-ttl, x_refresh_token_expires_in: 8726400 s as Intuit's). Unknown, used (past the
    grace) or expired refresh token -> 400 invalid_grant. config token_delay_ms holds each grant
    that long first; a client that hung up meanwhile gets nothing issued (abandoned_grants).
Test control (no auth):
    POST /_mock/reset                      forget entities, requestids, faults, counters; the
                                           company's preferences back to the command line's
    POST /_mock/preferences {"AllowShipping": bool, "AllowDiscount": bool, "AllowGratuity": bool,
                        "Country": "US"}   change the company's settings
    POST /_mock/tokens {"expires_in": s, "refresh_expires_in": s}   mint an access + refresh pair
    POST /_mock/expire {"access_token": t} make that access token expired
    POST /_mock/seed {"Customer": [...], ...}   add objects (Id/SyncToken/MetaData filled in
                                           when absent); answers {"ids": {...}}
    POST /_mock/faults {"kind": "500"|"503"|"429"|"delay"|"drop"|"drop_after"|"401"|"fault200",
                        "count": N, "ms": M, "path": substring?, "entity": name?, "skip": K}
                        the next N API calls (whose path contains `path`, that create or update
                        an `entity` when one is named, after K of them passed) get it: delay
                        sleeps M ms then serves; drop closes without an answer; drop_after
                        executes then closes; fault200 answers HTTP 200 with a Fault body;
                        "expire" expires the access token presented (then 401, like a token
                        that ran out mid-run). Also kind "401".
    POST /_mock/config {"per_minute": n, "concurrent": n, "retry_after": s, "slow_ms": m,
                        "item_ms": m (a batch also sleeps m ms per item, as a document each),
                        "batch_per_minute": n, "window_s": s, "refresh_grace_s": s,
                        "refresh_ttl": s, "token_delay_ms": m, "reset_counters": true?}
                        (the throttling windows start afresh; reset_counters zeroes calls,
                        batch_calls, max_inflight, busy_s, batch_busy_s and throttled)
    POST /_mock/wait {"name": n, "timeout_s": 30}   block until /_mock/release names n: a barrier
                        a script under test can reach (answers {"released": bool})
    POST /_mock/release {"name": n}        open barrier n (now and for later waiters)
    GET  /_mock/waiting                    {name: requests waiting at it}
    GET  /_mock/state  {"entities": {E: [...]}, "counts": {E: n}, "requests": [...last 500
                        {method, path, status, requestid, t, done (epoch s), items (of a batch)}],
                        "requestids": n, "token_calls": n,
                        "refresh_tokens": [...oldest first], "access_tokens": [...], "throttled": n,
                        "calls": API calls admitted (past the limits), "batch_calls": n of them
                        batches, "max_inflight": most admitted at once, "busy_s" / "batch_busy_s":
                        seconds spent serving them (summed over calls), "first_call" /
                        "last_call": epoch seconds (bench/backfill_bench.sh),
                        "refresh_grants": n (refresh grants answered 200), "invalid_grants": n,
                        "abandoned_grants": n}
Requests, headers and bodies are never logged.
"""
import argparse
import base64
import datetime
import json
import random
import re
import secrets
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def touched_entities(rest, raw):
    """The entities a call creates or updates: its batch items' ones, or its path's."""
    try:
        items = json.loads(raw or b"{}").get("BatchItemRequest")
    except (ValueError, AttributeError):
        items = None
    if isinstance(items, list):
        return {k for it in items if isinstance(it, dict) for k in it
                if k not in ("bId", "operation", "optionsData")}
    return {rest.split("/")[0].capitalize()}


def batch_items(raw):
    """Items of a batch request body (0 when it is not one)."""
    try:
        items = json.loads(raw or b"{}").get("BatchItemRequest")
    except (ValueError, AttributeError):
        return 0
    return len(items) if isinstance(items, list) else 0
from urllib.parse import parse_qs, quote, unquote, urlsplit

import qbo_rules

ENTITIES = ["Customer", "Vendor", "Employee", "Item", "Invoice", "SalesReceipt", "Payment",
            "CreditMemo", "RefundReceipt", "Account", "TaxCode", "TaxRate", "Class", "Term",
            "PaymentMethod", "Department"]

# A new QuickBooks Online (US) company's default accounts that the mappings look up by name
# (Intuit creates these with every company; ids as in a fresh sandbox company).
DEFAULT_ACCOUNTS = [
    {"Id": "4", "Name": "Undeposited Funds", "AccountType": "Other Current Asset",
     "AccountSubType": "UndepositedFunds", "Classification": "Asset"},
    {"Id": "35", "Name": "Checking", "AccountType": "Bank", "AccountSubType": "Checking",
     "Classification": "Asset"},
    {"Id": "79", "Name": "Sales of Product Income", "AccountType": "Income",
     "AccountSubType": "SalesOfProductIncome", "Classification": "Revenue"},
    {"Id": "1", "Name": "Services", "AccountType": "Income",
     "AccountSubType": "ServiceFeeIncome", "Classification": "Revenue"},
    {"Id": "80", "Name": "Cost of Goods Sold", "AccountType": "Cost of Goods Sold",
     "AccountSubType": "SuppliesMaterialsCogs", "Classification": "Expense"},
    {"Id": "81", "Name": "Inventory Asset", "AccountType": "Other Current Asset",
     "AccountSubType": "Inventory", "Classification": "Asset"},
]
BY_LOWER = {e.lower(): e for e in ENTITIES}
NAME_SHARED = ("Customer", "Vendor", "Employee")

LOCK = threading.Lock()
ARGS = None
S = {}
BARRIERS = {}  # name -> {"event": threading.Event, "waiting": n} (/_mock/wait, /_mock/release)


def reset():
    S.clear()
    S.update({
        "entities": {e: {} for e in ENTITIES},
        "next_id": 100,
        "requestids": {},
        "faults": [],
        "hits": [],
        "inflight": 0,
        "throttled": 0,
        "requests": [],
        "token_calls": 0,
        "batch_hits": [],
        "refresh_grants": 0,
        "invalid_grants": 0,
        "abandoned_grants": 0,
        "calls": 0, "batch_calls": 0, "max_inflight": 0, "busy_s": 0.0, "batch_busy_s": 0.0,
        "first_call": 0, "last_call": 0,
        "config": {"per_minute": ARGS.per_minute, "concurrent": ARGS.concurrent,
                   "retry_after": ARGS.retry_after, "slow_ms": 0, "item_ms": 0,
                   "batch_per_minute": ARGS.batch_per_minute, "window_s": 60,
                   "refresh_grace_s": 0 if ARGS.strict_rotation else ARGS.refresh_grace,
                   "refresh_ttl": ARGS.refresh_ttl, "token_delay_ms": 0},
    })
    # the company's sales-form preferences and country (GET preferences, companyinfo); a new
    # QuickBooks company has shipping off (Account and settings > Sales > Shipping)
    S["company"] = {"SalesFormsPrefs": {"AllowShipping": ARGS.allow_shipping,
                                        "AllowDiscount": True, "AllowGratuity": False},
                    "Country": ARGS.country}
    S.setdefault("access", {})
    S.setdefault("refresh", {})
    for a in DEFAULT_ACCOUNTS:
        save("Account", dict(a, Active=True, FullyQualifiedName=a["Name"]), seed=True)


def now_iso():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (t.microsecond // 1000) + "+00:00"


def fault(code, message, detail="", ftype="ValidationFault", element=""):
    return {"Fault": {"Error": [{"Message": message, "Detail": detail, "code": str(code),
                                 "element": element}], "type": ftype}, "time": now_iso()}


CODES = {}  # authorization code -> (redirect_uri, expiry): GET /connect/oauth2 issues them


def new_tokens(expires_in=3600, refresh_expires_in=None):
    """Mint a pair. A refresh token record: {"expires": t, "superseded": t | None}."""
    at = "mockAT_" + secrets.token_urlsafe(32)
    rt = "mockRT_" + secrets.token_urlsafe(24)
    with LOCK:
        if refresh_expires_in is None:
            refresh_expires_in = S["config"]["refresh_ttl"]
        S["access"][at] = time.time() + expires_in
        S["refresh"][rt] = {"expires": time.time() + refresh_expires_in, "superseded": None}
    return at, rt


def refresh_valid(rec, now):
    """Intuit: a refresh token works until it expires, and a used one only refresh_grace_s more
    (about 24 h at Intuit; 0 = it dies as soon as its successor is issued)."""
    if not isinstance(rec, dict) or rec["expires"] <= now:
        return False
    return rec["superseded"] is None or now < rec["superseded"] + S["config"]["refresh_grace_s"]


class QError(Exception):
    def __init__(self, status, body):
        Exception.__init__(self)
        self.status, self.body = status, body


# ---------------- query language ----------------

def parse_value(s):
    s = s.strip()
    if s.startswith("'"):
        out, i = [], 1
        while i < len(s):
            c = s[i]
            if c == "\\" and i + 1 < len(s):
                out.append(s[i + 1])
                i += 2
                continue
            if c == "'":
                if s[i + 1:].strip():
                    raise ValueError("text after a string")
                return "".join(out)
            out.append(c)
            i += 1
        raise ValueError("unterminated string")
    if s.startswith("("):
        return [parse_value(p) for p in split_top(s.strip()[1:-1], ",")]
    if s.lower() in ("true", "false"):
        return s.lower() == "true"
    return float(s)


def split_top(s, sep_re):
    """Split s on sep_re (a regex) outside single-quoted strings."""
    parts, cur, i, q = [], [], 0, False
    pat = re.compile(sep_re, re.I)
    while i < len(s):
        c = s[i]
        if q:
            cur.append(c)
            if c == "\\" and i + 1 < len(s):
                cur.append(s[i + 1])
                i += 2
                continue
            if c == "'":
                q = False
            i += 1
            continue
        if c == "'":
            q = True
            cur.append(c)
            i += 1
            continue
        m = pat.match(s, i)
        if m and m.end() > i:
            parts.append("".join(cur))
            cur = []
            i = m.end()
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def scan_keywords(s):
    """s with every single-quoted string blanked, for keyword searches."""
    return re.sub(r"'(?:\\.|[^'\\])*'", lambda m: "'" + "_" * (len(m.group(0)) - 2) + "'", s)


def field(obj, path):
    v = obj
    for p in path.split("."):
        if not isinstance(v, dict) or p not in v:
            return None
        v = v[p]
    if isinstance(v, dict):
        v = v.get("Address", v.get("value", v.get("FreeFormNumber")))
    return v


def as_time(v):
    if not isinstance(v, str) or not re.match(r"^\d{4}-\d\d-\d\dT", v):
        return None
    try:
        t = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t


def compare(a, op, b):
    if a is None:
        return False
    if op == "IN":
        return any(compare(a, "=", x) for x in b)
    if op == "LIKE":
        rx = "^" + ".*".join(re.escape(p) for p in str(b).split("%")) + "$"
        return re.match(rx, str(a), re.I | re.S) is not None
    ta, tb = as_time(a), as_time(b)
    if ta is not None and tb is not None:
        a, b = ta, tb
    elif isinstance(b, float):
        try:
            a = float(a)
        except (TypeError, ValueError):
            return False
    elif isinstance(b, bool):
        pass
    else:
        a, b = str(a), str(b)
        if op == "=":
            return a.lower() == b.lower()  # QBO compares names case-insensitively
    return {"=": a == b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def qerr(msg):
    return QError(400, fault(4000, "Error parsing query", "QueryParserError: " + msg))


def run_query(text, snapshot=None):
    t = text.strip().rstrip(";")
    blank = scan_keywords(t)
    m = re.match(r"^\s*select\s+(\*|count\(\*\))\s+from\s+(\w+)\s*", blank, re.I)
    if not m:
        raise qerr("expected SELECT * | count(*) FROM Entity")
    count_only = m.group(1) != "*"
    ent = m.group(2)
    if ent not in S["entities"]:
        raise qerr("unknown entity " + ent)  # (names are case-sensitive)
    rest, brest = t[m.end():], blank[m.end():]
    start, maxr, order = 1, 100, None
    for kw in ("maxresults", "startposition"):
        mm = re.search(r"\s*\b" + kw + r"\s+(\d+)\s*$", brest, re.I)
        if mm:
            n = int(mm.group(1))
            if kw == "maxresults":
                maxr = n
            else:
                start = n
            rest, brest = rest[:mm.start()], brest[:mm.start()]
    for kw in ("maxresults", "startposition"):  # either order
        mm = re.search(r"\s*\b" + kw + r"\s+(\d+)\s*$", brest, re.I)
        if mm:
            n = int(mm.group(1))
            if kw == "maxresults":
                maxr = n
            else:
                start = n
            rest, brest = rest[:mm.start()], brest[:mm.start()]
    mm = re.search(r"\s*\border\s*by\s+([\w.]+)(\s+(asc|desc))?\s*$", brest, re.I)
    if mm:
        order = (mm.group(1), (mm.group(3) or "asc").lower() == "desc")
        rest, brest = rest[:mm.start()], brest[:mm.start()]
    conds = []
    if brest.strip():
        mw = re.match(r"^\s*where\s+", brest, re.I)
        if not mw:
            raise qerr("unexpected text")
        cond_text = rest[mw.end():]
        if re.search(r"\bor\b", scan_keywords(cond_text), re.I):
            raise qerr("OR is not supported")
        for c in split_top(cond_text, r"\s+and\s+"):
            mc = re.match(r"^\s*([\w.]+)\s*(<=|>=|=|<|>|\blike\b|\bin\b)\s*(.+?)\s*$", c,
                          re.I | re.S)
            if not mc:
                raise qerr("bad condition")
            try:
                conds.append((mc.group(1), mc.group(2).upper(), parse_value(mc.group(3))))
            except ValueError as e:
                raise qerr(str(e))
    if start < 1 or maxr < 1 or maxr > 1000:
        raise qerr("STARTPOSITION from 1, MAXRESULTS 1..1000")
    objs = list((snapshot or S["entities"])[ent].values())
    rows = [o for o in objs if all(compare(field(o, f), op, v) for f, op, v in conds)]
    if order:
        rows.sort(key=lambda o: (field(o, order[0]) is None, str(field(o, order[0]))),
                  reverse=order[1])
    else:
        rows.sort(key=lambda o: int(o["Id"]))
    if count_only:
        return {"QueryResponse": {"totalCount": len(rows)}, "time": now_iso()}
    page = rows[start - 1:start - 1 + maxr]
    qr = {}
    if page:
        qr[ent] = page
        qr["startPosition"] = start
        qr["maxResults"] = len(page)
    return {"QueryResponse": qr, "time": now_iso()}


# ---------------- entities ----------------

def display_name_taken(ent, obj, exclude_id=None):
    if ent in NAME_SHARED:
        name = obj.get("DisplayName")
        if name is None:
            return False
        for e in NAME_SHARED:
            for o in S["entities"][e].values():
                if o.get("DisplayName", "").lower() == name.lower() and not (
                        e == ent and o["Id"] == exclude_id):
                    return True
    if ent == "Item" and obj.get("Name") is not None:
        for o in S["entities"]["Item"].values():
            if o.get("Name", "").lower() == obj["Name"].lower() and o["Id"] != exclude_id:
                return True
    return False


def dup_fault():
    return QError(400, fault(6240, "Duplicate Name Exists Error",
                             "The name supplied already exists. : Another customer, vendor or "
                             "employee is already using this \nname. Please use a different name."))


def check_rules(ent, body, snapshot):
    """What Intuit refuses in a body (qbo_rules.py), as a 400 Fault."""
    try:
        qbo_rules.check(ent, body, snapshot, S["company"])
    except qbo_rules.Refusal as r:
        raise QError(400, fault(r.code, r.message, r.detail, element=r.element))


def stamp(obj, create):
    t = now_iso()
    md = obj.get("MetaData") if isinstance(obj.get("MetaData"), dict) else {}
    if create:
        md = {"CreateTime": md.get("CreateTime", t), "LastUpdatedTime": md.get("LastUpdatedTime", t)}
    else:
        md = {"CreateTime": md.get("CreateTime", t), "LastUpdatedTime": t}
    obj["MetaData"] = md


def save(ent, body, snapshot=None, seed=False):
    """Create or update; answers the stored object or raises QError."""
    if not isinstance(body, dict):
        raise QError(400, fault(2020, "Required param missing, need to supply the required value",
                                "a JSON object is required"))
    store = S["entities"][ent]
    if "Id" in body and not seed:
        oid = str(body["Id"])
        cur = store.get(oid)
        if cur is None:
            raise QError(400, fault(610, "Object Not Found",
                                    "Object Not Found : Something you're trying to use has been "
                                    "made inactive. Check the fields with accounts, customers, "
                                    "items, vendors or employees."))
        if str(body.get("SyncToken")) != cur["SyncToken"]:
            raise QError(400, fault(5010, "Stale Object Error",
                                    "Stale Object Error : You and root were working on this at "
                                    "the same time. root finished before you did, so your work "
                                    "was not saved."))
        if display_name_taken(ent, body, exclude_id=oid):
            raise dup_fault()
        check_rules(ent, body, snapshot or S["entities"])
        if body.get("sparse") is True:
            new = dict(cur)
            new.update({k: v for k, v in body.items() if k not in ("sparse", "SyncToken")})
        else:  # a full update drops every field not sent
            new = {k: v for k, v in body.items() if k != "SyncToken"}
            new["MetaData"] = cur.get("MetaData")
        new["Id"] = oid
        qbo_rules.computed(ent, new)
        new["SyncToken"] = str(int(cur["SyncToken"]) + 1)
        new["sparse"] = False
        new["domain"] = "QBO"
        stamp(new, False)
        store[oid] = new
        return new
    if display_name_taken(ent, body):
        raise dup_fault()
    if not seed:
        check_rules(ent, body, snapshot or S["entities"])
    obj = dict(body)
    if "Id" not in obj:
        S["next_id"] += 1
        obj["Id"] = str(S["next_id"])
    obj["Id"] = str(obj["Id"])
    obj["SyncToken"] = str(obj.get("SyncToken", "0"))
    if not seed:
        qbo_rules.computed(ent, obj)
    obj.setdefault("domain", "QBO")
    obj["sparse"] = False
    if ent in NAME_SHARED:
        obj.setdefault("Active", True)
        if obj.get("DisplayName"):
            obj.setdefault("FullyQualifiedName", obj["DisplayName"])
    stamp(obj, True)
    store[obj["Id"]] = obj
    return obj


def snapshot_now():
    return {e: dict(v) for e, v in S["entities"].items()}


# ---------------- HTTP ----------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qbo-mock/1"

    def log_message(self, fmt, *args):  # never log requests (they carry tokens)
        pass

    def send(self, status, obj, headers=None, ctype="application/json;charset=UTF-8"):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("intuit_tid", "mock-" + secrets.token_hex(8))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        u = urlsplit(self.path)
        raw = self.body()
        q = parse_qs(u.query, keep_blank_values=True)
        if u.path.startswith("/_mock/"):
            return self.control(method, u.path, raw)
        if u.path == "/oauth2/v1/tokens/bearer" and method == "POST":
            return self.token(raw)
        if u.path == "/connect/oauth2" and method == "GET":
            return self.authorize(q)
        m = re.match(r"^/v3/company/([^/]+)/(.+)$", u.path)
        if not m:
            return self.send(404, fault(404, "Not found", "no such route", "SystemFault"))
        realm, rest = unquote(m.group(1)), m.group(2)
        rid = (q.get("requestid") or [None])[0]
        entry = {"method": method, "path": rest, "requestid": rid, "status": None,
                 "t": time.time(), "items": batch_items(raw) if rest == "batch" else 0}
        with LOCK:
            S["requests"].append(entry)
            del S["requests"][:-500]
        status, obj, headers, after = self.api(method, realm, rest, q, raw, rid)
        entry["status"], entry["done"] = status, time.time()
        if after == "drop":
            return self.drop()
        self.send(status, obj, headers)

    def api(self, method, realm, rest, q, raw, rid):
        """-> status, body, headers, after ("drop" or None)"""
        # faults first: they stand for the network and Intuit's front end
        fk = None
        with LOCK:
            for f in S["faults"]:
                if f["count"] > 0 and f.get("path", "") in rest and \
                        (not f.get("entity") or f["entity"] in touched_entities(rest, raw)):
                    if f.get("skip", 0) > 0:
                        f["skip"] -= 1
                        continue
                    f["count"] -= 1
                    fk = dict(f)
                    break
            S["faults"] = [f for f in S["faults"] if f["count"] > 0]
        after = None
        if fk:
            k = fk["kind"]
            if k == "delay":
                time.sleep(fk.get("ms", 1000) / 1000.0)
            elif k == "drop":
                return None, None, None, "drop"
            elif k == "drop_after":
                after = "drop"
            elif k in ("500", "503"):
                return int(k), fault(10000, "An application error has occurred while "
                                     "processing your request", "System Failure Error",
                                     "SystemFault"), None, None
            elif k == "429":
                return 429, self.throttle_body(), {
                    "Retry-After": str(S["config"]["retry_after"])}, None
            elif k == "401":
                return self.auth_fail()
            elif k == "expire":
                auth = self.headers.get("Authorization") or ""
                with LOCK:
                    if auth.startswith("Bearer ") and auth[7:].strip() in S["access"]:
                        S["access"][auth[7:].strip()] = 0
                return self.auth_fail()
            elif k == "fault200":
                return 200, fault(6000, "A business validation error has occurred while "
                                  "processing your request", "Business Validation Error: "
                                  "injected"), None, None
        auth = self.headers.get("Authorization") or ""
        tok = auth[7:].strip() if auth.startswith("Bearer ") else None
        with LOCK:
            exp = S["access"].get(tok) if tok else None
        if exp is None or exp <= time.time():
            return self.auth_fail()
        if realm != ARGS.realm_id:
            return 403, fault(100, "General Authentication Error",
                              "the token does not belong to this company",
                              "AuthenticationFault"), None, None
        mv = (q.get("minorversion") or [None])[0]
        if mv != "75":
            return 400, fault(4001, "Invalid minorversion",
                              "minorversion=75 is required by this mock (got %s)" % mv), None, None
        # throttling per realm
        cfg = S["config"]
        nowt = time.time()
        is_batch = rest == "batch"
        with LOCK:
            win = cfg["window_s"]
            S["hits"] = [h for h in S["hits"] if h > nowt - win]
            S["batch_hits"] = [h for h in S["batch_hits"] if h > nowt - win]
            if (len(S["hits"]) >= cfg["per_minute"] or S["inflight"] >= cfg["concurrent"] or
                    (is_batch and len(S["batch_hits"]) >= cfg["batch_per_minute"])):
                S["throttled"] += 1
                if is_batch:
                    S["batch_throttled"] = S.get("batch_throttled", 0) + 1
                return 429, self.throttle_body(), {"Retry-After": str(cfg["retry_after"])}, None
            S["hits"].append(nowt)
            if is_batch:
                S["batch_hits"].append(nowt)
            S["inflight"] += 1
            S["calls"] += 1
            S["batch_calls"] += 1 if is_batch else 0
            S["max_inflight"] = max(S["max_inflight"], S["inflight"])
            S["first_call"] = S["first_call"] or nowt
        t_in = time.monotonic()
        try:
            if cfg.get("slow_ms"):
                time.sleep(cfg["slow_ms"] / 1000.0)
            if is_batch and cfg.get("item_ms"):
                time.sleep(cfg["item_ms"] * batch_items(raw) / 1000.0)
            limit = 36 if rest == "batch" else 50
            if rid is not None and (len(rid) == 0 or len(rid) > limit):
                return 400, fault(2050, "Invalid requestid",
                                  "requestid must be 1..%d characters" % limit), None, None
            with LOCK:
                if rid is not None and rid in S["requestids"]:
                    st, ob = S["requestids"][rid]
                    return st, ob, None, after
                st, ob = self.execute(method, rest, q, raw, rid)
                if rid is not None:
                    S["requestids"][rid] = (st, ob)
            return st, ob, None, after
        finally:
            with LOCK:
                S["inflight"] -= 1
                S["busy_s"] += time.monotonic() - t_in
                if is_batch:
                    S["batch_busy_s"] += time.monotonic() - t_in
                S["last_call"] = time.time()

    def throttle_body(self):
        return {"Fault": {"Error": [{"Message": "message=ThrottleExceeded; errorCode=003001; "
                                     "statusCode=429", "Detail": "Too many requests",
                                     "code": "3001"}], "type": "SERVICE"}, "time": now_iso()}

    def auth_fail(self):
        return 401, {"warnings": None, "intuitObject": None, "fault": {"error": [{
            "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
            "detail": "Token expired", "code": "3200", "element": None}],
            "type": "AUTHENTICATION"}, "report": None, "queryResponse": None, "batchItemResponse": [],
            "attachableResponse": [], "syncErrorResponse": None, "requestId": None,
            "time": int(time.time() * 1000), "status": None, "cdcresponse": []}, {
            "WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'}, None

    def execute(self, method, rest, q, raw, rid):
        try:
            return self.execute1(method, rest, q, raw, rid)
        except QError as e:
            return e.status, e.body

    def execute1(self, method, rest, q, raw, rid):
        parts = rest.split("/")
        if parts[0] == "query":
            if method == "GET":
                text = (q.get("query") or [""])[0]
            else:
                text = raw.decode("utf-8", "replace")
            return 200, run_query(text)
        if parts[0] == "companyinfo" and method == "GET":
            return 200, {"CompanyInfo": {"CompanyName": "Mock Company", "Id": ARGS.realm_id,
                                         "Country": S["company"]["Country"]},
                         "time": now_iso()}
        if parts[0] == "preferences" and method == "GET" and len(parts) == 1:
            return 200, {"Preferences": self.preferences(), "time": now_iso()}
        if parts[0] == "batch" and method == "POST":
            return self.batch(raw, rid)
        ent = BY_LOWER.get(parts[0].lower())
        if ent is None:
            return 400, fault(4000, "Unsupported entity", parts[0])
        if method == "GET" and len(parts) == 2:
            obj = S["entities"][ent].get(parts[1])
            if obj is None:
                return 400, fault(610, "Object Not Found", "Object Not Found : Something you're "
                                  "trying to use has been made inactive.")
            return 200, {ent: obj, "time": now_iso()}
        if method == "POST" and len(parts) == 1:
            try:
                body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                return 400, fault(500, "Unsupported Operation", "malformed JSON body")
            return 200, {ent: save(ent, body), "time": now_iso()}
        return 400, fault(500, "Unsupported Operation", "unsupported method or path")

    def preferences(self):
        """The Preferences object in Intuit's shape (the parts a sales sync reads)."""
        c = S["company"]
        sales = dict(c["SalesFormsPrefs"])
        sales.update({"AllowDeposit": True, "AllowEstimates": True, "AllowServiceDate": False,
                      "CustomTxnNumbers": True, "ETransactionEnabledStatus": "NotApplicable",
                      "DefaultTerms": {"value": "3"}, "UsingPriceLevels": False,
                      "UsingProgressInvoicing": False, "AutoApplyCredit": True})
        if not sales.get("AllowGratuity"):
            sales.pop("AllowGratuity", None)  # absent unless turned on
        return {"SalesFormsPrefs": sales,
                "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": c["Country"] == "US"},
                "CurrencyPrefs": {"MultiCurrencyEnabled": False,
                                  "HomeCurrency": {"value": "USD" if c["Country"] == "US"
                                                   else "EUR"}},
                "Id": "1", "SyncToken": "0", "domain": "QBO", "sparse": False,
                "MetaData": {"CreateTime": "2026-01-01T00:00:00-08:00",
                             "LastUpdatedTime": "2026-01-01T00:00:00-08:00"}}

    def batch(self, raw, rid):
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return 400, fault(500, "Unsupported Operation", "malformed JSON body")
        items = doc.get("BatchItemRequest") if isinstance(doc, dict) else None
        if not isinstance(items, list) or not items:
            return 400, fault(2020, "Required param missing", "BatchItemRequest")
        if len(items) > 30:
            return 400, fault(1040, "Batch size exceeds allowed limit",
                              "the batch has %d items; at most 30" % len(items))
        bids = [i.get("bId") for i in items if isinstance(i, dict)]
        if len(set(bids)) != len(items) or any(not isinstance(b, str) or not b for b in bids):
            return 400, fault(2020, "Invalid bId", "each item needs a unique bId")
        if rid is not None and any(len(b) > 10 for b in bids):
            return 400, fault(2050, "Invalid bId", "with a batch requestid a bId is <= 10 chars")
        snap = snapshot_now()
        order = list(items)
        random.shuffle(order)
        out = []
        for it in order:
            r = {"bId": it["bId"]}
            try:
                if "Query" in it:
                    r["QueryResponse"] = run_query(it["Query"], snap)["QueryResponse"]
                else:
                    op = it.get("operation")
                    ents = [k for k in it if k in S["entities"]]
                    if op not in ("create", "update") or len(ents) != 1:
                        raise QError(400, fault(500, "Unsupported Operation",
                                                "operation create|update with one entity"))
                    ent = ents[0]
                    body = dict(it[ent])
                    if op == "create":
                        body.pop("Id", None)
                    elif "Id" not in body:
                        raise QError(400, fault(2020, "Required param missing", "Id"))
                    r[ent] = save(ent, body, snapshot=snap)
            except QError as e:
                f = e.body["Fault"]
                r["Fault"] = f
            out.append(r)
        return 200, {"BatchItemResponse": out, "time": now_iso()}

    # ---- token endpoint ----
    def authorize(self, q):
        """Intuit's consent page, approving at once (the demo's QUICKBOOKS_AUTH_URL): 302 to
        redirect_uri?code&state&realmId with a single-use code for grant_type=authorization_code.
        Wrong client_id or response_type, no accounting scope, no redirect_uri or state: 400."""
        arg = lambda k: (q.get(k) or [""])[0]
        if (arg("client_id") != ARGS.client_id or arg("response_type") != "code" or
                "com.intuit.quickbooks.accounting" not in arg("scope").split() or
                not re.match(r"^https?://", arg("redirect_uri")) or not arg("state")):
            body = b"invalid authorization request (client_id, response_type, scope, " \
                   b"redirect_uri or state)"
            self.send_response(400)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        code = "mockCode_" + secrets.token_urlsafe(18)
        with LOCK:
            CODES[code] = (arg("redirect_uri"), time.time() + 600)
        sep = "&" if "?" in arg("redirect_uri") else "?"
        self.send_response(302)
        self.send_header("Location", "%s%scode=%s&state=%s&realmId=%s" % (
            arg("redirect_uri"), sep, code, quote(arg("state"), safe=""), ARGS.realm_id))
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    def token(self, raw):
        with LOCK:
            S["token_calls"] += 1
        h = self.headers.get("Authorization") or ""
        ok = False
        if h.startswith("Basic "):
            try:
                got = base64.b64decode(h[6:].strip(), validate=True).decode()
                ok = secrets.compare_digest(got.encode(),
                                            (ARGS.client_id + ":" + ARGS.client_secret).encode())
            except (ValueError, UnicodeDecodeError):
                ok = False
        if not ok:
            return self.send(401, {"error": "invalid_client"})
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        if (form.get("grant_type") or [""])[0] == "authorization_code":
            with LOCK:  # a code issued by authorize(), once, for the same redirect_uri
                redirect, until = CODES.pop((form.get("code") or [""])[0], ("", 0))
            if until < time.time() or redirect != (form.get("redirect_uri") or [""])[0]:
                return self.send(400, {"error_description": "Token invalid",
                                       "error": "invalid_grant"})
            at, nrt = new_tokens(ARGS.access_ttl)
            return self.send(200, {"access_token": at, "refresh_token": nrt,
                                   "token_type": "bearer", "expires_in": ARGS.access_ttl,
                                   "x_refresh_token_expires_in": S["config"]["refresh_ttl"]})
        if (form.get("grant_type") or [""])[0] != "refresh_token":
            return self.send(400, {"error": "unsupported_grant_type"})
        rt = (form.get("refresh_token") or [""])[0]
        delay = S["config"]["token_delay_ms"]
        if delay > 0:
            time.sleep(delay / 1000.0)
            if self.peer_gone():  # the refresher hung up (or died): nothing is issued
                with LOCK:
                    S["abandoned_grants"] += 1
                self.close_connection = True
                return None
        with LOCK:
            now = time.time()
            rec = S["refresh"].get(rt)
            valid = refresh_valid(rec, now)
            if valid and rec["superseded"] is None:
                rec["superseded"] = now
            if valid:
                S["refresh_grants"] += 1
            else:
                S["invalid_grants"] += 1
            ttl = S["config"]["refresh_ttl"]
        if not valid:
            return self.send(400, {"error_description": "Token invalid", "error": "invalid_grant"})
        at, nrt = new_tokens(ARGS.access_ttl, ttl)
        self.send(200, {"access_token": at, "refresh_token": nrt, "token_type": "bearer",
                        "expires_in": ARGS.access_ttl, "x_refresh_token_expires_in": ttl})

    def peer_gone(self):
        """True when the client closed its side (EOF waiting, or a reset)."""
        try:
            self.connection.setblocking(False)
            try:
                data = self.connection.recv(1, socket.MSG_PEEK)
            finally:
                self.connection.setblocking(True)
            return data == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    # ---- test control ----
    def control(self, method, path, raw):
        try:
            doc = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            return self.send(400, {"error": "bad json"})
        if path == "/_mock/waiting" and method == "GET":
            with LOCK:
                return self.send(200, {k: v["waiting"] for k, v in BARRIERS.items()})
        if path == "/_mock/state" and method == "GET":
            with LOCK:
                return self.send(200, {
                    "entities": {e: list(v.values()) for e, v in S["entities"].items()},
                    "counts": {e: len(v) for e, v in S["entities"].items()},
                    "requests": list(S["requests"]),
                    "requestids": len(S["requestids"]),
                    "token_calls": S["token_calls"],
                    "throttled": S["throttled"],
                    "batch_throttled": S.get("batch_throttled", 0),
                    "calls": S["calls"], "batch_calls": S["batch_calls"],
                    "max_inflight": S["max_inflight"], "busy_s": S["busy_s"],
                    "batch_busy_s": S["batch_busy_s"],
                    "first_call": S["first_call"], "last_call": S["last_call"],
                    "refresh_grants": S["refresh_grants"],
                    "invalid_grants": S["invalid_grants"],
                    "abandoned_grants": S["abandoned_grants"],
                    "access_tokens": list(S["access"].keys()),
                    "refresh_tokens": list(S["refresh"].keys()),
                })
        if method != "POST":
            return self.send(404, {"error": "not_found"})
        if path == "/_mock/wait":
            # a barrier for tests: block until /_mock/release names it (or timeout_s passes)
            name = str(doc.get("name", ""))
            with LOCK:
                ev = BARRIERS.setdefault(name, {"event": threading.Event(), "waiting": 0})
                ev["waiting"] += 1
            released = ev["event"].wait(float(doc.get("timeout_s", 30)))
            with LOCK:
                ev["waiting"] -= 1
            return self.send(200, {"released": released})
        if path == "/_mock/release":
            with LOCK:
                ev = BARRIERS.setdefault(str(doc.get("name", "")),
                                         {"event": threading.Event(), "waiting": 0})
            ev["event"].set()
            return self.send(200, {"ok": True})
        if path == "/_mock/preferences":
            # {"AllowShipping": bool, "AllowDiscount": bool, "AllowGratuity": bool,
            #  "Country": "US"}: the company's settings from now on
            with LOCK:
                for k in ("AllowShipping", "AllowDiscount", "AllowGratuity"):
                    if k in doc:
                        S["company"]["SalesFormsPrefs"][k] = doc[k] is True
                if isinstance(doc.get("Country"), str):
                    S["company"]["Country"] = doc["Country"]
                return self.send(200, {"ok": True, "company": S["company"]})
        if path == "/_mock/reset":
            with LOCK:
                reset()
            return self.send(200, {"ok": True})
        if path == "/_mock/tokens":
            rexp = doc.get("refresh_expires_in")
            at, rt = new_tokens(int(doc.get("expires_in", 3600)),
                                int(rexp) if rexp is not None else None)
            return self.send(200, {"access_token": at, "refresh_token": rt})
        if path == "/_mock/expire":
            with LOCK:
                if doc.get("access_token") in S["access"]:
                    S["access"][doc["access_token"]] = 0
            return self.send(200, {"ok": True})
        if path == "/_mock/seed":
            ids = {}
            with LOCK:
                try:
                    for ent, objs in doc.items():
                        for o in objs:
                            ids.setdefault(ent, []).append(save(ent, o, seed=True)["Id"])
                except QError as e:
                    return self.send(400, e.body)
            return self.send(200, {"ids": ids})
        if path == "/_mock/faults":
            with LOCK:
                if doc.get("clear"):
                    S["faults"] = []
                    return self.send(200, {"ok": True})
                S["faults"].append({"kind": str(doc.get("kind")), "count": int(doc.get("count", 1)),
                                    "ms": int(doc.get("ms", 1000)), "path": doc.get("path", ""),
                                    "entity": str(doc.get("entity") or ""),
                                    "skip": int(doc.get("skip", 0))})
            return self.send(200, {"ok": True})
        if path == "/_mock/config":
            with LOCK:
                for k in ("per_minute", "concurrent", "retry_after", "slow_ms", "item_ms", "batch_per_minute",
                          "window_s", "refresh_grace_s", "refresh_ttl", "token_delay_ms"):
                    if k in doc:
                        S["config"][k] = int(doc[k])
                S["hits"] = []
                S["batch_hits"] = []
                if doc.get("reset_counters"):
                    S.update({"calls": 0, "batch_calls": 0, "max_inflight": 0, "busy_s": 0.0,
                              "batch_busy_s": 0.0, "first_call": 0, "last_call": 0,
                              "throttled": 0, "batch_throttled": 0})
            return self.send(200, {"ok": True, "config": S["config"]})
        return self.send(404, {"error": "not_found"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a client opening its 10 allowed connections at
    # once had the rest dropped (ListenOverflows) and retried by TCP 1 s later, a wait Intuit's
    # front end never adds
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # a dropped connection (fault "drop") or a client that gave up (timeout tests) is normal
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, OSError)):
            return
        ThreadingHTTPServer.handle_error(self, request, client_address)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--client-id", default="mock-client")
    p.add_argument("--client-secret", default="mock-secret")
    p.add_argument("--realm-id", default="9130357766900456")
    p.add_argument("--per-minute", type=int, default=500)
    p.add_argument("--concurrent", type=int, default=10)
    p.add_argument("--retry-after", type=int, default=1)
    p.add_argument("--access-ttl", type=int, default=3600)
    p.add_argument("--strict-rotation", action="store_true")
    p.add_argument("--refresh-grace", type=int, default=86400)
    p.add_argument("--refresh-ttl", type=int, default=8726400)
    p.add_argument("--batch-per-minute", type=int, default=40)
    p.add_argument("--allow-shipping", action="store_true",
                   help="the company's SalesFormsPrefs.AllowShipping (a new company: off)")
    p.add_argument("--country", default="US")
    ARGS = p.parse_args()
    reset()
    srv = Server(("127.0.0.1", 0), Handler)
    print("port=%d" % srv.server_address[1])
    print("ready")
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
