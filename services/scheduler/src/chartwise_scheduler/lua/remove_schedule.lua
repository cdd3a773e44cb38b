-- ARGV[7]: schedule id. Returns 1 when it existed.
local sid = ARGV[7]
local sk = P .. 'schedule:' .. sid
local q = redis.call('HGET', sk, 'queue')
if not q then return 0 end
redis.call('DEL', sk)
redis.call('ZREM', P .. 'schedules', sid)
redis.call('ZREM', P .. 'schedules:q:' .. q, sid)
redis.call('ZREM', P .. 'schedules:due', sid)
return 1
