-- ARGV[7..]: schedule id, version read, next slot read, next slot after this claim ('' when the schedule ends),
-- then the job as for enqueue (id .. schedule id). Claims the slot only if nobody changed or claimed the
-- schedule since it was read, so each slot fires once across replicas. Returns {claimed, created}.
local sid = ARGV[7]
local sk = P .. 'schedule:' .. sid
local h = redis.call('HMGET', sk, 'version', 'next_slot')
if h[1] ~= ARGV[8] or h[2] ~= ARGV[9] then return { 0, 0 } end
local new_next = ARGV[10]
redis.call('HINCRBY', sk, 'runs', 1)
redis.call('HSET', sk, 'next_slot', new_next, 'last_slot', ARGV[9])
if new_next == '' then
  redis.call('ZREM', P .. 'schedules:due', sid)
else
  redis.call('ZADD', P .. 'schedules:due', tonumber(new_next), sid)
end
local a = ARGV
local created = create_job(a[11], a[12], a[13], a[14], tonumber(a[15]), a[16], a[17], a[18], a[19], a[20], a[21],
  a[22])
return { 1, created[1] }
