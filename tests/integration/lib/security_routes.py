#!/usr/bin/env python3
"""tests/integration/lib/security_routes.py - the checks of tests/integration/security_routes.sh,
generated from the OpenAPI document the running engine serves, so that every route and method
in it is covered without a test of its own.

  security_routes.py CONFIG.json routes    authentication, tenants, SQL injection, traversal,
                                           oversized and nested bodies (the engine running)
  security_routes.py CONFIG.json secrets   the canary secrets in the log, the answers, the
                                           database file and its -wal/-shm (plain and base64)

CONFIG (written by security_routes.sh): base, admin, token_a, token_b, tenant_a, tenant_b,
a_run, a_schedule, a_event, a_ids (tenant A's identifiers), secrets (the canaries), db, logs,
answers, public (the routes allowed to need no token: "METHOD /path").
Prints "ok   ..." / "FAIL ..." lines, then "#counts PASSED FAILED". Python 3 stdlib only.
Must not: trust the engine's code for what it checks (the document is read over HTTP; every
expectation is written here).
"""
import base64
import http.client
import json
import os
import socket
import sys
import urllib.parse

CFG = json.load(open(sys.argv[1]))
U = urllib.parse.urlparse(CFG["base"])
PASSED = 0
FAILED = 0
ANSWERS = open(CFG["answers"] + ".py", "ab")
METHODS = ("get", "put", "post", "delete", "patch")

SQLI = [
    "' OR '1'='1",
    "1; DROP TABLE tenants; --",
    "\" OR \"\"=\"",
    "') UNION SELECT token_hash, tenant_id FROM api_tokens --",
    "%' OR 1=1 --",
    "1' AND (SELECT COUNT(*) FROM integration_credentials) > 0 --",
    "x'); DELETE FROM tenants; --",
]
# Values at the edges of what a parameter parser takes (no SQL in them, the same expectations).
ODD = ["", "-1", "0", "99999999999999999999", "1e3", "0x10", "\u00e9\u00e8", "\x00", "x" * 4000,
       "2026-13-45T99:99:99Z", "null", "[]", "{}", "%", "\\"]
SQL_ERRORS = ["syntax error", "sqlite", "unrecognized token", "no such table", "no such column",
              "SQL logic error", "near \""]
TRAVERSAL = [
    "..", "%2e%2e", "../../../../etc/passwd", "..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%2e%2e/%2e%2e/scripts/lib/sync",
    "..%252f..%252fetc%252fpasswd", "..%5c..%5cetc%5cpasswd", "....%2f%2f....%2f%2fetc%2fpasswd",
    "%2Fetc%2Fpasswd", "%2Fproc%2Fself%2Fenviron",
    "woo_order_to_qbo_invoice%00", "woo_order_to_qbo_invoice%00.lua", "woo_order_to_qbo_invoice.lua",
    "..%2fmappings%2fwoo_order_to_qbo_invoice", "%2e%2e%2fmappings%2fwoo_order_to_qbo_invoice",
    "..%2fscripts%2flib%2fsync", "lib%2fsync", "%2e",
]


def result(ok, desc, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("ok   " + desc)
    else:
        FAILED += 1
        print("FAIL " + desc)
        for line in str(detail).splitlines()[:20]:
            print("     | " + line)


class Client:
    def __init__(self):
        self.conn = None

    def request(self, method, path, headers=None, body=None):
        """(status, body bytes); status 0 when the connection failed."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(U.hostname, U.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                ANSWERS.write(data + b"\n")
                return r.status, data
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    return 0, str(e).encode()
        return 0, b""


C = Client()


def raw(data):
    """Send raw bytes on a new connection; (status, answer bytes), status 0 on no answer."""
    s = socket.create_connection((U.hostname, U.port), timeout=15)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and len(out) > 4096:
                break
    finally:
        s.close()
    ANSWERS.write(out + b"\n")
    try:
        return int(out.split(b" ", 2)[1]), out
    except (IndexError, ValueError):
        return 0, out


def alive():
    st, _ = C.request("GET", "/health")
    return st == 200


# ---- the document ----

def load_doc():
    st, data = C.request("GET", "/api/openapi.json")
    if st != 200:
        result(False, "GET /api/openapi.json", f"{st} {data[:300]!r}")
        return None
    return json.loads(data)


def deref(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        parts = node["$ref"].lstrip("#/").split("/")
        node = doc
        for p in parts:
            node = node[p]
        seen += 1
    return node


def operations(doc):
    """[(METHOD, path, op, params, json_schema or None, is_public)]"""
    out = []
    top = doc.get("security", [])
    for path, item in doc.get("paths", {}).items():
        item = deref(doc, item)
        common = [deref(doc, p) for p in item.get("parameters", [])]
        for m in METHODS:
            if m not in item:
                continue
            op = item[m]
            params = common + [deref(doc, p) for p in op.get("parameters", [])]
            sec = op.get("security", top)
            public = not sec or all(not req for req in sec)
            schema = None
            content = (deref(doc, op.get("requestBody", {})) or {}).get("content", {})
            if "application/json" in content:
                schema = deref(doc, content["application/json"].get("schema", {}))
            out.append((m.upper(), path, op, params, schema, public, content))
    return out


def fill(path, values=None):
    values = values or {}

    def val(name):
        if name in values:
            return values[name]
        if name == "syncId":
            return CFG["a_run"]
        if name == "id":
            if "/schedules/" in path:
                return str(CFG["a_schedule"])
            if "/events/" in path:
                return str(CFG["a_event"])
            return "1"
        return {"platform": "woocommerce", "entity": "orders",
                "name": "woo_order_to_qbo_invoice"}.get(name, "x")

    out = []
    for seg in path.split("/"):
        if seg.startswith("{") and seg.endswith("}"):
            out.append(val(seg[1:-1]))
        else:
            out.append(seg)
    return "/".join(out)


def string_fields(doc, schema, depth=0):
    """Variants of the body schema's string fields: [(dotted name, setter(body, value))]."""
    fields = []
    schema = deref(doc, schema or {})
    if depth > 3 or not isinstance(schema, dict):
        return fields
    for variant in schema.get("oneOf", []) + schema.get("anyOf", []):
        fields += string_fields(doc, variant, depth + 1)
    for name, sub in (schema.get("properties") or {}).items():
        sub = deref(doc, sub)
        t = sub.get("type")
        types = t if isinstance(t, list) else [t]
        if "string" in types or ("enum" in sub and all(isinstance(e, str) for e in sub["enum"])):
            fields.append(name)
        elif "object" in types:
            fields += [name + "." + f for f in string_fields(doc, sub, depth + 1)]
    return fields


def body_with(fields, value, key_too=False):
    body = {}
    for f in fields:
        node = body
        parts = f.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    if key_too:
        body[value] = value
    return json.dumps(body)


def query_value(doc, q):
    """A valid value for a query parameter, tenant A's run id for the ones naming a run."""
    sch = deref(doc, q.get("schema", {}))
    t = sch.get("type")
    if t == "integer":
        return str(sch.get("minimum", 1) if sch.get("minimum", 1) > 0 else 1)
    if "enum" in sch:
        return str(sch["enum"][0])
    if q["name"].lower().endswith("id"):
        return CFG["a_run"]
    return "shop-a"


def has_a_ids(data):
    text = data.decode("utf-8", "replace")
    return [i for i in CFG["a_ids"] if i and i in text]


# ---- the checks ----

def check_routes():
    doc = load_doc()
    if doc is None:
        return
    ops = operations(doc)
    result(len(ops) >= 20, f"the OpenAPI document lists {len(ops)} operations")
    public = set(CFG["public"])
    admin = {"Authorization": "Bearer " + CFG["admin"]}
    as_b = {"Authorization": "Bearer " + CFG["token_b"]}
    json_h = {"Content-Type": "application/json"}

    print("== every operation documented without authentication is on the public list")
    for m, path, op, params, schema, pub, content in ops:
        key = f"{m} {path}"
        if pub:
            result(key in public, f"{key} is documented public and is on the public list",
                   "a route without a token must be added to security_routes.sh's list on purpose")

    print("== no token, a wrong token, another tenant's token naming its tenant")
    wrong = "Bearer " + CFG["admin"][:-1] + ("x" if CFG["admin"][-1] != "x" else "y")
    for m, path, op, params, schema, pub, content in ops:
        if pub:
            continue
        p = fill(path)
        body = "{}" if content else None
        hdr = dict(json_h) if content else {}
        for label, extra in (("no token", {}),
                             ("a wrong token", {"Authorization": "Bearer wrong-token-0123456789abcdef"}),
                             ("the admin token with its last character changed", {"Authorization": wrong}),
                             ("a Basic credential", {"Authorization": "Basic " + base64.b64encode(
                                 (CFG["admin"] + ":").encode()).decode()})):
            st, data = C.request(m, p, {**hdr, **extra}, body)
            result(st == 401, f"{m} {path} with {label}: 401", f"{st} {data[:300]!r}")
        st, data = C.request(m, p, {**hdr, **as_b, "X-Tenant-ID": CFG["tenant_a"]}, body)
        result(st == 403, f"{m} {path} with tenant B's token naming tenant A: 403", f"{st} {data[:300]!r}")
        result(not has_a_ids(data), "... and nothing of tenant A in the answer", has_a_ids(data))

    print("== tenant B's token (and the administrator acting for B) on tenant A's resources")
    for m, path, op, params, schema, pub, content in ops:
        if pub:
            continue
        names = [q["name"] for q in params if q.get("in") == "query"]
        queries = ["", "?" + urllib.parse.urlencode(
            {q["name"]: query_value(doc, q) for q in params if q.get("in") == "query"})] if names else [""]
        bodies = [None]
        if content:
            fields = string_fields(doc, schema) if schema else []
            bodies = ["{}"] + ([body_with(fields, CFG["a_run"])] if fields else [])
            if "/retry" in path:
                bodies.append(json.dumps({"runId": CFG["a_run"]}))
        names_in_path = [s[1:-1] for s in path.split("/") if s.startswith("{")]
        a_resource = any(n in ("syncId", "id") for n in names_in_path)
        for who, hdr in (("tenant B's token", as_b), ("the admin acting for B", {**admin, "X-Tenant-ID": CFG["tenant_b"]})):
            for q in queries:
                for b in bodies:
                    h = dict(hdr)
                    if b is not None:
                        h.update(json_h)
                    st, data = C.request(m, fill(path) + q, h, b)
                    desc = f"{m} {path}{q and ' ?' + ','.join(names)} {('body ' + b[:40]) if b else ''} as {who}"
                    leaked = has_a_ids(data)
                    if 400 <= st < 500 and (CFG["a_run"] in q or CFG["a_run"] in (b or "")):
                        # an error naming the value the request sent is an echo, not A's data
                        leaked = [i for i in leaked if i != CFG["a_run"]]
                    ok = 0 < st < 500 and not leaked
                    if a_resource:
                        # a bad query value may be refused first (400): still nothing of A
                        ok = ok and st in ((400, 403, 404) if q else (403, 404))
                    result(ok, desc + (": 403/404" if a_resource else ": no 5xx") + ", nothing of A",
                           f"{st} leaked={leaked} {data[:300]!r}")

    print("== path traversal in every path parameter")
    for m, path, op, params, schema, pub, content in ops:
        names_in_path = [s[1:-1] for s in path.split("/") if s.startswith("{")]
        for n in names_in_path:
            for t in TRAVERSAL:
                h = dict(admin)
                b = None
                if content:
                    h.update(json_h)
                    b = '{"id": 1}'
                st, data = C.request(m, fill(path, {n: t}), h, b)
                bad = [w for w in (b"root:", b"PATH=", b"c_next_page") if w in data]
                result(400 <= st < 500 and not bad, f"{m} {path} with {n}={t}: 4xx, no file content",
                       f"{st} {data[:300]!r}")
        if "{name}" in path:
            # a NUL and a backslash on the wire, where no HTTP library would send them
            for seg in (b"woo_order_to_qbo_invoice\x00", b"..\\..\\etc\\passwd", b"/etc/passwd"):
                p = fill(path, {"name": "@@"}).encode().replace(b"@@", seg)
                req = (m.encode() + b" " + p + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       b"Authorization: Bearer " + CFG["admin"].encode() + b"\r\n"
                       b"Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"id\": 1}")
                st, data = raw(req)
                result(st == 0 or 400 <= st < 500, f"{m} {path} with name={seg!r} on the wire: refused",
                       f"{st} {data[:300]!r}")
                result(alive(), "... and the engine answers /health")

    print("== oversized and deeply nested JSON bodies")
    deep_arr = "[" * 20000 + "]" * 20000
    deep_obj = '{"a":' * 6000 + "1" + "}" * 6000
    big = json.dumps({"id": 1, "pad": "x" * 70000})
    for m, path, op, params, schema, pub, content in ops:
        if "application/json" not in content:
            continue
        h = {**admin, **json_h, "X-Tenant-ID": CFG["tenant_b"]}
        if not pub:
            st, data = C.request(m, fill(path), {**h, "Content-Type": "text/plain"}, '{"id": 1}')
            result(st == 415, f"{m} {path} with a text/plain body: 415", f"{st} {data[:200]!r}")
        for label, b, want in (("over MAX_BODY_BYTES", big, (413,)),
                               ("a JSON string at the top", '"x"', None),
                               ("invalid UTF-8", b'{"id": "\xff\xfe"}', None),
                               ("a truncated document", '{"id": [1, 2', None),
                               ("20,000 nested arrays", deep_arr, None),
                               ("6,000 nested objects", deep_obj, None),
                               ("nested arrays in a field", '{"filters": ' + deep_arr[:30000] + deep_arr[-30000:] + "}", None)):
            st, data = C.request(m, fill(path), h, b)
            ok = (st in want) if want else (400 <= st < 500)
            if pub and not want:
                ok = 400 <= st < 500  # webhooks refuse an unsigned body first: still a clean 4xx
            result(ok, f"{m} {path} with a body of {label}: {'413' if want else 'a clean 4xx'}",
                   f"{st} {data[:200]!r}")
            result(alive(), "... and the engine answers /health")

    print("== SQL injection in every parameter and every string body field")
    for m, path, op, params, schema, pub, content in ops:
        names_in_path = [s[1:-1] for s in path.split("/") if s.startswith("{")]
        fields = string_fields(doc, schema) if schema else []
        for who, hdr in (("admin for B", {**admin, "X-Tenant-ID": CFG["tenant_b"]}), ("tenant B", as_b)):
            worst = []

            def probe(label, mm, pp, hh, bb):
                h2 = dict(hh)
                if bb is not None:
                    h2["Content-Type"] = "application/json"
                st, data = C.request(mm, pp, h2, bb)
                low = data.decode("utf-8", "replace").lower()
                errs = [e for e in SQL_ERRORS if e.lower() in low]
                if st == 422 and b'"code":"load_error"' in data:
                    # a mapping's text was compiled as Lua (never as SQL): Lua's own "syntax error"
                    errs = [e for e in errs if e != "syntax error"]
                if not (0 < st < 500) or errs:
                    worst.append(f"{label}: {st} {errs} {data[:200]!r}")

            base_body = "{}" if content else None
            for s in SQLI + ODD:
                enc = urllib.parse.quote(s, safe="")
                for n in names_in_path:
                    probe(f"path {n}={s}", m, fill(path, {n: enc}), hdr, base_body)
                for q in params:
                    if q.get("in") == "query":
                        probe(f"query {q['name']}={s}", m,
                              fill(path) + "?" + urllib.parse.urlencode({q["name"]: s}), hdr, base_body)
                    elif (q.get("in") == "header" and q["name"].lower() != "authorization"
                          and s.isprintable() and len(s) < 1000):
                        probe(f"header {q['name']}={s}", m, fill(path), {**hdr, q["name"]: s}, base_body)
                if content:
                    probe(f"every string body field={s}", m, fill(path), hdr, body_with(fields, s, key_too=True))
                    for f in fields:
                        probe(f"body {f}={s}", m, fill(path), hdr, body_with([f], s))
            result(not worst, f"{m} {path} as {who}: SQL injection strings and odd values never give a 5xx or an SQL error",
                   "\n".join(worst))
        result(alive(), "... and the engine answers /health")


def needles(secret):
    """The secret in plain text, URL-encoded and in base64 (std and url-safe) at every offset."""
    s = secret.encode()
    out = {"plain": [s], "url-encoded": [urllib.parse.quote(secret, safe="").encode()]}
    b64 = []
    for off in range(3):
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            e = enc(b"\0" * off + s)
            start = {0: 0, 1: 2, 2: 3}[off]  # the first character not made of the prefix
            b64.append(e[start:len(e) - 4])  # the tail may mix with what follows
    out["base64"] = b64
    return out


def found_in(data):
    out = []
    for i, secret in enumerate(CFG["secrets"]):
        for kind, ns in needles(secret).items():
            if any(n and n in data for n in ns):
                out.append(f"canary #{i} ({secret[:10]}...) in {kind}")
    return out


def check_secrets():
    # the search itself can fail: a canary hidden as HTTP Basic credentials is found
    s0 = CFG["secrets"][0]
    for label, blob in (("plain", b"x" + s0.encode() + b"y"),
                        ("base64 after 'user:'", base64.b64encode(b"user:" + s0.encode())),
                        ("base64 after 'ab:'", base64.b64encode(b"ab:" + s0.encode() + b":z")),
                        ("url-safe base64", base64.urlsafe_b64encode(b"k" + s0.encode()))):
        result(bool(found_in(blob)), f"the secret search finds a canary in {label}")
    locations = []
    for p in CFG["logs"]:
        locations.append(("the log " + os.path.basename(p), p))
    locations.append(("the answers of the seed", CFG["answers"]))
    locations.append(("the answers of the route checks", CFG["answers"] + ".py"))
    for suffix in ("", "-wal", "-shm"):
        for d in (CFG["db"], os.path.join(os.path.dirname(CFG["db"]), "snap", os.path.basename(CFG["db"]))):
            if os.path.exists(d + suffix):
                locations.append(("the database file " + d.replace(os.path.dirname(CFG["db"]), "") + suffix, d + suffix))
    ANSWERS.flush()
    for label, p in locations:
        data = open(p, "rb").read()
        if not data and ".out" in label:
            continue  # serve's stdout is empty: nothing to leak
        found = found_in(data)
        result(not found and len(data) > 0, f"no canary secret in {label} ({len(data)} bytes)", "\n".join(found) or "empty")


def main():
    try:
        if sys.argv[2] == "routes":
            check_routes()
        elif sys.argv[2] == "secrets":
            check_secrets()
    finally:
        ANSWERS.close()
        print(f"#counts {PASSED} {FAILED}")


if __name__ == "__main__":
    main()
