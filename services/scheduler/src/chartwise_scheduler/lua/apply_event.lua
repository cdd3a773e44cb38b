-- ARGV[7..]: kind, job id, attempt, then per kind:
--   active: started_at, worker | progress: sequence, progress json | completed: finished_at, result json
--   retrying: next_run_at, next attempt, run json, error | failed: finished_at, error | cancelled: at, reason
-- Returns 'applied', or why the event was ignored (missing, finished, stale).
local kind, id, attempt = ARGV[7], ARGV[8], tonumber(ARGV[9])
local k = jkey(id)
local h = redis.call('HMGET', k, 'queue', 'name', 'state', 'attempt', 'progress_seq')
if not h[1] then return 'missing' end
local q, name, state, current = h[1], h[2], h[3], tonumber(h[4])
if FINISHED[state] then return 'finished' end
if kind ~= 'cancelled' and attempt < current then return 'stale' end
if kind == 'active' then
  redis.call('ZREM', DUE, id)
  redis.call('HSET', k, 'attempt', attempt, 'started_at', ARGV[10], 'worker', ARGV[11])
  set_state(id, q, name, state, 'active', tonumber(ARGV[10]))
elseif kind == 'progress' then
  local seq = tonumber(ARGV[10])
  if attempt == current and seq <= tonumber(h[5] or '0') then return 'stale' end
  redis.call('HSET', k, 'attempt', attempt, 'progress_seq', seq, 'progress', ARGV[11])
elseif kind == 'retrying' then
  local due = tonumber(ARGV[10])
  redis.call('HSET', k, 'attempt', ARGV[11], 'run', ARGV[12], 'error', ARGV[13], 'due_at', due)
  redis.call('HDEL', k, 'started_at', 'progress')
  redis.call('HSET', k, 'progress_seq', 0)
  if due <= NOW then
    release(id, q, name, state)
  else
    set_state(id, q, name, state, 'delayed', due)
    add_due(id, due)
  end
elseif kind == 'completed' then
  finish(id, q, name, state, 'completed', tonumber(ARGV[10]), ARGV[11], nil)
elseif kind == 'failed' then
  finish(id, q, name, state, 'failed', tonumber(ARGV[10]), nil, ARGV[11])
elseif kind == 'cancelled' then
  finish(id, q, name, state, 'cancelled', tonumber(ARGV[10]), nil, ARGV[11])
else
  return redis.error_reply('unknown event kind ' .. kind)
end
return 'applied'
