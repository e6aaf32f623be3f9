-- Puts one key record, atomically with the version and the change log.
-- KEYS: 1 keys (digest -> record), 2 ids (id -> digest), 3 ver, 4 log, 5 epoch
-- ARGV: 1 epoch, 2 digest (hex), 3 id, 4 record (replica::codec),
--       5 the id's current record as read ('' to insert a new key),
--       6 how many log entries to keep (approximately)
if redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return redis.error_reply('TBA_EPOCH the store was reset; read it again')
end
local current = redis.call('HGET', KEYS[2], ARGV[3])
if ARGV[5] == '' then
  if current then
    return redis.error_reply('TBA_DUP_ID a key with this id exists')
  end
elseif not current or redis.call('HGET', KEYS[1], current) ~= ARGV[5] then
  return redis.error_reply('TBA_CHANGED the key changed meanwhile')
end
if current ~= ARGV[2] and redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then
  return redis.error_reply('TBA_DUP_DIGEST another key has this hash')
end
if current and current ~= ARGV[2] then
  redis.call('HDEL', KEYS[1], current)
end
local v = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*',
  'v', v, 'op', 'put', 'd', ARGV[2], 'i', ARGV[3], 'r', ARGV[4])
return v
