-- Deletes one key record, atomically with the version and the change log.
-- KEYS: 1 keys, 2 ids, 3 ver, 4 log, 5 epoch, 6 used, 7 the key's credit
--       balance (when counted in Redis)
-- ARGV: 1 epoch, 2 id, 3 the id's current record as read,
--       4 how many log entries to keep (approximately)
if redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return redis.error_reply('TBA_EPOCH the store was reset; read it again')
end
local digest = redis.call('HGET', KEYS[2], ARGV[2])
if not digest then
  return redis.error_reply('TBA_UNKNOWN no key with this id')
end
if redis.call('HGET', KEYS[1], digest) ~= ARGV[3] then
  return redis.error_reply('TBA_CHANGED the key changed meanwhile')
end
redis.call('HDEL', KEYS[1], digest)
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[6], ARGV[2])
redis.call('DEL', KEYS[7])
local v = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*',
  'v', v, 'op', 'del', 'd', digest, 'i', ARGV[2])
return v
