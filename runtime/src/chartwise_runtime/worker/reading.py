"""Reading new entries of a queue, each with whether its job was cancelled before it started.

While a queue has work, one script reads a batch and checks the batch's cancellation keys in the same
round trip; only an empty queue falls back to a blocking read (which a script cannot do) and a lookup.
The script reads cancellation keys it derives from each entry's job id, so it needs a single Redis
instance or hash-tagged keys, as the rest of the kit does.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from chartwise_contracts.jobs import JOB_GROUP, QUEUE_ENTRY_FIELD, cancel_key
from chartwise_runtime.worker.leases import Delivery

_READ_NOW = """
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not reply then
  return {}
end
local out = {}
for i, entry in ipairs(reply[1][2]) do
  local fields = entry[2]
  local cancelled = 0
  for j = 1, #fields, 2 do
    if fields[j] == ARGV[4] then
      local ok, job = pcall(cjson.decode, fields[j + 1])
      if ok and type(job) == 'table' and type(job.job_id) == 'string' then
        cancelled = redis.call('EXISTS', ARGV[5] .. job.job_id)
      end
    end
  end
  out[i] = {entry[1], fields, cancelled}
end
return out
"""


def _fields(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class QueueReader:
    def __init__(self, redis: Redis, blocking: Redis, *, stream: str, consumer: str) -> None:
        self._redis = redis
        self._blocking = blocking
        self._stream = stream
        self._consumer = consumer
        self._read_now = redis.register_script(_READ_NOW)
        self._cancel_prefix = cancel_key("")

    async def read(self, count: int, block_ms: int) -> list[Delivery]:
        """Up to `count` new entries; waits up to `block_ms` only when there are none."""
        args: list[str | int] = [JOB_GROUP, self._consumer, count, QUEUE_ENTRY_FIELD, self._cancel_prefix]
        rows: list[Any] = await self._read_now(keys=[self._stream], args=args)
        if rows:
            return [Delivery(row[0], _fields(row[1]), cancelled=bool(row[2])) for row in rows]
        reply: Any = await self._blocking.xreadgroup(
            JOB_GROUP, self._consumer, {self._stream: ">"}, count=count, block=block_ms
        )
        if not reply:
            return []
        return [Delivery(entry_id, fields) for entry_id, fields in reply[0][1]]
