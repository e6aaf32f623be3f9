-- GCRA for one key, on the Redis server's clock, in microseconds.
-- KEYS: 1 the key's theoretical arrival time (TAT)
-- ARGV: 1 emission interval, 2 window (requests x interval)
-- Returns {1, debt} when allowed (debt = new TAT - now), {0, wait} when not.
-- Numbers are written with %.0f: Lua's default formatting keeps 14 digits,
-- and a TAT in microseconds has 16.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local emission = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then
  tat = now
end
local debt = tat + emission - now
if debt > window then
  return {0, debt - window}
end
-- Forgotten once it is worth nothing (its debt paid back).
redis.call('SET', KEYS[1], string.format('%.0f', tat + emission), 'PX',
  string.format('%.0f', math.ceil(debt / 1000) + 1))
return {1, debt}
