-- ARGV[7]: job id. A failed job whose dead letter is being replayed: its record goes back to waiting at
-- attempt 1, so the replayed run's events apply to it. Returns 1 when reopened, 0 when missing or not failed.
local id = ARGV[7]
local k = jkey(id)
local h = redis.call('HMGET', k, 'queue', 'name', 'state')
if not h[1] or h[3] ~= 'failed' then return 0 end
redis.call('ZREM', EXPIRY, id)
redis.call('HDEL', k, 'finished_at', 'error', 'result', 'started_at', 'progress')
redis.call('HSET', k, 'attempt', 1, 'progress_seq', 0, 'released_at', NOW)
set_state(id, h[1], h[2], 'failed', 'waiting', NOW)
return 1
