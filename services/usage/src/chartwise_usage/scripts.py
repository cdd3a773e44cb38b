"""Lua scripts that change quota state in Redis, each in one atomic step.

A reservation record `res:<analysis id>` remembers the names of the three counters it was counted in, so
commit and release touch exactly those, whatever the clock says by then. Counter hashes hold `held`
(reserved plus committed, what limits are checked against) and `used` (committed only). A counter key that
no longer exists belongs to a window that has ended and is never recreated.
"""

from __future__ import annotations

# KEYS: res, day, month, total, loaded, deadlines
# ARGV: analysis id, user, units, daily, monthly, total (limits, -1 = unlimited), day reset ms, month reset ms,
#       deadline ms, plan, max charts, settled ttl ms, counter grace ms, now ms
RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'existing', redis.call('HGETALL', KEYS[1])}
end
if redis.call('EXISTS', KEYS[5]) == 0 then
  return {'load', {}}
end
local units = tonumber(ARGV[3])
local names = {'daily', 'monthly', 'total'}
local resets = {ARGV[7], ARGV[8], ''}
for i = 1, 3 do
  local held = tonumber(redis.call('HGET', KEYS[i + 1], 'held') or '0')
  local limit = tonumber(ARGV[i + 3])
  if limit >= 0 and held + units > limit then
    redis.call('HSET', KEYS[1], 'status', 'denied', 'user', ARGV[2], 'units', ARGV[3], 'window', names[i],
      'limit', ARGV[i + 3], 'used', tostring(held), 'resets_at', resets[i], 'plan', ARGV[10],
      'max_charts', ARGV[11])
    redis.call('PEXPIRE', KEYS[1], ARGV[12])
    return {'denied', redis.call('HGETALL', KEYS[1])}
  end
end
for i = 2, 4 do
  redis.call('HINCRBY', KEYS[i], 'held', units)
end
redis.call('PEXPIREAT', KEYS[2], tonumber(ARGV[7]) + tonumber(ARGV[13]))
redis.call('PEXPIREAT', KEYS[3], tonumber(ARGV[8]) + tonumber(ARGV[13]))
redis.call('HSET', KEYS[1], 'status', 'reserved', 'user', ARGV[2], 'units', ARGV[3], 'day', KEYS[2],
  'month', KEYS[3], 'total', KEYS[4], 'deadline', ARGV[9], 'reserved_at', ARGV[14], 'plan', ARGV[10],
  'max_charts', ARGV[11])
redis.call('ZADD', KEYS[6], ARGV[9], ARGV[1])
return {'reserved', redis.call('HGETALL', KEYS[1])}
"""

# KEYS: res, deadlines   ARGV: analysis id, settled ttl ms
COMMIT = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return {'missing', {}}
end
local revive = status == 'released' and redis.call('HGET', KEYS[1], 'reason') == 'expired'
if status == 'reserved' or revive then
  local units = tonumber(redis.call('HGET', KEYS[1], 'units'))
  for _, field in ipairs({'day', 'month', 'total'}) do
    local counter = redis.call('HGET', KEYS[1], field)
    if redis.call('EXISTS', counter) == 1 then
      if revive then
        redis.call('HINCRBY', counter, 'held', units)
      end
      redis.call('HINCRBY', counter, 'used', units)
    end
  end
  redis.call('HSET', KEYS[1], 'status', 'committed')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'committed', redis.call('HGETALL', KEYS[1])}
end
return {'already-' .. status, redis.call('HGETALL', KEYS[1])}
"""

# KEYS: res, deadlines   ARGV: analysis id, reason, settled ttl ms, now ms, only when due ('1' / '0')
RELEASE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'missing'
end
if status ~= 'reserved' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'already-' .. status
end
if ARGV[5] == '1' and tonumber(redis.call('HGET', KEYS[1], 'deadline')) > tonumber(ARGV[4]) then
  return 'not-due'
end
local units = tonumber(redis.call('HGET', KEYS[1], 'units'))
for _, field in ipairs({'day', 'month', 'total'}) do
  local counter = redis.call('HGET', KEYS[1], field)
  if redis.call('EXISTS', counter) == 1 then
    if redis.call('HINCRBY', counter, 'held', -units) < 0 then
      redis.call('HSET', counter, 'held', 0)
    end
  end
end
redis.call('HSET', KEYS[1], 'status', 'released', 'reason', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return 'released'
"""

# Counts a completed analysis whose reservation Redis no longer knows, once (the record makes it idempotent).
# KEYS: res, day, month, total, loaded   ARGV: user, units, day reset ms, month reset ms, grace ms, ttl ms
COUNT_ORPHAN = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
if redis.call('EXISTS', KEYS[5]) == 1 then
  for i = 2, 4 do
    redis.call('HINCRBY', KEYS[i], 'held', ARGV[2])
    redis.call('HINCRBY', KEYS[i], 'used', ARGV[2])
  end
  redis.call('PEXPIREAT', KEYS[2], tonumber(ARGV[3]) + tonumber(ARGV[5]))
  redis.call('PEXPIREAT', KEYS[3], tonumber(ARGV[4]) + tonumber(ARGV[5]))
end
redis.call('HSET', KEYS[1], 'status', 'committed', 'user', ARGV[1], 'units', ARGV[2], 'day', KEYS[2],
  'month', KEYS[3], 'total', KEYS[4])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
"""

# Rebuilds a user's counters from the durable ledger, unless another replica already did.
# KEYS: day, month, total, loaded   ARGV: day used, month used, total used, day reset ms, month reset ms, grace
LOAD = """
if redis.call('EXISTS', KEYS[4]) == 1 then
  return 0
end
for i = 1, 3 do
  redis.call('HSET', KEYS[i], 'held', ARGV[i], 'used', ARGV[i])
end
redis.call('PEXPIREAT', KEYS[1], tonumber(ARGV[4]) + tonumber(ARGV[6]))
redis.call('PEXPIREAT', KEYS[2], tonumber(ARGV[5]) + tonumber(ARGV[6]))
redis.call('SET', KEYS[4], '1')
return 1
"""
