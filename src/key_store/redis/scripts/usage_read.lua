-- Reads one key's usage on the given days: for each day's hash, the
-- counts passed, rate_limited, usage_exceeded, refused (nil: none).
-- KEYS: the days' usage hashes
-- ARGV: 1 the key's id
local out = {}
local id = ARGV[1]
for i = 1, #KEYS do
  local counts = redis.call('HMGET', KEYS[i], id .. ':p', id .. ':r', id .. ':u', id .. ':f')
  for j = 1, 4 do
    out[#out + 1] = counts[j] or false
  end
end
return out
