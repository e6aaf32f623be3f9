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
local digests, ids = {}, {}
for i = 1, count do
  digests[i] = ARGV[3 * i]
  ids[i] = ARGV[3 * i + 1]
end
-- What each id holds now, and what each digest is filed with now.
local current = redis.call('HMGET', KEYS[2], unpack(ids))
local stored = redis.call('HMGET', KEYS[1], unpack(digests))
local writes, records, owners, moved = {}, {}, {}, {}
local seen_digests, seen_ids = {}, {}
local inserted, updated, unchanged = 0, 0, 0
for i = 1, count do
  local digest, id, record = digests[i], ids[i], ARGV[3 * i + 2]
  if seen_ids[id] then
    return redis.error_reply('TBA_DUP_ID ' .. id)
  end
  if seen_digests[digest] then
    return redis.error_reply('TBA_DUP_DIGEST ' .. id)
  end
  seen_digests[digest] = true
  seen_ids[id] = true
  local held = current[i]
  if held == digest and stored[i] == record then
    unchanged = unchanged + 1
  else
    if held ~= digest and stored[i] then
      return redis.error_reply('TBA_DUP_DIGEST ' .. id)
    end
    if held then updated = updated + 1 else inserted = inserted + 1 end
    if held and held ~= digest then moved[#moved + 1] = held end
    writes[#writes + 1] = i
    records[#records + 1] = digest
    records[#records + 1] = record
    owners[#owners + 1] = id
    owners[#owners + 1] = digest
  end
end
if #writes == 0 then
  return {inserted, updated, unchanged}
end
if #moved > 0 then
  redis.call('HDEL', KEYS[1], unpack(moved))
end
redis.call('HSET', KEYS[1], unpack(records))
redis.call('HSET', KEYS[2], unpack(owners))
local last = redis.call('INCRBY', KEYS[3], #writes)
local v = last - #writes
for _, i in ipairs(writes) do
  v = v + 1
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*',
    'v', v, 'op', 'put', 'd', digests[i], 'i', ids[i], 'r', ARGV[3 * i + 2])
end
return {inserted, updated, unchanged}
