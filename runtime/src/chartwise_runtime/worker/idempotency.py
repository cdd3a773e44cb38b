"""Effects applied once per job, however often the job is delivered.

A job can run twice: its worker may die after the work and before the ack. A handler wraps each
side effect in `async with ctx.once("name") as first:` and applies it only when `first` is true. The
effect is recorded as done when the block exits without an error, so a failed effect is tried again on
the next attempt. What remains is the instant between the effect and its record: an effect that must be
exact under a crash there needs its own natural key (a unique index, a conditional write).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

DEFAULT_DONE_TTL_S = 7 * 24 * 3600


def done_key(job_id: str, effect: str) -> str:
    return f"chartwise:jobs:done:{job_id}:{effect}"


class EffectLedger:
    """Records, per job id and effect name, the effects already applied (kept for `ttl_s`)."""

    def __init__(self, redis: Redis, *, ttl_s: int = DEFAULT_DONE_TTL_S) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    async def done(self, job_id: str, effect: str) -> bool:
        return bool(await self._redis.exists(done_key(job_id, effect)))

    async def mark(self, job_id: str, effect: str) -> None:
        await self._redis.set(done_key(job_id, effect), b"1", ex=self._ttl_s)

    @asynccontextmanager
    async def once(self, job_id: str, effect: str) -> AsyncIterator[bool]:
        """Yields True when the effect is still to apply; records it as applied when the block succeeds."""
        first = not await self.done(job_id, effect)
        yield first
        if first:
            await self.mark(job_id, effect)
