#!/usr/bin/env python3
"""A stand-in for WooCommerce, QuickBooks Online and Supabase, for the connectors' test() calls
(Python 3 stdlib only). Listens on 127.0.0.1 on an ephemeral port, prints that port alone on one
line of stdout, then flushes.

The valid credentials come from the environment (never argv, so they stay out of `ps`):
    MOCK_WOO_KEY, MOCK_WOO_SECRET      WooCommerce consumer key and secret
    MOCK_QBO_TOKEN, MOCK_QBO_REALM     QuickBooks access token and company id (realmId)
    MOCK_SUPABASE_KEY                  Supabase service_role key (or sb_secret_... key)

Routes (GET):
    [/prefix]/wp-json/wc/v3/system_status
        WooCommerce on plain HTTP (wc_auth.py): an OAuth 1.0a one-legged signature by
        MOCK_WOO_KEY / MOCK_WOO_SECRET (base string on http://127.0.0.1:<port>/<path>) -> 200
        system status JSON; a bad one -> 401 with WooCommerce's code and message; HTTP Basic is
        ignored over plain HTTP, as WordPress does, so Basic or nothing -> 401
        woocommerce_rest_cannot_view. A prefix starting with /slow sleeps MOCK_SLOW_MS (default
        20000) first; any other prefix is a store installed in a sub-folder.
    /v3/company/{realm}/companyinfo/{realm}?minorversion=75
        Bearer MOCK_QBO_TOKEN and the right realm -> 200 {"CompanyInfo": ...} with an intuit_tid
        header; a wrong token -> 401 AuthenticationFault (code 3200); another realm -> 403
        (code 3100); a missing or other minorversion -> 400 ValidationFault.
    /rest/v1/
        apikey MOCK_SUPABASE_KEY (and, when sent, Authorization: Bearer of the same key) -> 200
        PostgREST's OpenAPI root; otherwise 401 {"code": "PGRST301", ...}; Accept-Profile other
        than public/api -> 406 PGRST106.
    /_mock/hits   JSON {route: count} of the requests above
Anything else: 404 JSON. Request headers and credentials are never logged or echoed.
"""
import hmac
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlsplit

import wc_auth

WOO_KEYS = wc_auth.Keys()
if os.environ.get("MOCK_WOO_KEY"):
    WOO_KEYS.add(os.environ["MOCK_WOO_KEY"], os.environ.get("MOCK_WOO_SECRET", ""))

HITS = {}
LOCK = threading.Lock()


def hit(route):
    with LOCK:
        HITS[route] = HITS.get(route, 0) + 1


def same(a, b):
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tallysync-saas-mock/1"

    def log_message(self, fmt, *args):  # no request lines (they would carry nothing secret,
        pass  # but the tests scan every log for secrets: keep this one empty)

    def send_json(self, status, doc, headers=None):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlsplit(self.path)
        path, query = u.path, parse_qs(u.query)
        if path == "/_mock/hits":
            with LOCK:
                return self.send_json(200, dict(HITS))
        marker = "/wp-json/wc/v3/system_status"
        if path.endswith(marker):
            return self.woo(path, path[: -len(marker)], parse_qsl(u.query, keep_blank_values=True))
        parts = path.strip("/").split("/")
        if len(parts) == 5 and parts[0] == "v3" and parts[1] == "company" and parts[3] == "companyinfo":
            return self.qbo(parts[2], parts[4], query)
        if path == "/rest/v1/" or path == "/rest/v1":
            return self.supabase()
        self.send_json(404, {"code": "rest_no_route", "message": "No route was found matching the URL and request method.", "data": {"status": 404}})

    # ---- WooCommerce ----
    def woo(self, path, prefix, query):
        hit("woocommerce")
        if prefix.startswith("/slow"):
            time.sleep(int(os.environ.get("MOCK_SLOW_MS", "20000")) / 1000.0)
        # a plain-HTTP listener: WordPress is not on HTTPS, so Basic is ignored (wc_auth.py)
        home = "http://127.0.0.1:%d" % self.server.server_address[1]
        key, err, _ = wc_auth.authenticate(WOO_KEYS, "GET", False, home, path, query, self.headers)
        if err is None and key is None:
            err = (401,) + wc_auth.CANNOT["list"]
        if err:
            return self.send_json(err[0], {"code": err[1], "message": err[2], "data": {"status": err[0]}})
        host = self.headers.get("Host", "127.0.0.1")
        self.send_json(200, {
            "environment": {"home_url": "http://%s%s" % (host, prefix), "site_url": "http://%s%s" % (host, prefix),
                            "version": "9.4.2", "wp_version": "6.7.1", "language": "en_US"},
            "database": {"wc_database_version": "9.4.2"},
            "active_plugins": [], "settings": {"currency": "USD"},
        })

    # ---- QuickBooks Online ----
    def qbo(self, realm, realm2, query):
        hit("quickbooks")
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000-07:00")
        tid = {"intuit_tid": "1-" + uuid.uuid4().hex[:24]}

        def fault(status, kind, code, message, detail):
            self.send_json(status, {"Fault": {"Error": [{"Message": message, "Detail": detail, "code": code}], "type": kind}, "time": now}, dict(tid, **({"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'} if status == 401 else {})))

        auth = self.headers.get("Authorization", "")
        if not (auth.startswith("Bearer ") and same(auth[7:], os.environ.get("MOCK_QBO_TOKEN"))):
            return fault(401, "AuthenticationFault", "3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401", "Token revoked")
        if realm != realm2 or not same(realm, os.environ.get("MOCK_QBO_REALM")):
            return fault(403, "AuthorizationFault", "3100", "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", "realm mismatch")
        if query.get("minorversion") != ["75"]:
            return fault(400, "ValidationFault", "2010", "Request has invalid or unsupported property", "minorversion=75 expected")
        self.send_json(200, {
            "CompanyInfo": {"CompanyName": "Sandbox Company_US_1", "LegalName": "Sandbox Company_US_1",
                            "Country": "US", "Id": "1", "SyncToken": "4", "domain": "QBO", "sparse": False},
            "time": now,
        }, tid)

    # ---- Supabase (PostgREST) ----
    def supabase(self):
        hit("supabase")
        key = os.environ.get("MOCK_SUPABASE_KEY")
        auth = self.headers.get("Authorization")
        ok = same(self.headers.get("apikey"), key) and (auth is None or same(auth, "Bearer %s" % key))
        if not ok:
            return self.send_json(401, {"code": "PGRST301", "details": None, "hint": None, "message": "JWSError JWSInvalidSignature"})
        profile = self.headers.get("Accept-Profile")
        if profile is not None and profile not in ("public", "api"):
            return self.send_json(406, {"code": "PGRST106", "details": None, "hint": "Only the following schemas are exposed: public, api", "message": "Invalid schema: %s" % profile})
        self.send_json(200, {"swagger": "2.0", "info": {"title": "standard public schema", "version": "12.2.3"},
                             "host": self.headers.get("Host", ""), "basePath": "/", "paths": {"/": {}}})


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
