-- bench/webhooks.lua - wrk script: each thread sends its slice of the pre-signed deliveries in
-- WH_FILE (bench/webhooks_gen.py), in order, then starts over (repeats are duplicates the engine
-- acknowledges without storing again). Run with one connection per thread (wrk -tN -cN, as
-- webhooks_bench.sh does): a thread's answers then come back in the order of its sends, so the
-- k-th answer is the k-th delivery's and every answer is known by delivery id. done() prints one
-- JSON line with requests/s, latency percentiles (microseconds), statuses and per-thread sends,
-- and writes "id TAB status" per answer to WH_ANSWERS (when set).
--
-- wrk (4.x) calls request() once on thread 0's state before the thread starts, to check that
-- the request parses (script_verify_request); nothing is sent for it. That call must not count
-- as a send: the first version of this script counted it, so thread 0's first delivery was
-- never sent unless the thread wrapped around its slice, and the check reported it missing
-- (issue 12, finding 10).
local threads = {}
local nthreads = tonumber(os.getenv("WH_THREADS") or "2")
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  reqs = {}
  ids = {}
  local i = 0
  for line in io.lines(os.getenv("WH_FILE")) do
    if i % nthreads == tid then
      local kind, id, f, sig, body = line:match("^(%a+)\t([^\t]+)\t(%d)\t([^\t]+)\t(.*)$")
      assert(kind, "bench: malformed line " .. i .. " in WH_FILE")
      local headers
      if kind == "woo" then
        headers = {
          ["Content-Type"] = "application/json",
          ["X-WC-Webhook-Source"] = "https://bench.example.com/",
          ["X-WC-Webhook-Topic"] = "order.updated",
          ["X-WC-Webhook-Resource"] = "order",
          ["X-WC-Webhook-Event"] = "updated",
          ["X-WC-Webhook-ID"] = "142",
          ["X-WC-Webhook-Delivery-ID"] = id,
          ["X-WC-Webhook-Signature"] = sig,
        }
        reqs[#reqs + 1] = wrk.format("POST", "/api/webhooks/woocommerce", headers, body)
      else
        headers = { ["Content-Type"] = "application/cloudevents+json", ["intuit-signature"] = sig }
        reqs[#reqs + 1] = wrk.format("POST", "/api/webhooks/quickbooks", headers, body)
      end
      ids[#ids + 1] = id
    end
    i = i + 1
  end
  n = 0          -- deliveries sent
  got = 0        -- answers received
  verified = tid ~= 0
  slice = #reqs
  statuses = {}
  answers = {}
end

function request()
  if not verified then -- wrk's parse check (see the header): sends nothing
    verified = true
    return reqs[1]
  end
  n = n + 1
  return reqs[(n - 1) % #reqs + 1]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  got = got + 1
  answers[got] = ids[(got - 1) % #ids + 1] .. "\t" .. status
end

function done(summary, latency, requests)
  local by = {}
  local sent = {}
  local out = os.getenv("WH_ANSWERS")
  local f = out and assert(io.open(out, "w"))
  for _, t in ipairs(threads) do
    sent[#sent + 1] = string.format('{"tid":%d,"sent":%d,"answered":%d,"slice":%d}', t:get("tid"),
      t:get("n"), t:get("got"), t:get("slice"))
    for code, c in pairs(t:get("statuses")) do by[code] = (by[code] or 0) + c end
    if f then
      local a = t:get("answers")
      for k = 1, #a do f:write(a[k], "\n") end
    end
  end
  if f then f:close() end
  local parts = {}
  for code, c in pairs(by) do parts[#parts + 1] = string.format('"%d":%d', code, c) end
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"statuses":{%s},"threads":[%s]}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout, table.concat(parts, ","), table.concat(sent, ",")))
end
