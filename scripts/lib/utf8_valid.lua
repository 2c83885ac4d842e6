-- lib/utf8_valid.lua - text that always encodes as JSON: every byte that is not part of valid
-- UTF-8 replaced by U+FFFD. A remote system's error text or a mapping's message may hold any
-- bytes, and what C stores or answers must stay valid JSON. Linear in the text.
return function(s)
  if utf8.len(s) then return s end
  local out, i = {}, 1
  while true do
    local ok, bad = utf8.len(s, i)
    if ok then
      out[#out + 1] = s:sub(i)
      return table.concat(out)
    end
    out[#out + 1] = s:sub(i, bad - 1) .. "\u{FFFD}"
    i = bad + 1
  end
end
