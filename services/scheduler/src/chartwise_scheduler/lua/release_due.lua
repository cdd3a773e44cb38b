-- ARGV[7]: most jobs to move. Returns {moved, earliest remaining due time or -1}.
local ids = redis.call('ZRANGEBYSCORE', DUE, '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[7]))
for _, id in ipairs(ids) do
  redis.call('ZREM', DUE, id)
  local h = redis.call('HMGET', jkey(id), 'queue', 'name', 'state')
  if h[1] and h[3] == 'delayed' then release(id, h[1], h[2], 'delayed') end
end
local first = redis.call('ZRANGE', DUE, 0, 0, 'WITHSCORES')
if first[2] == nil then return { #ids, -1 } end
return { #ids, tonumber(first[2]) }
