"""The writes that record job runs, batched: events, start marks, acks, dead letters and retries together.

Everything recorded while the previous write was in flight goes out in the next one, as one atomic unit:
one Lua script when the batch holds only events, start marks and acks (the hot path, one command for the
whole batch), otherwise one MULTI/EXEC that also carries the dead letters and retries. That batching is what
lets a Python worker run thousands of jobs a second; an outcome's event and its ack are always written
together or not at all. A run's start is awaited (`start`): its `JobActive` and start mark are durable
before its handler is called, so every run that began is counted if its worker dies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from chartwise_contracts import StreamSpec
from chartwise_contracts.jobs import JOB_GROUP, QueuedJob
from chartwise_contracts.messages import Event
from chartwise_runtime.logging import get_logger
from chartwise_runtime.worker.dead_letters import DeadLetters
from chartwise_runtime.worker.events import EVENT_FIELD, EncodedEvent, encode_event
from chartwise_runtime.worker.leases import started_key
from chartwise_runtime.worker.retries import RetryPort

log = get_logger(__name__)

_RETRY_FIRST_S = 0.05
_RETRY_MAX_S = 2.0

# KEYS: events stream, queue stream, start marks. ARGV: event field, maxlen, group, #events, #marks,
# then the event frames, then (entry id, runs started) pairs, then the entry ids to ack and delete.
_RECORD = """
local field, maxlen, group = ARGV[1], ARGV[2], ARGV[3]
local n_events, n_marks = tonumber(ARGV[4]), tonumber(ARGV[5])
local i = 6
for _ = 1, n_events do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', field, ARGV[i])
  i = i + 1
end
-- Variadic calls, in chunks that stay well inside Lua's stack, cost Redis far less than one call per entry.
local chunk = 500
local marks_end = i + 2 * n_marks - 1
for j = i, marks_end, 2 * chunk do
  redis.call('HSET', KEYS[3], unpack(ARGV, j, math.min(j + 2 * chunk - 1, marks_end)))
end
for j = marks_end + 1, #ARGV, chunk do
  local last = math.min(j + chunk - 1, #ARGV)
  redis.call('XACK', KEYS[2], group, unpack(ARGV, j, last))
  redis.call('XDEL', KEYS[2], unpack(ARGV, j, last))
  redis.call('HDEL', KEYS[3], unpack(ARGV, j, last))
end
return #ARGV - marks_end
"""

Write = Callable[[Pipeline], None]


def _resolve(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)


class Outbox:
    def __init__(
        self,
        redis: Redis,
        *,
        queue_stream: str,
        events: StreamSpec,
        dead_letters: DeadLetters,
        retries: RetryPort,
    ) -> None:
        self._redis = redis
        self._queue_stream = queue_stream
        self._started_key = started_key(queue_stream)
        self._events_spec = events
        self._dead_letters = dead_letters
        self._retries = retries
        self._record = redis.register_script(_RECORD)
        self._events: list[Event | EncodedEvent[Any]] = []
        self._marks: list[bytes | int] = []
        self._acks: list[bytes] = []
        self._writes: list[Write] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._written = asyncio.Condition()
        self._closed = False
        self._writing = False

    def emit(self, event: Event | EncodedEvent[Any]) -> None:
        self._events.append(event)
        self._wake.set()

    def start(self, event: EncodedEvent[Any], entry_id: bytes, runs: int) -> asyncio.Future[None]:
        """Records a run's start (its `JobActive`, and `runs` started for the entry); resolves once written."""
        self._events.append(event)
        self._marks += (entry_id, runs)
        return self.written()

    def written(self) -> asyncio.Future[None]:
        """Resolves once everything recorded so far is written (with the next batch, however busy the outbox)."""
        self._wake.set()
        if not self._waiters:
            self._waiters.append(asyncio.get_running_loop().create_future())
        return self._waiters[-1]

    def ack(self, entry_id: bytes) -> None:
        """Acknowledges and deletes the queue entry (and its start mark), so the queue holds only unfinished work."""
        self._acks.append(entry_id)
        self._wake.set()

    def park(self, job: QueuedJob, *, error: str, attempts: int) -> None:
        self._writes.append(lambda pipe: self._dead_letters.park(pipe, job, error=error, attempts=attempts))
        self._wake.set()

    def park_raw(self, fields: dict[bytes, bytes], *, error: str) -> None:
        self._writes.append(lambda pipe: self._dead_letters.park_raw(pipe, fields, error=error))
        self._wake.set()

    def defer(self, job: QueuedJob, run_at_ms: int) -> None:
        self._writes.append(lambda pipe: self._retries.schedule(pipe, job, run_at_ms))
        self._wake.set()

    @property
    def empty(self) -> bool:
        return not (self._events or self._marks or self._acks or self._writes)

    async def run(self) -> None:
        """Writes whatever has accumulated, over and over, until closed and empty."""
        delay = _RETRY_FIRST_S
        while True:
            if self.empty:
                # Nothing is in flight here: whoever waits for what was recorded before now has it written.
                waiters, self._waiters = self._waiters, []
                _resolve(waiters)
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            events, marks, acks, writes, waiters = self._events, self._marks, self._acks, self._writes, self._waiters
            self._events, self._marks, self._acks, self._writes, self._waiters = [], [], [], [], []
            self._writing = True
            try:
                await self._write(events, marks, acks, writes)
            except RedisError as error:
                # Put the batch back in front, in order, and try again: nothing recorded is dropped.
                self._events = events + self._events
                self._marks = marks + self._marks
                self._acks = acks + self._acks
                self._writes = writes + self._writes
                self._waiters = waiters + self._waiters
                log.warning("writing job outcomes failed; retrying", error=repr(error), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
                continue
            finally:
                self._writing = False
            delay = _RETRY_FIRST_S
            _resolve(waiters)
            async with self._written:
                self._written.notify_all()

    async def _write(
        self, events: list[Event | EncodedEvent[Any]], marks: list[bytes | int], acks: list[bytes], writes: list[Write]
    ) -> None:
        name, maxlen = self._events_spec.name, self._events_spec.maxlen
        frames = [event.frame if isinstance(event, EncodedEvent) else encode_event(event) for event in events]
        if not writes:
            keys = [name, self._queue_stream, self._started_key]
            args = [EVENT_FIELD, maxlen, JOB_GROUP, len(frames), len(marks) // 2, *frames, *marks, *acks]
            await self._record(keys=keys, args=args)
            return
        pipe = self._redis.pipeline(transaction=True)
        for frame in frames:
            pipe.xadd(name, {EVENT_FIELD: frame}, maxlen=maxlen, approximate=True)
        if marks:
            pipe.hset(self._started_key, mapping=dict(zip(marks[::2], marks[1::2], strict=True)))
        for write in writes:
            write(pipe)
        if acks:
            pipe.xack(self._queue_stream, JOB_GROUP, *acks)
            pipe.xdel(self._queue_stream, *acks)
            pipe.hdel(self._started_key, *acks)
        await pipe.execute()

    async def flushed(self) -> None:
        """Returns once everything recorded before the call is written."""
        async with self._written:
            await self._written.wait_for(lambda: self.empty and not self._writing)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
