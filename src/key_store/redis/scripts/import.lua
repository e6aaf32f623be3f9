-- Imports a batch of key records, all or nothing: every key is checked
-- before any is written. A key is inserted, or replaces the record of its
-- id when that differs; an identical record is left alone. Each write
-- bumps the version and is logged, as a single put is.
-- KEYS: 1 keys (digest -> record), 2 ids (id -> digest), 3 ver, 4 log, 5 epoch
-- ARGV: 1 epoch, 2 how many log entries to keep (approximately),
--       then per key: digest (hex), id, record (replica::codec)
-- Returns {inserted, updated, unchanged}.
if redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return redis.error_reply('TBA_EPOCH the store was reset; read it again')
end
local count = (#ARGV - 2) / 3
local held = {}
local inserted, updated, unchanged = 0, 0, 0
for i = 0, count - 1 do
  local digest, id, record = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]
  local current = redis.call('HGET', KEYS[2], id)
  if current == digest and redis.call('HGET', KEYS[1], digest) == record then
    held[i] = false
    unchanged = unchanged + 1
  else
    if current ~= digest and redis.call('HEXISTS', KEYS[1], digest) == 1 then
      return redis.error_reply('TBA_DUP_DIGEST ' .. id)
    end
    held[i] = current or ''
    if current then updated = updated + 1 else inserted = inserted + 1 end
  end
end
for i = 0, count - 1 do
  local current = held[i]
  if current ~= false then
    local digest, id, record = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]
    if current ~= '' and current ~= digest then
      redis.call('HDEL', KEYS[1], current)
    end
    local v = redis.call('INCR', KEYS[3])
    redis.call('HSET', KEYS[1], digest, record)
    redis.call('HSET', KEYS[2], id, digest)
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*',
      'v', v, 'op', 'put', 'd', digest, 'i', id, 'r', record)
  end
end
return {inserted, updated, unchanged}
