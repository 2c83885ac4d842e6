#!/usr/bin/env python3
"""A small upstream for engine.http tests (Python 3 stdlib only).

Listens on 127.0.0.1 with ephemeral ports and prints, one per line, then flushes:
    http=http://127.0.0.1:PORT
    https=https://127.0.0.1:PORT      (only with --cert/--key)
    ready

Routes (any method unless noted; {key} counters are per server process):
    /echo[/...]                 JSON {method, path, query, args, headers, body, body_len}
    /status/{code}[?ct=type]    that status, small JSON body (none for 204/304)
    /slow?ms=N[&key=K]          answers 200 after N ms (counts hits on K)
    /retry-after/{key}?n=1&after=1&mode=seconds|date
                                the first n hits answer 429 with Retry-After, then 200 JSON
                                {key, hits, since_first_ms}
    /flaky/{key}?n=2&code=503   the first n hits answer code, then 200 JSON {key, hits}
    /count/{key}                JSON {key, hits} without counting this request
    /big?n=BYTES&chunked=0|1    n bytes of 'x' (chunked: no Content-Length)
    /redirect?to=PATH&code=302  redirect to PATH on this server
    /chain/{n}                  n redirects in a row, then the echo
    /json                       a JSON document (application/json; charset=utf-8)
    /problem                    a JSON document as application/problem+json, status 422
    /badjson                    "{not json" labelled application/json
    /headers                    repeated and mixed-case response headers
    /close                      closes the connection without answering
Request headers are never logged.
"""
import argparse
import email.utils
import json
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

COUNTS = {}
FIRST = {}
LOCK = threading.Lock()


def hit(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        FIRST.setdefault(key, time.monotonic())
        return COUNTS[key], int((time.monotonic() - FIRST[key]) * 1000)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tallysync-mock/1"

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(5)
            self.request.do_handshake()  # in this thread, not the accept loop
            self.request.settimeout(None)
        super().setup()

    def log_message(self, fmt, *args):  # quiet; never prints headers anyway
        if self.server.verbose:
            sys.stderr.write("mock: %s\n" % (fmt % args))

    # -- helpers -----------------------------------------------------------------------
    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body=b"", ctype="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status not in (204, 304) and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, ctype="application/json", headers=()):
        self.send(status, json.dumps(obj, sort_keys=True), ctype, headers)

    # -- dispatch ----------------------------------------------------------------------
    def handle_any(self):
        body = self.read_body()
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = [p for p in url.path.split("/") if p]
        route = parts[0] if parts else ""
        try:
            if route == "echo":
                hdrs = {}
                for k, v in self.headers.items():
                    k = k.lower()
                    hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
                self.send_json(200, {
                    "method": self.command, "path": url.path, "query": url.query,
                    "args": parse_qs(url.query, keep_blank_values=True), "headers": hdrs,
                    "body": body.decode("utf-8", "replace"), "body_len": len(body)})
            elif route == "status":
                code = int(parts[1])
                self.send_json(code, {"status": code}, q.get("ct", "application/json"))
            elif route == "slow":
                if "key" in q:
                    hit(q["key"])
                time.sleep(int(q.get("ms", "1000")) / 1000.0)
                self.send(200, "slow done")
            elif route == "retry-after":
                key = parts[1]
                hits, since = hit(key)
                if hits <= int(q.get("n", "1")):
                    after = int(q.get("after", "1"))
                    if q.get("mode") == "date":
                        value = email.utils.formatdate(time.time() + after, usegmt=True)
                    else:
                        value = str(after)
                    self.send_json(429, {"error": "slow down"}, headers=[("Retry-After", value)])
                else:
                    self.send_json(200, {"key": key, "hits": hits, "since_first_ms": since})
            elif route == "flaky":
                key = parts[1]
                hits, _ = hit(key)
                if hits <= int(q.get("n", "2")):
                    self.send_json(int(q.get("code", "503")), {"error": "try again"})
                else:
                    self.send_json(200, {"key": key, "hits": hits})
            elif route == "count":
                with LOCK:
                    self.send_json(200, {"key": parts[1], "hits": COUNTS.get(parts[1], 0)})
            elif route == "big":
                n = int(q.get("n", "1048576"))
                if q.get("chunked") == "1":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"x" * 65536
                    left = n
                    while left > 0:
                        c = chunk[:min(left, len(chunk))]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                        left -= len(c)
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send(200, b"x" * n, "application/octet-stream")
            elif route == "redirect":
                self.send(int(q.get("code", "302")), "moved",
                          headers=[("Location", q.get("to", "/echo"))])
            elif route == "chain":
                n = int(parts[1])
                self.send(302, "moved", headers=[("Location", "/chain/%d" % (n - 1) if n > 1
                                                  else "/echo/chained")])
            elif route == "json":
                self.send_json(200, {"hello": "world", "n": 42, "list": [1, 2, 3],
                                     "nested": {"ok": True}},
                               "application/json; charset=utf-8")
            elif route == "problem":
                self.send_json(422, {"title": "invalid", "status": 422},
                               "application/problem+json")
            elif route == "badjson":
                self.send(200, "{not json", "application/json")
            elif route == "headers":
                self.send(200, "ok", headers=[("X-Multi", "a"), ("X-Multi", "b"),
                                              ("X-Mixed-Case", "Value"),
                                              ("Set-Cookie", "c=1")])
            elif route == "close":
                self.close_connection = True
                self.request.shutdown(socket.SHUT_RDWR)
            else:
                self.send_json(404, {"error": "no route", "path": url.path})
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    verbose = False
    tls = None

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    servers = [("http", Server(("127.0.0.1", 0), Handler))]
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        s = Server(("127.0.0.1", 0), Handler)
        s.tls = ctx
        servers.append(("https", s))
    for name, s in servers:
        s.verbose = args.verbose
        print("%s=%s://127.0.0.1:%d" % (name, name, s.server_address[1]))
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
