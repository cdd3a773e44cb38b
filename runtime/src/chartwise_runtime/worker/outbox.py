"""The writes that record job outcomes, batched: events, acks, dead letters and retries in one transaction.

Jobs finishing together share one MULTI/EXEC round trip, which is what lets a Python worker run thousands
of jobs a second; an outcome's event and its ack are always written together or not at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from chartwise_contracts import StreamSpec
from chartwise_contracts.jobs import JOB_GROUP, QueuedJob
from chartwise_contracts.messages import Event
from chartwise_runtime.logging import get_logger
from chartwise_runtime.worker.dead_letters import DeadLetters
from chartwise_runtime.worker.events import EVENT_FIELD, encode_event
from chartwise_runtime.worker.retries import RetryPort

log = get_logger(__name__)

_RETRY_FIRST_S = 0.05
_RETRY_MAX_S = 2.0

Write = Callable[[Pipeline], None]


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
        self._events_spec = events
        self._dead_letters = dead_letters
        self._retries = retries
        self._events: list[Event] = []
        self._acks: list[bytes] = []
        self._writes: list[Write] = []
        self._wake = asyncio.Event()
        self._written = asyncio.Condition()
        self._closed = False
        self._writing = False

    def emit(self, event: Event) -> None:
        self._events.append(event)
        self._wake.set()

    def ack(self, entry_id: bytes) -> None:
        """Acknowledges and deletes the queue entry, so the queue stream holds only unfinished work."""
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
        return not (self._events or self._acks or self._writes)

    async def run(self) -> None:
        """Writes whatever has accumulated, over and over, until closed and empty."""
        delay = _RETRY_FIRST_S
        while not (self._closed and self.empty):
            if self.empty:
                self._wake.clear()
                await self._wake.wait()
                continue
            events, acks, writes = self._events, self._acks, self._writes
            self._events, self._acks, self._writes = [], [], []
            self._writing = True
            try:
                await self._write(events, acks, writes)
            except RedisError as error:
                # Put the batch back in front, in order, and try again: nothing recorded is dropped.
                self._events, self._acks, self._writes = events + self._events, acks + self._acks, writes + self._writes
                log.warning("writing job outcomes failed; retrying", error=repr(error), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
                continue
            finally:
                self._writing = False
            delay = _RETRY_FIRST_S
            async with self._written:
                self._written.notify_all()

    async def _write(self, events: list[Event], acks: list[bytes], writes: list[Write]) -> None:
        pipe = self._redis.pipeline(transaction=True)
        name, maxlen = self._events_spec.name, self._events_spec.maxlen
        for event in events:
            pipe.xadd(name, {EVENT_FIELD: encode_event(event)}, maxlen=maxlen, approximate=True)
        for write in writes:
            write(pipe)
        if acks:
            pipe.xack(self._queue_stream, JOB_GROUP, *acks)
            pipe.xdel(self._queue_stream, *acks)
        await pipe.execute()

    async def flushed(self) -> None:
        """Returns once everything recorded before the call is written."""
        async with self._written:
            await self._written.wait_for(lambda: self.empty and not self._writing)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
