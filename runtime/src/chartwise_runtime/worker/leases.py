"""Who holds which queue entry: heartbeats for our own, reclaiming those of dead workers, handing back.

A queue entry pending for a consumer is that consumer's lease. Its idle time is the time since the lease
was last renewed; an entry idle past the visibility timeout belongs to a dead worker and is claimed by a
live one. Workers read ahead, so a pending entry need not have started: how many runs an entry has
started is kept apart from its delivery count, in the queue's start marks (`started_key`), written with the
run's `JobActive` before the handler is called and deleted with the entry's ack.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from chartwise_contracts.jobs import JOB_GROUP

_RENEW_OWNED = """
local group, consumer = ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1, consumer)
  if p[1] ~= nil then
    redis.call('XCLAIM', KEYS[1], group, consumer, 0, ARGV[i], 'JUSTID')
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""

# Only entries still pending for this consumer go back: one another worker reclaimed meanwhile is its own.
_HAND_BACK = """
local group, consumer = ARGV[1], ARGV[2]
local returned = 0
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1, consumer)
  if p[1] ~= nil then
    local entry = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
    if entry[1] ~= nil then
      redis.call('XADD', KEYS[1], '*', unpack(entry[1][2]))
      returned = returned + 1
    end
    redis.call('XACK', KEYS[1], group, ARGV[i])
    redis.call('XDEL', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
  end
end
return returned
"""


def started_key(stream: str) -> str:
    """Hash of a queue's pending entries that have started runs: entry id -> runs started."""
    return f"{stream}:started"


@dataclass(frozen=True, slots=True)
class Delivery:
    entry_id: bytes
    fields: dict[bytes, bytes] | None
    """None when the entry was deleted while pending: there is nothing left to run."""
    started: int = 0
    """Runs of this entry that started before this delivery and never recorded an outcome (their workers died)."""
    cancelled: bool | None = None
    """Whether the job's cancellation key was set when it was read; None when not yet looked up."""


class Leases:
    def __init__(self, redis: Redis, *, stream: str, consumer: str, visibility_timeout_ms: int) -> None:
        self._redis = redis
        self._stream = stream
        self._started = started_key(stream)
        self._consumer = consumer
        self._visibility_ms = visibility_timeout_ms
        self._renew = redis.register_script(_RENEW_OWNED)
        self._hand_back = redis.register_script(_HAND_BACK)
        self._cursor = "0-0"

    async def renew(self, entry_ids: list[bytes]) -> set[bytes]:
        """Resets the idle time of the entries still ours; returns the ids another worker has taken."""
        if not entry_ids:
            return set()
        lost = await self._renew(keys=[self._stream], args=[JOB_GROUP, self._consumer, *entry_ids])
        return {bytes(entry_id) for entry_id in lost}

    async def reclaim(self, count: int) -> list[Delivery]:
        """Takes up to `count` entries whose worker stopped renewing them, with the runs they started."""
        reply = await self._redis.xautoclaim(
            self._stream, JOB_GROUP, self._consumer, self._visibility_ms, start_id=self._cursor, count=count
        )
        next_cursor = reply[0]
        self._cursor = next_cursor.decode() if isinstance(next_cursor, bytes) else str(next_cursor)
        # Redis 6.2 answers an entry deleted while pending as (None, None); it has nothing to run.
        entries = [(entry_id, fields) for entry_id, fields in reply[1] if entry_id is not None]
        if not entries:
            return []
        marks: list[bytes | str | None] = await self._redis.hmget(self._started, [entry_id for entry_id, _ in entries])
        return [
            Delivery(entry_id=entry_id, fields=fields or None, started=int(mark or 0))
            for (entry_id, fields), mark in zip(entries, marks, strict=True)
        ]

    async def hand_back(self, entry_ids: list[bytes]) -> int:
        """Re-queues entries this worker took but never started, so another worker runs them at once."""
        if not entry_ids:
            return 0
        args: list[str | bytes] = [JOB_GROUP, self._consumer, *entry_ids]
        return int(await self._hand_back(keys=[self._stream, self._started], args=args))
