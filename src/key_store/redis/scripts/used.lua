-- Records when keys were last used, keeping the later minute. Declares
-- only the one key it writes, so that a replica's Redis user may write that
-- hash and nothing else (ACL: %R~{tba:*}* %RW~{tba:*}:used +hset +evalsha).
-- A replica flushes only the keys it holds; a deleted key's id comes back
-- only if a flush raced the deletion (harmless: nothing reads it).
-- KEYS: 1 used (id -> minutes since the Unix epoch)
-- ARGV: id, minute, id, minute, ...
for i = 1, #ARGV, 2 do
  -- A value that is not a number (written by hand, or by anyone holding
  -- the replica user) counts as never used, and the real minute replaces it.
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i])) or 0
  if tonumber(ARGV[i + 1]) > current then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return #ARGV / 2
