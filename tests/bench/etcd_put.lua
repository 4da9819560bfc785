-- wrk script: leased puts through etcd's JSON gateway, one new key a request.
-- Usage: wrk ... -s etcd_put.lua http://HOST:PORT/v3/kv/put -- LEASE_ID [PREFIX]
-- The gateway takes keys and values as base64: a key that is not base64 gets
-- HTTP 400, which wrk would count as a request; the callers void a run with
-- any non-2xx reply.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
  return ((s:gsub(".", function(c)
    local bits, b = "", c:byte()
    for i = 8, 1, -1 do bits = bits .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return bits
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return alphabet:sub(c + 1, c + 1)
  end) .. ({"", "==", "="})[#s % 3 + 1])
end
local lease, prefix = "0", "/t/"
init = function(args)
  lease = args[1] or lease
  prefix = args[2] or prefix
end
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"key": "' .. b64(prefix .. counter) ..
                    '", "value": "aXBjOi8vL3RtcC9jYW0=", "lease": "' .. lease .. '"}')
end
