-- One key's credits, on the Redis server's clock (whole seconds).
-- KEYS: 1 the key's credits: a hash {s = stamp, r = remaining, t = period start}
-- ARGV: 1 stamp of the credits the key's record gives (a record written
--         with other credits starts the balance again from them)
--       2 the record's remaining, 3 its period start (-1: now),
--       4 the refill amount, 5 the refill period (0: no refill)
--       6 operation: spend | refund | add | set | read
--       7 its amount (the cost; the credits given back, added or set)
-- Returns {1, remaining after} or, for a spend refused, {0, seconds until
-- the next refill (-1: none)}.
-- Numbers are written with %.0f: Lua's default formatting keeps 14 digits.
local now = tonumber(redis.call('TIME')[1])
local held = redis.call('HMGET', KEYS[1], 's', 'r', 't')
local remaining, start
if held[1] == ARGV[1] then
  remaining = tonumber(held[2])
  start = tonumber(held[3])
else
  remaining = tonumber(ARGV[2])
  start = tonumber(ARGV[3])
  if start < 0 then
    start = now
  end
end
local every = tonumber(ARGV[5])
if every > 0 and now >= start + every then
  start = start + math.floor((now - start) / every) * every
  remaining = tonumber(ARGV[4])
end
local operation = ARGV[6]
local amount = tonumber(ARGV[7])
local answer
if operation == 'spend' then
  if remaining == 0 or remaining < amount then
    local wait = -1
    if every > 0 then
      wait = math.max(start + every - now, 1)
    end
    answer = {0, wait}
  else
    remaining = remaining - amount
    answer = {1, remaining}
  end
elseif operation == 'refund' or operation == 'add' then
  remaining = remaining + amount
  answer = {1, remaining}
elseif operation == 'set' then
  remaining = amount
  answer = {1, remaining}
else
  answer = {1, remaining}
end
redis.call('HSET', KEYS[1], 's', ARGV[1], 'r', string.format('%.0f', remaining),
  't', string.format('%.0f', start))
return answer
