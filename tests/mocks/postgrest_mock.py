#!/usr/bin/env python3
"""A PostgREST-compatible endpoint for the Supabase connector's upserts (Python 3 stdlib only).
Listens on 127.0.0.1 on an ephemeral port, prints that port alone on one line of stdout, flushes.

The valid key comes from the environment (never argv): MOCK_SUPABASE_KEY. Every /rest/v1 request
needs `apikey: KEY`; an Authorization header, when sent, must be `Bearer KEY` (a key starting with
sb_secret_ is not a JWT: it must come without Authorization). Otherwise 401 PGRST301.

Tables are declared by the test (nothing exists at start):
  POST /_mock/tables  {"schema": "public", "name": "orders",
                       "columns": {"id": {"type": "bigint", "not_null": true},
                                   "total": {"type": "numeric"}, "sku": {"type": "text"}},
                       "primary_key": ["id"], "unique": [["sku"]]}
       types: bigint/integer/int, numeric, text, boolean, timestamptz, jsonb. Redeclaring a table
       empties it.
  GET  /_mock/rows?schema=public&table=orders   -> JSON array of the stored rows (insert order)
  GET  /_mock/requests                          -> {"count": N, "log": [{method, path, schema,
                                                    rows, status, prefer}, ...]}
  POST /_mock/reset                             -> request count and log back to zero
  POST /_mock/faults  {"next": N, "status": 500|502|503, "delay_ms": MS, "drop": true}
       the next N /rest/v1 requests: answer `status` with an error body (503 also sends
       Retry-After: 0), or sleep delay_ms first (then answer normally), or close the connection
       without an answer (drop).

PostgREST behaviour (GET /rest/v1/ answers 200 with a minimal OpenAPI root):
  POST /rest/v1/{table}[?on_conflict=a,b][&columns=a,b]  body: a JSON object or array.
    Schema from Content-Profile (POST) / Accept-Profile (GET), default public; only declared
    schemas are exposed (406 PGRST106 otherwise). Unknown table: 404 42P01. Body not JSON: 400
    PGRST102. Unknown column: 400 PGRST204. Columns are `columns=`, else the first object's keys
    (objects with other keys: 400 PGRST102 "All object keys must match"); a key missing from
    an object is NULL unless `Prefer: missing=default` (the column's declared "default"). The
    whole body is ONE statement: rows are checked in order and the first bad one fails it, with
    nothing written: 22P02 invalid input syntax (400), 23502 not-null (400), 23505 unique (409),
    42P10 on_conflict matching no unique constraint (400), 21000 one row hit twice (400).
    `Prefer: resolution=merge-duplicates` updates the conflicting row's payload columns
    (conflict target: on_conflict or the primary key), `ignore-duplicates` skips it; without
    either a conflict is 23505. `return=representation` answers 201 with the rows written,
    otherwise 201 with no body.
Request headers and keys are never logged or echoed.

--tables-sql FILE declares, at start, the tables of FILE's CREATE TABLE statements in schema
public (the demo gives mappings/supabase/woo.sql): one column per line, `name type [PRIMARY KEY]
[NOT NULL] [DEFAULT literal]`; char(n)/varchar -> text, numeric(p, s) -> numeric; other lines
(indexes, comments) are skipped. A type the mock does not know is an error naming it.
"""
import decimal
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

KEY = os.environ.get("MOCK_SUPABASE_KEY", "")
LOCK = threading.Lock()
# (schema, name) -> {"columns": {...}, "order": [...], "pk": [...], "unique": [[...]], "rows": []}
TABLES = {}
REQUESTS = []    # log of /rest/v1 requests
FAULTS = {"next": 0}


class PgError(Exception):
    def __init__(self, status, code, message, details=None, hint=None):
        super().__init__(message)
        self.status, self.body = status, {"code": code, "message": message,
                                          "details": details, "hint": hint}


def coerce(col, typ, v):
    """The value PostgreSQL would store for JSON value v in a column of type typ."""
    if v is None:
        return None
    def bad():
        shown = v if isinstance(v, str) else json.dumps(v)
        raise PgError(400, "22P02", 'invalid input syntax for type %s: "%s"' % (typ, shown))
    if typ in ("bigint", "integer", "int"):
        if isinstance(v, bool):
            bad()
        if isinstance(v, int):
            return v
        if isinstance(v, str) and re.fullmatch(r"\s*[+-]?\d+\s*", v):
            return int(v)
        if isinstance(v, float) and v.is_integer():
            return int(v)
        bad()
    if typ == "numeric":
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            bad()
        try:
            d = decimal.Decimal(str(v).strip())
        except decimal.InvalidOperation:
            bad()
        if not d.is_finite():
            bad()
        return str(d)
    if typ == "boolean":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("t", "true", "f", "false", "yes", "no", "1", "0"):
            return v.lower() in ("t", "true", "yes", "1")
        bad()
    if typ == "timestamptz":
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?)?"
                                               r"(Z|[+-]\d\d(:?\d\d)?)?", v):
            return v
        bad()
    if typ == "jsonb":
        return v
    # text
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def pg_text(v):
    return "null" if v is None else str(v)


def upsert(schema, name, body, query, prefer):
    t = TABLES.get((schema, name))
    if t is None:
        raise PgError(404, "42P01", 'relation "%s.%s" does not exist' % (schema, name))
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
        raise PgError(400, "PGRST102", "Empty or invalid json")
    if "columns" in query:
        cols = [c.strip() for c in query["columns"][0].split(",") if c.strip()]
    else:  # without columns=, PostgREST wants the same keys in every object
        cols = list(body[0]) if body else []
        if any(set(r) != set(cols) for r in body):
            raise PgError(400, "PGRST102", "All object keys must match")
    for c in cols:
        if c not in t["columns"]:
            raise PgError(400, "PGRST204", "Could not find the '%s' column of '%s' in the "
                                           "schema cache" % (c, name))
    resolution = None
    for p in prefer:
        if p in ("resolution=merge-duplicates", "resolution=ignore-duplicates"):
            resolution = p.split("=", 1)[1]
    missing_default = "missing=default" in prefer
    target = t["pk"]
    if "on_conflict" in query:
        target = [c.strip() for c in query["on_conflict"][0].split(",") if c.strip()]
    if resolution and target:
        if not any(sorted(target) == sorted(u) for u in [t["pk"]] + t["unique"]):
            raise PgError(400, "42P10", "there is no unique or exclusion constraint matching the "
                                         "ON CONFLICT specification")
    rows = [dict(r) for r in t["rows"]]  # the statement works on a copy: all or nothing
    constraints = [tuple(c) for c in [t["pk"]] + t["unique"] if c]
    index = {cons: {} for cons in constraints}  # constraint -> key -> row position

    def key_of(row, cons):
        k = tuple(row[c] for c in cons)
        return None if None in k else k

    for i, row in enumerate(rows):
        for cons in constraints:
            k = key_of(row, cons)
            if k is not None:
                index[cons][k] = i
    tgt = tuple(target)
    tgt_cons = next((cons for cons in constraints if sorted(cons) == sorted(tgt)), None)
    touched = set()
    written = []
    for r in body:
        new = {}
        for c in t["order"]:
            spec = t["columns"][c]
            if c in cols and (c in r or not missing_default):
                new[c] = coerce(c, spec["type"], r.get(c))
            else:  # not in the INSERT's column list, or missing=default
                new[c] = coerce(c, spec["type"], spec.get("default"))
        for c in t["order"]:
            if t["columns"][c].get("not_null") and new[c] is None:
                raise PgError(400, "23502", 'null value in column "%s" of relation "%s" violates '
                                            'not-null constraint' % (c, name),
                              "Failing row contains (%s)."
                              % ", ".join(pg_text(new[x]) for x in t["order"]))
        conflict = None
        if resolution and tgt_cons is not None:
            k = key_of(new, tgt_cons)
            if k is not None:
                conflict = index[tgt_cons].get(k)
        if conflict is not None:
            if resolution == "ignore-duplicates":
                continue
            if conflict in touched:
                raise PgError(400, "21000", "ON CONFLICT DO UPDATE command cannot affect row a "
                                            "second time",
                              None, "Ensure that no rows proposed for insertion within the same "
                                    "command have duplicate constrained values.")
            merged = dict(rows[conflict])
            for c in cols:
                merged[c] = new[c]
            candidate, skip = merged, conflict
        else:
            candidate, skip = new, None
        for cons in constraints:
            k = key_of(candidate, cons)
            if k is None:
                continue
            i = index[cons].get(k)
            if i is not None and i != skip:
                if list(cons) == t["pk"]:
                    cname = "%s_pkey" % name
                else:
                    cname = "%s_%s_key" % (name, "_".join(cons))
                raise PgError(409, "23505", 'duplicate key value violates unique constraint "%s"'
                              % cname, "Key (%s)=(%s) already exists." %
                              (", ".join(cons), ", ".join(pg_text(x) for x in k)))
        if skip is not None:
            for cons in constraints:
                k = key_of(rows[skip], cons)
                if k is not None:
                    index[cons].pop(k, None)
            rows[skip] = candidate
        else:
            rows.append(candidate)
            skip = len(rows) - 1
        touched.add(skip)
        for cons in constraints:
            k = key_of(candidate, cons)
            if k is not None:
                index[cons][k] = skip
        written.append(candidate)
    t["rows"] = rows
    return written


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # nothing is logged: headers carry keys
        pass

    def send_json(self, status, doc, headers=None):
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        if doc is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def authorized(self):
        if not KEY or self.headers.get("apikey") != KEY:
            return False
        auth = self.headers.get("Authorization")
        if auth is None:
            return True
        return not KEY.startswith("sb_secret_") and auth == "Bearer " + KEY

    def control(self, method, url, raw):
        q = parse_qs(url.query)
        with LOCK:
            if method == "POST" and url.path == "/_mock/tables":
                d = json.loads(raw or b"{}")
                cols = d["columns"]
                TABLES[(d.get("schema", "public"), d["name"])] = {
                    "columns": cols, "order": list(cols), "pk": d.get("primary_key", []),
                    "unique": d.get("unique", []), "rows": []}
                return self.send_json(201, {"ok": True})
            if method == "GET" and url.path == "/_mock/rows":
                t = TABLES.get((q.get("schema", ["public"])[0], q.get("table", [""])[0]))
                if t is None:
                    return self.send_json(404, {"error": "no such table"})
                return self.send_json(200, t["rows"])
            if method == "GET" and url.path == "/_mock/requests":
                return self.send_json(200, {"count": len(REQUESTS), "log": REQUESTS})
            if method == "POST" and url.path == "/_mock/reset":
                REQUESTS.clear()
                FAULTS.clear()
                FAULTS["next"] = 0
                return self.send_json(200, {"ok": True})
            if method == "POST" and url.path == "/_mock/faults":
                d = json.loads(raw or b"{}")
                FAULTS.clear()
                FAULTS.update(d)
                return self.send_json(200, {"ok": True})
        return self.send_json(404, {"error": "unknown mock route"})

    def handle_any(self, method):
        url = urlsplit(self.path)
        raw = self.read_body()
        if url.path.startswith("/_mock/"):
            return self.control(method, url, raw)
        if not url.path.startswith("/rest/v1/"):
            return self.send_json(404, {"error": "not found"})
        profile = self.headers.get("Content-Profile" if method == "POST" else "Accept-Profile")
        schema = profile or "public"
        prefer = [p.strip() for p in ",".join(self.headers.get_all("Prefer") or []).split(",")
                  if p.strip()]
        entry = {"method": method, "path": url.path, "schema": schema, "rows": None,
                 "status": None, "prefer": prefer, "query": url.query}
        with LOCK:
            REQUESTS.append(entry)
            fault = None
            if FAULTS.get("next", 0) > 0:
                FAULTS["next"] -= 1
                fault = dict(FAULTS)
        if fault:
            if fault.get("drop"):
                entry["status"] = "dropped"
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            if fault.get("delay_ms"):
                time.sleep(fault["delay_ms"] / 1000.0)
            if fault.get("status"):
                entry["status"] = fault["status"]
                hdr = {"Retry-After": "0"} if fault["status"] == 503 else None
                return self.send_json(fault["status"], {"code": "XX000",
                                                        "message": "injected fault",
                                                        "details": None, "hint": None}, hdr)
        if not self.authorized():
            entry["status"] = 401
            return self.send_json(401, {"code": "PGRST301",
                                        "message": "No suitable key or wrong key type",
                                        "details": None, "hint": None})
        schemas = sorted({s for (s, _) in TABLES} | {"public"})
        if schema not in schemas:
            entry["status"] = 406
            return self.send_json(406, {"code": "PGRST106", "message": "Invalid schema: " + schema,
                                        "details": None,
                                        "hint": "Only the following schemas are exposed: "
                                                + ", ".join(schemas)})
        if method == "GET" and url.path == "/rest/v1/":
            entry["status"] = 200
            return self.send_json(200, {"swagger": "2.0", "info": {"title": "PostgREST API"},
                                        "paths": {}})
        name = url.path[len("/rest/v1/"):]
        if method != "POST" or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name):
            entry["status"] = 405
            return self.send_json(405, {"code": "PGRST117", "message": "Unsupported HTTP method",
                                        "details": None, "hint": None})
        try:
            try:
                body = json.loads(raw)
            except ValueError:
                raise PgError(400, "PGRST102", "Empty or invalid json")
            entry["rows"] = len(body) if isinstance(body, list) else 1
            with LOCK:
                written = upsert(schema, name, body, parse_qs(url.query), prefer)
        except PgError as e:
            entry["status"] = e.status
            return self.send_json(e.status, e.body)
        entry["status"] = 201
        if "return=representation" in prefer:
            return self.send_json(201, written)
        return self.send_json(201, None)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


SQL_TYPES = {"bigint": "bigint", "integer": "integer", "int": "int", "numeric": "numeric",
             "text": "text", "boolean": "boolean", "timestamptz": "timestamptz", "jsonb": "jsonb",
             "char": "text", "varchar": "text"}


def tables_from_sql(text):
    """{name: declaration} from CREATE TABLE statements (see --tables-sql)."""
    text = re.sub(r"--[^\n]*", "", text)
    out = {}
    for m in re.finditer(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\((.*?)\);", text, re.S | re.I):
        cols, pk = {}, []
        for line in m.group(2).split("\n"):
            line = line.strip().rstrip(",")
            c = re.match(r"(\w+)\s+(\w+)(?:\([\d\s,]*\))?(.*)$", line)
            if not c:
                continue
            name, typ, rest = c.group(1), c.group(2).lower(), c.group(3)
            if typ not in SQL_TYPES:
                raise SystemExit("postgrest_mock: %s.%s: type %s is not known to the mock"
                                 % (m.group(1), name, typ))
            spec = {"type": SQL_TYPES[typ]}
            if re.search(r"\bNOT NULL\b|\bPRIMARY KEY\b", rest, re.I):
                spec["not_null"] = True
            if re.search(r"\bPRIMARY KEY\b", rest, re.I):
                pk.append(name)
            d = re.search(r"\bDEFAULT\s+('(?:[^']|'')*'|\S+)", rest, re.I)
            if d:
                lit = d.group(1)
                if lit.startswith("'"):
                    lit = lit[1:-1].replace("''", "'")
                    spec["default"] = json.loads(lit) if spec["type"] == "jsonb" else lit
                elif lit.lower() in ("true", "false"):
                    spec["default"] = lit.lower() == "true"
                else:
                    spec["default"] = json.loads(lit)
            cols[name] = spec
        out[m.group(1)] = {"columns": cols, "order": list(cols), "pk": pk, "unique": [],
                           "rows": []}
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--tables-sql":
        with open(sys.argv[2]) as f:
            for name, t in tables_from_sql(f.read()).items():
                TABLES[("public", name)] = t
    elif len(sys.argv) > 1:
        raise SystemExit("usage: postgrest_mock.py [--tables-sql FILE]")
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
