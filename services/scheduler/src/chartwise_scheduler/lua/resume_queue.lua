-- ARGV[7..]: queue, most jobs to release. Returns {released, held jobs left}.
local q = ARGV[7]
redis.call('SREM', PAUSED, q)
local ids = redis.call('ZRANGE', skey(q, 'paused'), 0, tonumber(ARGV[8]) - 1)
for _, id in ipairs(ids) do
  release(id, q, redis.call('HGET', jkey(id), 'name'), 'paused')
end
return { #ids, redis.call('ZCARD', skey(q, 'paused')) }
