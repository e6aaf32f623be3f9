-- Puts several key records in one atomic step, each only if its record is
-- still the one read (compare-and-set for all, or none is written); each
-- keeps its digest. Every write bumps the version and is logged.
-- KEYS: 1 keys (digest -> record), 2 ids (id -> digest), 3 ver, 4 log, 5 epoch
-- ARGV: 1 epoch, 2 how many log entries to keep (approximately),
--       then per key: digest (hex), id, record, the record as read
-- Returns the version after the last write.
if redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return redis.error_reply('TBA_EPOCH the store was reset; read it again')
end
local count = (#ARGV - 2) / 4
local records = {}
for i = 1, count do
  local digest, id = ARGV[4 * i - 1], ARGV[4 * i]
  if redis.call('HGET', KEYS[2], id) ~= digest
    or redis.call('HGET', KEYS[1], digest) ~= ARGV[4 * i + 2] then
    return redis.error_reply('TBA_CHANGED a key changed meanwhile')
  end
  records[#records + 1] = digest
  records[#records + 1] = ARGV[4 * i + 1]
end
redis.call('HSET', KEYS[1], unpack(records))
local last = redis.call('INCRBY', KEYS[3], count)
local v = last - count
for i = 1, count do
  v = v + 1
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*',
    'v', v, 'op', 'put', 'd', ARGV[4 * i - 1], 'i', ARGV[4 * i], 'r', ARGV[4 * i + 1])
end
return last
