-- A share of one key's quota for one replica: up to ARGV[3] requests taken
-- from the same GCRA state the exact limiter keeps (gcra.lua), on the Redis
-- server's clock, in microseconds. Each request taken moves the theoretical
-- arrival time (TAT) on by one emission interval, exactly as if it had
-- been decided here, so shares and exact decisions mix.
-- KEYS: 1 the key's TAT
-- ARGV: 1 emission interval, 2 window (requests x interval), 3 requests wanted
-- Returns {taken, left, wait}: the requests taken, the requests left in
-- Redis after them, and (when none was taken) the time until one fits.
-- Numbers are written with %.0f: a TAT in microseconds has 16 digits.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local emission = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then
  tat = now
end
local room = math.floor((window - (tat - now)) / emission)
if room < 1 then
  return {0, 0, tat + emission - now - window}
end
local taken = math.min(room, wanted)
tat = tat + taken * emission
local debt = tat - now
-- Forgotten once it is worth nothing (its debt paid back).
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',
  string.format('%.0f', math.ceil(debt / 1000) + 1))
return {taken, room - taken, 0}
