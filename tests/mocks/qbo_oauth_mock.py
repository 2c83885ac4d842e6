#!/usr/bin/env python3
"""Intuit's OAuth 2.0 endpoints, as a local mock for the QuickBooks connect flow (stdlib only).

Usage: qbo_oauth_mock.py --client-id ID --client-secret SECRET --redirect-uri URI [--realm-id R]
                         [--refresh-grace 86400] [--refresh-ttl 8726400]
Listens on 127.0.0.1 on a free port and prints, one per line, then flushes:
    port=PORT
    ready

Routes (behaving like Intuit's, external-apis.md 3.1):
    GET  /connect/oauth2?client_id&response_type=code&scope&redirect_uri&state
         the authorize page, approving at once: 302 to redirect_uri?code=C&state=S&realmId=R
         (a fresh single-use code). Wrong client_id / redirect_uri / response_type, no
         com.intuit.quickbooks.accounting in scope or no state: 400 text (Intuit's error page).
         With &deny=1: 302 to redirect_uri?error=access_denied&state=S.
    POST /oauth2/v1/tokens/bearer   (form-encoded, Authorization: Basic base64(id:secret),
         Accept: application/json)
         grant_type=authorization_code&code&redirect_uri: a code issued above, once; the answer
         is token-response.json's shape with fresh random tokens.
         grant_type=refresh_token&refresh_token: a refresh token issued here; new tokens. The
         used refresh token keeps working --refresh-grace seconds more (Intuit: ~24 h; 0: it dies
         at once) and every refresh token expires after --refresh-ttl seconds
         (x_refresh_token_expires_in); a used-up or expired one -> 400 invalid_grant.
         Bad Basic auth: 401 {"error":"invalid_client"}; unknown, replayed or mismatched code,
         unknown refresh token: 400 {"error_description":"Token invalid","error":"invalid_grant"}
         (token-error-invalid-grant.json); other mistakes: 400 invalid_request /
         unsupported_grant_type.
    POST /mock/codes[?delay_ms=N]
                         mint a code without the authorize page: JSON {"code": C}; exchanging
                         it answers only after N ms (a slow token endpoint)
    GET  /mock/issued    JSON {"access_tokens": [...], "refresh_tokens": [...], "codes": [...],
                         "token_calls": N, "code_grants": N, "refresh_grants": N}
                         (for leak scans and call counts; the grants count the tokens issued
                         by each grant type)
Requests, headers and bodies are never logged.
"""
import argparse
import base64
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

LOCK = threading.Lock()
STATE = {
    "codes": {},  # code -> {"used": bool}
    "access": [],
    "refresh": {},  # refresh token -> {"expires": t, "superseded": t | None}
    "refresh_list": [],
    "token_calls": 0,
    "grants": {"authorization_code": 0, "refresh_token": 0},
}
ARGS = None


def one(q, name):
    v = q.get(name)
    return v[0] if v and len(v) == 1 else None


def new_code(delay_ms=0):
    code = "mockcode_" + secrets.token_urlsafe(24)
    with LOCK:
        STATE["codes"][code] = {"used": False, "delay_ms": delay_ms}
    return code


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qbo-oauth-mock/1"

    def log_message(self, fmt, *args):  # never log requests (they carry codes and secrets)
        pass

    def send(self, status, body, ctype="application/json;charset=UTF-8", headers=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("intuit_tid", "mock-" + secrets.token_hex(8))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, obj):
        self.send(status, json.dumps(obj))

    def oauth_error(self, status, error, desc):
        self.send_json(status, {"error_description": desc, "error": error})

    # ---- GET ----
    def do_GET(self):
        u = urlsplit(self.path)
        q = parse_qs(u.query, keep_blank_values=True)
        if u.path == "/connect/oauth2":
            return self.authorize(q)
        if u.path == "/mock/issued":
            with LOCK:
                return self.send_json(200, {
                    "access_tokens": list(STATE["access"]),
                    "refresh_tokens": list(STATE["refresh_list"]),
                    "codes": list(STATE["codes"].keys()),
                    "token_calls": STATE["token_calls"],
                    "code_grants": STATE["grants"]["authorization_code"],
                    "refresh_grants": STATE["grants"]["refresh_token"],
                })
        self.send_json(404, {"error": "not_found"})

    def authorize(self, q):
        problems = []
        if one(q, "client_id") != ARGS.client_id:
            problems.append("client_id")
        if one(q, "response_type") != "code":
            problems.append("response_type")
        if "com.intuit.quickbooks.accounting" not in (one(q, "scope") or "").split(" "):
            problems.append("scope")
        if one(q, "redirect_uri") != ARGS.redirect_uri:
            problems.append("redirect_uri")
        state = one(q, "state")
        if not state:
            problems.append("state")
        if problems:
            return self.send(400, "invalid authorize request: " + ", ".join(problems) + "\n",
                             "text/plain")
        if one(q, "deny") == "1":
            params = {"error": "access_denied", "state": state}
        else:
            params = {"code": new_code(), "state": state, "realmId": ARGS.realm_id}
        self.send(302, b"", "text/plain",
                  {"Location": ARGS.redirect_uri + "?" + urlencode(params)})

    # ---- POST ----
    def do_POST(self):
        u = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        if u.path == "/mock/codes":
            q = parse_qs(u.query)
            delay = int(one(q, "delay_ms") or 0)
            return self.send_json(200, {"code": new_code(delay)})
        if u.path != "/oauth2/v1/tokens/bearer":
            return self.send_json(404, {"error": "not_found"})
        with LOCK:
            STATE["token_calls"] += 1
        if not self.basic_ok():
            return self.oauth_error(401, "invalid_client", "Client authentication failed")
        if (self.headers.get("Accept") or "").split(";")[0].strip() != "application/json":
            return self.oauth_error(400, "invalid_request", "Accept must be application/json")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return self.oauth_error(400, "invalid_request", "form-encoded body required")
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return self.oauth_error(400, "invalid_request", "malformed body")
        grant = one(form, "grant_type")
        if grant == "authorization_code":
            code, redirect = one(form, "code"), one(form, "redirect_uri")
            if code is None or redirect is None:
                return self.oauth_error(400, "invalid_request", "code and redirect_uri required")
            with LOCK:
                entry = STATE["codes"].get(code)
                ok = entry is not None and not entry["used"] and redirect == ARGS.redirect_uri
                if entry is not None:
                    entry["used"] = True  # a code works once, even when this use fails
            if entry is not None and entry["delay_ms"] > 0:
                time.sleep(entry["delay_ms"] / 1000.0)
            if not ok:
                return self.oauth_error(400, "invalid_grant", "Token invalid")
            return self.issue(grant)
        if grant == "refresh_token":
            rt = one(form, "refresh_token")
            with LOCK:
                now = time.time()
                rec = STATE["refresh"].get(rt) if rt is not None else None
                ok = rec is not None and rec["expires"] > now and (
                    rec["superseded"] is None or now < rec["superseded"] + ARGS.refresh_grace)
                if ok and rec["superseded"] is None:
                    rec["superseded"] = now
            if not ok:
                return self.oauth_error(400, "invalid_grant", "Token invalid")
            return self.issue(grant)
        return self.oauth_error(400, "unsupported_grant_type", "grant_type not supported")

    def basic_ok(self):
        h = self.headers.get("Authorization") or ""
        if not h.startswith("Basic "):
            return False
        try:
            got = base64.b64decode(h[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        want = ARGS.client_id + ":" + ARGS.client_secret
        return secrets.compare_digest(got.encode(), want.encode())

    def issue(self, grant):
        at = "mockAT_" + secrets.token_urlsafe(32)
        rt = "mockRT_" + secrets.token_urlsafe(24)
        with LOCK:
            STATE["grants"][grant] += 1
            STATE["access"].append(at)
            STATE["refresh"][rt] = {"expires": time.time() + ARGS.refresh_ttl, "superseded": None}
            STATE["refresh_list"].append(rt)
        self.send_json(200, {
            "access_token": at,
            "refresh_token": rt,
            "token_type": "bearer",
            "expires_in": 3600,
            "x_refresh_token_expires_in": ARGS.refresh_ttl,
        })


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--redirect-uri", required=True)
    p.add_argument("--realm-id", default="9130357766900456")
    p.add_argument("--refresh-grace", type=int, default=86400)
    p.add_argument("--refresh-ttl", type=int, default=8726400)
    ARGS = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print("port=%d" % srv.server_address[1])
    print("ready")
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
