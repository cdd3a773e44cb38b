-- ARGV[7..]: sorted-set key suffix ('expiry' or a queue state set), score bound, most records. Returns removed ids.
local ids = redis.call('ZRANGEBYSCORE', P .. ARGV[7], '-inf', ARGV[8], 'LIMIT', 0, tonumber(ARGV[9]))
for _, id in ipairs(ids) do
  if remove_job(id) == 0 then redis.call('ZREM', P .. ARGV[7], id) end
end
return ids
