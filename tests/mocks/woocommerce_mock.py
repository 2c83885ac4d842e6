#!/usr/bin/env python3
"""A WooCommerce store (REST API wc/v3) on loopback, for the woocommerce connector's tests
(Python 3 stdlib only). Two listeners share one store, and authenticate as WooCommerce does
(wc_auth.py, after class-wc-rest-authentication.php):
  - a plain-HTTP one: WordPress is not on HTTPS, so Basic (header or query pair) is ignored and
    such a request is unauthenticated (401 woocommerce_rest_cannot_view); only OAuth 1.0a
    one-legged signatures (query or Authorization: OAuth header) authenticate;
  - an HTTPS one (TLS with --cert/--key; without them plain HTTP on the wire, behaving like
    WordPress behind a TLS proxy that tells it the request is HTTPS): Basic (header, or the
    consumer_key / consumer_secret query pair) first, then OAuth 1.0a signed with https.
OAuth base strings use the home URL http(s)://127.0.0.1:<that listener's port>.
Prints "<plain port> <https port>" on one line of stdout, then flushes.

Keys come from the environment (never argv): MOCK_WOO_KEY, MOCK_WOO_SECRET, and
MOCK_WOO_PERMISSIONS (read | write | read_write, default read_write).

Store routes (prefix /wp-json/wc/v3):
  GET  /orders /customers /products   the documented query parameters are validated as WordPress
       does (wc_params.py: per_page 1-100, default 10; page >= 1; order; orderby; status;
       include; dates; booleans), every invalid one named in one 400 rest_invalid_param with
       data.params; past the last page: 200 []. Filters: status (comma list or any), include,
       modified_after / modified_before (with dates_are_gmt=true they compare with
       date_modified_gmt; otherwise with date_modified, the site's time, which this store keeps
       equal to GMT), orderby (date, id, include, modified), order (asc|desc, default desc).
       Headers X-WP-Total, X-WP-TotalPages, Link.
  GET  /{orders|customers|products}/{id}, GET /system_status
  PUT  /products/{id}        JSON body, e.g. {"stock_quantity": 5}
  PUT  /orders/{id}          JSON body; meta_data entries are merged by key
  GET  /orders/{id}/refunds  the order's refunds (amount positive, line_items negative), newest
       first (orderby date, order desc by default); per_page/page/order/orderby/include/dp
       validated like a list (wc_params.py "refunds"), X-WP-Total, X-WP-TotalPages; an unknown
       order: 404 woocommerce_rest_order_invalid_id. Fixture order 723 has refunds 726 and 724
       (order-refunds-list.json); a seeded order whose refunds[] names a refund the store does
       not hold gets one made from that summary (amount = -total, no lines, created at the
       order's date_modified_gmt), as an "amount only" refund in WooCommerce's admin.
  POST /orders/{id}/notes    JSON {"note": ...} -> 201 note
       The types of the fields the engine writes (stock_quantity, manage_stock, meta_data,
       note, customer_note) are checked first, as WordPress does: 400 rest_invalid_param, or
       rest_missing_callback_param for a note without note.
  GET  /webhooks             per_page (1-100, default 10), page, status (all|active|paused|
       disabled, default all), orderby (date|id|title), order, validated the same way;
       X-WP-Total, X-WP-TotalPages, Link.
       A webhook never shows its secret (write-only, as in WooCommerce).
  GET  /webhooks/{id}
  POST /webhooks             {"name", "topic" (required), "delivery_url" (required, http(s)),
                             "secret", "status"} -> 201; without a secret WooCommerce sets one
                             itself (an MD5 of user data): so does this mock
  PUT  /webhooks/{id}        any of name, status, topic, delivery_url, secret; status "active"
                             resets the failure count
  DELETE /webhooks/{id}?force=true   (without force: 501 woocommerce_rest_trash_not_supported)
Errors are WooCommerce's JSON {"code", "message", "data": {"status"}}. Authentication: 401 with
WooCommerce's code and message (wc_auth.py); an unauthenticated request gets its route's refusal
(woocommerce_rest_cannot_view / _edit / _create / _delete); a key without read (write) permission
is refused on GET (POST/PUT/DELETE).

Test control (no auth):
  POST /_mock/reset                      fixtures only, counters, faults, extra keys and used
                                         nonces cleared
  POST /_mock/keys      {"consumer_key", "consumer_secret", "permissions"} adds a REST API key
  POST /_mock/seed      {"entity", "records": [...]} or {"entity": "refunds", "order_id",
                        "records": [refund objects]} (the order's refunds[] summary is set
                        and its date_modified moved to the newest refund's date_created_gmt
                        when later, as a refund saves its order) or
                        {"entity", "generate": N, "start_id", "start": "2026-01-01T00:00:00",
                         "step_s": 60, "statuses": [...]}
  POST /_mock/fault     {"kind": "500"|"503"|"delay"|"drop"|"drop_after", "count": N,
                         "delay_ms": M} applies to the next N store requests: 500/503/delay/drop
                        before auth (like a proxy); drop_after acts on the request, then drops
                        the connection without an answer. count 0 clears.
  GET  /_mock/state     {"hits", "requests": [{method, path, query, auth, status, fault}],
                         "writes", "faults_left"} (query without credentials or oauth_*)
  GET  /_mock/record/{entity}/{id}
  POST /_mock/webhook   {"url", "secret", "topic": "order.updated", "id": 727} fires one signed
                        delivery at url, as WooCommerce does: body = wp_json_encode of the
                        resource (slashes and non-ASCII escaped as WordPress does; {"id": N} for
                        *.deleted), X-WC-Webhook-Signature = base64(HMAC-SHA256(secret, body)),
                        the X-WC-Webhook-* headers. {"url", "ping": true, "webhook_id"} sends the
                        unsigned form ping. "raw_body" replaces the body (signature vectors).
                        Answers {"status", "signature", "body"}.
  POST /_mock/echo      a receiver for the above: keeps the raw body (base64) and headers;
  GET  /_mock/echoes    lists them
  GET  /_mock/webhooks  every webhook with what the REST API hides: {"id", ..., "secret",
                        "failure_count"}
  POST /_mock/webhooks  {"webhooks": [{"topic", "delivery_url", "status"?, "secret"?,
                        "name"?}]} adds webhooks as the shop's admin would -> {"ids": [...]}
  POST /_mock/webhooks/{id}/status  {"status": "disabled"} sets it, as WooCommerce does after
                        more than 5 consecutive failed deliveries (failure_count 6)
"""
import base64
import hashlib
import hmac
import io
import json
import os
import re
import sys
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

import wc_auth
import wc_params

FIXTURES = os.environ.get("MOCK_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "woocommerce")
KEY = os.environ.get("MOCK_WOO_KEY", "")
SECRET = os.environ.get("MOCK_WOO_SECRET", "")
PREFIX = "/wp-json/wc/v3"
LOCK = threading.Lock()
ENTITIES = ("orders", "customers", "products")


def load(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return json.load(f)


WEBHOOK_STATUSES = ("active", "paused", "disabled")


def new_webhook(body):
    """Store a webhook (under LOCK) the way WooCommerce does; returns it."""
    STORE.next_webhook += 1
    topic = body["topic"]
    now = gmt(datetime.utcnow())
    w = {"id": STORE.next_webhook, "name": body.get("name") or "Webhook created on %s" % now,
         "status": body.get("status") or "active", "topic": topic,
         "resource": topic.partition(".")[0], "event": topic.partition(".")[2],
         "hooks": [], "delivery_url": body["delivery_url"],
         # WooCommerce's default secret when none is given: an MD5 of the user's data
         "secret": body["secret"] if body.get("secret") else hashlib.md5(b"1|admin").hexdigest(),
         "failure_count": 0, "date_created": now, "date_created_gmt": now,
         "date_modified": now, "date_modified_gmt": now}
    STORE.webhooks[w["id"]] = w
    return w


def webhook_public(w):
    """What the REST API shows of a webhook: everything but the secret and the failure count."""
    out = {k: v for k, v in w.items() if k not in ("secret", "failure_count")}
    out["_links"] = {"self": [{"href": "%s/webhooks/%d" % (PREFIX, w["id"])}]}
    return out


class Store:
    def __init__(self):
        self.reset()

    def reset(self):
        self.data = {e: {} for e in ENTITIES}
        for name in ("orders-list.json",):
            for o in load(name):
                self.data["orders"][o["id"]] = o
        for name, ent in (("order.json", "orders"), ("customer.json", "customers"),
                          ("product.json", "products")):
            r = load(name)
            self.data[ent][r["id"]] = r
        self.refunds = {723: load("order-refunds-list.json")}  # order id -> refund objects
        self.echoes = []
        self.hits = 0
        self.requests = []
        self.writes = []
        self.faults = []  # list of (kind, delay_ms)
        self.keys = wc_auth.Keys()  # the env's key, read_write unless MOCK_WOO_PERMISSIONS says
        if KEY:
            self.keys.add(KEY, SECRET, os.environ.get("MOCK_WOO_PERMISSIONS") or "read_write")
        self.next_note = 1000
        self.webhooks = {}
        self.next_webhook = 100


STORE = Store()


def gmt(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%S")


def generate(entity, n, start_id, start, step_s, statuses):
    t0 = datetime.strptime(start, "%Y-%m-%dT%H:%M:%S")
    tmpl = {"orders": load("order.json"), "customers": load("customer.json"),
            "products": load("product.json")}[entity]
    out = []
    for i in range(n):
        r = json.loads(json.dumps(tmpl))
        r["id"] = start_id + i
        t = gmt(t0 + timedelta(seconds=step_s * i))
        for k in ("date_created", "date_created_gmt", "date_modified", "date_modified_gmt"):
            r[k] = t
        if entity == "orders":
            r["number"] = str(r["id"])
            r["status"] = statuses[i % len(statuses)] if statuses else "processing"
        elif entity == "products":
            r["sku"] = "SKU-%d" % r["id"]
            r["manage_stock"] = True
            r["stock_quantity"] = 10
        out.append(r)
    return out


def order_refunds(order):
    """The refund objects of an order (a copy; call under LOCK): the stored ones, and one made
    from each summary in refunds[] the store holds no object for."""
    held = STORE.refunds.get(order["id"], [])
    out = [json.loads(json.dumps(r)) for r in held]
    ids = {r["id"] for r in held}
    for s in order.get("refunds") or []:
        if s.get("id") in ids:
            continue
        amount = "%.2f" % -float(s.get("total") or 0)
        out.append({"id": s["id"], "date_created": order.get("date_modified_gmt"),
                    "date_created_gmt": order.get("date_modified_gmt"), "amount": amount,
                    "reason": s.get("reason") or "", "refunded_by": 1, "refunded_payment": False,
                    "meta_data": [], "line_items": []})
    return out


def pct(s):
    return quote(s, safe="-._~")


def route_kind(method, path):
    """list | view | edit | create | delete: which permission check a route makes."""
    if method == "GET":
        parts = path[len(PREFIX):].strip("/").split("/")
        return "view" if len(parts) >= 2 and parts[1].isdigit() and len(parts) == 2 else "list"
    return {"PUT": "edit", "PATCH": "edit", "POST": "create", "DELETE": "delete"}.get(method, "view")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tallysync-woocommerce-mock/1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, doc, headers=None):
        body = json.dumps(doc).encode()
        # record the status before the client can see the answer: a test reading /_mock/state
        # right after its request must find it
        self._status = status
        if getattr(self, "_log", None) is not None:
            self._log["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self._status = status

    def error(self, status, code, message, headers=None):
        self.send_json(status, {"code": code, "message": message, "data": {"status": status}}, headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        u = urlsplit(self.path)
        self._log = None  # one handler serves every request of a keep-alive connection
        if u.path.startswith("/_mock/"):
            return self.control(method, u.path)
        params = parse_qsl(u.query, keep_blank_values=True)
        body = self.read_body() if method in ("POST", "PUT") else {}
        if method == "DELETE" and int(self.headers.get("Content-Length") or 0) > 0:
            self.rfile.read(int(self.headers.get("Content-Length")))
        with LOCK:
            STORE.hits += 1
            fault = STORE.faults.pop(0) if STORE.faults else None
        log = {"method": method, "path": u.path, "query": {k: v for k, v in params
                                                             if not k.startswith("oauth_") and k not in ("consumer_key", "consumer_secret")},
               "auth": None, "status": None, "fault": fault[0] if fault else None}
        with LOCK:
            STORE.requests.append(log)
        self._log = log
        self._status = None
        if fault:
            kind, delay_ms = fault
            if kind == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except (OSError, ValueError):
                    pass
                log["status"] = 0
                return
            if kind == "delay":
                time.sleep(delay_ms / 1000.0)
                log["status"] = 0
                try:
                    self.error(503, "mock_delay", "Delayed past the client's timeout.")
                except OSError:
                    pass
                return
            if kind == "drop_after":  # acted on, but the answer is lost
                real = self.wfile
                self.wfile = io.BytesIO()
                ok, _, _ = self.authenticate(method, u.path, params, log)
                if ok and body is not None and u.path.startswith(PREFIX + "/"):
                    self.route(method, u.path[len(PREFIX):], dict(params), body)
                self.wfile = real
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                log["status"] = 0
                return
            status = int(kind)
            self.error(status, "internal_server_error" if status == 500 else "service_unavailable",
                       "Injected fault.")
            log["status"] = status
            return
        if not u.path.startswith(PREFIX + "/"):
            self.error(404, "rest_no_route", "No route was found matching the URL and request method.")
            log["status"] = 404
            return
        ok, code, msg = self.authenticate(method, u.path, params, log)
        # WordPress validates a route's parameters before its permission check: an
        # unauthenticated request with a bad per_page gets the 400, not the 401
        if not ok and code.startswith("woocommerce_rest_cannot_") and \
                self.params_error(method, u.path[len(PREFIX):].strip("/"), dict(params)):
            log["status"] = self._status
            return
        if not ok:
            self.error(401, code, msg, wc_auth.basic_challenge_header()
                       if self.server.https and log["auth"] in ("basic", "query") else None)
            log["status"] = 401
            return
        if body is None:
            self.error(400, "rest_invalid_json", "Invalid JSON body passed.")
        else:
            self.route(method, u.path[len(PREFIX):], dict(params), body)
        log["status"] = self._status

    def params_error(self, method, collection, q):
        """Answers WordPress' 400 rest_invalid_param for a collection GET with invalid query
        parameters (wc_params.py) and returns True; False when they are valid."""
        if method != "GET" or collection not in wc_params.SCHEMAS:
            return False
        bad = wc_params.validate(collection, q)
        if bad is None:
            return False
        self.send_json(*bad)
        return True

    def authenticate(self, method, path, params, log):
        """(ok, code, message): wc_auth decides as WooCommerce does; an unauthenticated request
        gets the route's own refusal (woocommerce_rest_cannot_view / _edit / _create / _delete)."""
        scheme = "https" if self.server.https else "http"
        home = "%s://127.0.0.1:%d" % (scheme, self.server.server_address[1])
        key, err, how = wc_auth.authenticate(STORE.keys, method, self.server.https, home, path,
                                             params, self.headers)
        log["auth"] = how
        if err:
            return False, err[1], err[2]
        if key is None:
            return False, *wc_auth.CANNOT[route_kind(method, path)]
        return True, None, None

    # ---- store ----
    def route(self, method, path, q, body):
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["system_status"]:
            host = self.headers.get("Host", "127.0.0.1")
            return self.send_json(200, {"environment": {"home_url": "http://%s" % host, "version": "9.4.2",
                                                        "wp_version": "6.7.1"}, "settings": {"currency": "USD"}})
        if parts[0] == "webhooks":
            return self.webhooks_route(method, parts[1:], q, body)
        if parts[0] not in ENTITIES:
            return self.error(404, "rest_no_route", "No route was found matching the URL and request method.")
        ent = parts[0]
        if method == "GET" and len(parts) == 1:
            return self.list(ent, q)
        if len(parts) >= 2:
            try:
                rid = int(parts[1])
            except ValueError:
                return self.error(404, "rest_no_route", "No route was found matching the URL and request method.")
            # WordPress checks the body's types before the route runs (the record may not exist)
            kind = {("PUT", 2): ent + ".edit", ("POST", 3): "notes.create"}.get((method, len(parts)))
            if method == "POST" and parts[2:] == ["notes"] and "note" not in body:
                return self.send_json(400, {"code": "rest_missing_callback_param",
                                            "message": "Missing parameter(s): note",
                                            "data": {"status": 400, "params": ["note"]}})
            bad = wc_params.validate_body(kind, body) if kind else None
            if bad:
                return self.send_json(*bad)
            with LOCK:
                rec = STORE.data[ent].get(rid)
            if rec is None:
                return self.error(404, "woocommerce_rest_%s_invalid_id" % ent[:-1], "Invalid ID.")
            if method == "GET" and len(parts) == 2:
                return self.send_json(200, rec)
            if method == "PUT" and len(parts) == 2 and ent in ("orders", "products"):
                return self.update(ent, rec, body)
            if method == "GET" and ent == "orders" and parts[2:] == ["refunds"]:
                return self.refund_list(rec, q)
            if method == "POST" and ent == "orders" and parts[2:] == ["notes"]:
                note = body.get("note")
                if not isinstance(note, str) or not note:
                    return self.error(400, "rest_missing_callback_param", "Missing parameter(s): note",)
                with LOCK:
                    STORE.next_note += 1
                    n = {"id": STORE.next_note, "author": "WooCommerce", "date_created_gmt": gmt(datetime.utcnow()),
                         "note": note, "customer_note": bool(body.get("customer_note", False)),
                         "order_id": rid}
                    STORE.writes.append({"kind": "order_note", "id": rid, "body": body})
                    rec.setdefault("_notes", []).append(n)
                return self.send_json(201, n)
        return self.error(404, "rest_no_route", "No route was found matching the URL and request method.")

    def update(self, ent, rec, body):
        with LOCK:
            for k, v in body.items():
                if k == "meta_data" and isinstance(v, list):
                    meta = rec.setdefault("meta_data", [])
                    for m in v:
                        found = [x for x in meta if x.get("key") == m.get("key")]
                        if found:
                            found[0]["value"] = m.get("value")
                        else:
                            meta.append({"id": 9000 + len(meta), "key": m.get("key"), "value": m.get("value")})
                elif k == "stock_quantity" and v is not None:
                    rec[k] = int(float(v))  # WordPress sanitizes to the schema's integer
                elif k != "id":
                    rec[k] = v
            now = gmt(datetime.utcnow())
            rec["date_modified"] = rec["date_modified_gmt"] = now
            STORE.writes.append({"kind": ent, "id": rec["id"], "body": body})
            out = json.loads(json.dumps({k: v for k, v in rec.items() if k != "_notes"}))
        self.send_json(200, out)

    def refund_list(self, order, q):
        if self.params_error("GET", "refunds", q):
            return
        per_page, page = int(q.get("per_page", "10")), int(q.get("page", "1"))
        with LOCK:
            recs = order_refunds(order)
        if q.get("include"):
            include = [int(x) for x in re.split(r"[\s,]+", q["include"]) if x]
            recs = [r for r in recs if r["id"] in include]
        key = (lambda r: r["id"]) if q.get("orderby") in ("id", "include") else \
            (lambda r: (r.get("date_created_gmt") or "", r["id"]))
        recs.sort(key=key, reverse=q.get("order", "desc") != "asc")
        total = len(recs)
        pages = (total + per_page - 1) // per_page
        self.send_json(200, recs[(page - 1) * per_page: page * per_page],
                       {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})

    def list(self, ent, q):
        if self.params_error("GET", ent, q):
            return
        per_page, page = int(q.get("per_page", "10")), int(q.get("page", "1"))
        with LOCK:
            recs = [r for r in STORE.data[ent].values()]
        gmt_dates = q.get("dates_are_gmt") in ("true", "1")
        field = "date_modified_gmt" if gmt_dates else "date_modified"
        for p, cmp in (("modified_after", lambda a, b: a > b), ("modified_before", lambda a, b: a < b)):
            if p in q:
                bound = q[p].rstrip("Z").replace(" ", "T")[:19]
                recs = [r for r in recs if r.get(field) and cmp(r[field][:19], bound)]
        if "status" in q and q["status"] not in ("", "any") and ent != "customers":
            wanted = set(q["status"].split(","))
            recs = [r for r in recs if r.get("status") in wanted]
        include = None
        if q.get("include"):
            include = [int(x) for x in re.split(r"[\s,]+", q["include"]) if x]
            recs = [r for r in recs if r["id"] in include]
        orderby = q.get("orderby", "date")
        desc = q.get("order", "desc") != "asc"
        keys = {"id": lambda r: r["id"], "date": lambda r: (r.get("date_created_gmt") or "", r["id"]),
                "modified": lambda r: (r.get("date_modified_gmt") or "", r["id"]),
                "include": lambda r: include.index(r["id"]) if include else r["id"]}
        recs.sort(key=keys.get(orderby, keys["id"]),  # title and slug: not modelled, by id
                  reverse=desc if orderby != "include" else False)
        total = len(recs)
        pages = (total + per_page - 1) // per_page
        # past the last page WooCommerce answers 200 [] with the totals (WC_REST_CRUD_Controller)
        chunk = recs[(page - 1) * per_page: page * per_page]
        chunk = [{k: v for k, v in r.items() if k != "_notes"} for r in chunk]
        links = []
        host = self.headers.get("Host", "127.0.0.1")
        scheme = "https" if self.server.https else "http"
        for rel, n in (("prev", page - 1), ("next", page + 1)):
            if 1 <= n <= pages:
                qq = {k: v for k, v in q.items() if not k.startswith("oauth_") and k not in ("consumer_key", "consumer_secret")}
                qq["page"] = str(n)
                links.append('<%s://%s%s/%s?%s>; rel="%s"' % (scheme, host, PREFIX, ent,
                                                           "&".join("%s=%s" % (pct(k), pct(v)) for k, v in qq.items()), rel))
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        if links:
            headers["Link"] = ", ".join(links)
        self.send_json(200, chunk, headers)

    # ---- the webhooks resource (wc/v3/webhooks) ----
    def webhooks_route(self, method, rest, q, body):
        no_route = ("rest_no_route", "No route was found matching the URL and request method.")
        if not rest:
            if method == "GET":
                return self.webhook_list(q)
            if method == "POST":
                return self.webhook_create(body)
            return self.error(404, *no_route)
        try:
            wid = int(rest[0])
        except ValueError:
            return self.error(404, *no_route)
        with LOCK:
            w = STORE.webhooks.get(wid)
        if w is None or len(rest) > 1:
            return self.error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        if method == "GET":
            return self.send_json(200, webhook_public(w))
        if method == "PUT":
            return self.webhook_update(w, body)
        if method == "DELETE":
            if q.get("force") not in ("true", "1"):
                return self.error(501, "woocommerce_rest_trash_not_supported",
                                  "Webhooks do not support trashing.")
            with LOCK:
                STORE.webhooks.pop(wid, None)
                STORE.writes.append({"kind": "webhook_delete", "id": wid})
            return self.send_json(200, webhook_public(w))
        return self.error(404, *no_route)

    def webhook_check(self, body, creating):
        for k in ("topic", "delivery_url") if creating else ():
            if not body.get(k):
                self.error(400, "rest_missing_callback_param", "Missing parameter(s): %s" % k)
                return False
        if "topic" in body and not re.match(r"^[a-z_]+\.[a-z_]+$", str(body["topic"])):
            self.send_json(400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): topic",
                                 "data": {"status": 400, "params": {"topic": "Invalid topic."}}})
            return False
        if "delivery_url" in body and not re.match(r"^https?://[^/]", str(body["delivery_url"])):
            self.send_json(400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): delivery_url",
                                 "data": {"status": 400, "params": {"delivery_url": "Invalid URL."}}})
            return False
        if "status" in body and body["status"] not in WEBHOOK_STATUSES:
            self.send_json(400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): status",
                                 "data": {"status": 400, "params": {"status": "status is not one of active, paused, and disabled."}}})
            return False
        return True

    def webhook_create(self, body):
        if not self.webhook_check(body, True):
            return
        with LOCK:
            w = new_webhook(body)
            STORE.writes.append({"kind": "webhook_create", "id": w["id"],
                                 "body": {k: v for k, v in body.items() if k != "secret"}})
        self.send_json(201, webhook_public(w))

    def webhook_update(self, w, body):
        if not self.webhook_check(body, False):
            return
        with LOCK:
            for k in ("name", "topic", "delivery_url", "secret", "status"):
                if k in body:
                    w[k] = body[k]
            if body.get("status") == "active":
                w["failure_count"] = 0
            if "topic" in body:
                w["resource"], _, w["event"] = w["topic"].partition(".")
            w["date_modified"] = w["date_modified_gmt"] = gmt(datetime.utcnow())
            STORE.writes.append({"kind": "webhook_update", "id": w["id"],
                                 "body": {k: v for k, v in body.items() if k != "secret"}})
            out = webhook_public(w)
        self.send_json(200, out)

    def webhook_list(self, q):
        if self.params_error("GET", "webhooks", q):
            return
        per_page, page = int(q.get("per_page", "10")), int(q.get("page", "1"))
        status = q.get("status", "all")
        with LOCK:
            hooks = [w for w in STORE.webhooks.values() if status == "all" or w["status"] == status]
        orderby = q.get("orderby", "date")
        hooks.sort(key=(lambda w: w["id"]) if orderby == "id" else (lambda w: (w["date_created_gmt"], w["id"])),
                   reverse=q.get("order", "desc") != "asc")
        total = len(hooks)
        pages = (total + per_page - 1) // per_page
        chunk = [webhook_public(w) for w in hooks[(page - 1) * per_page: page * per_page]]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        host = self.headers.get("Host", "127.0.0.1")
        scheme = "https" if self.server.https else "http"
        links = ['<%s://%s%s/webhooks?page=%d&per_page=%d>; rel="%s"' % (scheme, host, PREFIX, n, per_page, rel)
                 for rel, n in (("prev", page - 1), ("next", page + 1)) if 1 <= n <= pages]
        if links:
            headers["Link"] = ", ".join(links)
        self.send_json(200, chunk, headers)

    # ---- webhooks ----
    def fire(self, spec):
        import urllib.error
        import urllib.request
        host = self.headers.get("Host", "127.0.0.1")
        source = "%s://%s/" % ("https" if self.server.https else "http", host)
        headers = {"User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)"}
        sig = None
        if spec.get("ping"):
            raw = ("webhook_id=%d" % int(spec.get("webhook_id", 1))).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            topic = spec.get("topic", "order.updated")
            resource, _, event = topic.partition(".")
            rid = int(spec.get("id", 0))
            if "raw_body" in spec:
                raw = spec["raw_body"].encode()
            else:
                if event == "deleted":
                    doc = {"id": rid}
                else:
                    with LOCK:
                        doc = STORE.data.get(resource + "s", {}).get(rid)
                        doc = {k: v for k, v in doc.items() if k != "_notes"} if doc else {"id": rid}
                raw = json.dumps(doc, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").strip().encode()
            secret = spec.get("secret", "")
            sig = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
            headers.update({"Content-Type": "application/json", "X-WC-Webhook-Source": source,
                            "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": resource,
                            "X-WC-Webhook-Event": event, "X-WC-Webhook-Signature": sig,
                            "X-WC-Webhook-ID": str(int(spec.get("webhook_id", 1))),
                            "X-WC-Webhook-Delivery-ID": hashlib.md5(raw + str(time.time()).encode()).hexdigest()})
        req = urllib.request.Request(spec["url"], data=raw, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, OSError):
            status = 0
        return {"status": status, "signature": sig, "body": raw.decode()}

    # ---- control ----
    def seed_refunds(self, body):
        oid, recs = body.get("order_id"), body.get("records")
        if not isinstance(recs, list) or not all(isinstance(r, dict) and "id" in r for r in recs):
            return self.send_json(400, {"error": "records"})
        with LOCK:
            order = STORE.data["orders"].get(oid)
            if order is None:
                return self.send_json(404, {"error": "order_id"})
            STORE.refunds[oid] = recs
            order["refunds"] = [{"id": r["id"], "reason": r.get("reason") or "",
                                 "total": "%.2f" % -float(r.get("amount") or 0)} for r in recs]
            # a refund saves its order: WooCommerce moves the order's date_modified to the
            # refund's time (the newest refund's date_created_gmt here, never backwards)
            newest = max([str(r.get("date_created_gmt") or "")[:19] for r in recs] + [""])
            if newest > str(order.get("date_modified_gmt") or ""):
                order["date_modified"] = order["date_modified_gmt"] = newest
        return self.send_json(200, {"ok": True, "count": len(recs)})

    def control(self, method, path):
        if path == "/_mock/echo" and method == "POST":
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n > 0 else b""
            with LOCK:
                STORE.echoes.append({"body_b64": base64.b64encode(raw).decode(),
                                     "headers": {k.lower(): v for k, v in self.headers.items()}})
            return self.send_json(200, {"ok": True})
        body = self.read_body() if method == "POST" else {}
        if body is None:
            return self.send_json(400, {"error": "bad json"})
        if path == "/_mock/reset" and method == "POST":
            with LOCK:
                STORE.reset()
            return self.send_json(200, {"ok": True})
        if path == "/_mock/seed" and method == "POST":
            ent = body.get("entity")
            if ent == "refunds":
                return self.seed_refunds(body)
            if ent not in ENTITIES:
                return self.send_json(400, {"error": "entity"})
            recs = body.get("records") or generate(ent, int(body.get("generate", 0)), int(body.get("start_id", 5000)),
                                                    body.get("start", "2026-01-01T00:00:00"),
                                                    int(body.get("step_s", 60)), body.get("statuses"))
            with LOCK:
                for r in recs:
                    STORE.data[ent][r["id"]] = r
            return self.send_json(200, {"ok": True, "count": len(recs)})
        if path == "/_mock/fault" and method == "POST":
            kind = str(body.get("kind"))
            if kind not in ("500", "503", "delay", "drop", "drop_after"):
                return self.send_json(400, {"error": "kind"})
            with LOCK:
                STORE.faults = [(kind, int(body.get("delay_ms", 3000)))] * int(body.get("count", 1))
            return self.send_json(200, {"ok": True})
        if path == "/_mock/keys" and method == "POST":  # another REST API key, as the admin makes one
            try:
                STORE.keys.add(str(body["consumer_key"]), str(body["consumer_secret"]),
                               body.get("permissions", "read_write"))
            except (KeyError, ValueError):
                return self.send_json(400, {"error": "consumer_key, consumer_secret, permissions"})
            return self.send_json(200, {"ok": True})
        if path == "/_mock/webhook" and method == "POST":
            return self.send_json(200, self.fire(body))
        if path == "/_mock/webhooks" and method == "GET":
            with LOCK:
                return self.send_json(200, sorted(STORE.webhooks.values(), key=lambda w: w["id"]))
        if path == "/_mock/webhooks" and method == "POST":
            ids = []
            with LOCK:
                for spec in body.get("webhooks") or []:
                    ids.append(new_webhook(spec)["id"])
            return self.send_json(200, {"ids": ids})
        m = re.match(r"^/_mock/webhooks/(\d+)/status$", path)
        if m and method == "POST":
            if body.get("status") not in WEBHOOK_STATUSES:
                return self.send_json(400, {"error": "status"})
            with LOCK:
                w = STORE.webhooks.get(int(m.group(1)))
                if w is not None:
                    w["status"] = body["status"]
                    w["failure_count"] = 6 if body["status"] == "disabled" else 0
            return self.send_json(200 if w else 404, {"ok": w is not None})
        if path == "/_mock/echoes":
            with LOCK:
                return self.send_json(200, STORE.echoes)
        if path == "/_mock/state":
            with LOCK:
                return self.send_json(200, {"hits": STORE.hits, "requests": STORE.requests,
                                            "writes": STORE.writes, "faults_left": len(STORE.faults)})
        m = re.match(r"^/_mock/record/(\w+)/(\d+)$", path)
        if m and m.group(1) in ENTITIES:
            with LOCK:
                rec = STORE.data[m.group(1)].get(int(m.group(2)))
                rec = json.loads(json.dumps(rec)) if rec else None
            return self.send_json(200 if rec else 404, rec or {"error": "not found"})
        self.send_json(404, {"error": "no such control route"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, https):
        super().__init__(("127.0.0.1", 0), Handler)
        self.https = https


def main():
    import argparse
    import ssl
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    plain, tls = Server(False), Server(True)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for s in (plain, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("%d %d" % (plain.server_address[1], tls.server_address[1]), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
