-- quickbooks_pace_spec.lua - script tier: the connector's request pacing stays within Intuit's
-- published per-minute limits in EVERY sliding minute (external-apis.md 3.7, 3.9), and uses
-- them: the rate option is a sliding log (per_window in window_ms, engine.http / base/ratelimit),
-- so the greedy worst case is per_window requests at once, then each slot again window_ms after
-- its use. This spec replays that greedy sequence against the rate option the connector builds
-- and counts the requests of the busiest 60 s window. (A token bucket paced at per_minute / 60
-- with a full bucket let 45 batches through in a minute, 40 allowed; one paced below the limit
-- held a backfill to 86 % of what the limits allow.)
local qbo = require "connectors.quickbooks"
local spec = require "lib.spec"

-- the greedy arrival times (seconds) of the first n requests through a sliding log of
-- rate.per_window uses in rate.window_ms, starting empty at t = 0
local function greedy(rate, n)
  local times, w = {}, rate.window_ms / 1000
  for i = 1, n do
    local j = i - rate.per_window
    times[i] = j >= 1 and math.max(times[i - 1], times[j] + w) or 0.0
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

local batch, realm = qbo.rate("1", true), qbo.rate("1", false)
for _, c in ipairs({
  { "batch endpoint", batch, qbo.BATCH_PER_MINUTE },
  { "realm", realm, qbo.RATE_PER_MINUTE },
}) do
  local name, rate, limit = c[1], c[2], c[3]
  spec.case(name .. ": at most " .. limit .. " requests in any minute", function()
    local n = busiest_minute(greedy(rate, limit * 5))
    if n > limit then error(("%d requests in one minute, limit %d"):format(n, limit)) end
  end)
  spec.case(name .. ": the whole allowance of a minute at once, and 95% of it over time", function()
    local t = greedy(rate, limit * 5)
    if t[limit] ~= 0 then error(("request %d waits %.1f s"):format(limit, t[limit])) end
    local per_min = (limit * 4) / (t[limit * 5] - t[limit] + 1e-9) * 60
    if per_min < limit * 0.95 then error(("only %.1f requests a minute of %d"):format(per_min, limit)) end
  end)
end

spec.case("a batch counts for the realm too (its 500 a minute and 10 at once)", function()
  if type(batch.also) ~= "table" or batch.also.key ~= realm.key then
    error("the batch rate does not take the realm's key with it")
  end
  if realm.concurrent ~= qbo.CONCURRENT or batch.also.concurrent ~= qbo.CONCURRENT then
    error("the realm's concurrency cap is not 10")
  end
end)

spec.finish("quickbooks_pace_spec")
