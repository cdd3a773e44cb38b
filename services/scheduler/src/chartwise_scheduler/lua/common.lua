-- Shared by every scheduler script. ARGV[1] key prefix, ARGV[2] queue stream prefix, ARGV[3] worker group,
-- ARGV[4] now (ms), ARGV[5] cancel-key prefix, ARGV[6] cancel channel; script arguments start at ARGV[7].
-- Keys are derived here rather than passed in KEYS: the scheduler runs on one Redis, not a cluster.
local P, STREAMS, GROUP, NOW = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local CANCEL_PREFIX, CANCEL_CHANNEL = ARGV[5], ARGV[6]
local DUE, EXPIRY, PAUSED, QUEUES, WAKE = P .. 'due', P .. 'expiry', P .. 'paused', P .. 'queues', P .. 'wake'
local FINISHED = { completed = true, failed = true, cancelled = true }

local function jkey(id) return P .. 'job:' .. id end
local function skey(q, state) return P .. 'q:' .. q .. ':' .. state end
local function nkey(q, name) return P .. 'q:' .. q .. ':name:' .. name end
local function nskey(q, name, state) return P .. 'q:' .. q .. ':name:' .. name .. ':' .. state end

-- Moves a job between state sets (queue-wide and per name) and records the new state.
local function set_state(id, q, name, from, to, score)
  if from and from ~= '' then
    redis.call('ZREM', skey(q, from), id)
    redis.call('ZREM', nskey(q, name, from), id)
  end
  redis.call('ZADD', skey(q, to), score, id)
  redis.call('ZADD', nskey(q, name, to), score, id)
  redis.call('HSET', jkey(id), 'state', to)
end

-- Wakes every scheduler replica when `due` became the earliest due time.
local function add_due(id, due)
  local first = redis.call('ZRANGE', DUE, 0, 0, 'WITHSCORES')
  redis.call('ZADD', DUE, due, id)
  if first[2] == nil or due < tonumber(first[2]) then
    redis.call('PUBLISH', WAKE, due)
  end
end

local function ensure_queue(q)
  if redis.call('SADD', QUEUES, q) == 1 then
    -- BUSYGROUP only means another writer created it first.
    redis.pcall('XGROUP', 'CREATE', STREAMS .. q, GROUP, '0', 'MKSTREAM')
  end
end

-- Hands a due job to its queue's workers, or holds it while the queue is paused.
local function release(id, q, name, from)
  if redis.call('SISMEMBER', PAUSED, q) == 1 then
    set_state(id, q, name, from, 'paused', NOW)
    return 0
  end
  ensure_queue(q)
  local entry = redis.call('XADD', STREAMS .. q, '*', 'job', redis.call('HGET', jkey(id), 'run'))
  redis.call('HSET', jkey(id), 'entry', entry, 'released_at', NOW)
  set_state(id, q, name, from, 'waiting', NOW)
  return 1
end

-- Deletes a record and every index entry pointing at it.
local function remove_job(id)
  local k = jkey(id)
  local h = redis.call('HMGET', k, 'queue', 'name', 'state', 'parent_id')
  if not h[1] then return 0 end
  local q, name, state, parent = h[1], h[2], h[3], h[4]
  redis.call('ZREM', skey(q, state), id)
  redis.call('ZREM', nskey(q, name, state), id)
  redis.call('ZREM', nkey(q, name), id)
  redis.call('ZREM', DUE, id)
  redis.call('ZREM', EXPIRY, id)
  if parent and parent ~= '' then redis.call('SREM', jkey(parent) .. ':children', id) end
  redis.call('DEL', k, k .. ':children')
  return 1
end

-- Records a finished job and applies its retention: removed at once, kept by count, expiring by age.
local function finish(id, q, name, from, to, at, result, err)
  local k = jkey(id)
  redis.call('HSET', k, 'finished_at', at)
  if result then redis.call('HSET', k, 'result', result) end
  if err then redis.call('HSET', k, 'error', err) end
  redis.call('ZREM', DUE, id)
  local prefix = 'fail_'
  if to == 'completed' then prefix = 'done_' end
  local keep = redis.call('HMGET', k, prefix .. 'count', prefix .. 'age')
  local count, age = tonumber(keep[1]), tonumber(keep[2])
  set_state(id, q, name, from, to, at)
  if count == 0 then
    remove_job(id)
    return
  end
  if age > 0 then redis.call('ZADD', EXPIRY, at + age * 1000, id) end
  if count > 0 then
    local excess = redis.call('ZCARD', skey(q, to)) - count
    if excess > 0 then
      for _, old in ipairs(redis.call('ZRANGE', skey(q, to), 0, excess - 1)) do remove_job(old) end
    end
  end
end

-- Creates a job record unless the id exists; returns {created, state}.
local function create_job(id, q, name, run, due, max_attempts, done_count, done_age, fail_count, fail_age,
                          parent, schedule)
  local k = jkey(id)
  if redis.call('EXISTS', k) == 1 then return { 0, redis.call('HGET', k, 'state') } end
  redis.call('HSET', k, 'id', id, 'queue', q, 'name', name, 'run', run, 'attempt', 1,
    'max_attempts', max_attempts, 'created_at', NOW, 'due_at', due,
    'done_count', done_count, 'done_age', done_age, 'fail_count', fail_count, 'fail_age', fail_age,
    'parent_id', parent, 'schedule_id', schedule, 'progress_seq', 0)
  redis.call('ZADD', nkey(q, name), NOW, id)
  if parent ~= '' then redis.call('SADD', jkey(parent) .. ':children', id) end
  if due <= NOW then
    release(id, q, name, nil)
  else
    set_state(id, q, name, nil, 'delayed', due)
    add_due(id, due)
  end
  return { 1, redis.call('HGET', k, 'state') }
end

-- Cancels a job and, recursively, its unfinished children; returns cancelled/signalled/finished/missing.
local function cancel(id, reason, ttl_ms, depth)
  local k = jkey(id)
  local h = redis.call('HMGET', k, 'queue', 'name', 'state', 'entry')
  if not h[1] then return 'missing' end
  local q, name, state = h[1], h[2], h[3]
  if FINISHED[state] then return 'finished' end
  local outcome = 'cancelled'
  if state == 'active' then
    redis.call('SET', CANCEL_PREFIX .. id, reason, 'PX', ttl_ms)
    redis.call('PUBLISH', CANCEL_CHANNEL, id)
    redis.call('HSET', k, 'cancel_requested', 1)
    outcome = 'signalled'
  else
    if state == 'waiting' and h[4] then
      -- A worker may have read the entry already: the cancel key tells it not to run it.
      redis.call('XDEL', STREAMS .. q, h[4])
      redis.call('SET', CANCEL_PREFIX .. id, reason, 'PX', ttl_ms)
      redis.call('PUBLISH', CANCEL_CHANNEL, id)
    end
    finish(id, q, name, state, 'cancelled', NOW, nil, reason)
  end
  if depth < 16 then
    for _, child in ipairs(redis.call('SMEMBERS', k .. ':children')) do cancel(child, reason, ttl_ms, depth + 1) end
  end
  return outcome
end
