-- lib/qbo_fault.lua: QuickBooks Online Fault bodies (external-apis.md 3.8) read into plain values.
-- A Fault can come with an HTTP error, with HTTP 200, and inside each batch item; Intuit's
-- gateway (401/429) uses lower-case keys (fault.error[].message). Must not: keep state, or put
-- anything but the Fault's own texts into a message (never a header, token or request).
--
--   local qbo_fault = require "lib.qbo_fault"
--   local f = qbo_fault.parse(body)            -- body: a decoded table (or JSON text)
--   -- f = nil (no Fault) | { code = "6240", message = "...", detail = "...", element = "...",
--   --                        type = "ValidationFault", errors = { {code, message, detail,
--   --                        element}, ... } }   (code/message/detail/element of the first error)
--   local f = qbo_fault.from_response(resp)    -- engine.http response: Fault of any status
--   qbo_fault.describe(f)                      -- "Fault 6240 Duplicate Name Exists Error: ..."
--   qbo_fault.class(code)                      -- "auth" | "unsupported" | "general" |
--                                              -- "validation" | "severe" | "unknown"
local json = require "engine.json"

local M = {}

-- Well-known codes (external-apis.md 3.8).
M.OBJECT_NOT_FOUND = "610"
M.INVALID_REFERENCE = "2500"
M.STALE_OBJECT = "5010"
M.BUSINESS_VALIDATION = "6000"
M.DUPLICATE_DOC_NUM = "6140"
M.INVALID_COMPANY_STATUS = "6190"
M.PERIOD_CLOSED = "6210"
M.DUPLICATE_NAME = "6240"
M.AUTH_FAILED = "3200"
M.THROTTLED = "3001"

local function str(v)
  if type(v) == "string" then return v end
  if math.type(v) == "integer" then return tostring(v) end
  return nil
end

local function field(t, a, b)
  if type(t) ~= "table" then return nil end
  local v = t[a]
  if v == nil or v == json.null then v = t[b] end
  if v == json.null then return nil end
  return v
end

-- parse(body) -> fault | nil
function M.parse(body)
  if type(body) == "string" then body = json.decode(body) end
  if type(body) ~= "table" then return nil end
  local f = field(body, "Fault", "fault")
  if type(f) ~= "table" then return nil end
  local errs = field(f, "Error", "error")
  local out = { type = str(field(f, "type", "Type")), errors = {} }
  if type(errs) == "table" then
    for _, e in ipairs(errs) do
      if type(e) == "table" then
        out.errors[#out.errors + 1] = {
          code = str(field(e, "code", "Code")),
          message = str(field(e, "Message", "message")),
          detail = str(field(e, "Detail", "detail")),
          element = str(field(e, "element", "Element")),
        }
      end
    end
  end
  local first = out.errors[1] or {}
  out.code = first.code
  out.message = first.message
  out.detail = first.detail
  out.element = first.element ~= "" and first.element or nil
  -- Intuit's gateway puts "message=AuthenticationFailed; errorCode=003200; ..." in message
  if out.code == nil and out.message then
    local c = out.message:match("errorCode=0*(%d+)")
    if c then out.code = c end
  end
  return out
end

-- from_response(resp) -> fault | nil (resp: engine.http's response table)
function M.from_response(resp)
  if type(resp) ~= "table" then return nil end
  return M.parse(resp.json)
end

-- class(code) -> python-quickbooks' grouping of Intuit's codes
function M.class(code)
  local n = tonumber(code)
  if not n then return "unknown" end
  if n >= 1 and n <= 499 then return "auth" end
  if n >= 500 and n <= 599 then return "unsupported" end
  if n >= 600 and n <= 1999 then return "general" end
  if n >= 2000 and n <= 4999 then return "validation" end
  if n >= 10000 then return "severe" end
  return "general"
end

-- describe(fault) -> one line: "Fault 6240 Duplicate Name Exists Error: <detail>" (newlines of
-- Intuit's Detail texts folded into spaces; at most 500 bytes).
function M.describe(f)
  if type(f) ~= "table" then return "no Fault" end
  local s = ("Fault %s %s"):format(f.code or "?", f.message or "(no message)")
  if f.detail and f.detail ~= "" and f.detail ~= f.message then s = s .. ": " .. f.detail end
  if f.element then s = s .. " (element " .. f.element .. ")" end
  s = s:gsub("%s*\n%s*", " ")
  if #s > 500 then s = s:sub(1, 497) .. "..." end
  return s
end

return M
