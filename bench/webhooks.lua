-- bench/webhooks.lua - wrk script: each thread sends its slice of the pre-signed deliveries in
-- WH_FILE (bench/webhooks_gen.py), in order, then starts over (repeats are duplicates the engine
-- acknowledges without storing again). Counts answers by status per thread; done() prints one
-- JSON line with requests/s, latency percentiles (microseconds), statuses and per-thread sends.
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
  forged = {}
  local i = 0
  for line in io.lines(os.getenv("WH_FILE")) do
    if i % nthreads == tid then
      local kind, id, f, sig, body = line:match("^(%a+)\t([^\t]+)\t(%d)\t([^\t]+)\t(.*)$")
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
    end
    i = i + 1
  end
  n = 0
  slice = #reqs
  statuses = {}
end

function request()
  n = n + 1
  return reqs[(n - 1) % #reqs + 1]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local by = {}
  local sent = {}
  for _, t in ipairs(threads) do
    sent[#sent + 1] = string.format('{"tid":%d,"sent":%d,"slice":%d}', t:get("tid"), t:get("n"),
      t:get("slice"))
    for code, c in pairs(t:get("statuses")) do by[code] = (by[code] or 0) + c end
  end
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
