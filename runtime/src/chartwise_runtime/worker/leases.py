"""Who holds which queue entry: heartbeats for our own, reclaiming those of dead workers, handing back.

A queue entry pending for a consumer is that consumer's lease. Its idle time is the time since the lease
was last renewed; an entry idle past the visibility timeout belongs to a dead worker and is claimed by a
live one, which raises its delivery count: that count is how many runs the entry has started.
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

_HAND_BACK = """
local group = ARGV[1]
local returned = 0
for i = 2, #ARGV do
  local entry = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if entry[1] ~= nil then
    redis.call('XADD', KEYS[1], '*', unpack(entry[1][2]))
    returned = returned + 1
  end
  redis.call('XACK', KEYS[1], group, ARGV[i])
  redis.call('XDEL', KEYS[1], ARGV[i])
end
return returned
"""


@dataclass(frozen=True, slots=True)
class Delivery:
    entry_id: bytes
    fields: dict[bytes, bytes] | None
    """None when the entry was deleted while pending: there is nothing left to run."""
    deliveries: int
    """How many times the entry has been handed to a worker, this time included."""
    cancelled: bool | None = None
    """Whether the job's cancellation key was set when it was read; None when not yet looked up."""


class Leases:
    def __init__(self, redis: Redis, *, stream: str, consumer: str, visibility_timeout_ms: int) -> None:
        self._redis = redis
        self._stream = stream
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
        """Takes up to `count` entries whose worker stopped renewing them, with their delivery counts."""
        reply = await self._redis.xautoclaim(
            self._stream, JOB_GROUP, self._consumer, self._visibility_ms, start_id=self._cursor, count=count
        )
        next_cursor = reply[0]
        self._cursor = next_cursor.decode() if isinstance(next_cursor, bytes) else str(next_cursor)
        # Redis 6.2 answers an entry deleted while pending as (None, None); it has nothing to run.
        entries = [(entry_id, fields) for entry_id, fields in reply[1] if entry_id is not None]
        if not entries:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for entry_id, _ in entries:
            pipe.xpending_range(self._stream, JOB_GROUP, min=entry_id, max=entry_id, count=1)
        pending = await pipe.execute()
        deliveries: list[Delivery] = []
        for (entry_id, fields), info in zip(entries, pending, strict=True):
            times = int(info[0]["times_delivered"]) if info else 1
            deliveries.append(Delivery(entry_id=entry_id, fields=fields or None, deliveries=times))
        return deliveries

    async def hand_back(self, entry_ids: list[bytes]) -> int:
        """Re-queues entries this worker took but never started, so another worker runs them at once."""
        if not entry_ids:
            return 0
        return int(await self._hand_back(keys=[self._stream], args=[JOB_GROUP, *entry_ids]))
