"""Lua scripts that change quota state in Redis, each in one atomic step.

A reservation record `res:<analysis id>` remembers the names of the three counters it was counted in, so
commit and release touch exactly those, whatever the clock says by then. Counter hashes hold `held`
(reserved plus committed, what limits are checked against) and `used` (committed only). A counter key that
no longer exists belongs to a window that has ended and is never recreated.
"""

from __future__ import annotations

# Reserves for a batch of analyses, each exactly as if alone: in order, each sees the ones before it.
# KEYS: deadlines, then per reservation: res, day, month, total, loaded
# ARGV: settled ttl ms, counter grace ms, then per reservation RESERVE_ARGS values: analysis id, user, units,
#       daily, monthly, total (limits, -1 = unlimited), day reset ms, month reset ms, deadline ms, now ms, plan,
#       max charts
# Answers per reservation {outcome, record}: 'reserved' or 'denied' with the record just written, 'existing'
# with the record of an earlier request, or 'load' (no counters for the user yet) with nothing.
RESERVE_ARGS = 12
RESERVE_MANY = """
local settled_ttl, grace = ARGV[1], tonumber(ARGV[2])
local names = {'daily', 'monthly', 'total'}
local function reserve(k, a)
  local res = KEYS[k + 1]
  if redis.call('EXISTS', res) == 1 then
    return {'existing', redis.call('HGETALL', res)}
  end
  if redis.call('EXISTS', KEYS[k + 5]) == 0 then
    return {'load', {}}
  end
  local units = tonumber(ARGV[a + 3])
  local resets = {ARGV[a + 7], ARGV[a + 8], ''}
  for i = 1, 3 do
    local held = tonumber(redis.call('HGET', KEYS[k + 1 + i], 'held') or '0')
    local limit = tonumber(ARGV[a + 3 + i])
    if limit >= 0 and held + units > limit then
      redis.call('HSET', res, 'status', 'denied', 'user', ARGV[a + 2], 'units', ARGV[a + 3], 'window', names[i],
        'limit', ARGV[a + 3 + i], 'used', tostring(held), 'resets_at', resets[i], 'plan', ARGV[a + 11],
        'max_charts', ARGV[a + 12])
      redis.call('PEXPIRE', res, settled_ttl)
      return {'denied', redis.call('HGETALL', res)}
    end
  end
  for i = 2, 4 do
    redis.call('HINCRBY', KEYS[k + i], 'held', units)
  end
  redis.call('PEXPIREAT', KEYS[k + 2], tonumber(ARGV[a + 7]) + grace)
  redis.call('PEXPIREAT', KEYS[k + 3], tonumber(ARGV[a + 8]) + grace)
  redis.call('HSET', res, 'status', 'reserved', 'user', ARGV[a + 2], 'units', ARGV[a + 3], 'day', KEYS[k + 2],
    'month', KEYS[k + 3], 'total', KEYS[k + 4], 'deadline', ARGV[a + 9], 'reserved_at', ARGV[a + 10],
    'plan', ARGV[a + 11], 'max_charts', ARGV[a + 12])
  redis.call('ZADD', KEYS[1], ARGV[a + 9], ARGV[a + 1])
  return {'reserved', redis.call('HGETALL', res)}
end
local answers = {}
for n = 0, (#ARGV - 2) / STRIDE - 1 do
  answers[n + 1] = reserve(1 + n * 5, 2 + n * STRIDE)
end
return answers
""".replace("STRIDE", str(RESERVE_ARGS))

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
