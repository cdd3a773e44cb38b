"""Per-key request rate limit: a fixed window counted atomically in Redis by one Lua script."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from chartwise_runtime.errors import RateLimited

KEY_PREFIX = "chartwise:gateway:ratelimit:"

# Counts the request in its window and returns the count and the window's remaining life in ms.
_COUNT_IN_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True, slots=True)
class RateDecision:
    limit: int
    remaining: int
    reset_s: int


class RateLimiter:
    def __init__(self, redis: Redis, *, limit: int, window_s: int) -> None:
        self._script = redis.register_script(_COUNT_IN_WINDOW)
        self.limit = limit
        self.window_s = window_s

    async def hit(self, subject: str) -> RateDecision:
        """Counts one request of `subject`; raises `RateLimited` (with the wait) once the window is full."""
        window = int(time.time() // self.window_s)
        key = f"{KEY_PREFIX}{subject}:{window}"
        count, ttl_ms = await self._script(keys=[key], args=[self.window_s * 1000])
        reset_s = max(1, math.ceil(int(ttl_ms) / 1000))
        if int(count) > self.limit:
            raise RateLimited(
                f"more than {self.limit} requests in {self.window_s}s",
                details={"limit": self.limit, "window_s": self.window_s, "retry_after_s": reset_s},
            )
        return RateDecision(limit=self.limit, remaining=self.limit - int(count), reset_s=reset_s)
