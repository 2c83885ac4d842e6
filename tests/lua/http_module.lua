-- http_module.lua - engine.http against tests/mocks/http_test_server.py.
-- Not a *_spec (ctest would run it without a server): tests/integration/http_module.sh runs it.
--
-- usage: tallysync run tests/lua/http_module.lua HTTP_BASE HTTPS_BASE CA_FILE [MODE]
--   CA_FILE ""   the full suite; ENGINE_HTTP_CA_FILE is unset, so HTTPS must fail with "tls"
--   CA_FILE path ENGINE_HTTP_CA_FILE points at it: only the HTTPS checks run, and they must pass
--   MODE "budget": one slow request that must stop at the script's budget (the .sh checks it)
-- Ends with "N passed, 0 failed", or raises.
local http = require "engine.http"
local json = require "engine.json"

local H, S, CA, MODE = ...
assert(H and S, "usage: tallysync run tests/lua/http_module.lua HTTP_BASE HTTPS_BASE CA_FILE")
CA = CA or ""

if MODE == "budget" then
    -- The request's own timeout (30 s) is far away: only the script's budget can stop it.
    local resp, msg, code = http.get(H .. "/slow?ms=5000")
    print("budget: " .. tostring(code) .. " " .. tostring(msg))
    while true do end -- the budget hook ends the script
end

local spec = require "lib.spec"
local test = spec.case

local function eq(got, want, what)
    if got ~= want then
        error(("%s: expected %s, got %s"):format(what or "value", tostring(want), tostring(got)), 2)
    end
end

-- A failure: nil, message, code.
local function fails(code, resp, msg, got)
    if resp ~= nil then
        error(("expected failure %q, got a response with status %s"):format(code,
            tostring(resp.status)), 2)
    end
    if got ~= code then
        error(("expected code %q, got %q (%s)"):format(code, tostring(got), tostring(msg)), 2)
    end
    assert(type(msg) == "string" and #msg > 0, "failure without a message")
    return msg
end

local function raises(pattern, fn, ...)
    local ok, err = pcall(fn, ...)
    if ok then error("expected an error matching " .. pattern, 2) end
    if not tostring(err):find(pattern) then
        error(("error %q does not match %q"):format(tostring(err), pattern), 2)
    end
end

local run = (CA == "" and "plain-" or "tls-") .. os.time() .. "-" -- unique counter keys

if CA ~= "" then
    -- ===================== HTTPS with ENGINE_HTTP_CA_FILE =====================
    test("https GET verifies against the configured CA", function()
        local resp = assert(http.get(S .. "/json"))
        eq(resp.status, 200, "status")
        eq(resp.json.hello, "world", "json.hello")
    end)
    test("https POST echo", function()
        local resp = assert(http.post(S .. "/echo/tls", {a = 1}))
        eq(resp.json.method, "POST", "method")
        eq(json.decode(resp.json.body).a, 1, "body")
    end)
    test("https host name is verified (cert is for 127.0.0.1, not localhost)", function()
        local port = S:match(":(%d+)$")
        fails("tls", http.get("https://localhost:" .. port .. "/json", {timeout_ms = 5000}))
    end)
    test("an https origin never follows a redirect to plain http", function()
        local resp = assert(http.get(S .. "/redirect?to=" .. http.urlencode(H .. "/echo/down")))
        eq(resp.status, 302, "not followed: status")
        local r, msg, code = http.get(S .. "/redirect?to=" .. http.urlencode(H .. "/echo/down"),
            {follow_redirects = true})
        fails("http", r, msg, code)
    end)
    test("https retries still work", function()
        local resp = assert(http.get(S .. "/flaky/" .. run .. "tls503?n=1", {retries = 1}))
        eq(resp.status, 200, "status")
        eq(resp.attempts, 2, "attempts")
    end)
    spec.finish("http_module (CA)")
    return
end

-- ===================== methods, headers, bodies =====================
test("GET echo with headers", function()
    local resp = assert(http.get(H .. "/echo/get", {
        headers = {["X-Test"] = "1", Authorization = "Bearer abc", ["X-Num"] = 42}}))
    eq(resp.status, 200, "status")
    eq(resp.attempts, 1, "attempts")
    eq(type(resp.body), "string", "body type")
    assert(resp.headers["content-type"]:find("application/json", 1, true), "content-type")
    local e = resp.json
    eq(e.method, "GET", "method")
    eq(e.path, "/echo/get", "path")
    eq(e.headers["x-test"], "1", "x-test")
    eq(e.headers["x-num"], "42", "x-num")
    eq(e.headers.authorization, "Bearer abc", "authorization")
    assert(e.headers["user-agent"]:find("^tallysync/"), "user-agent")
    eq(e.headers.expect, nil, "no Expect: 100-continue")
end)

test("POST string body", function()
    local resp = assert(http.post(H .. "/echo/post", "a=1&b=2",
        {headers = {["Content-Type"] = "application/x-www-form-urlencoded"}}))
    eq(resp.json.method, "POST", "method")
    eq(resp.json.body, "a=1&b=2", "body")
    eq(resp.json.headers["content-type"], "application/x-www-form-urlencoded", "content-type")
end)

test("PUT body, method name is case-insensitive", function()
    local resp = assert(http.request{method = "put", url = H .. "/echo/put", body = "xyz\0z"})
    eq(resp.json.method, "PUT", "method")
    eq(resp.json.body_len, 5, "binary-safe body length")
end)

test("PUT without body sends Content-Length: 0", function()
    local resp = assert(http.request{method = "PUT", url = H .. "/echo/put0"})
    eq(resp.json.headers["content-length"], "0", "content-length")
end)

test("DELETE without body", function()
    local resp = assert(http.request{method = "DELETE", url = H .. "/echo/del"})
    eq(resp.json.method, "DELETE", "method")
    eq(resp.json.body_len, 0, "body_len")
end)

test("PATCH with json", function()
    local resp = assert(http.request{method = "PATCH", url = H .. "/echo/patch", json = {a = 1}})
    eq(resp.json.method, "PATCH", "method")
    eq(resp.json.body, '{"a":1}', "body")
    eq(resp.json.headers["content-type"], "application/json", "content-type")
end)

test("HEAD has no body", function()
    local resp = assert(http.request{method = "HEAD", url = H .. "/json"})
    eq(resp.status, 200, "status")
    eq(resp.body, "", "body")
    eq(resp.json, nil, "json")
end)

test("empty header value is sent empty", function()
    local resp = assert(http.get(H .. "/echo/h", {headers = {["X-Empty"] = ""}}))
    eq(resp.json.headers["x-empty"], "", "x-empty")
end)

-- ===================== query strings =====================
test("query is encoded with sorted keys", function()
    local resp = assert(http.request{url = H .. "/echo/q",
        query = {b = "x y", a = {1, 2}, ["\u{fc}"] = "&=?/", t = true, f = 1.5}})
    eq(resp.json.query, "a=1&a=2&b=x%20y&f=1.5&t=true&%C3%BC=%26%3D%3F%2F", "query")
    eq(resp.json.args["\u{fc}"][1], "&=?/", "decoded by the server")
end)

test("query joins an existing query string and keeps the fragment out", function()
    local resp = assert(http.get(H .. "/echo/q?z=1#frag", {query = {a = "b"}}))
    eq(resp.json.query, "z=1&a=b", "query")
    resp = assert(http.get(H .. "/echo/q2", {query = {}}))
    eq(resp.json.query, "", "empty query adds nothing")
end)

test("urlencode and build_query", function()
    eq(http.urlencode("a b&c/~-._é"), "a%20b%26c%2F~-._%C3%A9", "urlencode")
    eq(http.urlencode(""), "", "empty")
    eq(http.build_query({}), "", "empty table")
    eq(http.build_query({k = {}}), "", "empty array value")
    eq(http.build_query({z = "1", y = {"b", "a"}}), "y=b&y=a&z=1", "arrays keep their order")
    raises("query keys must be strings", http.build_query, {"x"})
    raises("query values", http.build_query, {a = {{}}})
    raises("query values", http.build_query, {a = print})
end)

-- ===================== JSON =====================
test("post(table) sends JSON", function()
    local resp = assert(http.post(H .. "/echo/json", {name = "x", n = 3, list = {1, 2}}))
    eq(resp.json.headers["content-type"], "application/json", "content-type")
    local sent = json.decode(resp.json.body)
    eq(sent.name, "x", "name")
    eq(sent.n, 3, "n")
    eq(sent.list[2], 2, "list")
end)

test("json with an explicit content type keeps it", function()
    local resp = assert(http.request{method = "POST", url = H .. "/echo/ct", json = {a = true},
        headers = {["content-type"] = "application/vnd.api+json"}})
    eq(resp.json.headers["content-type"], "application/vnd.api+json", "content-type")
end)

test("JSON responses are decoded", function()
    local resp = assert(http.get(H .. "/json"))
    eq(resp.json.hello, "world", "hello")
    eq(resp.json.n, 42, "n")
    eq(resp.json.list[3], 3, "list")
    eq(resp.json.nested.ok, true, "nested")
    local p = assert(http.get(H .. "/problem"))
    eq(p.status, 422, "problem status")
    eq(p.json.title, "invalid", "+json decoded")
end)

test("non-JSON and bad JSON responses", function()
    local resp = assert(http.get(H .. "/headers"))
    eq(resp.json, nil, "text is not decoded")
    local bad = assert(http.get(H .. "/badjson"))
    eq(bad.status, 200, "status")
    eq(bad.json, nil, "json")
    eq(bad.body, "{not json", "body kept")
    assert(type(bad.json_error) == "string", "json_error set")
end)

test("unencodable json raises", function()
    raises("json", http.request, {method = "POST", url = H .. "/echo", json = {f = print}})
end)

-- ===================== statuses and headers =====================
test("non-2xx are responses", function()
    local r404 = assert(http.get(H .. "/status/404"))
    eq(r404.status, 404, "404")
    eq(r404.json.status, 404, "404 body")
    local r500 = assert(http.get(H .. "/status/500", {retries = 2}))
    eq(r500.status, 500, "500")
    eq(r500.attempts, 1, "500 is not retried")
    local r204 = assert(http.request{method = "DELETE", url = H .. "/status/204"})
    eq(r204.status, 204, "204")
    eq(r204.body, "", "204 body")
end)

test("response headers: lower-case names, repeats joined", function()
    local resp = assert(http.get(H .. "/headers"))
    eq(resp.headers["x-multi"], "a, b", "x-multi")
    eq(resp.headers["x-mixed-case"], "Value", "x-mixed-case")
    eq(resp.headers["X-Mixed-Case"], nil, "no mixed-case keys")
    eq(resp.headers["content-length"], "2", "content-length")
end)

-- ===================== timeouts and retries =====================
test("timeout returns quickly", function()
    local t0 = os.time()
    local msg = fails("timeout", http.get(H .. "/slow?ms=4000", {timeout_ms = 300}))
    assert(os.time() - t0 <= 2, "took too long")
    assert(msg:find("timed out"), msg)
end)

test("timeouts retry idempotent methods only", function()
    local k = run .. "slowget"
    fails("timeout", http.get(H .. "/slow?ms=1500&key=" .. k, {timeout_ms = 150, retries = 2}))
    eq(assert(http.get(H .. "/count/" .. k)).json.hits, 3, "GET attempts")
    k = run .. "slowpost"
    fails("timeout", http.post(H .. "/slow?ms=1500&key=" .. k, "x", {timeout_ms = 150, retries = 2}))
    eq(assert(http.get(H .. "/count/" .. k)).json.hits, 1, "POST is not resent")
    k = run .. "slowunsafe"
    fails("timeout", http.post(H .. "/slow?ms=1500&key=" .. k, "x",
        {timeout_ms = 150, retries = 1, retry_unsafe = true}))
    eq(assert(http.get(H .. "/count/" .. k)).json.hits, 2, "retry_unsafe POST")
end)

test("429 with Retry-After (seconds) is retried after the wait", function()
    local resp = assert(http.get(H .. "/retry-after/" .. run .. "ra1?n=1&after=1", {retries = 1}))
    eq(resp.status, 200, "status")
    eq(resp.attempts, 2, "attempts")
    assert(resp.json.since_first_ms >= 950, "waited only " .. resp.json.since_first_ms .. " ms")
end)

test("429 with Retry-After (HTTP date) is honoured", function()
    local resp = assert(http.post(H .. "/retry-after/" .. run .. "ra2?n=1&after=2&mode=date", "x",
        {retries = 1}))
    eq(resp.status, 200, "status (429 is retried even for POST)")
    eq(resp.attempts, 2, "attempts")
    assert(resp.json.since_first_ms >= 900, "waited only " .. resp.json.since_first_ms .. " ms")
end)

test("429 without retries is a response", function()
    local resp = assert(http.get(H .. "/retry-after/" .. run .. "ra3?n=1&after=1"))
    eq(resp.status, 429, "status")
    eq(resp.headers["retry-after"], "1", "retry-after header")
    eq(resp.attempts, 1, "attempts")
end)

test("a Retry-After past the budget or the cap is not waited for", function()
    local t0 = os.time()
    -- 90 s: under the 120 s cap, over the run's budget (SCRIPT_TIMEOUT_MS=60000 in the .sh)
    local resp = assert(http.get(H .. "/retry-after/" .. run .. "ra4?n=1&after=90",
        {retries = 3}))
    eq(resp.status, 429, "status")
    eq(resp.attempts, 1, "attempts")
    -- 1000 s: over the cap
    resp = assert(http.get(H .. "/retry-after/" .. run .. "ra5?n=1&after=1000", {retries = 3}))
    eq(resp.attempts, 1, "attempts")
    assert(os.time() - t0 <= 2, "slept")
end)

test("503 twice then 200 with retries=2", function()
    local resp = assert(http.get(H .. "/flaky/" .. run .. "f1?n=2&code=503", {retries = 2}))
    eq(resp.status, 200, "status")
    eq(resp.attempts, 3, "attempts")
    eq(resp.json.hits, 3, "server hits")
end)

test("retries exhausted return the last response", function()
    local resp = assert(http.get(H .. "/flaky/" .. run .. "f2?n=2&code=503", {retries = 1}))
    eq(resp.status, 503, "status")
    eq(resp.attempts, 2, "attempts")
end)

test("502 retries POST only with retry_unsafe; 503 always", function()
    local resp = assert(http.post(H .. "/flaky/" .. run .. "f3?n=1&code=502", "x", {retries = 2}))
    eq(resp.status, 502, "502 POST")
    eq(resp.attempts, 1, "502 POST attempts")
    resp = assert(http.post(H .. "/flaky/" .. run .. "f4?n=1&code=502", "x",
        {retries = 2, retry_unsafe = true}))
    eq(resp.status, 200, "502 POST retry_unsafe")
    eq(resp.attempts, 2, "attempts")
    resp = assert(http.post(H .. "/flaky/" .. run .. "f5?n=1&code=503", "x", {retries = 2}))
    eq(resp.status, 200, "503 POST")
    eq(resp.attempts, 2, "attempts")
    resp = assert(http.get(H .. "/flaky/" .. run .. "f6?n=1&code=504", {retries = 1}))
    eq(resp.attempts, 2, "504 GET")
end)

-- ===================== connection failures, TLS, caps =====================
test("connection refused", function()
    local msg = fails("connect", http.get("http://127.0.0.1:1/x"))
    assert(msg:find("127.0.0.1"), msg)
    msg = fails("connect", http.post("http://127.0.0.1:1/x", "body", {retries = 2}))
    assert(msg:find("after 3 attempts"), "never-sent POST is retried: " .. msg)
end)

test("connection closed without a reply", function()
    fails("connect", http.get(H .. "/close"))
end)

test("errors never carry headers or query strings", function()
    local msg = fails("connect", http.get("http://user:pw1@127.0.0.1:1/p?token=SECRET2",
        {headers = {Authorization = "Bearer SECRET1", ["X-Api-Key"] = "SECRET3"}}))
    assert(not msg:find("SECRET") and not msg:find("pw1"), msg)
    assert(msg:find("/p"), msg)
end)

test("https to a self-signed server fails with tls", function()
    local msg = fails("tls", http.get(S .. "/json"))
    assert(not msg:find("SECRET"), msg)
end)

test("body size cap", function()
    local ok = assert(http.get(H .. "/big?n=1000", {max_bytes = 1000}))
    eq(#ok.body, 1000, "at the cap")
    fails("too_large", http.get(H .. "/big?n=1001", {max_bytes = 1000}))
    fails("too_large", http.get(H .. "/big?n=200000&chunked=1", {max_bytes = 1000}))
    local big = assert(http.get(H .. "/big?n=1048576&chunked=1"))
    eq(#big.body, 1048576, "1 MiB intact")
    local cap = 32 * 1024 * 1024
    fails("too_large", http.get(H .. "/big?n=" .. (cap + 1)))
    fails("too_large", http.get(H .. "/big?chunked=1&n=" .. (cap + 1)))
    raises("max_bytes", http.get, H .. "/big", {max_bytes = cap + 1})
end)

test("redirects are followed only when asked", function()
    local resp = assert(http.get(H .. "/redirect?to=/echo/r"))
    eq(resp.status, 302, "status")
    eq(resp.headers.location, "/echo/r", "location")
    resp = assert(http.get(H .. "/redirect?to=/echo/r", {follow_redirects = true}))
    eq(resp.status, 200, "followed")
    eq(resp.json.path, "/echo/r", "path")
    resp = assert(http.post(H .. "/redirect?to=/echo/r&code=303", "x", {follow_redirects = true}))
    eq(resp.json.method, "GET", "303 turns POST into GET")
    resp = assert(http.get(H .. "/chain/5", {follow_redirects = true}))
    eq(resp.json.path, "/echo/chained", "5 redirects")
    fails("http", http.get(H .. "/chain/6", {follow_redirects = true}))
end)

-- ===================== several requests at once =====================
test("request_all: results in list order, failures as {error, code}", function()
    local r = http.request_all({
        {url = H .. "/echo/a"},
        {url = H .. "/status/404"},
        {url = "http://127.0.0.1:1/x"},
        {url = H .. "/echo/d", method = "POST", json = {d = 4}},
    }, 3)
    eq(#r, 4, "results")
    eq(r[1].json.path, "/echo/a", "first")
    eq(r[2].status, 404, "a status is a response")
    eq(r[3].code, "connect", "a failure's code")
    assert(type(r[3].error) == "string" and r[3].error:find("127.0.0.1", 1, true), r[3].error)
    eq(json.decode(r[4].json.body).d, 4, "fourth's body")
    eq(#http.request_all({}), 0, "an empty list")
    raises("at most 64", http.request_all, (function()
        local t = {}
        for i = 1, 65 do t[i] = {url = H} end
        return t
    end)())
    raises("parallel", http.request_all, {{url = H}}, 11)
end)

test("start/wait: wait answers as request_all, in list order", function()
    local g = http.start({
        {url = H .. "/slow?ms=300&key=" .. run .. "sw"},
        {url = H .. "/echo/b"},
        {url = "http://127.0.0.1:1/x"},
    })
    local r = http.wait(g)
    eq(#r, 3, "results")
    eq(r[1].status, 200, "slow")
    eq(r[2].json.path, "/echo/b", "echo")
    eq(r[3].code, "connect", "refused")
    raises("already waited", http.wait, g)
    local empty = http.start({})
    eq(#http.wait(empty), 0, "an empty group")
    raises("already waited", http.wait, empty)
end)

test("start: at most 16 started requests in flight; a wait gives them back", function()
    local function group(n)
        local t = {}
        for i = 1, n do t[i] = {url = H .. "/slow?ms=200"} end
        return http.start(t)
    end
    local a, b = group(10), group(6)
    raises("more than 16 started requests", group, 1)
    http.wait(a)
    local c = group(10)
    http.wait(b)
    http.wait(c)
    raises("parallel must be 1..10", http.start, {{url = H}}, 0)
    raises("at most 64", http.start, (function()
        local t = {}
        for i = 1, 65 do t[i] = {url = H} end
        return t
    end)())
    raises("only http and https", http.start, {{url = "ftp://127.0.0.1/x"}})
end)

test("start: a group dropped without a wait gives its slots back when collected", function()
    -- Started in a function of its own: a dead register of the running function would keep
    -- the handle reachable (Lua marks a frame's whole register window). The sandbox's
    -- collectgarbage cannot collect: the start past the cap does.
    local function drop()
        local t = {}
        for i = 1, 16 do t[i] = {url = H .. "/slow?ms=200&key=" .. run .. "drop"} end
        http.start(t)
    end
    drop()
    local t = {}
    for i = 1, 16 do t[i] = {url = H .. "/echo/again"} end
    local g = http.start(t)
    -- the dropped group's __gc joined its threads: each of its requests was answered
    eq(assert(http.get(H .. "/count/" .. run .. "drop")).json.hits, 16, "dropped requests")
    local r = http.wait(g)
    eq(#r, 16, "results")
    for i = 1, 16 do eq(r[i].status, 200, "again " .. i) end
end)

-- ===================== caller bugs raise =====================
test("bad arguments raise", function()
    raises("only http and https", http.get, "ftp://127.0.0.1/x")
    raises("invalid URL", http.get, "not a url")
    raises("url", http.request, {})
    raises("unknown request field 'timeout'", http.request, {url = H, timeout = 5})
    raises("CR, LF", http.get, H, {headers = {["X-A"] = "a\r\nX-Injected: 1"}})
    raises("header names", http.get, H, {headers = {["Bad Name"] = "1"}})
    raises("method", http.request, {url = H, method = "GE T"})
    raises("timeout_ms", http.get, H, {timeout_ms = 0})
    raises("retries", http.get, H, {retries = 11})
    raises("follow_redirects", http.get, H, {follow_redirects = "yes"})
    raises("either 'body' or 'json'", http.request, {url = H, body = "x", json = {}})
    raises("not allowed", http.get, H, {url = H})
    raises("string or table", http.post, H, 42)
end)

test("the module is read-only", function()
    raises("", function() http.get = nil end)
end)

test("rate: a shared slot that cannot come within the budget is refused at once", function()
    local rate = {key = "spec-rate:" .. run, per_second = 0.01, burst = 1, concurrent = 2}
    local first = assert(http.get(H .. "/echo/r1", {rate = rate}))
    eq(first.status, 200, "the burst's token")
    local r, msg, code = http.get(H .. "/echo/r2", {rate = rate})
    eq(r, nil, "second request")
    eq(code, "timeout", "code")
    assert(tostring(msg):find("rate limit", 1, true), msg)
    raises("rate.key", function() http.get(H .. "/echo/x", {rate = {per_second = 1}}) end)
end)

spec.finish("http_module")
