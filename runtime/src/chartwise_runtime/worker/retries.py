"""Who runs a failed job again at its next run time: the scheduler (the default) or the kit itself."""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from chartwise_contracts import queue_stream
from chartwise_contracts.jobs import QUEUE_ENTRY_FIELD, QueuedJob

_RELEASE_DUE = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[2]))
for _, job in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', ARGV[1], job)
  redis.call('ZREM', KEYS[1], job)
end
return #due
"""

_RELEASE_BATCH = 500


class RetryPort(Protocol):
    def schedule(self, pipe: Pipeline, job: QueuedJob, run_at_ms: int) -> None:
        """Adds the deferral of `job` (its attempt already raised) to the pipeline that acks the failed run."""

    async def release_due(self, redis: Redis, queue: str) -> int:
        """Moves retries that are due back onto the queue; returns how many."""


class SchedulerRetries:
    """The scheduler re-releases the job on `JobRetrying` (written in the same pipeline), so nothing more is kept."""

    def schedule(self, pipe: Pipeline, job: QueuedJob, run_at_ms: int) -> None:
        return None

    async def release_due(self, redis: Redis, queue: str) -> int:
        return 0


def retry_key(queue: str) -> str:
    return f"chartwise:jobs:retries:{queue}"


class LocalRetries:
    """Keeps retries in a sorted set by run time and moves due ones back; for queues the scheduler does not run."""

    def __init__(self) -> None:
        self._script: AsyncScript | None = None

    def schedule(self, pipe: Pipeline, job: QueuedJob, run_at_ms: int) -> None:
        pipe.zadd(retry_key(job.queue), {job.model_dump_json(): run_at_ms})

    async def release_due(self, redis: Redis, queue: str) -> int:
        if self._script is None:
            self._script = redis.register_script(_RELEASE_DUE)
        keys = [retry_key(queue), queue_stream(queue)]
        moved = await self._script(keys=keys, args=[QUEUE_ENTRY_FIELD, _RELEASE_BATCH], client=redis)
        return int(moved)
