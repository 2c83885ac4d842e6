-- quickbooks_pace_spec.lua - script tier: the connector's request pacing stays within Intuit's
-- published per-minute limits in EVERY sliding minute (external-apis.md 3.7, 3.9). A token bucket
-- starts full, so the worst case is `burst` requests at once, then one per refill; this spec
-- replays that greedy sequence against the rate option the connector builds and counts the
-- requests of the busiest 60 s window. Failed before M.rate: per_minute / 60 with a full bucket
-- let 45 batches through in a minute (40 allowed), which a strict QuickBooks answers with 429.
local qbo = require "connectors.quickbooks"
local spec = require "lib.spec"

-- the greedy arrival times (seconds) of the first n requests through a bucket of size
-- rate.burst refilled at rate.per_second, starting full at t = 0
local function greedy(rate, n)
  local t, tokens, times = 0.0, rate.burst, {}
  for i = 1, n do
    if tokens < 1 then
      t = t + (1 - tokens) / rate.per_second
      tokens = 1
    end
    tokens = tokens - 1
    times[i] = t
  end
  return times
end

local function busiest_minute(times)
  local best, j = 0, 1
  for i = 1, #times do
    while times[i] - times[j] >= 60 do j = j + 1 end
    if i - j + 1 > best then best = i - j + 1 end
  end
  return best
end

for _, c in ipairs({
  { "batch endpoint", qbo.rate("1", true),
    qbo.BATCH_PER_MINUTE },
  { "realm", qbo.rate("1", false),
    qbo.RATE_PER_MINUTE },
}) do
  local name, rate, limit = c[1], c[2], c[3]
  spec.case(name .. ": at most " .. limit .. " requests in any minute", function()
    local n = busiest_minute(greedy(rate, limit * 5))
    if n > limit then error(("%d requests in one minute, limit %d"):format(n, limit)) end
  end)
  spec.case(name .. ": still uses at least 90% of the limit", function()
    local n = busiest_minute(greedy(rate, limit * 5))
    if n < limit * 0.9 then error(("only %d requests a minute of %d"):format(n, limit)) end
  end)
end

spec.finish("quickbooks_pace_spec")
