-- Adds a replica's usage counts of one UTC day. Declares only the one key
-- it writes (a replica's Redis user may write it: ACL
-- %RW~{tba:*}:us:* +evalsha), and keeps it for the days usage is kept.
-- KEYS: 1 the day's usage hash ("<id>:p|r|u|f" -> count)
-- ARGV: seconds to keep the day, then id, passed, rate_limited,
--       usage_exceeded, refused, id, ...
local names = {'p', 'r', 'u', 'f'}
for i = 2, #ARGV, 5 do
  for j = 1, 4 do
    local count = tonumber(ARGV[i + j])
    if count and count > 0 then
      redis.call('HINCRBY', KEYS[1], ARGV[i] .. ':' .. names[j], count)
    end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return (#ARGV - 1) / 5
