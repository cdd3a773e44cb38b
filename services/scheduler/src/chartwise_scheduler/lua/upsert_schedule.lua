-- ARGV[7..]: schedule id, queue, timing fingerprint, spec json, first slot ms ('' when none), anchor ms.
-- Returns {created, replaced}. Same timing: only the template changes, the next slot and run count stay.
local sid, q, fp, spec, first, anchor = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local sk = P .. 'schedule:' .. sid
local old = redis.call('HMGET', sk, 'fingerprint', 'queue')
-- A version from one global counter, so a schedule removed and re-added never reuses one.
redis.call('HSET', sk, 'version', redis.call('INCR', P .. 'schedules:version'))
if old[1] == fp then
  redis.call('HSET', sk, 'spec', spec)
  return { 0, 0 }
end
if old[2] then redis.call('ZREM', P .. 'schedules:q:' .. old[2], sid) end
redis.call('HSET', sk, 'id', sid, 'queue', q, 'fingerprint', fp, 'spec', spec, 'anchor', anchor, 'runs', 0,
  'next_slot', first, 'updated_at', NOW)
redis.call('ZADD', P .. 'schedules', 0, sid)
redis.call('ZADD', P .. 'schedules:q:' .. q, 0, sid)
if first == '' then
  redis.call('ZREM', P .. 'schedules:due', sid)
else
  redis.call('ZADD', P .. 'schedules:due', tonumber(first), sid)
  redis.call('PUBLISH', WAKE, first)
end
if old[1] then return { 0, 1 } end
return { 1, 0 }
