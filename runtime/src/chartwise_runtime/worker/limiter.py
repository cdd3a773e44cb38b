"""A rate limit shared by every worker of a queue: at most `max_jobs` starts in any `per_seconds` window.

A sliding-window log kept in one sorted set per queue and changed only by a Lua script, so replicas on
different hosts share one count and one clock (Redis's `TIME`).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import uuid4

from redis.asyncio import Redis

_ACQUIRE = """
local key = KEYS[1]
local max_jobs = tonumber(ARGV[1])
local window_us = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local token = ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_us)
local used = redis.call('ZCARD', key)
local granted = math.min(wanted, math.max(0, max_jobs - used))
for i = 1, granted do
  redis.call('ZADD', key, now, token .. ':' .. i)
end
if granted > 0 then
  redis.call('PEXPIRE', key, math.ceil(window_us / 1000) + 1)
end
local wait_us = 0
if used + granted >= max_jobs then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if oldest[2] then
    wait_us = math.max(1, tonumber(oldest[2]) + window_us - now + 1)
  end
end
return {granted, max_jobs - used - granted, wait_us}
"""


def limiter_key(queue: str) -> str:
    return f"chartwise:jobs:limiter:{queue}"


@dataclass(frozen=True, slots=True)
class RateLimit:
    max_jobs: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.max_jobs < 1 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs max_jobs >= 1 and per_seconds > 0")


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int
    free: int
    wait_s: float
    """When nothing more is free: how long until the oldest start leaves the window."""


class SharedRateLimiter:
    def __init__(self, redis: Redis, queue: str, limit: RateLimit) -> None:
        self._key = limiter_key(queue)
        self._limit = limit
        self._script = redis.register_script(_ACQUIRE)

    async def acquire(self, wanted: int) -> Grant:
        """Takes up to `wanted` starts now; `acquire(0)` only asks whether any start is free."""
        window_us = round(self._limit.per_seconds * 1_000_000)
        args: list[str | int] = [self._limit.max_jobs, window_us, wanted, uuid4().hex]
        granted, free, wait_us = await self._script(keys=[self._key], args=args)
        return Grant(granted=int(granted), free=max(0, int(free)), wait_s=int(wait_us) / 1_000_000)
