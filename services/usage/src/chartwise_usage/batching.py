"""Group commit: calls that arrive while a batch is in flight are sent together as the next batch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatchSender(Generic[T, R]):
    """Sends items through `send` in batches, one batch in flight at a time, without waiting on a timer.

    An item submitted while nothing is in flight leaves on the next turn of the event loop, alone or with
    whatever else was submitted in the same turn, so a lone caller pays no extra latency. Items submitted
    while a batch is in flight wait for it and leave together: under load one round trip and one set of
    per-call client costs serve many callers. `send` answers one result per item, in order; when it
    raises, every caller of that batch gets the error.
    """

    def __init__(self, send: Callable[[list[T]], Awaitable[list[R]]], *, max_batch: int) -> None:
        self._send = send
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done() or self._flusher.get_loop() is not loop:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                results = await self._send([item for item, _ in batch])
            except Exception as error:  # noqa: BLE001 - not swallowed: every caller of the batch raises it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            except BaseException:
                # Cancelled (shutdown): nobody will send this batch's answers or what is still waiting.
                waiting, self._pending = [*batch, *self._pending], []
                for _, future in waiting:
                    future.cancel()
                raise
            for (_, future), result in zip(batch, results, strict=True):
                # A caller cancelled while waiting has gone; its item was still sent, as a cancelled call would be.
                if not future.done():
                    future.set_result(result)
